"""A DOCX that brings in something from outside itself is not converted: LibreOffice would
fetch it from the server (a URL of the internal network, a file on the server's disk)."""

import io
import re
import zipfile

import pytest
from docx import Document
from docx.shared import Pt
from pypdf import PdfReader

from lib import office
from tests.lib.test_office import needs_libreoffice

# A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101002718dd8e0000000049454e44ae426082"
)
EMPTY_RELATIONSHIPS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "</Relationships>"
)
IMAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"


def plain_docx(with_picture: bool = False) -> bytes:
    document = Document()
    document.styles["Normal"].font.size = Pt(11)
    document.add_paragraph("Contrato {{ cliente.nombre_completo }}")
    if with_picture:
        document.add_picture(io.BytesIO(PNG))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def patched(data: bytes, *, part: str, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == part:
                content = change(content.decode()).encode()
            target.writestr(item, content)
        if part not in source.namelist():
            target.writestr(part, change(EMPTY_RELATIONSHIPS))
    return out.getvalue()


def with_relationship(
    data: bytes, kind: str, target: str, part: str = "word/_rels/document.xml.rels"
) -> bytes:
    return patched(
        data,
        part=part,
        change=lambda xml: xml.replace(
            "</Relationships>",
            f'<Relationship Id="rIdX1" Type="{kind}" Target="{target}" TargetMode="External"/>'
            "</Relationships>",
        ),
    )


def linked_picture(target: str) -> bytes:
    """A DOCX whose picture is linked by address instead of held (`<a:blip r:link>`)."""
    data = with_relationship(plain_docx(with_picture=True), IMAGE, target)
    return patched(
        data,
        part="word/document.xml",
        change=lambda xml: re.sub(r'<a:blip r:embed="[^"]+"', '<a:blip r:link="rIdX1"', xml),
    )


def with_field(*instruction_runs: str, simple: bool = False) -> bytes:
    if simple:
        field = (
            f'<w:p><w:fldSimple w:instr="{instruction_runs[0]}">'
            "<w:r><w:t>x</w:t></w:r></w:fldSimple></w:p>"
        )
    else:
        runs = "".join(
            f'<w:r><w:instrText xml:space="preserve">{text}</w:instrText></w:r>'
            for text in instruction_runs
        )
        field = (
            '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            + runs
            + '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>x</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
        )
    return patched(
        plain_docx(),
        part="word/document.xml",
        change=lambda xml: xml.replace("<w:sectPr", field + "<w:sectPr", 1),
    )


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


@pytest.mark.parametrize(
    ("data", "kind", "target"),
    [
        (linked_picture("http://169.254.169.254/latest/meta-data"), "image", "http://169.254"),
        (linked_picture("file:///etc/passwd"), "image", "file:///etc/passwd"),
        (with_field(' INCLUDEPICTURE "http://10.0.0.1/x.png" '), "field", "INCLUDEPICTURE"),
        (with_field(' INCLUDETEXT "/etc/hostname" '), "field", "INCLUDETEXT"),
        (with_field(" INCLUDE", 'PICTURE "http://10.0.0.1/x.png"'), "field", "INCLUDEPICTURE"),
        (with_field("LINK Excel.Sheet.8 C:\\\\x.xls", simple=True), "field", "LINK"),
        (with_field(' DDEAUTO cmd "/c calc"'), "field", "DDEAUTO"),
        (
            with_relationship(plain_docx(), REL + "oleObject", "http://10.0.0.1/o.bin"),
            "oleObject",
            "http://10.0.0.1",
        ),
        (
            with_relationship(
                plain_docx(),
                REL + "attachedTemplate",
                "http://10.0.0.1/t.dotx",
                part="word/_rels/settings.xml.rels",
            ),
            "attachedTemplate",
            "http://10.0.0.1/t.dotx",
        ),
        (
            with_relationship(plain_docx(), REL + "frame", "http://10.0.0.1/f.html"),
            "frame",
            "http://10.0.0.1",
        ),
    ],
)
def test_it_lists_what_a_docx_brings_in_from_outside(data, kind, target):
    found = office.external_content(data)

    assert [item.kind for item in found] == [kind]
    assert target in found[0].target


def test_it_lists_nothing_for_a_document_with_an_embedded_picture_a_hyperlink_and_a_page_field():
    data = with_relationship(
        plain_docx(with_picture=True), REL + "hyperlink", "https://example.com/condiciones"
    )
    data = patched(
        data,
        part="word/document.xml",
        change=lambda xml: xml.replace(
            "<w:sectPr",
            '<w:p><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple></w:p>'
            "<w:sectPr",
            1,
        ),
    )

    assert office.external_content(data) == []


def test_it_refuses_to_convert_a_docx_that_links_a_picture_by_address():
    with pytest.raises(office.ConversionFailed, match="contenido de fuera"):
        office.docx_to_pdf(linked_picture("http://127.0.0.1:9/x.png"))


@needs_libreoffice
def test_libreoffice_leaves_out_a_picture_linked_by_address(tmp_path):
    # Past the check above: what LibreOffice itself does, with the profile it is run with.
    picture = tmp_path / "local.png"
    picture.write_bytes(PNG)

    pdf = office._convert_unchecked(
        office.converter(), linked_picture(picture.as_uri()), timeout=120
    )

    assert sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages) == 0


@needs_libreoffice
def test_libreoffice_still_draws_a_picture_the_document_holds():
    pdf = office.docx_to_pdf(plain_docx(with_picture=True))

    assert sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages) == 1
