"""Reads of the gestiones app: who may see which gestión, the work lists, board and workload."""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import messages as crm_messages
from crm.gestiones.models import (
    Action,
    ActionResult,
    Attachment,
    FollowUp,
    FormField,
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
    StateAgent,
    Survey,
)
from crm.models import Branch, Channel, Customer
from lib import links, search, small_tables
from lib.lookups import whole_number

User = get_user_model()


# What every gestión row on a screen shows.
ROW_RELATED = ("customer", "gestion_type", "state", "agent", "branch", "channel")
# What a list row shows, prefetched for the page rather than joined: PostgreSQL spent
# ~17 ms planning a page of 1M gestiones joined to six tables (its planner weighs each
# of the table's many indexes on every join order; running it took under 1 ms), and
# sorted by a column without an index (the amount) it joined all 1M rows before sorting.
# The customer without its phones: reading a phone parses it (~50 µs a row).
LIST_CUSTOMER_FIELDS = ("first_name", "last_name", "document_number")
LIST_CUSTOMER = Prefetch("customer", queryset=Customer.objects.only(*LIST_CUSTOMER_FIELDS))
# What a row of a list page shows of the gestión itself (GestionTable and its template).
LIST_GESTION_FIELDS = (
    "customer_id",
    "gestion_type_id",
    "state_id",
    "agent_id",
    "branch_id",
    "subject",
    "amount_requested",
    "currency",
    "outcome",
    "is_time_controlled",
    "due_at",
    "closed_at",
    "created_at",
)
LIST_PREFETCHED = (LIST_CUSTOMER, "gestion_type", "state", "agent", "branch")


# What makes a person a supervisor of gestiones: the workload and its reassignment
# (/gestiones/carga/, where the alerts to supervisors point). Being listed among a type's or
# a state's supervisors is not enough: a supervisor moved to another role (an advisor now)
# supervises nothing from that moment, and is marked in admin «(sin rol de supervisor)».
SUPERVISE_PERMISSION = "gestiones.reassign_gestion"


def visible_gestiones(user: AbstractBaseUser) -> QuerySet[Gestion]:
    """Return the gestiones `user` may see.

    Everyone's with `view_all_gestiones`; otherwise those the user works, opened, or
    supervises (as supervisor of the type or of the gestión's current state, while their
    role supervises: SUPERVISE_PERMISSION).
    """
    if not user.is_authenticated or not user.has_perm("gestiones.view_gestion"):
        return Gestion.objects.none()
    if user.has_perm("gestiones.view_all_gestiones"):
        return Gestion.objects.all()
    visible = Q(agent=user) | Q(created_by=user)
    if user.has_perm(SUPERVISE_PERMISSION):
        supervised_types = GestionType.supervisors.through.objects.filter(user=user).values(
            "gestiontype_id"
        )
        supervised_states = GestionState.supervisors.through.objects.filter(user=user).values(
            "gestionstate_id"
        )
        visible |= Q(gestion_type_id__in=supervised_types) | Q(state_id__in=supervised_states)
    return Gestion.objects.filter(visible)


def gestion_for(user: AbstractBaseUser, pk: int) -> Gestion:
    """Return the gestión `pk` if `user` may see it, else 404."""
    return get_object_or_404(
        # Six joins plan in ~1.5 ms for one gestión; eight took ~7 ms. The other two are
        # prefetched: mostly empty, they cost no query then.
        visible_gestiones(user)
        .select_related(*ROW_RELATED)
        .prefetch_related("rejection_reason", "campaign"),
        pk=pk,
    )


# What the gestión page does not read of its customer: the phones (loading one parses it
# with the phonenumbers library, ~50 µs each) and the search text.
PAGE_CUSTOMER_DEFERRED = ("customer__phone", "customer__phone_secondary", "customer__search_text")


def gestion_page(user: AbstractBaseUser, pk: int) -> Gestion:
    """Return the gestión `pk` for its page if `user` may see it, else 404.

    Joined to its customer only: the type, state, agent, branch, channel and rejection
    reason come from the process's copy of those small tables (lib.small_tables). The
    joins of `gestion_for` cost ~3.8 ms on the bench (PostgreSQL planned for ~1.6 ms a
    query that ran in 0.1 ms, and Django built six more instances); this, ~1.1 ms. The
    rows are shared by the process's requests: the page only reads them.
    """
    gestion = get_object_or_404(
        visible_gestiones(user).select_related("customer").defer(*PAGE_CUSTOMER_DEFERRED),
        pk=pk,
    )
    types, states, users, branches, channels, reasons = small_tables.rows(
        GestionType, GestionState, small_tables.people(), Branch, Channel, RejectionReason
    )
    small_tables.attach(
        [gestion],
        gestion_type=types,
        state=states,
        agent=users,
        branch=branches,
        channel=channels,
        rejection_reason=reasons,
    )
    return gestion


