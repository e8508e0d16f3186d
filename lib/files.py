"""Private files: stored under names nobody can guess, served only by views that check who asks.

No URL maps to MEDIA_ROOT. A view fetches the object through its access helper, then
answers with `serve`: Django streams the file itself, or, behind a web server configured
for it (`PRIVATE_FILES_SERVER`), hands the sending over with X-Accel-Redirect (nginx) or
X-Sendfile (Apache), so a large file does not hold a worker.
"""

import mimetypes
import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

# How many random bytes a stored file's folder holds: as many as a session key.
NAME_ENTROPY_BYTES = 16


def private_name(folder: str, filename: str) -> str:
    """Return where to store an upload: `folder/<random>/<the file's own name>`.

    The random part makes the path unguessable; the name stays readable in the download.
    """
    try:
        name = get_valid_filename(PurePosixPath(filename.replace("\\", "/")).name)
    except SuspiciousFileOperation:  # nothing usable left: "", "..", "/"
        name = "archivo"
    return f"{folder}/{secrets.token_urlsafe(NAME_ENTROPY_BYTES)}/{name[-120:]}"


def serve(
    file: FieldFile, *, filename: str = "", as_attachment: bool = True, content_type: str = ""
) -> HttpResponse:
    """Answer with a stored file; call it only after checking the user may see its object."""
    filename = filename or PurePosixPath(file.name).name
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    server = getattr(settings, "PRIVATE_FILES_SERVER", "")
    if server == "nginx":
        # nginx: `location /private-files/ { internal; alias <MEDIA_ROOT>/; }`.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.PRIVATE_FILES_INTERNAL_URL.rstrip("/") + (
            "/" + file.name
        )
    elif server == "apache":
        # Apache with mod_xsendfile, XSendFilePath set to MEDIA_ROOT.
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = file.path
    else:
        try:
            handle = file.open("rb")
        except FileNotFoundError:
            # The row outlived its file (a restore without the media, a disk cleaned by
            # hand): a page that says so, not a server error.
            raise Http404(_("El archivo ya no está guardado en el servidor.")) from None
        return FileResponse(
            handle,
            as_attachment=as_attachment,
            filename=filename,
            content_type=content_type,
        )
    response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    return response
