"""Written-off campaigns in the JSON API (config/api.py mounts them at /api/v1/recuperacion/):
make one, upload a file of them, list, read and finish them, through the same services as
the agents' screens and the file import.

Every endpoint needs an API client's token with the "recovery" scope, and is limited per
token (the client's requests per minute). Field names are the file's columns, in Spanish;
amounts are decimal strings with two places, as in the rest of the API; messages, field
errors included, are in Spanish.

An API client is no person: what it makes is recorded with no actor (the system), and the
client's name goes in the timeline entry's data where the service takes one.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Body, Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile
from pydantic import ConfigDict

from crm import api as book_api
from crm import validators as document_validators
from crm.api import UploadOut, UploadStatusOut
from crm.api_schemas import (
    NOT_FOUND,
    TOKEN_ERRORS,
    BotIn,
    DetailOut,
    DocumentIn,
    LocalDateTime,
    PageOut,
    PageQuery,
    PlainDecimal,
    PlainInt,
    amount_text,
    paged,
)
from crm.imports import services as import_services
from crm.models import Customer, ImportBatch
from integrations import api_clients
from lib import search
from recovery import selectors, services
from recovery.imports import CREATE_CUSTOMERS, CampaignImporter
from recovery.models import MAX_DEBT, Campaign, CampaignPayment

SCOPE = "recovery"
KIND = CampaignImporter.kind

router = Router(
    auth=api_clients.TokenAuth(SCOPE),
    throttle=api_clients.ClientRateLimit(),
    tags=["recuperación"],
)

# The API's words for the discount types.
DISCOUNT_TYPES = {
    "porcentaje": Campaign.DiscountType.PERCENT,
    "monto": Campaign.DiscountType.AMOUNT,
}
DISCOUNT_NAMES = {value: name for name, value in DISCOUNT_TYPES.items()}
# A service's field name -> the API's, for the errors it raises.
FIELDS = {
    "code": "id_campana",
    "debt_amount": "monto_deuda",
    "discount_type": "tipo_descuento",
    "discount_value": "valor_descuento",
    "ends_on": "fecha_fin",
    "payment_code": "codigo_pago_asociado",
    "currency": "moneda",
}
# A file's columns named as this API's fields are the import's fields too (the template's
# Spanish headers are recognized by the import itself).
FILE_COLUMNS = {
    "tipo documento": "document_type",
    "numero documento": "document_number",
    "id campana": "code",
    "monto deuda": "debt_amount",
    "tipo descuento": "discount_type",
    "valor descuento": "discount_value",
    "monto campana": "amount",
    "saldo": "balance",
    "fecha fin": "ends_on",
    "codigo pago asociado": "payment_code",
    "moneda": "currency",
    "nombres": "first_name",
    "apellidos": "last_name",
    "celular": "phone",
    "correo": "email",
}
# The import's field -> the column name this API documents (numero_documento, ...).
API_COLUMNS = {field: column.replace(" ", "_") for column, field in FILE_COLUMNS.items()}
FIRST_DAY = date(2000, 1, 1)


# --- Input ---------------------------------------------------------------------------------


# An end date beyond this is a typing mistake, not a campaign (the service refuses one gone).
LAST_DAY = date(2099, 12, 31)
SaneDate = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
Money = Annotated[PlainDecimal, Field(le=MAX_DEBT, decimal_places=2)]
CampaignCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=services.MAX_CODE,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$",
        description="ID de la campaña de cartera castigada (hasta 30 caracteres).",
    ),
]
PaymentCode = Annotated[
    str,
    Field(
        max_length=30,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Código de pago del crédito que origina la campaña; vacío: los créditos "
        "castigados del cliente a la fecha (no los que se castiguen después).",
    ),
]


class CampaignIn(DocumentIn):
    model_config = ConfigDict(extra="forbid")

    id_campana: CampaignCode
    monto_deuda: Money = Field(gt=0, description="Monto de la deuda castigada.")
    tipo_descuento: Literal["porcentaje", "monto"] = Field(
        description="Cómo se expresa el descuento."
    )
    valor_descuento: Money = Field(
        ge=0,
        description=(
            "El porcentaje (40 es 40 %) o el monto del descuento; menor que la deuda y no más "
            "que el descuento máximo del portal de cartera castigada (95 % si nadie lo cambió). "
            "Con codigo_pago, monto_deuda debe estar entre la mitad y el doble del saldo de ese "
            "crédito."
        ),
    )
    fecha_fin: SaneDate | None = Field(
        None,
        description="Fecha de finalización (AAAA-MM-DD), de hoy a 10 años; vacía: no vence.",
    )
    codigo_pago_asociado: PaymentCode = ""
    moneda: Literal["PEN", "USD"] | None = Field(
        None,
        description=(
            "PEN o USD; vacía: la de los créditos castigados que cubre (el de "
            "codigo_pago_asociado o, sin él, los castigados del cliente: si los tiene en soles "
            "y en dólares, indique el código de pago). Si la indica, debe ser esa."
        ),
    )


class ListQuery(PageQuery):
    estado: PlainInt | None = Field(
        None, ge=0, le=2, description="0: activa, 1: pagada, 2: finalizada."
    )
    id_campana: str | None = Field(None, max_length=services.MAX_CODE)
    numero_documento: str | None = Field(None, max_length=20, pattern=r"^[0-9A-Za-z .-]+$")


class FinishIn(BotIn):
    model_config = ConfigDict(extra="forbid")

    motivo: str = Field("", max_length=200, description="Por qué se finaliza (opcional).")


# --- Answers -------------------------------------------------------------------------------


class PaymentOut(Schema):
    id: int
    monto: str
    fecha: date
    origen: str
    referencia: str
    estado: Literal["aplicado", "anulado"]
    pagado_en_exceso: str
    anulado_el: LocalDateTime | None
    motivo_anulacion: str


class CampaignOut(Schema):
    id: int
    tipo_documento: str
    numero_documento: str
    cliente: str = Field(description="Nombre completo del cliente.")
    id_campana: str
    monto_deuda: str
    tipo_descuento: Literal["porcentaje", "monto"]
    valor_descuento: str
    monto_descuento: str = Field(description="El descuento en dinero (calculado).")
    monto_campana: str = Field(description="Lo que cancela la campaña (calculado).")
    pagado: str
    saldo: str = Field(description="El monto de la campaña menos los pagos (calculado).")
    moneda: str
    fecha_fin: date | None
    codigo_pago_asociado: str
    estado: int = Field(description="0: activa, 1: pagada, 2: finalizada.")
    creada: LocalDateTime


class CampaignDetailOut(CampaignOut):
    pagos: list[PaymentOut]


class CampaignPageOut(PageOut):
    resultados: list[CampaignOut]


BODY_ERRORS: dict[int, Any] = {413: DetailOut, **TOKEN_ERRORS}


# --- Endpoints -----------------------------------------------------------------------------


@router.post(
    "/campanas",
    response={
        200: CampaignDetailOut,
        201: CampaignDetailOut,
        404: DetailOut,
        409: DetailOut,
        **BODY_ERRORS,
    },
    summary="Crear una campaña de cartera castigada",
    url_name="recovery_campaign_create",
)
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status:
    """Make one campaign for a registered customer (404 if the document is nobody's). The
    campaign amount and its balance are computed; the customer gets the «Cartera castigada»
    tag. Sent again (a retry whose answer was lost): the customer's campaign with this code
    and the same terms (debt, discount, end date, payment code) is answered, 200. Refused:
    a customer with an active campaign of other terms (409, naming it); by field (422), a
    discount not below the debt, an end date gone, a payment code that is not the
    customer's, a customer who had this campaign with other terms."""
    # A record merged into another answers as the kept one (crm.merge).
    customer = (
        Customer.objects.filter(
            document_type=payload.tipo_documento, document_number=payload.numero_documento
        )
        .resolved()
        .first()
    )
    if customer is None:
        raise HttpError(
            404, _("No hay un cliente registrado con ese documento: regístrelo primero.")
        )
    try:
        with _service_errors():
            campaign = services.create_campaign(
                customer=customer,
                code=payload.id_campana,
                debt_amount=payload.monto_deuda,
                discount_type=DISCOUNT_TYPES[payload.tipo_descuento],
                discount_value=payload.valor_descuento,
                ends_on=payload.fecha_fin,
                payment_code=payload.codigo_pago_asociado,
                currency=payload.moneda or "",
                actor=None,
                source=_by_the_api(request),
            )
    except ValidationError:
        # Looked up once refused: the service decides under the customer's lock, so a
        # repeat sent at the same moment finds the first one here too.
        if (same := _same_campaign(customer, payload)) is not None:
            return Status(200, _detail(same))
        active = Campaign.objects.filter(customer=customer, status=Campaign.Status.ACTIVE).first()
        if active is not None:
            raise HttpError(
                409,
                _(
                    "El cliente ya tiene una campaña activa: %(code)s (id %(id)s). "
                    "Finalícela antes de crear otra."
                )
                % {"code": active.code, "id": active.pk},
            ) from None
        raise
    return Status(201, _detail(campaign))


@router.post(
    "/campanas/carga",
    response={202: UploadOut, **BODY_ERRORS},
    summary="Cargar un archivo de campañas",
    url_name="recovery_campaign_upload",
)
def upload_campaigns(
    request: HttpRequest,
    archivo: UploadedFile = File(  # noqa: B008 (ninja declares parameters so)
        ...,
        description=".xlsx, .xls, .ods o .csv con una fila por campaña: las columnas de la "
        "plantilla o con los nombres de esta API (tipo_documento, numero_documento, "
        "id_campana, monto_deuda, tipo_descuento, valor_descuento, fecha_fin, "
        "codigo_pago_asociado, moneda; y nombres, apellidos, celular, correo para crear clientes).",
    ),
    omitir_errores: bool = Form(
        False, description="Importar las filas correctas aunque otras tengan errores."
    ),
    crear_clientes: bool = Form(
        False, description="Crear los clientes que no estén registrados (con sus nombres)."
    ),
) -> Status:
    """Queue the file's import, as the imports page does; answer at once (202) with where
    to follow it. Without `omitir_errores`, a file with a bad row writes nothing."""
    with _service_errors(source="file", otherwise="archivo"):
        # The batch's file name is how the imports' history names who sent it.
        archivo.name = f"API {str(request.auth).replace('/', '-')} · {archivo.name}"
        batch = import_services.upload(kind=KIND, file=archivo, actor=None)
    mapping = _file_mapping(batch)
    if missing := _missing_columns(mapping):
        # Said in this API's words: "assign a column" is what the imports page asks.
        import_services.discard_upload(batch=batch)
        raise ValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ["file", "archivo"],
                    "msg": _("Al archivo le faltan columnas: %(columns)s.")
                    % {"columns": ", ".join(missing)},
                }
            ]
        )
    try:
        batch = import_services.queue_import(
            batch=batch,
            mapping=mapping,
            skip_invalid=omitir_errores,
            actor=None,
            options={CREATE_CUSTOMERS: crear_clientes},
        )
    except DjangoValidationError as exc:
        # Columns the file lacks: nobody will map them on screen for an API client, so the
        # upload goes, file and all.
        import_services.discard_upload(batch=batch)
        raise ValidationError(
            [{"type": "value_error", "loc": ["file", "archivo"], "msg": m} for m in exc.messages]
        ) from exc
    return book_api.accepted(request, batch, "recovery_upload_status")


