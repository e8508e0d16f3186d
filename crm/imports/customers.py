"""Customers from a file: matched by document type and number, created or updated in bulk.

An existing customer's address, city, branch and channel are updated from the file (a blank
cell leaves the value as it is). A phone, second phone or e-mail the customer lacks is
filled in, but one they have is never replaced, and neither are their names: a different
value is kept as a conflict for a person to accept or reject on the import's page (the
portal's access code, reminders and payment links go to the phone and e-mail on file).
Every customer created or changed gets an entry on their timeline, with the old and new
values.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from phonenumber_field.phonenumber import PhoneNumber

from crm import identity, services, validators
from crm.imports.registry import (
    DOCUMENT_FIELDS,
    RECORD_COLUMNS,
    Field,
    Importer,
    Outcome,
    WriteProgress,
    record_row,
)
from crm.models import Branch, Channel, Customer, ImportBatch, ImportRecord, Interaction
from lib import bulk, links, people, search, small_tables, spreadsheets

BATCH_SIZE = 500
# Blockers an undo lists by line; the rest are counted.
BLOCKERS_LISTED = 20

DOCUMENT_TYPES = {
    "dni": Customer.DocumentType.DNI,
    "ce": Customer.DocumentType.CE,
    "carne de extranjeria": Customer.DocumentType.CE,
    "carnet de extranjeria": Customer.DocumentType.CE,
    "ruc": Customer.DocumentType.RUC,
    "pasaporte": Customer.DocumentType.PASSPORT,
    "passport": Customer.DocumentType.PASSPORT,
    "pas": Customer.DocumentType.PASSPORT,
}

# What an import writes on a customer, besides the document that finds them.
CONTACT_FIELDS = ("phone", "phone_secondary", "email", "address", "city", "branch", "channel")
# Where the customer is reached (and the portal sends its access code): the file fills one
# the customer lacks; another value replaces one they have only when a person accepts it.
REACH_FIELDS = ("phone", "phone_secondary", "email")
NAME_FIELDS = ("first_name", "last_name")
# What waits for a person when the file brings another value, in the order shown.
CONFLICT_FIELDS = (*NAME_FIELDS, *REACH_FIELDS)


@dataclass(slots=True)
class CustomerRow:
    """One valid row; None leaves the customer's value as it is (a blank cell)."""

    document_type: str
    document_number: str
    first_name: str
    last_name: str | None
    phone: str | None
    phone_secondary: str | None
    email: str | None
    address: str | None
    city: str | None
    branch: Branch | None
    channel: Channel | None


def _length(name: str) -> int:
    return Customer._meta.get_field(name).max_length


# The fields' names in a row's messages, translated only when a message needs one: six
# translations a row, with the timeline's two, were ~18% of a profiled 20,000-row import.
NAME_LABELS = (
    ("first_name", gettext_lazy("Los nombres")),
    ("last_name", gettext_lazy("Los apellidos")),
)
PHONE_LABELS = (
    ("phone", gettext_lazy("El celular")),
    ("phone_secondary", gettext_lazy("El teléfono")),
)
PLACE_LABELS = (("address", gettext_lazy("La dirección")), ("city", gettext_lazy("La ciudad")))


