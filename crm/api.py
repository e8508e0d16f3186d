"""The lender's book in the JSON API (config/api.py mounts it at /api/v1/cartera/): customers
and loans sent as rows and imported by the same service as a file on the imports page
(`crm.imports.services`: the same validation, matching, conflicts, history and undo), the
import's progress and result, and the customers read back (list and detail). The loans are
read back at /api/v1/cartera/creditos (credits/api.py).

Every endpoint needs an API client's token with the "book" scope and is limited per token.
A row's keys are its fields' names in Spanish (`GET /cartera/importaciones/campos` lists
them per kind); values are text or numbers, as a spreadsheet's cells. An import answers 202
at once: its rows are read by the worker, and `url_estado` tells how it went.
"""

import csv
import io
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict, field_validator

from crm import selectors
from crm.api_schemas import (
    NOT_FOUND,
    TOKEN_ERRORS,
    BotIn,
    DetailOut,
    DocumentIn,
    PageOut,
    PageQuery,
    local_time,
    paged,
)
from crm.imports import registry
from crm.imports import services as import_services
from crm.models import Branch, Channel, Customer, ImportBatch
from integrations import api_clients
from lib import search, small_tables

SCOPE = "book"
# The kinds this API imports, by the name it gives them.
KINDS = {"clientes": "customers", "creditos": "loans"}
MAX_ROWS = 5_000
# A loan's installments and payments. The whole body is bounded before this, by Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB, some 30,000 rows; 413): a larger book goes as files.
MAX_PART_ROWS = 30_000
MAX_CELL = 255
ERRORS_SHOWN = 50
# The API's names of the document's fields, as its other endpoints name them.
DOCUMENT_KEYS = {"document_type": "tipo_documento", "document_number": "numero_documento"}

router = Router(
    auth=api_clients.TokenAuth(SCOPE),
    throttle=api_clients.ClientRateLimit(),
    tags=["cartera"],
)

Cell = str | int | float | None


def key_of(field: registry.Field) -> str:
    """Return a field's key in this API: its label in lower case, without accents or
    what is in parentheses, words joined by "_" ("Fecha de desembolso" → fecha_de_desembolso)."""
    if field.name in DOCUMENT_KEYS:
        return DOCUMENT_KEYS[field.name]
    label = search.normalize(str(field.label)).split("(")[0]
    return "_".join("".join(c if c.isalnum() else " " for c in label).split())


# --- Input ---------------------------------------------------------------------------------


class ImportIn(BotIn):
    model_config = ConfigDict(extra="forbid")

    filas: list[dict[str, Cell]] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description="Una fila por cliente o crédito, con los campos del tipo "
        "(GET /cartera/importaciones/campos).",
    )
    cuotas: list[dict[str, Cell]] = Field(
        default_factory=list,
        max_length=MAX_PART_ROWS,
        description="Solo créditos: el cronograma del sistema de origen, una fila por cuota "
        "(sin él, se calcula).",
    )
    pagos: list[dict[str, Cell]] = Field(
        default_factory=list,
        max_length=MAX_PART_ROWS,
        description="Solo créditos: el historial de pagos, una fila por pago.",
    )
    omitir_errores: bool = Field(
        False, description="Importar las filas correctas aunque otras tengan errores."
    )

    @field_validator("filas", "cuotas", "pagos")
    @classmethod
    def _short_cells(cls, rows: list[dict[str, Cell]]) -> list[dict[str, Cell]]:
        for row in rows:
            for name, value in row.items():
                if len(name) > 60 or (isinstance(value, str) and len(value) > MAX_CELL):
                    raise ValueError(
                        _("Un campo o un valor es demasiado largo (hasta %(max)s caracteres).")
                        % {"max": MAX_CELL}
                    )
        return rows


class CustomerQuery(PageQuery):
    q: str | None = Field(None, max_length=100, description="Documento, nombre, correo o celular.")


