"""Documents from templates: a DOCX with Jinja placeholders, filled from a gestión.

A template is a Word file written by the business (contract, collection letter, promissory
note) with placeholders such as `{{ cliente.nombre_completo }}` or `{{ fecha.dia_letras }}`.
`generate_document` fills it from the gestión (`context_for`) and files the DOCX on the
gestión as a follow-up of kind DOCUMENT; its PDF copy is made by LibreOffice in a Celery
task (`attach_pdf`) and filed on the same follow-up, or the follow-up says why not."""

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm import deletions as deletion_services
from crm import services as crm_services
from crm.gestiones import services
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.documents import context, rendering, selectors
from crm.gestiones.models import (
    Attachment,
    DocumentTemplate,
    FollowUp,
    FormField,
    Gestion,
    GestionType,
)
from crm.models import Interaction
from lib import office, queue

# Largest template accepted (the same limit as an attachment).
MAX_TEMPLATE_BYTES = services.MAX_ATTACHMENT_BYTES


def generate_document(
    *,
    gestion: Gestion,
    template: DocumentTemplate,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Fill `template` for `gestion` and file the DOCX and its PDF as a follow-up.

    Refused when the template is inactive, is not for the gestión's type, the actor's
    role may not generate it, or it would print a placeholder the gestión has no value for
    ("la suma de ( )"): the refusal names them. Rendering happens before the transaction:
    it is slow work that must not hold the database's write lock; the follow-up, its two
    files and the timeline entry are written in one transaction by
    `gestion_services.add_files_follow_up`.
    """
    now = now or timezone.now()
    if not template.is_active:
        raise ValidationError(_("La plantilla «%(t)s» está inactiva.") % {"t": template.name})
    if not template.gestion_types.filter(pk=gestion.gestion_type_id).exists():
        raise ValidationError(
            _("La plantilla «%(t)s» no es para gestiones de tipo «%(type)s».")
            % {"t": template.name, "type": gestion.gestion_type.name}
        )
    if not selectors.may_generate(actor, template):
        raise ValidationError(
            _("Su rol no puede generar la plantilla «%(t)s».") % {"t": template.name}
        )
    values = context.context_for(gestion, today=timezone.localtime(now).date())
    try:
        rendered = rendering.render_document(template, values)
    except FileNotFoundError as exc:
        # Its file was removed from the server (a restored database, a lost volume).
        raise ValidationError(
            _(
                "El archivo de la plantilla «%(t)s» ya no está guardado en el servidor: "
                "vuelva a subirlo en la plantilla."
            )
            % {"t": template.name}
        ) from exc
    if rendered.blanks:
        raise ValidationError(_blanks_message(template, rendered.blanks), code="blanks")
    base = f"{slugify(template.name) or 'documento'}-gestion-{gestion.pk}"
    with transaction.atomic():
        follow_up = services.add_files_follow_up(
            gestion=gestion,
            actor=actor,
            kind=FollowUp.Kind.DOCUMENT,
            notes=_("Documento generado: %(name)s") % {"name": template.name},
            files=[ContentFile(rendered.docx, name=f"{base}.docx")],
            now=now,
        )
        docx = follow_up.attachments.get()
        queue.enqueue("gestiones.attach_document_pdf", attachment_id=docx.pk)
    return follow_up


def attach_pdf(*, attachment_id: int) -> Attachment | None:
    """File the PDF copy of a generated DOCX on its follow-up; once, whatever the retries.

    When LibreOffice is missing or fails, the follow-up's notes and the customer's
    timeline say so, and the DOCX stays the document.
    """
    docx = (
        Attachment.objects.select_related("follow_up__gestion__customer")
        .filter(pk=attachment_id)
        .first()
    )
    if docx is None:
        return None  # deleted (with its follow-up) since the task was queued
    follow_up = docx.follow_up
    pdf_name = docx.name.rsplit(".", 1)[0] + ".pdf"
    if follow_up.attachments.filter(name=pdf_name).exists():
        return None
    with docx.file.open("rb") as source:
        data = source.read()
    try:
        pdf = office.docx_to_pdf(data)
    except (office.ConverterUnavailable, office.ConversionFailed) as exc:
        _note_pdf_missing(follow_up, reason=str(exc))
        return None
    with transaction.atomic():
        # Two deliveries of the task convert at once: the follow-up's lock lets one file
        # the PDF, and the other finds it filed.
        FollowUp.objects.select_for_update().filter(pk=follow_up.pk).first()
        if follow_up.attachments.filter(name=pdf_name).exists():
            return None
        attachment = Attachment(
            follow_up=follow_up,
            name=pdf_name,
            uploaded_by=follow_up.actor,
            created_at=timezone.now(),
        )
        attachment.file.save(pdf_name, ContentFile(pdf), save=False)
        attachment.save()
    return attachment


# A conversion takes at most office.TIMEOUT_SECONDS: a document without its PDF this long
# after it was made lost its task (a worker killed, a failed publish).
PDF_STALLED_AFTER = datetime.timedelta(minutes=10)
# After this long the sweep stops converting again and the follow-up says the PDF is
# missing; documents older than PDF_SWEEP_WINDOW are left as they are.
PDF_GIVE_UP_AFTER = datetime.timedelta(hours=1)
PDF_SWEEP_WINDOW = datetime.timedelta(days=1)
# The start of _note_pdf_missing's note: a follow-up that has it was told already.
_PDF_MISSING = "PDF no generado"


def attach_missing_pdfs(*, now: datetime.datetime | None = None) -> int:
    """Convert again the generated documents whose PDF never came; return how many.

    A document still without its PDF PDF_GIVE_UP_AFTER after it was made gets, instead,
    the note "PDF no generado" on its follow-up and the timeline; the DOCX stays the
    document. Running twice does no harm: attach_pdf files one PDF.
    """
    now = now or timezone.now()
    missing = (
        Attachment.objects.filter(
            follow_up__kind=FollowUp.Kind.DOCUMENT,
            name__iendswith=".docx",
            follow_up__created_at__gte=now - PDF_SWEEP_WINDOW,
            follow_up__created_at__lt=now - PDF_STALLED_AFTER,
        )
        .exclude(follow_up__notes__contains=_PDF_MISSING)
        .exclude(
            Exists(
                Attachment.objects.filter(
                    follow_up_id=OuterRef("follow_up_id"), name__iendswith=".pdf"
                )
            )
        )
        .select_related("follow_up__gestion__customer")
    )
    queued = 0
    for docx in missing:
        if docx.follow_up.created_at < now - PDF_GIVE_UP_AFTER:
            _note_pdf_missing(
                docx.follow_up,
                reason=_(
                    "la conversión a PDF no terminó (se interrumpió); el DOCX es el documento"
                ),
            )
            continue
        queue.send_now("gestiones.attach_document_pdf", {"attachment_id": docx.pk})
        queued += 1
    return queued


@transaction.atomic
def _note_pdf_missing(follow_up: FollowUp, *, reason: str) -> None:
    # Not when a late conversion filed the PDF meanwhile (attach_pdf holds this lock).
    follow_up = (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("gestion__customer")
        .filter(pk=follow_up.pk)
        .first()
    )
    if follow_up is None or follow_up.attachments.filter(name__iendswith=".pdf").exists():
        return
    if _PDF_MISSING in follow_up.notes:
        return  # said already, by an earlier delivery of the task or the sweep
    note = _("PDF no generado: %(reason)s") % {"reason": reason}
    FollowUp.objects.filter(pk=follow_up.pk).update(
        notes=f"{follow_up.notes}\n{note}".strip()[:2000]
    )
    crm_services.record_interaction(
        customer=follow_up.gestion.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Gestión #%(id)s · %(note)s") % {"id": follow_up.gestion_id, "note": note},
        payload={"gestion": follow_up.gestion_id},
    )


def _blanks_message(template: DocumentTemplate, blanks: Sequence[str]) -> str:
    described = context.placeholders()
    names = ", ".join(
        f"{described[name]} ({{{{ {name} }}}})" if name in described else f"{{{{ {name} }}}}"
        for name in blanks
    )
    message = _(
        "No se generó «%(t)s»: la gestión no tiene estos datos y el documento quedaría con "
        "espacios en blanco: %(names)s."
    ) % {"t": template.name, "names": names}
    if any(name.startswith("credito.") for name in blanks):
        message += " " + _(
            "Vincule a la gestión el crédito del cliente (o registre su crédito) y vuelva a "
            "generarlo."
        )
    else:
        message += " " + _("Complete esos datos y vuelva a generarlo.")
    return message


@transaction.atomic
def create_template(
    *,
    name: str,
    file: File,
    gestion_types: Iterable[GestionType],
    roles: Iterable[Group] = (),
    description: str = "",
    is_active: bool = True,
) -> DocumentTemplate:
    """Store a new template once its DOCX opens and uses only known placeholders."""
    gestion_types = list(gestion_types)
    _validate(name=name, file=file, gestion_types=gestion_types)
    template = DocumentTemplate(
        name=name.strip(), description=(description or "").strip(), is_active=is_active
    )
    template.file.save(_file_name(file), file, save=False)
    template.save()
    template.gestion_types.set(gestion_types)
    template.roles.set(list(roles))
    return template


@transaction.atomic
def update_template(
    *,
    template: DocumentTemplate,
    name: str,
    gestion_types: Iterable[GestionType],
    roles: Iterable[Group],
    description: str = "",
    is_active: bool = True,
    file: File | None = None,
) -> DocumentTemplate:
    """Change a template; a new DOCX replaces the old one, which is deleted after commit."""
    gestion_types = list(gestion_types)
    _validate(name=name, file=file, gestion_types=gestion_types, template=template)
    template.name = name.strip()
    template.description = (description or "").strip()
    template.is_active = is_active
    if file is not None:
        old = template.file.name
        storage = template.file.storage
        template.file.save(_file_name(file), file, save=False)
        if old and old != template.file.name:
            transaction.on_commit(lambda: storage.delete(old))
    template.save()
    template.gestion_types.set(gestion_types)
    template.roles.set(list(roles))
    return template


def deletion_details(template: DocumentTemplate) -> list[tuple[str, str]]:
    """Return what a template holds, as the deletion's confirmation and its record show it."""
    return [
        (_("Descripción"), template.description or "—"),
        (_("Archivo"), template.file.name.rsplit("/", 1)[-1] if template.file else "—"),
        (
            _("Tipos de gestión"),
            ", ".join(template.gestion_types.order_by("name").values_list("name", flat=True))
            or "—",
        ),
        (_("Activa"), _("Sí") if template.is_active else _("No")),
    ]


@transaction.atomic
def delete_template(*, template: DocumentTemplate, actor: AbstractBaseUser | None) -> None:
    """Delete a template and, after the commit, its DOCX; the documents made from it stay
    on their gestiones. Who deleted it and what it was go to the deletions audit."""
    template = DocumentTemplate.objects.select_for_update().filter(pk=template.pk).first()
    if template is None:
        return  # deleted a moment ago by someone else, who has the record
    deletion_services.record_deletion(
        kind=deletion_kinds.DOCUMENT_TEMPLATE,
        object_id=template.pk,
        name=template.name,
        details=deletion_details(template),
        actor=actor,
    )
    name, storage = template.file.name, template.file.storage
    template.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def _validate(
    *,
    name: str,
    file: File | None,
    gestion_types: Sequence[GestionType],
    template: DocumentTemplate | None = None,
) -> None:
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Indique el nombre de la plantilla.")
    else:
        same = DocumentTemplate.objects.filter(name__iexact=name)
        if template is not None:
            same = same.exclude(pk=template.pk)
        if same.exists():
            errors["name"] = _("Ya existe una plantilla con ese nombre.")
    if not gestion_types:
        errors["gestion_types"] = _("Elija al menos un tipo de gestión.")
    data = _template_bytes(file, template, errors)
    if data is not None:
        data_keys = FormField.objects.filter(
            gestion_type__in=gestion_types, scope=FormField.Scope.GESTION
        ).values_list("name", flat=True)
        try:
            rendering.check_template(data, data_keys=list(data_keys))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def _template_bytes(
    file: File | None, template: DocumentTemplate | None, errors: dict[str, Any]
) -> bytes | None:
    if file is None:
        if template is None or not template.file:
            errors["file"] = _("Adjunte la plantilla en formato Word (.docx).")
            return None
        with template.file.open("rb") as handle:
            return handle.read()
    if not _file_name(file).lower().endswith(".docx"):
        errors["file"] = _("La plantilla debe ser un archivo Word (.docx).")
        return None
    if file.size is not None and file.size > MAX_TEMPLATE_BYTES:
        errors["file"] = _("La plantilla pesa más de %(mb)s MB.") % {
            "mb": MAX_TEMPLATE_BYTES // (1024 * 1024)
        }
        return None
    file.seek(0)
    data = file.read()
    file.seek(0)
    return data


def _file_name(file: File) -> str:
    return (file.name or "plantilla.docx").replace("\\", "/").rsplit("/", 1)[-1]
