"""The gestiones dashboards as an Excel workbook (openpyxl): one sheet per report."""

from collections.abc import Iterable
from io import BytesIO

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from crm.gestiones.models import SummaryBuild
from crm.gestiones.reports import selectors
from lib import people, spreadsheets

MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00"
MONTH_FORMAT = "mm/yyyy"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
TOP_BORDER = Border(top=Side(style="thin"))


def describe_filters(
    filters: selectors.ReportFilters, summary: SummaryBuild | None = None
) -> list[tuple[str, str]]:
    """Return the filters, then how fresh the figures are, as (label, value) lines for a
    sheet's heading."""
    lines = [
        (_("Desde"), f"{filters.start:%d/%m/%Y}" if filters.start else _("(sin límite)")),
        (_("Hasta"), f"{filters.end:%d/%m/%Y}" if filters.end else _("(sin límite)")),
    ]
    if filters.branch:
        lines.append((_("Sucursal"), filters.branch.name))
    if filters.agent:
        lines.append((_("Gestor"), people.display_name(filters.agent)))
    if filters.product:
        lines.append((_("Producto"), filters.product.name))
    if filters.gestion_type:
        lines.append((_("Tipo de gestión"), filters.gestion_type.name))
    lines.append((_("Cifras al"), freshness(summary)))
    return lines


def freshness(summary: SummaryBuild | None) -> str:
    """Return when the figures are from, as the dashboard says it."""
    if summary is None:
        return _("calculadas al descargar")
    return f"{timezone.localtime(summary.built_at):%d/%m/%Y %H:%M}"


def dashboard_workbook(
    filters: selectors.ReportFilters, summary: SummaryBuild | None = None
) -> bytes:
    """Return the .xlsx of every dashboard report for `filters`, one sheet each, read as
    the dashboard reads them (from `summary` when given)."""
    book = Workbook()
    book.remove(book.active)
    heading = describe_filters(filters, summary)
    _states_sheet(book, heading, selectors.gestiones_by_state(filters, summary))
    _rejections_sheet(book, heading, selectors.rejections_by_reason(filters, summary))
    amounts = selectors.requested_vs_approved(filters, summary)
    _amounts_sheet(book, _("Montos por tipo"), _("Tipo"), heading, amounts.by_type)
    _amounts_sheet(book, _("Montos por mes"), _("Mes"), heading, amounts.by_month)
    teams = selectors.branches_and_agents(filters, summary)
    _breakdown_sheet(book, _("Por sucursal"), _("Sucursal"), heading, teams.by_branch)
    _breakdown_sheet(book, _("Por gestor"), _("Gestor"), heading, teams.by_agent)
    _breakdown_sheet(
        book, _("Por canal"), _("Canal"), heading, selectors.by_channel(filters, summary)
    )
    output = BytesIO()
    book.save(output)
    return output.getvalue()


# --- Sheets -----------------------------------------------------------------------------


def _states_sheet(
    book: Workbook, heading: list[tuple[str, str]], report: selectors.StateReport
) -> None:
    sheet = _sheet(book, _("Por estado"), _("Gestiones por tipo y estado"), heading)
    money = [_("Monto solicitado %(currency)s") % {"currency": c} for c in report.currencies]
    header_row = _header(sheet, [_("Tipo"), _("Estado"), _("Cantidad"), "%", *money])
    for row in report.rows:
        _row(
            sheet,
            [row.gestion_type, row.state, row.count, row.percent, *_requested(row.amounts)],
            percent=(4,),
            money=range(5, 5 + len(money)),
        )
    _total(
        sheet,
        [_("Total general"), "", report.total, report.total_percent],
        _requested(report.total_amounts),
        percent=(4,),
    )
    _finish(sheet, header_row, [30, 30, 12, 10] + [20] * len(money))


def _rejections_sheet(
    book: Workbook, heading: list[tuple[str, str]], pivot: selectors.RejectionPivot
) -> None:
    sheet = _sheet(book, _("Rechazos"), _("Solicitudes rechazadas y motivos"), heading)
    header_row = _header(sheet, [_("Motivo"), *pivot.columns, _("Total general")])
    for row in pivot.rows:
        _row(sheet, [row.reason, *row.cells, row.total])
    _total(sheet, [_("Total general"), *pivot.column_totals, pivot.total], [])
    _finish(sheet, header_row, [30] + [18] * (len(pivot.columns) + 1))


def _amount_values(amounts: Iterable[selectors.Amounts]) -> list:
    values = []
    for a in amounts:
        values += [a.requested, a.approved, a.ratio]
    return values


