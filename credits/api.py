"""The credits endpoints of the JSON API (mounted by config/api.py under /api/v1/)."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError

from credits import schedule
from credits.models import LoanProduct
from credits.schedule import Frequency, Method
from credits.services import loans as loan_services
from lib import ratelimit

router = Router()

# Due dates stay where date arithmetic cannot overflow, whatever the term.
EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2100, 12, 31)
# Periodic rates are exact to 34 digits; ten places are plenty to check a figure.
RATE_PLACES = Decimal("1E-10")


class SchedulePreviewQuery(Schema):
    principal: Decimal = Field(
        gt=0, le=10_000_000, decimal_places=2, description="Capital del préstamo."
    )
    annual_rate: Decimal | None = Field(
        None,
        ge=0,
        le=schedule.MAX_ANNUAL_RATE,
        decimal_places=4,
        description="Tasa nominal anual, en porcentaje. Con `product`, por defecto la suya, "
        "y siempre dentro de su rango.",
    )
    term: int = Field(ge=1, le=schedule.MAX_TERM, description="Número de cuotas.")
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
    fee: Decimal | None = Field(
        None,
        ge=0,
        le=1_000_000,
        decimal_places=2,
        description="Comisión fija por cuota (sin `product`; con él, la del producto).",
    )
    product: int | None = Field(
        None,
        ge=1,
        description="Producto de crédito (id): aplica su método, frecuencia y comisión, y "
        "exige que monto, plazo y tasa estén dentro de sus límites, como al registrar "
        "un crédito.",
    )


class InstallmentOut(Schema):
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
    installments: list[InstallmentOut]
    totals: TotalsOut


class ValidationErrorOut(Schema):
    detail: list[dict]


class DetailOut(Schema):
    detail: str


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


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
            "annual_rate": params.annual_rate,
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
        else params.annual_rate,
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
    response={200: SchedulePreviewOut, 422: ValidationErrorOut, 429: DetailOut},
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
    first_due_date = params.first_due_date or schedule.first_due_date_after(
        timezone.localdate(), terms["frequency"]
    )
    try:
        result = schedule.build_schedule(
            principal=params.principal,
            term=params.term,
            first_due_date=first_due_date,
            **terms,
        )
    except (ValueError, OverflowError, ArithmeticError) as exc:
        # The query schema should catch every bad value first; this keeps a 500 out.
        raise ValidationError(
            [{"type": "value_error", "loc": ["query", _error_field(str(exc))], "msg": str(exc)}]
        ) from exc
    periodic_rate = schedule.periodic_rate(terms["annual_rate"], terms["frequency"])
    return {
        "principal": _amount(params.principal),
        "annual_rate": f"{terms['annual_rate']:f}",
        "periodic_rate": f"{periodic_rate.quantize(RATE_PLACES):f}",
        "method": terms["method"],
        "frequency": terms["frequency"],
        "term": params.term,
        "installments": [
            {
                "number": row.number,
                "due_date": row.due_date,
                "principal": _amount(row.principal),
                "interest": _amount(row.interest),
                "fee": _amount(row.fee),
                "total": _amount(row.total),
                "balance": _amount(row.balance),
            }
            for row in result.rows
        ],
        "totals": {
            "principal": _amount(result.total_principal),
            "interest": _amount(result.total_interest),
            "fee": _amount(result.total_fee),
            "total": _amount(result.total),
        },
    }