@router.get(
    "/campanas/cargas/{batch_id}",
    response={200: UploadStatusOut, **NOT_FOUND},
    summary="Avance y resultado de una carga",
    url_name="recovery_upload_status",
)
def upload_status(request: HttpRequest, batch_id: int) -> dict:
    """Where an uploaded file's import is, and once done what it wrote and its first bad
    rows with their reasons."""
    batch = ImportBatch.objects.filter(pk=batch_id, kind=KIND).first()
    if batch is None:
        raise HttpError(404, _("No existe una carga de campañas con ese número."))
    return book_api.batch_status(batch)


@router.get(
    "/campanas",
    response={200: CampaignPageOut, **TOKEN_ERRORS},
    summary="Listar campañas",
    url_name="recovery_campaign_list",
)
def list_campaigns(request: HttpRequest, params: Query[ListQuery]) -> dict:
    """The campaigns, newest first, by status, campaign id or document; a page at a time."""
    services.finish_ended()  # a campaign past its end date is finished, not active
    campaigns = _listed(params)
    header, page = paged(campaigns, params)
    return {**header, "resultados": [_campaign(campaign) for campaign in page]}


@router.get(
    "/campanas/{campaign_id}",
    response={200: CampaignDetailOut, **NOT_FOUND},
    summary="Una campaña con sus pagos",
    url_name="recovery_campaign_detail",
)
def campaign_detail(request: HttpRequest, campaign_id: int) -> dict:
    campaign = _campaign_or_404(campaign_id)
    if campaign.is_active and campaign.has_ended(timezone.localdate()):
        services.finish_ended()
        campaign.refresh_from_db()
    return _detail(campaign)


