"""A form that came without Google's token (its script blocked, too slow, JavaScript off)
is still refused, but the visitor is told that the check did not load and what to do, not to
"try again in a few seconds" as after a refused token, which would fail the same way."""

import pytest
import responses
from django import forms

from integrations import recaptcha

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"


@pytest.fixture(autouse=True)
def configured(settings):
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    settings.DEBUG = False


def checked(token: str, **extra) -> forms.Form:
    form = forms.Form()
    form.cleaned_data = {"recaptcha_token": token}
    accepted = recaptcha.form_is_from_a_person(
        form, action="solicitud", remote_ip="203.0.113.7", hostname="cartera.example", **extra
    )
    assert accepted is False
    return form


def test_a_form_without_a_token_is_refused_and_told_the_check_did_not_load():
    with responses.RequestsMock() as google:  # Google is not asked: any call would fail
        form = checked("", way_out=recaptcha.way_out(whatsapp="+51 987 654 321"))

    assert len(google.calls) == 0
    (error,) = form.non_field_errors()
    assert error.startswith("No se pudo cargar la verificación de seguridad de Google")
    assert "pruebe con otro navegador o con otra conexión" in error
    assert error.endswith("Si sigue igual, escríbanos por WhatsApp al +51987654321.")
    assert "No pudimos verificar" not in error


def test_a_low_score_keeps_its_message():
    with responses.RequestsMock() as google:
        google.post(
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.1,
                "action": "solicitud",
                "hostname": "cartera.example",
            },
        )
        form = checked("token-1", way_out=recaptcha.way_out(address="Av. Arequipa 123"))

    assert form.non_field_errors() == [
        "No pudimos verificar que la solicitud la envía una persona. "
        "Vuelva a intentarlo en unos segundos."
    ]


def test_the_way_out_is_the_whatsapp_else_the_office_else_nothing():
    assert recaptcha.way_out(whatsapp="51987654321", address="Av. Arequipa 123") == (
        "Si sigue igual, escríbanos por WhatsApp al +51987654321."
    )
    assert recaptcha.way_out(address=" Av. Arequipa 123 ") == (
        "Si sigue igual, acérquese a nuestra oficina: Av. Arequipa 123."
    )
    assert recaptcha.way_out() == ""
    assert recaptcha.not_loaded_message() == recaptcha.not_loaded_message(way_out="")
