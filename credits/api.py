"""The credits endpoints of the JSON API (mounted by config/api.py under /api/v1/)."""

from datetime import date
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from credits import schedule, selectors
from credits.imports import CODE_CHARS, CODE_MAX
from credits.models import Loan, LoanProduct
from credits.schedule import Frequency, Method
from credits.services import loans as loan_services
from crm import validators as document_validators
from crm.api import SCOPE as BOOK_SCOPE
from crm.api_schemas import (
    NOT_FOUND,
    TOKEN_ERRORS,
    DetailOut,
    PageOut,
    PageQuery,
    PlainDecimal,
    PlainInt,
    PlainNumbersIn,
    ValidationErrorOut,
    amount_text,
    paged,
)
from crm.models import Customer
from integrations import api_clients
from lib import ratelimit

router = Router()

# Due dates stay where date arithmetic cannot overflow, whatever the term.
EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2100, 12, 31)
# Periodic rates are exact to 34 digits; ten places are plenty to check a figure.
RATE_PLACES = Decimal("1E-10")


class SchedulePreviewQuery(PlainNumbersIn):
    principal: PlainDecimal = Field(
        gt=0, le=schedule.MAX_PRINCIPAL, decimal_places=2, description="Capital del préstamo."
    )
    annual_rate: PlainDecimal | None = Field(
        None,
        ge=0,
        le=schedule.MAX_ANNUAL_RATE,
        decimal_places=4,
        description="Tasa nominal anual, en porcentaje. Con `product`, por defecto la suya, "
        "y siempre dentro de su rango.",
    )
    term: PlainInt = Field(ge=1, le=schedule.MAX_TERM, description="Número de cuotas.")
    method: Method | None = Field(
        None, description="Método de amortización (con `product`, el suyo)."
    )
    frequency: Frequency | None = Field(
        None, description="Frecuencia de pago (con `product`, la suya)."
    )
    first_due_date: date | None = Field(
        None,
        ge=EARLIEST_DUE_DATE,
        le=LATEST_DUE_DATE,
        description="Primer vencimiento (AAAA-MM-DD); por defecto, un periodo después de hoy.",
    )
    fee: PlainDecimal | None = Field(
        None,
        ge=0,
        le=1_000_000,
        decimal_places=2,
        description="Comisión fija por cuota (sin `product`; con él, la del producto).",
    )
    product: PlainInt | None = Field(
        None,
        ge=1,
        description="Producto de crédito (id): aplica su método, frecuencia y comisión, y "
        "exige que monto, plazo y tasa estén dentro de sus límites, como al registrar "
        "un crédito.",
    )


class PreviewInstallmentOut(Schema):
    number: int
    due_date: date
    principal: str
    interest: str
    fee: str
    total: str
    balance: str


class TotalsOut(Schema):
    principal: str
    interest: str
    fee: str
    total: str


class SchedulePreviewOut(Schema):
    principal: str
    annual_rate: str
    periodic_rate: str
    method: Method
    frequency: Frequency
    term: int
    installments: list[PreviewInstallmentOut]
    totals: TotalsOut


