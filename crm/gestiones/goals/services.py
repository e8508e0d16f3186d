"""Writes of monthly goals per agent and product."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import deletions as deletion_services
from crm import display
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.goals import selectors
from crm.gestiones.models import Goal
from lib import people
from lib.money import Currency

GOAL_FIELDS = (
    "agent",
    "product",
    "year",
    "month",
    "target_local",
    "target_usd",
    "target_prospects",
    "target_customers",
    "success_state",
)
# Ceilings no monthly goal of one agent reaches (the demo's are S/ 50,000–120,000 and a
# dozen prospects): a target typed with extra zeros is refused rather than saved and
# shown as 0.0 % all month.
MAX_TARGET_AMOUNT = Decimal("100000000.00")
MAX_TARGET_COUNT = 10_000
TARGETS = {
    "target_local": (MAX_TARGET_AMOUNT, Currency.PEN),
    "target_usd": (MAX_TARGET_AMOUNT, Currency.USD),
    "target_prospects": (MAX_TARGET_COUNT, None),
    "target_customers": (MAX_TARGET_COUNT, None),
}
# The years a goal takes, and the goal list's and progress page's year filters with it:
# from the model's own first (Goal.year) to next year. Goals are set for the months ahead,
# as the dashboards read them, so a later year is a typo (2062 for 2026); an earlier one is
# not: a supervisor corrects last year's goal, or records a month's goal set late, and the
# progress page reads the months gone by.
FIRST_GOAL_YEAR = 2000


def last_goal_year() -> int:
    """Return the latest year a goal takes: next year."""
    return timezone.localdate().year + 1


def year_problem(year: int | None) -> str | None:
    """Say why a goal (or a goal filter) cannot take `year`; None when it can or is empty."""
    last = last_goal_year()
    if year is None or FIRST_GOAL_YEAR <= year <= last:
        return None
    return _("Elija un año entre %(first)s y %(last)s.") % {"first": FIRST_GOAL_YEAR, "last": last}


@transaction.atomic
def create_goal(*, data: Mapping[str, Any]) -> Goal:
    """Create a goal; refused when the agent already has one for that product and month."""
    goal = Goal()
    _apply(goal, data)
    _save(goal)
    return goal


@transaction.atomic
def update_goal(*, goal: Goal, data: Mapping[str, Any]) -> Goal:
    """Change a goal's agent, product, month, targets or success state."""
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    _apply(goal, data)
    _save(goal)
    return goal


@transaction.atomic
def delete_goal(*, goal: Goal, actor: AbstractBaseUser | None) -> None:
    """Delete a goal, recording who did and what it was; the gestiones it counted stay."""
    goal = Goal.objects.select_for_update().filter(pk=goal.pk).first()
    if goal is None:
        return  # deleted a moment ago by someone else, who has the record
    deletion_services.record_deletion(
        kind=deletion_kinds.GOAL,
        object_id=goal.pk,
        name=selectors.label(goal),
        details=selectors.deletion_details(goal),
        actor=actor,
    )
    goal.delete()


def _save(goal: Goal) -> None:
    # Two supervisors saving the same goal at once both pass _apply's check; the unique
    # constraint stops the second.
    try:
        with transaction.atomic():
            goal.save()
    except IntegrityError as exc:
        raise ValidationError(_("Ese gestor ya tiene una meta para ese producto y mes.")) from exc


def _apply(goal: Goal, data: Mapping[str, Any]) -> None:
    for name in GOAL_FIELDS:
        if name in data:
            setattr(goal, name, data[name])
    check_targets(goal)
    if (
        Goal.objects.filter(
            agent_id=goal.agent_id, product_id=goal.product_id, year=goal.year, month=goal.month
        )
        .exclude(pk=goal.pk)
        .exists()
    ):
        raise ValidationError(
            _("%(agent)s ya tiene una meta de %(product)s para %(month)02d/%(year)s.")
            % {
                "agent": people.display_name(goal.agent),
                "product": goal.product.name,
                "month": goal.month,
                "year": goal.year,
            }
        )
    # The rest of the rules (month 1–12, year range, the constraints) are the model's.
    goal.full_clean(validate_unique=False)


def check_targets(goal: Goal) -> None:
    """Refuse a goal's targets and year out of bounds, or a goal of no target at all (the
    screens and admin alike)."""
    errors: dict[str, str] = {}
    for name in TARGETS:
        value = getattr(goal, name)
        if value is None or value < 0:
            errors[name] = _("La meta no puede ser negativa.")
        elif problem := ceiling_problem(name, value):
            errors[name] = problem
    if problem := year_problem(goal.year):
        errors["year"] = problem
    if errors:
        raise ValidationError(errors)
    if not any(getattr(goal, name) for name in TARGETS):
        raise ValidationError(
            _(
                "Indique al menos una meta mayor que cero: en soles, en dólares, "
                "de clientes o de prospectos."
            )
        )


def ceiling_problem(name: str, value: Any) -> str | None:
    """Say why a target is above its ceiling (`TARGETS`); None when it is not."""
    ceiling, currency = TARGETS[name]
    if value is None or value <= ceiling:
        return None
    limit = display.money_text(ceiling, currency) if currency else f"{ceiling:,}"
    return _("La meta no puede superar %(limit)s.") % {"limit": limit}
