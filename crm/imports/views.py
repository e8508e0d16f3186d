"""Screens of the imports: history, upload, columns and preview, progress and result."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.imports import registry, services
from crm.models import ImportBatch, ImportRecord
from lib import files, repeats
from lib.confirmation import CONFIRM_FIELD, is_confirmed

PAGE_SIZE = 25
PERMISSION = "crm.run_import"
# The field choice that leaves a column out.
NOT_IMPORTED = ""


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("¿Qué importa?"))
    file = forms.FileField(
        label=gettext_lazy("Archivo"),
        help_text=gettext_lazy(".xlsx, .xls, .ods o .csv (también con «;» y comas decimales)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.ods,.csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(imp.kind, imp.label) for imp in registry.kinds()]
        for importer in registry.kinds():
            for part in importer.parts:
                self.fields[part_field(importer, part)] = forms.FileField(
                    label=_("%(kind)s: %(part)s (opcional)")
                    % {"kind": importer.label, "part": part.label},
                    help_text=part.description,
                    required=False,
                    widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.ods,.csv"}),
                )

    def part_fields(self):
        """The bound file fields of the kinds' additional tables."""
        return [self[name] for name in self.fields if name.startswith("part_")]

    def parts(self) -> dict:
        importer = registry.get(self.cleaned_data["kind"])
        return {
            part.name: self.cleaned_data.get(part_field(importer, part))
            for part in (importer.parts if importer else ())
        }


def part_field(importer, part) -> str:
    return f"part_{importer.kind}_{part.name}"


