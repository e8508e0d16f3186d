"""List exports whose task the broker lost, or whose worker died, are sent again by beat
(crm.exports.services.resume_abandoned), at most EXPORT_MAX_ATTEMPTS times in all, then
failed with a reason «Exportaciones» shows; never run twice at once."""

import datetime
import threading

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from crm.exports import services
from crm.models import ExportJob
from lib import exports, lists, queue
from lib import progress as lib_progress
from tests.factories import CustomerFactory, UserFactory

FAILURE = "No se pudo completar después de 3 intentos; pídala de nuevo."


@pytest.fixture
def clerk(db):
    user = UserFactory(username="clerk-export")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


@pytest.fixture
def sends(monkeypatch):
    """The tasks sent, none run: as if the broker lost each of them."""
    sent = []
    monkeypatch.setattr(queue, "send_now", lambda name, kwargs, **_: sent.append((name, kwargs)))
    return sent


def _lost_export(client, clerk, monkeypatch, capture) -> ExportJob:
    """A customers export queued by the list, whose task never reached a worker."""
    for last_name in ("Quispe", "Rojas", "Flores"):
        CustomerFactory(last_name=last_name)
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    with capture(execute=False):  # the commit's send is lost
        client.get(reverse("crm:customer_list"), {"export": "csv"})
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    return job


def _job(user, **fields) -> ExportJob:
    return ExportJob.objects.create(
        created_by=user, list_name="clientes", path="/clientes/", file_format="csv", **fields
    )


def _ago(minutes: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(minutes=minutes)


def test_a_queued_export_whose_task_was_lost_is_sent_again_and_written(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    job = _lost_export(client, clerk, monkeypatch, django_capture_on_commit_callbacks)
    ExportJob.objects.filter(pk=job.pk).update(created_at=_ago(16))

    sent = services.resume_abandoned()

    job.refresh_from_db()
    assert sent == 1
    assert (job.status, job.rows_written, job.attempts) == (ExportJob.Status.DONE, 3, 1)
    assert job.file


def test_a_job_without_progress_for_less_than_15_minutes_is_left_alone(clerk, sends):
    queued = _job(clerk, created_at=_ago(14))
    running = _job(clerk, status=ExportJob.Status.RUNNING, started_at=_ago(30))
    # Its worker saved progress a minute ago.
    lib_progress.save(services._progress_key(running.pk), {"rows": 10}, 3600)

    assert services.resume_abandoned() == 0
    assert sends == []
    assert set(ExportJob.objects.values_list("status", "attempts")) == {
        (ExportJob.Status.QUEUED, 0),
        (ExportJob.Status.RUNNING, 0),
    }
    assert queued.pk


def test_a_running_job_whose_worker_died_is_queued_and_sent_again(clerk, sends):
    job = _job(clerk, status=ExportJob.Status.RUNNING, started_at=_ago(20), rows_written=50)

    assert services.resume_abandoned() == 1

    job.refresh_from_db()
    assert sends == [("crm.run_export", {"job_id": job.pk})]
    assert (job.status, job.started_at, job.rows_written, job.attempts) == (
        ExportJob.Status.QUEUED,
        None,
        0,
        1,
    )


def test_each_send_gets_15_minutes_and_the_third_lost_one_fails_the_job_saying_so(
    client, clerk, sends
):
    job = _job(clerk, created_at=_ago(16))
    later = timezone.now()

    assert services.resume_abandoned(now=later) == 1
    # Beat's next runs: the send just made is the job's last sign of life.
    assert services.resume_abandoned(now=later + datetime.timedelta(minutes=10)) == 0
    assert services.resume_abandoned(now=later + datetime.timedelta(minutes=16)) == 1
    assert services.resume_abandoned(now=later + datetime.timedelta(minutes=33)) == 0

    job.refresh_from_db()
    assert len(sends) == 2
    assert (job.status, job.attempts, job.failure) == (ExportJob.Status.FAILED, 2, FAILURE)
    client.force_login(clerk)
    page = client.get(reverse("exports:list")).content.decode()
    assert FAILURE in page
    # A task of it still on its way finds nothing to do.
    assert services.run_export(job_id=job.pk) is None


def test_two_beats_at_once_send_a_job_again_once(transactional_db, monkeypatch):
    """Both beats judge the job stale before either changes it: the conditional update
    lets one through."""
    job = _job(UserFactory(username="racer"), created_at=_ago(16))
    sent = []
    lock = threading.Lock()

    def send(name, kwargs, **_):
        with lock:
            sent.append(kwargs)

    monkeypatch.setattr(queue, "send_now", send)
    both_judged = threading.Barrier(2)
    judge = lib_progress.abandoned

    def judged_then_wait(*args, **kwargs):
        stale = judge(*args, **kwargs)
        both_judged.wait(timeout=30)
        return stale

    monkeypatch.setattr(lib_progress, "abandoned", judged_then_wait)
    results, errors = [], []

    def beat():
        try:
            results.append(services.resume_abandoned())
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results) == [0, 1]
    assert sent == [{"job_id": job.pk}]
    assert ExportJob.objects.get(pk=job.pk).attempts == 1


def test_a_redelivered_task_that_claims_the_job_meanwhile_keeps_it(clerk, sends, monkeypatch):
    """Beat judged the running job stale; before it acts, the task redelivered by the
    broker (acks late) takes the job up: beat leaves it to that run."""
    job = _job(clerk, status=ExportJob.Status.RUNNING, started_at=_ago(20), attempts=2)
    judge = lib_progress.abandoned

    def judged_then_redelivered(*args, **kwargs):
        stale = judge(*args, **kwargs)
        assert lib_progress.claim(
            ExportJob.objects.all(),
            job.pk,
            queued=ExportJob.Status.QUEUED,
            running=ExportJob.Status.RUNNING,
            key=services._progress_key(job.pk),
        )
        return stale

    monkeypatch.setattr(lib_progress, "abandoned", judged_then_redelivered)

    assert services.resume_abandoned() == 0

    job.refresh_from_db()
    assert sends == []
    # Neither sent again nor failed, though it was at its last attempt.
    assert (job.status, job.attempts, job.failure) == (ExportJob.Status.RUNNING, 2, "")


def test_a_run_given_up_meanwhile_does_not_overwrite_the_failure(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    job = _lost_export(client, clerk, monkeypatch, django_capture_on_commit_callbacks)
    rebuild = exports.rebuild

    def slow_rebuild(**kwargs):
        rebuild(**kwargs)
        # While this worker wrote, beat gave the job up (it looked dead).
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.FAILED, failure=FAILURE)

    monkeypatch.setattr(exports, "rebuild", slow_rebuild)

    assert services.run_export(job_id=job.pk) is None

    job.refresh_from_db()
    assert (job.status, job.failure, job.file.name) == (ExportJob.Status.FAILED, FAILURE, "")


def test_beat_runs_it_every_10_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["crm-resume-abandoned-exports"]

    assert entry["task"] == "crm.resume_abandoned_exports"
    assert str(entry["schedule"]._orig_minute) == "*/10"
    celery_app.loader.import_default_modules()
    assert "crm.resume_abandoned_exports" in celery_app.tasks
