"""Writes of the CRM: every change to customers and their timeline goes through here."""

import copy
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from crm import identity, references, selectors, validators
from crm.models import OPT_OUT_TAG, Appointment, Channel, Customer, Interaction, Tag
from integrations import calcom, webhooks
from integrations.models import WebhookEvent
from lib import bulk, people, repeats
from lib.registry import Registry

# Tags an app above keeps by its own rules (recovery's "Cartera castigada" while a campaign is
# active): shown on the customer, never put on or taken off by hand, here or in admin. The
# name maps to why, for the form's help text.
MANAGED_TAGS: Registry[str] = Registry("A managed tag")


def managed_tag_names() -> set[str]:
    return set(MANAGED_TAGS.names())


def managed_tags_note(customer: Customer) -> str:
    """Say which of the customer's tags a form leaves alone, and why ("" for none)."""
    if customer.pk is None or not MANAGED_TAGS.names():
        return ""
    names = customer.tags.filter(name__in=MANAGED_TAGS.names()).values_list("name", flat=True)
    return " ".join(
        _("«%(tag)s» no se cambia aquí: %(why)s.") % {"tag": name, "why": MANAGED_TAGS.get(name)}
        for name in sorted(names)
    )


# Fields a person may set on a customer; anything else is the system's.
CUSTOMER_FIELDS = (
    "document_type",
    "document_number",
    "first_name",
    "last_name",
    "phone",
    "phone_secondary",
    "email",
    "address",
    "city",
    "channel",
    "branch",
    "advisor",
    "has_opted_out",
)
# What an interaction's summary holds; a longer text is kept whole in `Interaction.text`.
SUMMARY_CHARS = 500

# The columns of `system_entry_row`, in order, for lib.bulk.insert_rows.
INTERACTION_COLUMNS = (
    "customer_id",
    "kind",
    "direction",
    "summary",
    "text",
    "payload",
    "actor_id",
    "occurred_at",
    "created_at",
)


def system_entry_row(
    customer_id: int,
    *,
    summary: str,
    payload: Mapping[str, Any],
    actor_id: int | None,
    at: datetime,
) -> tuple:
    """Return a system event of a customer's timeline as a row of INTERACTION_COLUMNS.

    For writes of many customers at once (an import's hundred thousand): no model object
    per entry. The summary is kept as `record_interaction` keeps it: whole in the text
    when too long.

    Like every SYSTEM entry, these are bookkeeping (an import, an undo, a written-off
    campaign), not contact: they leave the customer's *última interacción* as it is
    (see LAST_INTERACTION_STEP).
    """
    text = ""
    if len(summary) > SUMMARY_CHARS:
        text, summary = summary, summary[: SUMMARY_CHARS - 1].rstrip() + "…"
    return (
        customer_id,
        Interaction.Kind.SYSTEM.value,
        Interaction.Direction.INTERNAL.value,
        summary,
        text,
        json.dumps(payload),
        actor_id,
        at,
        at,
    )


@transaction.atomic
def record_interaction(
    *,
    customer: Customer,
    kind: str,
    summary: str,
    channel: Channel | None = None,
    direction: str = Interaction.Direction.INTERNAL,
    payload: Mapping[str, Any] | None = None,
    actor: AbstractBaseUser | None = None,
    occurred_at: datetime | None = None,
) -> Interaction:
    """Add one event to a customer's timeline; the one way any app writes it.

    `actor` is None for events the system records (webhooks, tasks, imports). A summary
    longer than a summary holds is kept whole: the timeline shows all of it. Every kind
    but SYSTEM is contact with the customer and moves their *última interacción*
    (`stamp_last_interaction`); a SYSTEM entry is bookkeeping and leaves it.
    """
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": _("Escriba un resumen de la interacción.")})
    if kind not in Interaction.Kind.values:
        raise ValidationError(
            {"kind": _("Tipo de interacción desconocido: %(kind)s.") % {"kind": kind}}
        )
    if direction not in Interaction.Direction.values:
        raise ValidationError({"direction": _("Dirección desconocida: %(d)s.") % {"d": direction}})
    summary, text = _summary_and_text(summary)
    occurred_at = occurred_at or timezone.now()
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        summary=summary,
        text=text,
        payload=dict(payload or {}),
        actor=people.signed_in(actor),
        occurred_at=occurred_at,
    )
    if kind != Interaction.Kind.SYSTEM:
        stamp_last_interaction(Customer.objects.filter(pk=customer.pk), occurred_at)
    return interaction


