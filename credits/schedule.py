"""Installment schedules in exact decimal arithmetic: the one calculator every screen uses.

The loan form, the public calculator, the JSON API and the ledger's re-scheduling after a
prepayment all call `build_schedule`. Nothing here touches the database.

Rounding rule (the business's, not the library's): every amount is rounded half-up to
cents per installment, and whatever the rounding leaves over is carried to the last
installment, so the principal column always sums to exactly the loan.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils.translation import gettext_lazy as _

from lib.money import cents

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_TERM = 600
# The largest principal any product, loan form or calculator takes: beyond it is a typo.
MAX_PRINCIPAL = Decimal(10_000_000)
# The highest nominal annual rate (%) any screen, product or API takes: beyond it is a typo.
MAX_ANNUAL_RATE = Decimal(1000)


class Method(models.TextChoices):
    FRENCH = "french", _("Francés (cuota fija)")
    GERMAN = "german", _("Alemán (capital fijo)")
    FLAT = "flat", _("Interés flat (sobre el capital original)")


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("Mensual")
    BIWEEKLY = "biweekly", _("Quincenal")
    WEEKLY = "weekly", _("Semanal")


class FeeType(models.TextChoices):
    NONE = "none", _("Sin comisión")
    FIXED = "fixed", _("Monto fijo por cuota")
    PERCENT = "percent", _("% de capital + interés de cada cuota")


PERIODS_PER_YEAR = {Frequency.MONTHLY: 12, Frequency.BIWEEKLY: 24, Frequency.WEEKLY: 52}


@dataclass(frozen=True)
class Row:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    balance: Decimal  # principal still owed after this installment

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True)
class Schedule:
    rows: tuple[Row, ...]

    @property
    def total_principal(self) -> Decimal:
        return sum((r.principal for r in self.rows), ZERO)

    @property
    def total_interest(self) -> Decimal:
        return sum((r.interest for r in self.rows), ZERO)

    @property
    def total_fee(self) -> Decimal:
        return sum((r.fee for r in self.rows), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.rows), ZERO)

    @property
    def installment(self) -> Decimal:
        """The regular installment: the first row's total (French: every row but the last)."""
        return self.rows[0].total if self.rows else ZERO


def periodic_rate(annual_rate: Decimal, frequency: str) -> Decimal:
    """Return the rate per period: nominal annual percent over the periods in a year."""
    return Decimal(annual_rate) / HUNDRED / PERIODS_PER_YEAR[Frequency(frequency)]