class CustomerImporter(Importer):
    kind = "customers"
    label = gettext_lazy("Clientes")
    record_label = gettext_lazy("cliente")
    key_fields = ("document_type", "document_number")
    written = (Customer, Interaction, ImportRecord)
    description = gettext_lazy(
        "Una fila por cliente. Se reconoce por tipo y número de documento: si ya existe, se "
        "actualizan su dirección, ciudad, sucursal y canal, y se completan el celular, el "
        "teléfono o el correo que no tenga. Sus nombres, y el celular, el teléfono o el "
        "correo que ya tenga, no se cambian sin que una persona lo acepte."
    )
    fields = (
        *DOCUMENT_FIELDS,
        Field(
            "first_name",
            gettext_lazy("Nombres"),
            required=True,
            aliases=("nombre", "first name", "nombres y apellidos"),
        ),
        Field("last_name", gettext_lazy("Apellidos"), aliases=("apellido", "last name")),
        Field("phone", gettext_lazy("Celular"), aliases=("telefono", "movil", "phone", "cel")),
        Field(
            "phone_secondary",
            gettext_lazy("Teléfono alternativo"),
            aliases=("telefono 2", "otro telefono", "telefono fijo"),
        ),
        Field(
            "email",
            gettext_lazy("Correo electrónico"),
            aliases=("correo", "email", "e-mail", "mail"),
        ),
        Field("address", gettext_lazy("Dirección"), aliases=("direccion", "domicilio")),
        Field("city", gettext_lazy("Ciudad"), aliases=("ciudad", "distrito", "provincia")),
        Field(
            "branch",
            gettext_lazy("Sucursal"),
            aliases=("sucursal", "agencia", "oficina"),
            help=gettext_lazy("El nombre de una sucursal registrada."),
        ),
        Field(
            "channel",
            gettext_lazy("Canal"),
            aliases=("canal", "origen"),
            help=gettext_lazy("El nombre de un canal registrado."),
        ),
    )

    # --- Reading a row -------------------------------------------------------------------

    def parse(
        self, cells: Mapping[str, Any], state: Any = None
    ) -> tuple[CustomerRow | None, list[str]]:
        messages: list[str] = []
        text = {name: spreadsheets.cell_text(cells.get(name)) for name in cells}

        document_type, number, problems = read_document(text)
        messages.extend(problems)

        first_name = text.get("first_name", "")
        if not first_name:
            messages.append(_("Faltan los nombres."))
        for name, label in NAME_LABELS:
            if len(text.get(name, "")) > _length(name):
                messages.append(
                    _("%(label)s tienen más de %(max)s caracteres.")
                    % {"label": label, "max": _length(name)}
                )

        phones = {}
        for name, label in PHONE_LABELS:
            phones[name] = None
            if text.get(name):
                phone = _phone(text[name])
                if phone is None:
                    messages.append(
                        _("%(label)s «%(value)s» no es un número válido.")
                        % {"label": label, "value": text[name]}
                    )
                phones[name] = phone

        email = text.get("email") or None
        if email:
            try:
                validate_email(email)
                if len(email) > _length("email"):
                    raise ValidationError("")
            except ValidationError:
                messages.append(_("El correo «%(value)s» no es válido.") % {"value": email[:100]})
        for name, label in PLACE_LABELS:
            if len(text.get(name, "")) > _length(name):
                messages.append(
                    _("%(label)s tiene más de %(max)s caracteres.")
                    % {"label": label, "max": _length(name)}
                )

        branch = channel = None
        if text.get("branch"):
            branch = _by_name(Branch, text["branch"])
            if branch is None:
                messages.append(
                    _("La sucursal «%(value)s» no está registrada.") % {"value": text["branch"]}
                )
        if text.get("channel"):
            channel = _by_name(Channel, text["channel"])
            if channel is None:
                messages.append(
                    _("El canal «%(value)s» no está registrado.") % {"value": text["channel"]}
                )

        if messages:
            return None, messages
        row = CustomerRow(
            document_type=document_type,
            document_number=number,
            first_name=first_name,
            last_name=text.get("last_name") or None,
            phone=phones["phone"],
            phone_secondary=phones["phone_secondary"],
            email=email.lower() if email else None,
            address=text.get("address") or None,
            city=text.get("city") or None,
            branch=branch,
            channel=channel,
        )
        return row, messages

    def key(self, row: CustomerRow) -> tuple:
        return (row.document_type, row.document_number)

    def shown(self, row: CustomerRow) -> dict[str, str]:
        values = {}
        for field in fields(CustomerRow):
            value = getattr(row, field.name)
            if field.name == "document_type":
                value = Customer.DocumentType(value).label
            values[field.name] = "" if value is None else str(value)
        return values

    # --- Writing -------------------------------------------------------------------------

    def write(
        self,
        batch: ImportBatch,
        rows: Sequence[tuple[int, CustomerRow]],
        *,
        actor: AbstractBaseUser | None,
        progress: WriteProgress,
        state: Any = None,
    ) -> Outcome:
        outcome = Outcome()
        actor = people.signed_in(actor)
        refused = _merged_twice(rows)
        if refused:
            outcome.errors.update(refused)
            if not batch.skip_invalid:
                return outcome  # the file writes nothing (crm.imports.services._run)
            rows = [(line, row) for line, row in rows if line not in refused]
        total = len(rows)
        progress(0, total)
        for start in range(0, total, BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            self._write_chunk(batch, chunk, actor=actor, outcome=outcome)
            progress(min(start + BATCH_SIZE, total), total)
        return outcome

    def _write_chunk(self, batch, chunk, *, actor, outcome: Outcome) -> None:
        now = timezone.now()
        source = _("importación #%(n)s (%(file)s)") % {"n": batch.pk, "file": batch.file_name}
        matched = list(
            Customer.objects.select_for_update().filter(
                document_number__in=[row.document_number for _line, row in chunk]
            )
        )
        # A row with the document of a record merged into another one (crm.merge) updates
        # the kept record: the merged one is history.
        current = {c.pk: c for c in matched if c.merged_into_id is None}
        kept_ids = {c.merged_into_id for c in matched if c.merged_into_id} - current.keys()
        if kept_ids:
            current.update(Customer.objects.select_for_update().in_bulk(kept_ids))
        existing = {
            (c.document_type, c.document_number): current[c.merged_into_id or c.pk]
            for c in matched
            if (c.merged_into_id or c.pk) in current
        }
        pending = _pending_conflicts([c.pk for c in existing.values()])
        new: list[tuple[int, Customer]] = []
        changed: list[tuple[int, Customer, dict, dict]] = []
        # Rows, not model objects: a hundred thousand of each (lib.bulk.insert_rows).
        records: list[tuple] = []
        entries: list[tuple] = []
        actor_id = actor.pk if actor is not None else None
        for line, row in chunk:
            customer = existing.get(self.key(row))
            if customer is None:
                new.append((line, _new_customer(row, now)))
                continue
            before, shown_changes = _apply_contact(customer, row)
            conflict = _conflict(customer, row)
            if conflict and pending.get(customer.pk) == conflict:
                conflict = {}  # the same change is already waiting for a person
            if before:
                customer.search_text = customer.build_search_text()
                customer.updated_at = now
                changed.append((line, customer, before, shown_changes))
            if conflict:
                outcome.conflicts += 1
                records.append(
                    record_row(
                        batch.pk,
                        line,
                        customer.pk,
                        conflict=conflict,
                        conflict_status=ImportRecord.Conflict.PENDING.value,
                    )
                )
                entries.append(
                    services.system_entry_row(
                        customer.pk,
                        summary=_(
                            "La %(source)s trae otros datos de identidad o contacto "
                            "(%(fields)s): quedan por decidir."
                        )
                        % {"source": source, "fields": _fields_text(conflict)},
                        payload={
                            identity.label(f): f"{old or '—'} → {new or '—'}"
                            for f, (old, new) in conflict.items()
                        },
                        actor_id=actor_id,
                        at=now,
                    )
                )
            if not before and not conflict:
                outcome.unchanged += 1

        if new:
            # By COPY on PostgreSQL (lib.bulk.create_objects), as the book's loans are.
            bulk.create_objects([customer for _line, customer in new])
            outcome.created += len(new)
            registered = _("Cliente registrado por la %(source)s") % {"source": source}
            line_label = _("línea")
            for line, customer in new:
                records.append(
                    record_row(
                        batch.pk,
                        line,
                        customer.pk,
                        action=ImportRecord.Action.CREATED.value,
                        after={"updated_at": customer.updated_at.isoformat()},
                    )
                )
                entries.append(
                    services.system_entry_row(
                        customer.pk,
                        summary=registered,
                        payload={line_label: str(line)},
                        actor_id=actor_id,
                        at=now,
                    )
                )
        if changed:
            Customer.objects.bulk_update(
                [customer for _line, customer, _b, _s in changed],
                [*CONTACT_FIELDS, "search_text", "updated_at"],
            )
            outcome.updated += len(changed)
            for line, customer, before, shown_changes in changed:
                records.append(
                    record_row(
                        batch.pk,
                        line,
                        customer.pk,
                        action=ImportRecord.Action.UPDATED.value,
                        before=before,
                        after={"updated_at": customer.updated_at.isoformat()},
                    )
                )
                entries.append(
                    services.system_entry_row(
                        customer.pk,
                        summary=_("Datos actualizados por la %(source)s: %(fields)s")
                        % {"source": source, "fields": ", ".join(shown_changes)},
                        payload=shown_changes,
                        actor_id=actor_id,
                        at=now,
                    )
                )
        bulk.insert_rows(ImportRecord, RECORD_COLUMNS, records)
        bulk.insert_rows(Interaction, services.INTERACTION_COLUMNS, entries)

    # --- Undo ----------------------------------------------------------------------------

    def lock_for_undo(self, batch: ImportBatch) -> None:
        ids = batch.records.exclude(action="").values_list("object_id", flat=True)
        list(Customer.objects.select_for_update().filter(pk__in=ids).values_list("pk"))

    def undo_blockers(self, batch: ImportBatch) -> list[str]:
        # Read by chunks of plain values: a 100,000-row import's page loaded every record
        # and customer as objects (8 s, 263 MB) to list the first reasons.
        records = (
            batch.records.filter(
                action__in=[ImportRecord.Action.CREATED, ImportRecord.Action.UPDATED]
            )
            .order_by("line", "pk")
            .values_list("line", "object_id", "action", "after")
        )
        blockers: list[str] = []
        found = 0
        chunk: list[tuple] = []
        for record in records.iterator(chunk_size=BATCH_SIZE):
            chunk.append(record)
            if len(chunk) == BATCH_SIZE:
                found += _undo_blockers_of(chunk, blockers)
                chunk = []
        if chunk:
            found += _undo_blockers_of(chunk, blockers)
        if found > BLOCKERS_LISTED:
            blockers.append(_("y %(n)s más.") % {"n": found - BLOCKERS_LISTED})
        return blockers

    def undo(self, batch: ImportBatch, *, actor: AbstractBaseUser) -> None:
        now = timezone.now()
        source = _("importación #%(n)s") % {"n": batch.pk}
        records = list(batch.records.exclude(action=""))
        created = [r.object_id for r in records if r.action == ImportRecord.Action.CREATED]
        try:
            with transaction.atomic():
                for start in range(0, len(created), BATCH_SIZE):
                    Customer.objects.filter(pk__in=created[start : start + BATCH_SIZE]).delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ValidationError(
                _(
                    "No se puede deshacer: algunos clientes creados por la importación ya "
                    "tienen créditos, gestiones u otros registros."
                )
            ) from exc
        updated = [r for r in records if r.action == ImportRecord.Action.UPDATED]
        customers = Customer.objects.select_for_update().in_bulk([r.object_id for r in updated])
        by = people.signed_in(actor)
        actor_id = by.pk if by is not None else None
        entries = []
        for record in updated:
            customer = customers[record.object_id]
            shown = {}
            for name, old in record.before.items():
                current = _stored_text(customer, name)
                _restore(customer, name, old)
                shown[_label(name)] = f"{current or '—'} → {_stored_text(customer, name) or '—'}"
            customer.search_text = customer.build_search_text()
            customer.updated_at = now
            entries.append(
                services.system_entry_row(
                    customer.pk,
                    summary=_("Se deshizo la %(source)s: %(fields)s")
                    % {"source": source, "fields": ", ".join(shown)},
                    payload=shown,
                    actor_id=actor_id,
                    at=now,
                )
            )
        if updated:
            Customer.objects.bulk_update(
                list(customers.values()),
                [*CONTACT_FIELDS, "search_text", "updated_at"],
                batch_size=BATCH_SIZE,
            )
        # The names, phones and e-mails the import brought and nobody decided: dropped with
        # it, as their customers' timelines say (they said the change was waiting).
        pending = batch.records.filter(conflict_status=ImportRecord.Conflict.PENDING)
        for customer_id, conflict in pending.values_list("object_id", "conflict"):
            entries.append(
                services.system_entry_row(
                    customer_id,
                    summary=_(
                        "Se deshizo la %(source)s: los datos que traía (%(fields)s) ya no "
                        "quedan por decidir"
                    )
                    % {"source": source, "fields": _fields_text(conflict)},
                    payload={
                        identity.label(f): f"{old or '—'} → {new or '—'} ({_('descartado')})"
                        for f, (old, new) in conflict.items()
                    },
                    actor_id=actor_id,
                    at=now,
                )
            )
        bulk.insert_rows(Interaction, services.INTERACTION_COLUMNS, entries)
        pending.update(
            conflict_status=ImportRecord.Conflict.REJECTED,
            decided_by=by,
            decided_at=now,
        )

    # --- Identity and contact conflicts --------------------------------------------------

    @transaction.atomic
    def decide(self, record: ImportRecord, *, accept: bool, actor: AbstractBaseUser) -> None:
        # Locked before its values are compared: two people deciding at once (two imports'
        # conflicts, or a conflict and the customer's form) apply one change, not both.
        customer = Customer.objects.select_for_update().filter(pk=record.object_id).first()
        if customer is None:
            raise ValidationError(_("El cliente ya no existe."))
        moved = [
            f for f, (old, _new) in record.conflict.items() if _stored_text(customer, f) != old
        ]
        if moved:
            raise ValidationError(
                _(
                    "Los datos de identidad o contacto de %(name)s cambiaron después de la "
                    "importación (%(fields)s): revise su ficha."
                )
                % {"name": customer.full_name, "fields": _fields_text(moved)}
            )
        if accept:
            services.update_customer(
                customer=customer,
                actor=actor,
                data={f: new for f, (_old, new) in record.conflict.items()},
                confirm_identity=True,
            )
            return
        services.record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Se rechazaron los datos que traía la importación #%(n)s (%(fields)s)")
            % {"n": record.batch_id, "fields": _fields_text(record.conflict)},
            payload={
                identity.label(f): f"{old or '—'} → {new or '—'} ({_('rechazado')})"
                for f, (old, new) in record.conflict.items()
            },
            actor=actor,
        )

    def record_url(self, record: ImportRecord) -> str:
        return links.pk_link("crm:customer_detail")(record.object_id)