def lock_customer(customer_id: int) -> bool:
    """Lock a customer's row until the caller's transaction ends (FOR NO KEY UPDATE: other
    rows may still point at it); return False when the customer no longer exists.

    What a person or a debtor sends twice at once (a double click, two tabs) takes it first
    and so runs one after the other: the second sees what the first wrote.
    """
    return Customer.objects.select_for_update(no_key=True).filter(pk=customer_id).exists()


def merged_refusal(customer: Customer) -> str:
    """Say that `customer` was merged into another record (crm.merge), naming the kept one:
    the refusal of any change a person asks of the merged record."""
    kept = Customer.objects.filter(pk=customer.merged_into_id).first()
    if kept is None:  # merged_into is PROTECT: the kept record outlives it
        return _("Este cliente se fusionó con otro registro: trabaje en ese registro.")
    return _(
        "Este cliente se fusionó con %(keep)s (%(document)s), cliente n.º %(pk)s: trabaje en "
        "ese registro."
    ) % {
        "keep": kept.full_name,
        "document": f"{kept.get_document_type_display()} {kept.document_number}",
        "pk": kept.pk,
    }


def refuse_merged(customer: Customer) -> None:
    """Refuse (ValidationError) a change a person asks of a record merged into another one
    (crm.merge): it is history, and everything it had is on the kept record. Read from
    `customer` as given: the caller passes the row it read under the row's lock."""
    if customer.merged_into_id is not None:
        raise ValidationError(merged_refusal(customer), code="customer_merged")


def lock_current_customer(customer_id: int) -> bool:
    """Lock the customer's row as `lock_customer` does and refuse (ValidationError) a
    record merged into another one, read under the lock so a merge that committed first is
    seen: for a service where a person acts on the customer. Return False when the customer
    no longer exists."""
    found = (
        Customer.objects.select_for_update(no_key=True)
        .filter(pk=customer_id)
        .only("pk", "merged_into_id")
        .first()
    )
    if found is None:
        return False
    refuse_merged(found)
    return True


def _summary_and_text(written: str) -> tuple[str, str]:
    """An entry's summary and, when the summary cannot hold it all, the whole text."""
    written = (written or "").strip()
    if len(written) > SUMMARY_CHARS:
        return written[: SUMMARY_CHARS - 1].rstrip() + "…", written
    return written, ""


NOTE_REPEAT_WINDOW = timedelta(minutes=1)


@transaction.atomic
def add_note(
    *, customer: Customer, kind: str, summary: str, direction: str, actor: AbstractBaseUser
) -> Interaction:
    """Record what a person wrote on the customer's page (a note, a call made outside).

    The customer's row is locked first (FOR NO KEY UPDATE, which an import's undo waits
    for and which waits for it): a note sent while the import that created the customer
    is undone is seen by the undo and refuses it, or finds the customer gone
    (Customer.DoesNotExist), instead of failing one of the two at commit. A record merged
    into another one (crm.merge) gets no note (ValidationError naming the kept record).
    """
    if not lock_current_customer(customer.pk):
        raise Customer.DoesNotExist(f"Customer {customer.pk} no longer exists.")
    # Under the customer's lock: the same note sent twice (the back button and send, a form
    # sent again without JavaScript) is the one saved a moment ago.
    stored_summary, stored_text = _summary_and_text(summary)
    repeated = repeats.made_within(
        Interaction.objects.filter(
            customer=customer,
            kind=kind,
            direction=direction,
            summary=stored_summary,
            text=stored_text,
            actor=people.signed_in(actor),
        ),
        NOTE_REPEAT_WINDOW,
    )
    if repeated is not None:
        return repeated
    return record_interaction(
        customer=customer,
        kind=kind,
        summary=summary,
        direction=direction,
        actor=actor,
        occurred_at=timezone.now(),
    )


