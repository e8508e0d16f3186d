"""Celery doors into the ledger's services; ids in, nothing out."""

from celery import shared_task

from integrations.errors import TemporaryProviderError

# credits.services enqueues these tasks, so it is imported inside each task, not above.


@shared_task(
    autoretry_for=(TemporaryProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_contract(contract_id: int) -> None:
    from credits import services

    services.send_contract(contract_id=contract_id)


@shared_task
def update_delinquency() -> None:
    from credits import services

    services.update_delinquency()
