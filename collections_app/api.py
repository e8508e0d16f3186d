"""The collection bot's endpoints of the JSON API (config/api.py mounts them at
/api/v1/cobranzas/): what the bot of the seed does, each call through the same services
as the agents' screens and the portal.

Every endpoint needs an API client's token with the "collections" scope, and is limited
per token (the client's requests per minute) and per identity document
(settings.BOT_API_DOCUMENT_RATE_LIMIT, default 10/m, whatever the client), so the bot
cannot be used to go through documents fast. A debt is named by its payment code among
the customer's open debts; an unknown document or code is a 404. Every call goes on the
customer's timeline as a bot interaction: the services record the writes, and the reads
record one entry each here.

Amounts are decimal strings with two places, as in the rest of the API. Messages, field
errors included, are in Spanish.
"""

import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Header, Query, Router, Schema, Status
from ninja.errors import HttpError, Throttled, ValidationError
from ninja.files import UploadedFile
from pydantic import AfterValidator, ConfigDict
from pydantic_core import PydanticCustomError

from collections_app import receivables, selectors, services
from collections_app.models import (
    GATEWAY_NAMES,
    ApiRequest,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    Portfolio,
    ReportedPayment,
)
from collections_app.receivables import Debt
from crm import display
from crm import services as crm_services
from crm.api_schemas import (
    DetailOut,
    DocumentIn,
    LocalDateTime,
    PlainDecimal,
    PlainInt,
    ValidationErrorOut,
    amount_text,
)
from crm.models import Customer, Interaction
from integrations import api_clients
from integrations.errors import ProviderError, TemporaryProviderError
from lib import ratelimit

SCOPE = "collections"

router = Router(
    auth=api_clients.TokenAuth(SCOPE),
    throttle=api_clients.ClientRateLimit(),
    tags=["cobranzas"],
)

WITH_DEBT = "CON_DEUDA"
NO_DEBT = "SIN_DEUDA"
NOT_FOUND = "NO_ENCONTRADO"
# The 409 of a link through a second gateway while the first one's is open.
OTHER_PAYMENT_UNDER_WAY = "otro_pago_en_curso"
# The 409 of a link for an offer that ended for the debtor (a written-off campaign's
# countdown ran out), in the /recovery/ portal's words.
OFFER_CONCLUDED = "oferta_concluida"
# What the bot may ask for at most; the debt itself bounds every link further.
MAX_AMOUNT = Decimal("99999999.99")
# The longest plan an agreement rule allows is 36 installments; loans have a few hundred.
MAX_INSTALLMENT = 1000

# The bot's words for what the services call otherwise.
CONCEPTS = {
    "total": PaymentLink.Concept.TOTAL,
    "cuota": PaymentLink.Concept.INSTALLMENT,
    "monto": PaymentLink.Concept.CUSTOM,
}
METHODS = {
    "transferencia": ReportedPayment.Method.TRANSFER,
    "deposito": ReportedPayment.Method.DEPOSIT,
    "efectivo": ReportedPayment.Method.CASH,
    "otro": ReportedPayment.Method.OTHER,
}
# A service's field name -> the API's, for the errors it raises.
FIELDS = {
    "amount": "monto",
    "installment_number": "cuota",
    "concept": "concepto",
    "provider": "proveedor",
    "option": "clave",
    "paid_on": "fecha",
    "method": "medio",
    "receipt": "comprobante",
    "phone": "telefono",
    "preferred_at": "horario_preferido",
    "document_number": "numero_documento",
}


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("email", _("Indique un correo electrónico válido.")) from None
    return value


