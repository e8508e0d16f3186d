"""The life of an import batch: upload, columns, preview, run (Celery), undo, conflicts."""

import ctypes
import datetime
import gc
import hashlib
import io
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from crm.imports import registry
from crm.imports.registry import Importer
from crm.models import ImportBatch, ImportMapping, ImportRecord
from lib import people, queue, search, spreadsheets
from lib import progress as lib_progress

logger = logging.getLogger(__name__)

# Columns a file may have: a wider header is not a table of customers or loans.
MAX_COLUMNS = 200
# The rows the columns page shows as they will be stored.
PREVIEW_ROWS = 10
# How many bad rows a batch's page lists; the .xlsx has them all.
ERROR_PREVIEW_ROWS = 50
# Progress: kept in the cache this long; saved at most this often while running.
PROGRESS_CACHE_SECONDS = 24 * 60 * 60
PROGRESS_EVERY_SECONDS = 0.5
# A queued or running batch with no progress for this long is shown as stalled.
STALLED_SECONDS = 120
# Problems of a part's rows that belong to no main row, named in the failure.
LEFTOVERS_SHOWN = 20
# Rows validated between two progress reports.
REPORT_EVERY_ROWS = 500

READING, VALIDATING, WRITING = "reading", "validating", "writing"


@dataclass(frozen=True)
class PreviewRow:
    line: int
    values: dict[str, str]
    messages: list[str]


def importer_for(batch: ImportBatch) -> Importer:
    importer = registry.get(batch.kind)
    if importer is None:
        message = _("Tipo de importación desconocido: %(kind)s.")
        raise ValidationError(message % {"kind": batch.kind})
    return importer


# --- Upload and columns ------------------------------------------------------------------


@transaction.atomic
def upload(
    *,
    kind: str,
    file: UploadedFile,
    actor: AbstractBaseUser,
    parts: Mapping[str, UploadedFile | None] | None = None,
) -> ImportBatch:
    """Store an uploaded file (private storage) with its header and a first guess of its columns.

    `parts` are the files of the kind's additional tables (a loan's installments); a part
    with no file is looked for as a sheet of the main workbook with the part's name.
    Refuse what cannot be imported (unknown kind, format, size, unreadable, no header, no
    rows after the header).
    """
    importer = registry.get(kind)
    if importer is None:
        raise ValidationError({"kind": _("Elija qué quiere importar.")})
    name = file.name or "archivo"
    digest, head = _checked(file, name, "file", rows=PREVIEW_ROWS)
    if head.ended and len(head.rows) < 2:
        raise ValidationError(
            {
                "file": _(
                    "El archivo no tiene filas que importar, solo el encabezado (de un libro "
                    "se lee la primera hoja)."
                )
            }
        )
    batch = ImportBatch(
        kind=kind,
        file_name=name[-255:],
        file_sha256=digest.hexdigest(),
        header=_header_of(head.rows)[1],
        head=head.encoded(),
        created_by=people.signed_in(actor),
    )
    batch.mapping = suggested_mapping(importer, batch.header)
    batch.file.save(name, file, save=False)
    file.seek(0)
    sheets = {search.normalize(s): s for s in _sheet_names(file, name)[1:]}
    for part in importer.parts:
        part_file = (parts or {}).get(part.name)
        if part_file is not None:
            part_name = part_file.name or part.name
            part_digest, part_head = _checked(part_file, part_name, part.name, rows=0)
            part_header = _header_of(part_head.rows)[1]
            digest.update(part_digest.digest())
            # Next to the main file, in its private folder; a long name is cut, never the folder.
            stored = batch.file.storage.save(
                f"{PurePosixPath(batch.file.name).parent}/{part.name}-{part_name[-100:]}",
                part_file,
            )
            batch.parts[part.name] = {"file": stored, "sheet": "", "file_name": part_name[-255:]}
        else:
            sheet = next((sheets[n] for n in part.sheet_names if n in sheets), None)
            if sheet is None:
                continue
            file.seek(0)
            try:
                _line, part_header = _header_of(_head(file, name, sheet=sheet, rows=0).rows)
            except ValidationError as exc:
                raise ValidationError({part.name: exc.messages}) from exc
            batch.parts[part.name] = {
                "file": "",
                "sheet": sheet,
                "file_name": f"{name} › {sheet}"[-255:],
            }
        batch.parts[part.name]["header"] = part_header
        batch.parts[part.name]["mapping"] = suggested_mapping(importer, part_header, part=part.name)
    batch.file_sha256 = digest.hexdigest()
    batch.save()
    return batch


