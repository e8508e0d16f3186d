"""Outbound launches whose worker dies halfway (OOM: Celery acks a lost child's message, so
nothing redelivers it; SIGKILL: no `finally` runs). Each batch refreshes the campaign's
launch heartbeat: a launch without a batch for LAUNCH_STALE may be launched again, says it
was interrupted, and beat's sweep sends it again; it reaches only the customers left.

A worker's death is a SystemExit raised in a batch: no `except Exception` catches it.
"""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import examples
from crm.gestiones import tasks as gestion_tasks
from crm.gestiones.campaigns import selectors as campaign_selectors
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Campaign, Gestion
from lib import queue
from tests.crm.gestiones.test_campaigns import CAMPAIGN_CALL
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
STALE_MINUTES = campaign_selectors.LAUNCH_STALE.seconds // 60


@pytest.fixture
def call_type(asesor, asesor2, supervisor):
    return examples.build_process(CAMPAIGN_CALL, agents=[asesor, asesor2], supervisors=[supervisor])


@pytest.fixture
def campaign(call_type):
    CustomerFactory.create_batch(5)
    return Campaign.objects.create(
        name="C", slug="c", kind=Campaign.Kind.OUTBOUND, gestion_type=call_type
    )


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def later(minutes: int):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks):
    """Launch `campaign`, its worker dying in the second batch of two customers."""
    real_reach = campaign_services._reach
    reached = []

    def reach(*args, **kwargs):
        if len(reached) == 2:
            raise SystemExit("SIGKILL")
        reached.append(1)
        return real_reach(*args, **kwargs)

    monkeypatch.setattr(campaign_services, "_reach", reach)
    monkeypatch.setattr(campaign_services, "LAUNCH_BATCH_SIZE", 2)
    # What the broker would run; the task is lost with its worker.
    monkeypatch.setattr(queue, "send_now", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)
    with pytest.raises(SystemExit):
        campaign_services.reach_segment(
            campaign_id=campaign.pk, actor_id=supervisor.pk, batch_size=2
        )
    monkeypatch.undo()
    campaign.refresh_from_db()


