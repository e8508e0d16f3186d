"""`check --deploy` refuses a SITE_URL every customer's link would start with by mistake."""

import pytest

from crm import checks


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000/",
        "https://cartera.local",
        "http://[::1]:8000",
        "http://0.0.0.0",
        "",
        "cartera",
    ],
)
def test_a_local_or_missing_site_url_is_an_error(settings, url):
    settings.SITE_URL = url

    (error,) = checks.check_site_url(None)

    assert error.id == "crm.E001"


def test_a_public_site_url_without_https_is_a_warning(settings):
    settings.SITE_URL = "http://cartera.example.com"

    (warning,) = checks.check_site_url(None)

    assert warning.id == "crm.W001"


def test_a_public_https_site_url_passes(settings):
    settings.SITE_URL = "https://cartera.example.com/"

    assert checks.check_site_url(None) == []