def form_fields(gestion: Gestion) -> list[FormField]:
    """Return the fields of the gestión's type, in the form's order (FormField.Meta).

    From the process's copy of the form fields (a few per type, lib.small_tables): the
    query cost ~0.6 ms a page. The order is the model's: scope ("follow_up" before
    "gestion"), order, id.
    """
    (fields,) = small_tables.rows(FormField)
    return sorted(
        (f for f in fields.values() if f.gestion_type_id == gestion.gestion_type_id),
        key=lambda f: (f.scope, f.order, f.pk),
    )


def product_names(gestion: Gestion) -> list[str]:
    """Return the names of the gestión's products, by name: no instances to build."""
    return list(gestion.products.values_list("name", flat=True))


def loans(gestion: Gestion) -> QuerySet:
    """Return the gestión's loans with what the page writes: their payment codes (and pk)."""
    return gestion.loans.only("payment_code")


def ends_gestion(result: ActionResult) -> bool:
    """Return whether recording `result` ends the gestión: success, rejected or closed."""
    return result.changes_state and result.to_state is not None and result.to_state.is_closing


def notifies_customer(gestion: Gestion, result: ActionResult) -> bool:
    """Return whether recording `result` e-mails the customer: its own alert, or the type's
    survey when it ends the gestión (services.record_follow_up). Never a customer without
    e-mail or who asked not to be contacted: crm.messages skips them."""
    customer = gestion.customer
    if customer.has_opted_out or not crm_messages.address_for(customer, crm_messages.EMAIL):
        return False
    if result.alerts_customer:
        return True
    survey_id = gestion.gestion_type.survey_id
    return (
        ends_gestion(result)
        and survey_id is not None
        and Survey.objects.filter(pk=survey_id, is_active=True).exists()
    )


def can_follow_up(user: AbstractBaseUser, gestion: Gestion) -> bool:
    """Return whether `user` may record follow-ups: its agent, or a supervisor of it."""
    return gestion.is_open and works_on(user, gestion)


def works_on(user: AbstractBaseUser, gestion: Gestion) -> bool:
    """Return whether `user` records follow-ups on `gestion` while it is open (a form sent
    after it closed is then told so, with what was typed, rather than refused as a stranger's)."""
    if not user.has_perm("gestiones.add_followup"):
        return False
    if gestion.agent_id == user.pk or user.has_perm("gestiones.reassign_gestion"):
        return True
    return is_supervisor_of(user, gestion)


def may_correct_state(user: AbstractBaseUser) -> bool:
    """Return whether `user` corrects a gestión's state (undoes a wrong step or close): who
    supervises gestiones, SUPERVISE_PERMISSION, as for reassigning them; on the gestiones
    they may see (`gestion_for`), open or closed."""
    return user.is_authenticated and user.has_perm(SUPERVISE_PERMISSION)


def correction_states(gestion: Gestion) -> QuerySet[GestionState]:
    """Return the states a correction may move `gestion` to: every other state of its type."""
    return GestionState.objects.filter(gestion_type_id=gestion.gestion_type_id).exclude(
        pk=gestion.state_id
    )


def is_supervisor_of(user: AbstractBaseUser, gestion: Gestion) -> bool:
    """Return whether `user` supervises `gestion`: listed among its type's or its state's
    supervisors, and their role supervises (SUPERVISE_PERMISSION)."""
    if not user.has_perm(SUPERVISE_PERMISSION):
        return False
    return (
        gestion.gestion_type.supervisors.filter(pk=user.pk).exists()
        or gestion.state.supervisors.filter(pk=user.pk).exists()
    )


def search_gestiones(queryset: QuerySet[Gestion], text: str) -> QuerySet[Gestion]:
    """Filter by gestión number, or by the customer's name, document, e-mail or phone."""
    text = (text or "").strip().lstrip("#")
    if (number := whole_number(text, digits=9)) is not None:
        return queryset.filter(Q(pk=number) | search.matches_all(text, "customer__search_text"))
    return queryset.filter(search.matches_all(text, "customer__search_text"))


