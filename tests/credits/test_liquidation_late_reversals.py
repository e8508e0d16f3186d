"""A payment annulled after its liquidation was made (and paid): its reversal goes into the
investor's next liquidation, shown apart as «de periodos anteriores»; a liquidation whose
net is not positive is neither created nor paid."""

import threading
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Payment
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanProductFactory
from tests.races import at_once

LIMA = ZoneInfo("America/Lima")


def _at(time_machine, day: date, hour: int = 10) -> None:
    time_machine.move_to(datetime(day.year, day.month, day.day, hour, tzinfo=LIMA), tick=False)


def _pay(loan, amount: str, day: date) -> Payment:
    return payment_services.apply_payment(
        loan=loan,
        amount=Decimal(amount),
        received_on=day,
        source=Payment.Source.TRANSFER,
        actor=None,
    )


def _liquidate(investor, start: date, end: date) -> Liquidation:
    return investor_services.create_liquidation(
        investor=investor, period_start=start, period_end=end, actor=None
    )


def _assert_totals_are_its_lines(liquidation: Liquidation) -> None:
    sums = liquidation.lines.aggregate(
        principal=Sum("principal"),
        interest=Sum("interest"),
        platform_fee=Sum("platform_fee"),
        net=Sum("net"),
    )
    liquidation.refresh_from_db()
    assert [
        liquidation.principal,
        liquidation.interest,
        liquidation.platform_fee,
        liquidation.net_amount,
    ] == [sums["principal"], sums["interest"], sums["platform_fee"], sums["net"]]


@pytest.fixture
def book(make_active_loan, time_machine):
    """Lucía funds 60 % of two flat loans at 2 % a month: one of 10,000 paid on 1 Feb
    (608.00 net to her), liquidated on 20 Feb and paid, then that payment annulled on
    25 Feb (-608.00, dated inside February, already liquidated); and one of 20,000 whose
    first installment (1,216.00 net to her) falls due on 1 Mar."""
    _at(time_machine, date(2026, 1, 1))
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    first = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes", bank_cci="00219100123456780121")
    investor_services.add_participation(loan=first, investor=lucia, actor=None, share=Decimal("60"))
    _at(time_machine, date(2026, 2, 1))
    second = make_active_loan(
        product=product,
        principal=Decimal("20000.00"),
        start_date=date(2026, 2, 1),
        first_due_date=date(2026, 3, 1),
    )
    investor_services.add_participation(
        loan=second, investor=lucia, actor=None, share=Decimal("60")
    )
    payment = _pay(first, "1033.33", date(2026, 2, 1))
    _at(time_machine, date(2026, 2, 20))
    february = _liquidate(lucia, date(2026, 2, 1), date(2026, 2, 28))
    investor_services.mark_liquidation_paid(liquidation=february, reference="OP-1", actor=None)
    _at(time_machine, date(2026, 2, 25))
    payment_services.annul_payment(payment=payment, actor=None, reason="Cheque sin fondos")
    return {"lucia": lucia, "first": first, "second": second, "february": february}


def _march(book, time_machine) -> Liquidation:
    """Pay the second loan's first installment on 1 Mar and liquidate March on 2 Apr."""
    _at(time_machine, date(2026, 3, 1))
    _pay(book["second"], "2066.67", date(2026, 3, 1))
    _at(time_machine, date(2026, 4, 2))
    return _liquidate(book["lucia"], date(2026, 3, 1), date(2026, 3, 31))


def test_a_payment_annulled_after_its_liquidation_was_paid_is_netted_in_the_next_one(
    book, time_machine
):
    reversal = Distribution.objects.get(reversal_of__isnull=False)
    # Dated the day of the annulment: inside February, which was liquidated and paid.
    assert (reversal.value_date, reversal.net, reversal.liquidation) == (
        date(2026, 2, 25),
        Decimal("-608.00"),
        None,
    )

    march = _march(book, time_machine)

    reversal.refresh_from_db()
    assert reversal.liquidation == march
    # 1,216.00 of the second loan's installment, less the 608.00 she was paid in February.
    assert march.net_amount == Decimal("608.00")
    assert march.lines.count() == 2
    _assert_totals_are_its_lines(march)
    february = book["february"]
    _assert_totals_are_its_lines(february)
    assert (february.net_amount, february.status) == (Decimal("608.00"), "paid")
    assert not Distribution.objects.filter(investor=book["lucia"], liquidation__isnull=True)


