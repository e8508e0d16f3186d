"""Celery doors into the ledger's services; ids in, nothing out."""

from celery import shared_task

from credits import portfolio
from credits.investors import panel as investor_panel
from credits.services import contracts as contract_services
from credits.services import nightly
from credits.write_offs import services as write_offs
from integrations.errors import TemporaryProviderError


# Countdowns of 1, 2, 4 ... 128 s (jittered): the retries are over in minutes, well inside
# the broker's visibility timeout. A send lost for good (a worker killed, a failed
# publish) is sent again by send_stalled_contracts.
@shared_task(
    bind=True,
    name="credits.send_contract",
    autoretry_for=(TemporaryProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_contract(self, contract_id: int) -> None:
    try:
        contract_services.send_contract(contract_id=contract_id)
    except TemporaryProviderError as exc:
        if self.request.retries < self.max_retries:
            raise
        # Out of retries: the contract says it failed, and why, instead of "Por enviar".
        contract_services.give_up_contract(contract_id=contract_id, error=str(exc))


@shared_task(name="credits.send_stalled_contracts")
def send_stalled_contracts() -> int:
    return contract_services.send_stalled_contracts()


@shared_task(name="credits.update_delinquency")
def update_delinquency() -> None:
    nightly.run()


@shared_task(name="credits.refresh_portfolio_snapshot")
def refresh_portfolio_snapshot() -> None:
    portfolio.refresh_snapshots()


@shared_task(name="credits.refresh_investor_panel")
def refresh_investor_panel() -> list[str]:
    return investor_panel.refresh_all()


@shared_task(name="credits.run_write_off_batch")
def run_write_off_batch(batch_id: int) -> None:
    """Write off a confirmed batch's loans (its progress shows on the batch's page)."""
    write_offs.run_batch(batch_id=batch_id)


@shared_task(name="credits.resume_abandoned_write_offs")
def resume_abandoned_write_offs() -> int:
    """Every 5 minutes: send again the write-off batches without progress for
    lib.progress.ABANDONED_AFTER (their task was lost, or their worker died)."""
    return write_offs.resume_abandoned()