@router.post(
    "/campanas/{campaign_id}/finalizar",
    response={200: CampaignDetailOut, 409: DetailOut, **NOT_FOUND, 400: DetailOut, 413: DetailOut},
    summary="Finalizar una campaña",
    url_name="recovery_campaign_finish",
)
def finish_campaign(
    request: HttpRequest,
    campaign_id: int,
    payload: FinishIn | None = Body(None),  # noqa: B008 (ninja declares parameters so)
) -> dict:
    """Finish an active campaign now: the offer ends, the customer loses the tag, and its
    open payment links, promises and agreements are withdrawn (money still paid through a
    withdrawn link is recorded without paying the campaign). A campaign paid or finished
    already answers 409."""
    campaign = _campaign_or_404(campaign_id)
    reason = payload.motivo.strip() if payload is not None else ""
    try:
        campaign = services.finish_campaign(
            campaign=campaign,
            actor=None,
            reason=f"{reason} ({_by_the_api(request)})" if reason else _by_the_api(request),
        )
    except DjangoValidationError as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    return _detail(campaign)


def _by_the_api(request: HttpRequest) -> str:
    """Say who did it when no person did: «por la API (Core bancario)»."""
    return _("por la API (%(client)s)") % {"client": request.auth}


# --- Steps ---------------------------------------------------------------------------------


