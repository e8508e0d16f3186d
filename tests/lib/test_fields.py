"""lib.fields: numbers read as people type them, in a text input, each problem said once."""

from decimal import Decimal

import pytest
from django import forms

from lib import fields


def _money(**kwargs) -> fields.DecimalField:
    return fields.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"), **kwargs)


def _errors(field: forms.Field, typed: str) -> list[str]:
    with pytest.raises(forms.ValidationError) as refused:
        field.clean(typed)
    return refused.value.messages


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1500,50", "1500.50"),
        ("1 234,50", "1234.50"),
        ("١٥٠", "150"),
    ],
    ids=repr,
)
def test_an_amount_is_read_as_the_person_meant(typed, amount):
    assert _money().clean(typed) == Decimal(amount)


def test_one_group_of_three_is_refused_as_ambiguous_naming_what_was_typed():
    assert _errors(_money(), " 1.234 ") == [
        "«1.234» es ambiguo: ¿separador de miles o decimales? Escríbalo sin separador de "
        "miles (1234) o con sus decimales (1,234.00)."
    ]


@pytest.mark.parametrize("typed", ["1e3", "1_000", "S/ 150", "Infinity", "½"], ids=repr)
def test_python_syntax_and_currency_are_the_forms_invalid_message(typed):
    field = _money(error_messages={"invalid": "Indique un monto, como 150.50."})

    assert _errors(field, typed) == ["Indique un monto, como 150.50."]


@pytest.mark.parametrize("typed", ["0,015", "1234,567"], ids=repr)
def test_a_third_decimal_on_money_is_refused_not_rounded(typed):
    assert _errors(_money(), typed) == ["Asegúrese de que no haya más de 2 dígitos decimales."]


def test_only_spaces_is_nothing_typed():
    assert _money(required=False).clean("   ") is None
    assert _errors(_money(), "   ") == ["Este campo es obligatorio."]


def test_a_rate_takes_a_comma_or_a_point_for_its_decimals():
    rate = fields.DecimalField(grouped=False, max_digits=8, decimal_places=4)

    assert rate.clean("1,234") == Decimal("1.234")
    assert rate.clean("32.5") == Decimal("32.5")


def test_a_number_given_by_code_is_taken_as_it_is():
    assert _money().clean(Decimal("12.50")) == Decimal("12.50")
    assert fields.IntegerField().clean(12) == 12


@pytest.mark.parametrize(
    ("typed", "number"),
    [("1,000,000", 1000000), ("1 000", 1000), ("12.0", 12), ("+3", 3)],
    ids=repr,
)
def test_a_whole_number_is_read_as_the_person_meant(typed, number):
    assert fields.IntegerField().clean(typed) == number


@pytest.mark.parametrize("typed", ["1.000", "1,000"], ids=repr)
def test_a_thousand_with_one_separator_is_not_taken_for_one(typed):
    # Django's IntegerField strips ".000": "1.000" units (a thousand, in Spain) were 1.
    assert _errors(fields.IntegerField(), typed)[0].startswith(f"«{typed}» es ambiguo")


@pytest.mark.parametrize("typed", ["12.5", "1e3", "1_000"], ids=repr)
def test_a_whole_number_refuses_decimals_and_python_syntax(typed):
    assert _errors(fields.IntegerField(), typed) == ["Introduzca un número entero."]


def test_a_number_input_given_by_a_form_becomes_a_text_input():
    # Chromium drops "," as it is typed in <input type="number">: "1500,50" was 150050.
    field = _money(
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"})
    )

    html = field.widget.render("amount", None, attrs=field.widget_attrs(field.widget))

    assert 'type="text"' in html
    assert 'inputmode="decimal"' in html
    assert "step=" not in html
    assert "min=" not in html


@pytest.mark.parametrize(
    ("field", "mode"),
    [
        (fields.DecimalField(min_value=0), 'inputmode="decimal"'),
        (fields.IntegerField(min_value=1), 'inputmode="numeric"'),
        (fields.IntegerField(widget=forms.NumberInput), 'type="text"'),
    ],
    ids=["amount", "count", "number-class"],
)
def test_a_field_brings_a_phones_digits_where_no_minus_is_needed(field, mode):
    html = field.widget.render("n", None, attrs=field.widget_attrs(field.widget))

    assert mode in html


def test_a_field_that_takes_negatives_keeps_the_full_keyboard():
    field = fields.IntegerField()

    assert "inputmode" not in field.widget_attrs(field.widget)
