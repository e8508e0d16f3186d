"""Guards from the security sweep: what was found right, kept right.

Cheap checks of the whole site's doors: where a sign-in may send the user, which views
skip CSRF, the headers every page carries, the production settings, webhooks sent without
a valid signature, and stored text that looks like markup or a template.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import URLResolver, get_resolver

from integrations.models import WebhookEvent
from tests.factories import CustomerFactory

OFF_SITE = [
    "//evil.example/",
    "/\\evil.example/",
    "https:evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
]


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


@pytest.mark.parametrize("target", OFF_SITE)
def test_signing_in_never_follows_next_off_site(client, asesor, target):
    response = client.post(
        f"/ingresar/?next={target}",
        {"username": "asesor", "password": "demo1234", "next": target},
    )

    assert response.status_code == 302
    assert "evil" not in response["Location"] and "javascript" not in response["Location"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_a_signed_in_user_sent_to_the_sign_in_page_stays_on_site(client, asesor, target):
    client.force_login(asesor)

    response = client.get("/ingresar/", {"next": target})

    assert response.status_code == 302
    assert "evil" not in response["Location"] and "javascript" not in response["Location"]


def test_only_webhooks_the_api_and_the_unsubscribe_link_skip_csrf():
    exempt = sorted(
        route
        for route, callback in _routes(get_resolver().url_patterns)
        if getattr(callback, "csrf_exempt", False) and not route.startswith("admin/")
    )

    assert exempt, "the walk found no view at all"
    # baja/: the unsubscribe link, whose one-click POST (RFC 8058) comes from a mail client
    # with no CSRF token; its signed link is the secret (crm.unsubscribe).
    assert [r for r in exempt if not r.startswith(("webhooks/", "api/v1/", "baja/"))] == []
    assert [r for r in exempt if r.startswith("baja/")] == ["baja/<str:firma>/"]


def test_a_staff_page_carries_the_security_headers(client, asesor):
    client.force_login(asesor)

    response = client.get("/clientes/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    policy = {words[0]: " ".join(words[1:]) for words in directives if words}
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "no-store" in response["Cache-Control"]


def test_production_settings_make_cookies_secure_and_ask_for_https(tmp_path):
    """The settings module read with the environment of a deploy (DEBUG off)."""
    env = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": "sweep-" + "k" * 50,
        "ALLOWED_HOSTS": "cartera.example.com",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        env.pop(name, None)
    env.pop("SECURE_HSTS_SECONDS", None)
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_HSTS_SECONDS",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        "DEBUG",
    ]
    code = (
        "import json, config.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )

    done = subprocess.run(  # noqa: S603 - this interpreter, a constant program
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    values = json.loads(done.stdout.strip().splitlines()[-1])

    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "DEBUG": False,
    }


WEBHOOKS = [
    ("/webhooks/mercadopago/", {"HTTP_X_SIGNATURE": "ts=1,v1=00", "HTTP_X_REQUEST_ID": "r"}),
    ("/webhooks/clear/", {"HTTP_X_SIGNATURE": "00"}),
    ("/webhooks/twilio/", {"HTTP_X_TWILIO_SIGNATURE": "bm90LWl0"}),
    ("/webhooks/whatsapp/", {"HTTP_X_HUB_SIGNATURE_256": "sha256=00"}),
    ("/webhooks/calcom/", {"HTTP_X_CAL_SIGNATURE_256": "00"}),
    ("/webhooks/docuseal/", {"HTTP_X_DOCUSEAL_SECRET": "wrong"}),
]
WEBHOOK_BODY = {
    "type": "payment",
    "action": "payment.created",
    "data": {"id": "123"},
    "id": "1",
    "triggerEvent": "BOOKING_CREATED",
    "event_type": "form.completed",
    "object": "whatsapp_business_account",
    "entry": [],
}


@pytest.fixture
def webhook_secrets(settings):
    settings.MERCADOPAGO_WEBHOOK_SECRET = "mp-secret"
    settings.CLEAR_WEBHOOK_SECRET = "clear-secret"
    settings.TWILIO_AUTH_TOKEN = "twilio-token"
    settings.WHATSAPP_APP_SECRET = "wa-secret"
    settings.CALCOM_WEBHOOK_SECRET = "calcom-secret"
    settings.DOCUSEAL_WEBHOOK_SECRET = "docuseal-secret"


@pytest.mark.parametrize(("url", "headers"), WEBHOOKS)
@pytest.mark.parametrize("signed", ["unsigned", "wrongly signed"])
def test_a_webhook_without_a_valid_signature_is_refused_and_not_stored(
    client, db, webhook_secrets, url, headers, signed
):
    response = client.post(
        url,
        json.dumps(WEBHOOK_BODY),
        content_type="application/json",
        **(headers if signed == "wrongly signed" else {}),
    )

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("url", [url for url, _headers in WEBHOOKS])
def test_a_webhook_is_refused_while_its_secret_is_not_configured(client, db, url):
    response = client.post(url, json.dumps(WEBHOOK_BODY), content_type="application/json")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


MARKUP_FIRST = "<script>alert(1)</script>{{ settings.SECRET_KEY }}"
MARKUP_LAST = '"><img src=x onerror=alert(2)>{% debug %}'


def test_a_customer_named_like_markup_or_a_template_is_shown_as_text(client, asesor):
    customer = CustomerFactory(
        first_name=MARKUP_FIRST, last_name=MARKUP_LAST, document_number="47110815"
    )
    client.force_login(asesor)

    for url in ("/clientes/?q=47110815", f"/clientes/{customer.pk}/"):
        content = client.get(url).content.decode()

        assert "<script>alert(1)</script>" not in content, url
        assert "<img src=x onerror" not in content, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, url
        # Shown as typed, never evaluated.
        assert "{{ settings.SECRET_KEY }}" in content, url
        assert settings.SECRET_KEY not in content, url


def test_signing_in_says_the_same_for_an_unknown_user_and_a_wrong_password(client, asesor):
    def error(username):
        response = client.post("/ingresar/", {"username": username, "password": "wrong-1234"})
        assert response.status_code == 200
        return response.context["form"].non_field_errors()

    assert error("asesor") == error("nadie-con-ese-nombre")


@pytest.mark.parametrize("role", ["asesor", "supervisor", "cobranzas", "agente"])
def test_the_django_admin_sends_staff_without_admin_access_to_its_sign_in(
    client, request, roles, role
):
    # `roles`: a transactional test before this one may have flushed the groups.
    client.force_login(request.getfixturevalue(role))

    response = client.get("/admin/crm/customer/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