def _preview_terms(params: SchedulePreviewQuery) -> dict:
    """Return the rate, method, frequency and fee the preview uses; 422 for what is wrong.

    Without a product the query gives them all; with one they are the product's, and the
    amount, term and rate must fit its limits (`credits.services.loans.validate_terms`).
    """
    if params.product is None:
        missing = [
            {"type": "missing", "loc": ["query", name], "msg": "Field required"}
            for name in ("annual_rate", "method", "frequency")
            if getattr(params, name) is None
        ]
        if missing:
            raise ValidationError(missing)
        return {
            # ge=0 lets "-0" through; without its sign it is the plain 0 % it means.
            "annual_rate": params.annual_rate.copy_abs(),
            "method": params.method,
            "frequency": params.frequency,
            "fee_type": schedule.FeeType.FIXED if params.fee else schedule.FeeType.NONE,
            "fee_value": params.fee or Decimal(0),
        }
    product = LoanProduct.objects.filter(pk=params.product, is_active=True).first()
    if product is None:
        raise ValidationError(
            [_error("product", "No hay un producto de crédito activo con ese id.")]
        )
    errors = []
    for name in ("method", "frequency"):
        given = getattr(params, name)
        if given is not None and given != getattr(product, name):
            errors.append(_error(name, f"El producto usa «{getattr(product, name)}»."))
    if params.fee is not None:
        errors.append(_error("fee", "La comisión la fija el producto: no la indique."))
    try:
        loan_services.validate_terms(
            product=product,
            principal=params.principal,
            term=params.term,
            annual_rate=params.annual_rate,
        )
    except DjangoValidationError as exc:
        errors += [
            _error(field, message)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    if errors:
        raise ValidationError(errors)
    return {
        "annual_rate": product.annual_rate.normalize()
        if params.annual_rate is None
        else params.annual_rate.copy_abs(),
        "method": Method(product.method),
        "frequency": Frequency(product.frequency),
        "fee_type": product.fee_type,
        "fee_value": product.fee_value,
    }


def _error(field: str, message: str) -> dict:
    return {"type": "value_error", "loc": ["query", field], "msg": message}


def _error_field(message: str) -> str:
    """Return the query parameter a ValueError from the schedule engine is about."""
    for name in SchedulePreviewQuery.model_fields:
        if name in message:
            return name
    if "Method" in message:
        return "method"
    if "Frequency" in message:
        return "frequency"
    # Anything else went wrong with the dates (an overflow past year 9999).
    return "first_due_date"


@router.get(
    "/schedule-preview",
    auth=None,
    throttle=ratelimit.ApiRateLimit(
        scope="api-schedule-preview", setting="API_PREVIEW_RATE_LIMIT", default="60/m"
    ),
    response={200: SchedulePreviewOut, 400: DetailOut, 422: ValidationErrorOut, 429: DetailOut},
    summary="Cronograma de pagos (simulación)",
    url_name="schedule_preview",
)
def schedule_preview(request, params: Query[SchedulePreviewQuery]):
    """Return the installment schedule of a loan, without saving anything.

    Public, and limited per client address (API_PREVIEW_RATE_LIMIT, default 60/m).
    Every amount is a decimal string with two places. With `product`, the schedule is the
    one a loan of that product would have, and its limits apply.
    """
    terms = _preview_terms(params)
    today = timezone.localdate()
    first_due_date = params.first_due_date or schedule.first_due_date_after(
        today, terms["frequency"]
    )
    try:
        result = schedule.build_schedule(
            principal=params.principal,
            term=params.term,
            first_due_date=first_due_date,
            start_date=today,
            **terms,
        )
    except (ValueError, OverflowError, ArithmeticError) as exc:
        # The query schema should catch every bad value first; this keeps a 500 out.
        raise ValidationError(
            [{"type": "value_error", "loc": ["query", _error_field(str(exc))], "msg": str(exc)}]
        ) from exc
    periodic_rate = schedule.periodic_rate(terms["annual_rate"], terms["frequency"])
    return {
        "principal": amount_text(params.principal),
        "annual_rate": f"{terms['annual_rate']:f}",
        "periodic_rate": f"{periodic_rate.quantize(RATE_PLACES):f}",
        "method": terms["method"],
        "frequency": terms["frequency"],
        "term": params.term,
        "installments": [
            {
                "number": row.number,
                "due_date": row.due_date,
                "principal": amount_text(row.principal),
                "interest": amount_text(row.interest),
                "fee": amount_text(row.fee),
                "total": amount_text(row.total),
                "balance": amount_text(row.balance),
            }
            for row in result.rows
        ],
        "totals": {
            "principal": amount_text(result.total_principal),
            "interest": amount_text(result.total_interest),
            "fee": amount_text(result.total_fee),
            "total": amount_text(result.total),
        },
    }


# --- The book's loans (/api/v1/cartera/creditos) -------------------------------------------
# Read back what the book's import (crm/api.py) wrote, with the "book" scope.

book_router = Router(
    auth=api_clients.TokenAuth(BOOK_SCOPE),
    throttle=api_clients.ClientRateLimit(),
    tags=["cartera"],
)


class LoanQuery(PageQuery):
    tipo_documento: Customer.DocumentType | None = Field(None, description="Con numero_documento.")
    numero_documento: str | None = Field(
        None,
        max_length=20,
        pattern=r"^[0-9A-Za-z .-]+$",
        description="Los créditos del cliente.",
        validate_default=True,
    )
    estado: Loan.Status | None = Field(None, description="draft, active, paid, written_off…")

    @field_validator("numero_documento")
    @classmethod
    def _named_with_its_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A type alone filtered nothing, and said nothing.
        if value is None and info.data.get("tipo_documento"):
            raise PydanticCustomError(
                "document", _("Indique numero_documento junto con tipo_documento.")
            )
        return value


class BookInstallmentOut(Schema):
    numero: int
    vencimiento: date
    monto: str = Field(description="Capital, interés, comisiones y mora de la cuota.")
    pagado: str
    pendiente: str
    pagada_el: date | None


class BookLoanOut(Schema):
    id: int
    codigo_pago: str
    tipo_documento: str
    numero_documento: str
    cliente: str
    producto: str
    moneda: str
    capital: str
    tasa_anual: str
    plazo: int
    frecuencia: str
    fecha_desembolso: date
    primer_vencimiento: date
    cronograma: Literal["engine", "imported"] = Field(
        description="engine: calculado aquí; imported: el del sistema de origen."
    )
    estado: str
    estado_nombre: str
    saldo: str = Field(description="Lo que falta pagar de las cuotas, sin mora.")
    vencido: str
    proximo_vencimiento: date | None
    monto_proxima_cuota: str


class BookLoanDetailOut(BookLoanOut):
    cuotas: list[BookInstallmentOut]


class BookLoanPageOut(PageOut):
    resultados: list[BookLoanOut]


@book_router.get(
    "",
    response={200: BookLoanPageOut, **TOKEN_ERRORS},
    summary="Listar créditos",
    url_name="book_loan_list",
)
def book_loans(request, params: Query[LoanQuery]) -> dict:
    """The loans, newest first; of one customer (document), or in one status."""
    loans = Loan.objects.select_related("customer", "product").order_by("-pk")
    if params.numero_documento:
        number = document_validators.normalize_document_number(params.numero_documento)
        loans = loans.filter(customer__document_number=number)
        if params.tipo_documento:
            loans = loans.filter(customer__document_type=params.tipo_documento)
    if params.estado:
        loans = loans.filter(status=params.estado)
    header, page = paged(loans, params)
    figures = selectors.installment_figures([loan.pk for loan in page])
    return {**header, "resultados": [_book_loan(loan, figures[loan.pk]) for loan in page]}


@book_router.get(
    "/{codigo_pago}",
    response={200: BookLoanDetailOut, **NOT_FOUND},
    summary="Un crédito por su código de pago, con sus cuotas",
    url_name="book_loan_detail",
)
def book_loan(request, codigo_pago: str) -> dict:
    # Only what a code can be reaches the query: PostgreSQL refuses a NUL in it.
    is_code = len(codigo_pago) <= CODE_MAX and set(codigo_pago) <= CODE_CHARS
    loan = (
        Loan.objects.select_related("customer", "product").filter(payment_code=codigo_pago).first()
        if is_code
        else None
    )
    if loan is None:
        raise HttpError(404, _("No hay un crédito con ese código de pago."))
    rows = selectors.installment_figures([loan.pk])[loan.pk]
    return {
        **_book_loan(loan, rows),
        "cuotas": [
            {
                "numero": row.number,
                "vencimiento": row.due_date,
                "monto": amount_text(row.due),
                "pagado": amount_text(row.paid),
                "pendiente": amount_text(row.pending),
                "pagada_el": row.paid_on,
            }
            for row in rows
        ],
    }


def _book_loan(loan: Loan, rows: list) -> dict:
    today = timezone.localdate()
    owed = selectors.open_balance(rows, today)
    customer = loan.customer
    return {
        "id": loan.pk,
        "codigo_pago": loan.payment_code,
        "tipo_documento": customer.document_type,
        "numero_documento": customer.document_number,
        "cliente": customer.full_name,
        "producto": loan.product.name,
        "moneda": loan.currency,
        "capital": amount_text(loan.principal),
        "tasa_anual": f"{loan.annual_rate:f}",
        "plazo": loan.term,
        "frecuencia": loan.frequency,
        "fecha_desembolso": loan.start_date,
        "primer_vencimiento": loan.first_due_date,
        "cronograma": loan.schedule_source,
        "estado": loan.status,
        "estado_nombre": loan.get_status_display(),
        "saldo": amount_text(sum((row.pending for row in owed.open_rows), Decimal(0))),
        "vencido": amount_text(owed.overdue),
        "proximo_vencimiento": owed.next_due_date,
        "monto_proxima_cuota": amount_text(owed.next_due_amount),
    }
