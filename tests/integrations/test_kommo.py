"""integrations.kommo: the webhook parser on Kommo's own format, and the API client."""

import json
from pathlib import Path

import pytest
import responses
from django.core.cache import cache

from integrations import http, kommo, webhooks
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)

FIXTURES = Path(__file__).parent / "fixtures" / "kommo"
BASE = "https://cartera.kommo.com"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def kommo_api(settings):
    settings.KOMMO_SUBDOMAIN = "cartera"
    settings.KOMMO_BASE_URL = BASE
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    with responses.RequestsMock() as mock:
        yield mock


def test_it_reads_a_status_change_exactly_as_kommo_sends_it():
    webhook = kommo.parse_webhook(body("lead_status_to_queue.txt"))

    assert webhook.subdomain == "cartera"
    assert webhook.account_id == "31361463"
    assert len(webhook.leads) == 1
    change = webhook.leads[0]
    assert change.action == "status"
    assert change.lead_id == 25399013
    assert change.name == "Pedido web - Rosa"
    assert (change.pipeline_id, change.status_id) == (6950551, 61000002)
    assert change.old_status_id == 61000001
    assert change.modified_at == 1795269600
    assert change.custom_fields == (("Fuente", "Facebook"),)


def test_it_reads_every_lead_of_a_batch_in_order():
    webhook = kommo.parse_webhook(body("leads_add_two.txt"))

    assert [(c.action, c.lead_id) for c in webhook.leads] == [
        ("add", 25400100),
        ("add", 25400101),
    ]
    assert webhook.leads[1].pipeline_id == 7000000


def test_a_contact_webhook_has_no_leads():
    webhook = kommo.parse_webhook(body("contact_update.txt"))

    assert webhook.leads == ()


def test_the_same_delivery_gets_the_same_event_id_and_another_change_another():
    first = kommo.parse_webhook(body("lead_status_to_queue.txt"))
    again = kommo.parse_webhook(body("lead_status_to_queue.txt"))
    other = kommo.parse_webhook(body("lead_status_out_of_queue.txt"))

    assert first.event_id == again.event_id
    assert first.event_id != other.event_id


