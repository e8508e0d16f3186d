"""Office documents converted by LibreOffice, run headless as a separate process.

Used from Celery tasks: a conversion takes about a second, longer for a large document.
Each worker process keeps its own LibreOffice profile (two conversions sharing one profile
at the same time would block each other), created on first use.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

# The longest a conversion may take before it is given up on.
TIMEOUT_SECONDS = 120


class ConverterUnavailable(Exception):
    """LibreOffice is not installed (or not where settings say): nothing can be converted."""


class ConversionFailed(Exception):
    """LibreOffice ran but produced no PDF (a corrupt document, a timeout)."""


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
    return folder.as_uri()
