"""Segments: which debtors a flow sends to, as one query over live loans and their customers.

A segment's loan rules (days past due, bucket, balance in one currency, product, branch)
hold for one of the customer's active loans; its customer rules (tags, last contact,
promises) for the customer. A customer tagged `Cartera castigada` (an active written-off
campaign, which the recovery app keeps) is never in a segment: their communications are
the campaign's.
Customers who asked not to be contacted stay in: the message service skips them and says
so on their timeline, so a segment's count is the debtors it covers.
"""

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    ProtectedError,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from collections_app.models import ZERO, PaymentPromise, Segment
from credits.models import COMPONENTS, Bucket, Installment, Loan, LoanProduct
from crm import deletions, display
from crm.models import Branch, Customer, Tag
from lib import audit, people, repeats, search
from lib.money import Currency

# The tag of customers with an active written-off campaign (set by the recovery app).
CASTIGADA_TAG = "Cartera castigada"
# "Broken" and "kept" promises count for this many days after their day.
PROMISE_DAYS = 30

SEGMENT_FIELDS = (
    "name",
    "description",
    "min_days_past_due",
    "max_days_past_due",
    "buckets",
    "min_balance",
    "max_balance",
    "balance_currency",
    "no_contact_days",
    "contacted_within_days",
    "promise_status",
)
SEGMENT_M2M_FIELDS = ("products", "branches", "tags", "excluded_tags")

_TAGGED = Customer.tags.through


