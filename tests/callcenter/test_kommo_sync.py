"""The outbox across a Kommo outage: 5xx, timeouts and 429 delay updates but lose none."""

import json
import re
from datetime import timedelta

import requests
import responses
import time_machine
from django.core.cache import cache
from django.utils import timezone

from callcenter.services import calls as call_services
from integrations import outbox
from integrations.models import OutboxMessage
from tests.callcenter.conftest import make_lead, make_product
from tests.factories import CustomerFactory, UserFactory

LEAD_URL = re.compile(r"https://cartera\.kommo\.com/api/v4/leads/\d+")


def test_every_update_reaches_kommo_once_through_an_outage(
    queue_config, settings, django_capture_on_commit_callbacks
):
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    product = make_product(stock=10)
    leads = []
    for n in range(3):
        agent = UserFactory(username=f"sync{n}", role="Agente call center")
        lead = make_lead(taken_by=agent, taken_at=timezone.now(), customer=CustomerFactory())
        leads.append((agent, lead))
    # The first attempt of each message meets Kommo down in a different way.
    failures = {
        leads[0][1].kommo_id: (503, {}),
        leads[1][1].kommo_id: requests.exceptions.ConnectTimeout("timed out"),
        leads[2][1].kommo_id: (429, {"Retry-After": "120"}),
    }
    delivered: list[int] = []

    def kommo(request):
        lead_id = int(request.url.rsplit("/", 1)[1])
        failure = failures.pop(lead_id, None)
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            status, headers = failure
            return (status, headers, "{}")
        assert json.loads(request.body)["status_id"] == queue_config.sold_status_id
        delivered.append(lead_id)
        return (200, {}, json.dumps({"id": lead_id}))

    start = timezone.now()
    with responses.RequestsMock() as api:
        api.add_callback(responses.PATCH, LEAD_URL, callback=kommo)
        # Each order commits, and its message is tried at once (on commit): all fail.
        for agent, lead in leads:
            with django_capture_on_commit_callbacks(execute=True):
                call_services.confirm_order(
                    lead=lead, agent=agent, lines=[call_services.CartLine(product.pk, 1)]
                )
        assert delivered == []
        assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"queued"}
        throttled = OutboxMessage.objects.get(payload__lead_id=leads[2][1].kommo_id)
        # Kommo's Retry-After is respected, whatever the backoff drew.
        assert throttled.next_attempt_at >= start + timedelta(seconds=119)

        # The beat's sweep, every minute for two hours, sends each one when it is due.
        for minute in range(1, 121):
            with time_machine.travel(start + timedelta(minutes=minute), tick=False):
                cache.clear()  # a new second for the throttle
                outbox.deliver_due_messages()

    assert sorted(delivered) == sorted(lead.kommo_id for _, lead in leads)
    messages = list(OutboxMessage.objects.all())
    assert {m.status for m in messages} == {OutboxMessage.Status.SENT}
    assert [m.attempts for m in messages] == [2, 2, 2]


def test_a_definitive_refusal_stays_failed_and_visible_until_retried(
    held_lead, agente, settings, django_capture_on_commit_callbacks
):
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    url = f"{settings.KOMMO_BASE_URL}/api/v4/leads/{held_lead.kommo_id}"
    with responses.RequestsMock() as api:
        api.patch(url, status=400, json={"title": "Bad Request", "detail": "status_id"})
        with django_capture_on_commit_callbacks(execute=True):
            call_services.confirm_order(
                lead=held_lead,
                agent=agente,
                lines=[call_services.CartLine(make_product(stock=1).pk, 1)],
            )
    message = OutboxMessage.objects.get()
    assert message.status == OutboxMessage.Status.FAILED
    assert "HTTP 400" in message.last_error

    with responses.RequestsMock() as api:
        api.patch(url, json={"id": held_lead.kommo_id})
        with django_capture_on_commit_callbacks(execute=True):
            outbox.retry_message(message=message)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
