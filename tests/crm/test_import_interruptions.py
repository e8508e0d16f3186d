"""Imports cut off halfway: a worker killed (a deploy, out of memory), a task lost by the
broker, Redis restarting. Nothing half-written, and nothing left "En curso" for ever.

A worker's death is a BaseException (SystemExit) raised mid-run: like SIGKILL, it skips
every `except Exception`, so nothing marks the batch finished.
"""

import datetime

import kombu.exceptions
import pytest
import redis
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from callcenter import tasks as callcenter_tasks
from callcenter.catalog import imports as catalog_imports
from callcenter.models import CatalogImport, CatalogProduct
from crm import tasks as crm_tasks
from crm.imports import services
from crm.models import Customer, ImportBatch
from lib import progress, queue
from tests.callcenter.files import HEADER as CATALOG_HEADER
from tests.callcenter.files import csv_bytes

pytestmark = pytest.mark.django_db

ROWS = "Tipo,Documento,Nombres\n" + "".join(f"DNI,{41000000 + i},Nombre{i}\n" for i in range(50))
LATER = progress.ABANDONED_AFTER + datetime.timedelta(minutes=1)


def queued_batch(actor) -> ImportBatch:
    batch = services.upload(
        kind="customers", file=SimpleUploadedFile("c.csv", ROWS.encode()), actor=actor
    )
    return services.queue_import(
        batch=batch, mapping=batch.mapping, skip_invalid=False, actor=actor
    )


def catalog_import(actor) -> CatalogImport:
    row = ["A-1", "P", "1", "2"]
    upload = CatalogImport(file_name="c.csv", created_by=actor)
    upload.file.save("c.csv", SimpleUploadedFile("c.csv", csv_bytes([CATALOG_HEADER, row])))
    return upload


def redis_down(*args, **kwargs):
    raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379.")


def killed(*args, **kwargs):
    raise SystemExit("SIGKILL")


def test_a_batch_left_running_by_a_dead_worker_runs_again_once_its_progress_stopped(
    supervisor, monkeypatch
):
    batch = queued_batch(supervisor)
    real_run = services._run
    monkeypatch.setattr(services, "_run", killed)
    with pytest.raises(SystemExit):
        services.run_import(batch_id=batch.pk)
    monkeypatch.setattr(services, "_run", real_run)

    # The task delivered again at once: the run may still be alive, so it is left alone.
    assert services.run_import(batch_id=batch.pk) is None
    with time_machine.travel(timezone.now() + LATER):
        again = services.run_import(batch_id=batch.pk)

    batch.refresh_from_db()
    assert again is not None
    assert (batch.status, batch.created_count) == (ImportBatch.Status.DONE, 50)
    assert Customer.objects.count() == 50


def test_the_sweep_sends_again_only_the_batches_whose_progress_stopped(
    supervisor, monkeypatch, django_capture_on_commit_callbacks
):
    stuck = queued_batch(supervisor)
    ImportBatch.objects.filter(pk=stuck.pk).update(
        status=ImportBatch.Status.RUNNING, started_at=timezone.now()
    )
    fresh = queued_batch(supervisor)
    sent = []
    monkeypatch.setattr(queue, "send_now", lambda name, kwargs: sent.append((name, kwargs)))

    assert crm_tasks.resume_abandoned_imports() == 0
    with time_machine.travel(timezone.now() + LATER):
        services.save_progress(fresh, phase=services.VALIDATING, done=10, total=50)
        resent = crm_tasks.resume_abandoned_imports()

    assert resent == 1
    assert sent == [("crm.run_import", {"batch_id": stuck.pk})]


def test_a_redis_blip_while_saving_progress_does_not_fail_a_good_file(supervisor, monkeypatch):
    batch = queued_batch(supervisor)
    monkeypatch.setattr(progress.cache, "set", redis_down)

    services.run_import(batch_id=batch.pk)

    batch.refresh_from_db()
    # It ended "Falló: Error inesperado al importar" (or claimed and never finished).
    assert (batch.status, batch.failure) == (ImportBatch.Status.DONE, "")
    assert Customer.objects.count() == 50


def test_a_catalog_import_left_running_by_a_dead_worker_runs_again(admin_user, monkeypatch):
    upload = catalog_import(admin_user)
    real = catalog_imports.import_catalog
    monkeypatch.setattr(catalog_imports, "import_catalog", killed)
    with pytest.raises(SystemExit):
        catalog_imports.run_catalog_import(import_id=upload.pk)
    monkeypatch.setattr(catalog_imports, "import_catalog", real)
    sent = []
    monkeypatch.setattr(queue, "send_now", lambda name, kwargs: sent.append((name, kwargs)))

    with time_machine.travel(timezone.now() + LATER):
        assert callcenter_tasks.resume_abandoned_catalog_imports() == 1
        catalog_imports.run_catalog_import(**sent[0][1])

    upload.refresh_from_db()
    assert upload.status == CatalogImport.Status.DONE
    assert CatalogProduct.objects.filter(sku="A-1").exists()


def test_a_catalog_import_survives_redis_down(admin_user, monkeypatch):
    upload = catalog_import(admin_user)
    monkeypatch.setattr(progress.cache, "set", redis_down)
    monkeypatch.setattr(progress.cache, "delete", redis_down)

    catalog_imports.run_catalog_import(import_id=upload.pk)

    upload.refresh_from_db()
    assert upload.status == CatalogImport.Status.DONE


def test_a_broker_down_at_the_commit_leaves_the_batch_queued_for_the_sweep_not_a_500(
    supervisor, monkeypatch, django_capture_on_commit_callbacks, settings
):
    def broker_down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to redis:6379.")

    batch = services.upload(
        kind="customers", file=SimpleUploadedFile("c.csv", ROWS.encode()), actor=supervisor
    )
    monkeypatch.setattr(queue, "send_now", broker_down)
    monkeypatch.setattr(queue, "runs_inline", lambda: False)  # as in production

    with django_capture_on_commit_callbacks(execute=True):
        services.queue_import(
            batch=batch, mapping=batch.mapping, skip_invalid=False, actor=supervisor
        )

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.QUEUED
    with time_machine.travel(timezone.now() + LATER):
        assert progress.abandoned(
            ImportBatch.objects.all(),
            queued=ImportBatch.Status.QUEUED,
            running=ImportBatch.Status.RUNNING,
            key_of=lambda pk: ImportBatch(pk=pk).progress_cache_key,
        ) == [batch.pk]