def test_a_negative_net_is_refused_saying_what_the_investor_owes_and_goes_into_the_next(
    book, time_machine
):
    _at(time_machine, date(2026, 2, 27))

    with pytest.raises(ValidationError) as refused:
        _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))

    assert refused.value.messages == [
        "No se creó la liquidación: hasta el 28/02/2026, Lucía Paredes debe S/ 608.00 "
        "(reversiones de pagos anulados que ya se le liquidaron). Ese monto se descuenta de "
        "su próxima liquidación."
    ]
    assert Liquidation.objects.get() == book["february"]
    reversal = Distribution.objects.get(reversal_of__isnull=False)
    assert reversal.liquidation is None

    march = _march(book, time_machine)

    reversal.refresh_from_db()
    assert (reversal.liquidation, march.net_amount) == (march, Decimal("608.00"))


def test_the_form_refuses_a_negative_net_in_spanish(client, supervisor, book, time_machine):
    _at(time_machine, date(2026, 2, 27))
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": book["lucia"].pk, "period_start": "2026-02-01", "period_end": "2026-02-28"},
    )

    assert response.status_code == 200
    assertContains(response, "Lucía Paredes debe S/ 608.00")
    assertContains(response, "Ese monto se descuenta de su próxima liquidación.")
    assert Liquidation.objects.count() == 1


def test_a_zero_net_is_refused_as_nothing_to_pay(make_active_loan, time_machine):
    _at(time_machine, date(2026, 1, 1))
    loan = make_active_loan(
        product=LoanProductFactory(method="flat"), principal=Decimal("10000.00")
    )
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    _at(time_machine, date(2026, 2, 1))
    payment = _pay(loan, "1033.33", date(2026, 2, 1))
    _at(time_machine, date(2026, 2, 3))
    payment_services.annul_payment(payment=payment, actor=None, reason="Error de digitación")

    with pytest.raises(ValidationError) as refused:
        _liquidate(lucia, date(2026, 2, 1), date(2026, 2, 28))

    assert refused.value.messages == [
        "No se creó la liquidación: hasta el 28/02/2026, el neto de Lucía Paredes es S/ 0.00 "
        "y no hay nada que abonar. Sus repartos pendientes pasan a su próxima liquidación."
    ]
    assert not Liquidation.objects.exists()
    assert Distribution.objects.filter(liquidation__isnull=True).count() == 2


@pytest.fixture
def owed(book):
    """A liquidation of only the reversal (-608.00), as one was made before such nets were
    refused."""
    reversal = Distribution.objects.get(reversal_of__isnull=False)
    liquidation = Liquidation.objects.create(
        investor=book["lucia"],
        period_start=date(2026, 2, 21),
        period_end=date(2026, 2, 28),
        principal=reversal.principal,
        interest=reversal.interest,
        platform_fee=reversal.platform_fee,
        net_amount=reversal.net,
    )
    Distribution.objects.filter(pk=reversal.pk).update(liquidation=liquidation)
    return liquidation


def test_a_liquidation_whose_net_is_negative_cannot_be_paid(owed):
    with pytest.raises(ValidationError) as refused:
        investor_services.mark_liquidation_paid(liquidation=owed, reference="OP-9", actor=None)

    assert refused.value.messages == [
        "Esta liquidación no se paga: su neto es S/ -608.00. Un abono se registra solo por un "
        "neto positivo."
    ]
    owed.refresh_from_db()
    assert (owed.status, owed.payout_reference) == (Liquidation.Status.DRAFT, "")


def test_the_screens_do_not_offer_or_record_the_payout_of_a_negative_net(client, supervisor, owed):
    client.force_login(supervisor)
    url = reverse("credits:liquidation_pay", args=[owed.pk])

    page = client.get(owed.get_absolute_url())
    asked = client.get(url, follow=True)
    sent = client.post(url, {"reference": "OP-9", "confirm": "yes"}, follow=True)

    assertNotContains(page, "Marcar como pagada")
    assertContains(page, "no hay abono que registrar")
    # Asked for: no confirmation page, the statement says why.
    assert asked.redirect_chain == [(owed.get_absolute_url(), 302)]
    # Confirmed all the same (a page opened before): refused by the service, on the statement.
    assert (sent.redirect_chain, sent.status_code) == ([], 200)
    for response in (asked, sent):
        assertNotContains(response, "¿Registrar el abono")
        assertContains(response, "Esta liquidación no se paga: su neto es S/ -608.00")
    owed.refresh_from_db()
    assert owed.status == Liquidation.Status.DRAFT


