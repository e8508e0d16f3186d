"""Write-offs in bulk (*castigo en lote*): which active loans a set of criteria matches, what
they owe, and the batch that writes them off one by one in the background.

Each loan goes through `loans.write_off` in its own short transaction, with its item of the
batch: the same lock, checks, ledger entries and timeline entry as the single write-off,
its reason naming the batch. A loan paid or changed since the confirmation is skipped with
its reason; what was written off stays written off whatever happens to the run after it. A
worker that dies mid-run leaves the batch running without progress: beat sends it again
(`resume_abandoned`), and the run goes on with the loans still pending.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from credits import selectors
from credits.models import (
    ZERO,
    Installment,
    Loan,
    LoanProduct,
    WriteOffBatch,
    WriteOffItem,
)
from credits.services import ledger
from credits.services import loans as loan_services
from crm import display
from crm.models import Branch
from lib import money, people, queue
from lib import progress as lib_progress

logger = logging.getLogger(__name__)

PERMISSION = "credits.write_off_loan"
# One batch writes off at most this many loans: a run of ~20 ms a loan takes minutes, and
# a mistake in the criteria stays within what a person can review.
MAX_LOANS = 20_000
# The rows the preview lists; the figures cover every loan.
PREVIEW_ROWS = 50
# How often a run saves its progress, at most (the page asks every second).
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_CACHE_SECONDS = 24 * 60 * 60
# Items read at a time while running: the ids of a 20,000-loan batch are not held at once.
CHUNK = 200
# The timeline's and the ledger's reason: "Castigo en lote #12: Inubicables".
REASON_PREFIX = "Castigo en lote #%(n)s: %(reason)s"

_OWED = Sum(
    F("principal_due")
    + F("interest_due")
    + F("fee_due")
    + F("late_interest_due")
    - F("principal_paid")
    - F("interest_paid")
    - F("fee_paid")
    - F("late_interest_paid")
)
_PRINCIPAL = Sum(F("principal_due") - F("principal_paid"))


@dataclass(frozen=True)
class Criteria:
    """What the loans to write off have in common: one currency, at least so many days late,
    and, if given, a product, a branch and a list of payment codes."""

    currency: str
    min_days_past_due: int
    product: LoanProduct | None = None
    branch: Branch | None = None
    payment_codes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Preview:
    count: int
    principal: Decimal
    total: Decimal
    rows: list[Loan]  # the first PREVIEW_ROWS, most days late first, each with `owed`
    # Pasted codes that match no loan of the preview (unknown, not active, or filtered out).
    codes_left_out: list[str]

    @property
    def is_too_big(self) -> bool:
        return self.count > MAX_LOANS


# --- Reads ---------------------------------------------------------------------------------


def matching_loans(user: AbstractBaseUser, criteria: Criteria) -> QuerySet[Loan]:
    """Return the active loans `user` may see that match `criteria`."""
    loans = selectors.loans_visible_to(user).filter(
        status=Loan.Status.ACTIVE,
        currency=criteria.currency,
        days_past_due__gte=criteria.min_days_past_due,
    )
    if criteria.product is not None:
        loans = loans.filter(product=criteria.product)
    if criteria.branch is not None:
        loans = loans.filter(branch=criteria.branch)
    if criteria.payment_codes:
        loans = loans.filter(payment_code__in=criteria.payment_codes)
    return loans.order_by()


def owed(loans: QuerySet[Loan]) -> tuple[Decimal, Decimal]:
    """Return the unpaid principal and everything unpaid (principal, interest, fees, late
    interest) of the live installments of `loans`, as `selectors.loan_balance` counts them."""
    sums = Installment.objects.filter(loan__in=loans.values("pk"), is_superseded=False).aggregate(
        principal=_PRINCIPAL, total=_OWED
    )
    return money.cents(sums["principal"]), money.cents(sums["total"])


def _owed_per_loan() -> Coalesce:
    unpaid = (
        Installment.objects.filter(loan=OuterRef("pk"), is_superseded=False)
        .order_by()
        .values("loan")
        .annotate(total=_OWED)
        .values("total")
    )
    return Coalesce(
        Subquery(unpaid, output_field=DecimalField(max_digits=14, decimal_places=2)), ZERO
    )


def preview(user: AbstractBaseUser, criteria: Criteria) -> Preview:
    """Return how many loans `criteria` matches, what they owe, and the first rows."""
    loans = matching_loans(user, criteria)
    count = loans.count()
    principal, total = owed(loans)
    rows = list(
        loans.select_related("customer")
        .annotate(owed=_owed_per_loan())
        .order_by("-days_past_due", "payment_code")[:PREVIEW_ROWS]
    )
    left_out: list[str] = []
    if criteria.payment_codes:
        found = set(loans.values_list("payment_code", flat=True))
        left_out = [code for code in criteria.payment_codes if code not in found]
    return Preview(
        count=count, principal=principal, total=total, rows=rows, codes_left_out=left_out
    )


def batches_visible_to(user: AbstractBaseUser) -> QuerySet[WriteOffBatch]:
    """Return the batches `user` may see: all of them, given the write-off permission."""
    if not user.is_authenticated or not user.has_perm(PERMISSION):
        return WriteOffBatch.objects.none()
    return WriteOffBatch.objects.all()


def batch_list(user: AbstractBaseUser) -> QuerySet[WriteOffBatch]:
    """Return the batches for the history, newest first, with who confirmed them."""
    return (
        batches_visible_to(user)
        .select_related("created_by", "product", "branch")
        .order_by("-created_at", "-id")
    )


def batch_for(user: AbstractBaseUser, pk: int) -> WriteOffBatch:
    """Return the batch `pk` if `user` may see it, else 404."""
    return get_object_or_404(
        batches_visible_to(user).select_related("created_by", "product", "branch"), pk=pk
    )


def skipped_items(batch: WriteOffBatch) -> QuerySet[WriteOffItem]:
    """Return the batch's loans not written off, with why, in the order they were tried."""
    return (
        batch.items.filter(outcome=WriteOffItem.Outcome.SKIPPED)
        .select_related("loan__customer")
        .order_by("id")
    )