def _checked(
    file: UploadedFile, name: str, field: str, *, rows: int
) -> tuple[Any, spreadsheets.Head]:
    """Refuse a file of the wrong format or size, or without a header; return its hash and
    its head (the header and up to `rows` rows after it)."""
    try:
        spreadsheets.check_extension(name)
        spreadsheets.check_size(file.size)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    if not file.size:
        # As the screens' file field says it (the API's reached the reader: "¿está dañado?").
        raise ValidationError({field: _("El archivo enviado está vacío.")})
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    try:
        head = _head(file, name, rows=rows)
        _header_of(head.rows)
        if spreadsheets.check_extension(name) == ".csv":
            _check_text(head)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    file.seek(0)
    return digest, head


def _check_text(head: spreadsheets.Head) -> None:
    """Refuse a .csv whose first rows are not text: a file of another kind, renamed. No
    spreadsheet writes control characters into a .csv; they are what bytes of another
    kind of file (an image, a zipped workbook, UTF-16 text) become when read as
    Windows-1252, which decodes nearly any byte."""
    if any(
        isinstance(value, str) and spreadsheets.file_control_character(value)
        for _line, row in head.rows
        for value in row
    ):
        raise ValidationError(
            _(
                "No se pudo leer el archivo: no es un .csv de texto (¿es otro tipo de archivo "
                "con la extensión cambiada?). En Excel, guárdelo como «CSV UTF-8 (delimitado "
                "por comas)»."
            )
        )


def _sheet_names(file: UploadedFile, name: str) -> list[str]:
    try:
        # Its first sheet was measured when its header was read (`_checked`).
        return spreadsheets.sheet_names(file, name, size_checked=True)
    finally:
        file.seek(0)


def _rows(
    file, name: str, *, sheet: str | None = None, stored: bool = False
) -> Iterator[spreadsheets.Row]:
    """Read a file's rows; a `stored` one was measured when it was uploaded
    (`spreadsheets.MAX_CELLS`), an upload (`stored=False`) is measured now."""
    return spreadsheets.read_rows(file, name, windows_csv=True, sheet=sheet, size_checked=stored)


@contextmanager
def _part_rows(batch: ImportBatch, name: str) -> Iterator[Iterator[spreadsheets.Row]]:
    """Open a part of a batch: its own stored file, or its sheet of the main workbook."""
    info = batch.parts[name]
    if info.get("file"):
        with batch.file.storage.open(info["file"], "rb") as handle:
            yield _rows(handle, info["file_name"], stored=True)
    else:
        with batch.file.open("rb") as handle:
            yield _rows(handle, batch.file_name, sheet=info["sheet"], stored=True)


def _head(file, name: str, *, rows: int, sheet: str | None = None) -> spreadsheets.Head:
    """Read an upload's header and first rows, its sheet measured (`spreadsheets.MAX_CELLS`)
    on the way."""
    return spreadsheets.read_head(file, name, rows=rows, windows_csv=True, sheet=sheet)


def _header(rows: Iterator[spreadsheets.Row]) -> tuple[int, list[str]]:
    """Return the header's line and its column names (the first row with any text)."""
    found = next(
        ((line, v) for line, v in rows if not all(spreadsheets.is_blank(x) for x in v)), None
    )
    return _header_of([found] if found else [])


def _header_of(rows: Sequence[spreadsheets.Row]) -> tuple[int, list[str]]:
    """Check the first of `rows` as a header (those of a file, from its first with text)."""
    if not rows:
        raise ValidationError(_("El archivo está vacío (de un libro se lee la primera hoja)."))
    line, values = rows[0]
    if len(values) > MAX_COLUMNS:
        raise ValidationError(
            _("El encabezado tiene %(n)s columnas; el máximo es %(max)s.")
            % {"n": len(values), "max": MAX_COLUMNS}
        )
    header = [spreadsheets.cell_text(v)[:100] for v in values]
    while header and not header[-1]:
        header.pop()
    return line, header


