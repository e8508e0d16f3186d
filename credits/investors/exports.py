"""The liquidation statement as an Excel workbook (openpyxl)."""

from collections.abc import Iterable
from io import BytesIO

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from credits.models import Distribution, Liquidation
from lib import spreadsheets

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
WIDTHS = {"A": 12, "B": 14, "C": 34, "D": 30, "E": 14, "F": 14, "G": 16, "H": 14}


def line_concept(line: Distribution) -> str:
    """Return what a statement line is: a payment's share, or the reversal of one."""
    if line.reversal_of_id:
        return _("Anulación del pago n.º %(id)s") % {"id": line.payment_id}
    return _("Pago n.º %(id)s del %(day)s") % {
        "id": line.payment_id,
        "day": line.payment.received_on.strftime("%d/%m/%Y"),
    }


def _line_groups(
    liquidation: Liquidation, lines: Iterable[Distribution]
) -> list[tuple[str, list[Distribution]]]:
    """Return the lines under their headings: those dated before the period (a reversal of a
    payment already liquidated), «De periodos anteriores», apart from the period's own; no
    heading when all of them are the period's."""
    lines = list(lines)
    earlier = [line for line in lines if line.value_date < liquidation.period_start]
    if not earlier:
        return [("", lines)]
    start, end = f"{liquidation.period_start:%d/%m/%Y}", f"{liquidation.period_end:%d/%m/%Y}"
    own = [line for line in lines if line.value_date >= liquidation.period_start]
    groups = [
        (_("De periodos anteriores (antes del %(day)s)") % {"day": start}, earlier),
        (_("Del periodo %(start)s – %(end)s") % {"start": start, "end": end}, own),
    ]
    return [(title, group) for title, group in groups if group]


def liquidation_workbook(liquidation: Liquidation, lines: Iterable[Distribution]) -> bytes:
    """Return the .xlsx file of a liquidation: investor and period, its lines and totals."""
    investor = liquidation.investor
    book = Workbook()
    sheet = book.active
    sheet.title = _("Liquidación")
    bold = Font(bold=True)

    spreadsheets.append_row(sheet, [_("Liquidación a inversionista")])
    sheet["A1"].font = Font(bold=True, size=14)
    header = [
        (_("Inversionista"), investor.name),
        (_("Documento"), f"{investor.get_document_type_display()} {investor.document_number}"),
        (_("Banco"), investor.bank_name),
        (_("Cuenta"), investor.bank_account),
        (_("CCI"), investor.bank_cci),
        (_("Moneda"), investor.currency),
        (
            _("Periodo"),
            f"{liquidation.period_start:%d/%m/%Y} – {liquidation.period_end:%d/%m/%Y}",
        ),
        (_("Estado"), liquidation.get_status_display()),
    ]
    if liquidation.payout_reference:
        header.append((_("N.º de operación del abono"), liquidation.payout_reference))
    for label, value in header:
        row = spreadsheets.append_row(sheet, [label, value or "—"])
        sheet.cell(row=row, column=1).font = bold
    spreadsheets.append_row(sheet, [])

    columns = [
        _("Fecha"),
        _("Crédito"),
        _("Cliente"),
        _("Concepto"),
        _("Capital"),
        _("Interés"),
        _("Comisión plataforma"),
        _("Neto"),
    ]
    header_row = spreadsheets.append_row(sheet, columns)
    fill = PatternFill("solid", fgColor="DDE6F0")
    for cell in sheet[header_row]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center")
    for title, group in _line_groups(liquidation, lines):
        if title:
            row = spreadsheets.append_row(sheet, [title])
            sheet.cell(row=row, column=1).font = bold
        for line in group:
            loan = line.participation.loan
            row = spreadsheets.append_row(
                sheet,
                [
                    line.value_date,
                    loan.payment_code,
                    loan.customer.full_name,
                    line_concept(line),
                    line.principal,
                    line.interest,
                    line.platform_fee,
                    line.net,
                ],
            )
            sheet.cell(row=row, column=1).number_format = DATE_FORMAT
            for column in range(5, 9):
                sheet.cell(row=row, column=column).number_format = MONEY_FORMAT

    # The stored totals, as values: they are what the statement says and what gets paid.
    total_row = spreadsheets.append_row(
        sheet,
        [
            _("Totales"),
            "",
            "",
            "",
            liquidation.principal,
            liquidation.interest,
            liquidation.platform_fee,
            liquidation.net_amount,
        ],
    )
    top = Border(top=Side(style="thin"))
    for cell in sheet[total_row]:
        cell.font = bold
        cell.border = top
    for column in range(5, 9):
        sheet.cell(row=total_row, column=column).number_format = MONEY_FORMAT

    for letter, width in WIDTHS.items():
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    output = BytesIO()
    book.save(output)
    return output.getvalue()
