"""A refused form says so in the page's title, on both portals (accessibility pass, F6):
a screen reader reads the title first, and «Error: » tells the debtor that nothing was done.
The same rule as the staff's pages (crm/templatetags/page_errors.py), and the mark
(<meta name="form-errors">) that moves the focus to the error (static/js/error_summary.js).
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from recovery.models import RecoverySettings
from tests.recovery.test_portal import google, portal, signed_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("portal")

DECLINE = reverse("recovery:decline")
RECOVERY_IDENTIFY = reverse("recovery:identify")
PORTAL_IDENTIFY = reverse("collections_app:portal_identify")
PORTAL_CODE = reverse("collections_app:portal_code")
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
MARK = '<meta name="form-errors" content="shown">'


def title(response) -> tuple[bool, str]:
    """Return whether the page is marked as showing a refused form, and its title's words."""
    html = response.content.decode()
    return MARK in html, " ".join(TITLE.search(html).group(1).split())


def test_a_refused_recovery_identification_begins_the_title_with_error():
    response = Client().post(
        RECOVERY_IDENTIFY,
        {"document_type": "dni", "document_number": "1234", "recaptcha_token": "t"},
    )

    assert response.status_code == 200
    assert title(response) == (
        True,
        f"Error: {RecoverySettings.current().title} · Cartera",
    )
    assert 'src="/static/js/error_summary.js"' in response.content.decode()


def test_the_recovery_identification_as_first_shown_has_no_error_in_its_title():
    response = Client().get(RECOVERY_IDENTIFY)

    assert title(response) == (False, f"{RecoverySettings.current().title} · Cartera")
    assert "error_summary.js" not in response.content.decode()


def test_a_refused_decline_begins_the_title_with_error(campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.post(DECLINE, {"reason": ""})

    assert response.status_code == 200
    assert title(response) == (True, "Error: No me interesa esta oferta · Cartera")


def test_the_decline_page_as_first_shown_has_no_error_in_its_title(campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.get(DECLINE)

    assert title(response) == (False, "No me interesa esta oferta · Cartera")


def test_a_refused_customer_portal_identification_begins_the_title_with_error(db):
    response = Client().post(
        PORTAL_IDENTIFY,
        {"document_type": "dni", "document_number": "1234", "recaptcha_token": "t"},
    )

    assert title(response) == (True, "Error: Ingrese al portal de pagos · Cartera")


def test_a_wrong_code_begins_the_title_with_error(debtor):
    client = Client()
    client.post(
        PORTAL_IDENTIFY,
        {
            "document_type": "dni",
            "document_number": debtor.document_number,
            "recaptcha_token": "token-portal_identify",
        },
    )
    shown = client.get(PORTAL_CODE)

    response = client.post(PORTAL_CODE, {"code": "000000"})

    assert title(shown) == (False, "Ingrese el código · Cartera")
    assert response.status_code == 200
    assert title(response) == (True, "Error: Ingrese el código · Cartera")
