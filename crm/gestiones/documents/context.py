"""What a document template may say: its placeholders, and their values for one gestión."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credits.models import Installment, Loan
from credits.services import loans as loan_services
from crm.gestiones.models import (
    FormField,
    Gestion,
)
from lib import money, people, words


@dataclass(frozen=True)
class Placeholder:
    group: str
    key: str
    description: str

    @property
    def name(self) -> str:
        return f"{self.group}.{self.key}"

    @property
    def tag(self) -> str:
        return "{{ " + self.name + " }}"


_P = Placeholder


PLACEHOLDERS: tuple[Placeholder, ...] = (
    _P("cliente", "nombres", gettext_lazy("Nombres del cliente")),
    _P("cliente", "apellidos", gettext_lazy("Apellidos del cliente")),
    _P("cliente", "nombre_completo", gettext_lazy("Nombres y apellidos")),
    _P("cliente", "tipo_documento", gettext_lazy("Tipo de documento (DNI, RUC…)")),
    _P("cliente", "documento", gettext_lazy("Número de documento")),
    _P("cliente", "direccion", gettext_lazy("Dirección")),
    _P("cliente", "ciudad", gettext_lazy("Ciudad")),
    _P("cliente", "celular", gettext_lazy("Celular")),
    _P("cliente", "correo", gettext_lazy("Correo electrónico")),
    _P("gestion", "numero", gettext_lazy("Número de la gestión")),
    _P("gestion", "tipo", gettext_lazy("Tipo de gestión")),
    _P("gestion", "estado", gettext_lazy("Estado actual")),
    _P("gestion", "asunto", gettext_lazy("Asunto")),
    _P("gestion", "monto_solicitado", gettext_lazy("Monto solicitado (1,234.50)")),
    _P("gestion", "monto_solicitado_letras", gettext_lazy("Monto solicitado en letras")),
    _P("gestion", "monto_aprobado", gettext_lazy("Monto aprobado (1,234.50)")),
    _P("gestion", "monto_aprobado_letras", gettext_lazy("Monto aprobado en letras")),
    _P("gestion", "moneda", gettext_lazy("Símbolo de la moneda (S/, US$)")),
    _P("gestion", "sucursal", gettext_lazy("Sucursal")),
    _P("gestion", "canal", gettext_lazy("Canal")),
    _P("gestion", "gestor", gettext_lazy("Gestor a cargo")),
    _P("gestion", "creada", gettext_lazy("Fecha de apertura (dd/mm/aaaa)")),
    _P(
        "gestion",
        "datos",
        gettext_lazy("Datos del formulario por su clave, p. ej. {{ gestion.datos.destino }}"),
    ),
    _P("credito", "codigo", gettext_lazy("Código de pago del crédito")),
    _P("credito", "producto", gettext_lazy("Producto del crédito")),
    _P("credito", "capital", gettext_lazy("Capital (1,234.50)")),
    _P("credito", "capital_letras", gettext_lazy("Capital en letras")),
    _P("credito", "moneda", gettext_lazy("Símbolo de la moneda del crédito")),
    _P("credito", "tasa", gettext_lazy("Tasa nominal anual en % (24.00)")),
    _P("credito", "plazo", gettext_lazy("Plazo en cuotas")),
    _P("credito", "frecuencia", gettext_lazy("Frecuencia de pago (Mensual…)")),
    _P("credito", "fecha_inicio", gettext_lazy("Fecha de inicio (dd/mm/aaaa)")),
    _P("credito", "primer_vencimiento", gettext_lazy("Primer vencimiento (dd/mm/aaaa)")),
    _P("credito", "cuota", gettext_lazy("Cuota regular (1,234.50)")),
    _P("credito", "cuota_letras", gettext_lazy("Cuota regular en letras")),
    _P("credito", "vehiculo_marca", gettext_lazy("Marca del vehículo")),
    _P("credito", "vehiculo_modelo", gettext_lazy("Modelo del vehículo")),
    _P("credito", "vehiculo_anio", gettext_lazy("Año del vehículo")),
    _P("credito", "vehiculo_placa", gettext_lazy("Placa del vehículo")),
    _P("credito", "vehiculo_vin", gettext_lazy("VIN del vehículo")),
    _P("fecha", "dia", gettext_lazy("Día de hoy (21)")),
    _P("fecha", "dia_letras", gettext_lazy("Día en letras (veintiuno)")),
    _P("fecha", "mes", gettext_lazy("Mes en número (11)")),
    _P("fecha", "mes_letras", gettext_lazy("Mes en letras (noviembre)")),
    _P("fecha", "anio", gettext_lazy("Año (2026)")),
    _P("fecha", "anio_letras", gettext_lazy("Año en letras (dos mil veintiséis)")),
    _P("fecha", "hoy", gettext_lazy("Fecha completa (21 de noviembre de 2026)")),
    _P("empresa", "nombre", gettext_lazy("Nombre de la empresa")),
    _P("empresa", "ruc", gettext_lazy("RUC de la empresa")),
    _P("empresa", "direccion", gettext_lazy("Dirección de la empresa")),
)

# The context's shape: group → its keys.
KNOWN: dict[str, set[str]] = {
    group: {p.key for p in PLACEHOLDERS if p.group == group}
    for group in dict.fromkeys(p.group for p in PLACEHOLDERS)
}


GROUP_LABELS = {
    "cliente": gettext_lazy("Cliente"),
    "gestion": gettext_lazy("Gestión"),
    "credito": gettext_lazy("Crédito (el vinculado a la gestión, o el vigente más reciente)"),
    "fecha": gettext_lazy("Fecha de generación"),
    "empresa": gettext_lazy("Empresa"),
}


# Used when settings define no COMPANY_NAME / COMPANY_RUC / COMPANY_ADDRESS.
COMPANY = {"nombre": "Cartera", "ruc": "", "direccion": ""}


MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def placeholders() -> dict[str, str]:
    """Return every placeholder's name (`cliente.nombres`) and what it holds."""
    return {p.name: str(p.description) for p in PLACEHOLDERS}