@pytest.mark.parametrize(
    "raw",
    [b"", b"not a form", b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=1", b"\xff\xfe"],
)
def test_it_refuses_what_is_not_a_kommo_webhook(raw):
    with pytest.raises(ValueError):
        kommo.parse_webhook(raw)


def test_a_lead_without_id_is_refused():
    with pytest.raises(ValueError):
        kommo.parse_webhook(b"leads%5Bstatus%5D%5B0%5D%5Bname%5D=x&account%5Bsubdomain%5D=cartera")


def lead_form(**fields: str) -> bytes:
    pairs = {"id": "25399013", "status_id": "61000002", "pipeline_id": "6950551", **fields}
    lead = "&".join(f"leads[status][0][{key}]={value}" for key, value in pairs.items())
    return f"{lead}&account[subdomain]=cartera&account[id]=31361463".encode()


@pytest.mark.parametrize("lead_id", ["99999999999999999999999", "-5", "0", "٣", "1_000", "%2B7"])
def test_a_lead_id_kommo_never_sends_is_refused(lead_id):
    # Past 64 bits it failed the lead's insert on every retry; a negative one became a
    # lead in the queue that Kommo does not have.
    with pytest.raises(ValueError, match="has no id"):
        kommo.parse_webhook(lead_form(id=lead_id))


def test_a_stage_id_past_64_bits_is_read_as_none():
    change = kommo.parse_webhook(lead_form(status_id="9" * 30)).leads[0]

    assert change.status_id is None


def test_a_change_dated_far_ahead_of_our_clock_is_refused(time_machine):
    # Dated in 5138, it would have ordered every later change of the lead before it.
    time_machine.move_to("2025-12-01T12:00:00Z")

    with pytest.raises(ValueError, match="in the future"):
        kommo.parse_webhook(lead_form(last_modified="99999999999"))


def test_a_change_dated_a_little_ahead_of_our_clock_is_read(time_machine):
    time_machine.move_to("2025-12-01T12:00:00Z")
    an_hour_ahead = 1764590400 + 3600

    change = kommo.parse_webhook(lead_form(last_modified=str(an_hour_ahead))).leads[0]

    assert change.modified_at == an_hour_ahead


def test_a_delivery_keeps_the_event_id_the_inbox_already_holds_for_it():
    # A digest of the sorted fields: changing how it is computed would store a redelivery
    # of an old event again.
    webhook = kommo.parse_webhook(body("lead_status_to_queue.txt"))

    assert webhook.event_id == (
        "kommo:b35569d0a0f3f5950bac06a7503ea4291789c3eecabfe569e859282157ac7644"
    )


def test_it_reads_what_the_form_parser_read():
    form = webhooks.parse_form(body("leads_add_two.txt"))

    assert kommo.read_webhook(form) == kommo.parse_webhook(body("leads_add_two.txt"))


def test_it_knows_the_path_token(settings):
    settings.KOMMO_WEBHOOK_SECRET = "kommo-path-token"

    assert kommo.path_token_matches("kommo-path-token")
    assert not kommo.path_token_matches("kommo-path-tokeN")
    assert not kommo.path_token_matches("ñ" * 16)

    settings.KOMMO_WEBHOOK_SECRET = ""
    assert not kommo.path_token_matches("")


def test_the_door_reads_a_lead_change_into_its_event_id(settings):
    settings.KOMMO_SUBDOMAIN = "cartera"
    form = webhooks.parse_form(body("lead_status_to_queue.txt"))

    assert kommo.WEBHOOK.event_id(form) == kommo.read_webhook(form).event_id
    assert kommo.WEBHOOK.parse is webhooks.parse_form
    assert kommo.WEBHOOK.verify is None  # the view checks the path token


def test_the_door_ignores_a_delivery_without_lead_changes(settings):
    settings.KOMMO_SUBDOMAIN = "cartera"
    form = webhooks.parse_form(body("contact_update.txt"))

    with pytest.raises(UnhandledEvent):
        kommo.WEBHOOK.event_id(form)


def test_the_door_refuses_another_account_before_reading_its_leads(settings):
    settings.KOMMO_SUBDOMAIN = "otra-cuenta"
    form = webhooks.parse_form(
        b"leads%5Bstatus%5D%5B0%5D%5Bname%5D=x&account%5Bsubdomain%5D=cartera"
    )

    with pytest.raises(SignatureError):
        kommo.WEBHOOK.event_id(form)


def test_only_the_configured_account_is_accepted(settings):
    webhook = kommo.parse_webhook(body("lead_status_to_queue.txt"))
    settings.KOMMO_SUBDOMAIN = "Cartera"
    settings.KOMMO_ACCOUNT_ID = ""
    kommo.verify_account(webhook)

    settings.KOMMO_ACCOUNT_ID = "999"
    with pytest.raises(SignatureError):
        kommo.verify_account(webhook)

    settings.KOMMO_ACCOUNT_ID = ""
    settings.KOMMO_SUBDOMAIN = "otra-cuenta"
    with pytest.raises(SignatureError):
        kommo.verify_account(webhook)

    settings.KOMMO_SUBDOMAIN = ""
    with pytest.raises(SignatureError):
        kommo.verify_account(webhook)


def test_it_reads_a_lead_its_main_contact_and_notes(kommo_api):
    kommo_api.get(f"{BASE}/api/v4/leads/25399013", json=payload("lead_25399013.json"))
    kommo_api.get(f"{BASE}/api/v4/leads/25399013/notes", json=payload("notes_25399013.json"))
    kommo_api.get(f"{BASE}/api/v4/contacts/9001", json=payload("contact_9001.json"))

    details = kommo.get_lead_details(25399013)

    assert details.lead_id == 25399013
    assert details.contact_id == 9001
    assert details.contact_name == "Rosa Huamán Quispe"
    assert details.phones == ("+51 987 654 321", "01 4445555")
    assert details.emails == ("rosa.huaman@example.pe",)
    assert details.document_number == "45678912"
    assert details.address == "Av. Arequipa 1234, dpto 501"
    assert details.city == "Lima"
    assert details.source == "Facebook"
    assert details.notes == ("Pidió que la llamen después de las 6 pm.",)
    lead_call = kommo_api.calls[0].request
    assert lead_call.headers["Authorization"] == "Bearer long-lived-token"
    assert "with=contacts" in lead_call.url


def test_a_nul_in_kommos_answers_is_left_out_of_the_lead(kommo_api):
    """PostgreSQL's text refuses NUL: kept, it failed the lead on every retry."""
    contact = payload("contact_9001.json")
    contact["name"] = "Rosa\x00 Huamán Quispe"
    notes = payload("notes_25399013.json")
    notes["_embedded"]["notes"][0]["params"]["text"] = "Llamar\x00 después"
    kommo_api.get(f"{BASE}/api/v4/leads/25399013", json=payload("lead_25399013.json"))
    kommo_api.get(f"{BASE}/api/v4/leads/25399013/notes", json=notes)
    kommo_api.get(f"{BASE}/api/v4/contacts/9001", json=contact)

    details = kommo.get_lead_details(25399013)

    assert (details.contact_name, details.notes) == ("Rosa Huamán Quispe", ("Llamar después",))


def test_no_notes_is_kommos_204(kommo_api):
    kommo_api.get(f"{BASE}/api/v4/leads/25399013", json=payload("lead_25399013.json"))
    kommo_api.get(f"{BASE}/api/v4/leads/25399013/notes", status=204)
    kommo_api.get(f"{BASE}/api/v4/contacts/9001", json=payload("contact_9001.json"))

    assert kommo.get_lead_details(25399013).notes == ()


def test_moving_a_lead_patches_its_stage_and_pipeline(kommo_api):
    kommo_api.patch(f"{BASE}/api/v4/leads/25399013", json={"id": 25399013})

    kommo.update_lead_from_payload(
        {"lead_id": 25399013, "status_id": 61000005, "pipeline_id": 6950551}
    )

    sent = json.loads(kommo_api.calls[0].request.body)
    assert sent == {"status_id": 61000005, "pipeline_id": 6950551}


def test_a_429_is_temporary_and_carries_kommos_retry_after(kommo_api):
    kommo_api.patch(f"{BASE}/api/v4/leads/1", status=429, headers={"Retry-After": "30"}, json={})

    with pytest.raises(TemporaryProviderError) as raised:
        kommo.update_lead(lead_id=1, status_id=2)

    assert raised.value.retry_after == 30


def test_a_refusal_is_definitive(kommo_api):
    kommo_api.patch(f"{BASE}/api/v4/leads/1", status=400, json={"title": "Bad Request"})

    with pytest.raises(ProviderError) as raised:
        kommo.update_lead(lead_id=1, status_id=2)

    assert not isinstance(raised.value, TemporaryProviderError)


def test_a_payload_without_lead_is_refused_for_good():
    with pytest.raises(ProviderError):
        kommo.update_lead_from_payload({"status_id": 1})


def test_without_token_nothing_is_called(settings):
    settings.KOMMO_TOKEN = ""

    with pytest.raises(ProviderError):
        kommo.get_lead_details(1)


def test_the_throttle_lets_seven_calls_a_second_through_and_stops_the_eighth():
    cache.clear()
    second = 1_800_000_000.0
    for _ in range(kommo.REQUESTS_PER_SECOND):
        kommo.throttle(now=second)

    with pytest.raises(TemporaryProviderError) as raised:
        kommo.throttle(now=second)

    assert raised.value.retry_after == 1
    kommo.throttle(now=second + 1)  # a new second, a new allowance


def test_retry_after_may_be_an_http_date():
    import requests

    response = requests.Response()
    response.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"

    assert http.retry_after_seconds(response) == 0.0


def test_the_throttle_holds_under_threads_with_the_embedded_counters(settings, tmp_path):
    """Without Redis (make run) the file cache's add and incr let 20 threads of one second
    all through; the embedded counters are one atomic upsert."""
    from concurrent.futures import ThreadPoolExecutor

    settings.RATELIMIT_STORE = "sqlite"
    settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    second = 1_800_000_000.0

    def call(_n) -> bool:
        try:
            kommo.throttle(now=second)
        except TemporaryProviderError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        granted = sum(pool.map(call, range(20)))

    assert granted == kommo.REQUESTS_PER_SECOND