def header_key(header: Sequence[str]) -> str:
    """Return what identifies a file layout: its normalized column names, hashed."""
    text = "\x1f".join(search.normalize(name) for name in header)
    return hashlib.sha256(text.encode()).hexdigest()


def mapping_kind(importer: Importer, part: str | None = None) -> str:
    """Return what a layout's saved columns are kept under: the kind, or kind.part."""
    return f"{importer.kind}.{part}" if part else importer.kind


def _fields(importer: Importer, part: str | None) -> tuple[registry.Field, ...]:
    if part is None:
        return importer.fields
    found = importer.part(part)
    return found.fields if found is not None else ()


def suggested_mapping(
    importer: Importer, header: Sequence[str], *, part: str | None = None
) -> dict[str, int]:
    """Return field → column: the mapping saved for this layout, else by the columns' names."""
    saved = ImportMapping.objects.filter(
        kind=mapping_kind(importer, part), header_key=header_key(header)
    ).first()
    if saved is not None:
        return {f: i for f, i in saved.mapping.items() if isinstance(i, int) and i < len(header)}
    mapping: dict[str, int] = {}
    names = [_header_words(name) for name in header]
    for field in _fields(importer, part):
        known = {_header_words(str(field.label)), *map(_header_words, field.aliases)}
        for index, name in enumerate(names):
            if index in mapping.values():
                continue
            if name in known:
                mapping[field.name] = index
                break
    return mapping


# Words a header may put before what it counts ("Nº", "N°", "Nro.", "Núm."), read as one.
_NUMBER_WORDS = frozenset({"n", "no", "nro", "num", "numero"})
_FILLER_WORDS = frozenset({"de", "del", "la", "el"})


def _header_words(text: str) -> str:
    """Return a header as compared with our fields' names: its words, without accents,
    punctuation or fillers ("Nº de Documento:", "Nro. documento" → "numero documento")."""
    words = [
        word
        for word in re.sub(r"[^a-z0-9]+", " ", search.normalize(text)).split()
        if word not in _FILLER_WORDS
    ]
    if words and words[0] in _NUMBER_WORDS:
        words[0] = "numero"
    return " ".join(words)


def check_mapping(
    importer: Importer,
    header: Sequence[str],
    mapping: Mapping[str, int],
    *,
    part: str | None = None,
) -> None:
    """Refuse a mapping without a required field, with a column used twice or out of range."""
    errors = []
    fields = {f.name: f for f in _fields(importer, part)}
    missing = [str(f.label) for f in fields.values() if f.required and f.name not in mapping]
    if missing:
        message = _("Asigne una columna a: %(fields)s.") % {"fields": ", ".join(missing)}
        if part is not None:
            message = f"{importer.part(part).label}: {message}"
        errors.append(message)
    used: dict[int, str] = {}
    for name, index in mapping.items():
        field = fields.get(name)
        if field is None:
            errors.append(_("Campo desconocido: %(name)s.") % {"name": name})
            continue
        if not 0 <= index < len(header):
            errors.append(_("La columna de %(field)s no existe.") % {"field": field.label})
        elif index in used:
            errors.append(
                _("La columna «%(column)s» está asignada a %(a)s y a %(b)s.")
                % {"column": header[index], "a": used[index], "b": field.label}
            )
        else:
            used[index] = str(field.label)
    if errors:
        raise ValidationError(errors)


def preview(batch: ImportBatch, mapping: Mapping[str, int]) -> list[PreviewRow]:
    """Return the first data rows as they will be stored, each with what is wrong with it.

    From the rows kept at upload (`ImportBatch.head`) when they hold what is shown: no
    file is read for each look at the columns (a 100,000-row workbook took seconds). A
    batch uploaded before they were kept reads its file.
    """
    importer = importer_for(batch)
    if batch.head:
        head = spreadsheets.Head.decoded(batch.head)
        if head.ended or len(head.rows) > PREVIEW_ROWS:
            return _preview_rows(importer, iter(head.rows), mapping)
    with batch.file.open("rb") as handle:
        return _preview_rows(importer, _rows(handle, batch.file_name, stored=True), mapping)


