"""The customer core's background work."""

from celery import shared_task

from crm.exports import services as exports
from crm.imports import services as imports


@shared_task(name="crm.run_import")
def run_import(batch_id: int) -> None:
    """Import an uploaded file (its progress shows on the import's page)."""
    imports.run_import(batch_id=batch_id)


@shared_task(name="crm.discard_abandoned_uploads")
def discard_abandoned_uploads() -> int:
    """Daily: discard uploads nobody mapped in IMPORT_ABANDONED_DAYS days."""
    return imports.discard_abandoned_uploads()


@shared_task(name="crm.resume_abandoned_imports")
def resume_abandoned_imports() -> int:
    """Every 5 minutes: send again the runs of imports whose task was lost or whose worker
    died (no progress for lib.progress.ABANDONED_AFTER)."""
    return imports.resume_abandoned()


@shared_task(name="crm.run_export")
def run_export(job_id: int) -> None:
    """Write a list's queued export (its progress shows on the Exportaciones page)."""
    exports.run_export(job_id=job_id)


@shared_task(name="crm.delete_old_exports")
def delete_old_exports() -> int:
    """Daily: delete exports asked for more than EXPORT_KEEP_DAYS days ago, files and all."""
    return exports.delete_old_exports()


@shared_task(name="crm.resume_abandoned_exports")
def resume_abandoned_exports() -> int:
    """Every 10 minutes: send again the exports without progress for
    lib.progress.ABANDONED_AFTER (their task was lost, or their worker died); fail those
    sent EXPORT_MAX_ATTEMPTS times."""
    return exports.resume_abandoned()
