"""The credits endpoints of the JSON API (mounted by config/api.py under /api/v1/)."""

from datetime import date
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError

from credits import schedule
from credits.schedule import Frequency, Method
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
    annual_rate: Decimal = Field(
        ge=0, le=1000, decimal_places=4, description="Tasa nominal anual, en porcentaje."
    )
    term: int = Field(ge=1, le=schedule.MAX_TERM, description="Número de cuotas.")
    method: Method = Field(description="Método de amortización.")
    frequency: Frequency = Field(description="Frecuencia de pago.")
    first_due_date: date | None = Field(
        None,
        ge=EARLIEST_DUE_DATE,
        le=LATEST_DUE_DATE,
        description="Primer vencimiento (AAAA-MM-DD); por defecto, un periodo después de hoy.",
    )
    fee: Decimal = Field(
        Decimal(0),
        ge=0,
        le=1_000_000,
        decimal_places=2,
        description="Comisión fija por cuota.",
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
    Every amount is a decimal string with two places.
    """
    first_due_date = params.first_due_date or schedule.first_due_date_after(
        timezone.localdate(), params.frequency
    )
    try:
        result = schedule.build_schedule(
            principal=params.principal,
            annual_rate=params.annual_rate,
            term=params.term,
            method=params.method,
            frequency=params.frequency,
            first_due_date=first_due_date,
            fee_type=schedule.FeeType.FIXED if params.fee else schedule.FeeType.NONE,
            fee_value=params.fee,
        )
    except (ValueError, OverflowError, ArithmeticError) as exc:
        # The query schema should catch every bad value first; this keeps a 500 out.
        raise ValidationError(
            [{"type": "value_error", "loc": ["query", _error_field(str(exc))], "msg": str(exc)}]
        ) from exc
    periodic_rate = schedule.periodic_rate(params.annual_rate, params.frequency)
    return {
        "principal": _amount(params.principal),
        "annual_rate": f"{params.annual_rate:f}",
        "periodic_rate": f"{periodic_rate.quantize(RATE_PLACES):f}",
        "method": params.method,
        "frequency": params.frequency,
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