def _preview_rows(
    importer: Importer, rows: Iterator[spreadsheets.Row], mapping: Mapping[str, int]
) -> list[PreviewRow]:
    _header(rows)
    shown: list[PreviewRow] = []
    for line, values in rows:
        if all(spreadsheets.is_blank(v) for v in values):
            continue
        row, messages = _parsed(importer, _cells(values, mapping), None)
        values_shown = importer.shown(row) if row is not None else {}
        shown.append(PreviewRow(line=line, values=values_shown, messages=messages))
        if len(shown) >= PREVIEW_ROWS:
            break
    return shown


def _cells(values: Sequence[Any], mapping: Mapping[str, int]) -> dict[str, Any]:
    return {name: values[i] if i < len(values) else None for name, i in mapping.items()}


def _parsed(importer: Importer, cells: dict[str, Any], state: Any) -> tuple[Any, list[str]]:
    """Parse a row's cells; a cell with a control character makes it a bad row, which
    would otherwise be stored with it (and break every .xlsx export it appears in)."""
    problems = spreadsheets.clean_cells(cells, lambda name: _label(importer, None, name))
    row, messages = importer.parse(cells, state)
    if problems:
        return None, [*messages, *problems]
    return row, messages


def _label(importer: Importer, part: str | None, name: str) -> str:
    return next((str(f.label) for f in _fields(importer, part) if f.name == name), name)


@transaction.atomic
def queue_import(
    *,
    batch: ImportBatch,
    mapping: Mapping[str, int],
    skip_invalid: bool,
    actor: AbstractBaseUser,
    part_mappings: Mapping[str, Mapping[str, int]] | None = None,
    options: Mapping[str, bool] | None = None,
) -> ImportBatch:
    """Keep the columns (for this batch and as the layout's saved choice) and queue the run.

    `options` are the kind's own choices (`Importer.options`); one not given takes its default.
    """
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.UPLOADED:
        raise ValidationError(_("Esta importación ya se puso en cola."))
    importer = importer_for(batch)
    check_mapping(importer, batch.header, mapping)
    layouts = [(None, batch.header, dict(mapping))]
    for name, info in batch.parts.items():
        chosen = dict((part_mappings or {}).get(name, info.get("mapping", {})))
        check_mapping(importer, info["header"], chosen, part=name)
        info["mapping"] = chosen
        layouts.append((name, info["header"], chosen))
    batch.mapping = dict(mapping)
    batch.skip_invalid = skip_invalid
    batch.options = importer.chosen(options)
    batch.status = ImportBatch.Status.QUEUED
    # Only the columns' preview read the first rows: the file keeps them, not a copy.
    batch.head = {}
    batch.save(update_fields=["mapping", "parts", "skip_invalid", "options", "status", "head"])
    for part, header, chosen in layouts:
        ImportMapping.objects.update_or_create(
            kind=mapping_kind(importer, part),
            header_key=header_key(header),
            defaults={
                "mapping": chosen,
                "header": header,
                "updated_by": people.signed_in(actor),
            },
        )
    save_progress(batch, phase=READING, done=0, total=None)
    queue.enqueue("crm.run_import", batch_id=batch.pk)
    return batch