def placeholder_groups() -> list[tuple[str, list[Placeholder]]]:
    """Return the placeholders grouped for the help panel: (group label, placeholders)."""
    groups: dict[str, list[Placeholder]] = {}
    for p in PLACEHOLDERS:
        groups.setdefault(p.group, []).append(p)
    return [(str(GROUP_LABELS[group]), items) for group, items in groups.items()]


class FormData(dict):
    """The gestión's form data: a key the gestión lacks renders empty instead of failing."""

    def __missing__(self, key: str) -> str:
        return ""


def context_for(gestion: Gestion, *, today: datetime.date | None = None) -> dict[str, Any]:
    """Return the values of every placeholder for `gestion`, grouped as in `PLACEHOLDERS`."""
    today = today or timezone.localdate()
    customer = gestion.customer
    loan = loan_for(gestion)
    currency = gestion.currency
    return {
        "cliente": {
            "nombres": customer.first_name,
            "apellidos": customer.last_name,
            "nombre_completo": customer.full_name,
            "tipo_documento": customer.get_document_type_display(),
            "documento": customer.document_number,
            "direccion": customer.address,
            "ciudad": customer.city,
            "celular": customer.phone.as_national if customer.phone else "",
            "correo": customer.email,
        },
        "gestion": {
            "numero": str(gestion.pk),
            "tipo": gestion.gestion_type.name,
            "estado": gestion.state.name,
            "asunto": gestion.subject,
            "monto_solicitado": money.format_money(gestion.amount_requested),
            "monto_solicitado_letras": words.amount_in_words(gestion.amount_requested, currency),
            "monto_aprobado": money.format_money(gestion.amount_approved),
            "monto_aprobado_letras": words.amount_in_words(gestion.amount_approved, currency),
            "moneda": money.CURRENCY_SYMBOLS.get(currency, currency),
            "sucursal": str(gestion.branch or ""),
            "canal": str(gestion.channel or ""),
            "gestor": people.display_name(gestion.agent),
            "creada": _date(timezone.localtime(gestion.created_at).date()),
            "datos": _form_data(gestion),
        },
        "credito": _loan_values(loan),
        "fecha": {
            "dia": str(today.day),
            "dia_letras": words.number_in_words(today.day),
            "mes": f"{today.month:02d}",
            "mes_letras": MONTHS[today.month - 1],
            "anio": str(today.year),
            "anio_letras": words.number_in_words(today.year),
            "hoy": f"{today.day} de {MONTHS[today.month - 1]} de {today.year}",
        },
        "empresa": {
            "nombre": getattr(settings, "COMPANY_NAME", COMPANY["nombre"]),
            "ruc": getattr(settings, "COMPANY_RUC", COMPANY["ruc"]),
            "direccion": getattr(settings, "COMPANY_ADDRESS", COMPANY["direccion"]),
        },
    }


