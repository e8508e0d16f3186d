"""An investor's statement and earnings chart date each line by its value date (the
payment's day), as the liquidation picks its lines, not by the day it was keyed in."""

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from credits.investors import exports as investor_exports
from credits.investors import selectors as investor_selectors
from credits.investors import services as investor_services
from credits.models import Payment
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")


def _at(time_machine, day, hour=10):
    time_machine.move_to(datetime(day.year, day.month, day.day, hour, tzinfo=LIMA), tick=False)


def test_a_payment_of_30_november_keyed_in_on_1_december_is_novembers_everywhere(
    make_active_loan, time_machine
):
    _at(time_machine, date(2026, 10, 1))
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("100"))
    # The transfer arrived on 30 November; the agent records it the next morning.
    _at(time_machine, date(2026, 12, 1), 9)
    payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=date(2026, 11, 30),
        source=Payment.Source.TRANSFER,
        actor=None,
    )
    _at(time_machine, date(2026, 12, 2))

    liquidation = investor_services.create_liquidation(
        investor=lucia, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30), actor=None
    )
    lines = list(liquidation.lines.select_related("participation__loan__customer", "payment"))
    months = {
        m["month"]: m["earned"]
        for m in investor_selectors.earnings_by_month(lucia, date(2026, 12, 2))
    }
    book = investor_exports.liquidation_workbook(liquidation, lines)
    sheet = load_workbook(BytesIO(book)).active
    dated = [row[0] for row in sheet.iter_rows(values_only=True) if isinstance(row[0], datetime)]

    assert len(lines) == 1  # November's liquidation has it
    assert dated == [datetime(2026, 11, 30)]
    assert (months[date(2026, 11, 1)], months[date(2026, 12, 1)]) == (
        Decimal("180.00"),
        Decimal("0.00"),
    )


def test_the_statement_on_screen_dates_lines_by_value_date_and_numbers_them_plainly(
    make_active_loan, time_machine, client, supervisor
):
    _at(time_machine, date(2026, 10, 1))
    loan = make_active_loan(
        product=LoanProductFactory(method="flat"), principal=Decimal("10000.00")
    )
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("100"))
    # A payment number past a thousand (every database reaches it) is no amount: no comma.
    # (SQLite numbers the next row after the highest ever used.)
    Payment.objects.create(
        id=1500,
        loan=loan,
        amount=Decimal("1.00"),
        received_on=date(2026, 10, 1),
        source=Payment.Source.TRANSFER,
    ).delete()
    _at(time_machine, date(2026, 12, 1), 9)
    payment = payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=date(2026, 11, 30),
        source=Payment.Source.TRANSFER,
        actor=None,
    )
    _at(time_machine, date(2026, 12, 2))
    liquidation = investor_services.create_liquidation(
        investor=lucia, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30), actor=None
    )
    client.force_login(supervisor)

    html = client.get(liquidation.get_absolute_url()).content.decode()

    assert "<td>30/11/2026</td>" in html
    assert f"Pago n.º {payment.pk} del 30/11/2026" in html