@transaction.atomic
def discard_upload(*, batch: ImportBatch) -> None:
    """Forget a batch that was uploaded and never queued, files and all: its columns could
    not be mapped (an API client has nobody to map them on screen), or the user cancelled."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.UPLOADED:
        raise ValidationError(_("Esta importación ya se puso en cola."))
    storage = batch.file.storage
    # The main file, and the additional tables' own files (a part read from a sheet of
    # the main workbook has none).
    names = [batch.file.name, *(info["file"] for info in batch.parts.values() if info.get("file"))]
    batch.delete()

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)


def abandoned_after(batch: ImportBatch) -> datetime.datetime:
    """When an upload left at *Por asignar columnas* may be discarded."""
    return batch.created_at + datetime.timedelta(days=settings.IMPORT_ABANDONED_DAYS)


def discard_abandoned_uploads(*, now: datetime.datetime | None = None) -> int:
    """Discard the uploads left at *Por asignar columnas* for IMPORT_ABANDONED_DAYS, files
    and all, as *Cancelar* does: a file of personal data nobody imported is not kept.
    Return how many were discarded."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.IMPORT_ABANDONED_DAYS)
    # created_at < cutoff is abandoned_after(batch) < now.
    left = ImportBatch.objects.filter(status=ImportBatch.Status.UPLOADED, created_at__lt=cutoff)
    discarded = 0
    for batch in left.only("pk").order_by("pk").iterator():
        try:
            discard_upload(batch=batch)
        except (ValidationError, ImportBatch.DoesNotExist):
            continue  # queued or cancelled meanwhile
        discarded += 1
    if discarded:
        logger.info(
            "Discarded %s upload(s) left without columns since before %s", discarded, cutoff
        )
    return discarded


# --- The run -----------------------------------------------------------------------------


def run_import(*, batch_id: int) -> ImportBatch | None:
    """Run a queued batch and record its outcome; None if it was not queued.

    Claimed first (queued → running, committed at once), so a duplicate delivery of the
    task does nothing; a batch left running by a worker that died (no progress for
    lib.progress.ABANDONED_AFTER) is claimed again and run from the start. The records and
    the batch's final state commit together: a worker that dies halfway wrote nothing. A
    file that cannot be used fails the batch with the reason; any other exception fails it
    with a general message and is raised again for the worker's log.
    """
    if not lib_progress.claim(
        ImportBatch.objects.all(),
        batch_id,
        queued=ImportBatch.Status.QUEUED,
        running=ImportBatch.Status.RUNNING,
        key=ImportBatch(pk=batch_id).progress_cache_key,
    ):
        return None
    batch = ImportBatch.objects.select_related("created_by").get(pk=batch_id)
    importer = importer_for(batch)
    report = _throttled(batch)
    report(READING, 0, None)
    committed = False
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects, no cycles (see catalog imports)
    try:
        with batch.file.open("rb") as handle:
            lines = list(_rows(handle, batch.file_name, stored=True))
        _give_back_freed_memory()
        with ExitStack() as stack:
            parts = {
                name: _part_cells(batch, name, stack.enter_context(_part_rows(batch, name)))
                for name in batch.parts
            }
            # The header's cells go too: a text where a document is expected matches nothing.
            state = importer.start(
                parts,
                main=(_cells(v, batch.mapping) for _l, v in lines),
                options=importer.chosen(batch.options),
            )
        with transaction.atomic():
            _run(batch, importer, lines, report, state)
        committed = batch.is_applied
    except ValidationError as exc:
        _fail(batch, " ".join(exc.messages))
    except IntegrityError:
        # A customer of the file registered meanwhile by someone else: nothing was written.
        _fail(batch, _("Los datos cambiaron mientras se importaba el archivo; vuelva a subirlo."))
    except Exception:
        _fail(batch, _("Error inesperado al importar; el equipo técnico tiene el detalle."))
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    if committed:
        _analyze(importer, batch)
    return batch


# After an import or an undo that wrote at least this many rows, PostgreSQL's statistics of
# the tables it wrote are refreshed at once (PostgreSQL's own advice after a bulk load).
# Until autovacuum got to them (a minute, or never below a tenth of a large table), the
# planner read new tables as empty or small ones as they were: a 7-table join planned on
# such statistics ran for minutes (seen in the test suite). ~0.1–0.5 s a table: ANALYZE
# reads a sample, not the table.
ANALYZE_FROM_ROWS = 10_000