def test_a_launch_killed_halfway_can_be_launched_again_once_stale(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, client, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    assert campaign.targets.count() == 2  # the first batch committed
    assert campaign.launch_heartbeat_at == timezone.now()  # ...and refreshed the heartbeat
    client.force_login(supervisor)

    with later(STALE_MINUTES + 1):
        page = client.get(reverse("gestiones:campaign_detail", args=[campaign.pk]))
        with django_capture_on_commit_callbacks(execute=True):
            campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    assertContains(page, "Interrumpido")
    assertContains(page, "se reanudará solo en unos minutos")
    assertNotContains(page, "En curso…")
    assertNotContains(page, ' disabled><i class="bi bi-send')  # «Lanzar de nuevo» works
    campaign.refresh_from_db()
    assert campaign.targets.count() == 5
    assert Gestion.objects.filter(campaign=campaign).count() == 5
    assert campaign.launch_heartbeat_at is None


def test_a_launch_whose_batches_keep_coming_is_not_launched_again(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, client, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    client.force_login(supervisor)

    with later(STALE_MINUTES - 1):
        page = client.get(reverse("gestiones:campaign_detail", args=[campaign.pk]))
        with pytest.raises(ValidationError, match="sigue en curso"):
            campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    assertContains(page, "En curso…")


def test_the_sweep_sends_a_stale_launch_again_and_it_reaches_the_rest(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)

    with later(STALE_MINUTES + 1), django_capture_on_commit_callbacks(execute=True):
        resumed = gestion_tasks.resume_campaign_launches()

    campaign.refresh_from_db()
    assert resumed == 1
    assert campaign.targets.count() == 5
    assert campaign.launch_heartbeat_at is None
    # The launch goes on as the one who launched it.
    assert set(campaign.gestiones.values_list("created_by", flat=True)) == {supervisor.pk}


def test_the_sweep_leaves_a_launch_making_progress_alone(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)

    with later(STALE_MINUTES - 1), django_capture_on_commit_callbacks() as callbacks:
        assert campaign_services.resume_stale_launches() == 0

    assert callbacks == []
    assert campaign.targets.count() == 2


def test_two_sweeps_send_a_stale_launch_once(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)

    with later(STALE_MINUTES + 1), django_capture_on_commit_callbacks() as callbacks:
        first = campaign_services.resume_stale_launches()
        second = campaign_services.resume_stale_launches()

    assert (first, second, len(callbacks)) == (1, 0, 1)


def test_a_launch_finished_meanwhile_is_swept_without_reaching_anyone(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FINISHED)

    with later(STALE_MINUTES + 1), django_capture_on_commit_callbacks(execute=True):
        campaign_services.resume_stale_launches()

    campaign.refresh_from_db()
    assert (campaign.targets.count(), campaign.launch_heartbeat_at) == (2, None)


def test_the_progress_reloads_the_page_when_the_launch_is_interrupted(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, client, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_progress", args=[campaign.pk])

    running = client.get(url, {"shown": "running"}, headers=HTMX)
    with later(STALE_MINUTES + 1):
        changed = client.get(url, {"shown": "running"}, headers=HTMX)
        waiting = client.get(url, {"shown": "interrupted"}, headers=HTMX)

    assertContains(running, "?shown=running")
    assert changed["HX-Refresh"] == "true"  # the page shows «Lanzar de nuevo» enabled
    assertContains(waiting, "?shown=interrupted")  # polls on until the sweep resumes it
    assertContains(waiting, "2 de 5 clientes del segmento alcanzados")


def test_beat_sweeps_campaign_launches_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["gestiones-resume-campaign-launches"]

    assert entry["task"] == gestion_tasks.resume_campaign_launches.name
    assert entry["schedule"].minute == set(range(0, 60, 5))


def sweep_after(minutes: int, *, monkeypatch) -> int:
    """Run beat's sweep `minutes` from now; the launch it sends dies again at once."""
    monkeypatch.setattr(queue, "send_now", lambda *a, **k: None)
    with later(minutes):
        return campaign_services.resume_stale_launches()


def test_a_launch_that_dies_every_time_it_is_resumed_stops_and_says_so(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, client, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    step = STALE_MINUTES + 1
    tries = campaign_services.MAX_LAUNCH_RESUMES

    resumed = [sweep_after(step * n, monkeypatch=monkeypatch) for n in range(1, tries + 2)]
    # Once given up, later sweeps leave it alone.
    later_sweeps = [sweep_after(step * n, monkeypatch=monkeypatch) for n in (tries + 2, 50)]
    campaign.refresh_from_db()
    client.force_login(supervisor)
    page = client.get(reverse("gestiones:campaign_detail", args=[campaign.pk]))

    assert resumed == [1] * tries + [0]
    assert later_sweeps == [0, 0]
    assert campaign.launch_heartbeat_at is None
    assert campaign.launch_given_up_at is not None
    assert campaign.targets.count() == 2
    assertContains(page, "Detenido")
    assertContains(page, "dejó de reanudarse solo")
    assertNotContains(page, "Interrumpido")
    assertNotContains(page, "se reanudará solo en unos minutos")


def test_a_launch_given_up_launched_again_by_hand_reaches_the_rest(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    step = STALE_MINUTES + 1
    for n in range(1, campaign_services.MAX_LAUNCH_RESUMES + 2):
        sweep_after(step * n, monkeypatch=monkeypatch)
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    campaign.refresh_from_db()
    assert campaign.targets.count() == 5
    assert (campaign.launch_given_up_at, campaign.launch_resumes) == (None, 0)
    assert campaign_selectors.launch_progress(campaign).given_up_at is None


def test_a_resumed_launch_that_makes_progress_gets_its_tries_back(
    campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks, clock
):
    launch_and_die(campaign, supervisor, monkeypatch, django_capture_on_commit_callbacks)
    step = STALE_MINUTES + 1
    for n in range(1, campaign_services.MAX_LAUNCH_RESUMES + 1):
        sweep_after(step * n, monkeypatch=monkeypatch)
    campaign.refresh_from_db()
    assert campaign.launch_resumes == campaign_services.MAX_LAUNCH_RESUMES

    # The last resume commits a batch before its worker dies again.
    real_reach = campaign_services._reach
    reached = []

    def reach(*args, **kwargs):
        if len(reached) == 2:
            raise SystemExit("SIGKILL")
        reached.append(1)
        return real_reach(*args, **kwargs)

    monkeypatch.setattr(campaign_services, "_reach", reach)
    with later(step * campaign_services.MAX_LAUNCH_RESUMES), pytest.raises(SystemExit):
        campaign_services.reach_segment(campaign_id=campaign.pk, batch_size=2)
    monkeypatch.undo()
    campaign.refresh_from_db()

    assert campaign.targets.count() == 4
    assert campaign.launch_resumes == 0
    assert (
        sweep_after(step * (campaign_services.MAX_LAUNCH_RESUMES + 1), monkeypatch=monkeypatch) == 1
    )
