"""Celery doors into the ledger's services; ids in, nothing out."""

from celery import shared_task

from credits import portfolio
from credits.services import contracts as contract_services
from credits.services import delinquency
from integrations.errors import TemporaryProviderError


@shared_task(
    name="credits.send_contract",
    autoretry_for=(TemporaryProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_contract(contract_id: int) -> None:
    contract_services.send_contract(contract_id=contract_id)


@shared_task(name="credits.update_delinquency")
def update_delinquency() -> None:
    delinquency.update_delinquency()


@shared_task(name="credits.refresh_portfolio_snapshot")
def refresh_portfolio_snapshot() -> None:
    portfolio.refresh_snapshots()