def _analyze(importer: Importer, batch: ImportBatch) -> None:
    if batch.created_count + batch.updated_count < ANALYZE_FROM_ROWS:
        return
    tables = {model._meta.db_table for model in importer.written}
    if not tables or connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            names = ", ".join(connection.ops.quote_name(table) for table in sorted(tables))
            cursor.execute(f"ANALYZE {names}")
    except DatabaseError:
        # The import is done either way; autovacuum refreshes the statistics in time.
        logger.warning("ANALYZE after import %s failed", batch.pk, exc_info=True)


def _give_back_freed_memory() -> None:
    """Hand the memory the reader freed back to the system (glibc keeps it otherwise).

    python-calamine's copy of a workbook is freed once its rows are Python objects; left
    to glibc, a run of 100,000 rows kept up to 50 MB of it beside the rows, more or less
    by chance (bench_campaign_import). Elsewhere than glibc there is nothing to call.
    """
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _part_cells(
    batch: ImportBatch, name: str, rows: Iterator[spreadsheets.Row]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield a part's data rows as (line, field → cell), after checking its header."""
    info = batch.parts[name]
    _line, header = _header(rows)
    if header != info["header"]:
        raise ValidationError(
            _("El encabezado de «%(file)s» cambió; vuelva a subirlo.") % {"file": info["file_name"]}
        )
    importer = importer_for(batch)
    for line, values in rows:
        if not all(spreadsheets.is_blank(v) for v in values):
            cells = _cells(values, info["mapping"])
            # A part's row is no row of the file to refuse alone: the run fails, saying where.
            if problems := spreadsheets.clean_cells(cells, lambda f: _label(importer, name, f)):
                raise ValidationError(
                    _("«%(file)s», línea %(line)s: %(problem)s")
                    % {"file": info["file_name"], "line": line, "problem": problems[0]}
                )
            yield line, cells


def _run(batch: ImportBatch, importer: Importer, lines: list, report, state: Any) -> None:
    total = len(lines)
    rows = _consumed(lines)
    _line, header = _header(rows)
    if header != batch.header:
        raise ValidationError(_("El encabezado del archivo cambió; vuelva a subirlo."))
    valid: list[tuple[int, Any]] = []
    bad: dict[int, list[str]] = {}
    originals: dict[int, Sequence[Any]] = {}
    first_line_of: dict[tuple, int] = {}
    count = 0
    for line, values in rows:
        if all(spreadsheets.is_blank(v) for v in values):
            continue
        count += 1
        if count % REPORT_EVERY_ROWS == 0:
            report(VALIDATING, line, total)
        row, messages = _parsed(importer, _cells(values, batch.mapping), state)
        if row is not None:
            key = importer.key(row)
            if key in first_line_of:
                messages.append(
                    _("Fila repetida en el archivo (ya aparece en la línea %(line)s).")
                    % {"line": first_line_of[key]}
                )
            else:
                first_line_of[key] = line
        if messages:
            bad[line] = messages
            originals[line] = values
        else:
            valid.append((line, row))
    report(VALIDATING, total, total)
    leftovers = importer.leftovers(state)
    if leftovers:
        raise ValidationError(leftovers[:LEFTOVERS_SHOWN])
    batch.row_count = count
    if bad and not batch.skip_invalid:
        _finish(batch, applied=False, bad=bad, originals=originals, header=header)
        return
    try:
        with transaction.atomic():
            outcome = importer.write(
                batch,
                valid,
                actor=batch.created_by,
                progress=lambda done, of: report(WRITING, done, of),
                state=state,
            )
            if outcome.errors and not batch.skip_invalid:
                # Rows only the writing could refuse (a loan whose balance does not match):
                # all or nothing still holds, so what was written goes back.
                raise _WriteRefused(outcome)
    except _WriteRefused as refused:
        _add_write_errors(refused.outcome, batch, bad, originals)
        _finish(batch, applied=False, bad=bad, originals=originals, header=header)
        return
    _add_write_errors(outcome, batch, bad, originals)
    batch.created_count = outcome.created
    batch.updated_count = outcome.updated
    batch.unchanged_count = outcome.unchanged
    batch.conflict_count = outcome.conflicts
    batch.skipped_count = len(bad)
    _finish(batch, applied=True, bad=bad, originals=originals, header=header)


def _consumed(lines: list) -> Iterator[spreadsheets.Row]:
    """Yield the items of `lines`, dropping each from the list once the next is asked for.

    The file's cells are read once into a list (the importer's `start` reads them first).
    Validating drops each row's cells as it goes, so the rows parsed for the writing take
    the place of the cells they came from instead of adding to them; a bad row's cells are
    kept in `originals`, and a row the writing refuses has its cells read again from the
    file (`_add_write_errors`). 100,000 campaigns: the cells were 48 MB of the run's peak.
    """
    for index in range(len(lines)):
        yield lines[index]
        lines[index] = None


class _WriteRefused(Exception):
    def __init__(self, outcome: registry.Outcome) -> None:
        super().__init__()
        self.outcome = outcome


def _add_write_errors(
    outcome: registry.Outcome, batch: ImportBatch, bad: dict, originals: dict
) -> None:
    """Add the rows the writing refused to the bad ones, with their cells read again from
    the file (validating dropped the good rows' cells, see `_consumed`)."""
    if not outcome.errors:
        return
    with batch.file.open("rb") as handle:
        by_line = {
            line: values
            for line, values in _rows(handle, batch.file_name, stored=True)
            if line in outcome.errors
        }
    for line, message in outcome.errors.items():
        bad.setdefault(line, []).append(message)
        originals[line] = by_line.get(line, ())


def _finish(batch, *, applied: bool, bad: dict, originals: dict, header: list[str]) -> None:
    batch.is_applied = applied
    batch.status = ImportBatch.Status.DONE
    batch.finished_at = timezone.now()
    batch.error_row_count = len(bad)
    batch.error_preview = [
        [line, " ".join(messages)] for line, messages in sorted(bad.items())[:ERROR_PREVIEW_ROWS]
    ]
    if bad:
        batch.errors_file.save(
            "filas-con-errores.xlsx",
            ContentFile(errors_xlsx(header, bad, originals)),
            save=False,
        )
    batch.save()


def _fail(batch: ImportBatch, reason: str) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED, finished_at=timezone.now(), failure=reason[:2000]
    )
    batch.refresh_from_db()


