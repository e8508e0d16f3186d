"""Writes of the CRM: every change to customers and their timeline goes through here."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Channel, Customer, Interaction, Tag

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

    `actor` is None for events the system records (webhooks, tasks, imports).
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
    occurred_at = occurred_at or timezone.now()
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        summary=summary[:500],
        payload=dict(payload or {}),
        actor=actor if actor is not None and actor.is_authenticated else None,
        occurred_at=occurred_at,
    )
    # Keep the list's "última interacción" column current without a subquery per row.
    Customer.objects.filter(pk=customer.pk).filter(
        Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=occurred_at)
    ).update(last_interaction_at=occurred_at)
    return interaction


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
    """Create a customer, validate it per document type, and open its timeline."""
    customer = Customer(**{k: v for k, v in data.items() if k in CUSTOMER_FIELDS})
    _validated(customer)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:  # the same document registered a moment ago by someone else
        raise ValidationError(
            {"document_number": _("Ya existe un cliente con ese tipo y número de documento.")}
        ) from exc
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
    if note.strip():
        record_interaction(customer=customer, kind=Interaction.Kind.NOTE, summary=note, actor=actor)
    customer.refresh_from_db(fields=["last_interaction_at"])
    return customer


@transaction.atomic
def update_customer(
    *,
    customer: Customer,
    actor: AbstractBaseUser | None,
    data: Mapping[str, Any],
    tags: list[Tag] | None = None,
) -> Customer:
    """Change a customer's data and record on the timeline what changed, from what to what."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changes: dict[str, str] = {}
    for field in CUSTOMER_FIELDS:
        if field not in data:
            continue
        old, new = getattr(customer, field), data[field]
        if (old or "") != (new or ""):
            label = str(Customer._meta.get_field(field).verbose_name)
            changes[label] = f"{old or '—'} → {new or '—'}"
            setattr(customer, field, new)
    _validated(customer)
    customer.save()
    if tags is not None:
        old_tags = set(customer.tags.values_list("name", flat=True))
        new_tags = {t.name for t in tags}
        if old_tags != new_tags:
            customer.tags.set(tags)
            changes[str(_("etiquetas"))] = (
                f"{', '.join(sorted(old_tags)) or '—'} → {', '.join(sorted(new_tags)) or '—'}"
            )
    if changes:
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Datos actualizados: %(fields)s") % {"fields": ", ".join(changes)},
            payload=changes,
            actor=actor,
        )
    return customer


@transaction.atomic
def tag_customer(
    *, customer: Customer, tag_name: str, actor: AbstractBaseUser | None = None
) -> Tag:
    """Put a tag on a customer (creating the tag if new) and record it once."""
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
def untag_customer(
    *, customer: Customer, tag_name: str, actor: AbstractBaseUser | None = None
) -> None:
    """Remove a tag from a customer and record it, if the customer had it."""
    tag = Tag.objects.filter(name=tag_name).first()
    if tag and customer.tags.filter(pk=tag.pk).exists():
        customer.tags.remove(tag)
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Etiqueta quitada: %(tag)s") % {"tag": tag.name},
            actor=actor,
        )
