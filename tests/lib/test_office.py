"""DOCX to PDF by LibreOffice: the real program where installed, a clear error where not."""

import io
import os

import pytest
from docx import Document

from lib import office

# LibreOffice is installed by .ci/run: in CI its absence fails these tests.
needs_libreoffice = pytest.mark.skipif(
    office.converter() is None and os.environ.get("CI", "").lower() != "true",
    reason="LibreOffice is not installed on this machine (Debian: libreoffice-writer-nogui)",
)


def docx(*paragraphs: str) -> bytes:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@needs_libreoffice
def test_it_converts_a_docx_keeping_symbols_the_old_layout_dropped():
    pdf = office.docx_to_pdf(docx("Monto ≈ 1 234,50 € — pagaré n.º 12"))

    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1000


@needs_libreoffice
def test_it_gives_up_on_a_conversion_that_takes_too_long():
    with pytest.raises(office.ConversionFailed, match="no terminó"):
        office.docx_to_pdf(docx("hola"), timeout=0.01)


def test_it_says_libreoffice_is_missing_instead_of_failing_obscurely(settings):
    settings.LIBREOFFICE_BINARY = "/nonexistent/soffice"

    with pytest.raises(office.ConverterUnavailable, match="LibreOffice no está instalado"):
        office.docx_to_pdf(docx("hola"))