def errors_xlsx(header: list[str], bad: Mapping[int, list[str]], originals: Mapping) -> bytes:
    """Return the bad rows as the file had them, plus their line and what is wrong, as .xlsx.

    The file's own columns come first, so the user fixes the cells and uploads it again.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Filas con errores")[:31])
    sheet.append([_xlsx_value(sheet, v) for v in [*header, _("Línea original"), _("Errores")]])
    for line in sorted(bad):
        values = list(originals.get(line, ()))[: len(header)]
        values += [""] * (len(header) - len(values))
        cells = [_xlsx_value(sheet, v) for v in values]
        sheet.append([*cells, line, _xlsx_value(sheet, " ".join(bad[line]))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(sheet, value: Any) -> Any:
    """A cell as the file had it; a text always as text, as much of it as a cell holds
    (a bad row's control characters, which the errors name, left out)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheets.xlsx_text_cell(sheet, value)
    return value


# --- Progress ----------------------------------------------------------------------------


def save_progress(batch: ImportBatch, *, phase: str, done: int, total: int | None) -> None:
    # Never raises: a Redis restart failed good imports ("Error inesperado").
    lib_progress.save(
        batch.progress_cache_key,
        {"phase": phase, "done": done, "total": total},
        PROGRESS_CACHE_SECONDS,
    )


def resume_abandoned() -> int:
    """Send again the run of every batch queued or running whose progress stopped for
    lib.progress.ABANDONED_AFTER: its task was lost (a broker error at the commit) or its
    worker died (a deploy, out of memory). Return how many were sent. Beat runs it every
    5 minutes; the run's claim makes a duplicate harmless. A batch interrupted
    lib.progress.MAX_SENDS times (a file too big for the worker's memory kills it each
    time) fails, saying so."""
    return lib_progress.send_again(
        ImportBatch.objects.all(),
        queued=ImportBatch.Status.QUEUED,
        running=ImportBatch.Status.RUNNING,
        failed=ImportBatch.Status.FAILED,
        failure=_(
            "La importación se interrumpió %(times)s veces; divida el archivo y vuelva a subirlo."
        )
        % {"times": lib_progress.MAX_SENDS},
        key_of=lambda pk: ImportBatch(pk=pk).progress_cache_key,
        task="crm.run_import",
        argument="batch_id",
    )


def _throttled(batch: ImportBatch):
    last = {"phase": "", "at": 0.0}

    def report(phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if phase == last["phase"] and done != total and now - last["at"] < PROGRESS_EVERY_SECONDS:
            return
        last["phase"], last["at"] = phase, now
        save_progress(batch, phase=phase, done=done, total=total)

    return report


@dataclass(frozen=True)
class Progress:
    phase: str
    done: int
    total: int | None
    idle_seconds: int

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return max(0, min(100, int(100 * self.done / self.total)))

    @property
    def is_stalled(self) -> bool:
        return self.idle_seconds > STALLED_SECONDS


def progress(batch: ImportBatch) -> Progress | None:
    """Return where a queued or running batch is, as the task last saved it."""
    if batch.is_finished or batch.status == ImportBatch.Status.UPLOADED:
        return None
    saved = lib_progress.read(batch.progress_cache_key)
    at = saved.get("at") or batch.created_at.timestamp()
    return Progress(
        phase=saved.get("phase", READING),
        done=int(saved.get("done") or 0),
        total=saved.get("total"),
        idle_seconds=max(0, int(time.time() - at)),
    )


# --- Undo and conflicts ------------------------------------------------------------------


def undo_blockers(batch: ImportBatch) -> list[str]:
    """Return why the batch cannot be undone now; [] when it can."""
    if batch.status != ImportBatch.Status.DONE or not batch.is_applied:
        return [_("Solo se deshace una importación terminada que escribió registros.")]
    if not batch.created_count and not batch.updated_count:
        return [_("Esta importación no creó ni cambió registros: no hay nada que deshacer.")]
    return importer_for(batch).undo_blockers(batch)


def undo_import(*, batch: ImportBatch, actor: AbstractBaseUser) -> ImportBatch:
    """Undo a batch: remove what it created, put back what it replaced; refuse if changed since."""
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
            importer = importer_for(batch)
            # Locked before they are checked: a note or a payment recorded on them at the
            # same moment is seen (and refuses the undo) or waits for it.
            if batch.status == ImportBatch.Status.DONE and batch.is_applied:
                importer.lock_for_undo(batch)
            blockers = undo_blockers(batch)
            if blockers:
                raise ValidationError(blockers)
            importer.undo(batch, actor=actor)
            transaction.on_commit(lambda: _analyze(importer, batch))
            batch.status = ImportBatch.Status.UNDONE
            batch.undone_at = timezone.now()
            batch.undone_by = people.signed_in(actor)
            batch.save(update_fields=["status", "undone_at", "undone_by"])
            # The foreign keys are checked at commit: checked here, a row that still
            # points at what was removed refuses the undo instead of failing its commit.
            if connection.vendor == "postgresql":  # SQLite checks each statement at once
                connection.check_constraints()
    except IntegrityError as exc:
        raise ValidationError(
            _(
                "No se deshizo la importación: mientras se deshacía se registró actividad en "
                "sus registros. Revise la importación de nuevo."
            )
        ) from exc
    return batch


@transaction.atomic
def decide_conflict(*, record: ImportRecord, accept: bool, actor: AbstractBaseUser) -> None:
    """Accept (apply) or reject an identity change an import left for a person to decide."""
    record = ImportRecord.objects.select_for_update().select_related("batch").get(pk=record.pk)
    if record.conflict_status != ImportRecord.Conflict.PENDING:
        raise ValidationError(_("Este conflicto ya se decidió."))
    importer_for(record.batch).decide(record, accept=accept, actor=actor)
    record.conflict_status = (
        ImportRecord.Conflict.ACCEPTED if accept else ImportRecord.Conflict.REJECTED
    )
    record.decided_by = people.signed_in(actor)
    record.decided_at = timezone.now()
    record.save(update_fields=["conflict_status", "decided_by", "decided_at"])
