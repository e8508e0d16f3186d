"""Each payment shared among the loan's investors: principal and interest pro rata to the
cent, minus the product's platform fee on the interest."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db.models import Sum

from credits import schedule
from credits.models import (
    ZERO,
    Component,
    Distribution,
    Loan,
    Participation,
    Payment,
)
from lib import money


@dataclass(frozen=True)
class Split:
    participation: Participation
    principal: Decimal
    interest: Decimal


def _pro_rata(total: Decimal, participations: list[Participation]) -> list[Decimal]:
    """Split `total` by the participations' shares, in cents, losing and inventing nothing.

    The funded part (total × the sum of shares) is rounded half-up; each participation gets
    its share rounded down and the leftover cents go to the largest remainders.
    """
    if not participations or total == 0:
        return [ZERO for _p in participations]
    funded_share = sum((p.share for p in participations), ZERO)
    funded = money.cents(total * funded_share / money.HUNDRED)
    exact = [funded * p.share / funded_share for p in participations]
    floors = [x.quantize(schedule.CENT, rounding=ROUND_DOWN) for x in exact]
    cents_left = int((funded - sum(floors, ZERO)) / schedule.CENT)
    by_remainder = sorted(range(len(exact)), key=lambda k: exact[k] - floors[k], reverse=True)
    for k in by_remainder[:cents_left]:
        floors[k] += schedule.CENT
    return floors


def distribute_payment(payment: Payment, loan: Loan) -> list[Distribution]:
    """Give each participation its share of the principal and interest a payment paid."""
    participations = list(loan.participations.select_related("investor").order_by("id"))
    if not participations:
        return []
    paid = dict(
        payment.allocations.filter(component__in=[Component.PRINCIPAL, Component.INTEREST])
        .values_list("component")
        .annotate(total=Sum("amount"))
    )
    principal_parts = _pro_rata(paid.get(Component.PRINCIPAL, ZERO), participations)
    interest_parts = _pro_rata(paid.get(Component.INTEREST, ZERO), participations)
    fee_rate = loan.product.platform_fee_percent / money.HUNDRED
    distributions = []
    for participation, principal, interest in zip(
        participations, principal_parts, interest_parts, strict=True
    ):
        if principal == 0 and interest == 0:
            continue
        fee = money.cents(interest * fee_rate)
        distributions.append(
            Distribution(
                payment=payment,
                participation=participation,
                investor=participation.investor,
                principal=principal,
                interest=interest,
                platform_fee=fee,
                net=principal + interest - fee,
                value_date=payment.received_on,
            )
        )
    return Distribution.objects.bulk_create(distributions)