def _listed(params: ListQuery) -> QuerySet[Campaign]:
    campaigns = Campaign.objects.select_related("customer").order_by("-created_at", "-pk")
    if params.estado is not None:
        campaigns = campaigns.filter(status=params.estado)
    if params.id_campana:
        campaigns = campaigns.filter(code=params.id_campana.strip())
    if params.numero_documento:
        number = document_validators.normalize_document_number(params.numero_documento)
        campaigns = campaigns.filter(customer__document_number=number)
    return campaigns


def _same_campaign(customer: Customer, payload: CampaignIn) -> Campaign | None:
    """Return the customer's campaign with this code and these terms, if there is one."""
    return (
        Campaign.objects.select_related("customer")
        .filter(
            customer=customer,
            code=payload.id_campana.strip(),
            debt_amount=payload.monto_deuda,
            discount_type=DISCOUNT_TYPES[payload.tipo_descuento],
            discount_value=payload.valor_descuento,
            ends_on=payload.fecha_fin,
            payment_code=payload.codigo_pago_asociado.strip(),
            **({"currency": payload.moneda} if payload.moneda else {}),
        )
        .first()
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_related("customer").filter(pk=campaign_id).first()
    if campaign is None:
        raise HttpError(404, _("No existe una campaña con ese número."))
    return campaign


def _file_mapping(batch: ImportBatch) -> dict[str, int]:
    """Return the import's suggested columns, plus those named as this API's fields."""
    mapping = dict(batch.mapping)
    for index, name in enumerate(batch.header):
        field = FILE_COLUMNS.get(search.normalize(str(name or "")).replace("_", " "))
        if field and field not in mapping and index not in mapping.values():
            mapping[field] = index
    return mapping


def _missing_columns(mapping: dict[str, int]) -> list[str]:
    """Return the required columns the file lacks, by this API's names."""
    return [
        API_COLUMNS.get(field.name, str(field.label))
        for field in CampaignImporter().fields
        if field.required and field.name not in mapping
    ]


@contextmanager
def _service_errors(source: str = "body", otherwise: str | None = None) -> Iterator[None]:
    """Turn a service's ValidationError into a 422 with its messages per API field."""
    try:
        yield
    except DjangoValidationError as exc:
        prefix = [source, "payload"] if source == "body" else [source]
        default = [*prefix, otherwise] if otherwise else prefix
        if not hasattr(exc, "error_dict"):
            errors = [{"type": "value_error", "loc": default, "msg": m} for m in exc.messages]
        else:
            errors = [
                {
                    "type": "value_error",
                    "loc": [*prefix, FIELDS[field]] if field in FIELDS else default,
                    "msg": message,
                }
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        raise ValidationError(errors) from exc


# --- Shapes --------------------------------------------------------------------------------


def _campaign(campaign: Campaign) -> dict:
    customer = campaign.customer
    return {
        "id": campaign.pk,
        "tipo_documento": customer.document_type,
        "numero_documento": customer.document_number,
        "cliente": customer.full_name,
        "id_campana": campaign.code,
        "monto_deuda": amount_text(campaign.debt_amount),
        "tipo_descuento": DISCOUNT_NAMES[campaign.discount_type],
        "valor_descuento": amount_text(campaign.discount_value),
        "monto_descuento": amount_text(campaign.discount_amount),
        "monto_campana": amount_text(campaign.amount),
        "pagado": amount_text(campaign.paid_amount),
        "saldo": amount_text(campaign.balance),
        "moneda": campaign.currency,
        "fecha_fin": campaign.ends_on,
        "codigo_pago_asociado": campaign.payment_code,
        "estado": campaign.status,
        "creada": campaign.created_at,
    }


def _detail(campaign: Campaign) -> dict:
    return {
        **_campaign(campaign),
        "pagos": [_payment(p) for p in selectors.campaign_payments(campaign)],
    }


def _payment(payment: CampaignPayment) -> dict:
    return {
        "id": payment.pk,
        "monto": amount_text(payment.amount),
        "fecha": payment.received_on,
        "origen": payment.source,
        "referencia": payment.reference,
        "estado": "aplicado" if payment.status == CampaignPayment.Status.APPLIED else "anulado",
        "pagado_en_exceso": amount_text(payment.overpaid),
        "anulado_el": payment.annulled_at,
        "motivo_anulacion": payment.annul_reason,
    }
