"""Celery doors into the gestiones services."""

from celery import shared_task
from django.core.mail import send_mail


@shared_task(autoretry_for=(OSError,), retry_backoff=True, retry_jitter=True, max_retries=6)
def send_email(subject: str, body: str, recipients: list[str]) -> None:
    """Send one plain-text e-mail (SMTP errors are OSErrors: retried with backoff)."""
    send_mail(subject, body, None, recipients)


@shared_task
def alert_due_gestiones() -> dict[str, int]:
    from gestiones import services

    return services.alert_due_gestiones()


# The campaign and life-cycle tasks live beside their services; importing them here lets
# Celery's autodiscovery (which reads `tasks` modules) register them in every worker.
from gestiones import campaign_tasks  # noqa: E402, F401