def _local(value: datetime | None) -> datetime | None:
    """Read a time without an offset as Lima's (the bot's users say times as they live them)."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _idempotency_key(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[\x20-\x7e]{1,100}", value):
        raise ValueError(
            _("La clave de idempotencia debe tener de 1 a 100 caracteres ASCII imprimibles.")
        )
    return value


# An optional header of the POSTs that record something: the same key from the same API
# client again answers what the first answer said, whenever it comes.
IdempotencyKey = Annotated[str | None, AfterValidator(_idempotency_key)]
KEY_HEADER = Header(
    None,
    alias="Idempotency-Key",
    description="Opcional: una clave única por pedido (1 a 100 caracteres ASCII imprimibles). "
    "Si repite el pedido con la misma clave, recibe la respuesta del primero, sin "
    "registrarlo otra vez; con la misma clave y otros datos, un 409.",
)


Email = Annotated[
    str,
    Field(
        max_length=254,
        description="Correo electrónico del cliente.",
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_email),
]
Amount = Annotated[PlainDecimal, Field(gt=0, le=MAX_AMOUNT, decimal_places=2)]
PaymentCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=30,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Código de pago de la deuda, como lo da `GET /credits`.",
    ),
]
Provider = Literal["mercadopago", "clear"]


class BodyIn(DocumentIn):
    model_config = ConfigDict(extra="forbid")


class AgreementsQuery(DocumentIn):
    codigo_pago: PaymentCode | None = Field(
        None, description="Solo los convenios de esta deuda; sin él, los de todas."
    )


class LinkIn(BodyIn):
    codigo_pago: PaymentCode
    concepto: Literal["total", "cuota", "monto"] = Field(
        description="Qué se paga: la deuda total (lo que la cancela hoy), una cuota "
        "(`cuota`) o un monto libre (`monto`, entre el mínimo y la deuda total)."
    )
    cuota: PlainInt | None = Field(
        None, ge=1, le=MAX_INSTALLMENT, description="Número de cuota, con concepto «cuota»."
    )
    monto: Amount | None = Field(None, description="Monto a pagar, con concepto «monto».")
    proveedor: Provider = Field(description="Pasarela de pago.")
    email: Email
    confirmar_otra_pasarela: bool = Field(
        False,
        description="Verdadero si el cliente confirma que quiere pagar por esta pasarela "
        "aunque la deuda tiene un link abierto (o en creación) de la otra: pagar los dos le "
        "cobra dos veces. Sin él, esa deuda se responde con un 409 `otro_pago_en_curso`.",
    )


class AgreementIn(BodyIn):
    codigo_pago: PaymentCode
    clave: str = Field(
        min_length=3,
        max_length=20,
        pattern=r"^\d+-\d+$",
        description="La clave de una de las opciones de `GET /agreements`.",
    )
    proveedor: Provider = Field(description="Pasarela del link del pie.")
    email: Email


class ReportIn(DocumentIn):
    codigo_pago: PaymentCode
    monto: Amount = Field(description="Monto pagado.")
    fecha: date = Field(description="Fecha del pago (AAAA-MM-DD), de hasta un año atrás.")
    medio: Literal["transferencia", "deposito", "efectivo", "otro"] = Field(
        description="Medio de pago."
    )
    referencia: str = Field(
        "", max_length=80, description="Número de operación o referencia del pago."
    )
    email: Email | None = Field(None, description="Correo para avisarle el resultado.")
    pago_mayor_a_la_deuda: bool = Field(
        False,
        description="Verdadero si el cliente confirma que pagó más de lo que cancela la deuda "
        "hoy; sin él, un monto mayor se rechaza (422).",
    )


class CallbackIn(BodyIn):
    telefono: str = Field(
        min_length=7,
        max_length=20,
        pattern=r"^\+?[0-9 ()-]+$",
        description="Teléfono (celular o fijo) al que llamar, con + y código de país si no "
        "es de Perú.",
    )
    horario_preferido: Annotated[datetime | None, AfterValidator(_local)] = Field(
        None,
        description="Cuándo prefiere que lo llamen (ISO 8601; sin zona horaria, hora de "
        "Lima), hasta 30 días desde hoy.",
    )
    franja_preferida: str = Field(
        "", max_length=60, description="O una franja en palabras: «mañanas», «después de las 6»."
    )


# --- Answers -------------------------------------------------------------------------------


class CustomerOut(Schema):
    nombre: str = Field(description="Nombres.")
    nombre_completo: str


class CurrencyDebtOut(Schema):
    moneda: str
    total: str
    vencido: str
    creditos: int


class DebtSummaryOut(Schema):
    moneda: str | None = Field(description="Vacío si las deudas están en varias monedas.")
    total: str | None = Field(
        description="Lo que cancela todas las deudas hoy (vacío si hay varias monedas)."
    )
    vencido: str | None = Field(
        description="Lo impago de lo ya vencido (vacío si hay varias monedas)."
    )
    creditos: int = Field(description="Cuántas deudas tienen saldo.")
    dias_atraso: int = Field(description="Los días de atraso de la deuda más atrasada.")
    proximo_vencimiento: date | None
    por_moneda: list[CurrencyDebtOut]


class CreditBalanceOut(Schema):
    codigo_pago: str
    moneda: str
    monto: str


class ConcludedOfferOut(Schema):
    codigo_pago: str
    concluyo: LocalDateTime = Field(description="Cuándo terminó la cuenta regresiva del cliente.")
    mensaje: str = Field(description="Lo que el portal le dice al cliente.")


class LookupOut(Schema):
    estado: Literal["CON_DEUDA", "SIN_DEUDA", "NO_ENCONTRADO"]
    cliente: CustomerOut | None = Field(None, description="Solo si el cliente existe.")
    deuda: DebtSummaryOut | None = Field(None, description="Solo con deuda.")
    ofertas_concluidas: list[ConcludedOfferOut] | None = Field(
        None,
        description="Solo si el cliente existe: sus deudas de cartera castigada cuya oferta "
        "(el descuento de la campaña) concluyó, porque terminó la cuenta regresiva que el "
        "portal le mostró. "
        "Siguen en `deuda`, pero no se les crea link (`POST /payment-links` responde 409 "
        "`oferta_concluida`, como el portal): ofrézcale un asesor (`POST /callbacks`). "
        "Vacío si no hay.",
    )
    saldo_a_favor: list[CreditBalanceOut] | None = Field(
        None,
        description="Solo si el cliente existe: sus créditos con saldo a favor (lo pagado de "
        "más, que espera que se le devuelva o se aplique a mano), también los ya pagados, "
        "así que puede tenerlo sin deuda. Vacío si no tiene.",
    )


class InstallmentOut(Schema):
    numero: int
    vence: date
    monto: str = Field(description="Lo impago de la cuota.")


class CreditOut(Schema):
    codigo_pago: str
    descripcion: str
    cartera: Portfolio
    moneda: str
    total: str = Field(description="Lo que cancela la deuda hoy.")
    saldo_a_favor: str = Field(
        description="El saldo a favor del deudor que `total` ya descuenta (0.00 si no tiene)."
    )
    vencido: str
    dias_atraso: int
    cuotas_vencidas: list[InstallmentOut]
    proxima_cuota: InstallmentOut | None
    oferta_concluida: LocalDateTime | None = Field(
        None,
        description="Cartera castigada: cuándo concluyó para el cliente la oferta que es "
        "`total` (terminó su cuenta regresiva); ya no se le crea link (409 "
        "`oferta_concluida`). Vacío mientras sigue.",
    )


class CreditsOut(Schema):
    cliente: CustomerOut
    creditos: list[CreditOut]


class PlanPartOut(Schema):
    numero: int = Field(description="0 es el pie.")
    vence: date
    monto: str


class AgreementOptionOut(Schema):
    clave: str = Field(description="Para elegirla con `POST /agreements`.")
    cuotas: int
    pie: str
    monto_cuota: str
    descuento: str = Field(description="Descuento sobre el interés moratorio.")
    total: str
    plan: list[PlanPartOut]


class DebtAgreementsOut(Schema):
    codigo_pago: str
    descripcion: str
    moneda: str
    vencido: str
    dias_atraso: int
    opciones: list[AgreementOptionOut]


class AgreementsOut(Schema):
    cliente: CustomerOut
    deudas: list[DebtAgreementsOut]


class LinkOut(Schema):
    referencia: str
    url: str
    monto: str
    moneda: str
    concepto: str
    proveedor: str
    vence: LocalDateTime


class OtherPaymentOut(Schema):
    detail: str
    codigo: Literal["otro_pago_en_curso"]
    link: LinkOut = Field(description="El link abierto (o en creación) de la otra pasarela.")


class OfferConcludedOut(Schema):
    detail: str = Field(description="Lo que el portal le dice al cliente.")
    codigo: Literal["oferta_concluida"]
    concluyo: LocalDateTime = Field(description="Cuándo terminó la cuenta regresiva del cliente.")


class AgreementOut(Schema):
    id: int
    codigo_pago: str
    estado: Literal["esperando_pie"] = Field(
        description="Se activa cuando se paga el pie; entonces cada cuota es un compromiso."
    )
    cuotas: int
    pie: str
    monto_cuota: str
    descuento: str
    total: str
    plan: list[PlanPartOut]


class AgreementCreatedOut(Schema):
    convenio: AgreementOut
    link: LinkOut = Field(description="El link para pagar el pie.")


class ReportOut(Schema):
    id: int
    estado: Literal["por_verificar"] = Field(description="Un agente lo verifica.")
    mensaje: str


class CallbackOut(Schema):
    id: int
    estado: Literal["pendiente"] = Field(description="En la lista de llamadas de los agentes.")
    mensaje: str


# Every endpoint may answer these (400: more parameters than Django reads, config/api.py).
ERRORS: dict[int, Any] = {
    400: DetailOut,
    401: DetailOut,
    403: DetailOut,
    404: DetailOut,
    422: ValidationErrorOut,
    429: DetailOut,
}
# Those that read a body, also a 400 for one that is not JSON (ninja's parser says so), and
# a 413 for one over DATA_UPLOAD_MAX_MEMORY_SIZE (config/api.py).
BODY_ERRORS: dict[int, Any] = {413: DetailOut, **ERRORS}
# And those that ask a payment gateway, a 502 when it refuses, 503 when it is down (or
# still making the same link for another request): try again later.
GATEWAY_ERRORS: dict[int, Any] = {**BODY_ERRORS, 502: DetailOut, 503: DetailOut}


# How long a client waits before asking again for a link the gateway is still making, or
# while the gateway is down (503, Retry-After).
RETRY_SECONDS = 5


class TryLater(HttpError):
    """A 503 that may work later: answered with Retry-After (`says_when_to_retry`)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


