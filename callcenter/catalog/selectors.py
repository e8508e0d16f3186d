"""Reads of catalog imports: who may see one, and where a running one is."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from callcenter.catalog import imports as catalog_imports
from callcenter.models import CatalogImport
from lib import progress as lib_progress

# A running import saves its progress every fraction of a second while it reads, checks
# and writes rows; this long without news, its worker has most likely stopped.
STALLED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class ImportProgress:
    """Where a running import was when it last saved its progress."""

    phase: str  # catalog_imports.READING, VALIDATING or WRITING
    done: int
    total: int | None
    at: datetime

    @property
    def percent(self) -> int | None:
        """Return the share of the whole import done (checking rows is the first half,
        writing them the second); None while it is not known (reading the file)."""
        if self.phase == catalog_imports.READING or not self.total:
            return None
        share = min(self.done / self.total, 1)
        if self.phase == catalog_imports.WRITING:
            share += 1
        return int(share * 50)


@dataclass(frozen=True)
class ImportState:
    """What an import's page shows: the import, and while it is not finished, its progress."""

    catalog_import: CatalogImport
    progress: ImportProgress | None
    # The last sign of life: the last progress saved, else when it started or was uploaded.
    last_activity_at: datetime
    idle_seconds: int
    is_stalled: bool


def catalog_imports_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CatalogImport]:
    """Return the imports a user may see: a superuser all, anyone else their own."""
    imports = CatalogImport.objects.select_related("created_by")
    if not user.is_authenticated:
        return imports.none()
    if user.is_superuser:
        return imports
    return imports.filter(created_by=user)


def catalog_import_for(user: AbstractBaseUser | AnonymousUser, pk: int) -> CatalogImport:
    """Return the import if this user may see it (its bad rows too); 404 otherwise."""
    return get_object_or_404(catalog_imports_visible_to(user), pk=pk)


def recent_catalog_imports(
    user: AbstractBaseUser | AnonymousUser, limit: int = 10
) -> list[CatalogImport]:
    return list(catalog_imports_visible_to(user).order_by("-created_at", "-id")[:limit])


def import_progress(catalog_import: CatalogImport) -> ImportProgress | None:
    """Return the progress a running import last saved in the cache; None if there is none."""
    saved = lib_progress.read(catalog_import.progress_cache_key)
    if not saved:
        return None
    return ImportProgress(
        phase=saved["phase"],
        done=saved["done"],
        total=saved["total"],
        at=datetime.fromtimestamp(saved["at"], tz=UTC),
    )


def import_state(catalog_import: CatalogImport, now: datetime | None = None) -> ImportState:
    now = now or timezone.now()
    progress = None if catalog_import.is_finished else import_progress(catalog_import)
    if progress is not None:
        last_activity_at = progress.at
    else:
        last_activity_at = catalog_import.started_at or catalog_import.created_at
    idle = max(now - last_activity_at, timedelta(0))
    return ImportState(
        catalog_import=catalog_import,
        progress=progress,
        last_activity_at=last_activity_at,
        idle_seconds=int(idle.total_seconds()),
        is_stalled=not catalog_import.is_finished and idle > STALLED_AFTER,
    )
