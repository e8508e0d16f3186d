"""The /recovery portal: a debtor with an active written-off campaign identifies with a
document and reCAPTCHA, sees the offer (and its countdown), pays it or says why not; each
step on the timeline and the visit; nobody learns who owes money by probing documents.

The clock is frozen on TODAY (15 June 2026, noon in Lima), as for every recovery test.
"""

import json
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from collections_app.models import CallbackRequest, Origin, PaymentLink, Portfolio
from crm import messages as customer_messages
from crm.models import Interaction, Message
from integrations import fakes
from integrations.models import OutboxMessage
from recovery import services as recovery_services
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.portal import selectors
from recovery.portal import services as portal_services
from tests import receipts
from tests.collections_app.test_mercadopago_webhook import (
    PREFERENCES_URL,
    SECRET,
    answer_payment,
    fixture,
    notify,
)
from tests.factories import CustomerFactory
from tests.races import at_once
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, at, make_campaign

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
UNKNOWN = "87654321"
LIMA = timezone.get_fixed_timezone(-5 * 60)
NOW = datetime.combine(TODAY, time(12), tzinfo=LIMA)

IDENTIFY = reverse("recovery:identify")
OFFER = reverse("recovery:offer")
OPTIONS = reverse("recovery:options")
PAY = reverse("recovery:pay")
DECLINE = reverse("recovery:decline")
DECLINED = reverse("recovery:declined")


def _google_answer(request):
    """Google's siteverify: a good score, for the action the browser named in its token."""
    token = parse_qs(request.body)["response"][0]
    action = token.removeprefix("token-")
    answer = {"success": True, "score": 0.9, "action": action, "hostname": "testserver"}
    return 200, {}, json.dumps(answer)


@pytest.fixture(autouse=True)
def google(settings):
    """Google's siteverify, faked at the HTTP layer."""
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, VERIFY_URL, callback=_google_answer)
        yield mock


@pytest.fixture
def portal(db):
    """The portal, turned on (it starts off)."""
    found = RecoverySettings.current()
    found.is_active = True
    found.save()
    return found


def identify(client: Client, document_number: str, **extra):
    data = {
        "document_type": "dni",
        "document_number": document_number,
        "recaptcha_token": "token-recovery_identify",
    }
    return client.post(IDENTIFY, data, **extra)


def signed_in(client: Client, customer) -> Client:
    response = identify(client, customer.document_number)
    assert response.status_code == 302 and response["Location"] == OFFER
    return client


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def steps(customer) -> list[str]:
    return [
        i.payload.get("recovery_step")
        for i in customer.interactions.filter(
            kind=Interaction.Kind.PORTAL_VISIT, payload__has_key="recovery_step"
        ).order_by("pk")
    ]


def countdown_seconds(response) -> int | None:
    found = re.search(r'data-countdown-seconds="(\d+)"', response.text)
    return int(found.group(1)) if found else None


# --- Identification ----------------------------------------------------------------------------


def test_a_debtor_with_an_active_campaign_identifies_and_sees_the_offer(portal, campaign, debtor):
    client = Client()
    client.get(IDENTIFY)
    before = client.session.session_key

    response = identify(client, debtor.document_number)
    page = client.get(OFFER)

    assertRedirects(response, OFFER, fetch_redirect_response=False)
    assert client.session.session_key != before
    assertContains(page, '<del id="recovery-debt">S/ 12,000.00</del>', html=True)
    assertContains(page, "40 %")
    assertContains(page, "S/ 7,200.00")
    assertContains(page, "¡Cancelar mi deuda ahora!")
    assertContains(page, "No me interesa esta oferta")
    visit = Visit.objects.get()
    assert (visit.customer, visit.campaign, visit.furthest_step) == (
        debtor,
        campaign,
        Visit.Step.OFFER,
    )
    assert steps(debtor) == ["identified", "offer"]


def test_the_identification_sent_twice_is_one_visit(portal, campaign, debtor):
    client = Client()
    client.cookies["csrftoken"] = "a" * 32
    # A double click: the second send left before the first's answer, with its cookies.
    at_once = Client()
    at_once.cookies["csrftoken"] = "a" * 32

    identify(client, debtor.document_number)
    again = identify(client, debtor.document_number)  # the back button and send
    at_once = identify(at_once, debtor.document_number)

    assertRedirects(again, OFFER, fetch_redirect_response=False)
    assertRedirects(at_once, OFFER, fetch_redirect_response=False)
    assert Visit.objects.count() == 1
    assert steps(debtor) == ["identified"]