def loan_for(gestion: Gestion) -> Loan | None:
    """Return the gestión's loan: the first linked, else the customer's latest live one."""
    loan = gestion.loans.select_related("product").order_by("pk").first()
    if loan is None:
        loan = (
            Loan.objects.filter(customer_id=gestion.customer_id, status__in=Loan.LIVE)
            .select_related("product")
            .order_by("-created_at", "-pk")
            .first()
        )
    return loan


def _loan_values(loan: Loan | None) -> dict[str, str]:
    if loan is None:
        return dict.fromkeys(sorted(KNOWN["credito"]), "")
    installment = _regular_installment(loan)
    return {
        "codigo": loan.payment_code,
        "producto": loan.product.name,
        "capital": money.format_money(loan.principal),
        "capital_letras": words.amount_in_words(loan.principal, loan.currency),
        "moneda": money.CURRENCY_SYMBOLS.get(loan.currency, loan.currency),
        "tasa": f"{money.cents(loan.annual_rate):.2f}",
        "plazo": str(loan.term),
        "frecuencia": loan.get_frequency_display(),
        "fecha_inicio": _date(loan.start_date),
        "primer_vencimiento": _date(loan.first_due_date),
        "cuota": money.format_money(installment),
        "cuota_letras": words.amount_in_words(installment, loan.currency),
        "vehiculo_marca": loan.vehicle_brand,
        "vehiculo_modelo": loan.vehicle_model,
        "vehiculo_anio": str(loan.vehicle_year or ""),
        "vehiculo_placa": loan.vehicle_plate,
        "vehiculo_vin": loan.vehicle_vin,
    }


def _regular_installment(loan: Loan) -> Decimal | None:
    """Return the first regular installment as scheduled (principal, interest and fees;
    never the late interest it may owe since): the stored one, else the terms' schedule."""
    first = (
        Installment.objects.filter(loan=loan, kind=Installment.Kind.REGULAR, is_superseded=False)
        .order_by("number")
        .first()
    )
    if first is not None:
        return first.principal_due + first.interest_due + first.fee_due
    try:
        return loan_services.schedule_for(loan).installment
    except (ArithmeticError, ValueError):
        return None


def _form_data(gestion: Gestion) -> FormData:
    kinds = dict(
        gestion.gestion_type.fields.filter(scope=FormField.Scope.GESTION).values_list(
            "name", "kind"
        )
    )
    return FormData(
        {key: _form_value(value, kinds.get(key)) for key, value in (gestion.data or {}).items()}
    )


def _form_value(value: Any, kind: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Sí") if value else _("No")
    if kind == FormField.Kind.DECIMAL:
        try:
            return money.format_money(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    if kind == FormField.Kind.DATE:
        try:
            return _date(datetime.date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def _date(value: datetime.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""