# A customer's *última interacción* is their last contact: a call, a message either way, a
# visit, a payment, a note or follow-up of the people who work them, the bot. SYSTEM
# entries are bookkeeping (registered, imported, a campaign made or ended, a contract's
# steps, a gestión assigned, a message skipped) and leave it: the segments' "sin contacto
# en los últimos N días" read it, and a stamp from bookkeeping hid those customers from
# them for N days.
# The customers list's "última interacción" column moves when an interaction is more than
# this much newer than the one it shows. Rewriting a customer's row rewrites its eleven
# indexes, the names' trigram index included (0.5–2.5 ms on PostgreSQL); a conversation
# with the bot (a lookup, the credits, the agreements) or a flow's messages to one
# customer now rewrite it once a minute at most. The timeline has every event at once.
LAST_INTERACTION_STEP = timedelta(minutes=1)


def stamp_last_interaction(customers: QuerySet[Customer], at: datetime) -> None:
    """Keep the list's "última interacción" column current without a subquery per row:
    set it to `at` on `customers` where it is empty or older than `at` by more than
    LAST_INTERACTION_STEP (never back in time)."""
    customers.filter(
        Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=at - LAST_INTERACTION_STEP)
    ).update(last_interaction_at=at)


def _validated(customer: Customer) -> None:
    """Run the model's validation; a duplicate document is reported on its number field."""
    customer.search_text = customer.build_search_text()
    try:
        customer.full_clean(exclude=["tags"])
    except ValidationError as exc:
        errors = exc.error_dict
        duplicate = [e for e in errors.get(NON_FIELD_ERRORS, []) if e.code == "duplicate_document"]
        if duplicate:
            errors[NON_FIELD_ERRORS] = [e for e in errors[NON_FIELD_ERRORS] if e not in duplicate]
            errors.setdefault("document_number", []).extend(duplicate)
            if not errors[NON_FIELD_ERRORS]:
                del errors[NON_FIELD_ERRORS]
        raise ValidationError(errors) from exc


@transaction.atomic
def create_customer(
    *,
    actor: AbstractBaseUser | None,
    data: Mapping[str, Any],
    tags: list[Tag] | None = None,
    note: str = "",
) -> Customer:
    """Create a customer, validate it per document type, and open its timeline.

    A customer registered as not to be contacted (`has_opted_out`, or the `No contactar`
    tag) gets both, and an entry that says so.
    """
    tags = list(tags or [])
    fields = {k: v for k, v in data.items() if k in CUSTOMER_FIELDS}
    opted_out = bool(fields.pop("has_opted_out", False)) or any(t.name == OPT_OUT_TAG for t in tags)
    customer = Customer(**fields)
    _validated(customer)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:  # the same document registered a moment ago by someone else
        raise ValidationError(
            {"document_number": _("Ya existe un cliente con ese tipo y número de documento.")}
        ) from exc
    tags = [t for t in tags if t.name not in managed_tag_names()]
    if tags:
        customer.tags.set(tags)
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Cliente registrado"),
        channel=customer.channel,
        payload={"canal": str(customer.channel or ""), "sucursal": str(customer.branch or "")},
        actor=actor,
    )
    if opted_out:
        _change_consent(customer, opted_out=True, actor=actor)
    if note.strip():
        record_interaction(customer=customer, kind=Interaction.Kind.NOTE, summary=note, actor=actor)
    _link_unregistered_appointments(customer)
    customer.refresh_from_db(fields=["last_interaction_at"])
    return customer