class CustomerKeyIn(DocumentIn):
    """The customer's document, from the path."""


# --- Answers -------------------------------------------------------------------------------


class UploadOut(Schema):
    id: int = Field(description="La importación.")
    estado: str
    url_estado: str = Field(description="Dónde consultar su avance y resultado.")


class RowErrorOut(Schema):
    linea: int = Field(
        description="Línea del archivo, la 1 es su encabezado: en una importación por esta "
        "API, la fila N de `filas` es la línea N + 1."
    )
    mensaje: str


class ProgressOut(Schema):
    fase: str
    hechas: int
    total: int | None


class UploadStatusOut(Schema):
    id: int
    estado: Literal["uploaded", "queued", "running", "done", "failed", "undone"] = Field(
        description="queued (en cola), running (en curso), done (terminada), failed (falló), "
        "undone (deshecha)."
    )
    estado_nombre: str
    archivo: str
    aplicada: bool = Field(
        description="Si escribió algo: sin «omitir_errores», una carga con errores no escribe nada."
    )
    filas: int
    creadas: int
    filas_con_errores: int
    omitidas: int
    errores: list[RowErrorOut] = Field(description="Las primeras filas con errores.")
    fallo: str
    avance: ProgressOut | None


class ImportStatusOut(UploadStatusOut):
    tipo: str
    actualizadas: int
    sin_cambios: int
    conflictos: int = Field(
        description="Clientes con otros nombres, o con otro celular, teléfono o correo que el "
        "registrado: el cambio espera que una persona lo acepte o rechace en la página de la "
        "importación."
    )


class FieldOut(Schema):
    campo: str
    nombre: str
    obligatorio: bool
    ayuda: str


class KindFieldsOut(Schema):
    tipo: str
    filas: list[FieldOut]
    cuotas: list[FieldOut]
    pagos: list[FieldOut]


class BookCustomerOut(Schema):
    id: int
    tipo_documento: str
    numero_documento: str
    nombres: str
    apellidos: str
    celular: str
    telefono_alternativo: str
    correo: str
    direccion: str
    ciudad: str
    sucursal: str
    canal: str
    etiquetas: list[str]
    no_contactar: bool
    creado: Any = Field(description="Fecha y hora de registro (ISO 8601).")


class CustomerPageOut(PageOut):
    resultados: list[BookCustomerOut]


# --- Endpoints -----------------------------------------------------------------------------


@router.get(
    "/importaciones/campos",
    response={200: list[KindFieldsOut], **TOKEN_ERRORS},
    summary="Los campos de cada tipo de importación",
    url_name="book_import_fields",
)
def import_fields(request: HttpRequest) -> list[dict]:
    """The keys a row of each kind takes, which are required, and what they expect."""
    return [
        {
            "tipo": name,
            "filas": _fields(importer.fields),
            **{
                api_name: _fields(part.fields) if part else []
                for api_name, part in _parts(importer).items()
            },
        }
        for name, importer in _importers().items()
    ]


