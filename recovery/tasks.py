"""Celery doors into the recovery services; nothing in, counts out."""

from celery import shared_task

from recovery import services


@shared_task(name="recovery.finish_ended_campaigns")
def finish_ended_campaigns() -> int:
    return services.finish_ended()