@dataclass(frozen=True)
class Tally:
    """What a batch's items say so far."""

    pending: int
    written_off: int
    skipped: int
    principal: Decimal
    total: Decimal

    @property
    def done(self) -> int:
        return self.written_off + self.skipped


def tally(batch: WriteOffBatch) -> Tally:
    """Count the batch's items by outcome, and what the written-off ones owed."""
    return tallies([batch.pk])[batch.pk]


def tallies(batch_ids: Iterable[int]) -> dict[int, Tally]:
    """`tally` of each batch in `batch_ids`, in one query (a page of the history)."""
    ids = list(batch_ids)
    found: dict[int, dict[str, dict]] = {pk: {} for pk in ids}
    rows = (
        WriteOffItem.objects.filter(batch_id__in=ids)
        .values("batch_id", "outcome")
        .annotate(n=Count("id"), principal=Sum("principal"), total=Sum("total"))
        .order_by()
    )
    for row in rows:
        found[row["batch_id"]][row["outcome"]] = row
    result = {}
    for pk, outcomes in found.items():
        written = outcomes.get(WriteOffItem.Outcome.WRITTEN_OFF, {})
        result[pk] = Tally(
            pending=outcomes.get(WriteOffItem.Outcome.PENDING, {}).get("n", 0),
            written_off=written.get("n", 0),
            skipped=outcomes.get(WriteOffItem.Outcome.SKIPPED, {}).get("n", 0),
            principal=money.cents(written.get("principal")),
            total=money.cents(written.get("total")),
        )
    return result


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    idle_seconds: int

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return max(0, min(100, int(100 * self.done / self.total)))

    @property
    def is_stalled(self) -> bool:
        # Well before lib.progress.ABANDONED_AFTER: the page says so, beat acts later.
        return self.idle_seconds > 60


def progress(batch: WriteOffBatch) -> Progress | None:
    """Return where a queued or running batch is, as its run last saved it."""
    if batch.is_finished:
        return None
    saved = lib_progress.read(batch.progress_cache_key)
    at = saved.get("at") or (batch.started_at or batch.created_at).timestamp()
    return Progress(
        done=int(saved.get("done") or 0),
        total=batch.loan_count,
        idle_seconds=max(0, int(time.time() - at)),
    )


# --- Writes --------------------------------------------------------------------------------


def size_refusal(count: int) -> str:
    """Return why a batch of `count` loans may not be made, or ""."""
    if count == 0:
        return _("Ningún crédito vigente cumple estos filtros: no hay nada que castigar.")
    if count > MAX_LOANS:
        return _(
            "Un castigo en lote llega como máximo a %(max)s créditos y estos filtros dan "
            "%(n)s. Acote la búsqueda: un producto, una sucursal, más días de atraso o los "
            "códigos de pago."
        ) % {"max": display.whole(MAX_LOANS), "n": display.whole(count)}
    return ""


