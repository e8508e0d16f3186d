"""A DOCX laid out as a PDF in pure Python (python-docx to read it, fpdf2 to write it).

No office suite runs on the servers: paragraphs with their bold, italic and underlined runs,
alignment, headings, lists, tables, page breaks, and the first section's header and footer
are kept, with fpdf2's core fonts. It is a faithful reading copy, not a pixel copy of what
Word shows: images, text boxes and exact fonts are left out.
"""

import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.table import Table
from docx.text.paragraph import Paragraph
from fpdf import FPDF, FontFace

# Characters outside Latin-1 (what the PDF core fonts cover) that Word likes to type.
_LATIN1_SUBSTITUTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2022": "-",
    "\u2023": "-",
    "\u25cf": "-",
    "\u2026": "...",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u2009": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u202f": " ",
    "\u200b": "",
    "\ufeff": "",
    "\t": "    ",
}

_BODY_SIZE = 11
_HEADING_SIZES = {0: 18, 1: 16, 2: 14, 3: 12}
_ALIGNS = {
    WD_ALIGN_PARAGRAPH.CENTER: "C",
    WD_ALIGN_PARAGRAPH.RIGHT: "R",
    WD_ALIGN_PARAGRAPH.JUSTIFY: "J",
    WD_ALIGN_PARAGRAPH.DISTRIBUTE: "J",
}


def latin1(text: str) -> str:
    """Return `text` with what Latin-1 lacks replaced: “ ” → ", — → -, ő → o, else "?"."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        elif char in _LATIN1_SUBSTITUTES:
            out.append(_LATIN1_SUBSTITUTES[char])
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


@dataclass
class _Run:
    text: str
    style: str  # fpdf2 emphasis: "", "B", "I", "U" and combinations
    size: float


class _PDF(FPDF):
    def __init__(self, header_text: str, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_text = header_text
        self.footer_text = footer_text

    def header(self) -> None:
        if self.header_text:
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110)
            self.cell(0, 5, self.header_text, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0)
            self.ln(2)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110)
        page = _("Página %(page)s de %(pages)s") % {"page": self.page_no(), "pages": "{nb}"}
        text = f"{self.footer_text}  ·  {page}" if self.footer_text else page
        self.cell(0, 5, latin1(text), align="C")
        self.set_text_color(0)


def docx_to_pdf(docx_bytes: bytes) -> bytes:
    """Lay out a DOCX as a PDF: paragraphs with their emphasis and alignment, headings,
    lists, tables and page breaks. Images and exact fonts are left out."""
    document = Document(io.BytesIO(docx_bytes))
    section = document.sections[0] if document.sections else None
    header_text = footer_text = ""
    if section is not None:
        header_text = latin1(" ".join(p.text.strip() for p in section.header.paragraphs).strip())
        footer_text = latin1(" ".join(p.text.strip() for p in section.footer.paragraphs).strip())
    pdf = _PDF(header_text[:150], footer_text[:100])
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", "", _BODY_SIZE)
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            _pdf_table(pdf, block)
        else:
            _pdf_paragraph(pdf, block)
    return bytes(pdf.output())


def _pdf_paragraph(pdf: FPDF, paragraph: Paragraph) -> None:
    heading = _heading_level(paragraph)
    runs = _runs(paragraph, heading)
    page_break = _has_page_break(paragraph)
    text = "".join(r.text for r in runs)
    if not text.strip():
        pdf.ln(_BODY_SIZE * 0.5)
    else:
        align = _ALIGNS.get(_alignment(paragraph), "L")
        bullet = "-" if _is_list(paragraph) else ""
        space_after = 4 if heading is not None else 2.5
        with (
            pdf.text_columns(text_align=align, line_height=1.25) as columns,
            columns.paragraph(
                bottom_margin=space_after,
                top_margin=3 if heading is not None else 0,
                indent=6 if bullet else 0,
                bullet_string=bullet,
                bullet_r_margin=2.5 if bullet else None,
            ) as par,
        ):
            for run in runs:
                pdf.set_font("Helvetica", run.style, run.size)
                par.write(run.text)
        pdf.set_font("Helvetica", "", _BODY_SIZE)
    if page_break:
        pdf.add_page()


def _runs(paragraph: Paragraph, heading: int | None) -> list[_Run]:
    style_font = paragraph.style.font if paragraph.style is not None else None
    base_bold = bool(style_font and style_font.bold) or heading is not None
    base_italic = bool(style_font and style_font.italic)
    base_size = _HEADING_SIZES.get(heading, _BODY_SIZE) if heading is not None else _BODY_SIZE
    if heading is None and style_font is not None and style_font.size:
        base_size = _clamp(style_font.size.pt)
    runs = []
    for run in paragraph.runs:
        text = latin1(run.text)
        if not text:
            continue
        bold = base_bold if run.bold is None else run.bold
        italic = base_italic if run.italic is None else run.italic
        style = ("B" if bold else "") + ("I" if italic else "") + ("U" if run.underline else "")
        size = _clamp(run.font.size.pt) if run.font.size else base_size
        runs.append(_Run(text=text, style=style, size=size))
    return runs


def _clamp(size: float) -> float:
    return max(6.0, min(float(size), 28.0))


def _heading_level(paragraph: Paragraph) -> int | None:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    lowered = name.lower()
    if lowered in ("title", "título", "titulo"):
        return 0
    match = re.match(r"(heading|título|titulo)\s*(\d)", lowered)
    if match:
        return int(match.group(2))
    return None


def _alignment(paragraph: Paragraph) -> Any:
    if paragraph.alignment is not None:
        return paragraph.alignment
    style = paragraph.style
    while style is not None:
        if style.paragraph_format.alignment is not None:
            return style.paragraph_format.alignment
        style = style.base_style
    return None


def _is_list(paragraph: Paragraph) -> bool:
    name = ((paragraph.style.name if paragraph.style is not None else "") or "").lower()
    if name.startswith(("list", "lista")):
        return True
    return paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None


def _has_page_break(paragraph: Paragraph) -> bool:
    return any(
        br.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}type") == "page"
        for br in paragraph._p.iter(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}br"
        )
    )


def _pdf_table(pdf: FPDF, table: Table) -> None:
    rows: list[list[tuple[str, int, bool]]] = []
    for row in table.rows:
        cells: list[tuple[str, int, bool]] = []
        previous = None
        for cell in row.cells:
            # A merged cell comes back once per grid column it spans.
            if previous is not None and cell._tc is previous:
                text, span, bold = cells[-1]
                cells[-1] = (text, span + 1, bold)
                continue
            previous = cell._tc
            paragraphs = cell.paragraphs
            text = latin1("\n".join(p.text for p in paragraphs).strip())
            runs = [r for p in paragraphs for r in p.runs if r.text.strip()]
            bold = bool(runs) and all(r.bold for r in runs)
            cells.append((text, 1, bold))
        rows.append(cells)
    width = max((sum(span for _t, span, _b in cells) for cells in rows), default=0)
    if not width:
        return
    pdf.set_font("Helvetica", "", _BODY_SIZE - 1)
    with pdf.table(
        first_row_as_headings=False, line_height=5.5, padding=1.5, text_align="LEFT"
    ) as grid:
        for cells in rows:
            row = grid.row()
            used = 0
            for text, span, bold in cells:
                style = FontFace(emphasis="BOLD") if bold else None
                row.cell(text, colspan=span, style=style)
                used += span
            if used < width:
                row.cell("", colspan=width - used)
    pdf.set_font("Helvetica", "", _BODY_SIZE)
    pdf.ln(3)
