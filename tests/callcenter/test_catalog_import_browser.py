"""In the system Chromium: an import's page follows the import by itself (htmx under the CSP)."""

import io
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from callcenter.catalog import imports as catalog_imports
from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogImport
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_the_import_page_follows_the_progress_and_stops_when_the_import_ends(
    page: Page, live_server
):
    boss = UserFactory(username="jefa", is_staff=True, is_superuser=True)
    catalog_import = CatalogImport(
        file_name="grande.xlsx", created_by=boss, status=CatalogImport.Status.RUNNING
    )
    catalog_import.file.save("grande.xlsx", io.BytesIO(b"-"), save=False)
    catalog_import.save()
    catalog_imports.save_progress(
        catalog_import, phase=catalog_imports.VALIDATING, done=250, total=1_000
    )
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/progreso/" in r.url else None)
    sign_in(page, live_server, "jefa")

    page.goto(f"{live_server.url}{catalog_import.get_absolute_url()}")
    status = page.locator(f"#catalog-import-{catalog_import.pk}")
    expect(status).to_contain_text("12 %")
    catalog_imports.save_progress(
        catalog_import, phase=catalog_imports.WRITING, done=900, total=1_000
    )
    expect(status).to_contain_text("95 %", timeout=5_000)
    CatalogImport.objects.filter(pk=catalog_import.pk).update(
        status=CatalogImport.Status.DONE, is_applied=True, created_count=1_000
    )
    expect(status).to_contain_text("Archivo importado.", timeout=5_000)
    polls_when_done = len(polls)
    page.wait_for_timeout(2_500)

    assert len(polls) == polls_when_done  # a finished import's block asks no more
    expect(page.locator("#catalog-import-counts")).to_contain_text(re.compile(r"1,000"))
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


PHONE = {"width": 375, "height": 740}
LONG_FILE_NAME = "catalogo_completo_proveedor_principal_diciembre_2026_version_final.xlsx"


def test_the_catalog_tool_pages_fit_a_phone_with_a_long_file_name(page: Page, live_server):
    boss = UserFactory(username="jefa", is_staff=True, is_superuser=True)
    product = catalog_services.create_product(
        actor=boss, data={"sku": "AUD-BT-01", "name": "Audífonos Bluetooth", "price": 129}
    )
    catalog_services.adjust_stock(
        product=product, delta=12, note="Conteo de inventario del almacén", actor=boss
    )
    catalog_import = CatalogImport(
        file_name=LONG_FILE_NAME,
        created_by=boss,
        status=CatalogImport.Status.DONE,
        is_applied=True,
        skip_invalid=True,
        created_count=3,
        error_row_count=1,
        error_count=1,
        error_preview=[[7, "PROVEEDOR-SKU-0000000123", "El precio «abc» no es un número."]],
    )
    catalog_import.file.save("c.xlsx", io.BytesIO(b"-"), save=False)
    catalog_import.save()
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "jefa")

    for url in (
        reverse("admin:callcenter_catalogproduct_import"),
        catalog_import.get_absolute_url(),
        reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk]),
    ):
        page.goto(f"{live_server.url}{url}")
        width = page.evaluate("document.documentElement.scrollWidth")

        assert width <= PHONE["width"], f"{url} is {width}px wide on a phone"