def test_another_browser_identifying_is_another_visit(portal, campaign, debtor):
    first, other = Client(), Client()
    first.cookies["csrftoken"] = "a" * 32
    other.cookies["csrftoken"] = "b" * 32

    identify(first, debtor.document_number)
    identify(other, debtor.document_number)

    assert Visit.objects.count() == 2


def test_identifying_shows_in_the_customers_conversation(portal, campaign, debtor):
    signed_in(Client(), debtor)

    message = Message.objects.get(customer=debtor, channel=Message.Channel.PORTAL)
    assert message.body == "Portal de cartera castigada: se identificó con su documento"
    entry = debtor.interactions.get(payload__recovery_step="identified")
    assert entry.payload["recovery_visit"] == Visit.objects.get().pk


def test_a_form_google_refuses_opens_nothing(portal, campaign, debtor, google):
    google.replace(responses.POST, VERIFY_URL, json={"success": True, "score": 0.1})

    response = identify(Client(), debtor.document_number)

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona")
    assert not Visit.objects.exists()


def test_a_form_sent_without_googles_check_says_so_and_offers_the_advisors_whatsapp(
    portal, campaign, debtor, settings
):
    settings.RECAPTCHA_SITE_KEY = "site-key"
    portal.advisor_whatsapp = "51 999 888 777"
    portal.save()

    response = Client().post(
        IDENTIFY, {"document_type": "dni", "document_number": debtor.document_number}
    )

    assertContains(response, "No se pudo cargar la verificación de seguridad de Google")
    assertContains(response, "escríbanos por WhatsApp al +51999888777", count=3)
    assert not Visit.objects.exists()


def test_a_token_made_for_another_form_opens_nothing(portal, campaign, debtor):
    client = Client()

    response = client.post(
        IDENTIFY,
        {
            "document_type": "dni",
            "document_number": debtor.document_number,
            "recaptcha_token": "token-portal_identify",
        },
    )

    assert response.status_code == 200
    assert not Visit.objects.exists()


def test_a_token_solved_on_another_site_opens_nothing(portal, campaign, debtor):
    # Google says it was solved on "testserver"; the form was posted to another host.
    response = identify(Client(), debtor.document_number, HTTP_HOST="portal.otro.example")

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona")
    assert not Visit.objects.exists()


