"""JSON typed into a form: too many digits is JSON that is not valid, not a server error."""

import json

import pytest
from django import forms

from lib.jsonsafe import MAX_INT_DIGITS, BoundedDecoder


def test_numbers_int_reads_are_read_as_json_reads_them():
    text = '{"a": [1, -2, 3.5, %s]}' % ("9" * MAX_INT_DIGITS)

    assert json.loads(text, cls=BoundedDecoder) == json.loads(text)


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 5000])
def test_an_integer_of_more_digits_than_int_reads_is_a_decode_error(number):
    with pytest.raises(ValueError):  # what json.loads alone raises: not a JSONDecodeError
        json.loads(number)
    with pytest.raises(json.JSONDecodeError):
        json.loads(f"[{number}]", cls=BoundedDecoder)


def test_a_form_field_with_the_decoder_says_the_json_is_not_valid():
    field = forms.JSONField(decoder=BoundedDecoder)

    with pytest.raises(forms.ValidationError):
        field.clean("9" * 5000)
