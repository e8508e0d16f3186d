"""Monthly goals (*metas*) of an agent for a product, and how far each one got.

What counts toward a goal of agent A, product P, month M, success state S:

- a gestión **reaches** the goal when its agent is A, it has product P among its
  products, and during M (local time: settings.TIME_ZONE, America/Lima) it got a
  follow-up that took it into S: a follow-up whose state is S and whose previous state
  was another one (or none: a gestión opened directly in S). A gestión counts once,
  however many times it reached S in the month;
- **actual local** is the sum, over the gestiones that reached the goal in soles (PEN), of
  the approved amount, or the requested amount when nothing was approved yet; **actual
  USD** is the same over those in dollars;
- **actual customers** is the number of distinct customers of those gestiones;
- **actual prospects** is the number of distinct customers of the gestiones of A with P
  opened during M, whatever their state.

Percentages are actual ÷ target × 100, to one place, half up; they may pass 100, and are
None when the target is zero."""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm import display
from crm.gestiones.models import FollowUp, Gestion, GestionState, Goal, Outcome
from crm.models import Product
from lib import money, people
from lib.money import Currency

ZERO = Decimal("0.00")
# A goal's targets (services.TARGETS has their ceilings).
TARGET_FIELDS = ("target_local", "target_usd", "target_prospects", "target_customers")


def sees_all_goals(user: AbstractBaseUser) -> bool:
    """Return whether the user manages goals (supervisors) rather than only has some."""
    return user.has_perm("gestiones.add_goal")


def goal_holders() -> QuerySet:
    """Return the active users who may hold goals: those whose role sees goals."""
    return get_user_model().objects.filter(
        is_active=True,
        groups__permissions__codename="view_goal",
        groups__permissions__content_type__app_label="gestiones",
    )


def agent_mark(agent: AbstractBaseUser, *, holds: bool | None = None) -> str:
    """Mark a goal's agent who can no longer hold goals: «(inactivo)», «(sin rol)»; "" for
    one who can. `holds`, when known (an annotation of `goal_list`), saves the query."""
    if not agent.is_active:
        return _("(inactivo)")
    if holds is None:
        holds = goal_holders().filter(pk=agent.pk).exists()
    return "" if holds else _("(sin rol)")


def goal_list(user: AbstractBaseUser) -> QuerySet[Goal]:
    """Return the goals of the list: `visible_goals`, each with whether its agent may still
    hold goals (`agent_holds`), so the list marks who left or changed role."""
    return visible_goals(user).annotate(
        agent_holds=Exists(goal_holders().filter(pk=OuterRef("agent_id")))
    )


def visible_goals(user: AbstractBaseUser) -> QuerySet[Goal]:
    """Return the goals the user may see: all for supervisors, their own for agents."""
    goals = Goal.objects.select_related("agent", "product", "success_state__gestion_type").annotate(
        month_name=month_name()
    )
    if sees_all_goals(user):
        return goals
    return goals.filter(agent=user)


def month_name() -> Case:
    """Return the goal's month as its (translated) name, for lists that show it."""
    return Case(
        *[When(month=number, then=Value(str(capfirst(name)))) for number, name in MONTHS.items()],
        output_field=CharField(),
    )


def label(goal: Goal) -> str:
    """Return how screens name a goal: "Andrea Quispe · Préstamo · Mayo 2026"."""
    month = capfirst(MONTHS.get(goal.month, str(goal.month)))
    return f"{people.display_name(goal.agent)} · {goal.product.name} · {month} {goal.year}"


def deletion_details(goal: Goal) -> list[tuple[str, str]]:
    """Return what a goal holds, as the deletion's confirmation and its record show it."""
    return [
        (_("Vendedor"), people.display_name(goal.agent)),
        (_("Producto"), goal.product.name),
        (_("Mes"), f"{capfirst(MONTHS.get(goal.month, str(goal.month)))} {goal.year}"),
        (_("Meta local"), display.money_text(goal.target_local, Currency.PEN)),
        (_("Meta dólares"), display.money_text(goal.target_usd, Currency.USD)),
        (_("Meta de clientes"), str(goal.target_customers)),
        (_("Meta de prospectos"), str(goal.target_prospects)),
        (_("Estado exitoso"), f"{goal.success_state.gestion_type.name} · {goal.success_state}"),
    ]