def test_an_unknown_document_and_one_without_an_active_campaign_get_the_same_answer(
    portal, campaign, debtor
):
    recovery_services.finish_campaign(campaign=campaign, actor=None)
    never = CustomerFactory(document_number="41234567")

    answers = [
        identify(Client(), debtor.document_number),
        identify(Client(), never.document_number),
        identify(Client(), UNKNOWN),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({without_tokens(a.text) for a in answers}) == 1
    assertContains(answers[0], "No encontramos una oferta vigente para ese documento")
    assert debtor.document_number not in answers[0].text
    assert not Visit.objects.exists()


def test_a_probe_of_a_thousand_documents_from_one_address_gets_at_most_ten_answers(
    portal, campaign, debtor, google
):
    client = Client()
    numbers = [f"{40000000 + n}" for n in range(1000)]
    numbers[500] = debtor.document_number

    answers = [identify(client, number) for number in numbers]

    answered = [a for a in answers if a.status_code != 429]
    assert len(answered) <= 10
    assert len(google.calls) <= 10
    assertContains(answers[500], "demasiadas solicitudes desde su conexión", status_code=429)
    assert not Visit.objects.exists()


def test_one_document_is_limited_whoever_asks(portal, campaign, debtor, settings):
    settings.PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT = "2/h"

    known = [
        identify(Client(), debtor.document_number, REMOTE_ADDR=f"10.0.0.{n}") for n in range(3)
    ]
    unknown = [identify(Client(), UNKNOWN, REMOTE_ADDR=f"10.0.1.{n}") for n in range(3)]

    assert [a.status_code for a in known] == [302, 302, 429]
    assert [a.status_code for a in unknown] == [200, 200, 429]
    assertContains(known[2], "Se consultó este documento demasiadas veces", status_code=429)
    assert without_tokens(known[2].text).replace(debtor.document_number, UNKNOWN) == (
        without_tokens(unknown[2].text)
    )
    assert Visit.objects.count() == 2


def test_identifying_is_counted_apart_from_the_customer_portal(portal, campaign, debtor, settings):
    settings.PORTAL_IDENTIFY_RATE_LIMIT = "1/h"
    client = Client()
    client.post(
        reverse("collections_app:portal_identify"),
        {"document_type": "dni", "document_number": UNKNOWN, "recaptcha_token": "token-x"},
    )

    assert identify(client, debtor.document_number).status_code == 302


@pytest.mark.parametrize("number", ["9" * 500, "<script>", "12 34 56 7\x00"])
def test_any_input_gets_a_form_error_never_a_server_error(portal, number):
    response = identify(Client(), number)

    assert response.status_code == 200
    assertContains(response, "invalid-feedback")


# --- The portal turned off -----------------------------------------------------------------------


def test_the_portal_starts_off_and_then_says_it_is_not_available(campaign, debtor):
    assert RecoverySettings.current().is_active is False
    client = Client()

    pages = [client.get(IDENTIFY), identify(client, debtor.document_number), client.get(OFFER)]

    assert [page.status_code for page in pages] == [404, 404, 404]
    assertContains(pages[0], "Esta página no está disponible", status_code=404)
    assert not Visit.objects.exists()


def test_turning_the_portal_off_ends_what_a_visitor_can_do(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    portal.is_active = False
    portal.save()

    assert client.get(OFFER).status_code == 404
    assert client.post(PAY, {"provider": "mercadopago"}).status_code == 404
    assert not PaymentLink.objects.exists()


# --- The session ---------------------------------------------------------------------------------


def test_the_offer_needs_an_identified_visitor(portal, campaign, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("agente", password="x"))

    assert client.get(OFFER)["Location"] == IDENTIFY
    assert client.get(OPTIONS)["Location"] == IDENTIFY


def test_the_session_ends_after_twenty_idle_minutes(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    now = timezone.now()

    with time_machine.travel(now + timedelta(minutes=19), tick=False):
        assert client.get(OFFER).status_code == 200
    with time_machine.travel(now + timedelta(minutes=40), tick=False):
        response = client.get(OFFER)
        page = client.get(IDENTIFY)

    assert response["Location"] == IDENTIFY
    assertContains(page, "Su sesión terminó por inactividad")


def test_leaving_keeps_a_staff_sign_in(portal, campaign, debtor, django_user_model):
    agent = django_user_model.objects.create_user("agente", password="x")
    client = Client()
    client.force_login(agent)
    signed_in(client, debtor)

    client.post(reverse("recovery:logout"))

    assert client.get(OFFER)["Location"] == IDENTIFY
    assert int(client.session["_auth_user_id"]) == agent.pk


# --- The countdown -------------------------------------------------------------------------------


@pytest.fixture
def countdown(portal):
    portal.countdown_enabled = True
    portal.countdown_hours = 48
    portal.save()
    return portal


def test_the_countdown_runs_from_the_first_visit(countdown, campaign, debtor):
    client = signed_in(Client(), debtor)

    first = client.get(OFFER)
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        later = client.get(OFFER)
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        # Another visit (the first one idled out) counts from the same first visit.
        other_visit = signed_in(Client(), debtor).get(OFFER)

    campaign.refresh_from_db()
    assert campaign.first_visit_at == NOW
    assert countdown_seconds(first) == 48 * 3600
    assert countdown_seconds(later) == 48 * 3600 - 600
    assert countdown_seconds(other_visit) == 46 * 3600
    assertContains(first, "data-countdown-clock>48:00:00<")
    assertContains(first, "hasta el 17/06/2026 a las 12:00")
    assertContains(first, "js/countdown.js")


def test_the_countdown_never_runs_past_the_campaigns_end_date(countdown, debtor):
    make_campaign(debtor, ends_on=TODAY + timedelta(days=1))
    client = signed_in(Client(), debtor)

    response = client.get(OFFER)

    # Until the end of 16 June in Lima: 36 hours from noon on the 15th, not 48.
    assert countdown_seconds(response) == 36 * 3600
    # The end of 16 June reads as that day's last minute, not as the 17th.
    assertContains(response, "hasta el 16/06/2026 a las 23:59")


def test_without_a_countdown_the_offer_shows_its_end_date(portal, campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.get(OFFER)

    assert countdown_seconds(response) is None
    assertContains(response, "Oferta válida hasta el 15/07/2026.")
    assertNotContains(response, "js/countdown.js")


def test_no_countdown_shows_once_the_campaign_ended(countdown, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    with at(campaign.ends_on, hour=23):
        on_its_last_day = signed_in(Client(), debtor).get(OFFER)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        recovery_services.finish_campaign(campaign=campaign, actor=None)
        after = client.get(OFFER)

    # 48 hours from the first visit are long gone by the last day: concluded, no countdown.
    assertContains(on_its_last_day, "La oferta ha concluido, contáctanos para más detalles")
    assert countdown_seconds(after) is None
    assertContains(after, "La oferta ha concluido, contáctanos para más detalles")


def test_a_campaign_that_ended_overnight_is_no_offer_the_next_day(portal, campaign, debtor):
    with at(campaign.ends_on + timedelta(days=1), hour=9):
        response = identify(Client(), debtor.document_number)

    assertContains(response, "No encontramos una oferta vigente para ese documento")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.FINISHED


def test_when_the_countdown_ends_the_offer_concluded_and_payment_is_refused(
    countdown, campaign, debtor
):
    countdown.advisor_whatsapp = "51987654321"
    countdown.save()
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        # The countdown's last moment, as a page opened earlier still showed it.
        Campaign.objects.filter(pk=campaign.pk).update(
            first_visit_at=NOW - timedelta(hours=48) + timedelta(minutes=10),
            countdown_ends_at=NOW + timedelta(minutes=10),
        )
        page = client.get(OFFER)
        options = client.get(OPTIONS)
        paid = client.post(PAY, {"provider": "mercadopago"})

    assertContains(page, "La oferta ha concluido, contáctanos para más detalles")
    assertContains(page, "Habla con un asesor")
    assertContains(page, 'href="https://wa.me/51987654321?text=')
    assertNotContains(page, "¡Cancelar mi deuda ahora!")
    assert countdown_seconds(page) is None
    assert options["Location"] == OFFER
    assert paid["Location"] == OFFER
    assert not PaymentLink.objects.exists()


def test_without_a_whatsapp_number_the_advisor_link_asks_for_a_call(countdown, campaign, debtor):
    signed_in(Client(), debtor).get(OFFER)

    with time_machine.travel(NOW + timedelta(hours=49), tick=False):
        page = signed_in(Client(), debtor).get(OFFER)

    assertContains(page, f'href="{DECLINE}?motivo=asesor"')


def test_the_first_visit_is_set_once_whoever_comes_first(portal, campaign):
    from recovery.portal import services

    services.note_first_visit(campaign)
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        stale = Campaign.objects.get(pk=campaign.pk)
        stale.first_visit_at = None  # a request that read the row before the first one wrote
        services.note_first_visit(stale)

    assert stale.first_visit_at == NOW
    assert Campaign.objects.get(pk=campaign.pk).first_visit_at == NOW


# --- Paying --------------------------------------------------------------------------------------


def test_the_payment_options_make_a_link_for_the_campaign_balance(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    options = client.get(OPTIONS)
    response = client.post(PAY, {"provider": "mercadopago"})

    assertContains(options, "Pagar con MercadoPago")
    link = PaymentLink.objects.get()
    assert (link.receivable_kind, link.receivable_id) == ("campaign", campaign.pk)
    assert (link.amount, link.concept, link.origin) == (
        CAMPAIGN_AMOUNT,
        PaymentLink.Concept.TOTAL,
        Origin.PORTAL,
    )
    assert link.portfolio == Portfolio.WRITTEN_OFF
    going = reverse("recovery:link", args=[link.reference]) + "?ir=1"
    assert response["Location"] == going
    assertContains(client.get(going), f'content="0;url={link.url}"')
    assert fakes.fake_gateway("mercadopago").checkouts[0].amount == CAMPAIGN_AMOUNT
    assert Visit.objects.get().furthest_step == Visit.Step.PAYMENT_OPTIONS
    assert steps(debtor) == ["identified", "offer", "payment_options"]


def test_pressing_pay_again_offers_the_same_link_not_a_second_one(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    first = client.post(PAY, {"provider": "mercadopago"})
    again = client.post(PAY, {"provider": "mercadopago"})

    link = PaymentLink.objects.get()
    assert first["Location"] == again["Location"]
    assert reverse("recovery:link", args=[link.reference]) in again["Location"]
    assert len(fakes.fake_gateway("mercadopago").checkouts) == 1


def test_a_link_about_to_expire_is_not_offered_again(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)
    client.post(PAY, {"provider": "mercadopago"})
    PaymentLink.objects.update(expires_at=timezone.now() + timedelta(minutes=10))

    client.post(PAY, {"provider": "mercadopago"})

    assert PaymentLink.objects.count() == 2


def test_a_gateway_not_offered_is_refused(portal, campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.post(PAY, {"provider": "paypal"})

    assert response["Location"] == OPTIONS
    assert not PaymentLink.objects.exists()


def test_someone_elses_link_page_shows_no_way_to_pay_it(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.post(PAY, {"provider": "mercadopago"})
    link = PaymentLink.objects.get()

    stranger = Client().get(reverse("recovery:link", args=[link.reference]) + "?ir=1")

    assertNotContains(stranger, 'http-equiv="refresh" content="0')
    assertNotContains(stranger, debtor.first_name)


@pytest.fixture
def real_gateway(settings, google):
    """MercadoPago's API faked at the HTTP layer (beside Google's), with its documented
    payloads."""
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-test-token"
    settings.MERCADOPAGO_WEBHOOK_SECRET = SECRET
    google.add(
        responses.POST, PREFERENCES_URL, json=fixture("preference_create_response.json"), status=201
    )
    return google


def test_a_payment_mercadopago_notifies_moves_the_visit_to_paid(
    portal, campaign, debtor, real_gateway, django_capture_on_commit_callbacks
):
    client = signed_in(Client(), debtor)
    client.get(OFFER)
    client.get(OPTIONS)
    client.post(PAY, {"provider": "mercadopago"})
    link = PaymentLink.objects.get()
    answer_payment(real_gateway, link, "approved")

    with django_capture_on_commit_callbacks(execute=True):
        notified = notify(Client(), fixture("webhook_payment_updated.json"), request_id="r-1")

    assert notified.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAID
    visit = Visit.objects.get()
    assert visit.furthest_step == Visit.Step.PAID
    assert steps(debtor) == ["identified", "offer", "payment_options", "paid"]
    assertContains(client.get(OFFER), "¡Su deuda está cancelada!")


def test_a_link_an_agent_made_moves_no_visit(
    portal, campaign, debtor, django_capture_on_commit_callbacks
):
    from collections_app import services as collection_services
    from integrations import payment_gateways

    signed_in(Client(), debtor)
    link = collection_services.create_payment_link(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        collection_services.apply_gateway_payment(
            provider="mercadopago",
            found=payment_gateways.GatewayPayment(
                provider_payment_id="555",
                reference=link.reference,
                status=payment_gateways.APPROVED,
                amount=link.amount,
                currency=link.currency,
                paid_on=TODAY,
                raw={},
            ),
        )

    assert Visit.objects.get().furthest_step == Visit.Step.IDENTIFIED


# --- Declining -----------------------------------------------------------------------------------


def test_declining_with_a_reason_goes_on_the_timeline_and_the_visit(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    page = client.get(OFFER)

    response = client.post(DECLINE, {"reason": "El descuento no es suficiente"})

    for reason in selectors.decline_reasons(portal):
        assertContains(page, reason)
    assertRedirects(response, DECLINED, fetch_redirect_response=False)
    assertContains(client.get(DECLINED), "El descuento no es suficiente")
    visit = Visit.objects.get()
    assert (visit.declined, visit.decline_reason) == (True, "El descuento no es suficiente")
    entry = debtor.interactions.get(payload__recovery_step="declined")
    assert entry.summary == (
        "Portal de cartera castigada: no le interesa la oferta (El descuento no es suficiente)"
    )
    assert Message.objects.filter(
        customer=debtor, channel=Message.Channel.PORTAL, body=entry.summary
    ).exists()
    assert not CallbackRequest.objects.exists()


def test_the_reasons_are_the_configured_ones_and_the_advisors_last(portal):
    portal.decline_reasons = (
        "Ya no vivo en Lima\n\n  Prefiero pagar en cuotas  \nYa no vivo en Lima"
    )
    portal.save()

    assert selectors.decline_reasons(portal) == [
        "Ya no vivo en Lima",
        "Prefiero pagar en cuotas",
        "Necesito que un asesor me contacte",
    ]


def test_asking_for_an_advisor_creates_a_call_back_request(portal, campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.post(
        DECLINE,
        {
            "reason": "Necesito que un asesor me contacte",
            "phone": "987 654 321",
            "preferred_time": "morning",
        },
    )

    assert response["Location"] == DECLINED
    assertContains(client.get(DECLINED), "Un asesor lo contactará pronto.")
    callback = CallbackRequest.objects.get()
    assert (callback.customer, callback.phone, callback.origin, callback.portfolio) == (
        debtor,
        "+51987654321",
        Origin.PORTAL,
        Portfolio.WRITTEN_OFF,
    )
    assert callback.preferred_time == "Mañana (9 a 13 h)"
    assert Visit.objects.get().decline_reason == "Necesito que un asesor me contacte"


@pytest.mark.parametrize("url", [OFFER, DECLINE, DECLINE + "?motivo=asesor"])
def test_the_pages_never_show_the_registered_phone_only_its_last_digits(
    portal, campaign, debtor, url
):
    # Knowing a document number is all it takes to get here.
    debtor.phone = "+51987654321"
    debtor.save()
    client = signed_in(Client(), debtor)

    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("987654321", "987 654 321", "654"):
        assert shown not in html
    assertContains(response, "termina en 321")


def test_asking_for_an_advisor_without_a_phone_calls_the_registered_one(portal, campaign, debtor):
    debtor.phone = "+51987654321"
    debtor.save()
    client = signed_in(Client(), debtor)

    response = client.post(DECLINE, {"reason": "Necesito que un asesor me contacte", "phone": ""})

    assert response["Location"] == DECLINED
    assert CallbackRequest.objects.get().phone == "+51987654321"


def test_the_same_answer_sent_again_asks_for_one_call(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    answer = {"reason": "Necesito que un asesor me contacte", "phone": "987 654 321"}

    for _attempt in range(3):
        assert client.post(DECLINE, answer)["Location"] == DECLINED

    assert CallbackRequest.objects.count() == 1
    assert steps(debtor).count("declined") == 1
    # Another phone is another request.
    client.post(DECLINE, {**answer, "phone": "912 345 678"})
    assert CallbackRequest.objects.count() == 2


@pytest.mark.parametrize("typed", ["９８７ ６５４ ３２１", "٩٨٧٦٥٤٣٢١"])
def test_a_phone_typed_in_other_digits_is_kept_in_ascii(portal, campaign, debtor, typed):
    client = signed_in(Client(), debtor)

    client.post(DECLINE, {"reason": "Necesito que un asesor me contacte", "phone": typed})

    assert CallbackRequest.objects.get().phone == "+51987654321"


def test_a_phone_in_superscripts_is_refused(portal, campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.post(
        DECLINE, {"reason": "Necesito que un asesor me contacte", "phone": "987²654³21"}
    )

    assertContains(response, "Indique solo números")
    assert not CallbackRequest.objects.exists()


def test_asking_for_an_advisor_needs_a_phone(portal, campaign, debtor):
    # Without one on file, the debtor must give one.
    debtor.phone = ""
    debtor.save()
    client = signed_in(Client(), debtor)

    response = client.post(DECLINE, {"reason": "Necesito que un asesor me contacte", "phone": ""})

    assertContains(response, "Indique a qué teléfono lo llamamos.")
    assert not CallbackRequest.objects.exists()
    assert not Visit.objects.get().declined


def test_a_reason_not_in_the_list_is_refused(portal, campaign, debtor):
    client = signed_in(Client(), debtor)

    response = client.post(DECLINE, {"reason": "<b>lo que sea</b>"})

    assertContains(response, "Elija un motivo de la lista.")
    assert not Visit.objects.get().declined


# --- From the customer portal --------------------------------------------------------------------


def _customer_portal_sign_in(client: Client, customer) -> None:
    client.post(
        reverse("collections_app:portal_identify"),
        {
            "document_type": "dni",
            "document_number": customer.document_number,
            "recaptcha_token": "token-portal_identify",
        },
    )
    message = OutboxMessage.objects.filter(destination=customer_messages.DESTINATION).latest("pk")
    code = re.search(r"\b(\d{6})\b", message.payload["body"]).group(1)
    response = client.post(reverse("collections_app:portal_code"), {"code": code})
    assert response["Location"] == reverse("collections_app:portal_statement")


@pytest.fixture
def reachable(debtor):
    debtor.email = "deudor@example.pe"
    debtor.save()
    return debtor


def test_the_customer_portal_sends_a_debtor_with_an_active_campaign_to_the_offer(
    portal, campaign, reachable
):
    client = Client()
    _customer_portal_sign_in(client, reachable)

    response = client.get(reverse("collections_app:portal_statement"))
    again = client.get(reverse("collections_app:portal_statement"))

    assert response["Location"] == OFFER
    assert again["Location"] == OFFER
    assertContains(client.get(OFFER), "S/ 7,200.00")
    visit = Visit.objects.get()  # one visit, however often the statement is asked for
    assert visit.customer == reachable
    assert reachable.interactions.filter(
        summary="Portal de cartera castigada: se identificó con su documento "
        "(desde el portal del cliente)"
    ).exists()


def test_leaving_the_offer_leaves_the_customer_portal_too(portal, campaign, reachable):
    client = Client()
    _customer_portal_sign_in(client, reachable)
    client.get(reverse("collections_app:portal_statement"))

    client.post(reverse("recovery:logout"))

    assert client.get(reverse("collections_app:portal_statement"))["Location"] == reverse(
        "collections_app:portal_identify"
    )
    assert client.get(reverse("collections_app:portal_identify")).status_code == 200
    assert client.get(OFFER)["Location"] == IDENTIFY


def test_leaving_the_customer_portal_leaves_the_offer_too(portal, campaign, reachable):
    client = Client()
    _customer_portal_sign_in(client, reachable)
    client.get(reverse("collections_app:portal_statement"))  # sent on to the offer
    assert client.get(OFFER).status_code == 200

    client.post(reverse("collections_app:portal_logout"))

    assert client.get(OFFER)["Location"] == IDENTIFY


def test_the_customer_portal_keeps_the_statement_while_recovery_is_off(campaign, reachable):
    client = Client()
    _customer_portal_sign_in(client, reachable)

    response = client.get(reverse("collections_app:portal_statement"))

    assert response.status_code == 200
    assert not Visit.objects.exists()


def test_the_customer_portal_keeps_the_statement_of_a_debtor_without_a_campaign(portal, reachable):
    client = Client()
    _customer_portal_sign_in(client, reachable)

    assert client.get(reverse("collections_app:portal_statement")).status_code == 200


def test_the_customer_portals_recovery_address_redirects_here(db):
    response = Client().get("/portal/recovery/")

    assert response.status_code == 301
    assert response["Location"] == "/recovery/"


# --- The funnel ----------------------------------------------------------------------------------


def test_the_funnel_counts_the_visits_at_each_step(db):
    first = make_campaign(CustomerFactory(), code="CAST-A")
    second = make_campaign(CustomerFactory(), code="CAST-A")
    other = make_campaign(CustomerFactory(), code="CAST-B")
    for campaign, step, declined in [
        (first, Visit.Step.IDENTIFIED, False),
        (first, Visit.Step.OFFER, True),
        (second, Visit.Step.PAYMENT_OPTIONS, False),
        (second, Visit.Step.PAID, False),
        (other, Visit.Step.OFFER, False),
    ]:
        Visit.objects.create(
            campaign=campaign,
            customer=campaign.customer,
            token=f"t-{campaign.pk}-{step}",
            furthest_step=step,
            declined=declined,
        )
    Visit.objects.filter(campaign=other).update(started_at=NOW - timedelta(days=3))

    assert selectors.funnel("CAST-A") == [
        ("Se identificó", 4),
        ("Vio la oferta", 3),
        ("Abrió las opciones de pago", 2),
        ("Pagó", 1),
        ("No le interesa", 1),
    ]
    assert [n for _label, n in selectors.funnel()] == [5, 4, 2, 1, 1]
    assert [n for _label, n in selectors.funnel(since=TODAY)] == [4, 3, 2, 1, 1]
    assert [n for _label, n in selectors.funnel(until=TODAY - timedelta(days=1))] == [
        1,
        1,
        0,
        0,
        0,
    ]


# --- Settings in admin, and the images -----------------------------------------------------------

PNG = receipts.PNG


def _settings_form(portal: RecoverySettings, **changes) -> dict:
    data = {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": "Promoción sujeta a evaluación. RUC 20123456789.",
        "countdown_hours": "24",
        "decline_reasons": portal.decline_reasons,
        "is_active": "on",
        "advisor_whatsapp": "+51 987 654 321",
        "max_discount_percent": "95",
    }
    return {**data, **changes}


def test_admin_edits_the_one_row_in_two_sections_and_shows_the_fixed_address(
    admin_client, settings
):
    settings.SITE_URL = "https://pagos.example.pe"
    portal = RecoverySettings.current()
    change = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])

    listed = admin_client.get(reverse("admin:recovery_recoverysettings_changelist"))
    page = admin_client.get(change)
    added = admin_client.get(reverse("admin:recovery_recoverysettings_add"))
    deleted = admin_client.get(reverse("admin:recovery_recoverysettings_delete", args=[portal.pk]))

    assert listed["Location"] == change
    assertContains(page, "Ajustes")
    assertContains(page, "Configuración")
    assertContains(page, "https://pagos.example.pe/recovery/")
    assert added.status_code == 403
    assert deleted.status_code == 403


def test_admin_takes_an_image_and_the_portal_serves_it(admin_client, campaign, debtor):
    portal = RecoverySettings.current()
    change = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])

    response = admin_client.post(
        change,
        _settings_form(portal, logo=SimpleUploadedFile("logo.png", PNG, content_type="image/png")),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    portal.refresh_from_db()
    assert portal.is_active and portal.advisor_whatsapp == "51987654321"
    image = Client().get(reverse("recovery:image", args=["logo"]))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == PNG
    assert Client().get(reverse("recovery:image", args=["banner"])).status_code == 404
    assert Client().get(reverse("recovery:image", args=["legal_text"])).status_code == 404
    page = signed_in(Client(), debtor).get(OFFER)
    assertContains(page, reverse("recovery:image", args=["logo"]))
    assertContains(page, "Promoción sujeta a evaluación.")


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("logo.png", b"<svg onload=alert(1)></svg>", "La imagen debe ser PNG, JPG o WebP."),
        ("logo.svg", b"<svg></svg>", "La imagen debe ser PNG, JPG o WebP."),
        ("logo.png", PNG + b"\x00" * (2 * 1024 * 1024), "La imagen pesa más de 2 MB."),
    ],
)
def test_admin_refuses_what_is_not_a_small_image(admin_client, name, content, error):
    portal = RecoverySettings.current()
    change = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])

    response = admin_client.post(
        change, _settings_form(portal, logo=SimpleUploadedFile(name, content))
    )

    assertContains(response, error)
    portal.refresh_from_db()
    assert not portal.logo


def test_webp_and_jpeg_are_images_too():
    from recovery.portal import images

    assert images.content_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert images.content_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert images.content_type(b"GIF89a") is None


def test_the_offer_works_on_a_debt_partly_paid(portal, campaign, debtor):
    recovery_services.apply_payment(
        campaign_id=campaign.pk,
        amount=Decimal("200.00"),
        received_on=TODAY,
        source="cash",
        actor=None,
    )
    client = signed_in(Client(), debtor)

    response = client.get(OFFER)

    assertContains(response, "S/ 7,000.00")


def test_back_from_the_gateway_a_campaigns_payer_lands_on_this_portal(portal, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.post(PAY, {"provider": "mercadopago"})
    link = PaymentLink.objects.get()
    back = reverse("collections_app:portal_link", args=[link.reference])

    response = client.get(back + "?status=approved")

    assert response["Location"] == (
        reverse("recovery:link", args=[link.reference]) + "?status=approved"
    )
    portal.is_active = False
    portal.save()
    assert client.get(back).status_code == 200  # off: the customer portal's page shows it


@pytest.mark.django_db(transaction=True)
def test_asking_for_an_advisor_twice_at_once_makes_one_call_back(roles, campaign, debtor):
    """A double click sends the form twice at once: each request read the visit as not yet
    declined, and each asked for a call-back."""
    visit = portal_services.start_visit(customer=debtor, campaign=campaign)

    def answer():
        portal_services.decline(
            visit=Visit.objects.select_related("customer").get(pk=visit.pk),
            reason=selectors.ADVISOR_REASON,
            phone="987 654 321",
        )

    _done, errors = at_once(answer, answer)

    assert errors == []
    assert CallbackRequest.objects.filter(customer=debtor).count() == 1
    declined = Interaction.objects.filter(customer=debtor, payload__recovery_step="declined")
    assert declined.count() == 1