@transaction.atomic
def update_customer(
    *,
    customer: Customer,
    actor: AbstractBaseUser | None,
    data: Mapping[str, Any],
    tags: list[Tag] | None = None,
    confirm_identity: bool | str = False,
    ask_identity_confirmation: bool = False,
) -> Customer:
    """Change a customer's data and record on the timeline what changed, from what to what.

    Identity (document and names) follows `crm.identity`: only a person changes it, and
    one with the role and confirming it (`confirm_identity`: the key of the changes the
    page listed, or True) when something hangs on it, or on any customer when
    `ask_identity_confirmation`; the entry then also says why it was protected and who
    confirmed. `has_opted_out`
    (or the `No contactar` tag among `tags`, when `has_opted_out` is not given) records
    the customer's consent. A record merged into another one (crm.merge) is not changed
    (ValidationError naming the kept record), read under its lock before anything is
    written.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    refuse_merged(customer)
    data = dict(data)
    if "document_number" in data:
        data["document_number"] = validators.normalize_document_number(data["document_number"])
    opted_out = data.pop("has_opted_out", None)
    before = copy.copy(customer)
    # The identity's old and new values as a person reads them ("DNI", not "dni").
    identity_shown = identity.changes(customer, data)
    changes: dict[str, str] = {}
    for field in CUSTOMER_FIELDS:
        if field not in data:
            continue
        old, new = getattr(customer, field), data[field]
        if (old or "") != (new or ""):
            label = str(Customer._meta.get_field(field).verbose_name)
            shown = identity_shown.get(field, (old, new))
            changes[label] = f"{_field_text(shown[0])} → {_field_text(shown[1])}"
            setattr(customer, field, new)
    # Validated before the identity is asked about: a change refused anyway (a document
    # another customer has) is not offered for confirmation first.
    _validated(customer)
    identity_changes = identity.check_change(
        customer=before,
        data=data,
        actor=actor,
        confirmed=confirm_identity,
        ask_confirmation=ask_identity_confirmation,
    )
    reasons = identity.protection(before) if identity_changes else []
    customer.save()
    old_tags = set(customer.tags.values_list("name", flat=True))
    if opted_out is None and tags is not None:
        # Only tags given (admin's list, an import): the `No contactar` tag says it.
        tagged = any(t.name == OPT_OUT_TAG for t in tags)
        if tagged != (OPT_OUT_TAG in old_tags):
            opted_out = tagged
    if opted_out is not None and bool(opted_out) != customer.has_opted_out:
        _change_consent(customer, opted_out=bool(opted_out), actor=actor)
    if tags is not None:
        # A managed tag stays as its app left it, whatever the list says.
        managed = managed_tag_names()
        wanted = {t for t in tags if t.name != OPT_OUT_TAG and t.name not in managed}
        wanted |= {t for t in customer.tags.all() if t.name in managed}
        old_names = old_tags - {OPT_OUT_TAG}
        new_names = {t.name for t in wanted}
        if customer.has_opted_out:
            wanted.add(_opt_out_tag())
        if {t.name for t in wanted} != set(customer.tags.values_list("name", flat=True)):
            customer.tags.set(wanted)
        if old_names != new_names:
            changes[str(_("etiquetas"))] = (
                f"{', '.join(sorted(old_names)) or '—'} → {', '.join(sorted(new_names)) or '—'}"
            )
    if changes:
        fields = ", ".join(changes)
        summary = _("Datos actualizados: %(fields)s")
        if identity_changes:
            summary = _("Identidad y datos actualizados: %(fields)s")
        if reasons:
            # Who the customer was stays on record: the old values beside the new, and why
            # the change needed the role.
            changes[_("identidad protegida")] = "; ".join(reasons)
            changes[_("cambio confirmado por")] = people.display_name(actor)
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=summary % {"fields": fields},
            payload=changes,
            actor=actor,
        )
    return customer


def _field_text(value: Any) -> str:
    """Return a customer field's value as the timeline writes it ("—" for nothing)."""
    if not value:
        return "—"
    if isinstance(value, AbstractBaseUser):
        return people.display_name(value)
    return str(value)


@transaction.atomic
def set_contact_opt_out(
    *, customer: Customer, opted_out: bool, actor: AbstractBaseUser | None = None
) -> Customer:
    """Record that the customer asked not to be contacted (or accepts messages again).

    A person does not change it on a record merged into another one (crm.merge):
    ValidationError naming the kept record. What the customer asks themself (a STOP reply,
    an unsubscribe link: no `actor`) still marks a merged record that has the address.
    """
    # No key changes: FOR NO KEY UPDATE leaves the foreign-key checks of rows written for
    # the customer meanwhile free to go on.
    customer = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    if people.signed_in(actor) is not None:
        refuse_merged(customer)
    if customer.has_opted_out != opted_out:
        _change_consent(customer, opted_out=opted_out, actor=actor)
    return customer


def _opt_out_tag() -> Tag:
    tag, _created = Tag.objects.get_or_create(name=OPT_OUT_TAG, defaults={"color": Tag.Color.GREY})
    return tag