def identical_goal(data: Mapping[str, Any]) -> Goal | None:
    """Return the goal whose every field is as in `data` (a goal form's cleaned values), if
    any; None when `data` lacks one of them."""
    fields = ("agent", "product", "year", "month", "success_state", *TARGET_FIELDS)
    if any(data.get(name) is None for name in fields):
        return None
    return Goal.objects.filter(**{name: data[name] for name in fields}).first()


def goal_for(user: AbstractBaseUser, pk: int) -> Goal:
    """Return a goal the user may see; 404 otherwise."""
    return get_object_or_404(visible_goals(user), pk=pk)


def state_warning(goal: Goal) -> str | None:
    """Return a warning when the goal counts a state that is not a successful close."""
    state = goal.success_state
    if state.outcome == Outcome.SUCCESS:
        return None
    return _(
        "El estado «%(state)s» (%(type)s) no es un estado de cierre exitoso; "
        "la meta contará las gestiones que pasen por él."
    ) % {"state": state.name, "type": state.gestion_type.name}


@dataclass(frozen=True)
class GoalProgress:
    """A goal with what its agent achieved in its month (see the module's definitions)."""

    goal: Goal
    actual_local: Decimal
    actual_usd: Decimal
    actual_customers: int
    actual_prospects: int

    @property
    def pct_local(self) -> Decimal | None:
        return percent(self.actual_local, self.goal.target_local)

    @property
    def pct_usd(self) -> Decimal | None:
        return percent(self.actual_usd, self.goal.target_usd)

    @property
    def pct_customers(self) -> Decimal | None:
        return percent(self.actual_customers, self.goal.target_customers)

    @property
    def pct_prospects(self) -> Decimal | None:
        return percent(self.actual_prospects, self.goal.target_prospects)

    def bars(self) -> list[dict[str, Any]]:
        """Return the four progress bars' figures, in the screen's order."""
        return [
            _bar("local", _("Meta local (S/)"), self.actual_local, self.goal.target_local),
            _bar("usd", _("Meta dólares (US$)"), self.actual_usd, self.goal.target_usd),
            _bar(
                "customers",
                _("Clientes"),
                self.actual_customers,
                self.goal.target_customers,
            ),
            _bar(
                "prospects",
                _("Prospectos"),
                self.actual_prospects,
                self.goal.target_prospects,
            ),
        ]


