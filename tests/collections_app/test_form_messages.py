"""Each problem of a collections form said once, and in words that fit it."""

import pytest

from collections_app.conversations.forms import ReplyForm
from collections_app.models import Segment
from collections_app.strategies.forms import SegmentForm
from lib.fields import DecimalField

pytestmark = pytest.mark.django_db


def test_a_value_that_breaks_two_limits_with_one_message_says_it_once():
    field = DecimalField(
        max_digits=14,
        decimal_places=2,
        max_value=10**6,
        error_messages={"max_value": "Demasiado.", "max_digits": "Demasiado."},
    )

    with pytest.raises(Exception) as refused:
        field.clean("1000000000000000")

    assert refused.value.messages == ["Demasiado."]


def test_a_segments_balance_too_large_is_said_once():
    form = SegmentForm(data={"name": "Grandes", "min_balance": "1000000000000000"})

    assert form.errors["min_balance"] == ["Indique un saldo de hasta 999,999,999.99."]


def test_a_segments_days_from_one_reads_well():
    form = SegmentForm(data={"name": "Tardíos", "min_days_past_due": "-1"})

    assert form.errors["min_days_past_due"] == ["Indique un número de días de 0 en adelante."]


def test_a_segment_name_taken_says_so_in_spanish():
    Segment.objects.create(name="Morosos")

    form = SegmentForm(data={"name": "Morosos"})

    assert form.errors["name"] == ["Ya existe un segmento con ese nombre."]


def test_a_reply_too_long_is_not_also_called_empty():
    form = ReplyForm(data={"channel": "sms", "body": "a" * 5000}, channels=[("sms", "SMS")])

    assert form.errors["body"] == ["Escriba como máximo 4000 caracteres."]
