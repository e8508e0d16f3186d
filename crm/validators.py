"""Identity document rules per document type (Peru's, the default country), and the
control characters no text of a customer's may hold."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from lib import spreadsheets
from lib.search import ascii_digits

_RUC_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_RUC_PREFIXES = ("10", "15", "17", "20")


def normalize_document_number(number: str) -> str:
    """Return the number in ASCII (see `ascii_digits`), without spaces, dots or dashes,
    upper-cased."""
    return re.sub(r"[\s.\-]", "", ascii_digits(number or "")).upper()


def _ruc_check_digit_ok(ruc: str) -> bool:
    total = sum(int(d) * w for d, w in zip(ruc[:10], _RUC_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        check = 0
    elif check == 11:
        check = 1
    return check == int(ruc[10])


def validate_document(document_type: str, number: str) -> None:
    """Raise ValidationError (on `document_number`) if the number is invalid for its type."""
    if not number:
        raise ValidationError({"document_number": _("Ingrese el número de documento.")})
    if document_type == "dni":
        if not re.fullmatch(r"[0-9]{8}", number):
            raise ValidationError(
                {"document_number": _("El DNI debe tener exactamente 8 dígitos.")}
            )
    elif document_type == "ce":
        if not re.fullmatch(r"[A-Z0-9]{9,12}", number):
            raise ValidationError(
                {
                    "document_number": _(
                        "El carné de extranjería debe tener de 9 a 12 caracteres alfanuméricos."
                    )
                }
            )
    elif document_type == "ruc":
        if not re.fullmatch(r"[0-9]{11}", number):
            raise ValidationError(
                {"document_number": _("El RUC debe tener exactamente 11 dígitos.")}
            )
        if not number.startswith(_RUC_PREFIXES):
            raise ValidationError(
                {"document_number": _("El RUC debe empezar con 10, 15, 17 o 20.")}
            )
        if not _ruc_check_digit_ok(number):
            raise ValidationError(
                {"document_number": _("El dígito verificador del RUC no es válido.")}
            )
    elif document_type == "passport":
        if not re.fullmatch(r"[A-Z0-9]{6,12}", number):
            raise ValidationError(
                {
                    "document_number": _(
                        "El pasaporte debe tener de 6 a 12 caracteres alfanuméricos."
                    )
                }
            )
    else:
        raise ValidationError({"document_type": _("Tipo de documento desconocido.")})
    if not number.strip("0"):
        # The right shape, but no document is numbered 0.
        raise ValidationError(
            {"document_number": _("El número de documento no puede ser solo ceros.")}
        )


def control_character_problem(value: object) -> str | None:
    """Say what is wrong with a text holding a control character (`lib.spreadsheets`'
    definition), naming it; None if it holds none (or is no text). They are refused in a
    customer's texts on the screens and in the API: no .xlsx cell may hold them (an export
    would drop them silently), and the book's rows, written as a .csv, would read as
    another kind of file. NUL is left to its own check (Django's forms and the API name
    it); tab and line breaks are text."""
    if isinstance(value, str) and (
        control := spreadsheets.CONTROL_CHARACTERS.search(value.replace("\x00", ""))
    ):
        return _(
            "Tiene un carácter de control invisible (%(code)s), que no se admite: bórrelo."
        ) % {"code": f"U+{ord(control.group()):04X}"}
    return None


def refuse_control_characters(value: object) -> None:
    """A form field's validator: `control_character_problem` as a ValidationError."""
    if problem := control_character_problem(value):
        raise ValidationError(problem, code="control_character")
