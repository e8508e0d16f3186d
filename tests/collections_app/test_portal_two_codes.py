"""/portal/ sent twice (the first answer lost on a bad network) sends two codes: the one
whose message arrives first still works for a few minutes, and the two share the attempts.
And a form that came without Google's token says that the check did not load."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import PortalCode
from collections_app.portal import services as portal_services
from tests.collections_app.test_portal import (  # noqa: F401
    CODE,
    IDENTIFY,
    STATEMENT,
    google,
    identify,
    last_code,
    reachable,
)

pytestmark = pytest.mark.django_db


def wrong(*codes: str) -> str:
    """A code that is none of `codes`."""
    guess = int(codes[0])
    while f"{guess:06d}" in codes:
        guess = (guess + 1) % 10**6
    return f"{guess:06d}"


def check(customer, code: str):
    return portal_services.check_code(
        document_type="dni", document_number=customer.document_number, code=code
    )


def test_the_first_code_still_works_after_the_form_was_sent_again(reachable):  # noqa: F811
    client = Client()
    identify(client, reachable.document_number)
    first = last_code()
    identify(client, reachable.document_number)  # the first answer never reached the phone
    second = last_code()

    response = client.post(CODE, {"code": first})

    assert response["Location"] == STATEMENT
    # One code, one session: the other one is closed.
    assert check(reachable, second) is None


def test_the_newest_code_works_too(reachable):  # noqa: F811
    client = Client()
    identify(client, reachable.document_number)
    first = last_code()
    identify(client, reachable.document_number)

    assert client.post(CODE, {"code": last_code()})["Location"] == STATEMENT
    assert check(reachable, first) is None


def test_two_codes_share_the_attempts(reachable):  # noqa: F811
    client = Client()
    identify(client, reachable.document_number)
    first = last_code()
    identify(client, reachable.document_number)
    second = last_code()
    guess = wrong(first, second)

    answers = [client.post(CODE, {"code": guess}) for _ in range(5)]

    assertContains(answers[0], "Le quedan 4 intentos.")
    assert answers[4]["Location"] == IDENTIFY
    assert list(PortalCode.objects.order_by("pk").values_list("attempts", flat=True)) == [5, 5]
    assert check(reachable, first) is None
    assert check(reachable, second) is None


def test_a_code_spent_before_the_second_does_not_come_back(reachable):  # noqa: F811
    identify(Client(), reachable.document_number)
    first = last_code()
    for _ in range(portal_services.MAX_ATTEMPTS):
        check(reachable, wrong(first))
    identify(Client(), reachable.document_number)
    second = last_code()

    assert check(reachable, first) is None
    assert check(reachable, second) == reachable


def test_only_the_code_just_before_stays_open(reachable):  # noqa: F811
    codes = []
    for _ in range(3):
        identify(Client(), reachable.document_number)
        codes.append(last_code())

    if codes[0] not in codes[1:]:
        assert check(reachable, codes[0]) is None
    assert check(reachable, codes[1]) == reachable


def test_a_code_older_than_a_few_minutes_stops_when_a_new_one_is_sent(reachable):  # noqa: F811
    client = Client()
    minutes = portal_services.PREVIOUS_CODE_MINUTES
    with time_machine.travel(timezone.now() - timedelta(minutes=minutes, seconds=1), tick=False):
        identify(client, reachable.document_number)
        first = last_code()
    identify(client, reachable.document_number)
    second = last_code()

    if first != second:
        assert check(reachable, first) is None
    assert check(reachable, second) == reachable


def test_the_previous_code_closes_a_few_minutes_after_it_was_sent(reachable):  # noqa: F811
    identify(Client(), reachable.document_number)
    first = last_code()
    identify(Client(), reachable.document_number)
    second = last_code()
    later = timezone.now() + timedelta(minutes=portal_services.PREVIOUS_CODE_MINUTES, seconds=1)

    with time_machine.travel(later, tick=False):
        if first != second:
            assert check(reachable, first) is None
        assert check(reachable, second) == reachable


def test_a_wrong_code_says_to_use_the_last_message(reachable):  # noqa: F811
    client = Client()
    identify(client, reachable.document_number)

    response = client.post(CODE, {"code": wrong(last_code())})

    assertContains(
        response,
        "El código no es correcto. Le quedan 4 intentos. Si recibió más de un código, use el "
        "del último mensaje.",
    )


def test_the_document_limit_still_holds(reachable, settings):  # noqa: F811
    settings.PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT = "2/h"
    client = Client()

    answers = [identify(client, reachable.document_number) for _ in range(3)]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert PortalCode.objects.count() == 2


# --- Google's check did not load -------------------------------------------------------------


def test_a_form_without_a_token_says_the_check_did_not_load(reachable, settings):  # noqa: F811
    settings.COMPANY_ADDRESS = "Av. Arequipa 123, Lima"
    response = Client().post(
        IDENTIFY,
        {"document_type": "dni", "document_number": reachable.document_number},
    )

    assertContains(response, "No se pudo cargar la verificación de seguridad de Google")
    assertContains(response, "Si sigue igual, acérquese a nuestra oficina: Av. Arequipa 123, Lima.")
    assertNotContains(response, "No pudimos verificar")
    assert not PortalCode.objects.exists()


def test_the_page_says_what_to_do_without_javascript(db, settings):
    settings.RECAPTCHA_SITE_KEY = "site-key"

    response = Client().get(IDENTIFY)

    assertContains(response, '<noscript><div class="alert alert-warning" id="identify-noscript">')
    assertContains(response, "Esta página necesita JavaScript")
    assertContains(response, 'id="identify-recaptcha-failed" data-recaptcha-failed')
    assertContains(response, 'data-waiting="Verificando…"')
    assertContains(response, 'api.js?render=site-key" async')