def my_work(user: AbstractBaseUser) -> QuerySet[Gestion]:
    """Return the agent's open gestiones by due date: the late ones come first, undated last."""
    return (
        Gestion.objects.filter(agent=user, outcome=Outcome.OPEN)
        .prefetch_related(*LIST_PREFETCHED)
        .order_by(F("due_at").asc(nulls_last=True), "id")
    )


def gestion_list(user: AbstractBaseUser) -> QuerySet[Gestion]:
    """Return the gestiones `user` may see, with what each row of the list shows."""
    return visible_gestiones(user).prefetch_related(*LIST_PREFETCHED)


def list_page(page: QuerySet[Gestion]) -> list[Gestion]:
    """Return a list page's gestiones (a slice of `gestion_list`) with what each row shows:
    the customers in one query, the type, state, agent and branch from the process's copy of
    those small tables (lib.small_tables) instead of four more queries."""
    gestiones = list(page.prefetch_related(None).only(*LIST_GESTION_FIELDS))
    # The page's customers by id: Django's prefetch machinery cost more than the query.
    customers = Customer.objects.only(*LIST_CUSTOMER_FIELDS).in_bulk(
        {gestion.customer_id for gestion in gestiones}
    )
    types, states, users, branches = small_tables.rows(
        GestionType, GestionState, small_tables.people(), Branch
    )
    small_tables.attach(
        gestiones,
        customer=customers,
        gestion_type=types,
        state=states,
        agent=users,
        branch=branches,
    )
    return gestiones


def follow_ups(gestion: Gestion) -> list[FollowUp]:
    """Return the gestión's follow-ups, newest first, with what the history shows.

    The follow-ups alone, then their attachments when there are any (`attachment_list`,
    each with its `download_url`); the action, result, states, rejection reason and actor
    come from the process's copy of those small tables (lib.small_tables). Joined to those
    six tables the query cost ~2.5 ms on the bench even for a gestión with no follow-up
    (PostgreSQL planned it for ~1.1 ms); alone, ~0.5 ms.
    """
    rows = list(gestion.follow_ups.order_by("-created_at", "-id"))
    if not rows:
        return rows
    actions, results, states, reasons, users = small_tables.rows(
        Action, ActionResult, GestionState, RejectionReason, small_tables.people()
    )
    files: dict[int, list[Attachment]] = {row.pk: [] for row in rows}
    download = links.pk_link("gestiones:attachment_download")
    # By the gestión, not by a list of the follow-ups' ids: the same small query for 1 or
    # 1,000 follow-ups. Only what the history writes of a file: its name and link.
    for attachment in Attachment.objects.filter(follow_up__gestion_id=gestion.pk).only(
        "follow_up_id", "name"
    ):
        attachment.download_url = download(attachment.pk)
        files[attachment.follow_up_id].append(attachment)
    small_tables.attach(
        rows,
        action=actions,
        result=results,
        from_state=states,
        state=states,
        rejection_reason=reasons,
        actor=users,
    )
    for row in rows:
        row.attachment_list = files[row.pk]
    return rows


def allowed_actions(gestion: Gestion) -> list[Action]:
    """Return the actions allowed in the gestión's current state, with their results."""
    return list(
        Action.objects.filter(
            gestion_type_id=gestion.gestion_type_id, is_active=True, from_states=gestion.state_id
        )
        .prefetch_related(
            Prefetch("results", queryset=ActionResult.objects.select_related("to_state"))
        )
        .order_by("order", "id")
    )


def customer_gestiones(user: AbstractBaseUser, customer_id: int) -> QuerySet[Gestion]:
    return (
        visible_gestiones(user)
        .filter(customer_id=customer_id)
        .select_related(*ROW_RELATED)
        .order_by("-created_at", "-id")
    )


