"""Investor participations and how each payment is shared among them."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db.models import Sum

from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Payment
from credits.services import delinquency
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanProductFactory

NOW = datetime.combine(date(2026, 6, 15), time(12), tzinfo=ZoneInfo("America/Lima"))

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def funded_loan(make_active_loan):
    """A loan 50 % / 30 % funded by two investors; the platform keeps 10 % of the interest."""
    loan = make_active_loan(product=LoanProductFactory(platform_fee_percent=Decimal("10")))
    ana, beto = InvestorFactory(name="Ana"), InvestorFactory(name="Beto")
    investor_services.add_participation(loan=loan, investor=ana, actor=None, share=Decimal("50"))
    investor_services.add_participation(
        loan=loan, investor=beto, actor=None, amount=Decimal("3000")
    )
    return loan


def pay(loan, amount, on=date(2026, 2, 1)):
    return payment_services.apply_payment(
        loan=loan, amount=Decimal(amount), received_on=on, source=Payment.Source.CASH, actor=None
    )


def test_a_payment_is_shared_pro_rata_minus_the_platform_fee(funded_loan):
    payment = pay(funded_loan, "945.60")  # interest 200.00, principal 745.60

    shares = {d.investor.name: d for d in payment.distributions.select_related("investor")}
    assert shares["Ana"].principal == Decimal("372.80")
    assert shares["Ana"].interest == Decimal("100.00")
    assert shares["Ana"].platform_fee == Decimal("10.00")
    assert shares["Ana"].net == Decimal("462.80")
    assert shares["Beto"].principal == Decimal("223.68")
    assert shares["Beto"].interest == Decimal("60.00")
    assert shares["Beto"].net == Decimal("277.68")
    assert shares["Ana"].value_date == date(2026, 2, 1)


def test_fees_and_late_interest_are_not_shared(funded_loan):
    delinquency.update_delinquency(today=date(2026, 6, 15))

    payment = pay(funded_loan, "100.00", on=date(2026, 6, 15))

    total = payment.distributions.aggregate(p=Sum("principal"), i=Sum("interest"))
    allocated = dict(payment.allocations.values_list("component").annotate(total=Sum("amount")))
    assert total["i"] == (allocated.get("interest", 0) * Decimal("0.8")).quantize(Decimal("0.01"))


def test_shares_never_exceed_one_hundred_percent(funded_loan):
    with pytest.raises(ValidationError, match="queda 20"):
        investor_services.add_participation(
            loan=funded_loan, investor=InvestorFactory(), actor=None, share=Decimal("20.01")
        )

    investor_services.add_participation(
        loan=funded_loan, investor=InvestorFactory(), actor=None, share=Decimal("20")
    )


def test_rounding_loses_and_invents_no_cent(make_active_loan):
    loan = make_active_loan(principal=Decimal("1000.00"))
    for _n in range(3):
        investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, share=Decimal("33.333333")
        )
    investor_services.add_participation(
        loan=loan, investor=InvestorFactory(), actor=None, share=Decimal("0.000001")
    )

    payment = pay(loan, "100.01")

    shared = payment.distributions.aggregate(p=Sum("principal"), i=Sum("interest"))
    assert shared["p"] + shared["i"] == Decimal("100.01")


def test_annulment_reverses_the_distribution(funded_loan):
    payment = pay(funded_loan, "945.60")

    payment_services.annul_payment(payment=payment, actor=None, reason="Error")

    totals = (
        Distribution.objects.values_list("investor")
        .annotate(Sum("principal"), Sum("interest"), Sum("platform_fee"), Sum("net"))
        .order_by()
    )
    for investor_id, *sums in totals:
        assert sums == [0, 0, 0, 0], investor_id
    reversals = Distribution.objects.filter(reversal_of__isnull=False)
    assert reversals.count() == 2
    assert all(r.principal < 0 and r.interest < 0 and r.platform_fee < 0 for r in reversals)


def test_a_liquidation_settles_the_period_and_a_later_reversal_goes_to_the_next(funded_loan):
    payment = pay(funded_loan, "945.60", on=date(2026, 2, 1))
    ana = funded_loan.participations.get(investor__name="Ana").investor

    first = investor_services.create_liquidation(
        investor=ana, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28), actor=None
    )
    payment_services.annul_payment(payment=payment, actor=None, reason="Rebotado")
    # Ana was liquidated 462.80 already: the reversal is what she owes, and a liquidation of
    # only that is refused; it waits, unliquidated, for her next one to discount it.
    with pytest.raises(ValidationError, match=r"Ana debe S/ 462\.80"):
        investor_services.create_liquidation(
            investor=ana, period_start=date(2026, 6, 1), period_end=date(2026, 6, 30), actor=None
        )

    assert first.net_amount == Decimal("462.80")
    assert ana.distributions.get(liquidation__isnull=True).net == Decimal("-462.80")
    with pytest.raises(ValidationError, match="No hay repartos"):
        investor_services.create_liquidation(
            investor=ana, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28), actor=None
        )
    investor_services.mark_liquidation_paid(liquidation=first, reference="TRX-1", actor=None)
    first.refresh_from_db()
    assert first.status == Liquidation.Status.PAID
