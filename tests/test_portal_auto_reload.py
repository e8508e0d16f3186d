"""The payment-link pages that reload themselves (customer portal and /recovery): the page's
own reload is nobody's activity, so a page left open waiting for the gateway does not keep
the debtor's visit open; a link still being created reloads itself too, until its deadline.

The clock is frozen on TODAY (15 June 2026, noon in Lima), as for every collections test.
"""

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urljoin

import pytest
import responses
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services as collection_services
from collections_app.models import PaymentLink
from tests.collections_app import test_portal as customer_portal
from tests.collections_app.conftest import _fresh_gateways, _frozen, debtor, loan  # noqa: F401
from tests.credits.conftest import frozen_today, make_active_loan  # noqa: F401
from tests.recovery import test_portal as recovery_portal
from tests.recovery.conftest import campaign, written_off  # noqa: F401
from tests.recovery.test_portal import portal  # noqa: F401

IDLE_MESSAGE = "Su sesión terminó por inactividad"
# How often the page waiting for the gateway reloads itself (link_refresh.html).
WAITING_RELOAD_SECONDS = 15


def _google_answer(request):
    """Google's siteverify: a good score, for the form the token was made for."""
    token = parse_qs(request.body)["response"][0]
    action = "recovery_identify" if token == "token-recovery_identify" else "portal_identify"
    answer = {"success": True, "score": 0.9, "action": action, "hostname": "testserver"}
    return 200, {}, json.dumps(answer)


@pytest.fixture(autouse=True)
def google(settings):
    """Google's siteverify, faked at the HTTP layer, for both portals' forms."""
    settings.RECAPTCHA_VERIFY_URL = customer_portal.VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, customer_portal.VERIFY_URL, callback=_google_answer)
        yield mock


@pytest.fixture
def reachable(debtor):  # noqa: F811 (the collections tests' fixture)
    debtor.email = "deudor@example.pe"
    debtor.save()
    return debtor


def reload_target(url: str, response) -> str | None:
    """Where the page's meta refresh takes the browser, resolved as a browser does; None
    when the page does not reload itself."""
    found = re.search(r'<meta http-equiv="refresh" content="\d+(?:;url=([^"]*))?">', response.text)
    if found is None:
        return None
    return urljoin(url, found.group(1) or url)


@pytest.fixture
def clock():
    """The frozen clock, moved by the tests."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def left_open(client: Client, url: str, clock, *, minutes: int):
    """Leave the page open for `minutes`, its meta refresh reloading it; return the last
    answer (a redirect ends the reloads: the browser then shows another page)."""
    response = client.get(url)
    for _ in range(minutes * 60 // WAITING_RELOAD_SECONDS):
        target = reload_target(url, response)
        assert target is not None, "the waiting page reloads itself"
        clock.shift(WAITING_RELOAD_SECONDS)
        url, response = target, client.get(target)
        if response.status_code == 302:
            break
    return response


def customer_link_page(client: Client, loan) -> str:  # noqa: F811
    client.post(
        customer_portal.PAY,
        {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"},
    )
    return reverse("collections_app:portal_link", args=[PaymentLink.objects.get().reference])


def recovery_link_page(client: Client) -> str:
    client.post(recovery_portal.PAY, {"provider": "mercadopago"})
    return reverse("recovery:link", args=[PaymentLink.objects.get().reference])


# --- The customer portal -----------------------------------------------------------------------


def test_two_hours_of_the_link_page_reloading_itself_end_the_idle_visit(reachable, loan, clock):  # noqa: F811
    client = customer_portal.signed_in(Client(), reachable)
    url = customer_link_page(client, loan)

    left_open(client, url, clock, minutes=120)

    assert client.get(customer_portal.STATEMENT)["Location"] == customer_portal.IDENTIFY


def test_the_reload_after_twenty_idle_minutes_shows_the_idle_sign_out(reachable, loan, clock):  # noqa: F811
    client = customer_portal.signed_in(Client(), reachable)
    url = customer_link_page(client, loan)

    last = left_open(client, url, clock, minutes=21)

    assert last["Location"] == customer_portal.IDENTIFY
    assertContains(client.get(customer_portal.IDENTIFY), IDLE_MESSAGE)
    assertNotContains(client.get(url), loan.payment_code)


def test_a_persons_own_reload_of_the_reloaded_address_still_counts_as_activity(
    reachable,
    loan,  # noqa: F811
    clock,
):
    client = customer_portal.signed_in(Client(), reachable)
    url = customer_link_page(client, loan)
    left_open(client, url, clock, minutes=15)

    # The address bar holds the reload's address; the browser marks a person's reload.
    by_hand = client.get(url + "?auto=1", headers={"Sec-Fetch-User": "?1"})
    left_open(client, url + "?auto=1", clock, minutes=15)

    assertContains(by_hand, loan.payment_code)
    assert client.get(customer_portal.STATEMENT).status_code == 200


def test_back_from_the_gateway_after_an_idle_visit_the_page_shows_the_links_state(
    reachable,
    loan,  # noqa: F811
    clock,
):
    client = customer_portal.signed_in(Client(), reachable)
    url = customer_link_page(client, loan)
    clock.shift(timedelta(minutes=25))

    back = client.get(url + "?status=approved")

    assertContains(back, "Estamos esperando la confirmación de MercadoPago")
    assertNotContains(back, loan.payment_code)


def test_a_link_being_created_reloads_itself_until_its_deadline(reachable, loan):  # noqa: F811
    client = customer_portal.signed_in(Client(), reachable)
    url = customer_link_page(client, loan)
    PaymentLink.objects.update(status=PaymentLink.Status.CREATING)
    deadline = PaymentLink.objects.get().created_at + collection_services.LINK_CREATING_WAIT

    creating = client.get(url)
    with time_machine.travel(deadline, tick=False):
        left_behind = client.get(url + "?auto=1")

    assertContains(creating, '<meta http-equiv="refresh" content="3;url=?auto=1">', html=False)
    assertContains(creating, "esta página se actualiza sola")
    assertNotContains(creating, "Vuelva a cargar")
    assertNotContains(left_behind, 'http-equiv="refresh"')
    assertContains(left_behind, "Su link de pago no terminó de prepararse")
    assertContains(left_behind, "Genere un nuevo link desde su estado de cuenta")


# --- /recovery ---------------------------------------------------------------------------------


def test_recoverys_link_page_reloading_itself_ends_the_idle_visit(portal, campaign, debtor, clock):  # noqa: F811
    client = recovery_portal.signed_in(Client(), debtor)
    url = recovery_link_page(client)

    last = left_open(client, url, clock, minutes=120)

    assert last["Location"] == recovery_portal.IDENTIFY
    assertContains(client.get(recovery_portal.IDENTIFY), IDLE_MESSAGE)
    assert client.get(recovery_portal.OFFER)["Location"] == recovery_portal.IDENTIFY


def test_recoverys_link_being_created_reloads_itself_until_its_deadline(portal, campaign, debtor):  # noqa: F811
    client = recovery_portal.signed_in(Client(), debtor)
    url = recovery_link_page(client)
    PaymentLink.objects.update(status=PaymentLink.Status.CREATING)
    deadline = PaymentLink.objects.get().created_at + collection_services.LINK_CREATING_WAIT

    creating = client.get(url)
    with time_machine.travel(deadline, tick=False):
        left_behind = client.get(url + "?auto=1")

    assertContains(creating, '<meta http-equiv="refresh" content="3;url=?auto=1">', html=False)
    assertNotContains(left_behind, 'http-equiv="refresh"')
    assertContains(left_behind, "Vuelva a la oferta e inténtelo de nuevo")