def due_dates(first_due_date: date, frequency: str, count: int) -> list[date]:
    """Return `count` due dates from the first one.

    Monthly dates keep the first date's day of month (the 31st becomes the month's last
    day); biweekly means twice a month (24 a year: the day and 15 days later); weekly adds
    seven days.
    """
    frequency = Frequency(frequency)
    if frequency == Frequency.WEEKLY:
        return [first_due_date + timedelta(weeks=k) for k in range(count)]
    if frequency == Frequency.MONTHLY:
        return [first_due_date + relativedelta(months=k) for k in range(count)]
    dates = []
    for k in range(count):
        anchor = first_due_date + relativedelta(months=k // 2)
        dates.append(anchor if k % 2 == 0 else anchor + timedelta(days=15))
    return dates


def first_due_date_after(start: date, frequency: str) -> date:
    """Return the default first due date: one period after the start."""
    _start, first_due = due_dates(start, frequency, 2)
    return first_due


def dates_anchor(start: date | None, first_due_date: date, frequency: str) -> tuple[date, int]:
    """Return the date a loan's due dates count from, and the first due date's position.

    A loan whose first due date is the default one (a period after its start) keeps its
    start's day of the month: started on 31 January, it is due on 28 February, 31 March,
    30 April. Counted from the first due date, the day clipped in February would stay the
    28th for the loan's whole life. A first due date chosen apart anchors on itself, and
    so do weekly and biweekly loans (a biweekly anchor past the 13th has its own quirk:
    from the 16th, its second day of the month falls in the next month in February).
    """
    if (
        start is not None
        and Frequency(frequency) == Frequency.MONTHLY
        and first_due_date == first_due_date_after(start, frequency)
    ):
        return start, 1
    return first_due_date, 0


def loan_due_dates(
    start: date | None, first_due_date: date, frequency: str, count: int
) -> list[date]:
    """Return a loan's `count` due dates (see `dates_anchor`)."""
    anchor, skip = dates_anchor(start, first_due_date, frequency)
    return due_dates(anchor, frequency, skip + count)[skip:]


def french_payment(principal: Decimal, rate: Decimal, term: int) -> Decimal:
    """Return the exact (unrounded) level payment that amortizes `principal` in `term` periods."""
    if rate == 0:
        return principal / term
    return principal * rate / (1 - (1 + rate) ** -term)


def build_schedule(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term: int,
    method: str,
    frequency: str,
    first_due_date: date,
    fee_type: str = FeeType.NONE,
    fee_value: Decimal = ZERO,
    installment: Decimal | None = None,
    first_number: int = 1,
    dates_from: tuple[date, int] | None = None,
    start_date: date | None = None,
) -> Schedule:
    """Return the schedule of a loan.

    French rows have equal totals: the level payment rounded to cents; each row's interest
    is the exact interest on the exact outstanding balance, rounded, so every row agrees
    with numpy-financial's ipmt/ppmt to the cent. German rows repay equal principal with
    interest on the balance; flat rows pay interest on the original principal every
    period. `installment` fixes a French level payment (re-scheduling that shortens the
    term); the row count is then what that payment needs, at most `term`.

    `dates_from` (a first due date and a position) dates the rows as that schedule's from
    that position on, instead of from `first_due_date`: a re-scheduled loan keeps its own
    day of the month (rebuilt from a row dated 28 February, the 31st would be lost).
    `start_date`, when given, dates a new loan's rows as `loan_due_dates` does.
    """
    principal = Decimal(principal)
    if principal <= 0:
        raise ValueError("principal must be positive")
    if not 1 <= term <= MAX_TERM:
        raise ValueError(f"term must be between 1 and {MAX_TERM}")
    if Decimal(annual_rate) < 0:
        raise ValueError("annual_rate cannot be negative")
    method = Method(method)
    rate = periodic_rate(annual_rate, frequency)
    with localcontext() as ctx:
        ctx.prec = 34
        if method == Method.FRENCH:
            parts = _french(principal, rate, term, installment)
        elif method == Method.GERMAN:
            parts = _german(principal, rate, term)
        else:
            parts = _flat(principal, rate, term)
    if dates_from is None:
        dates = loan_due_dates(start_date, first_due_date, frequency, len(parts))
    else:
        anchor, skip = dates_from
        dates = due_dates(anchor, frequency, skip + len(parts))[skip:]
    rows = []
    balance = principal
    for k, ((row_principal, row_interest), due) in enumerate(zip(parts, dates, strict=True)):
        balance -= row_principal
        fee = _fee(fee_type, Decimal(fee_value), row_principal + row_interest)
        rows.append(
            Row(
                number=first_number + k,
                due_date=due,
                principal=row_principal,
                interest=row_interest,
                fee=fee,
                balance=balance,
            )
        )
    return Schedule(rows=tuple(rows))


def _french(
    principal: Decimal, rate: Decimal, term: int, installment: Decimal | None
) -> list[tuple[Decimal, Decimal]]:
    if installment is None:
        level = cents(french_payment(principal, rate, term))
        term_needed = term
    else:
        level = cents(installment)
        term_needed = min(term, _periods_for_payment(principal, rate, level))
    parts = []
    exact_balance = principal
    # The balance path follows the exact level payment, or the fixed one when given.
    exact_payment = french_payment(principal, rate, term_needed) if installment is None else level
    paid_principal = ZERO
    for number in range(1, term_needed + 1):
        interest_exact = exact_balance * rate
        interest = cents(interest_exact)
        if number == term_needed:
            row_principal = principal - paid_principal
        else:
            row_principal = level - interest
            exact_balance -= exact_payment - interest_exact
        paid_principal += row_principal
        parts.append((row_principal, interest))
    return parts


def _periods_for_payment(principal: Decimal, rate: Decimal, payment: Decimal) -> int:
    """Return how many level payments of `payment` repay `principal` (rounded up)."""
    if payment <= 0:
        raise ValueError("installment must be positive")
    if rate == 0:
        periods = principal / payment
    elif payment <= principal * rate:
        raise ValueError("the installment does not cover the interest")
    else:
        # n = -ln(1 - P·r/A) / ln(1 + r), in Decimal; a hair above an integer is that integer.
        periods = -(1 - principal * rate / payment).ln() / (1 + rate).ln()
        periods = periods.quantize(Decimal("1e-9"))
    return max(1, int(periods.to_integral_value(rounding=ROUND_CEILING)))


def _german(principal: Decimal, rate: Decimal, term: int) -> list[tuple[Decimal, Decimal]]:
    level = cents(principal / term)
    parts = []
    balance = principal
    for number in range(1, term + 1):
        interest = cents(balance * rate)
        row_principal = balance if number == term else level
        balance -= row_principal
        parts.append((row_principal, interest))
    return parts


def _flat(principal: Decimal, rate: Decimal, term: int) -> list[tuple[Decimal, Decimal]]:
    level = cents(principal / term)
    interest = cents(principal * rate)
    parts = []
    paid = ZERO
    for number in range(1, term + 1):
        row_principal = principal - paid if number == term else level
        paid += row_principal
        parts.append((row_principal, interest))
    return parts


def _fee(fee_type: str, fee_value: Decimal, principal_and_interest: Decimal) -> Decimal:
    fee_type = FeeType(fee_type)
    if fee_type == FeeType.FIXED:
        return cents(fee_value)
    if fee_type == FeeType.PERCENT:
        return cents(principal_and_interest * fee_value / HUNDRED)
    return ZERO
