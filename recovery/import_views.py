"""The campaigns' import template: a blank .xlsx with the columns the import reads.

The file itself is imported through the imports pages (`crm.imports`, kind
"recovery_campaigns"); this module only hands out the file to fill in.
"""

import io
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from recovery.imports import CampaignImporter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The columns of the template, in order: what a user fills in. The campaign amount and
# its balance are computed, so they are explained, not asked for.
COLUMNS = (
    "document_type",
    "document_number",
    "code",
    "debt_amount",
    "discount_type",
    "discount_value",
    "ends_on",
    "payment_code",
    "currency",
    "first_name",
    "last_name",
    "phone",
    "email",
)
REQUIRED_FOR_NEW = ("first_name",)


@require_GET
@permission_required("recovery.add_campaign", raise_exception=True)
def template_xlsx(request: HttpRequest) -> HttpResponse:
    """The campaigns' import template: the header, two example rows, and the instructions."""
    response = HttpResponse(template_workbook(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="plantilla-campanas-castigada.xlsx"'
    return response


def template_workbook() -> bytes:
    """Return the template as .xlsx bytes (openpyxl)."""
    importer = CampaignImporter()
    ends_on = timezone.localdate() + timedelta(days=90)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Campañas")[:31]
    sheet.append([str(importer.field(name).label) for name in COLUMNS])
    sheet.append(
        [
            "DNI",
            "45678912",
            "CAST-2026-07",
            Decimal("12000.00"),
            _("Porcentaje"),
            Decimal("40"),
            ends_on,
            "L000000123",
            "PEN",
            "",
            "",
            "",
            "",
        ]
    )
    sheet.append(
        [
            "CE",
            "001234567",
            "CAST-2026-07",
            Decimal("3500.50"),
            _("Monto"),
            Decimal("500.00"),
            None,
            "",
            "",
            "Jean",
            "Dupont",
            "987654321",
            "jean.dupont@correo.pe",
        ]
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=2, min_col=4, max_col=6):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    for cell in sheet["G"][1:]:
        cell.number_format = "DD/MM/YYYY"
    for letter in "ABCDEFGHIJKLM":
        sheet.column_dimensions[letter].width = 22
    sheet.freeze_panes = "A2"

    notes = book.create_sheet(_("Instrucciones"))
    notes.append([_("Columna"), _("¿Obligatoria?"), _("Qué escribir")])
    for name in COLUMNS:
        field = importer.field(name)
        if field.required:
            required = _("Sí")
        elif name in REQUIRED_FOR_NEW:
            required = _("Solo para registrar un cliente nuevo")
        else:
            required = _("No")
        notes.append([str(field.label), required, _instructions()[name]])
    notes.append([])
    for line in _general_notes():
        notes.append([line])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 24
    notes.column_dimensions["C"].width = 100
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _instructions() -> dict[str, str]:
    return {
        "document_type": _(
            "DNI, CE (carné de extranjería), RUC o Pasaporte. Vacío: DNI. Junto con el número "
            "identifica al cliente."
        ),
        "document_number": _(
            "El número del documento, válido para su tipo (un DNI tiene 8 dígitos, un RUC 11). "
            "Si el cliente no está registrado, la fila se rechaza, salvo que al importar marque "
            "«Crear los clientes que no estén registrados»."
        ),
        "code": _(
            "El ID de la campaña de cartera castigada, hasta 30 caracteres. Un cliente solo "
            "puede tener una campaña activa (puede tener otras pagadas o finalizadas) y recibe "
            "cada campaña una sola vez."
        ),
        "debt_amount": _(
            "El total de la deuda castigada, mayor que cero; con coma o punto decimal "
            "(12000,50 o 12000.50), sin separador de miles. Es el monto que se muestra tachado "
            "en la oferta."
        ),
        "discount_type": _("«Porcentaje» (o %, P) o «Monto» (o $, M)."),
        "discount_value": _(
            "Si el tipo es Porcentaje, el porcentaje (40 es 40 %); si es Monto, el monto a "
            "descontar. El descuento debe ser menor que la deuda. El monto de la campaña (lo "
            "que paga el cliente) es la deuda menos el descuento; su saldo es ese monto menos "
            "los pagos. Ambos se calculan: no hace falta escribirlos. El descuento no puede "
            "pasar del máximo del portal de cartera castigada (95 % si nadie lo cambió); si el "
            "código de pago asociado está lleno, la deuda debe estar entre la mitad y el doble "
            "del saldo de ese crédito."
        ),
        "ends_on": _(
            "Opcional: el último día de la campaña (dd/mm/aaaa), hoy o después. Vacío: sin "
            "fecha de finalización. Al día siguiente la campaña queda finalizada."
        ),
        "payment_code": _(
            "Opcional: el código de pago del crédito del cliente que origina la campaña. "
            "Vacío: la campaña cubre los créditos castigados del cliente a la fecha (no los "
            "que se castiguen después); si los tiene en soles y en dólares, indique el código "
            "de pago."
        ),
        "currency": _(
            "Opcional: PEN (S/) o USD (US$). Vacío: la moneda de los créditos castigados que "
            "cubre la campaña. Si la indica, debe ser esa."
        ),
        "first_name": _(
            "Solo para registrar un cliente nuevo (se ignoran si el cliente ya existe: sus "
            "datos no se cambian)."
        ),
        "last_name": _("Opcional, para un cliente nuevo."),
        "phone": _("Opcional, para un cliente nuevo: el celular (987654321 o +51987654321)."),
        "email": _("Opcional, para un cliente nuevo."),
    }


def _general_notes() -> list[str]:
    return [
        _("Borre las dos filas de ejemplo antes de importar."),
        _(
            "Se aceptan archivos .xlsx, .xls y .csv (también guardados por Excel en español: "
            "separados por «;», con comas decimales, en UTF-8 o Windows-1252)."
        ),
        _(
            "Si alguna fila tiene errores no se importa nada, y puede descargar las filas con "
            "errores, con su número de línea y el motivo; o bien marque «Importar las filas "
            "correctas aunque otras tengan errores»."
        ),
        _(
            "Cada campaña importada etiqueta al cliente con «Cartera castigada» y queda en su "
            "historial."
        ),
    ]
