"""An import that kills its worker each time (a file too big for its memory) is sent again
by beat (lib.progress.send_again) at most lib.progress.MAX_SENDS times in all, then fails
with a reason its page shows; it is not sent again every 15 minutes for ever.

A worker's death is a SystemExit raised mid-run: like SIGKILL, it skips every
`except Exception`, so nothing marks the import finished.
"""

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pytest_django.asserts import assertContains

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

ROWS = "Tipo,Documento,Nombres\n" + "".join(f"DNI,{42000000 + i},Nombre{i}\n" for i in range(20))
LATER = progress.ABANDONED_AFTER + datetime.timedelta(minutes=1)
FAILURE = "La importación se interrumpió 3 veces; divida el archivo y vuelva a subirlo."


def killed(*args, **kwargs):
    raise SystemExit("SIGKILL")


@pytest.fixture
def sent(monkeypatch):
    """The tasks beat sends, none run by the send itself."""
    tasks = []
    monkeypatch.setattr(queue, "send_now", lambda name, kwargs: tasks.append((name, kwargs)))
    return tasks


def queued_batch(actor) -> ImportBatch:
    batch = services.upload(
        kind="customers", file=SimpleUploadedFile("c.csv", ROWS.encode()), actor=actor
    )
    return services.queue_import(
        batch=batch, mapping=batch.mapping, skip_invalid=False, actor=actor
    )


def after(cycles: int):
    return time_machine.travel(timezone.now() + cycles * LATER, tick=False)


def test_a_batch_that_kills_its_worker_each_time_fails_after_three_sends(
    client, supervisor, monkeypatch, sent
):
    batch = queued_batch(supervisor)
    monkeypatch.setattr(services, "_run", killed)
    with pytest.raises(SystemExit):
        services.run_import(batch_id=batch.pk)  # the first send

    for cycle in (1, 2):
        with after(cycle):
            assert crm_tasks.resume_abandoned_imports() == 1
            with pytest.raises(SystemExit):
                services.run_import(**sent[-1][1])
    with after(3):
        assert crm_tasks.resume_abandoned_imports() == 0
    with after(4):
        assert crm_tasks.resume_abandoned_imports() == 0

    batch.refresh_from_db()
    assert len(sent) == 2
    assert (batch.status, batch.attempts, batch.failure) == (
        ImportBatch.Status.FAILED,
        2,
        FAILURE,
    )
    assert batch.finished_at is not None
    assert Customer.objects.count() == 0
    client.force_login(supervisor)
    assertContains(client.get(batch.get_absolute_url()), FAILURE)


def test_a_batch_sent_again_is_queued_with_a_new_pulse_and_then_runs(supervisor, sent):
    batch = queued_batch(supervisor)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING, started_at=timezone.now()
    )

    with after(1):
        assert crm_tasks.resume_abandoned_imports() == 1
        # The task waits in a busy queue: the next sweep does not send it again.
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10)):
            assert crm_tasks.resume_abandoned_imports() == 0
        batch.refresh_from_db()
        assert (batch.status, batch.started_at, batch.attempts) == (
            ImportBatch.Status.QUEUED,
            None,
            1,
        )
        services.run_import(**sent[0][1])

    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == (ImportBatch.Status.DONE, 20)


def test_a_batch_claimed_since_the_sweep_saw_it_is_left_alone(supervisor, sent, monkeypatch):
    """A redelivered task claims the batch between the sweep's read and its update."""
    batch = queued_batch(supervisor)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING, started_at=timezone.now(), attempts=2
    )
    real = progress.abandoned

    def claimed_meanwhile(*args, **kwargs):
        found = real(*args, **kwargs)
        ImportBatch.objects.filter(pk=batch.pk).update(started_at=timezone.now())
        return found

    monkeypatch.setattr(progress, "abandoned", claimed_meanwhile)
    with after(1):
        assert crm_tasks.resume_abandoned_imports() == 0

    batch.refresh_from_db()
    assert (batch.status, batch.failure, sent) == (ImportBatch.Status.RUNNING, "", [])


def test_a_catalog_import_that_kills_its_worker_each_time_fails_after_three_sends(
    admin_user, monkeypatch, sent
):
    upload = CatalogImport(file_name="c.csv", created_by=admin_user)
    upload.file.save(
        "c.csv", SimpleUploadedFile("c.csv", csv_bytes([CATALOG_HEADER, ["A-1", "P", "1", "2"]]))
    )
    monkeypatch.setattr(catalog_imports, "import_catalog", killed)
    with pytest.raises(SystemExit):
        catalog_imports.run_catalog_import(import_id=upload.pk)

    for cycle in (1, 2):
        with after(cycle):
            assert callcenter_tasks.resume_abandoned_catalog_imports() == 1
            with pytest.raises(SystemExit):
                catalog_imports.run_catalog_import(**sent[-1][1])
    with after(3):
        assert callcenter_tasks.resume_abandoned_catalog_imports() == 0

    upload.refresh_from_db()
    assert (upload.status, upload.attempts, upload.failure) == (
        CatalogImport.Status.FAILED,
        2,
        FAILURE,
    )
    assert not CatalogProduct.objects.exists()