def _change_consent(customer: Customer, *, opted_out: bool, actor: AbstractBaseUser | None) -> None:
    """Set the consent field and its tag, and say so on the timeline."""
    customer.has_opted_out = opted_out
    customer.opted_out_at = timezone.now() if opted_out else None
    Customer.objects.filter(pk=customer.pk).update(
        has_opted_out=customer.has_opted_out, opted_out_at=customer.opted_out_at
    )
    if opted_out:
        customer.tags.add(_opt_out_tag())
        summary = _("El cliente pidió no ser contactado: no recibirá mensajes ni campañas.")
    else:
        customer.tags.remove(*Tag.objects.filter(name=OPT_OUT_TAG))
        summary = _("El cliente vuelve a aceptar mensajes y campañas.")
    record_interaction(
        customer=customer, kind=Interaction.Kind.SYSTEM, summary=summary, actor=actor
    )


@transaction.atomic
def tag_customer(
    *, customer: Customer, tag_name: str, actor: AbstractBaseUser | None = None
) -> Tag:
    """Put a tag on a customer (creating the tag if new) and record it once.

    The `No contactar` tag records the customer's consent (`set_contact_opt_out`). A record
    merged into another one (crm.merge) is not tagged (ValidationError).
    """
    if not lock_current_customer(customer.pk):
        raise Customer.DoesNotExist(f"Customer {customer.pk} no longer exists.")
    if tag_name == OPT_OUT_TAG:
        set_contact_opt_out(customer=customer, opted_out=True, actor=actor)
        return _opt_out_tag()
    tag, _created = Tag.objects.get_or_create(name=tag_name)
    if not customer.tags.filter(pk=tag.pk).exists():
        customer.tags.add(tag)
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Etiqueta agregada: %(tag)s") % {"tag": tag.name},
            actor=actor,
        )
    return tag


@transaction.atomic
def delete_tags(*, tags: QuerySet[Tag], actor: AbstractBaseUser | None) -> None:
    """Delete tags (admin), saying on the timeline of each customer who carried one that it
    was taken off, in one insert.

    Refuse (ValidationError, naming them) while a rule names one of them (a segment, a
    campaign: crm.references): without it, the rule would reach more customers. The tags
    are locked first, so a rule saved meanwhile is seen, or waits and then fails.
    """
    tags = Tag.objects.filter(pk__in=list(tags.values_list("pk", flat=True)))
    references.refuse_if_named(tags.select_for_update().order_by("pk"))
    now = timezone.now()
    by = people.signed_in(actor)
    template = _("Etiqueta «%(tag)s» quitada: se eliminó en Administración")
    entries = [
        system_entry_row(
            customer_id,
            summary=template % {"tag": name},
            payload={"tag_deleted": name},
            actor_id=by.pk if by is not None else None,
            at=now,
        )
        for customer_id, name in Customer.tags.through.objects.filter(tag__in=tags).values_list(
            "customer_id", "tag__name"
        )
    ]
    bulk.insert_rows(Interaction, INTERACTION_COLUMNS, entries)
    tags.delete()


@transaction.atomic
def untag_customer(
    *, customer: Customer, tag_name: str, actor: AbstractBaseUser | None = None
) -> None:
    """Remove a tag from a customer and record it, if the customer had it; not from a
    record merged into another one (crm.merge: ValidationError)."""
    if not lock_current_customer(customer.pk):
        raise Customer.DoesNotExist(f"Customer {customer.pk} no longer exists.")
    if tag_name == OPT_OUT_TAG:
        set_contact_opt_out(customer=customer, opted_out=False, actor=actor)
        return
    tag = Tag.objects.filter(name=tag_name).first()
    if tag and customer.tags.filter(pk=tag.pk).exists():
        customer.tags.remove(tag)
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Etiqueta quitada: %(tag)s") % {"tag": tag.name},
            actor=actor,
        )


@transaction.atomic
def process_calcom_event(event: WebhookEvent) -> None:
    """Apply a stored Cal.com booking webhook to its appointment, once and in order.

    Created: record the appointment on the customer (by the attendee's e-mail, else phone)
    and the advisor (by the organizer's e-mail). Rescheduled: move the original booking's
    appointment to the new booking. Cancelled: mark it cancelled with Cal.com's reason.
    A duplicate, or an event older than the last one applied, changes nothing.
    """
    booking = calcom.parse_event(event.raw_body.encode())
    if booking.event_type == calcom.BOOKING_CREATED:
        _book_appointment(booking)
    elif booking.event_type == calcom.BOOKING_RESCHEDULED:
        _reschedule_appointment(booking)
    elif booking.event_type == calcom.BOOKING_CANCELLED:
        _cancel_appointment(booking)
    else:  # parse_event reads only the three above
        raise webhooks.IgnoreEvent(f"Nothing to do for {booking.event_type}.")