def read_document(text: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """Return a row's document type (blank: DNI), its number as kept, and what is wrong.

    `text` holds the row's cells as text, by field (document_type, document_number).
    """
    messages: list[str] = []
    document_type = Customer.DocumentType.DNI
    if text.get("document_type"):
        found = DOCUMENT_TYPES.get(search.normalize(text["document_type"]).rstrip("."))
        if found is None:
            messages.append(
                _("Tipo de documento «%(value)s» desconocido: use DNI, CE, RUC o Pasaporte.")
                % {"value": text["document_type"][:40]}
            )
        else:
            document_type = found
    number = validators.normalize_document_number(text.get("document_number", ""))
    if not number:
        messages.append(_("Falta el número de documento."))
    elif len(number) > _length("document_number"):
        messages.append(_("El número de documento es demasiado largo."))
    elif not messages:
        try:
            validators.validate_document(document_type, number)
        except ValidationError as exc:
            messages.extend(exc.messages)
    return document_type, number, messages


def _phone(text: str) -> str | None:
    """Return a phone as E.164, read as dialled in the default country; None if invalid."""
    try:
        phone = PhoneNumber.from_string(text)
    except Exception:  # phonenumbers' NumberParseException and friends: not a number
        return None
    return phone.as_e164 if phone.is_valid() else None


# Each small table's rows by their normalized name, with the copy of the table they come
# from (lib.small_tables hands out a new one when the table changes).
_named: dict[str, tuple[dict, dict]] = {}


def _by_name(model, name: str):
    """Return the branch or channel so named (accents and case aside), or None.

    Its rows' names are normalized once per copy of the table, not on every row of a file:
    with 18 branches that was 32 µs a row and cell, now 5 (3 s of a 100,000-row file)."""
    (table,) = small_tables.rows(model)
    label = model._meta.label_lower
    kept = _named.get(label)
    if kept is None or kept[0] is not table:
        names: dict = {}
        for row in table.values():
            names.setdefault(search.normalize(row.name), row)  # the first of a same name
        kept = _named[label] = (table, names)
    return kept[1].get(search.normalize(name))


def _merged_twice(rows: Sequence[tuple[int, CustomerRow]]) -> dict[int, str]:
    """Return the rows (line → reason) that reach a customer another row of the file
    brings, by the document of a record merged into it (crm.merge): the same customer
    twice, refused as a document repeated in the file is.

    The kept record's own document speaks for it, wherever its row is in the file; without
    one, the first row with a merged document does. One query per BATCH_SIZE rows, and one
    more when the file has documents of merged records.
    """
    kept_of: dict[tuple[str, str], int] = {}  # a merged record's document → the kept one
    for start in range(0, len(rows), BATCH_SIZE):
        numbers = {row.document_number for _line, row in rows[start : start + BATCH_SIZE]}
        merged = Customer.objects.filter(document_number__in=numbers, merged_into__isnull=False)
        for document_type, number, kept in merged.values_list(
            "document_type", "document_number", "merged_into_id"
        ):
            kept_of[(document_type, number)] = kept
    if not kept_of:
        return {}
    own = {
        (document_type, number): pk
        for pk, document_type, number in Customer.objects.filter(
            pk__in=set(kept_of.values())
        ).values_list("pk", "document_type", "document_number")
    }
    brought_by: dict[int, int] = {}  # kept record → the line that brings it
    for line, row in rows:
        kept = own.get((row.document_type, row.document_number))
        if kept is not None:
            brought_by[kept] = line
    refused = {}
    for line, row in rows:
        kept = kept_of.get((row.document_type, row.document_number))
        if kept is None:
            continue
        first = brought_by.setdefault(kept, line)
        if first != line:
            refused[line] = _(
                "El documento %(document)s es de un registro fusionado con el cliente "
                "n.º %(pk)s: ya lo trae la línea %(line)s."
            ) % {
                "document": f"{Customer.DocumentType(row.document_type).label} "
                f"{row.document_number}",
                "pk": kept,
                "line": first,
            }
    return refused


def _new_customer(row: CustomerRow, now) -> Customer:
    customer = Customer(
        document_type=row.document_type,
        document_number=row.document_number,
        first_name=row.first_name,
        last_name=row.last_name or "",
        phone=row.phone or "",
        phone_secondary=row.phone_secondary or "",
        email=row.email or "",
        address=row.address or "",
        city=row.city or "",
        branch=row.branch,
        channel=row.channel,
        created_at=now,
    )
    customer.search_text = customer.build_search_text()
    return customer


def _undo_blockers_of(records: list[tuple], blockers: list[str]) -> int:
    """Add to `blockers`, up to BLOCKERS_LISTED, why these (line, customer id, action,
    after) records stop an undo; return how many do."""
    customers = {
        pk: (updated_at, f"{first} {last}".strip())
        for pk, updated_at, first, last in Customer.objects.filter(
            pk__in=[object_id for _line, object_id, _action, _after in records]
        ).values_list("pk", "updated_at", "first_name", "last_name")
    }
    created = [
        object_id
        for _line, object_id, action, _after in records
        if action == ImportRecord.Action.CREATED
    ]
    # A customer it created has its one entry ("registrado por la importación"); more is
    # activity since.
    active = set(
        Interaction.objects.filter(customer_id__in=created)
        .values("customer_id")
        .annotate(entries=Count("pk"))
        .filter(entries__gt=1)
        .values_list("customer_id", flat=True)
    )
    found = 0
    for line, object_id, action, after in records:
        customer = customers.get(object_id)
        if customer is None:
            reason = _("Línea %(line)s: el cliente ya no existe.") % {"line": line}
        elif customer[0].isoformat() != (after or {}).get("updated_at"):
            reason = _("Línea %(line)s: %(name)s cambió después de la importación.") % {
                "line": line,
                "name": customer[1],
            }
        elif action == ImportRecord.Action.CREATED and object_id in active:
            reason = _("Línea %(line)s: %(name)s tiene actividad después de la importación.") % {
                "line": line,
                "name": customer[1],
            }
        else:
            continue
        found += 1
        if len(blockers) < BLOCKERS_LISTED:
            blockers.append(reason)
    return found


def _apply_contact(customer: Customer, row: CustomerRow) -> tuple[dict, dict]:
    """Set the row's contact values on the customer; return what they replaced.

    Returns (before: field → the old value as stored, for an undo; shown: label → "old →
    new" for the timeline). A blank cell (None) leaves the value; a phone or e-mail the
    customer has stays too (another one is a conflict, `_conflict`).
    """
    before, shown = {}, {}
    for name in CONTACT_FIELDS:
        new = getattr(row, name)
        if new is None:
            continue
        old_text = _stored_text(customer, name)
        new_text = str(new)
        if old_text == new_text or (name in REACH_FIELDS and old_text):
            continue
        before[name] = _stored_value(customer, name)
        setattr(customer, name, new)
        shown[_label(name)] = f"{old_text or '—'} → {new_text}"
    return before, shown


def _conflict(customer: Customer, row: CustomerRow) -> dict[str, list[str]]:
    """Return the names, phones and e-mail the row would replace: field → [old, new] text.

    A phone or e-mail the customer lacks is no conflict: the file fills it (`_apply_contact`).
    """
    conflict = {}
    for name in CONFLICT_FIELDS:
        new = getattr(row, name)
        if new is None:
            continue
        old = _stored_text(customer, name)
        if name in NAME_FIELDS:
            # Legacy exports write names in capitals or without accents: the same name so
            # written is no conflict (and the stored spelling stays).
            if search.normalize(old) != search.normalize(new):
                conflict[name] = [old, new]
        # Both phones are E.164 text (the row's as read, `_phone`), so the same number
        # written another way is no change; nor is the same e-mail in other capitals.
        elif old and old.lower() != new.lower():
            conflict[name] = [old, new]
    return conflict


def _fields_text(names) -> str:
    """Name a conflict's fields for a sentence: "nombres, celular", in the form's order
    (PostgreSQL's jsonb keeps a conflict's keys in an order of its own)."""
    chosen = set(names)
    return ", ".join(_label(name) for name in CONFLICT_FIELDS if name in chosen)


def _pending_conflicts(customer_ids: list[int]) -> dict[int, dict]:
    """Return the change (names, phones, e-mail) waiting for a person, per customer, from
    earlier imports."""
    pending = ImportRecord.objects.filter(
        object_id__in=customer_ids,
        conflict_status=ImportRecord.Conflict.PENDING,
        batch__kind=CustomerImporter.kind,
    ).values_list("object_id", "conflict")
    return dict(pending)


def _stored_value(customer: Customer, name: str) -> Any:
    """A field's value as JSON keeps it: a related row's pk, a phone's E.164 text."""
    if name in ("branch", "channel"):
        return getattr(customer, f"{name}_id")
    value = getattr(customer, name)
    return str(value) if value else ""


def _stored_text(customer: Customer, name: str) -> str:
    """A field's value as text; a phone as its E.164 text, whatever the display format."""
    value = getattr(customer, name)
    if isinstance(value, PhoneNumber):
        return value.as_e164 if value else ""
    return str(value) if value else ""


def _restore(customer: Customer, name: str, value: Any) -> None:
    if name in ("branch", "channel"):
        setattr(customer, f"{name}_id", value)
    else:
        setattr(customer, name, value or "")


def _label(name: str) -> str:
    return str(Customer._meta.get_field(name).verbose_name)