class ColumnsForm(forms.Form):
    """One choice per field: which column of the file holds it."""

    skip_invalid = forms.BooleanField(
        label=gettext_lazy("Importar las filas correctas aunque otras tengan errores"),
        help_text=gettext_lazy(
            "Sin marcar, un archivo con alguna fila con errores no importa nada."
        ),
        required=False,
    )

    def __init__(self, *args, importer, header, initial_mapping, parts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.importer = importer
        self.header = header
        self.parts = parts or {}
        self._add(importer.fields, header, initial_mapping, prefix="col_")
        for name, info in self.parts.items():
            part = importer.part(name)
            if part is not None:
                self._add(part.fields, info["header"], info.get("mapping", {}), f"{name}__")
        for option in importer.options:
            self.fields[f"opt_{option.name}"] = forms.BooleanField(
                label=option.label, help_text=option.help, required=False, initial=option.default
            )

    def _add(self, fields, header, initial, prefix: str) -> None:
        columns = [(NOT_IMPORTED, _("— no importar —"))] + [
            (str(i), f"{_column_letter(i)} · {name or _('(sin nombre)')}")
            for i, name in enumerate(header)
        ]
        for field in fields:
            index = initial.get(field.name)
            self.fields[f"{prefix}{field.name}"] = forms.ChoiceField(
                label=field.label,
                choices=columns,
                required=False,
                initial="" if index is None else str(index),
                help_text=field.help,
            )

    def groups(self) -> list[tuple[str, str, list]]:
        """The choices by table: (title, file name, bound fields); the main file first."""
        shown = [("", "", [self[f"col_{f.name}"] for f in self.importer.fields])]
        for name, info in self.parts.items():
            part = self.importer.part(name)
            if part is not None:
                fields = [self[f"{name}__{f.name}"] for f in part.fields]
                shown.append((str(part.label), info["file_name"], fields))
        return shown

    def _chosen(self, fields, prefix: str) -> dict[str, int]:
        chosen = {}
        cleaned = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        for field in fields:
            value = cleaned.get(f"{prefix}{field.name}")
            if value not in (None, NOT_IMPORTED):
                chosen[field.name] = int(value)
        return chosen

    def mapping(self) -> dict[str, int]:
        return self._chosen(self.importer.fields, "col_")

    def option_fields(self) -> list:
        """The bound checkboxes of the kind's own choices (`Importer.options`)."""
        return [self[f"opt_{option.name}"] for option in self.importer.options]

    def options(self) -> dict[str, bool]:
        cleaned = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {o.name: bool(cleaned.get(f"opt_{o.name}")) for o in self.importer.options}

    def part_mappings(self) -> dict[str, dict[str, int]]:
        return {
            name: self._chosen(self.importer.part(name).fields, f"{name}__")
            for name in self.parts
            if self.importer.part(name) is not None
        }

    def clean(self):
        cleaned = super().clean()
        try:
            services.check_mapping(self.importer, self.header, self.mapping())
            for name, chosen in self.part_mappings().items():
                services.check_mapping(self.importer, self.parts[name]["header"], chosen, part=name)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return cleaned


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _batch(request: HttpRequest, pk: int) -> ImportBatch:
    return get_object_or_404(ImportBatch.objects.select_related("created_by", "undone_by"), pk=pk)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    """Every import: who imported what, when, with its counts; filter by kind and state."""
    batches = ImportBatch.objects.select_related("created_by").order_by("-created_at", "-id")
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    if kind in {imp.kind for imp in registry.kinds()}:
        batches = batches.filter(kind=kind)
    if status in ImportBatch.Status.values:
        batches = batches.filter(status=status)
    page = Paginator(batches, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = {imp.kind: imp.label for imp in registry.kinds()}
    for batch in page.object_list:
        batch.kind_label = labels.get(batch.kind, batch.kind)
    return render(
        request,
        "crm/imports/import_list.html",
        {
            "page": page,
            "kinds": registry.kinds(),
            "statuses": ImportBatch.Status.choices,
            "kind": kind,
            "status": status,
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSION, raise_exception=True)
def import_new(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, initial=request.GET)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.upload(
                kind=form.cleaned_data["kind"],
                file=form.cleaned_data["file"],
                actor=request.user,
                parts=form.parts(),
            )
        except ValidationError as exc:
            importer = registry.get(form.cleaned_data["kind"])
            for field, errors in exc.message_dict.items():
                part = importer.part(field) if importer else None
                if part is not None:
                    field = part_field(importer, part)
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("crm:import_columns", pk=batch.pk)
    return render(request, "crm/imports/import_new.html", {"form": form, "kinds": registry.kinds()})


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSION, raise_exception=True)
def import_columns(request: HttpRequest, pk: int) -> HttpResponse:
    """Map the file's columns, see the first rows as they will be stored, then queue it;
    or discard the upload (Cancelar), which leaves nothing behind."""
    batch = _batch(request, pk)
    if request.method == "POST" and "discard" in request.POST:
        return _discard(request, batch)
    if batch.status != ImportBatch.Status.UPLOADED:
        return redirect(batch)
    importer = services.importer_for(batch)
    data = request.POST if request.method == "POST" else None
    form = ColumnsForm(
        data,
        importer=importer,
        header=batch.header,
        initial_mapping=batch.mapping,
        parts=batch.parts,
    )
    mapping = batch.mapping
    if data is not None and form.is_valid():
        mapping = form.mapping()
        if "import" in request.POST:
            try:
                services.queue_import(
                    batch=batch,
                    mapping=mapping,
                    skip_invalid=form.cleaned_data["skip_invalid"],
                    actor=request.user,
                    part_mappings=form.part_mappings(),
                    options=form.options(),
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.info(
                    request,
                    _("Importación #%(n)s en cola: se procesa en segundo plano.") % {"n": batch.pk},
                )
                return redirect(batch)
    elif data is not None:
        mapping = {}
    try:
        rows = services.preview(batch, mapping) if mapping else []
    except ValidationError as exc:
        rows = []
        form.add_error(None, exc.messages)
    shown_fields = [f for f in importer.fields if f.name in mapping]
    return render(
        request,
        "crm/imports/import_columns.html",
        {
            "batch": batch,
            "importer": importer,
            "form": form,
            "rows": [
                {
                    "line": row.line,
                    "cells": [row.values.get(f.name, "") for f in shown_fields],
                    "messages": row.messages,
                }
                for row in rows
            ],
            "shown_fields": shown_fields,
            "discarded_after": services.abandoned_after(batch),
        },
    )


def _discard(request: HttpRequest, batch: ImportBatch) -> HttpResponse:
    try:
        services.discard_upload(batch=batch)
    except ValidationError as exc:
        # A page left open while the batch was queued from another tab: it stays.
        for message in exc.messages:
            messages.error(request, message)
        return redirect(batch)
    messages.success(
        request,
        _("Importación #%(n)s cancelada: se borró el archivo «%(file)s» sin importar nada.")
        % {"n": batch.pk, "file": batch.file_name},
    )
    return redirect("crm:import_list")


def _detail_context(batch: ImportBatch) -> dict:
    importer = services.importer_for(batch)
    return {
        "batch": batch,
        "importer": importer,
        "progress": services.progress(batch),
    }


# Up to how many records a batch's page checks whether it can still be undone.
UNDO_CHECKED_ON_PAGE = 5_000


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    if batch.status == ImportBatch.Status.UPLOADED:
        return redirect("crm:import_columns", pk=batch.pk)
    context = _detail_context(batch)
    importer = context["importer"]
    conflicts = list(
        batch.records.filter(conflict_status=ImportRecord.Conflict.PENDING).order_by("line")[:200]
    )
    for record in conflicts:
        record.url = importer.record_url(record)
        record.changes = [
            (str(importer.record_field_label(name)), old, new)
            for name, (old, new) in record.conflict.items()
        ]
    # A large batch's page does not check every record on each view (100,000 took 8 s):
    # the undo checks them, under lock, and says what stops it.
    checked_on_undo = batch.created_count + batch.updated_count > UNDO_CHECKED_ON_PAGE
    blockers = (
        services.undo_blockers(batch)
        if batch.status == ImportBatch.Status.DONE and not checked_on_undo
        else []
    )
    chosen = importer.chosen(batch.options)
    context.update(
        {
            "options": [(o.label, chosen[o.name]) for o in importer.options],
            "conflicts": conflicts,
            "can_undo": batch.status == ImportBatch.Status.DONE and not blockers,
            "undo_blockers": blockers if batch.is_applied else [],
            "undo_checked_on_undo": checked_on_undo,
            # Only an earlier run that wrote its rows and still stands: a failed one, one
            # refused for its bad rows or one undone left nothing of the file.
            "same_file": ImportBatch.objects.filter(
                file_sha256=batch.file_sha256,
                kind=batch.kind,
                pk__lt=batch.pk,  # earlier: two runs may share a moment
                status=ImportBatch.Status.DONE,
                is_applied=True,
            )
            .order_by("-pk")
            .first(),
        }
    )
    return render(request, "crm/imports/import_detail.html", context)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The batch's state block alone: what its page asks for every second while it runs."""
    batch = _batch(request, pk)
    response = render(request, "crm/imports/partials/import_status.html", _detail_context(batch))
    if batch.is_finished:
        # The run ended: the whole page has the results (the block alone does not).
        response["HX-Refresh"] = "true"
    return response


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    """The bad rows as .xlsx, to fix and upload again (private file: checked here)."""
    batch = _batch(request, pk)
    if not batch.errors_file:
        raise Http404(_("Esta importación no tiene filas con errores."))
    return files.serve(batch.errors_file, filename=f"importacion-{batch.pk}-errores.xlsx")


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSION, raise_exception=True)
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo an import from its confirmation page: a GET shows what it removes and restores,
    and a POST without the confirm field shows it again, undoing nothing."""
    batch = _batch(request, pk)
    if not is_confirmed(request.POST):
        return _confirm_undo(request, batch)
    try:
        services.undo_import(batch=batch, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        created = ngettext(
            "se eliminó %(n)s registro creado",
            "se eliminaron %(n)s registros creados",
            batch.created_count,
        ) % {"n": batch.created_count}
        updated = ngettext(
            "se restauró %(n)s registro actualizado",
            "se restauraron %(n)s registros actualizados",
            batch.updated_count,
        ) % {"n": batch.updated_count}
        messages.success(
            request,
            _("Importación #%(n)s deshecha: %(created)s y %(updated)s.")
            % {"n": batch.pk, "created": created, "updated": updated},
        )
    return redirect(batch)


def _confirm_undo(request: HttpRequest, batch: ImportBatch) -> HttpResponse:
    """Show what undoing the batch removes and restores, or why it cannot be undone."""
    if batch.status == ImportBatch.Status.UNDONE:
        # Undone already: the back button, a second tab.
        messages.info(
            request,
            _("Esta importación ya se deshizo %(when_by)s.")
            % {"when_by": repeats.done_when_by(batch.undone_at, batch.undone_by)},
        )
        return redirect(batch)
    if batch.status != ImportBatch.Status.DONE or not batch.is_applied:
        for message in services.undo_blockers(batch):
            messages.error(request, message)
        return redirect(batch)
    checked_on_undo = batch.created_count + batch.updated_count > UNDO_CHECKED_ON_PAGE
    return render(
        request,
        "crm/imports/import_undo_confirm.html",
        {
            "batch": batch,
            "importer": services.importer_for(batch),
            "undo_blockers": [] if checked_on_undo else services.undo_blockers(batch),
            "undo_checked_on_undo": checked_on_undo,
            "confirm_field": CONFIRM_FIELD,
        },
    )


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def import_decide(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    """Accept or reject one change of names, phones or e-mail an import left for a person."""
    record = get_object_or_404(ImportRecord.objects.select_related("batch"), pk=record_pk, batch=pk)
    decision = request.POST.get("decision")
    if decision not in ("accept", "reject"):
        # Only the page's two buttons send one: anything else decides nothing.
        raise BadRequest(_("Elija Aceptar o Rechazar."))
    accept = decision == "accept"
    try:
        services.decide_conflict(record=record, accept=accept, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if accept:
            message = _("Datos cambiados (línea %(line)s).")
            messages.success(request, message % {"line": record.line})
        else:
            messages.success(
                request,
                _("Cambio rechazado (línea %(line)s): los datos siguen como estaban.")
                % {"line": record.line},
            )
    return redirect(record.batch)
