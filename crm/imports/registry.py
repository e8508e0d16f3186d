"""What a kind of import is, and the kinds registered (customers here; loans from credits).

The core never imports the apps above it: `credits` registers its loan importer from its
`AppConfig.ready`, as it registers its identity guard.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils.translation import gettext_lazy

from crm.models import ImportBatch, ImportRecord
from lib.registry import Registry

# The columns of `record_row`, in order, for lib.bulk.insert_rows.
RECORD_COLUMNS = (
    "batch_id",
    "line",
    "object_id",
    "action",
    "before",
    "after",
    "conflict",
    "conflict_status",
)


def record_row(
    batch_id: int,
    line: int,
    object_id: int,
    *,
    action: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    conflict: Mapping[str, Any] | None = None,
    conflict_status: str = "",
) -> tuple:
    """Return what an import did to one record as a row of RECORD_COLUMNS: an import
    writes one per row of its file, without a model object each."""
    return (
        batch_id,
        line,
        object_id,
        action,
        json.dumps(before or {}),
        json.dumps(after or {}),
        json.dumps(conflict or {}),
        conflict_status,
    )


# progress(done, total): rows written so far, of how many.
WriteProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Field:
    """One of our fields a file's column can be mapped to."""

    name: str
    label: str
    required: bool = False
    # Header names (normalized: lower case, no accents) taken as this field without asking.
    aliases: tuple[str, ...] = ()
    help: str = ""


# The customer's document, as every import that names a customer reads it: one
# declaration, so a header one kind of import recognizes, every kind does.
DOCUMENT_FIELDS = (
    Field(
        "document_type",
        gettext_lazy("Tipo de documento"),
        aliases=("tipo", "tipo documento", "tipo doc", "tipo de doc", "document type"),
        help=gettext_lazy("DNI, CE, RUC o Pasaporte; vacío: DNI."),
    ),
    Field(
        "document_number",
        gettext_lazy("Número de documento"),
        required=True,
        aliases=(
            "documento",
            "nro documento",
            "numero documento",
            "nro de documento",
            "nro doc",
            "documento de identidad",
            "doc",
            "dni",
            "document",
        ),
    ),
)


@dataclass(frozen=True)
class Part:
    """A second table a kind of import may bring with its rows (a loan's installments).

    It comes as its own file or, in a workbook, as a sheet named like `sheet_names`; its
    columns are mapped like the main file's. Its rows belong to a main row by a key
    (the loan's payment code), so its problems are reported on that main row's line.
    """

    name: str
    label: str
    fields: tuple[Field, ...]
    description: str = ""
    # Normalized sheet names taken as this part when the main file is a workbook.
    sheet_names: tuple[str, ...] = ()

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Option:
    """A choice a kind of import offers for one run (a checkbox on the columns page)."""

    name: str
    label: str
    help: str = ""
    default: bool = False


# The rows of a part as read: (line, field name → cell) each.
PartRows = Iterable[tuple[int, dict[str, Any]]]


@dataclass
class Outcome:
    """What writing a batch's rows did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    # Problems only the writing finds (a row another user changed meanwhile): line → message.
    errors: dict[int, str] = field(default_factory=dict)


class Importer(ABC):
    """A kind of import: its fields, how a row is read, written, undone and decided."""

    kind: str = ""
    label: str = ""
    # One record of this kind, for messages ("cliente").
    record_label: str = ""
    fields: tuple[Field, ...] = ()
    # The fields a row is told apart by: two rows of a file with the same key are refused.
    key_fields: tuple[str, ...] = ()
    # A short text for the upload page: what a file of this kind holds.
    description: str = ""
    # Tables that may come with the main file (a loan's installments and payments).
    parts: tuple[Part, ...] = ()
    # The kind's own choices for a run, offered on the columns page (ImportBatch.options).
    options: tuple[Option, ...] = ()
    # A URL name (no arguments) of a blank file to fill in, offered on the upload page.
    template_url_name: str = ""
    # The models whose tables a run or an undo writes many rows of: their statistics are
    # refreshed after a large one (crm.imports.services.ANALYZE_FROM_ROWS).
    written: tuple[type[models.Model], ...] = ()

    def start(
        self,
        parts: Mapping[str, PartRows],
        main: Iterable[Mapping[str, Any]] = (),
        *,
        options: Mapping[str, bool] | None = None,
    ) -> Any:
        """Read the parts of a run; return what `parse` and `write` get as `state`.

        Called once per run, before any row is parsed, with each part that came (an
        importer without parts gets {}) and the main file's rows (field → cell), so that
        it can load what they refer to in a few queries. A problem that is no main row's
        (a part's row for a key the main file does not have) is reported by `leftovers`.
        `options` are the run's choices (`Importer.options`, name → checked).
        """
        return None

    def chosen(self, options: Mapping[str, bool] | None) -> dict[str, bool]:
        """Return every option of the kind with its value for a run (its default if unsaid)."""
        given = options or {}
        return {o.name: bool(given.get(o.name, o.default)) for o in self.options}

    def leftovers(self, state: Any) -> list[str]:
        """Return the problems of the parts no main row took, in Spanish; [] if none."""
        return []

    @abstractmethod
    def parse(self, cells: Mapping[str, Any], state: Any = None) -> tuple[Any, list[str]]:
        """Return the row ready to write (or None) and what is wrong with it, in Spanish.

        `state` is what `start` returned for the run, or None for a preview (the parts
        are not read: what only they can tell is not checked).
        """

    @abstractmethod
    def key(self, row: Any) -> tuple:
        """Return what tells this row apart in the file (see key_fields)."""

    @abstractmethod
    def shown(self, row: Any) -> dict[str, str]:
        """Return the row as it will be stored, field name → text, for the preview."""

    @abstractmethod
    def write(
        self,
        batch: ImportBatch,
        rows: Sequence[tuple[int, Any]],
        *,
        actor: AbstractBaseUser | None,
        progress: WriteProgress,
        state: Any = None,
    ) -> Outcome:
        """Write the valid rows (line, row) inside the caller's transaction."""

    @abstractmethod
    def undo_blockers(self, batch: ImportBatch) -> list[str]:
        """Return why the batch cannot be undone (each record changed since); [] if it can."""

    @abstractmethod
    def lock_for_undo(self, batch: ImportBatch) -> None:
        """Lock the rows an undo checks and removes (inside the undo's transaction), so
        that what is recorded on them meanwhile is either seen by `undo_blockers` or waits
        for the undo to end; never removed with them unseen."""

    @abstractmethod
    def undo(self, batch: ImportBatch, *, actor: AbstractBaseUser) -> None:
        """Remove what the batch created and put back what it replaced."""

    @abstractmethod
    def decide(self, record: ImportRecord, *, accept: bool, actor: AbstractBaseUser) -> None:
        """Apply (accept) or leave (reject) the identity change a record holds."""

    @abstractmethod
    def record_url(self, record: ImportRecord) -> str:
        """Return the page of a record's object."""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    def record_field_label(self, name: str) -> str:
        return next((str(f.label) for f in self.fields if f.name == name), name)

    # One importer per kind: registering another instance of the same class (an app's
    # `ready` run twice) is the same importer.
    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


_importers: Registry[Importer] = Registry("An importer")


def register(importer: Importer) -> None:
    _importers.register(importer.kind, importer)


def get(kind: str) -> Importer | None:
    return _importers.get(kind)


def kinds() -> list[Importer]:
    return [imp for name in _importers.names() if (imp := _importers.get(name)) is not None]
