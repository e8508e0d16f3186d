"""The flow tests' cast: debtors whose installment falls due on a chosen day, a segment of
the whole current portfolio, and flows built through their services.

Plain functions, not fixtures, so each test module imports what it uses. The clock stays
frozen on TODAY (15 June 2026, 12:00 in Lima: outside quiet hours).
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from collections_app.models import Flow, MessageTemplate, Segment
from collections_app.strategies import flows, segments
from credits.models import Loan
from credits.services import loans as loan_services
from crm.models import Customer
from tests.collections_app.conftest import TODAY
from tests.factories import CustomerFactory, LoanFactory


def whole_portfolio() -> Segment:
    """Save a segment without rules: every active loan of the current portfolio."""
    return segments.save_segment(data={"name": "Toda la cartera vigente"}, actor=None)


def debtor_due(days: int, *, customer: Customer | None = None, **customer_fields) -> Loan:
    """Disburse a loan whose first installment falls due `days` days from TODAY (negative:
    that many days ago), unpaid; to a new customer unless one is given."""
    due = TODAY + timedelta(days=days)
    start = due - timedelta(days=30)
    loan = LoanFactory(
        customer=customer or CustomerFactory(**customer_fields),
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=start,
        first_due_date=due,
    )
    disbursed_at = timezone.make_aware(datetime.combine(start, time(9)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=disbursed_at)


def make_flow(
    segment: Segment,
    steps: list[tuple[int, MessageTemplate]],
    *,
    name: str = "Recordatorios",
    is_active: bool = True,
) -> Flow:
    """Save a flow with its steps, and turn it on, as the screens do."""
    flow = flows.save_flow(
        flow=None,
        name=name,
        description="",
        segment=segment,
        steps=[flows.StepData(step=None, day_offset=day, template=t) for day, t in steps],
        removed=[],
        actor=None,
    )
    if is_active:
        flows.set_active(flow=flow, is_active=True, actor=None)
    return flow
