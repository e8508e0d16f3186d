"""The beat health check passes while periodic tasks are being sent, and fails otherwise."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def periodic_task(last_run_at):
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    return PeriodicTask.objects.create(
        name="sweep",
        task="integrations.deliver_due_messages",
        interval=every,
        last_run_at=last_run_at,
    )


def test_it_passes_when_a_task_was_sent_within_the_window(db):
    periodic_task(timezone.now() - datetime.timedelta(seconds=50))
    out = io.StringIO()

    call_command("beat_alive", "--within", "180", stdout=out)

    assert "hace" in out.getvalue()


def test_it_fails_when_beat_stopped_sending(db):
    periodic_task(timezone.now() - datetime.timedelta(minutes=10))

    with pytest.raises(CommandError, match="no envía tareas"):
        call_command("beat_alive", "--within", "180")


def test_it_fails_when_beat_never_sent_anything(db):
    periodic_task(None)

    with pytest.raises(CommandError, match="todavía no envió"):
        call_command("beat_alive")