def test_the_statement_shows_the_lines_of_earlier_periods_apart(
    client, supervisor, book, time_machine
):
    march = _march(book, time_machine)
    reversal = Distribution.objects.get(reversal_of__isnull=False)
    client.force_login(supervisor)

    for params in ({}, {"print": "1"}):
        html = client.get(march.get_absolute_url(), params).content.decode()

        earlier = html.index("De periodos anteriores (antes del 01/03/2026): 1 línea, neto")
        reversed_line = html.index(f"Anulación del pago n.º {reversal.payment_id}")
        current = html.index("Del periodo 01/03/2026 – 31/03/2026")
        paid_line = html.index("Pago n.º")
        assert earlier < reversed_line < current < paid_line, params
        # The reversal keeps its own date, in February.
        assert "<td>25/02/2026</td>" in html[earlier:current]
        assert "neto S/ -608.00" in html[earlier:reversed_line]
    # The totals are every line's, those of earlier periods included.
    assertContains(
        client.get(march.get_absolute_url()),
        '<td class="text-end" data-total="net">608.00</td>',
        html=True,
    )


def test_a_statement_without_earlier_lines_has_no_headings(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(book["february"].get_absolute_url())

    assertContains(response, "Pago n.º")
    assertNotContains(response, "De periodos anteriores")
    assertNotContains(response, "Del periodo")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_two_liquidations_made_at_once_never_take_the_same_line(
    transactional_db, make_active_loan, time_machine
):
    _at(time_machine, date(2026, 1, 1))
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory()
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    _at(time_machine, date(2026, 2, 1))
    _pay(loan, "1033.33", date(2026, 2, 1))
    _at(time_machine, date(2026, 3, 1))
    _pay(loan, "1033.33", date(2026, 3, 1))
    _at(time_machine, date(2026, 4, 2))

    # March's reaches February's line too.
    done, errors = at_once(
        lambda: _liquidate(lucia, date(2026, 2, 1), date(2026, 2, 28)),
        lambda: _liquidate(lucia, date(2026, 3, 1), date(2026, 3, 31)),
    )

    assert all("No hay repartos" in error for error in errors), errors
    assert len(done) + len(errors) == 2
    for liquidation in Liquidation.objects.all():
        _assert_totals_are_its_lines(liquidation)
    assert not Distribution.objects.filter(liquidation__isnull=True).exists()
    assert Liquidation.objects.aggregate(net=Sum("net_amount"))["net"] == Decimal("1216.00")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_a_payment_does_not_wait_for_a_liquidation_of_its_investors(
    transactional_db, make_active_loan, time_machine, monkeypatch
):
    """A liquidation locks the lines it takes, not their loans: a payment on one of them
    goes through while the liquidation is being made (and its line waits for the next)."""
    _at(time_machine, date(2026, 1, 1))
    loan = make_active_loan(product=LoanProductFactory(method="flat"))
    lucia = InvestorFactory()
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    _at(time_machine, date(2026, 2, 1))
    _pay(loan, "1033.33", date(2026, 2, 1))
    counted, paid = threading.Event(), threading.Event()
    paid_meanwhile = []
    real_create = Liquidation.objects.create

    def create_once_a_payment_was_tried(**fields):
        counted.set()
        paid_meanwhile.append(paid.wait(timeout=10))
        return real_create(**fields)

    monkeypatch.setattr(Liquidation.objects, "create", create_once_a_payment_was_tried)

    def another_payment():
        counted.wait(timeout=30)
        try:
            return _pay(loan, "100.00", date(2026, 2, 1))
        finally:
            paid.set()

    _done, errors = at_once(
        lambda: _liquidate(lucia, date(2026, 2, 1), date(2026, 2, 28)), another_payment
    )

    assert (errors, paid_meanwhile) == ([], [True])
    liquidation = Liquidation.objects.get()
    _assert_totals_are_its_lines(liquidation)
    assert Distribution.objects.filter(liquidation__isnull=True).count() == 1


def test_the_excel_lists_the_lines_of_earlier_periods_first(client, supervisor, book, time_machine):
    march = _march(book, time_machine)
    client.force_login(supervisor)

    response = client.get(reverse("credits:liquidation_xlsx", args=[march.pk]))

    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    dated = [row for row in rows if isinstance(row[0], datetime)]
    assert [(row[0].date(), row[7]) for row in dated] == [
        (date(2026, 2, 25), -608),
        (date(2026, 3, 1), 1216),
    ]
    totals = next(row for row in rows if row[0] == "Totales")
    assert Decimal(str(totals[7])) == march.net_amount == Decimal("608.00")
