"""The portal's logo and banner: which uploads are images we serve, and their type.

There is no Pillow here, and an image's type is never taken from its name or from what
the browser said: the first bytes decide (PNG, JPEG or WebP; no SVG, which can carry
script).
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_BYTES = 2 * 1024 * 1024
HEAD_BYTES = 12
KINDS = ("logo", "banner")


def content_type(head: bytes) -> str | None:
    """Return the image's media type from its first bytes, or None if not one we take."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    # RIFF, four bytes of size, WEBP.
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def validate(upload) -> None:
    """Refuse an upload that is not a PNG, JPEG or WebP image of at most 2 MB."""
    if upload.size > MAX_BYTES:
        raise ValidationError(_("La imagen pesa más de 2 MB."))
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    if content_type(head) is None:
        raise ValidationError(_("La imagen debe ser PNG, JPG o WebP."))
