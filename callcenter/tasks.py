"""Celery doors into the call center's services; ids in."""

from celery import shared_task

from callcenter.catalog import imports as catalog_imports


@shared_task(name="callcenter.run_catalog_import")
def run_catalog_import(import_id: int) -> None:
    """Import a catalog file uploaded in admin (its progress shows on the import's page)."""
    catalog_imports.run_catalog_import(import_id=import_id)


@shared_task(name="callcenter.resume_abandoned_catalog_imports")
def resume_abandoned_catalog_imports() -> int:
    """Every 5 minutes: send again the catalog imports whose task was lost or whose worker
    died (no progress for 15 minutes)."""
    return catalog_imports.resume_abandoned()
