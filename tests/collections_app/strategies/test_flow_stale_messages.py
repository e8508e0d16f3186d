"""A flow's message is true on the day it was written for («hoy vence», «tiene 5 días de
atraso», the amount overdue): one the outbox could not deliver that day (the worker stopped
over a weekend, retries past midnight) ends failed with the reason on the timeline, never
sent days late to a debtor who may have paid since. One held by the quiet hours from the
start goes out the morning it was held to, as the queue said."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from collections_app.strategies import flows
from crm.models import Message
from integrations import outbox
from integrations.models import OutboxMessage
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies import flow_fixtures
from tests.collections_app.strategies.test_origin_switched_off import (
    AFTER_MORNING,
    emails_to,
    failure_entries,
    flow,  # noqa: F401 (a fixture)
    outbox_row,
)
from tests.credits.conftest import LIMA

NINE = datetime.combine(TODAY, time(9, 0), tzinfo=LIMA)
STALE = (
    "Era para el 15/06/2026 y no salió ese día (envíos detenidos o reintentos): ya no se "
    "envió, lo que decía pudo dejar de ser cierto."
)


@pytest.fixture
def queued_at_nine(quiet_nights, flow, django_capture_on_commit_callbacks) -> Message:  # noqa: F811
    """Monday's 09:00 run queues Julia's e-mail; no worker takes it (captured, not run)."""
    flow_fixtures.debtor_due(-5, email="julia@example.com")
    with time_machine.travel(NINE, tick=False), django_capture_on_commit_callbacks(execute=False):
        flows.run_flow(flow)
    (message,) = Message.objects.filter(origin=flows.ORIGIN)
    return message


def test_a_flow_message_the_worker_did_not_send_that_day_is_not_sent_days_later(queued_at_nine):
    # The worker comes back on Wednesday morning.
    with time_machine.travel(NINE + timedelta(days=2), tick=False):
        outbox.deliver_due_messages()

    assert emails_to("julia@example.com") == []
    row = outbox_row(queued_at_nine)
    assert (row.status, row.last_error) == (OutboxMessage.Status.FAILED, STALE)
    assert failure_entries(queued_at_nine.customer) == [
        f"No se pudo enviar el correo «Su cuota venció»: {STALE}"
    ]


def test_a_flow_message_delivered_late_the_same_day_goes_out(queued_at_nine):
    with time_machine.travel(NINE.replace(hour=19, minute=30), tick=False):
        outbox.deliver_due_messages()

    assert len(emails_to("julia@example.com")) == 1
    assert outbox_row(queued_at_nine).status == OutboxMessage.Status.SENT


def test_a_flow_message_held_overnight_from_the_start_goes_out_that_morning_only(
    quiet_nights,
    flow,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    flow_fixtures.debtor_due(-5, email="julia@example.com")
    # A run asked for at 21:00: held until Tuesday 08:00, true through Tuesday.
    with (
        time_machine.travel(NINE.replace(hour=21), tick=False),
        django_capture_on_commit_callbacks(execute=False),
    ):
        flows.run_flow(flow)
    (message,) = Message.objects.filter(origin=flows.ORIGIN)
    mail.outbox.clear()

    with time_machine.travel(AFTER_MORNING + timedelta(days=1), tick=False):
        outbox.deliver_due_messages()  # Wednesday: a day after the morning it was held to

    assert emails_to("julia@example.com") == []
    assert outbox_row(message).last_error.startswith("Era para el 16/06/2026 y no salió")
