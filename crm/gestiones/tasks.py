"""Celery doors into the gestiones services; ids and plain values in."""

from celery import shared_task

from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.documents import services as document_services
from crm.gestiones.notifications import services as notification_services
from crm.gestiones.reports import services as report_services
from crm.gestiones.reports.timing import services as timing_services


@shared_task(name="gestiones.alert_due_gestiones")
def alert_due_gestiones() -> dict[str, int]:
    return notification_services.alert_due_gestiones()


@shared_task(name="gestiones.launch_campaign")
def launch_campaign(campaign_id: int, actor_id: int | None = None) -> int:
    """Reach the pending customers of a launched outbound campaign, batch by batch."""
    return campaign_services.reach_segment(campaign_id=campaign_id, actor_id=actor_id)


@shared_task(name="gestiones.resume_campaign_launches")
def resume_campaign_launches() -> int:
    """Send again the campaign launches whose worker died (beat, every 5 minutes)."""
    return campaign_services.resume_stale_launches()


@shared_task(name="gestiones.run_lifecycle_events")
def run_lifecycle_events() -> dict[str, int]:
    """Run the day's life-cycle events (beat, daily)."""
    return campaign_services.run_lifecycle_events()


@shared_task(name="gestiones.attach_document_pdf")
def attach_document_pdf(attachment_id: int) -> None:
    """Convert a generated document to PDF with LibreOffice and file it on its follow-up."""
    document_services.attach_pdf(attachment_id=attachment_id)


@shared_task(name="gestiones.attach_missing_document_pdfs")
def attach_missing_document_pdfs() -> int:
    """Convert again the documents whose PDF never came (beat, every 10 minutes)."""
    return document_services.attach_missing_pdfs()


@shared_task(name="gestiones.refresh_report_summary")
def refresh_report_summary(full: bool = False) -> float:
    """Rebuild the dashboards' summary and the time metrics where things changed (beat,
    every 5 minutes); return how many seconds they took."""
    seconds = report_services.refresh_summary(full=full).seconds
    return seconds + timing_services.refresh_times(full=full).seconds


@shared_task(name="gestiones.delete_old_notifications")
def delete_old_notifications() -> int:
    """Daily: delete the notifications read more than NOTIFICATIONS_KEEP_DAYS ago."""
    return notification_services.delete_old_notifications()
