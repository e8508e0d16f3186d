"""Numbers as people type them, on the screens whose fields are lib.fields' (the others are
listed in the S4 report of 2026-12-06): read as meant, or refused in Spanish."""

from decimal import Decimal

import pytest

from collections_app.strategies.forms import SegmentForm

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "balance"),
    [("1,500.00", "1500.00"), ("1.500,00", "1500.00"), ("1500,5", "1500.5"), ("1 500", "1500")],
    ids=repr,
)
def test_a_segments_balance_is_read_as_the_supervisor_meant(typed, balance):
    form = SegmentForm(data={"name": "Medianos", "min_balance": typed})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["min_balance"] == Decimal(balance)


def test_a_segments_balance_of_one_group_of_three_is_asked_again():
    form = SegmentForm(data={"name": "Medianos", "min_balance": "1.500"})

    assert form.errors["min_balance"][0].startswith("«1.500» es ambiguo")


@pytest.mark.parametrize("typed", ["1e3", "1_000", "S/ 150"], ids=repr)
def test_a_segments_balance_in_python_or_with_currency_is_refused(typed):
    form = SegmentForm(data={"name": "Medianos", "min_balance": typed})

    assert form.errors["min_balance"] == ["Indique un monto, como 1500.00."]


def test_a_segments_balance_is_typed_in_a_text_input():
    # In <input type="number"> Chromium drops the comma as it is typed: 1500,50 → 150050.
    html = str(SegmentForm()["min_balance"])

    assert 'type="text"' in html
    assert 'inputmode="decimal"' in html