def _book_appointment(booking: calcom.CalcomBooking) -> None:
    if _appointment_for_uids(booking.uid) is not None:
        # This delivery again, or the booking's reschedule got here first (it is newer).
        raise webhooks.IgnoreEvent(f"Cal.com booking {booking.uid} is already recorded.")
    appointment = Appointment(
        calcom_uid=booking.uid, status=Appointment.Status.SCHEDULED, **_booking_fields(booking)
    )
    appointment.save()
    _record_appointment(appointment, booking, _("Cita agendada: %(title)s, %(when)s"))


def _reschedule_appointment(booking: calcom.CalcomBooking) -> None:
    appointment = _appointment_for_uids(booking.previous_uid, booking.uid)
    if appointment is None:
        # The original booking never reached us (made before the webhook existed): the
        # new booking is all there is to record.
        appointment = Appointment(
            calcom_uid=booking.uid,
            previous_calcom_uid=booking.previous_uid,
            status=Appointment.Status.RESCHEDULED,
            **_booking_fields(booking),
        )
        appointment.save()
        _record_appointment(appointment, booking, _("Cita reprogramada: %(title)s, %(when)s"))
        return
    _skip_if_stale(appointment, booking)
    if appointment.calcom_uid == booking.uid and (appointment.starts_at, appointment.ends_at) == (
        booking.starts_at,
        booking.ends_at,
    ):
        raise webhooks.IgnoreEvent(f"Cal.com booking {booking.uid} is already at that time.")
    before = appointment.starts_at
    if appointment.calcom_uid != booking.uid:
        appointment.previous_calcom_uid = appointment.calcom_uid
        appointment.calcom_uid = booking.uid
    appointment.status = Appointment.Status.RESCHEDULED
    appointment.cancellation_reason = ""
    for field, value in _booking_fields(booking, appointment.customer).items():
        setattr(appointment, field, value)
    appointment.save()
    _record_appointment(
        appointment,
        booking,
        _("Cita reprogramada: %(title)s, %(when)s (antes: %(before)s)"),
        before=_when(before),
    )


def _cancel_appointment(booking: calcom.CalcomBooking) -> None:
    # Only the booking's current uid: Cal.com also marks the original of a reschedule
    # cancelled, and that must not cancel the appointment it moved to.
    appointment = (
        # Only the appointment's row: PostgreSQL cannot lock the nullable side of the join.
        Appointment.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(calcom_uid=booking.uid)
        .first()
    )
    if appointment is None:
        raise webhooks.IgnoreEvent(f"No appointment for Cal.com booking {booking.uid}.")
    _skip_if_stale(appointment, booking)
    if appointment.is_cancelled:
        raise webhooks.IgnoreEvent(f"Cal.com booking {booking.uid} is already cancelled.")
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancellation_reason = booking.cancellation_reason
    appointment.calcom_event_at = booking.created_at
    if appointment.customer is None:
        appointment.customer = _customer_for_attendee(
            booking.attendee_email, booking.attendee_phone
        )
    appointment.save()
    _record_appointment(appointment, booking, _("Cita cancelada: %(title)s, %(when)s"))


def _appointment_for_uids(*uids: str) -> Appointment | None:
    """Return, locked, the appointment that is or was (before a reschedule) one of `uids`."""
    uids = tuple(uid for uid in uids if uid)
    return (
        # Only the appointment's row: PostgreSQL cannot lock the nullable side of the join.
        Appointment.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(Q(calcom_uid__in=uids) | Q(previous_calcom_uid__in=uids))
        .order_by("-calcom_event_at", "-id")
        .first()
    )


def _skip_if_stale(appointment: Appointment, booking: calcom.CalcomBooking) -> None:
    # Cal.com may deliver a booking's events out of order (a retry after a newer event):
    # the appointment keeps the time of the last one applied.
    if booking.created_at <= appointment.calcom_event_at:
        raise webhooks.IgnoreEvent(
            f"Cal.com {booking.event_type} of {booking.created_at.isoformat()} is not newer"
            f" than the appointment's last event ({appointment.calcom_event_at.isoformat()})."
        )


