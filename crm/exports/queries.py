"""Reads of the export jobs, and the one place that decides who may see one."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from crm.models import ExportJob

# The page lists a person's latest jobs; older ones are deleted after EXPORT_KEEP_DAYS.
JOBS_SHOWN = 50


def jobs_of(user) -> QuerySet[ExportJob]:
    """Return the person's own export jobs, newest first."""
    return ExportJob.objects.filter(created_by=user).order_by("-created_at", "-id")


def export_for(user, pk: int) -> ExportJob:
    """Return the job `pk` if `user` asked for it; 404 to anyone else, superusers too: the
    file holds what that person's permissions and filters showed them."""
    return get_object_or_404(jobs_of(user), pk=pk)
