"""Queue a list's large export, write it in a worker, and delete old files."""

import datetime
import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from functools import partial

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest
from django.urls import Resolver404, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ExportJob
from lib import exports, queue
from lib import progress as lib_progress

logger = logging.getLogger(__name__)

# How long a written file (and its job) is kept: the daily cleanup deletes older ones.
EXPORT_KEEP_DAYS = 7
# How long a job's pulse is kept in the cache: longer than lib.progress.ABANDONED_AFTER.
PROGRESS_CACHE_SECONDS = 60 * 60
# How many times in all a job is sent to a worker: its first send, then beat's sends again
# (`resume_abandoned`) while it stays without progress; after that it fails.
EXPORT_MAX_ATTEMPTS = 3


@transaction.atomic
def queue_export(request: HttpRequest, *, file_format: str, total: int, filename: str) -> str:
    """Record the export the list request asks for and send it to a worker; return the URL
    of the page that follows it (lib.exports' queuer)."""
    job = ExportJob.objects.create(
        created_by=request.user,
        list_name=filename,
        path=request.path_info,  # what resolve() reads: without a script prefix
        query=request.GET.urlencode(),
        file_format=file_format,
        total=total,
    )
    queue.enqueue("crm.run_export", job_id=job.pk)
    return reverse("exports:list")


def run_export(*, job_id: int) -> ExportJob | None:
    """Write a queued job's file as its owner's list shows it; None if it was not queued,
    or if the job stopped being this run's before it ended (see `_close`).

    Claimed first (queued → running), so a duplicate delivery does nothing; a job left
    running by a worker that died (no progress for lib.progress.ABANDONED_AFTER) is taken
    up again from the start when its task is delivered again (acks late), or sent again
    by beat (`resume_abandoned`). The rows written are saved every
    lib.exports.PROGRESS_EVERY rows. A person who lost the list's permission, a list that
    no longer exists or filters it no longer accepts fail the job with the reason.
    """
    if not lib_progress.claim(
        ExportJob.objects.all(),
        job_id,
        queued=ExportJob.Status.QUEUED,
        running=ExportJob.Status.RUNNING,
        key=_progress_key(job_id),
    ):
        return None
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        with tempfile.TemporaryFile() as handle:
            target = exports.Target(handle, on_progress=partial(_save_progress, job.pk))
            exports.rebuild(user=job.created_by, path=job.path, query=job.query, target=target)
            handle.seek(0)
            job.file.save(target.filename, File(handle), save=False)
    except (PermissionDenied, Resolver404, Http404) as error:
        return _fail(job, _refusal(error))
    except exports.Refused as error:
        return _fail(job, str(error))
    except Exception:
        logger.exception("Export %s failed", job.pk)
        return _fail(job, _("Error inesperado al escribir el archivo."))
    job.file_name = target.filename
    job.rows_written = target.rows
    job.total = target.total or 0
    job.status = ExportJob.Status.DONE
    job.finished_at = timezone.now()
    return _close(job, "file", "file_name", "rows_written", "total")


def download_refusal(job: ExportJob) -> str | None:
    """Return why the job's owner may no longer take its file (in Spanish), or None.

    The file was written with the permissions its owner had then; a person whose role was
    taken away since must not keep the list. So the list view is called again as its
    owner, as `run_export` does, and stopped where it would start writing the file: its
    own checks have then let the person in. A list that no longer accepts the job's
    filters still let them in.
    """
    try:
        exports.rebuild(user=job.created_by, path=job.path, query=job.query, target=_Probe())
    except _Admitted:
        return None
    except exports.Refused:
        return None
    except (PermissionDenied, Resolver404, Http404) as error:
        return _refusal(error)
    return None


class _Admitted(Exception):
    """The list view got as far as writing its file: its checks let the person in."""