@router.post(
    "/importaciones/{tipo}",
    response={202: UploadOut, 404: DetailOut, 400: DetailOut, 413: DetailOut, **TOKEN_ERRORS},
    summary="Importar clientes o créditos (crear o actualizar)",
    url_name="book_import",
)
def import_rows(request: HttpRequest, tipo: str, payload: ImportIn) -> Status:
    """Import the rows as the imports page imports a file: a customer is matched by its
    document (address, city, branch and channel updated, a missing phone or e-mail filled;
    other names, phones or e-mail wait for a person), a loan by its payment code (one
    already there stays as it is). Without `omitir_errores`, one bad row
    and nothing is written. Answers 202 with where to follow it."""
    importer = _importers().get(tipo)
    if importer is None:
        raise HttpError(404, _("Tipo de importación desconocido: use clientes o creditos."))
    tables = {"filas": (importer.fields, payload.filas)}
    for api_name, part in _parts(importer).items():
        rows = getattr(payload, api_name)
        if rows and part is None:
            raise _invalid(api_name, _("Este tipo de importación no lleva esta tabla."))
        if part is not None:
            tables[api_name] = (part.fields, rows)
    files = {api_name: _csv(api_name, fields, rows) for api_name, (fields, rows) in tables.items()}
    # The batch's file name is how the imports' history and each customer's timeline name
    # where the rows came from: the API client, since no person uploaded them.
    client = str(request.auth).replace("/", "-").replace("\\", "-")
    for api_name, (file, _mapping) in files.items():
        file.name = f"API {client} · {api_name}.csv"
    names = {api_name: part.name for api_name, part in _parts(importer).items() if part}
    with_rows = [name for name in names if tables[name][1]]
    try:
        batch = import_services.upload(
            kind=importer.kind,
            file=files["filas"][0],
            actor=None,
            parts={names[n]: files[n][0] for n in with_rows} or None,
        )
    except DjangoValidationError as exc:
        raise _invalid("filas", " ".join(exc.messages)) from exc
    try:
        batch = import_services.queue_import(
            batch=batch,
            mapping=files["filas"][1],
            part_mappings={names[n]: files[n][1] for n in with_rows},
            skip_invalid=payload.omitir_errores,
            actor=None,
        )
    except DjangoValidationError as exc:
        # Nobody will map columns on screen for an API client: the upload goes, file and all.
        import_services.discard_upload(batch=batch)
        raise _invalid("filas", " ".join(exc.messages)) from exc
    return accepted(request, batch, "book_import_status")


@router.get(
    "/importaciones/{batch_id}/estado",
    response={200: ImportStatusOut, **NOT_FOUND},
    summary="Avance y resultado de una importación",
    url_name="book_import_status",
)
def import_status(request: HttpRequest, batch_id: int) -> dict:
    """Where an import of customers or loans is (from this API or the imports page), and
    once done what it wrote and its first bad rows with their reasons."""
    kinds = {kind: name for name, kind in KINDS.items()}
    batch = ImportBatch.objects.filter(pk=min(batch_id, 2**63 - 1), kind__in=kinds).first()
    if batch is None:
        raise HttpError(404, _("No existe una importación de clientes o créditos con ese número."))
    return {**batch_status(batch), "tipo": kinds[batch.kind]}


@router.get(
    "/clientes",
    response={200: CustomerPageOut, **TOKEN_ERRORS},
    summary="Listar clientes",
    url_name="book_customer_list",
)
def customer_list(request: HttpRequest, params: Query[CustomerQuery]) -> dict:
    """The customers by name, or those matching `q`; a page at a time."""
    # A record merged into another one (crm.merge) is not listed: the kept one is.
    customers = Customer.objects.current().order_by("last_name", "first_name", "pk")
    if params.q and params.q.strip():
        customers = selectors.search_customers(customers, params.q)
    header, page = paged(customers, params)
    return {**header, "resultados": _customers(page)}


@router.get(
    "/clientes/{tipo_documento}/{numero_documento}",
    response={200: BookCustomerOut, **NOT_FOUND},
    summary="Un cliente por su documento",
    url_name="book_customer_detail",
)
def customer_detail(request: HttpRequest, key: Path[CustomerKeyIn]) -> dict:
    # The document of a record merged into another one (crm.merge) gives the kept record,
    # with its own document.
    customer = (
        Customer.objects.filter(
            document_type=key.tipo_documento, document_number=key.numero_documento
        )
        .resolved()
        .first()
    )
    if customer is None:
        raise HttpError(404, _("No hay un cliente registrado con ese documento."))
    return _customers([customer])[0]


# --- Steps ---------------------------------------------------------------------------------