def agents() -> QuerySet:
    """Return the active users who may work gestiones, by name."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="add_followup")
            | Q(user_permissions__codename="add_followup")
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def may_work_gestiones(user: AbstractBaseUser) -> bool:
    """Whether `user` is among `agents()`: active, and may add follow-ups."""
    return agents().filter(pk=user.pk).exists()


def why_unassigned(state: GestionState) -> str:
    """Say why the distribution left a gestión of `state` without an agent
    (`workload.services.state_pool`): its active agents lack the role to work gestiones
    (another role now), or it has no active agent at all."""
    if StateAgent.objects.filter(state=state, is_active=True, agent__is_active=True).exists():
        return _("el estado «%(state)s» no tiene gestores que puedan trabajarla") % {
            "state": state.name
        }
    return _("el estado «%(state)s» no tiene gestores activos") % {"state": state.name}


# A board column's order: by due date (undated last), then the latest closed, then by
# number. Served by the index `gestiones_state_board_idx` (state, due_at, -closed_at, id).
BOARD_CARD_ORDER = (F("due_at").asc(nulls_last=True), "-closed_at", "id")


@dataclass
class BoardColumn:
    state: GestionState
    count: int = 0
    late: int = 0
    cards: list[Gestion] = field(default_factory=list)


def board(
    queryset: QuerySet[Gestion], gestion_type: GestionType, *, per_state: int = 15
) -> list[BoardColumn]:
    """Return one column per state of the type: its count, late count and first cards.

    Closed states count only gestiones closed in the last 30 days, so the board shows
    current work rather than history.
    """
    now = timezone.now()
    recent = now - datetime.timedelta(days=30)
    states = list(gestion_type.states.order_by("order", "id"))
    rows = queryset.filter(gestion_type=gestion_type).filter(
        Q(outcome=Outcome.OPEN) | Q(closed_at__gte=recent)
    )
    counts = {
        row["state"]: row
        for row in rows.values("state").annotate(
            n=Count("id"),
            late=Count(
                "id",
                filter=Q(outcome=Outcome.OPEN, is_time_controlled=True, due_at__lt=now),
            ),
        )
    }
    columns = []
    card_ids: dict[int, list[int]] = {}
    for state in states:
        column = BoardColumn(state=state)
        if state.pk in counts:
            column.count = counts[state.pk]["n"]
            column.late = counts[state.pk]["late"]
            # The ids only, from the gestiones alone, read in the order of their index:
            # ~0.1 ms a column on the bench's 1M gestiones. Joined to the customer and agent,
            # PostgreSQL (misjudging a big state's rows) joined and sorted every gestión of
            # the state before keeping 15, or walked the due-date index over every gestión
            # for a closed state (undated): 30–215 ms a column.
            card_ids[state.pk] = list(
                rows.filter(state=state)
                .order_by(*BOARD_CARD_ORDER)
                .values_list("id", flat=True)[:per_state]
            )
        columns.append(column)
    # Then every column's cards in one query, with what a card shows.
    found = Gestion.objects.select_related("customer", "agent").in_bulk(
        [pk for ids in card_ids.values() for pk in ids]
    )
    for column in columns:
        # A gestión deleted between the two queries is left out.
        column.cards = [found[pk] for pk in card_ids.get(column.state.pk, []) if pk in found]
    return columns


def admin_configurers(permission: str) -> list[AbstractBaseUser]:
    """Return who may change `permission`'s model in Django admin ("app.codename"), by name:
    the active staff with that permission, superusers included."""
    app_label, codename = permission.split(".")
    granted = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    ) | Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    return list(
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | granted)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def may_supervise() -> Q:
    """Filter users to those who may supervise gestiones now: active, and a superuser or
    given SUPERVISE_PERMISSION (by a role or one by one)."""
    app_label, codename = SUPERVISE_PERMISSION.split(".")
    return Q(is_active=True) & (
        Q(is_superuser=True)
        | Q(
            groups__permissions__codename=codename,
            groups__permissions__content_type__app_label=app_label,
        )
        | Q(
            user_permissions__codename=codename,
            user_permissions__content_type__app_label=app_label,
        )
    )


def supervisors() -> QuerySet:
    """Return the users who may supervise gestiones now (`may_supervise`)."""
    return User.objects.filter(may_supervise()).distinct()


def type_supervisors(gestion_type: GestionType) -> list[AbstractBaseUser]:
    """Return the type's supervisors who may supervise now (`may_supervise`)."""
    return list(gestion_type.supervisors.filter(may_supervise()).distinct())


def supervisors_of(gestion: Gestion) -> list[AbstractBaseUser]:
    """Return the state's supervisors, or the type's when the state has none; only those who
    may supervise now (`may_supervise`): one who left or changed role is told nothing."""
    people = list(gestion.state.supervisors.filter(may_supervise()).distinct())
    if not people:
        people = type_supervisors(gestion.gestion_type)
    return people


def locked_gestion(gestion: Gestion, *related: str) -> Gestion:
    """Lock the gestión's row, then read it fresh with its related rows.

    Locking and joining in one query is wrong on PostgreSQL: a transaction that waited
    for the lock re-checks the joins against the updated row, finds the old state no
    longer matches, and gets no row at all. So the lock is taken alone, first.
    """
    list(Gestion.objects.select_for_update().filter(pk=gestion.pk).values_list("pk"))
    return Gestion.objects.select_related(*related).get(pk=gestion.pk)