def says_when_to_retry(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer the view's TryLater as a 503 with `Retry-After`, as a 429 does."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except TryLater as exc:
            response = JsonResponse({"detail": exc.message}, status=exc.status_code)
            response["Retry-After"] = str(RETRY_SECONDS)
            return response

    return wrapper


# --- Endpoints -----------------------------------------------------------------------------


@router.get(
    "/lookup",
    response={200: LookupOut, **ERRORS},
    summary="Consultar la deuda de un documento",
    url_name="bot_lookup",
)
def lookup(request: HttpRequest, params: Query[DocumentIn]) -> dict:
    """Say whether the document's holder owes something (CON_DEUDA), owes nothing
    (SIN_DEUDA) or is not a customer (NO_ENCONTRADO), with the debt's summary."""
    _limit_document(params)
    customer = _customer(params, names_only=True)
    if customer is None:
        return {"estado": NOT_FOUND}
    debts = receivables.open_debts(customer.pk, timezone.localdate())
    state = WITH_DEBT if debts else NO_DEBT
    _record_query(request, customer, _("Consulta del bot: %(state)s") % {"state": state}, "lookup")
    return {
        "estado": state,
        "cliente": _customer_out(customer),
        "deuda": _summary(debts) if debts else None,
        "ofertas_concluidas": [_concluded_offer(debt) for debt in debts if debt.offer_has_ended],
        "saldo_a_favor": _credit_balances(customer),
    }


@router.get(
    "/credits",
    response={200: CreditsOut, **ERRORS},
    summary="Créditos activos con sus cuotas vencidas y la próxima",
    url_name="bot_credits",
)
def credits(request: HttpRequest, params: Query[DocumentIn]) -> dict:
    """List the customer's debts that owe something today, each with its overdue
    installments and the next one to fall due."""
    _limit_document(params)
    customer = _customer_or_404(params)
    debts = receivables.open_debts(customer.pk, timezone.localdate())
    _record_query(
        request,
        customer,
        _("Consulta del bot: créditos activos (%(count)s)") % {"count": len(debts)},
        "credits",
    )
    return {"cliente": _customer_out(customer), "creditos": [_credit(debt) for debt in debts]}


@router.get(
    "/agreements",
    response={200: AgreementsOut, **ERRORS},
    summary="Convenios de pago disponibles",
    url_name="bot_agreements",
)
def agreements(request: HttpRequest, params: Query[AgreementsQuery]) -> dict:
    """List, for each overdue debt (or the one of `codigo_pago`), the payment agreements
    the active rules allow: installments, down payment, installment amount, discount."""
    _limit_document(params)
    customer = _customer_or_404(params)
    today = timezone.localdate()
    if params.codigo_pago:
        debts = [_debt_or_404(customer, params.codigo_pago)]
    else:
        debts = receivables.open_debts(customer.pk, today)
    # A debt whose agreement is in course is left out: taking another would be refused.
    offered = [
        (debt, services.agreement_options(debt, today=today))
        for debt in debts
        if selectors.agreement_in_course(receivable_kind=debt.kind, receivable_id=debt.id) is None
    ]
    _record_query(
        request,
        customer,
        _("Consulta del bot: convenios (%(count)s opciones)")
        % {"count": sum(len(options) for _debt, options in offered)},
        "agreements",
    )
    return {
        "cliente": _customer_out(customer),
        "deudas": [
            {
                "codigo_pago": debt.code,
                "descripcion": debt.label,
                "moneda": debt.currency,
                "vencido": amount_text(debt.overdue),
                "dias_atraso": debt.days_past_due,
                "opciones": [_option(option) for option in options],
            }
            for debt, options in offered
        ],
    }


@router.post(
    "/agreements",
    response={200: AgreementCreatedOut, 201: AgreementCreatedOut, 409: DetailOut, **GATEWAY_ERRORS},
    summary="Tomar un convenio de pago",
    url_name="bot_agreement_create",
)
@says_when_to_retry
def create_agreement(request: HttpRequest, payload: AgreementIn) -> Status:
    """Take one of the offered agreements: it is stored, waiting for its down payment, and
    the answer carries the link to pay it (201). Sent again while that agreement waits for
    its down payment, the answer is the same agreement and link (200); another option while
    the debt has an agreement in course is a 409 naming it."""
    _limit_document(payload)
    customer = _customer_or_404(payload)
    debt = _debt_or_404(customer, payload.codigo_pago)
    in_course = selectors.agreement_in_course(receivable_kind=debt.kind, receivable_id=debt.id)
    if in_course is None:
        try:
            with _service_errors("body"):
                agreement, link = services.create_agreement(
                    customer=customer,
                    receivable_kind=debt.kind,
                    receivable_id=debt.id,
                    option_key=payload.clave,
                    provider=payload.proveedor,
                    origin=Origin.BOT,
                    actor=None,
                    payer_email=payload.email,
                )
            return Status(201, {"convenio": _agreement(agreement), "link": _link(link)})
        except ValidationError:
            # Taken at the same moment by another request: answered as a repeat below.
            in_course = selectors.agreement_in_course(
                receivable_kind=debt.kind, receivable_id=debt.id
            )
            if in_course is None:
                raise
    taken = selectors.agreement_just_taken(
        customer,
        receivable_kind=debt.kind,
        receivable_id=debt.id,
        option_key=payload.clave,
        provider=payload.proveedor,
        origin=Origin.BOT,
    )
    if taken is not None and taken.agreement_id == in_course.pk:
        return Status(200, {"convenio": _agreement(in_course), "link": _link(taken)})
    raise HttpError(
        409,
        _(
            "La deuda %(code)s ya tiene un convenio en curso (n.º %(id)s, %(count)s cuotas, "
            "%(status)s)."
        )
        % {
            "code": debt.code,
            "id": in_course.pk,
            "count": in_course.installments,
            "status": in_course.get_status_display().lower(),
        },
    )


@router.post(
    "/payment-links",
    response={201: LinkOut, 409: OtherPaymentOut | OfferConcludedOut, **GATEWAY_ERRORS},
    summary="Crear un link de pago",
    url_name="bot_payment_link",
)
@says_when_to_retry
def create_payment_link(request: HttpRequest, payload: LinkIn) -> Status:
    """Create a payment link for the debt's total, one installment or an amount of the
    customer's choosing; the amount is the service's, never the bot's (but `monto`).
    Refused (409 `oferta_concluida`) once the offer ended for the debtor (a written-off
    campaign's countdown ran out), as the portal refuses it.

    While the debt has a link open (or being made) through the other gateway, and none
    through this one, the answer is a 409 `otro_pago_en_curso` naming it, unless
    `confirmar_otra_pasarela`: paying both would charge the debtor twice."""
    _limit_document(payload)
    _check_concept(payload)
    customer = _customer_or_404(payload)
    debt = _debt_or_404(customer, payload.codigo_pago)
    if debt.offer_has_ended:
        return _offer_concluded_answer(debt)
    if (asked := _ask_before_other_gateway(debt, payload)) is not None:
        return asked
    with _service_errors("body"):
        link = services.create_payment_link(
            customer=customer,
            receivable_kind=debt.kind,
            receivable_id=debt.id,
            concept=CONCEPTS[payload.concepto],
            provider=payload.proveedor,
            origin=Origin.BOT,
            actor=None,
            amount=payload.monto,
            installment_number=payload.cuota,
            payer_email=payload.email,
            reuse_open=True,
        )
    return Status(201, _link(link))


@router.post(
    "/payment-reports",
    response={201: ReportOut, 409: DetailOut, **BODY_ERRORS},
    summary="Informar un pago con su comprobante",
    url_name="bot_payment_report",
)
def report_payment(
    request: HttpRequest,
    data: Form[ReportIn],
    comprobante: UploadedFile = File(  # noqa: B008 (ninja declares parameters so)
        ..., description="Comprobante: PDF, JPG o PNG de hasta 5 MB."
    ),
    idempotency_key: IdempotencyKey = KEY_HEADER,
) -> Status:
    """Record a payment the customer says was made (multipart, with the receipt); the
    collections team is told by e-mail and an agent verifies it. The same receipt file
    sent again for the same debt is the same report (while it waits or once verified),
    whenever it comes."""
    _limit_document(data)
    keyed = _api_request(
        request, idempotency_key, data.model_dump_json(), services.file_sha256(comprobante)
    )
    if (first := _keyed_row(ReportedPayment, keyed)) is not None:
        return _report_answer(first)
    customer = _customer_or_404(data)
    debt = _debt_or_404(customer, data.codigo_pago)
    # A receipt the service refuses (type, size, content) is an error of the file.
    try:
        with _service_errors("form", otherwise=("file", "comprobante")):
            report = services.report_payment(
                customer=customer,
                receivable_kind=debt.kind,
                receivable_id=debt.id,
                amount=data.monto,
                paid_on=data.fecha,
                method=METHODS[data.medio],
                receipt=comprobante,
                origin=Origin.BOT,
                actor=None,
                reference=data.referencia,
                contact_email=data.email or "",
                paid_more=data.pago_mayor_a_la_deuda,
                api_request=keyed,
            )
    except IntegrityError:
        # Sent twice at once with one key: the other request recorded it first.
        if (report := _keyed_row(ReportedPayment, keyed)) is None:
            raise
    return _report_answer(_not_reused(report, keyed))


@router.post(
    "/callbacks",
    response={201: CallbackOut, 409: DetailOut, **BODY_ERRORS},
    summary="Pedir que un asesor llame",
    url_name="bot_callback",
)
def request_callback(
    request: HttpRequest, payload: CallbackIn, idempotency_key: IdempotencyKey = KEY_HEADER
) -> Status:
    """Leave a call-back request in the agents' list, with the phone and preferred time."""
    _limit_document(payload)
    keyed = _api_request(request, idempotency_key, payload.model_dump_json())
    if (first := _keyed_row(CallbackRequest, keyed)) is not None:
        return _callback_answer(first)
    customer = _customer_or_404(payload)
    debts = receivables.open_debts(customer.pk, timezone.localdate())
    written_off = bool(debts) and all(d.portfolio == Portfolio.WRITTEN_OFF for d in debts)
    try:
        with _service_errors("body"):
            callback = services.request_callback(
                customer=customer,
                phone=payload.telefono,
                origin=Origin.BOT,
                actor=None,
                preferred_at=payload.horario_preferido,
                preferred_time=payload.franja_preferida.strip(),
                portfolio=Portfolio.WRITTEN_OFF if written_off else Portfolio.CURRENT,
                api_request=keyed,
            )
    except IntegrityError:
        # Sent twice at once with one key: the other request recorded it first.
        if (callback := _keyed_row(CallbackRequest, keyed)) is None:
            raise
    return _callback_answer(_not_reused(callback, keyed))


# --- Steps ---------------------------------------------------------------------------------


def _offer_concluded_answer(debt: Debt) -> Status:
    """The 409 that refuses a link for an offer that ended for the debtor: the bot acts for
    the debtor, whom the /recovery/ portal refuses in the same words. An agent may still
    make one (the «contáctanos» path)."""
    return Status(
        409,
        {"detail": _offer_concluded(), "codigo": OFFER_CONCLUDED, "concluyo": debt.offer_ends_at},
    )


def _ask_before_other_gateway(debt: Debt, payload: LinkIn) -> Status | None:
    """The 409 that asks before a link through another gateway than the debt's open one
    (the portal asks the same: collections_app.portal.views.other_gateway_started); None
    when there is none, or the request confirms."""
    if payload.confirmar_otra_pasarela:
        return None
    started = services.other_gateway_link(debt, provider=payload.proveedor)
    if started is None:
        return None
    said = {
        "code": debt.code,
        "ref": started.reference,
        "amount": display.money_text(started.amount, started.currency),
        "gateway": started.provider_name,
        "expires": timezone.localtime(started.expires_at).strftime("%d/%m/%Y %H:%M"),
        "other": GATEWAY_NAMES.get(payload.proveedor, payload.proveedor),
    }
    return Status(
        409,
        {
            "detail": _(
                "La deuda %(code)s tiene un pago en curso por %(gateway)s: el link %(ref)s de "
                "%(amount)s, que vence el %(expires)s. Si además paga por %(other)s, se le "
                "cobra dos veces; para crearlo igual, envíe confirmar_otra_pasarela."
            )
            % said,
            "codigo": OTHER_PAYMENT_UNDER_WAY,
            "link": _link(started),
        },
    )


def _credit_balances(customer: Customer) -> list[dict]:
    return [
        {
            "codigo_pago": loan.payment_code,
            "moneda": loan.currency,
            "monto": amount_text(loan.credit_balance),
        }
        for loan in selectors.credit_balances(customer.pk)
    ]


def _api_request(
    request: HttpRequest, key: str | None, *parts: str
) -> services.ApiRequestKey | None:
    """What a request with an Idempotency-Key stores on the row it makes: the API client,
    the key and a hash of what it asked (its fields, and its file's SHA-256)."""
    if key is None:
        return None
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return services.ApiRequestKey(client=request.auth, key=key, request_hash=digest)


def _keyed_row(model: type[ApiRequest], keyed: services.ApiRequestKey | None) -> Any:
    """The row an earlier request with this client's key made, if any (409 if it asked
    something else)."""
    if keyed is None:
        return None
    row = model.objects.filter(api_client=keyed.client, idempotency_key=keyed.key).first()
    return _not_reused(row, keyed) if row is not None else None


def _not_reused(row: Any, keyed: services.ApiRequestKey | None) -> Any:
    """Refuse (409) a key this client already used for a request that asked something else."""
    if (
        keyed is not None
        and row.api_client_id == keyed.client.pk
        and row.idempotency_key == keyed.key
        and row.request_hash != keyed.request_hash
    ):
        raise HttpError(
            409,
            _(
                "La clave de idempotencia «%(key)s» ya se usó con otros datos, para "
                "%(what)s n.º %(id)s. Use una clave nueva para cada pedido."
            )
            % {"key": keyed.key, "what": row._meta.verbose_name, "id": row.pk},
        )
    return row


def _limit_document(params: DocumentIn) -> None:
    """Count one call about this document, whoever makes it; 429 past the limit."""
    rate = settings.BOT_API_DOCUMENT_RATE_LIMIT
    limit, seconds = ratelimit.parse_rate(rate)
    # Hashed: the counters' store need not hold document numbers.
    document = f"{params.tipo_documento}:{params.numero_documento}"
    key = "bot-document:" + hashlib.sha256(document.encode()).hexdigest()
    if not ratelimit.hit(key, limit, seconds):
        raise Throttled(wait=int(seconds - time.time() % seconds) + 1)


def _customer(params: DocumentIn, *, names_only: bool = False) -> Customer | None:
    """The document's holder; with `names_only`, only what the lookup shows of them (a
    customer has ~30 columns, and reading its two phones parses them)."""
    # A record merged into another answers as the kept one (crm.merge).
    found = Customer.objects.filter(
        document_type=params.tipo_documento, document_number=params.numero_documento
    ).resolved()
    if names_only:
        found = found.only("first_name", "last_name")
    return found.first()


def _customer_or_404(params: DocumentIn) -> Customer:
    customer = _customer(params)
    if customer is None:
        raise HttpError(404, _("No encontramos un cliente con ese documento."))
    return customer


def _debt_or_404(customer: Customer, code: str) -> Debt:
    debt = next(
        (d for d in receivables.open_debts(customer.pk, timezone.localdate()) if d.code == code),
        None,
    )
    if debt is None:
        raise HttpError(
            404,
            _("El cliente no tiene una deuda pendiente con el código de pago %(code)s.")
            % {"code": code},
        )
    return debt


def _check_concept(payload: LinkIn) -> None:
    """Refuse a number the concept does not use, and ask for the one it needs."""
    errors = []
    if payload.concepto == "cuota" and payload.cuota is None:
        errors.append(("cuota", _("Indique el número de cuota.")))
    if payload.concepto != "cuota" and payload.cuota is not None:
        errors.append(("cuota", _("Indique la cuota solo con concepto «cuota».")))
    if payload.concepto == "monto" and payload.monto is None:
        errors.append(("monto", _("Indique el monto a pagar.")))
    if payload.concepto != "monto" and payload.monto is not None:
        errors.append(("monto", _("Indique el monto solo con concepto «monto».")))
    if errors:
        raise ValidationError(
            [{"type": "value_error", "loc": ["body", "payload", f], "msg": m} for f, m in errors]
        )


@contextmanager
def _service_errors(source: str, *, otherwise: tuple[str, str] | None = None) -> Iterator[None]:
    """Turn a service's ValidationError into a 422 with its messages per field, and a
    gateway that could not make the link into a 502 (503 when it may work later, as a link
    another request is still creating)."""
    try:
        yield
    except DjangoValidationError as exc:
        if isinstance(exc.__cause__, TemporaryProviderError):
            raise TryLater(" ".join(exc.messages)) from exc
        if isinstance(exc.__cause__, ProviderError):
            raise HttpError(502, " ".join(exc.messages)) from exc
        if getattr(exc, "code", None) == services.LINK_BEING_CREATED:
            raise TryLater(" ".join(exc.messages)) from exc
        prefix = [source] if source == "form" else [source, "payload"]
        if not hasattr(exc, "error_dict"):
            loc = list(otherwise) if otherwise else prefix
            errors = [{"type": "value_error", "loc": loc, "msg": m} for m in exc.messages]
        else:
            errors = [
                {
                    "type": "value_error",
                    "loc": _error_loc(field, prefix, otherwise),
                    "msg": message,
                }
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        raise ValidationError(errors) from exc


def _error_loc(field: str, prefix: list[str], otherwise: tuple[str, str] | None) -> list[str]:
    if field in FIELDS:
        if FIELDS[field] == "comprobante":
            return ["file", "comprobante"]
        return [*prefix, FIELDS[field]]
    return list(otherwise) if otherwise else prefix


def _record_query(request: HttpRequest, customer: Customer, summary: str, query: str) -> None:
    """Put the bot's read on the customer's timeline (the writes' services do their own)."""
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.BOT,
        direction=Interaction.Direction.INBOUND,
        summary=summary,
        payload={"consulta": query, "cliente_api": str(request.auth)},
    )


# --- Shapes --------------------------------------------------------------------------------


def _report_answer(report: ReportedPayment) -> Status:
    return Status(
        201,
        {
            "id": report.pk,
            "estado": "por_verificar",
            "mensaje": _("Recibimos su pago informado: lo verificaremos y le avisaremos."),
        },
    )


def _callback_answer(callback: CallbackRequest) -> Status:
    return Status(
        201,
        {
            "id": callback.pk,
            "estado": "pendiente",
            # What was done: the request waits for an agent; no call is promised.
            "mensaje": _("Registramos su pedido de llamada."),
        },
    )


def _customer_out(customer: Customer) -> dict:
    return {"nombre": customer.first_name, "nombre_completo": customer.full_name}


def _summary(debts: list[Debt]) -> dict:
    by_currency: dict[str, list[Debt]] = {}
    for debt in debts:
        by_currency.setdefault(debt.currency, []).append(debt)
    per_currency = [
        {
            "moneda": currency,
            "total": amount_text(sum((d.total for d in group), Decimal(0))),
            "vencido": amount_text(sum((d.overdue for d in group), Decimal(0))),
            "creditos": len(group),
        }
        for currency, group in by_currency.items()
    ]
    single = per_currency[0] if len(per_currency) == 1 else None
    next_dates = [d.next_due_date for d in debts if d.next_due_date is not None]
    return {
        "moneda": single["moneda"] if single else None,
        "total": single["total"] if single else None,
        "vencido": single["vencido"] if single else None,
        "creditos": len(debts),
        "dias_atraso": max(d.days_past_due for d in debts),
        "proximo_vencimiento": min(next_dates, default=None),
        "por_moneda": per_currency,
    }


def _credit(debt: Debt) -> dict:
    overdue = [line for line in debt.lines if line.is_overdue]
    upcoming = next((line for line in debt.lines if not line.is_overdue), None)
    return {
        "codigo_pago": debt.code,
        "descripcion": debt.label,
        "cartera": debt.portfolio,
        "moneda": debt.currency,
        "total": amount_text(debt.total),
        "saldo_a_favor": amount_text(debt.credit),
        "vencido": amount_text(debt.overdue),
        "dias_atraso": debt.days_past_due,
        "cuotas_vencidas": [_installment(line) for line in overdue],
        "proxima_cuota": _installment(upcoming) if upcoming else None,
        "oferta_concluida": debt.offer_ends_at if debt.offer_has_ended else None,
    }


def _offer_concluded() -> str:
    """What the /recovery/ portal says once the offer concluded, in its words."""
    return _("La oferta ha concluido, contáctanos para más detalles.")


def _concluded_offer(debt: Debt) -> dict:
    return {
        "codigo_pago": debt.code,
        "concluyo": debt.offer_ends_at,
        "mensaje": _offer_concluded(),
    }


def _installment(line: receivables.DebtLine) -> dict:
    return {"numero": line.number, "vence": line.due_date, "monto": amount_text(line.amount)}


def _option(option: services.AgreementOption) -> dict:
    return {
        "clave": option.key,
        "cuotas": option.installments,
        "pie": amount_text(option.down_payment),
        "monto_cuota": amount_text(option.installment_amount),
        "descuento": amount_text(option.discount_amount),
        "total": amount_text(option.total),
        "plan": [
            {"numero": number, "vence": day, "monto": amount_text(value)}
            for number, day, value in option.plan
        ],
    }


def _agreement(agreement: PaymentAgreement) -> dict:
    return {
        "id": agreement.pk,
        "codigo_pago": agreement.receivable_code,
        "estado": "esperando_pie",
        "cuotas": agreement.installments,
        "pie": amount_text(agreement.down_payment),
        "monto_cuota": amount_text(agreement.installment_amount),
        "descuento": amount_text(agreement.discount_amount),
        "total": amount_text(agreement.total),
        "plan": [
            {
                "numero": part["number"],
                "vence": date.fromisoformat(part["due_on"]),
                "monto": amount_text(Decimal(part["amount"])),
            }
            for part in agreement.plan
        ],
    }


def _link(link: PaymentLink) -> dict:
    concepts = {value: name for name, value in CONCEPTS.items()}
    return {
        "referencia": link.reference,
        "url": link.url,
        "monto": amount_text(link.amount),
        "moneda": link.currency,
        "concepto": concepts.get(link.concept, link.concept),
        "proveedor": link.provider,
        "vence": link.expires_at,
    }
