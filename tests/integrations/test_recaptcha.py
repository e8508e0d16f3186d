from urllib.parse import parse_qs

import pytest
import requests
import responses
from django import forms

from integrations import recaptcha

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
SECRET = "recaptcha-secret"


@pytest.fixture(autouse=True)
def configured(settings):
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = SECRET
    settings.RECAPTCHA_MIN_SCORE = 0.5
    settings.DEBUG = False
    return settings


@pytest.fixture
def google():
    with responses.RequestsMock() as mock:
        yield mock


def answer(**fields) -> dict:
    return {
        "success": True,
        "score": 0.9,
        "action": "solicitud",
        "challenge_ts": "2025-03-10T15:00:00Z",
        "hostname": "cartera.example",
        **fields,
    }


def test_it_accepts_a_valid_token_for_the_action_with_a_good_score(google):
    google.add(responses.POST, VERIFY_URL, json=answer())

    result = recaptcha.verify(token="token-1", action="solicitud", remote_ip="203.0.113.7")

    assert result == recaptcha.RecaptchaResult(ok=True, score=0.9, reason="")
    sent = google.calls[0].request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.body) == {
        "secret": [SECRET],
        "response": ["token-1"],
        "remoteip": ["203.0.113.7"],
    }


def test_it_sends_no_remote_ip_it_was_not_given(google):
    google.add(responses.POST, VERIFY_URL, json=answer())

    recaptcha.verify(token="token-1", action="solicitud")

    assert "remoteip" not in parse_qs(google.calls[0].request.body)


def test_it_refuses_a_score_below_the_configured_minimum(google, configured):
    configured.RECAPTCHA_MIN_SCORE = 0.7
    google.add(responses.POST, VERIFY_URL, json=answer(score=0.3))

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False
    assert result.score == 0.3
    assert "Puntaje de reCAPTCHA demasiado bajo" in result.reason


def test_it_lets_the_caller_ask_for_a_different_minimum(google):
    google.add(responses.POST, VERIFY_URL, json=answer(score=0.3))

    result = recaptcha.verify(token="token-1", action="solicitud", min_score=0.2)

    assert result.ok is True


def test_it_refuses_a_token_made_for_another_action(google):
    google.add(responses.POST, VERIFY_URL, json=answer(action="login"))

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False
    assert result.score == 0.9
    assert "otra acción (login, no solicitud)" in result.reason


def test_it_accepts_a_token_solved_on_the_host_the_form_was_posted_to(google):
    google.add(responses.POST, VERIFY_URL, json=answer(hostname="Cartera.Example"))

    result = recaptcha.verify(token="token-1", action="solicitud", hostname="cartera.example:443")

    assert result.ok is True


@pytest.mark.parametrize("solved_on", ["otro.example", "cartera.example.otro.example", "", None])
def test_it_refuses_a_token_solved_on_another_site(google, solved_on):
    google.add(responses.POST, VERIFY_URL, json=answer(hostname=solved_on))

    result = recaptcha.verify(token="token-1", action="solicitud", hostname="cartera.example")

    assert result.ok is False
    assert result.score == 0.9
    assert "se resolvió en otro sitio" in result.reason


def test_without_the_request_host_it_takes_the_hosts_django_serves(google, configured):
    configured.ALLOWED_HOSTS = [".cartera.example"]
    google.add(responses.POST, VERIFY_URL, json=answer(hostname="portal.cartera.example"))
    google.add(responses.POST, VERIFY_URL, json=answer(hostname="otro.example"))

    ours = recaptcha.verify(token="token-1", action="solicitud")
    theirs = recaptcha.verify(token="token-2", action="solicitud")

    assert (ours.ok, theirs.ok) == (True, False)


def test_the_form_check_refuses_a_token_solved_on_another_site(google):
    google.add(responses.POST, VERIFY_URL, json=answer(hostname="otro.example"))
    form = forms.Form()
    form.cleaned_data = {"recaptcha_token": "token-1"}

    accepted = recaptcha.form_is_from_a_person(
        form, action="solicitud", remote_ip="203.0.113.7", hostname="cartera.example"
    )

    assert accepted is False
    assert "No pudimos verificar" in form.non_field_errors()[0]


def test_it_refuses_a_token_google_rejects_with_its_error_codes(google):
    google.add(
        responses.POST,
        VERIFY_URL,
        json={"success": False, "error-codes": ["timeout-or-duplicate"]},
    )

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result == recaptcha.RecaptchaResult(
        ok=False, score=None, reason="reCAPTCHA rechazó el token: timeout-or-duplicate"
    )


def test_it_refuses_a_success_without_a_score(google):
    google.add(responses.POST, VERIFY_URL, json=answer(score=None))

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False


@pytest.mark.parametrize(
    "error", [requests.ReadTimeout("read timed out"), requests.ConnectionError("reset")]
)
def test_it_refuses_without_raising_when_google_does_not_answer(google, error):
    google.add(responses.POST, VERIFY_URL, body=error)

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False
    assert result.reason.startswith("No se pudo verificar reCAPTCHA")


def test_it_asks_google_with_a_short_timeout(google):
    google.add(responses.POST, VERIFY_URL, json=answer())

    recaptcha.verify(token="token-1", action="solicitud")

    assert google.calls[0].request.req_kwargs["timeout"] == recaptcha.TIMEOUT


@pytest.mark.parametrize("status", [400, 500, 503])
def test_it_refuses_without_raising_when_google_answers_an_error(google, status):
    google.add(responses.POST, VERIFY_URL, status=status)

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False


@pytest.mark.parametrize("body", ["<html>Error</html>", "[]"])
def test_it_refuses_an_answer_that_is_not_a_json_object(google, body):
    google.add(responses.POST, VERIFY_URL, body=body)

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result == recaptcha.RecaptchaResult(
        ok=False, score=None, reason="reCAPTCHA respondió algo inesperado."
    )


def test_it_refuses_an_empty_token_without_asking_google(google):
    result = recaptcha.verify(token="", action="solicitud")

    assert result.ok is False
    assert len(google.calls) == 0


def test_it_accepts_everything_without_a_secret_in_debug(google, configured):
    configured.RECAPTCHA_SECRET_KEY = ""
    configured.DEBUG = True

    result = recaptcha.verify(token="", action="solicitud")

    assert result == recaptcha.RecaptchaResult(
        ok=True, score=None, reason="reCAPTCHA desactivado (sin clave)"
    )
    assert len(google.calls) == 0


def test_it_refuses_everything_without_a_secret_outside_debug(google, configured):
    configured.RECAPTCHA_SECRET_KEY = ""

    result = recaptcha.verify(token="token-1", action="solicitud")

    assert result.ok is False
    assert "no está configurado" in result.reason
    assert len(google.calls) == 0