def accepted(request: HttpRequest, batch: ImportBatch, status_url_name: str) -> Status:
    """Answer 202 for a queued import, with where to follow it (its status endpoint)."""
    url = reverse(f"api-v1:{status_url_name}", kwargs={"batch_id": batch.pk})
    return Status(
        202,
        {"id": batch.pk, "estado": batch.status, "url_estado": request.build_absolute_uri(url)},
    )


def batch_status(batch: ImportBatch) -> dict:
    """An import's state, counts, first errors and progress, as this API answers them."""
    progress = import_services.progress(batch)
    return {
        "id": batch.pk,
        "estado": batch.status,
        "estado_nombre": batch.get_status_display(),
        "archivo": batch.file_name,
        "aplicada": batch.is_applied,
        "filas": batch.row_count,
        "creadas": batch.created_count,
        "actualizadas": batch.updated_count,
        "sin_cambios": batch.unchanged_count,
        "conflictos": batch.conflict_count,
        "filas_con_errores": batch.error_row_count,
        "omitidas": batch.skipped_count,
        "errores": [
            {"linea": line, "mensaje": message}
            for line, message in (batch.error_preview or [])[:ERRORS_SHOWN]
        ],
        "fallo": batch.failure,
        "avance": {"fase": progress.phase, "hechas": progress.done, "total": progress.total}
        if progress is not None
        else None,
    }


def _importers() -> dict[str, registry.Importer]:
    return {name: imp for name, kind in KINDS.items() if (imp := registry.get(kind)) is not None}


def _parts(importer: registry.Importer) -> dict[str, Any]:
    """The kind's additional tables by this API's name (None where the kind has none)."""
    by_name = {part.name: part for part in importer.parts}
    return {"cuotas": by_name.get("installments"), "pagos": by_name.get("payments")}


def _fields(fields: tuple[registry.Field, ...]) -> list[dict]:
    return [
        {
            "campo": key_of(field),
            "nombre": str(field.label),
            "obligatorio": field.required,
            "ayuda": str(field.help),
        }
        for field in fields
    ]


def _csv(
    table: str, fields: tuple[registry.Field, ...], rows: list[dict[str, Cell]]
) -> tuple[SimpleUploadedFile, dict[str, int]]:
    """Write the rows as a UTF-8 .csv with a column per field; return it and its columns.

    A key that is no field of the table is refused (422), naming the row."""
    keys = {key_of(field): field.name for field in fields}
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(keys))
        if unknown:
            raise _invalid(
                table,
                _("La fila %(n)s trae campos desconocidos: %(fields)s.")
                % {"n": number, "fields": ", ".join(unknown)},
            )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(keys))
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row[key] for key in keys])
    content = out.getvalue().encode("utf-8")
    mapping = {name: index for index, name in enumerate(keys.values())}
    return SimpleUploadedFile(f"api-{table}.csv", content, "text/csv"), mapping


def _invalid(table: str, message: str) -> ValidationError:
    return ValidationError(
        [{"type": "value_error", "loc": ["body", "payload", table], "msg": message}]
    )


def _customers(customers: list[Customer]) -> list[dict]:
    """The customers as this API writes them (their tags, branches and channels read once)."""
    tags = selectors.tags_of([customer.pk for customer in customers])
    branches, channels = small_tables.rows(Branch, Channel)
    return [
        {
            "id": customer.pk,
            "tipo_documento": customer.document_type,
            "numero_documento": customer.document_number,
            "nombres": customer.first_name,
            "apellidos": customer.last_name,
            "celular": str(customer.phone or ""),
            "telefono_alternativo": str(customer.phone_secondary or ""),
            "correo": customer.email,
            "direccion": customer.address,
            "ciudad": customer.city,
            "sucursal": str(branches.get(customer.branch_id) or ""),
            "canal": str(channels.get(customer.channel_id) or ""),
            "etiquetas": [tag.name for tag in tags[customer.pk]],
            "no_contactar": customer.has_opted_out,
            "creado": local_time(customer.created_at),
        }
        for customer in customers
    ]
