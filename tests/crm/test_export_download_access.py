"""A queued export's file goes only to its owner while they may still see its list: a role
taken away after the file was written takes the file away too (crm.exports)."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.models import ExportJob
from lib import lists
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def written_export(db, client, monkeypatch, django_capture_on_commit_callbacks):
    """mflores, an asesor, queues the customer list's CSV and the worker writes it."""
    owner = UserFactory(username="mflores", role="Asesor")
    for last_name in ("Quispe", "Rojas", "Flores"):
        CustomerFactory(last_name=last_name)
    client.force_login(owner)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 2)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("crm:customer_list"), {"export": "csv"})
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE
    return job


def download(client, job):
    return client.get(reverse("exports:download", args=[job.pk]))


def test_the_owner_who_still_has_the_role_gets_the_file(client, written_export):
    with written_export.file.open("rb") as handle:
        written = handle.read()

    response = download(client, written_export)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == written


def test_the_owner_whose_role_was_removed_is_refused_the_file_saying_why(client, written_export):
    owner = written_export.created_by
    owner.groups.remove(Group.objects.get(name="Asesor"))

    response = download(client, written_export)

    assert response.status_code == 403
    assert "Content-Disposition" not in response
    assertContains(response, "Ya no tiene permiso para ver esta lista.", status_code=403)
    assertContains(response, written_export.file_name, status_code=403)
    assert client.get(reverse("crm:customer_list")).status_code == 403


def test_checking_the_list_again_writes_nothing(client, written_export):
    with written_export.file.open("rb") as handle:
        before = handle.read()

    download(client, written_export)

    job = ExportJob.objects.get()
    assert (job.status, job.rows_written, job.file.name) == (
        ExportJob.Status.DONE,
        written_export.rows_written,
        written_export.file.name,
    )
    with job.file.open("rb") as handle:
        assert handle.read() == before


def test_a_list_that_no_longer_exists_gives_no_file(client, written_export):
    ExportJob.objects.filter(pk=written_export.pk).update(path="/lista-retirada/")

    response = download(client, written_export)

    assertContains(response, "La lista ya no existe.", status_code=403)