# The code of the refusal of a batch whose loans changed since its confirmation page.
CHANGED = "changed"


@transaction.atomic
def create_batch(
    *,
    actor: AbstractBaseUser,
    criteria: Criteria,
    reason: str,
    expected_count: int,
    expected_total: Decimal,
) -> WriteOffBatch:
    """Fix the loans `criteria` matches now in a new batch and send it to run after the commit.

    Refused (code CHANGED) when they are not the count and total the confirmation page
    showed: the person confirmed other figures.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo del castigo.")})
    loans = matching_loans(actor, criteria)
    loan_ids = list(loans.order_by("-days_past_due", "payment_code").values_list("pk", flat=True))
    refusal = size_refusal(len(loan_ids))
    if refusal:
        raise ValidationError(refusal)
    principal, total = owed(Loan.objects.filter(pk__in=loans.values("pk")))
    if (len(loan_ids), total) != (expected_count, expected_total):
        raise ValidationError(
            _(
                "Los créditos cambiaron desde que se mostró esta página (pagos, atrasos u otro "
                "castigo): revise las cifras de nuevo antes de confirmar."
            ),
            code=CHANGED,
        )
    batch = WriteOffBatch.objects.create(
        created_by=people.signed_in(actor),
        reason=reason,
        currency=criteria.currency,
        product=criteria.product,
        branch=criteria.branch,
        min_days_past_due=criteria.min_days_past_due,
        payment_codes=list(criteria.payment_codes),
        loan_count=len(loan_ids),
        principal_at_confirmation=principal,
        total_at_confirmation=total,
    )
    WriteOffItem.objects.bulk_create(
        (WriteOffItem(batch=batch, loan_id=pk) for pk in loan_ids), batch_size=1000
    )
    queue.enqueue("credits.run_write_off_batch", batch_id=batch.pk)
    return batch


def run_batch(*, batch_id: int) -> WriteOffBatch | None:
    """Write off the batch's pending loans one by one; None if the batch was not queued.

    Claimed first (queued → running), so a duplicate delivery does nothing; a batch left
    running by a worker that died (no progress for lib.progress.ABANDONED_AFTER) is claimed
    again and goes on with the loans still pending. Each loan commits on its own: a loan
    that may no longer be written off is skipped with its reason, never failing the run.
    """
    if not lib_progress.claim(
        WriteOffBatch.objects.all(),
        batch_id,
        queued=WriteOffBatch.Status.QUEUED,
        running=WriteOffBatch.Status.RUNNING,
        key=WriteOffBatch(pk=batch_id).progress_cache_key,
    ):
        return None
    batch = WriteOffBatch.objects.select_related("created_by", "product", "branch").get(pk=batch_id)
    done = tally(batch).done
    report = _throttled(batch)
    report(done, force=True)
    try:
        while True:
            chunk = list(
                batch.items.filter(outcome=WriteOffItem.Outcome.PENDING)
                .order_by("id")
                .values_list("pk", flat=True)[:CHUNK]
            )
            if not chunk:
                break
            for item_id in chunk:
                _write_off_item(batch, item_id)
                done += 1
                report(done)
    except Exception:
        _finish(
            batch,
            status=WriteOffBatch.Status.FAILED,
            failure=_("Error inesperado al castigar; el equipo técnico tiene el detalle."),
        )
        raise
    _finish(batch, status=WriteOffBatch.Status.DONE)
    batch.refresh_from_db()
    return batch


def _write_off_item(batch: WriteOffBatch, item_id: int) -> None:
    """Write off one loan of the batch, or skip it saying why, with its item, in one
    transaction; an item done already (by a run before a worker died) is left as it is."""
    try:
        with transaction.atomic():
            item = WriteOffItem.objects.select_for_update().select_related("loan").get(pk=item_id)
            if item.outcome != WriteOffItem.Outcome.PENDING:
                return
            loan = ledger.locked(item.loan)
            refusal = _refusal(batch, loan)
            if refusal:
                _skip(item, refusal)
                return
            balance = selectors.loan_balance(loan)
            try:
                # Its own savepoint: a refusal leaves the item to be marked skipped.
                loan_services.write_off(
                    loan=loan,
                    actor=batch.created_by,
                    reason=REASON_PREFIX % {"n": batch.pk, "reason": batch.reason},
                )
            except ValidationError as exc:
                _skip(item, " ".join(exc.messages))
                return
            item.outcome = WriteOffItem.Outcome.WRITTEN_OFF
            item.principal = balance.principal_due
            item.total = balance.total_due
            item.done_at = timezone.now()
            item.save(update_fields=["outcome", "principal", "total", "done_at"])
    except Exception:
        # One loan's unexpected error (a deadlock, a bug) skips that loan, not the rest.
        logger.exception("Write-off batch %s: item %s failed", batch.pk, item_id)
        with transaction.atomic():
            item = WriteOffItem.objects.select_for_update().get(pk=item_id)
            if item.outcome == WriteOffItem.Outcome.PENDING:
                _skip(
                    item, _("Error inesperado al castigarlo; el equipo técnico tiene el detalle.")
                )


def _refusal(batch: WriteOffBatch, loan: Loan) -> str:
    """Why the locked `loan` no longer fits the batch, in a sentence, or ""."""
    if loan.status == Loan.Status.WRITTEN_OFF:
        return _("Ya estaba castigado.")
    if loan.status != Loan.Status.ACTIVE:
        return _("Ya no está vigente: está «%(state)s».") % {"state": loan.get_status_display()}
    if loan.days_past_due < batch.min_days_past_due:
        return _("Ya no tiene %(min)s días de atraso: tiene %(days)s.") % {
            "min": batch.min_days_past_due,
            "days": loan.days_past_due,
        }
    if batch.product_id is not None and loan.product_id != batch.product_id:
        return _("Cambió de producto.")
    if batch.branch_id is not None and loan.branch_id != batch.branch_id:
        return _("Cambió de sucursal.")
    return ""


def _skip(item: WriteOffItem, note: str) -> None:
    item.outcome = WriteOffItem.Outcome.SKIPPED
    item.note = note[:255]
    item.done_at = timezone.now()
    item.save(update_fields=["outcome", "note", "done_at"])


def _finish(batch: WriteOffBatch, *, status: str, failure: str = "") -> None:
    """Record the batch's counts and totals from its items, and its end."""
    counted = tally(batch)
    WriteOffBatch.objects.filter(pk=batch.pk, status=WriteOffBatch.Status.RUNNING).update(
        status=status,
        failure=failure,
        finished_at=timezone.now(),
        written_off_count=counted.written_off,
        skipped_count=counted.skipped,
        principal_written_off=counted.principal,
        total_written_off=counted.total,
    )
    lib_progress.forget(batch.progress_cache_key)


