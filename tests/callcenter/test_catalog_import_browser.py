"""In the system Chromium: an import's page follows the import by itself (htmx under the CSP)."""

import io
import re

import pytest
from playwright.sync_api import Page, expect

from callcenter.catalog import imports as catalog_imports
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
