"""Lookups Django leaves to the database where a number out of range breaks it."""

from django.db.models import IntegerField
from django.db.models.lookups import In


@IntegerField.register_lookup
class IntegerFieldIn(In):
    """`in` on an integer column, without the values no row of it can hold.

    Django leaves those out of `exact`, `lt`, `gt`… (IntegerFieldOverflow), not out of
    `in`: SQLite refuses a Python int beyond 64 bits (OverflowError), so a multiple
    choice of rows posted with "99999…" (a form's tags) was a server error, not a form
    error. PostgreSQL compared it as a numeric and matched nothing; now neither asks.
    """

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            low, high = connection.ops.integer_field_range(
                self.lhs.output_field.get_internal_type()
            )
            self.rhs = [
                value
                for value in self.rhs
                if not isinstance(value, int)
                or ((low is None or value >= low) and (high is None or value <= high))
            ]
        return super().process_rhs(compiler, connection)


# Digits of a bigint id, with room: more is not an id of ours.
ID_DIGITS = 18


def whole_number(text: str, *, digits: int = ID_DIGITS) -> int | None:
    """Return the whole number a posted or typed id says, or None.

    ASCII digits only, and at most `digits` of them: "²" is a digit to str.isdigit and not
    a number to int(), and int() refuses a text of more than 4,300 digits (ValueError, a
    server error where a view read a posted id with it).
    """
    if text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None
