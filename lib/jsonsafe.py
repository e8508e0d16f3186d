"""JSON a person typed, read without a server error on numbers Python will not read."""

import json
import sys

# What int() reads from text (Python's guard against quadratic conversions).
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise json.JSONDecodeError(f"Integer of more than {MAX_INT_DIGITS} digits", text, 0)
    return int(text)


class BoundedDecoder(json.JSONDecoder):
    """json's decoder, for which an integer of more digits than int() reads is JSON that is
    not valid (JSONDecodeError) rather than a ValueError of its own.

    Django's forms.JSONField catches only JSONDecodeError: a field posted with 5,000 nines
    was a server error instead of "Ingrese un JSON válido".
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("parse_int", _int)
        super().__init__(*args, **kwargs)