class _Probe(exports.Target):
    """A target that stops the list view before it writes a row (`download_refusal`)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO())

    def counting(self, rows: Iterable[list]) -> Iterator[list]:
        raise _Admitted

    def write(self, chunks: Iterable[bytes]) -> None:
        raise _Admitted


def _refusal(error: Exception) -> str:
    """The reason, for the person, that a list rebuilt as them refused them."""
    if isinstance(error, PermissionDenied):
        return _("Ya no tiene permiso para ver esta lista.")
    return _("La lista ya no existe.")


def _close(job: ExportJob, *fields: str) -> ExportJob | None:
    """Save the end of this worker's run: done, or failed with the reason.

    Only while the job is still this run's (running since the start it claimed): a run
    taken up by another worker, or given up by `resume_abandoned`, meanwhile, is no longer
    this one's to end; its file, if any, is deleted, and None is returned.
    """
    ended = ExportJob.objects.filter(
        pk=job.pk, status=ExportJob.Status.RUNNING, started_at=job.started_at
    ).update(
        status=job.status,
        failure=job.failure,
        finished_at=job.finished_at,
        **{name: getattr(job, name) for name in fields},
    )
    if not ended:
        if job.file:
            job.file.delete(save=False)
        logger.warning("Export %s: this run was no longer the job's; its result is dropped", job.pk)
        return None
    return job


def resume_abandoned(*, now: datetime.datetime | None = None) -> int:
    """Send again each job queued or running without progress for
    lib.progress.ABANDONED_AFTER (its task was lost by the broker, or its worker died), up
    to EXPORT_MAX_ATTEMPTS sends in all; fail, saying so, one sent that many times. Return
    how many were sent again. Beat runs it every 10 minutes.

    A job is sent again queued, with a new pulse: it has ABANDONED_AFTER again before the
    next send. Each change is made only if the row is still as it was seen stale (status,
    start, rows written, attempts), so two beats, or beat and a redelivered task that has
    just claimed the job, never both act on it; `run_export`'s claim keeps a duplicate
    send from running the job twice.
    """
    now = now or timezone.now()
    seen = {
        row["pk"]: row
        for row in ExportJob.objects.filter(
            status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
        ).values("pk", "status", "started_at", "rows_written", "attempts")
    }
    if not seen:
        return 0
    stale = lib_progress.abandoned(
        ExportJob.objects.filter(pk__in=seen),
        queued=ExportJob.Status.QUEUED,
        running=ExportJob.Status.RUNNING,
        key_of=_progress_key,
        now=now,
    )
    sent = 0
    for job_id in stale:
        row = seen[job_id]
        unchanged = ExportJob.objects.filter(**row)
        if row["attempts"] + 1 >= EXPORT_MAX_ATTEMPTS:
            failure = _(
                "No se pudo completar después de %(attempts)s intentos; pídala de nuevo."
            ) % {"attempts": EXPORT_MAX_ATTEMPTS}
            if unchanged.update(status=ExportJob.Status.FAILED, failure=failure, finished_at=now):
                logger.warning(
                    "Export %s failed: no progress after %s sends", job_id, row["attempts"] + 1
                )
            continue
        if not unchanged.update(
            status=ExportJob.Status.QUEUED,
            started_at=None,
            rows_written=0,
            attempts=F("attempts") + 1,
        ):
            continue  # taken up, or sent again by another beat, since it was seen
        # The send is a sign of life: the next one only after ABANDONED_AFTER more.
        lib_progress.save(_progress_key(job_id), {"rows": 0}, PROGRESS_CACHE_SECONDS)
        queue.send_now("crm.run_export", {"job_id": job_id})
        sent += 1
    if sent:
        logger.warning("%s export(s) without progress sent again", sent)
    return sent


def _save_progress(job_id: int, rows: int) -> None:
    ExportJob.objects.filter(pk=job_id).update(rows_written=rows)
    # The job's pulse (lib.progress.claim): a running job without it is abandoned.
    lib_progress.save(_progress_key(job_id), {"rows": rows}, PROGRESS_CACHE_SECONDS)


def _progress_key(job_id: int) -> str:
    return f"crm:export:{job_id}:progress"


def _fail(job: ExportJob, reason: str) -> ExportJob | None:
    if job.file:
        job.file.delete(save=False)
    job.status = ExportJob.Status.FAILED
    job.failure = reason
    job.finished_at = timezone.now()
    return _close(job)


def delete_old_exports(*, now: datetime.datetime | None = None) -> int:
    """Delete the jobs asked for more than EXPORT_KEEP_DAYS ago, files and all; return how
    many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=EXPORT_KEEP_DAYS)
    deleted = 0
    for job in ExportJob.objects.filter(created_at__lt=cutoff).order_by("pk").iterator():
        if job.file:
            job.file.delete(save=False)
        job.delete()
        deleted += 1
    if deleted:
        logger.info("Deleted %s export(s) asked for before %s", deleted, cutoff)
    return deleted