def _throttled(batch: WriteOffBatch):
    last = {"at": 0.0}

    def report(done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and done != batch.loan_count and now - last["at"] < PROGRESS_EVERY_SECONDS:
            return
        last["at"] = now
        # Also the run's pulse (lib.progress.claim): a running batch without it is abandoned.
        lib_progress.save(batch.progress_cache_key, {"done": done}, PROGRESS_CACHE_SECONDS)

    return report


def resume_abandoned() -> int:
    """Send again the run of every batch queued or running whose progress stopped for
    lib.progress.ABANDONED_AFTER (a lost task, a worker that died); return how many. The run
    goes on with the loans still pending. One interrupted lib.progress.MAX_SENDS times fails,
    saying so; what it wrote off stays written off."""
    return lib_progress.send_again(
        WriteOffBatch.objects.all(),
        queued=WriteOffBatch.Status.QUEUED,
        running=WriteOffBatch.Status.RUNNING,
        failed=WriteOffBatch.Status.FAILED,
        failure=_(
            "El castigo se interrumpió %(times)s veces; los créditos que quedaron sin castigar "
            "siguen vigentes. Revise el historial y cree otro lote para ellos."
        )
        % {"times": lib_progress.MAX_SENDS},
        key_of=lambda pk: WriteOffBatch(pk=pk).progress_cache_key,
        task="credits.run_write_off_batch",
        argument="batch_id",
    )


def codes_in(text: str) -> Iterable[str]:
    """Return the payment codes in pasted text: one a line (commas, semicolons and spaces
    also separate them), each once, in order."""
    seen: dict[str, None] = {}
    for part in text.replace(",", " ").replace(";", " ").split():
        seen.setdefault(part.strip(), None)
    return list(seen)