def progress(
    *,
    year: int,
    month: int,
    agent: AbstractBaseUser | None = None,
    product: Product | None = None,
    goals: QuerySet[Goal] | None = None,
) -> list[GoalProgress]:
    """Return each goal of the month (of `agent`, of `product`) with what was achieved.

    Three queries however many goals: the goals, then one aggregate per kind of figure,
    grouped by agent and product (an agent has one goal per product and month, so the
    pair names the goal and its success state).
    """
    goals = (goals if goals is not None else Goal.objects.all()).filter(year=year, month=month)
    if agent is not None:
        goals = goals.filter(agent=agent)
    if product is not None:
        goals = goals.filter(product=product)
    goal_list = list(
        goals.select_related("agent", "product", "success_state__gestion_type").order_by(
            "agent__first_name", "agent__last_name", "agent__username", "product__name", "pk"
        )
    )
    if not goal_list:
        return []
    start, end = month_bounds(year, month)
    agent_ids = {g.agent_id for g in goal_list}
    product_ids = {g.product_id for g in goal_list}
    # One row per gestión and product: a gestión with the product counts once per goal.
    links = Gestion.products.through.objects.filter(
        gestion__agent_id__in=agent_ids, product_id__in=product_ids
    )

    # The success state of the goal of this row's agent and product, for this month.
    goal_state = (
        Goal.objects.filter(
            agent_id=OuterRef(OuterRef("gestion__agent_id")),
            product_id=OuterRef(OuterRef("product_id")),
            year=year,
            month=month,
        )
        .order_by()
        .values("success_state_id")[:1]
    )
    reached = (
        FollowUp.objects.filter(
            gestion_id=OuterRef("gestion_id"),
            created_at__gte=start,
            created_at__lt=end,
            state_id=Subquery(goal_state),
        )
        # A step into the state; NULL from_state (opened in it) is kept by exclude().
        .exclude(from_state_id=F("state_id"))
    )
    amount = Coalesce("gestion__amount_approved", "gestion__amount_requested")
    achieved = {
        (row["gestion__agent_id"], row["product_id"]): row
        for row in links.filter(Exists(reached))
        .values("gestion__agent_id", "product_id")
        .annotate(
            local=Sum(amount, filter=Q(gestion__currency=Currency.PEN)),
            usd=Sum(amount, filter=Q(gestion__currency=Currency.USD)),
            customers=Count("gestion__customer_id", distinct=True),
        )
        .order_by()
    }
    prospects = {
        (row["gestion__agent_id"], row["product_id"]): row["n"]
        for row in links.filter(gestion__created_at__gte=start, gestion__created_at__lt=end)
        .values("gestion__agent_id", "product_id")
        .annotate(n=Count("gestion__customer_id", distinct=True))
        .order_by()
    }

    result = []
    for goal in goal_list:
        key = (goal.agent_id, goal.product_id)
        row = achieved.get(key, {})
        result.append(
            GoalProgress(
                goal=goal,
                actual_local=money.cents(row.get("local")),
                actual_usd=money.cents(row.get("usd")),
                actual_customers=row.get("customers", 0),
                actual_prospects=prospects.get(key, 0),
            )
        )
    return result


def month_bounds(year: int, month: int) -> tuple[datetime.datetime, datetime.datetime]:
    """Return the month's first instant and the next month's, at local midnight.

    Local is settings.TIME_ZONE (America/Lima): a sale at 23:30 in Lima on the 31st is
    that month's, though it is already the 1st in UTC.
    """
    zone = timezone.get_default_timezone()
    start = datetime.datetime(year, month, 1, tzinfo=zone)
    end = datetime.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, end


# Goals show one decimal: actual ÷ target × 100, half up; None for a zero target.
percent = partial(money.percent, places=1)


def agent_chart(rows: list[GoalProgress], *, currency: str) -> dict[str, Any]:
    """Return a static/js/charts.js bar chart of goal vs achieved per agent, in `currency`."""
    totals: dict[int, list] = {}
    for row in rows:
        name = people.display_name(row.goal.agent)
        target = row.goal.target_local if currency == Currency.PEN else row.goal.target_usd
        actual = row.actual_local if currency == Currency.PEN else row.actual_usd
        entry = totals.setdefault(row.goal.agent_id, [name, ZERO, ZERO])
        entry[1] += target
        entry[2] += actual
    entries = list(totals.values())
    return {
        "type": "bar",
        "labels": [name for name, _t, _a in entries],
        "datasets": [
            {"label": _("Meta"), "data": [t for _n, t, _a in entries], "color": "secondary"},
            {"label": _("Logrado"), "data": [a for _n, _t, a in entries], "color": "success"},
        ],
        "options": {"money": True, "currency": currency, "yLabel": _("Monto")},
    }


def success_states() -> QuerySet[GestionState]:
    """Return the states a goal may count, by gestión type and the type's order."""
    return GestionState.objects.select_related("gestion_type").order_by(
        "gestion_type__name", "order", "id"
    )


def _bar(key: str, label: str, actual: Decimal | int, target: Decimal | int) -> dict[str, Any]:
    pct = percent(actual, target)
    width = 0 if pct is None else min(100, int(pct / 5) * 5)
    return {
        "key": key,
        "label": label,
        "actual": actual,
        "target": target,
        "percent": pct,
        # The CSS class step in static/css/progress.css (0, 5 … 100): the bar stops at 100.
        "width": width,
        "is_met": pct is not None and pct >= 100,
        "is_money": key in ("local", "usd"),
        "currency": {"local": Currency.PEN, "usd": Currency.USD}.get(key, ""),
    }