@dataclass(frozen=True)
class Rules:
    """A segment's rules as plain values: a saved segment's, or a form's not yet saved (the
    live count while editing). An empty rule does not restrict."""

    min_days_past_due: int | None = None
    max_days_past_due: int | None = None
    buckets: tuple[str, ...] = ()
    min_balance: Decimal | None = None
    max_balance: Decimal | None = None
    balance_currency: str = Currency.PEN
    product_ids: tuple[int, ...] = ()
    branch_ids: tuple[int, ...] = ()
    tag_ids: tuple[int, ...] = ()
    excluded_tag_ids: tuple[int, ...] = ()
    no_contact_days: int | None = None
    contacted_within_days: int | None = None
    promise_status: str = ""

    @classmethod
    def of(cls, segment: Segment) -> "Rules":
        """Read a saved segment's rules (its four lists: one query each)."""
        return cls(
            min_days_past_due=segment.min_days_past_due,
            max_days_past_due=segment.max_days_past_due,
            buckets=tuple(segment.buckets or ()),
            min_balance=segment.min_balance,
            max_balance=segment.max_balance,
            balance_currency=segment.balance_currency,
            product_ids=_ids(segment.products),
            branch_ids=_ids(segment.branches),
            tag_ids=_ids(segment.tags),
            excluded_tag_ids=_ids(segment.excluded_tags),
            no_contact_days=segment.no_contact_days,
            contacted_within_days=segment.contacted_within_days,
            promise_status=segment.promise_status or "",
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Rules":
        """Read rules from a segment form's cleaned data (SEGMENT_FIELDS and the lists)."""

        def pks(name: str) -> tuple[int, ...]:
            return tuple(sorted(item.pk for item in data.get(name) or ()))

        return cls(
            min_days_past_due=data.get("min_days_past_due"),
            max_days_past_due=data.get("max_days_past_due"),
            buckets=tuple(data.get("buckets") or ()),
            min_balance=data.get("min_balance"),
            max_balance=data.get("max_balance"),
            balance_currency=data.get("balance_currency") or Currency.PEN,
            product_ids=pks("products"),
            branch_ids=pks("branches"),
            tag_ids=pks("tags"),
            excluded_tag_ids=pks("excluded_tags"),
            no_contact_days=data.get("no_contact_days"),
            contacted_within_days=data.get("contacted_within_days"),
            promise_status=data.get("promise_status") or "",
        )


def _ids(related) -> tuple[int, ...]:
    return tuple(sorted(related.values_list("pk", flat=True)))


def _rules(segment: "Segment | Rules") -> Rules:
    return segment if isinstance(segment, Rules) else Rules.of(segment)


# --- Who is in ------------------------------------------------------------------------------


def loans(segment: "Segment | Rules", today: date) -> QuerySet[Loan]:
    """Return the active loans that meet the segment's loan rules, whose customer meets its
    customer rules and has no written-off campaign: one query, however it is read."""
    rules = _rules(segment)
    # A record merged into another one (crm.merge) is history: a loan still on it (one
    # imported by its old document) reaches nobody through it.
    found = Loan.objects.filter(status=Loan.Status.ACTIVE, customer__merged_into__isnull=True)
    if rules.min_days_past_due is not None:
        found = found.filter(days_past_due__gte=rules.min_days_past_due)
    if rules.max_days_past_due is not None:
        found = found.filter(days_past_due__lte=rules.max_days_past_due)
    if rules.buckets:
        found = found.filter(bucket__in=rules.buckets)
    if rules.min_balance is not None or rules.max_balance is not None:
        # A balance is in its loan's currency: S/ 1,000 is not US$ 1,000.
        found = found.filter(currency=rules.balance_currency)
        found = found.annotate(balance=balance_to_settle(today))
        if rules.min_balance is not None:
            found = found.filter(balance__gte=rules.min_balance)
        if rules.max_balance is not None:
            found = found.filter(balance__lte=rules.max_balance)
    if rules.product_ids:
        found = found.filter(product_id__in=rules.product_ids)
    if rules.branch_ids:
        # The loan's branch; a loan without one belongs to its customer's.
        found = found.filter(
            Q(branch_id__in=rules.branch_ids)
            | Q(branch__isnull=True, customer__branch_id__in=rules.branch_ids)
        )
    if rules.tag_ids:
        found = found.filter(_tagged(rules.tag_ids))
    if rules.excluded_tag_ids:
        found = found.exclude(_tagged(rules.excluded_tag_ids))
    found = found.exclude(
        Exists(_TAGGED.objects.filter(customer_id=OuterRef("customer_id"), tag__name=CASTIGADA_TAG))
    )
    if rules.no_contact_days is not None:
        since = _days_ago(today, rules.no_contact_days)
        found = found.filter(
            Q(customer__last_interaction_at__isnull=True)
            | Q(customer__last_interaction_at__lt=since)
        )
    if rules.contacted_within_days is not None:
        since = _days_ago(today, rules.contacted_within_days)
        found = found.filter(customer__last_interaction_at__gte=since)
    if rules.promise_status:
        found = _by_promises(found, rules.promise_status, today)
    return found


def customers(segment: "Segment | Rules", today: date) -> QuerySet[Customer]:
    """Return the customers in the segment today, each once."""
    return Customer.objects.filter(pk__in=loans(segment, today).values("customer_id"))


def count(segment: "Segment | Rules", today: date) -> int:
    """Return how many customers are in the segment today."""
    return customers(segment, today).count()


def _tagged(tag_ids: tuple[int, ...]) -> Exists:
    return Exists(_TAGGED.objects.filter(customer_id=OuterRef("customer_id"), tag_id__in=tag_ids))


def _days_ago(today: date, days: int) -> datetime:
    """Return the start of the day `days` days before `today`: "in the last N days" is
    since then."""
    return timezone.make_aware(datetime.combine(today - timedelta(days=days), time.min))


def _by_promises(found: QuerySet[Loan], status: str, today: date) -> QuerySet[Loan]:
    promises = PaymentPromise.objects.filter(customer_id=OuterRef("customer_id"))
    # In course: its day has not passed. One past its day waits only for the night's
    # verdict (kept or broken, 00:30, or later after a stop): no longer a promise in course.
    pending = Exists(promises.filter(status=PaymentPromise.Status.PENDING, promised_on__gte=today))
    recent = Q(promised_on__gte=today - timedelta(days=PROMISE_DAYS))
    if status == Segment.PromiseStatus.PENDING:
        return found.filter(pending)
    if status == Segment.PromiseStatus.NONE:
        return found.exclude(pending)
    if status == Segment.PromiseStatus.BROKEN:
        return found.filter(Exists(promises.filter(recent, status=PaymentPromise.Status.BROKEN)))
    if status == Segment.PromiseStatus.KEPT:
        return found.filter(Exists(promises.filter(recent, status=PaymentPromise.Status.KEPT)))
    return found


def balance_to_settle(today: date) -> Coalesce:
    """What settles a loan today, as a loan annotation: `credits.selectors.open_balance`'s
    `to_settle` in SQL (a test holds them equal).

    The open installments due by today and the one in course count in full; the later
    ones, their principal (a prepayment pays no interest not yet accrued). A correlated
    subquery, so filtering by it stays one query.
    """
    amount = DecimalField(max_digits=14, decimal_places=2)
    pending = functools.reduce(operator.add, [F(f"{c}_due") - F(f"{c}_paid") for c in COMPONENTS])
    open_rows = Installment.objects.filter(is_superseded=False).annotate(pending=pending)
    open_rows = open_rows.filter(pending__gt=0)
    in_course = (
        open_rows.filter(loan_id=OuterRef("loan_id"), due_date__gt=today)
        .order_by("number")
        .values("number")[:1]
    )
    parts = (
        open_rows.filter(loan_id=OuterRef("pk"))
        .annotate(
            part=Case(
                When(Q(due_date__lte=today) | Q(number=Subquery(in_course)), then=F("pending")),
                default=F("principal_due") - F("principal_paid"),
                output_field=amount,
            )
        )
        .order_by()
        .values("loan_id")
        .annotate(total=Sum("part"))
        .values("total")
    )
    return Coalesce(Subquery(parts, output_field=amount), ZERO, output_field=amount)


# --- Saving and deleting ---------------------------------------------------------------------


def validate_rules(data: Mapping[str, Any]) -> None:
    """Refuse rules that contradict each other, with a Spanish message on the field."""
    errors: dict[str, list[str]] = {}
    low, high = data.get("min_days_past_due"), data.get("max_days_past_due")
    if low is not None and high is not None and low > high:
        errors["max_days_past_due"] = [
            ngettext(
                "«Hasta» debe ser mayor o igual que «desde» (%(low)s día).",
                "«Hasta» debe ser mayor o igual que «desde» (%(low)s días).",
                low,
            )
            % {"low": low}
        ]
    low, high = data.get("min_balance"), data.get("max_balance")
    if low is not None and high is not None and low > high:
        errors["max_balance"] = [_("El saldo «hasta» debe ser mayor o igual que el «desde».")]
    quiet, contacted = data.get("no_contact_days"), data.get("contacted_within_days")
    if quiet is not None and contacted is not None and contacted <= quiet:
        errors["contacted_within_days"] = [
            ngettext(
                "Con «sin contacto en el último día», el contacto debe haber sido antes: "
                "indique más de %(days)s día, o deje uno de los dos vacío.",
                "Con «sin contacto en los últimos %(days)s días», el contacto debe haber sido "
                "antes: indique más de %(days)s días, o deje uno de los dos vacío.",
                quiet,
            )
            % {"days": quiet}
        ]
    tags = {tag.pk: tag for tag in data.get("tags") or ()}
    excluded = {tag.pk for tag in data.get("excluded_tags") or ()}
    both = [tag.name for pk, tag in tags.items() if pk in excluded]
    if both:
        errors["excluded_tags"] = [
            _("Una etiqueta no puede pedirse y excluirse a la vez: %(tags)s.")
            % {"tags": ", ".join(sorted(both))}
        ]
    if any(tag.name == CASTIGADA_TAG for tag in tags.values()):
        errors.setdefault("tags", []).append(
            _(
                "Los clientes con «%(tag)s» nunca entran en un segmento: sus comunicaciones "
                "son las de su campaña."
            )
            % {"tag": CASTIGADA_TAG}
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_segment(
    *, data: Mapping[str, Any], actor: AbstractBaseUser | None, segment: Segment | None = None
) -> Segment:
    """Create a segment, or change `segment`, from `data` (SEGMENT_FIELDS and the lists);
    the change goes into the settings history (old → new, who, when)."""
    validate_rules(data)
    # From the database: a form may have changed the instance it was given already.
    stored = Segment.objects.filter(pk=segment.pk).first() if segment and segment.pk else None
    before = audit_snapshot(stored)
    segment = segment if segment is not None else Segment(created_by=people.signed_in(actor))
    for name in SEGMENT_FIELDS:
        if name in data:
            setattr(segment, name, data[name])
    segment.buckets = list(segment.buckets or [])
    segment.full_clean()
    repeats.save_or_refuse(
        segment, field="name", message=_("Ya existe un segmento con este nombre.")
    )
    for name in SEGMENT_M2M_FIELDS:
        if name in data:
            getattr(segment, name).set(data[name] or [])
    if stored is None:
        audit.log_addition(actor=actor, obj=segment, after=audit_snapshot(segment))
    else:
        audit.log_change(actor=actor, obj=segment, before=before, after=audit_snapshot(segment))
    return segment


def audit_snapshot(segment: Segment | None) -> audit.Snapshot:
    """The segment as the settings history shows it: its rules, buckets by their names."""
    if segment is None:
        return {}
    buckets = [Bucket(code).label if code in Bucket.values else code for code in segment.buckets]
    return audit.snapshot(
        segment, (*SEGMENT_FIELDS, *SEGMENT_M2M_FIELDS), values={"buckets": buckets}
    )


def deletion_problem(segment: Segment) -> str:
    """Say why the segment may not be deleted ("" when it may): flows send to it."""
    flows = list(segment.flows.order_by("name").values_list("name", flat=True))
    if not flows:
        return ""
    return ngettext(
        "No se puede eliminar el segmento: lo usa el flujo %(flows)s. Cambie el segmento de "
        "ese flujo o elimínelo antes.",
        "No se puede eliminar el segmento: lo usan %(count)s flujos (%(flows)s). Cambie el "
        "segmento de esos flujos o elimínelos antes.",
        len(flows),
    ) % {"count": len(flows), "flows": ", ".join(f"«{name}»" for name in flows)}


# Its code in the deletions audit (crm.deletions), registered in CollectionsAppConfig.ready.
DELETION_KIND = "segment"


def deletion_details(segment: Segment) -> list[tuple[str, str]]:
    """Return what a deleted segment was, as (label, text) pairs: its description and
    rules, for the deletions audit."""
    details = [(_("Descripción"), segment.description)] if segment.description else []
    rules = describe(segment) or [_("Sin reglas: todos los deudores con créditos.")]
    return details + [(_("Regla"), rule) for rule in rules]


@transaction.atomic
def delete_segment(*, segment: Segment, actor: AbstractBaseUser | None = None) -> None:
    """Delete a segment no flow uses, and record who did it in the deletions audit; refuse,
    saying which, when flows use it."""
    segment = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if segment is None:
        return  # deleted a moment ago by someone else, who has the record
    problem = deletion_problem(segment)
    if problem:
        raise ValidationError(problem)
    deletions.record_deletion(
        kind=DELETION_KIND,
        object_id=segment.pk,
        name=segment.name,
        details=deletion_details(segment),
        actor=actor,
    )
    audit.log_deletion(actor=actor, obj=segment, before=audit_snapshot(segment))
    try:
        segment.delete()
    except ProtectedError as exc:  # a flow took it meanwhile (the record goes back too)
        raise ValidationError(deletion_problem(segment) or str(exc)) from exc


# --- The screens' reads ----------------------------------------------------------------------

IN_USE = "en_uso"
# A new segment or flow (flows.just_created) sent again this soon with the name it just
# took is the same form sent twice.
CREATE_REPEAT_WINDOW = timedelta(minutes=1)
UNUSED = "sin_uso"


def segment_for(user: AbstractBaseUser, pk: int) -> Segment:
    """Return the segment `pk` if `user` may see segments, else 404."""
    if not user.has_perm("collections_app.view_segment"):
        raise Http404
    return get_object_or_404(Segment, pk=pk)


def just_created(user: AbstractBaseUser, name: str) -> Segment | None:
    """Return the segment named `name` that `user` created a moment ago, if any: the form
    sent twice (a double click, the back button and send) finds its name taken by it."""
    name = repeats.sent_name(name)
    if name is None:
        return None
    return repeats.made_within(
        Segment.objects.filter(name=name, created_by=people.signed_in(user)),
        CREATE_REPEAT_WINDOW,
    )


def segment_list(*, q: str = "", use: str = "") -> QuerySet[Segment]:
    """Return the segments by name, with how many flows use each and their lists' rows (a
    fixed number of queries for a page)."""
    found = Segment.objects.annotate(flow_count=Count("flows"))
    found = search.in_small_table(found, q, "name", "description")
    if use == IN_USE:
        found = found.filter(flow_count__gt=0)
    elif use == UNUSED:
        found = found.filter(flow_count=0)
    return found.prefetch_related(
        Prefetch("products", queryset=LoanProduct.objects.only("name")),
        Prefetch("branches", queryset=Branch.objects.only("name")),
        Prefetch("tags", queryset=Tag.objects.only("name")),
        Prefetch("excluded_tags", queryset=Tag.objects.only("name")),
    ).order_by("name", "pk")


def describe(segment: Segment) -> list[str]:
    """Say a segment's rules in words, one rule a line (its lists prefetched or read)."""
    lines = []
    low, high = segment.min_days_past_due, segment.max_days_past_due
    if low is not None or high is not None:
        lines.append(_range(_("Días de atraso"), low, high, str))
    if segment.buckets:
        labels = dict(Bucket.choices)
        lines.append(
            _("Tramos: %(buckets)s")
            % {"buckets": ", ".join(str(labels.get(b, b)) for b in segment.buckets)}
        )
    low, high = segment.min_balance, segment.max_balance
    if low is not None or high is not None:
        currency = segment.balance_currency
        lines.append(
            _range(_("Saldo"), low, high, lambda value: display.money_text(value, currency))
        )
    for label, related in (
        (_("Productos"), segment.products),
        (_("Sucursales"), segment.branches),
        (_("Con etiquetas"), segment.tags),
        (_("Sin etiquetas"), segment.excluded_tags),
    ):
        names = [item.name for item in related.all()]
        if names:
            lines.append(f"{label}: {', '.join(names)}")
    if segment.no_contact_days is not None:
        days = segment.no_contact_days
        lines.append(
            ngettext(
                "Sin contacto en el último día",
                "Sin contacto en los últimos %(days)s días",
                days,
            )
            % {"days": days}
        )
    if segment.contacted_within_days is not None:
        days = segment.contacted_within_days
        lines.append(
            ngettext(
                "Con contacto en el último día",
                "Con contacto en los últimos %(days)s días",
                days,
            )
            % {"days": days}
        )
    if segment.promise_status:
        lines.append(segment.get_promise_status_display())
    return lines


def _range(label: str, low, high, write) -> str:
    if low is not None and high is not None:
        return _("%(label)s: de %(low)s a %(high)s") % {
            "label": label,
            "low": write(low),
            "high": write(high),
        }
    if low is not None:
        return _("%(label)s: desde %(low)s") % {"label": label, "low": write(low)}
    return _("%(label)s: hasta %(high)s") % {"label": label, "high": write(high)}
