"""Office documents converted by LibreOffice, run headless as a separate process.

Used from Celery tasks: a conversion takes about a second, longer for a large document.
Each worker process keeps its own LibreOffice profile (two conversions sharing one profile
at the same time would block each other), created on first use.
"""

import io
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from lxml import etree

# The longest a conversion may take before it is given up on.
TIMEOUT_SECONDS = 120


class ConverterUnavailable(Exception):
    """LibreOffice is not installed (or not where settings say): nothing can be converted."""


class ConversionFailed(Exception):
    """LibreOffice ran but produced no PDF (a corrupt document, a timeout), or the document
    reaches outside itself and was not converted."""


@dataclass(frozen=True)
class ExternalContent:
    """Something a DOCX brings in from outside itself when it is opened.

    `kind` is the relationship's type ("image", "oleObject", "attachedTemplate", "frame",
    "subDocument", "aFChunk"…) or "field" for a field code; `target` is its address or the
    field's instruction.
    """

    kind: str
    target: str


# A DOCX is a zip of XML parts; those read here come nowhere near this size together in a
# real document, and reading stops there (a zip declaring more is refused).
MAX_SCANNED_BYTES = 64 * 1024 * 1024
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Fields whose result is read from a file, a URL or another program (Word's field
# reference); INCLUDE and IMPORT are older names of INCLUDETEXT and INCLUDEPICTURE.
_FETCHING_FIELD = re.compile(
    r"\s*(INCLUDEPICTURE|INCLUDETEXT|INCLUDE|IMPORT|LINK|DDEAUTO|DDE|DATABASE)\b", re.IGNORECASE
)
# An altChunk is a whole HTML, RTF or DOCX file merged in when the document opens: it may
# link pictures and fields of its own.
_IMPORTED_CHUNK = "aFChunk"


def external_content(docx: bytes) -> list[ExternalContent]:
    """Return what a DOCX would bring in from outside itself when opened: a picture, object,
    template, frame or subdocument linked by address instead of held, a merged-in file,
    or a field that includes a file or a URL. Links a reader clicks are not listed.

    Raises ValueError when `docx` is not a zip of well-formed parts.
    """
    found: list[ExternalContent] = []
    try:
        with zipfile.ZipFile(io.BytesIO(docx)) as archive:
            parts = [
                (info, info.filename.lower().endswith(".rels"))
                for info in archive.infolist()
                if info.filename.lower().endswith(".rels")
                or re.fullmatch(r"word/.*\.xml", info.filename.lower())
            ]
            if sum(info.file_size for info, _rels in parts) > MAX_SCANNED_BYTES:
                raise ValueError("El documento es demasiado grande al descomprimirlo.")
            for info, is_relationships in parts:
                # Never more than file_size comes out of a part; no DTD, entities or network.
                parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
                root = etree.fromstring(archive.read(info), parser)
                found += _linked_parts(root) if is_relationships else _fetching_fields(root)
    except (zipfile.BadZipFile, etree.XMLSyntaxError, zlib.error, OSError, EOFError) as exc:
        raise ValueError(f"No es un documento Word válido: {exc}") from exc
    return found


def _linked_parts(relationships: etree._Element) -> list[ExternalContent]:
    found = []
    for relationship in relationships.iter(_RELATIONSHIPS):
        kind = (relationship.get("Type") or "").rsplit("/", 1)[-1]
        external = (relationship.get("TargetMode") or "").lower() == "external"
        if (external and kind.lower() != "hyperlink") or kind.lower() == _IMPORTED_CHUNK.lower():
            found.append(ExternalContent(kind=kind, target=relationship.get("Target") or ""))
    return found


def _fetching_fields(root: etree._Element) -> list[ExternalContent]:
    """Return the fields of a part that fetch something: `w:fldSimple`, and the complex ones
    whose instruction may be split over several `w:instrText` (up to the next field mark)."""
    found, instruction = [], []

    def check(text: str) -> None:
        if _FETCHING_FIELD.match(text):
            found.append(ExternalContent(kind="field", target=" ".join(text.split())))

    for element in root.iter(f"{_W}fldSimple", f"{_W}instrText", f"{_W}fldChar"):
        if element.tag == f"{_W}fldSimple":
            check(element.get(f"{_W}instr") or "")
        elif element.tag == f"{_W}instrText":
            instruction.append(element.text or "")
        else:
            check("".join(instruction))
            instruction = []
    check("".join(instruction))
    return found


def converter() -> str | None:
    """Return the path of LibreOffice's `soffice`, or None when it is not installed."""
    return shutil.which(getattr(settings, "LIBREOFFICE_BINARY", "") or "soffice")


def docx_to_pdf(docx: bytes, *, timeout: int = TIMEOUT_SECONDS) -> bytes:
    """Return the PDF of a DOCX as LibreOffice lays it out (fonts, images, numbering, symbols)."""
    soffice = converter()
    if soffice is None:
        raise ConverterUnavailable(
            "LibreOffice no está instalado en el servidor: instale el paquete "
            "libreoffice-writer-nogui o indique LIBREOFFICE_BINARY."
        )
    try:
        outside = external_content(docx)
    except ValueError as exc:
        raise ConversionFailed(str(exc)) from exc
    if outside:
        # LibreOffice would fetch it (a URL from the server's network, a file from its disk).
        raise ConversionFailed(
            "El documento trae contenido de fuera de él y no se convierte: "
            + "; ".join(f"{item.kind} {item.target[:120]}" for item in outside[:3])
        )
    return _convert_unchecked(soffice, docx, timeout=timeout)


def _convert_unchecked(soffice: str, docx: bytes, *, timeout: float) -> bytes:
    """Run LibreOffice on a DOCX not checked by `external_content` (its profile still
    blocks linked pictures)."""
    with tempfile.TemporaryDirectory(prefix="cartera-pdf-") as folder:
        source = Path(folder) / "documento.docx"
        source.write_bytes(docx)
        try:
            # Fixed arguments, no shell: the document is a file, never part of the command.
            result = subprocess.run(  # noqa: S603
                [
                    soffice,
                    "--headless",
                    "--norestore",
                    "--nolockcheck",
                    f"-env:UserInstallation={_profile_url()}",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    folder,
                    str(source),
                ],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ConversionFailed(f"LibreOffice no terminó la conversión en {timeout} s.") from exc
        pdf = source.with_suffix(".pdf")
        if result.returncode != 0 or not pdf.exists():
            detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
            raise ConversionFailed(
                "LibreOffice no pudo convertir el documento"
                + (f": {detail[:300]}" if detail else ".")
            )
        return pdf.read_bytes()


def _profile_url() -> str:
    folder = Path(tempfile.gettempdir()) / f"cartera-libreoffice-{os.getpid()}"
    _block_links(folder / "user" / "registrymodifications.xcu")
    return folder.as_uri()


# LibreOffice's "Block any links from documents not among the trusted locations"
# (Tools ▸ Options ▸ Security): a picture a document links to instead of holding, at a URL
# or a path on this machine, is not fetched and is left out of the PDF. There is no trusted
# location, so this holds for every document converted.
_BLOCK_LINKS_PATH = "/org.openoffice.Office.Common/Security/Scripting"
_BLOCK_LINKS = (
    f'<item oor:path="{_BLOCK_LINKS_PATH}"><prop oor:name="BlockUntrustedRefererLinks" '
    'oor:op="fuse"><value>true</value></prop></item>'
)
_EMPTY_SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n</oor:items>\n'
)


def _block_links(settings_file: Path) -> None:
    """Set BlockUntrustedRefererLinks in a LibreOffice profile's settings, created or kept."""
    text = settings_file.read_text("utf-8") if settings_file.exists() else _EMPTY_SETTINGS
    setting = re.search(
        r'<item oor:path="' + re.escape(_BLOCK_LINKS_PATH) + r'">'
        r'<prop oor:name="BlockUntrustedRefererLinks"[^>]*>.*?</item>',
        text,
        re.DOTALL,
    )
    if setting and "<value>true</value>" in setting.group(0):
        return
    if setting:  # set to false by hand in this profile
        text = text.replace(setting.group(0), "")
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(text.replace("</oor:items>", _BLOCK_LINKS + "\n</oor:items>"), "utf-8")