def _amounts_sheet(
    book: Workbook,
    title: str,
    label: str,
    heading: list[tuple[str, str]],
    report: selectors.AmountReport,
) -> None:
    sheet = _sheet(book, title, _("Monto solicitado y aprobado"), heading)
    columns = [label, _("Gestiones")]
    for currency in report.currencies:
        columns += [
            _("Solicitado %(currency)s") % {"currency": currency},
            _("Aprobado %(currency)s") % {"currency": currency},
            _("Aprobado / solicitado %(currency)s (%%)") % {"currency": currency},
        ]
    header_row = _header(sheet, columns)
    money = [3 + 3 * k + j for k in range(len(report.currencies)) for j in (0, 1)]
    percent = [5 + 3 * k for k in range(len(report.currencies))]
    for row in report.rows:
        first = row.month if row.month else row.label
        at = _row(
            sheet, [first, row.count, *_amount_values(row.amounts)], money=money, percent=percent
        )
        if row.month:
            sheet.cell(row=at, column=1).number_format = MONTH_FORMAT
    _total(
        sheet,
        [_("Total general"), report.total.count],
        _amount_values(report.total.amounts),
        money=money,
        percent=percent,
    )
    _finish(sheet, header_row, [30, 12] + [18, 18, 14] * len(report.currencies))


def _breakdown_sheet(
    book: Workbook,
    title: str,
    label: str,
    heading: list[tuple[str, str]],
    report: selectors.BreakdownReport,
) -> None:
    sheet = _sheet(book, title, title, heading)
    columns = [
        label,
        _("Gestiones"),
        _("En curso"),
        _("Exitosas"),
        _("Rechazadas"),
        _("Cerradas"),
        _("Efectividad (%)"),
    ]
    for currency in report.currencies:
        columns += [
            _("Solicitado %(currency)s") % {"currency": currency},
            _("Aprobado %(currency)s") % {"currency": currency},
        ]
    header_row = _header(sheet, columns)
    money = range(8, 8 + 2 * len(report.currencies))

    def values(row: selectors.BreakdownRow) -> list:
        amounts = []
        for a in row.amounts:
            amounts += [a.requested, a.approved]
        counts = [row.count, row.open, row.success, row.rejected, row.closed]
        return [row.label, *counts, row.effectiveness, *amounts]

    for row in report.rows:
        _row(sheet, values(row), money=money, percent=(7,))
    total = values(report.total)
    total[0] = _("Total general")
    _total(sheet, total, [], money=money, percent=(7,))
    _finish(sheet, header_row, [30, 12, 12, 12, 12, 12, 14] + [18] * 2 * len(report.currencies))


# --- Cells ------------------------------------------------------------------------------


def _requested(amounts: Iterable[selectors.Amounts]) -> list:
    return [a.requested for a in amounts]


def _sheet(book: Workbook, name: str, title: str, heading: list[tuple[str, str]]) -> Worksheet:
    # Excel refuses sheet names over 31 characters.
    sheet = book.create_sheet(name[:31])
    spreadsheets.append_row(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in heading:
        row = spreadsheets.append_row(sheet, [label, value])
        sheet.cell(row=row, column=1).font = BOLD
    sheet.append([])
    return sheet


def _header(sheet: Worksheet, columns: list[str]) -> int:
    row = spreadsheets.append_row(sheet, columns)
    for cell in sheet[row]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    return row


def _row(
    sheet: Worksheet,
    values: list,
    *,
    money: Iterable[int] = (),
    percent: Iterable[int] = (),
) -> int:
    """Append a row and return its number; `money` and `percent` are 1-based column
    numbers to format."""
    row = spreadsheets.append_row(sheet, values)
    for column in money:
        sheet.cell(row=row, column=column).number_format = MONEY_FORMAT
    for column in percent:
        sheet.cell(row=row, column=column).number_format = PERCENT_FORMAT
    return row


def _total(
    sheet: Worksheet,
    values: list,
    more: list,
    *,
    money: Iterable[int] = (),
    percent: Iterable[int] = (),
) -> None:
    """Append the totals row, bold under a rule; `more` follows `values`."""
    all_values = values + more
    if not money and more:
        money = range(len(values) + 1, len(all_values) + 1)
    row = _row(sheet, all_values, money=money, percent=percent)
    for cell in sheet[row]:
        cell.font = BOLD
        cell.border = TOP_BORDER


def _finish(sheet: Worksheet, header_row: int, widths: list[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
