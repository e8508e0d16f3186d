"""Exports over the web's limit are written by a worker, followed on «Exportaciones», and
downloaded only by the person who asked (lib.exports, crm.exports)."""

import datetime
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.exports import services
from crm.models import ExportJob
from lib import exports, lists
from tests.factories import CustomerFactory, UserFactory
from tests.test_collections_exports import campaign


@pytest.fixture
def clerk(db):
    """Not a superuser: sees customers through the one permission the list asks for."""
    user = UserFactory(username="clerk-export")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


def _customers():
    for last_name in ("Quispe", "Rojas", "Flores"):
        CustomerFactory(last_name=last_name)


def _direct_bytes(client, query: dict) -> bytes:
    return _direct_bytes_of(client.get(reverse("crm:customer_list"), query))


def _queue(client, query: dict, capture):
    with capture(execute=True):
        response = client.get(reverse("crm:customer_list"), query)
    return response


def test_a_queued_export_writes_the_bytes_the_direct_export_would(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    query = {"q": "", "sort": "-last_name", "export": "csv"}
    direct = _direct_bytes(client, query)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)

    response = _queue(client, query, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert job.status == ExportJob.Status.DONE
    assert (job.rows_written, job.total) == (3, 3)
    with job.file.open("rb") as handle:
        assert handle.read() == direct
    download = client.get(reverse("exports:download", args=[job.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert job.file_name in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == direct


def test_the_list_says_the_export_was_queued_with_a_link(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)

    response = _queue(client, {"q": "", "export": "xlsx"}, django_capture_on_commit_callbacks)

    assert response["Location"] == reverse("crm:customer_list") + "?q="
    [message] = get_messages(response.wsgi_request)
    assert str(message) == (
        "La exportación de 3 filas quedó en cola: la encontrará en "
        f'<a href="{reverse("exports:list")}">Exportaciones</a>.'
    )
    page = client.get(response["Location"]).content.decode()
    assert f'<a href="{reverse("exports:list")}">Exportaciones</a>' in page


def test_an_export_over_the_queued_limit_is_refused(client, clerk, monkeypatch):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 1)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS_QUEUED", 2)

    response = client.get(reverse("crm:customer_list"), {"export": "csv"})

    [message] = get_messages(response.wsgi_request)
    assert "más de 2 filas" in str(message)
    assert not ExportJob.objects.exists()


def test_another_user_gets_404_for_the_file_superusers_too(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    _queue(client, {"export": "csv"}, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()

    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    download = client.get(reverse("exports:download", args=[job.pk]))
    page = client.get(reverse("exports:list"))

    assert download.status_code == 404
    assert f"export-{job.pk}" not in page.content.decode()


def test_a_user_who_lost_the_permission_gets_a_failed_job_saying_so(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    with django_capture_on_commit_callbacks() as callbacks:
        client.get(reverse("crm:customer_list"), {"export": "csv"})
    clerk.user_permissions.clear()

    for callback in callbacks:
        callback()

    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED
    assert job.failure == "Ya no tiene permiso para ver esta lista."
    assert not job.file
    page = client.get(reverse("exports:list")).content.decode()
    assert "Ya no tiene permiso para ver esta lista." in page


def test_progress_is_saved_every_few_thousand_rows(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)

    with CaptureQueriesContext(connection) as queries:
        _queue(client, {"export": "csv"}, django_capture_on_commit_callbacks)

    saves = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('UPDATE "crm_exportjob" SET "rows_written" = 2 ')
    ]
    assert len(saves) == 1, "rows 1-2 saved once; the third is saved with the result"
    assert ExportJob.objects.get().rows_written == 3


def test_the_cleanup_deletes_old_files_and_rows(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    _queue(client, {"export": "csv"}, django_capture_on_commit_callbacks)
    _queue(client, {"export": "xlsx"}, django_capture_on_commit_callbacks)
    old, recent = ExportJob.objects.order_by("pk")
    ExportJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=8)
    )

    deleted = services.delete_old_exports()

    assert deleted == 1
    assert not default_storage.exists(old.file.name)
    assert list(ExportJob.objects.all()) == [recent]
    assert default_storage.exists(recent.file.name)


def test_the_page_polls_while_a_job_runs_and_stops_when_all_are_done(client, clerk):
    job = ExportJob.objects.create(
        created_by=clerk, list_name="clientes", path="/clientes/", file_format="csv", total=10
    )
    client.force_login(clerk)
    progress_url = reverse("exports:progress")

    running = client.get(reverse("exports:list")).content.decode()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.DONE)
    done = client.get(progress_url, headers={"HX-Request": "true"})

    assert f'hx-get="{progress_url}" hx-trigger="every 2s"' in running
    assert done.status_code == 200
    assert "crm/exports/partials/export_jobs.html" in [t.name for t in done.templates]
    assert 'id="export-jobs"' in done.content.decode()
    assert "hx-trigger" not in done.content.decode()


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_list_that_calls_the_export_itself_is_queued_with_the_same_rows(
    client, cobranzas, monkeypatch, django_capture_on_commit_callbacks, file_format
):
    """The collections and recovery lists call export_table from their own views."""
    campaign(CustomerFactory(last_name="Huamán"), code="CAST-1")
    campaign(CustomerFactory(last_name="Rojas"), code="CAST-2")
    client.force_login(cobranzas)
    url = reverse("recovery:campaign_list")
    query = {"q": "", "export": file_format}
    direct = _direct_bytes_of(client.get(url, query))
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url, query)

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert job.status == ExportJob.Status.DONE, job.failure
    with job.file.open("rb") as handle:
        written = handle.read()
    if file_format == "csv":
        assert written == direct
    else:  # a workbook stores the time it was saved: compare the cells
        assert _cells(written) == _cells(direct)


def _direct_bytes_of(response) -> bytes:
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def _cells(content: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return list(sheet.iter_rows(values_only=True))


def test_a_second_delivery_of_the_task_writes_nothing_again(
    client, clerk, monkeypatch, django_capture_on_commit_callbacks
):
    _customers()
    client.force_login(clerk)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    _queue(client, {"export": "csv"}, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()

    again = services.run_export(job_id=job.pk)

    assert again is None
    assert ExportJob.objects.get().file.name == job.file.name