def _booking_fields(
    booking: calcom.CalcomBooking, customer: Customer | None = None
) -> dict[str, Any]:
    """Return the appointment's fields from a booking, matching customer and advisor."""
    return {
        "customer": customer
        or _customer_for_attendee(booking.attendee_email, booking.attendee_phone),
        "advisor": _advisor_for(booking.organizer_email),
        "calcom_booking_id": booking.booking_id,
        "title": booking.title[:255] or _("Cita"),
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "location": booking.location[:255],
        "video_url": booking.video_url[:500],
        "notes": booking.notes,
        "attendee_name": booking.attendee_name[:200],
        "attendee_email": booking.attendee_email[:254],
        "attendee_phone": (phone_e164(booking.attendee_phone) or booking.attendee_phone)[:32],
        "organizer_email": booking.organizer_email[:254],
        "calcom_event_at": booking.created_at,
    }


def _customer_for_attendee(email: str, phone: str) -> Customer | None:
    """Return the customer with this e-mail (any case), else with this phone, else None.

    No customer is created for someone unknown. A customer needs an identity document
    that passes crm.validators for its type (DNI of 8 digits, CE or passport of 6 to 12
    alphanumerics, RUC with its check digit) and is unique per type, and Cal.com's
    booking form asks for none: any placeholder that passed would be a made-up document,
    found by document searches and printable on a contract. So the appointment keeps
    the attendee's name, e-mail and phone, the agenda shows it as "cliente por
    registrar", and it is linked once the customer is registered (create_customer) or
    a later event about it finds them.
    """
    # Several customers may share an e-mail or a phone (family members): the same one an
    # e-mail or SMS from that address reaches (a booking went to the oldest customer
    # listing the number, even as their second phone, while the SMS went to its owner).
    customer = selectors.customer_reached_at(email=email) if email else None
    e164 = phone_e164(phone)
    if customer is None and e164:
        customer = selectors.customer_reached_at(phone=e164)
    return customer


def _advisor_for(email: str) -> AbstractBaseUser | None:
    """Return the active user whose e-mail is the Cal.com organizer's, any case."""
    if not email:
        return None
    User = get_user_model()
    return User.objects.filter(is_active=True, email__iexact=email).order_by("pk").first()


def phone_e164(raw: str) -> str:
    """Return a phone as stored on customers (E.164), read in the country's format; or ""."""
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, settings.COUNTRY)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _when(at: datetime) -> str:
    return formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")


def _record_appointment(
    appointment: Appointment, booking: calcom.CalcomBooking, summary: str, **extra: str
) -> None:
    """Write the change on the customer's timeline; an unregistered attendee has none."""
    if appointment.customer is None:
        return
    advisor = appointment.advisor
    payload = {
        "inicio": _when(appointment.starts_at),
        "fin": _when(appointment.ends_at),
        "asesor": people.display_name(advisor),
        "lugar": appointment.location,
        "enlace": appointment.video_url,
        "motivo": appointment.cancellation_reason if appointment.is_cancelled else "",
        "cita": appointment.pk,
        "calcom_uid": appointment.calcom_uid,
    }
    record_interaction(
        customer=appointment.customer,
        kind=Interaction.Kind.APPOINTMENT,
        summary=summary
        % {"title": appointment.title, "when": _when(appointment.starts_at), **extra},
        direction=Interaction.Direction.INBOUND,
        payload={key: value for key, value in payload.items() if value},
        occurred_at=booking.created_at,
    )


def _link_unregistered_appointments(customer: Customer) -> None:
    """Link to a new customer the appointments booked before with their e-mail or phone."""
    phones = [str(p) for p in (customer.phone, customer.phone_secondary) if p]
    match = Q(attendee_phone__in=phones) if phones else Q()
    if customer.email:
        match |= Q(attendee_email__iexact=customer.email)
    if not match:
        return
    for appointment in Appointment.objects.select_for_update().filter(match, customer__isnull=True):
        appointment.customer = customer
        appointment.save(update_fields=["customer", "updated_at"])
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.APPOINTMENT,
            summary=_("Cita de Cal.com vinculada al registrarse: %(title)s, %(when)s")
            % {"title": appointment.title, "when": _when(appointment.starts_at)},
            payload={"cita": appointment.pk, "calcom_uid": appointment.calcom_uid},
        )
