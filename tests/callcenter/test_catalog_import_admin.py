"""Catalog imports from admin: stored, queued, run by the Celery task, followed on their page."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from callcenter.catalog import imports as catalog_imports
from callcenter.models import CatalogImport, CatalogProduct, StockMovement
from lib import spreadsheets
from tests.callcenter.files import HEADER, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:callcenter_catalogproduct_import")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GOOD_AND_BAD = [HEADER, ["OK-1", "Bueno", "1", "1"], ["BAD-1", "Malo", "x", "1"]]


def upload(content: bytes, name: str = "catalogo.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def page_url(catalog_import: CatalogImport) -> str:
    return reverse("admin:callcenter_catalogproduct_import_detail", args=[catalog_import.pk])


def progress_url(catalog_import: CatalogImport) -> str:
    return reverse("admin:callcenter_catalogproduct_import_progress", args=[catalog_import.pk])


def errors_url(catalog_import: CatalogImport) -> str:
    return reverse("admin:callcenter_catalogproduct_import_errors", args=[catalog_import.pk])


def running_import(user) -> CatalogImport:
    """An import a worker has claimed: what the page sees while the task runs."""
    catalog_import = CatalogImport(
        file_name="grande.xlsx", created_by=user, status=CatalogImport.Status.RUNNING
    )
    catalog_import.file.save("grande.xlsx", io.BytesIO(b"-"), save=False)
    catalog_import.save()
    return catalog_import


@pytest.fixture
def importer(django_user_model):
    """Staff with the catalog permissions import needs, not a superuser."""
    user = django_user_model.objects.create_user(
        "importadora", password="x", is_staff=True, first_name="Inés", last_name="Quispe"
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="callcenter",
            codename__in=["add_catalogproduct", "change_catalogproduct", "view_catalogproduct"],
        )
    )
    return user


def test_uploading_stores_the_file_and_queues_its_import(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A-1", "Producto", "10", "4"]]))}
        )

    catalog_import = CatalogImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page_url(catalog_import)
    assert catalog_import.status == CatalogImport.Status.QUEUED
    assert (catalog_import.created_by, catalog_import.file_name) == (admin_user, "catalogo.csv")
    # Private storage, a folder of its own whose name cannot be guessed.
    assert re.fullmatch(r"catalog-imports/[\w-]{22}/catalogo\.csv", catalog_import.file.name)
    assert len(callbacks) == 1
    assert not CatalogProduct.objects.exists()


def test_the_import_runs_after_the_commit_and_its_page_shows_the_counts(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    content = xlsx_bytes([HEADER, ["ADM-1", "Producto", 10, 4], ["ADM-2", "Otro", 5, 0]])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            IMPORT_URL,
            {"file": SimpleUploadedFile("catalogo.xlsx", content, content_type=XLSX)},
            follow=True,
        )

    catalog_import = CatalogImport.objects.get()
    assert catalog_import.status == CatalogImport.Status.DONE
    assert (catalog_import.created_count, catalog_import.is_applied) == (2, True)
    assert catalog_import.finished_at is not None
    page = admin_client.get(page_url(catalog_import))
    html = page.content.decode()
    assert "Estado: Terminada" in html
    assert "Archivo importado." in html
    assert page.context["catalog_import"].created_count == 2
    assert "hx-get" not in html  # finished: the page stops asking for news
    assert response.redirect_chain[0][0] == page_url(catalog_import)
    movement = StockMovement.objects.get()
    assert (movement.delta, movement.actor) == (4, admin_user)


def test_a_queued_import_shows_it_waits_and_asks_for_news(admin_client):
    with_callbacks = admin_client.post(
        IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A-1", "Producto", "10", "4"]]))}
    )

    page = admin_client.get(with_callbacks["Location"])

    html = page.content.decode()
    assert "Estado: En cola" in html
    assert f'hx-get="{progress_url(CatalogImport.objects.get())}"' in html
    assert 'http-equiv="refresh"' in html  # inside <noscript>, for browsers without JS


def test_the_page_reloaded_mid_import_shows_where_it_is(admin_client, admin_user):
    catalog_import = running_import(admin_user)
    catalog_imports.save_progress(
        catalog_import, phase=catalog_imports.WRITING, done=30_000, total=100_000
    )

    page = admin_client.get(page_url(catalog_import))

    html = page.content.decode()
    assert "Estado: En curso" in html
    assert '<progress max="100" value="65">' in html
    assert "Guardando los productos: 30,000 de 100,000." in html
    assert "Último avance hace 0 segundos." in html
    assert f'hx-get="{progress_url(catalog_import)}"' in html


def test_the_progress_endpoint_answers_the_cached_progress_while_running(admin_client, admin_user):
    catalog_import = running_import(admin_user)
    catalog_imports.save_progress(
        catalog_import, phase=catalog_imports.VALIDATING, done=250, total=1_000
    )

    response = admin_client.get(progress_url(catalog_import), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.templates] == [
        "admin/callcenter/catalogproduct/partials/import_status.html"
    ]
    assert '<progress max="100" value="12">' in html
    assert "Revisando las filas: línea 250 de 1,000." in html
    assert f'id="catalog-import-{catalog_import.pk}"' in html


def test_the_progress_endpoint_answers_the_final_state_once_the_task_ran(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A-1", "P", "1", "2"]]))})
    catalog_import = CatalogImport.objects.get()
    before = admin_client.get(progress_url(catalog_import)).content.decode()

    for callback in callbacks:  # the task, as the worker runs it after the commit
        callback()
    after = admin_client.get(progress_url(catalog_import)).content.decode()

    assert "Estado: En cola" in before and "hx-get" in before
    assert "Estado: Terminada" in after and "hx-get" not in after
    assert "Productos creados" in after


def test_a_file_with_bad_rows_writes_nothing_and_offers_its_errors_as_csv(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(IMPORT_URL, {"file": upload(csv_bytes(GOOD_AND_BAD))})

    catalog_import = CatalogImport.objects.get()
    page = admin_client.get(page_url(catalog_import)).content.decode()
    download = admin_client.get(errors_url(catalog_import))
    assert (catalog_import.status, catalog_import.is_applied) == (CatalogImport.Status.DONE, False)
    assert not CatalogProduct.objects.exists()
    assert not StockMovement.objects.exists()
    assert "No se importó nada: 1 fila tiene errores." in page
    assert errors_url(catalog_import) in page
    assert "El precio «x» no es un número válido" in page  # the first bad rows, on screen
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="errores-catalogo.csv"' in download["Content-Disposition"]
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "línea,sku,error"
    assert lines[1].startswith("3,BAD-1,")


def test_skipping_bad_rows_imports_the_good_ones_and_keeps_the_bad_ones(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            IMPORT_URL, {"file": upload(csv_bytes(GOOD_AND_BAD)), "skip_invalid": "on"}
        )

    catalog_import = CatalogImport.objects.get()
    assert catalog_import.skip_invalid
    assert (catalog_import.created_count, catalog_import.skipped_count) == (1, 1)
    assert list(CatalogProduct.objects.values_list("sku", flat=True)) == ["OK-1"]
    assert admin_client.get(errors_url(catalog_import)).status_code == 200


def test_the_page_lists_the_first_twenty_errors_and_the_csv_has_them_all(
    admin_client, django_capture_on_commit_callbacks
):
    rows = [[f"BAD-{n}", "Malo", "-1", "1"] for n in range(25)]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, *rows]))})

    catalog_import = CatalogImport.objects.get()
    page = admin_client.get(page_url(catalog_import))
    download = admin_client.get(errors_url(catalog_import))

    assert len(page.context["error_preview"]) == 20
    assert "Se muestran 20 de 25 errores" in page.content.decode()
    assert len(b"".join(download.streaming_content).decode("utf-8-sig").splitlines()) == 26


def test_only_the_importer_or_a_superuser_may_see_an_import_and_its_bad_rows(
    client, importer, django_user_model, django_capture_on_commit_callbacks
):
    colleague = django_user_model.objects.create_user("colega", password="x", is_staff=True)
    colleague.user_permissions.set(importer.user_permissions.all())
    boss = django_user_model.objects.create_superuser("jefa", "jefa@example.com", "x")
    client.force_login(importer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(IMPORT_URL, {"file": upload(csv_bytes(GOOD_AND_BAD))})
    catalog_import = CatalogImport.objects.get()

    answers = {}
    for user in (importer, colleague, boss):
        client.force_login(user)
        answers[user.username] = [
            client.get(url).status_code
            for url in (page_url(catalog_import), errors_url(catalog_import))
        ]

    assert catalog_import.created_by == importer
    assert answers == {"importadora": [200, 200], "colega": [404, 404], "jefa": [200, 200]}


def test_the_import_form_lists_only_the_users_own_recent_imports(client, importer, admin_user):
    CatalogImport.objects.create(file_name="de-admin.csv", created_by=admin_user)
    CatalogImport.objects.create(file_name="mio.csv", created_by=importer)
    client.force_login(importer)

    response = client.get(IMPORT_URL)

    assert [i.file_name for i in response.context["recent_imports"]] == ["mio.csv"]


def test_a_task_that_raises_marks_the_import_failed(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A-1", "P", "1", "2"]]))})
    catalog_import = CatalogImport.objects.get()
    # The worker cannot find the upload (say, web and worker do not share MEDIA_ROOT).
    catalog_import.file.storage.delete(catalog_import.file.name)

    with pytest.raises(FileNotFoundError):
        for callback in callbacks:
            callback()

    catalog_import.refresh_from_db()
    page = admin_client.get(page_url(catalog_import)).content.decode()
    assert catalog_import.status == CatalogImport.Status.FAILED
    assert catalog_import.finished_at is not None
    assert "Error inesperado al importar (FileNotFoundError)" in catalog_import.failure
    assert "Estado: Falló" in page
    assert "No se importó nada. Error inesperado al importar" in page
    assert not CatalogProduct.objects.exists()


def test_a_file_that_cannot_be_used_fails_the_import_with_the_reason(
    admin_client, django_capture_on_commit_callbacks
):
    content = csv_bytes([["sku", "nombre", "stock"], ["A", "B", "1"]])

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(IMPORT_URL, {"file": upload(content)})

    catalog_import = CatalogImport.objects.get()
    assert catalog_import.status == CatalogImport.Status.FAILED
    assert catalog_import.failure.startswith("Faltan columnas obligatorias")


def test_a_second_delivery_of_the_task_changes_nothing(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(IMPORT_URL, {"file": upload(csv_bytes([HEADER, ["A-1", "P", "1", "2"]]))})
    catalog_import = CatalogImport.objects.get()

    again = catalog_imports.run_catalog_import(import_id=catalog_import.pk)

    assert again is None
    assert StockMovement.objects.count() == 1
    catalog_import.refresh_from_db()
    assert (catalog_import.status, catalog_import.created_count) == (
        CatalogImport.Status.DONE,
        1,
    )


def test_an_import_without_progress_for_minutes_says_how_long(
    admin_client, admin_user, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    catalog_import = running_import(admin_user)
    catalog_imports.save_progress(
        catalog_import, phase=catalog_imports.WRITING, done=500, total=1_000
    )

    time_machine.shift(timedelta(minutes=7))
    page = admin_client.get(page_url(catalog_import)).content.decode()

    assert "Último avance hace 7\xa0minutos." in page
    assert "No avanza desde hace 7\xa0minutos" in page


def test_an_unsupported_file_is_refused_before_it_is_stored(admin_client):
    response = admin_client.post(IMPORT_URL, {"file": upload(b"x", "catalogo.pdf")})

    assert "Formato no admitido" in str(response.context["form"].errors["file"])
    assert not CatalogImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(admin_client, monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UPLOAD_BYTES", 1024 * 1024)
    content = csv_bytes([HEADER, *[[f"SKU-{n}", "Producto", "1", "1"] for n in range(60_000)]])

    response = admin_client.post(IMPORT_URL, {"file": upload(content)})

    assert "El archivo pesa más de 1 MB" in str(response.context["form"].errors["file"])
    assert not CatalogImport.objects.exists()


def test_the_benchmark_runs_on_a_small_file():
    out = io.StringIO()

    call_command("bench_catalog_import", rows=200, stdout=out)

    report = out.getvalue()
    assert "solo leer (python-calamine)" in report
    assert "200 creados, 0 errores" in report
    assert "200 actualizados" in report
    assert "importar / leer" in report
    assert "tracemalloc" in report and "ru_maxrss" in report
    assert not CatalogProduct.objects.exists()
