"""Each payment shared among the loan's investors: principal and interest pro rata to the
cent, minus the product's platform fee on the interest.

The split is made on running totals, not on each payment alone: after a payment, what a
participation has received of a component in all is its exact share of what the loan has
paid of it, rounded to the cent by the largest-remainder method; this payment's line is the
difference from what it had already received. Sharing each payment on its own, the cents
rounded in one investor's favour piled up over the loan (a 50/50 loan paid off returned
5,000.02 and 4,999.98); on running totals a paid-off loan returns each investor its capital.

The principal is shared by each participation's capital (`amount`) over the loan's
principal, not by its `share`: a share typed as 33.3333 % is a capital rounded to the cent
(15,833.32 of 47,500.00), and three of them paid off returned 15,833.32, 15,833.32 and
15,833.31 (the share's exact part of the principal, summed and rounded once, is a cent less
than the three capitals). The interest is shared by `share`.

The platform fee is on running totals too, at the product's rate now: a line's fee is the
fee on all the interest the participation has received with it, rounded once, less the fee
on what it had received before, rounded once. While the rate stays, what an investor has paid
in fees is always its interest times the rate, to the cent (rounded on each line, two 50 %
investors paid 13.21 and 13.19 on 52.72 of interest each). A new rate applies to the
interest received from then on, never to what was already shared (as the product's form
says); rounded on the whole fee charged, a lower rate would have given fees back.
"""

from collections import defaultdict
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Q, Sum

from credits.models import (
    ZERO,
    Component,
    Distribution,
    Loan,
    Participation,
    Payment,
    PaymentAllocation,
)
from lib import money

SHARED = (Component.PRINCIPAL, Component.INTEREST)


def split_running_total(
    exact: list[Decimal], received: list[Decimal], total: Decimal
) -> list[Decimal]:
    """Return what each participant gets now so that their running totals add up to `total`.

    `exact` is each participant's exact running entitlement (its share of what was paid in
    all), `received` what it already got, and `total` the cents the running totals must add
    up to. Each running total is its entitlement rounded down, or what was already received
    if more (so a payment never takes back a cent a smaller one gave); the cents left go one
    at a time to the largest remainder, ties to the first participant. Only when what was
    received already passes `total` (cents an older split, made on each payment alone, gave
    in excess) are cents taken back, one at a time from the participant furthest above its
    entitlement. Returns the differences.
    """
    running = [
        max(r, e.quantize(money.CENT, rounding=ROUND_FLOOR))
        for e, r in zip(exact, received, strict=True)
    ]
    if not running:
        return []
    left = int((total - sum(running, ZERO)) / money.CENT)
    step = money.CENT if left > 0 else -money.CENT
    for _turn in range(abs(left)):
        # max() keeps the first of equals: ties go to the oldest participation.
        k = max(range(len(running)), key=lambda k: (exact[k] - running[k]) * step)
        running[k] += step
    return [now - before for now, before in zip(running, received, strict=True)]


def _paid_since(loan: Loan, payment: Payment, participations: list[Participation]):
    """Return, per participation, how much of each shared component the loan has received
    in the payments it took part in: the applied ones recorded since it joined, and this one.

    A participation added to a loan already paying does not share in what was paid before.
    """
    rows = (
        PaymentAllocation.objects.filter(payment__loan=loan, component__in=SHARED)
        .filter(Q(payment__status=Payment.Status.APPLIED) | Q(payment=payment))
        .values("payment_id", "payment__recorded_at", "component")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    paid: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        for participation in participations:
            if (
                row["payment_id"] == payment.pk
                or row["payment__recorded_at"] >= participation.created_at
            ):
                paid[participation.pk][row["component"]] += money.cents(row["total"])
    return paid


def _received(participations: list[Participation]) -> dict[int, dict[str, Decimal]]:
    """Return what each participation has received so far, reversals included."""
    rows = (
        Distribution.objects.filter(participation__in=participations)
        .values("participation_id")
        .annotate(principal=Sum("principal"), interest=Sum("interest"))
        .order_by()
    )
    return {
        row["participation_id"]: {
            Component.PRINCIPAL: money.cents(row["principal"]),
            Component.INTEREST: money.cents(row["interest"]),
        }
        for row in rows
    }


def _parts(
    component: str, loan: Loan, participations: list[Participation]
) -> tuple[list[Decimal], Decimal]:
    """Return what each participation's part of a component is over a common denominator:
    of the principal, its capital over the loan's (a paid-off loan returns it exactly); of
    the interest, its share over 100. Multiplied before dividing, so the whole principal
    gives back each capital itself, and the funded total is divided once."""
    if component == Component.PRINCIPAL and loan.principal > 0:
        return [p.amount for p in participations], loan.principal
    return [p.share for p in participations], money.HUNDRED


def _split(
    component: str,
    loan: Loan,
    participations: list[Participation],
    paid: dict[int, dict[str, Decimal]],
    received: dict[int, dict[str, Decimal]],
) -> list[Decimal]:
    parts, whole = _parts(component, loan, participations)
    owed = [paid[p.pk][component] * part for p, part in zip(participations, parts, strict=True)]
    exact = [amount / whole for amount in owed]
    before = [received.get(p.pk, {}).get(component, ZERO) for p in participations]
    # The funded part of the loan's payments, rounded once, half up; the rest is the lender's.
    # Never more than the loan paid: capitals rounded half up from shares before
    # `add_participation` kept their sum within the principal could pass it by a cent.
    funded = min(
        money.cents(sum(owed, ZERO) / whole),
        max(paid[p.pk][component] for p in participations),
    )
    return split_running_total(exact, before, funded)


def platform_fee(*, interest_before: Decimal, interest: Decimal, rate: Decimal) -> Decimal:
    """Return the fee on a line of `interest` for a participation that had received
    `interest_before` of it: the fee on both, rounded once, less the fee on what came before,
    rounded once (`rate` a fraction). Summed over a participation's lines at one rate, its
    fees are its interest times the rate, rounded once (see the module's docstring)."""
    return money.cents((interest_before + interest) * rate) - money.cents(interest_before * rate)


def distribute_payment(payment: Payment, loan: Loan) -> list[Distribution]:
    """Give each participation its share of the principal and interest a payment paid,
    on running totals (see the module's docstring)."""
    participations = list(loan.participations.select_related("investor").order_by("id"))
    if not participations:
        return []
    paid = _paid_since(loan, payment, participations)
    received = _received(participations)
    principal_parts = _split(Component.PRINCIPAL, loan, participations, paid, received)
    interest_parts = _split(Component.INTEREST, loan, participations, paid, received)
    fee_rate = loan.product.platform_fee_percent / money.HUNDRED
    distributions = []
    for participation, principal, interest in zip(
        participations, principal_parts, interest_parts, strict=True
    ):
        if principal == 0 and interest == 0:
            continue
        fee = platform_fee(
            interest_before=received.get(participation.pk, {}).get(Component.INTEREST, ZERO),
            interest=interest,
            rate=fee_rate,
        )
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
