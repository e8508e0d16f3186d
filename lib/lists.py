"""The one way a screen answers both a browser and HTMX: the whole page, or only its fragment.

`render_page_or_fragment` makes the choice for any screen whose results HTMX swaps in
place (a list, a report, a calculator); `render_list` adds the filtered, sorted,
paginated table of the list screens, and the same rows as a CSV or XLSX file when a list
names its export (`?export=csv` or `?export=xlsx` next to the current filters).
"""

import contextlib
import csv
import datetime
import inspect
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partialmethod
from typing import Literal

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import EmptyPage, Paginator
from django.db import connection
from django.db.models import DecimalField, Model, QuerySet
from django.db.models.signals import m2m_changed
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.encoding import force_str
from django.utils.functional import cached_property
from django.utils.hashable import make_hashable
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django_filters import FilterSet
from django_htmx.http import push_url, replace_url
from django_tables2 import RequestConfig, Table
from django_tables2 import utils as tables2_utils
from django_tables2.columns import Column, ManyToManyColumn
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.rows import BoundRow
from openpyxl import Workbook

from lib import exports, search, shared_versions, small_tables, spreadsheets

logger = logging.getLogger(__name__)

LIST_PAGE_SIZE = 25
# Above this many matching rows a list says "más de 10 000" instead of counting them all:
# an exact COUNT(*) reads every matching row, 1,000,000 gestiones included, on every page.
COUNT_CAP = 10_000
# A numbers column: its heading aligned right, like its cells.
RIGHT = {"th": {"class": "text-end"}}


# --- Filter dropdowns: their choices from the cache --------------------------------------
# A list's filter form offers branches, channels, tags, people...: tables that rarely
# change, which cost a COUNT and a cursor per dropdown on every page view. Their choices
# are cached and dropped whenever a row of a model some dropdown of this process showed is
# saved or deleted (changes made by a process that never showed one, such as a worker,
# count after CHOICES_TTL seconds).
CHOICES_TTL = 120
_CHOICES_VERSION = "lists:choices-version"
_watched_models: set[str] = set()
# This process's copy of the entries it read: key -> (version, choices, time.monotonic()),
# used within a second of the read.
_local_choices: dict[str, tuple[int, list, float]] = {}
LOCAL_CHOICES_MAX = 5_000


def cache_filter_choices(filterset: FilterSet) -> None:
    """Give the filter form's model dropdowns their choices from the cache (one read)."""
    fields = {
        name: field
        for name, field in filterset.form.fields.items()
        if isinstance(field, ModelChoiceField)
    }
    if not fields:
        return
    _fill_choices({_choices_key(filterset, name): field for name, field in fields.items()})


def _fill_choices(fields: dict[str, ModelChoiceField]) -> None:
    """Set each model dropdown's choices from the cache entry named by its key, in one
    round trip (the version and every entry, each kept with its version); an entry
    missing or older is read from its queryset and kept."""
    found = _cached_lists({key: field.choices for key, field in fields.items()})
    for key, field in fields.items():
        _watch(field.queryset.model)
        # What ModelChoiceField returns once choices were set by hand; django-filter's
        # setter would wrap the list in its queryset iterator again.
        field._choices = field.widget.choices = found[key]


def _cached_lists(sources: dict[str, Iterable]) -> dict[str, list]:
    """Return the choices of each key: this process's copy, read from the cache less than a
    second ago with the version still current (lib.shared_versions), else the cache's
    entries (one round trip with the version); an entry missing or of an older version is
    read from its source (pairs of value and label) and kept in both.

    So a list's filter form asks the cache at most once a second per process; a change
    shows as late as before, plus that second."""
    version = shared_versions.recent([_CHOICES_VERSION])
    now = time.monotonic()
    if version is not None:
        kept = {key: _local_choices.get(key) for key in sources}
        if all(
            entry is not None
            and entry[0] == version[_CHOICES_VERSION]
            and now - entry[2] < shared_versions.READ_SECONDS
            for entry in kept.values()
        ):
            return {key: entry[1] for key, entry in kept.items()}
    found = cache.get_many([_CHOICES_VERSION, *sources])
    current = shared_versions.settle(found, [_CHOICES_VERSION])[_CHOICES_VERSION]
    if len(_local_choices) > LOCAL_CHOICES_MAX:  # per person's keys: keep it bounded
        _local_choices.clear()
    choices_by_key, missing = {}, {}
    for key, source in sources.items():
        cached = found.get(key)
        if cached is not None and cached[0] == current:
            choices = cached[1]
        else:
            choices = [_plain_choice(value, label) for value, label in source]
            missing[key] = (current, choices)
        choices_by_key[key] = choices
        _local_choices[key] = (current, choices, now)
    if missing:
        cache.set_many(missing, timeout=CHOICES_TTL)
    return choices_by_key


def cached_choices(key: str, build: Callable[[], list], *, watch: Iterable[type] = ()) -> list:
    """Return the choices `build()` gives, from the cache: for a dropdown that is no model
    field (the queue's agents).

    Dropped like the model dropdowns' when a row of a `watch`ed model is saved or deleted,
    and after CHOICES_TTL seconds in any case (leave out a model that changes all day,
    such as the leads whose sources are offered: a new source shows within the TTL).
    """
    full_key = f"lists:choices:{key}:{translation.get_language() or ''}"
    for model in watch:
        _watch(model)
    return _cached_lists({full_key: _Lazy(build)})[full_key]


class _Lazy:
    """Choices built only when iterated: when the cache has none to give."""

    def __init__(self, build: Callable[[], list]):
        self.build = build

    def __iter__(self):
        return iter(self.build())


def cache_model_choices(field: ModelChoiceField, key: str) -> None:
    """Give a form's model dropdown (not a list filter's) its choices from the cache, under
    `key`: dropped when a row of its model is saved or deleted, as the filters' are."""
    cache_form_choices({key: field})


def cache_form_choices(fields: dict[str, ModelChoiceField]) -> None:
    """As cache_model_choices, for several dropdowns (by key) in one cache round trip."""
    language = translation.get_language() or ""
    _fill_choices({f"lists:choices:{key}:{language}": field for key, field in fields.items()})


def _choices_key(filterset: FilterSet, name: str) -> str:
    """Name a dropdown's cached choices: its filter, and whose they are if it asks.

    A filter declared with a fixed queryset offers everyone the same choices; one whose
    queryset is a callable of the request may depend on who asks, so each person gets
    their own: a filter whose choices depend on the person must take that form, not
    change its queryset in the FilterSet's __init__. (Not the SQL text as the key:
    compiling it cost about as much as running it.)
    """
    owner = type(filterset)
    key = f"lists:choices:{owner.__module__}.{owner.__qualname__}.{name}"
    if callable(getattr(filterset.filters[name], "queryset", None)):
        user = getattr(filterset.request, "user", None)
        key += f":{getattr(user, 'pk', '')}"
    return f"{key}:{translation.get_language() or ''}"


def _plain_choice(value, label) -> tuple:
    """Return a choice as the cache keeps it; a group (its name, its choices) as a group
    (lib.former_people groups the people who left)."""
    if isinstance(label, list | tuple):
        return (str(value), [(_plain(v), str(text)) for v, text in label])
    return (_plain(value), str(label))


def _plain(value):
    """Return a choice's value as the cache can keep it: the pk, or "" for the empty one."""
    return getattr(value, "value", value)


def _watch(model) -> None:
    """Forget cached choices when a row of `model` is saved or deleted."""
    label = model._meta.label_lower
    if label not in _watched_models:
        _watched_models.add(label)
        small_tables.on_row_change(model, _forget_choices, "lib.lists")


def _forget_choices(sender, **kwargs) -> None:
    if sender._meta.label_lower in _watched_models:
        with contextlib.suppress(ValueError):  # not set yet: nothing cached to forget
            cache.incr(_CHOICES_VERSION)
        shared_versions.forget(_CHOICES_VERSION)


def _forget_choices_of_relation(sender, action: str, model, **kwargs) -> None:
    # A person's groups (who is an advisor) change through the m2m, not a save.
    if action.startswith("post_"):
        _forget_choices(model)
        _forget_choices(kwargs["instance"].__class__)


m2m_changed.connect(_forget_choices_of_relation, dispatch_uid="lib.lists.forget_choices_on_m2m")


class CappedPaginator(Paginator):
    """Count at most COUNT_CAP + 1 rows: exact below the cap, "more than" above it.

    The count reads `SELECT COUNT(*) FROM (… LIMIT cap + 1)`, which stops after the cap
    however large the table; above the cap the pages offered cover the first COUNT_CAP
    rows, and the rest are reached by sorting the other way. `capped` says which it is.
    """

    capped = False
    # A search's few matches in the list's order (lib.search.matches), found by `count`.
    matches: list[int] | None = None

    def __init__(self, *args, cap: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # A list may count less far (render_list's count_cap): the call queue, which
        # every agent's page refreshes every few seconds.
        self.cap = cap or COUNT_CAP

    @cached_property
    def count(self) -> int:
        queryset = _queryset_of(self.object_list)
        if queryset is None:
            return super().count
        self.matches = search.matches(queryset)
        if self.matches is not None:  # a search's few matches, in the list's order
            return len(self.matches)
        if _is_whole_table(queryset) and _estimated_rows(queryset.model) > ESTIMATE_FLOOR:
            # The whole table, and PostgreSQL's statistics put it far above the cap: "more
            # than" without counting the first 10,001 rows (~1 ms on every page view).
            self.capped = True
            return self.cap
        # No ORDER BY: the count does not need the list's order, and may skip its joins.
        counted = queryset.order_by()[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)

    def validate_number(self, number):
        """Return `number` as a page number; one below 1 (`?page=0`, `-3`) is the first
        page, not the last (django-tables2 answers an empty page with the last one)."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if int(number) < 1:  # a whole number: Django's check read it as one already
                return 1
            raise

    def page(self, number):
        """Return page `number`; of a search's few matches, the page's rows read by id."""
        number = self.validate_number(number)  # counts, finding the matches
        if self.matches is None:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list[bottom:top]
        page = search.page_of(_queryset_of(self.object_list), self.matches[bottom:top])
        if isinstance(rows, QuerySet):
            rows = page
        else:  # django-tables2's rows: the sliced queryset is their data
            rows.data = page
        return self._get_page(rows, number, self)


# A whole table PostgreSQL estimates above this many rows is "more than COUNT_CAP" without
# counting: the estimate (pg_class.reltuples, kept by ANALYZE and autovacuum, which runs
# again after a tenth of the rows change) is off by far less than this margin. Read at
# most once a minute per table and process.
ESTIMATE_FLOOR = 2 * COUNT_CAP
ESTIMATE_SECONDS = 60
_estimates: dict[str, tuple[int, float]] = {}


def _is_whole_table(queryset: QuerySet) -> bool:
    """Whether a list's rows are its whole table: no filter, or only the one its model's
    manager says every list keeps (`current()`: a customer merged into another is never
    listed), which leaves out a few rows of the estimate's millions."""
    where = queryset.query.where
    if not where:
        return True
    current = getattr(queryset.model._default_manager, "current", None)
    return callable(current) and where == current().query.where


def _estimated_rows(model) -> int:
    """Return PostgreSQL's estimate of the model's table rows (-1 unknown, or not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return -1
    table = model._meta.db_table
    now = time.monotonic()
    kept = _estimates.get(table)
    if kept is None or now - kept[1] > ESTIMATE_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
            row = cursor.fetchone()
        # A row-count estimate (PostgreSQL keeps it as a real): whole rows are enough here.
        kept = (int(row[0]) if row and row[0] is not None else -1, now)
        _estimates[table] = kept
    return kept[0]


def _queryset_of(rows) -> QuerySet | None:
    """Return the queryset behind a django-tables2 table's rows (or the rows themselves),
    if a queryset is."""
    if isinstance(rows, QuerySet):
        return rows
    data = getattr(getattr(rows, "data", None), "data", None)
    return data if isinstance(data, QuerySet) else None


def render_page_or_fragment(
    request: HttpRequest,
    *,
    page_template: str,
    fragment_template: str,
    context: dict,
    url: Literal["push", "replace"] = "push",
) -> HttpResponse:
    """Render the page, or only its fragment for an HTMX request, keeping the URL shareable.

    `url="replace"` updates the address without a history entry per change (reports and
    forms that refresh as the user types). The answer varies on HX-Request, so a cache
    never serves the fragment for the page or the page for the fragment.
    """
    if not _wants_page(request):
        response = render(request, fragment_template, context)
        change_url = push_url if url == "push" else replace_url
        response = change_url(response, request.get_full_path())
    else:
        response = render(request, page_template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _wants_page(request: HttpRequest) -> bool:
    """Say whether to answer the whole page rather than the HTMX fragment."""
    # A history restore (back button with the page gone from htmx's cache) wants the page.
    return not request.htmx or request.htmx.history_restore_request


def render_list(
    request: HttpRequest,
    *,
    filterset: FilterSet,
    table_class: type[Table],
    page_template: str,
    results_template: str,
    per_page: int = LIST_PAGE_SIZE,
    extra_context: dict | None = None,
    export_name: str | None = None,
    count_cap: int | None = None,
    create_link: tuple[str, str] | None = None,
) -> HttpResponse:
    """Render a filtered, sorted, paginated table: the page, or its results for HTMX.

    `count_cap` counts at most that many rows instead of COUNT_CAP (see CappedPaginator).

    A table whose empty text speaks of a search («No hay clientes que coincidan con la
    búsqueda.») says, when nothing was searched or filtered, the table's own
    `nothing_yet_text` («No tiene gestiones abiertas. ¡Buen trabajo!») or «Aún no hay
    clientes.» followed by `create_link` (url, label) when given: the view passes it to
    whoever may create one. When a filter other than the search was used, the text says
    «…con la búsqueda o los filtros.»

    A query string with a value the filters cannot read (?status=bogus, a NUL in the
    search) lists no rows, as the form-based lists do: the filter form marks the value,
    and the table says to correct it. Its `?export=` answers the same page rather than a
    file of every row, which would look like the filtered list.

    With `export_name` (the file's name, e.g. "clientes") the results offer the filtered
    rows as CSV and XLSX, and `?export=` answers with the file instead of the page.
    """
    # django-filter's `qs` leaves out the fields it cannot read and applies the rest.
    is_valid = not filterset.is_bound or filterset.is_valid()
    table = table_class(filterset.qs if is_valid else filterset.queryset.none())
    if not is_valid:
        table.empty_text = _("Ninguna fila: corrija los filtros marcados.")
    elif _speaks_of_a_search(table):
        table.empty_text = _empty_text(table, filterset, create_link)
    file_format = export_format(request) if export_name and is_valid else None
    if file_format:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(request, table, filename=export_name, file_format=file_format)
    # A list pages by its own size: django-tables2 would also take ?per_page= from the
    # query string, where -1 breaks the paginator and 10**9 loads every row.
    table.per_page_field = "_per_page_not_from_the_query"
    if _wants_page(request):  # the HTMX fragment has no filter form
        cache_filter_choices(filterset)
    RequestConfig(
        request,
        paginate={"per_page": per_page, "paginator_class": CappedPaginator, "cap": count_cap},
    ).configure(table)
    context = {
        "filter": filterset,
        "table": table,
        "export_name": export_name,
        **(extra_context or {}),
    }
    return render_page_or_fragment(
        request, page_template=page_template, fragment_template=results_template, context=context
    )


# Words of an empty text that answers a search: «No hay … que coincidan con la búsqueda».
_SEARCH_WORDS = "coincid"


def _speaks_of_a_search(table: Table) -> bool:
    return _SEARCH_WORDS in str(table.empty_text or "")


# The end of an empty text that speaks of the search alone, and what it says instead when
# a filter was used: «Ningún crédito coincide con la búsqueda o los filtros.»
_ONLY_THE_SEARCH = "con la búsqueda."
_SEARCH_OR_FILTERS = "con la búsqueda o los filtros."


def _empty_text(table: Table, filterset: FilterSet, create_link: tuple[str, str] | None):
    """Return the empty text of a table whose text speaks of a search (see render_list)."""
    if not is_filtered(filterset):
        nothing_yet = getattr(table, "nothing_yet_text", None)
        return nothing_yet or _nothing_yet_text(table, filterset, create_link)
    text = str(table.empty_text)
    if text.endswith(_ONLY_THE_SEARCH) and is_filtered(filterset, search_too=False):
        return text.removesuffix(_ONLY_THE_SEARCH) + _SEARCH_OR_FILTERS
    return table.empty_text


def is_filtered(filterset: FilterSet, *, search_too: bool = True) -> bool:
    """Say whether the query string searches or filters the list (sorting and paging do
    not): only then may an empty list say that nothing matches. With `search_too=False`,
    whether a filter other than the search (`q`) has a value."""
    if not filterset.is_bound:
        return False
    form = filterset.form
    # By each field's widget, which knows its names in the query string (a range's two).
    return any(_has_value(form[name].data) for name in form.fields if search_too or name != "q")


def _has_value(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_has_value(item) for item in value)
    # An unticked checkbox reads as False: no filter.
    return value is not None and value is not False and value != ""


def _nothing_yet_text(
    table: Table, filterset: FilterSet, create_link: tuple[str, str] | None
) -> str:
    model = table._meta.model or filterset.queryset.model
    text = _("Aún no hay %(things)s.") % {"things": model._meta.verbose_name_plural}
    if create_link is None:
        return text
    url, label = create_link
    return format_html('{} <a href="{}" hx-boost="false">{}</a>', text, url, label)


# --- django-tables2's calls, without reading a signature per cell -------------------------
# django-tables2 calls each cell's `render_*`/`value_*` with the arguments its signature
# names, and reads that signature (inspect.signature) on every call: a third of an
# export's time (1.5 ms a row). A function's signature does not change: it is read once.
_signature_uncached = tables2_utils.signature


_signatures: dict[tuple[object, bool], tuple] = {}
_SIGNATURES_KEPT = 4096  # lambdas made per table would otherwise pile up


def _signature(fn):
    # A bound method is a new object at each access: its function and boundness are the key.
    key = (getattr(fn, "__func__", fn), hasattr(fn, "__self__"))
    try:
        return _signatures[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable
        return _signature_uncached(fn)
    if len(_signatures) >= _SIGNATURES_KEPT:
        _signatures.clear()
    found = _signatures[key] = _signature_uncached(fn)
    return found


tables2_utils.signature = _signature


# --- Export: the filtered rows of a list as CSV or XLSX -------------------------------
EXPORT_FORMATS = ("csv", "xlsx")
# Above this many rows an export is not written by the web worker: it is queued for a
# background worker (lib.exports). The web worker writes about 2,500-3,400 rows a second
# (payments to verify on the bench data, a loaded 2-core machine): 30,000 stay well inside
# gunicorn's 30 s, which cut off a 30,000-row CSV before the per-column getters (a
# truncated CSV looks complete).
EXPORT_MAX_ROWS = 30_000
# Above this many rows an export is refused, queued or not: a narrower filter gives a file
# people can open (about 6 minutes of a worker at the rate above).
EXPORT_MAX_ROWS_QUEUED = 1_000_000
_EXPORT_CHUNK = 2_000


def export_format(request: HttpRequest) -> str | None:
    """The export asked for by ?export=csv|xlsx, or None for the page."""
    value = request.GET.get("export", "")
    return value if value in EXPORT_FORMATS else None


def export_table(
    request: HttpRequest, table: Table, *, filename: str, file_format: str
) -> HttpResponse:
    """Every row of the filtered, sorted table (not only the page) as a CSV or XLSX file.

    Cells hold what the screen shows (django-tables2's `value_*` methods give the
    plain value where a cell is drawn by a template), numbers and dates as such. Text a
    spreadsheet would run as a formula is kept as text.

    Over EXPORT_MAX_ROWS rows the export is queued (lib.exports) and the list says so; a
    worker's rebuilt request (lib.exports.rebuild) has the file written into its target.
    """
    queryset = table.data.data  # filtered and in the order the user chose
    target = exports.target_of(request)
    # Counted only up to one past the limit: a COUNT(*) of 1,000,000 gestiones is not
    # needed to know they are too many.
    limit = EXPORT_MAX_ROWS if target is None else EXPORT_MAX_ROWS_QUEUED
    total = queryset[: limit + 1].count()
    if target is None and total > EXPORT_MAX_ROWS:
        return _queue_or_refuse(request, queryset, filename=filename, file_format=file_format)
    if total > limit:
        raise exports.Refused(_too_many_text(limit))
    columns = [
        column for column in table.columns.iterall() if not column.column.exclude_from_export
    ]
    header = [str(column.header) for column in columns]
    places = [_decimal_places(queryset, str(column.accessor)) for column in columns]
    cells = [
        _cell_getter(table, column, queryset.model, places=digits)
        for column, digits in zip(columns, places, strict=True)
    ]
    rows = (
        [cell(record) for cell in cells] for record in queryset.iterator(chunk_size=_EXPORT_CHUNK)
    )
    stamp = timezone.localdate().isoformat()
    logger.info(
        "export",
        extra={
            "user_id": request.user.pk,
            "list": filename,
            "rows": total,
            "format": file_format,
            "queued": target is not None,
        },
    )
    name = f"{filename}-{stamp}.{file_format}"
    if target is not None:
        target.total = total
        rows = target.counting(rows)
        if file_format == "csv":
            # The bytes the direct export streams (its response encodes each line as UTF-8).
            target.write(line.encode("utf-8") for line in _csv_lines(header, rows))
        else:
            target.write([_xlsx_bytes(header, rows, title=filename)])
        target.filename = name
        return HttpResponse(status=204)
    if file_format == "csv":
        response = StreamingHttpResponse(
            _csv_lines(header, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            _xlsx_bytes(header, rows, title=filename),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _queue_or_refuse(
    request: HttpRequest, queryset: QuerySet, *, filename: str, file_format: str
) -> HttpResponse:
    """Queue an export over EXPORT_MAX_ROWS (up to EXPORT_MAX_ROWS_QUEUED) and say so, or
    refuse it; either way back to the list with the same filters."""
    total = queryset[: EXPORT_MAX_ROWS_QUEUED + 1].count()
    if total <= EXPORT_MAX_ROWS_QUEUED and exports.can_queue():
        url = exports.queue(request, file_format=file_format, total=total, filename=filename)
        messages.success(
            request,
            format_html(
                _(
                    "La exportación de {} filas quedó en cola: la encontrará en "
                    '<a href="{}">Exportaciones</a>.'
                ),
                _thousands(total),
                url,
            ),
        )
    else:
        limit = EXPORT_MAX_ROWS_QUEUED if exports.can_queue() else EXPORT_MAX_ROWS
        messages.error(request, _too_many_text(limit))
    query = request.GET.copy()
    query.pop("export", None)
    return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")


def _too_many_text(limit: int) -> str:
    return _(
        "La lista tiene más de %(max)s filas y se exportan como máximo %(max)s: "
        "filtre la búsqueda y vuelva a exportar."
    ) % {"max": _thousands(limit)}


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


# --- One column's cells, worked out once per export ------------------------------------
# BoundRow.get_cell_value per cell cost ~1 ms a row (a BoundRow, the accessor walked
# through caught exceptions, choice labels through make_hashable and gettext): 30,000
# rows ran past gunicorn's 30 s and the CSV was cut off. `_cell_getter` gives the same
# cell with what does not change from row to row looked up before the first row.

# What django-tables2 offers a `value_*`/`render_*` method (BoundRow._optional_cell_arguments).
_CELL_ARGUMENTS = ("value", "record", "column", "bound_column", "bound_row", "table")


def _cell_getter(table: Table, bound_column, model, *, places: int | None):
    """The cell `BoundRow(record, table).get_cell_value(name)` then `_safe_cell` give."""
    accessor = tables2_utils.Accessor(bound_column.accessor)
    column = bound_column.column
    raw = _raw_value(accessor, model)
    value_of = bound_column.value
    # Column.value returns Column.render's value, which is the value itself.
    plain = getattr(value_of, "__func__", None) is Column.value and (
        getattr(column.render, "__func__", None) is Column.render
    )
    call = None if plain else _caller(value_of, table, bound_column)
    empty_values = column.empty_values
    many = isinstance(column, ManyToManyColumn)
    link_text = isinstance(column, BaseLinkColumn) and column.text is not None
    yes, no = _("Sí"), _("No")

    def cell(record):
        try:
            value = raw(record)
        except Exception:  # django-tables2 ignores it too (its issue #257)
            if link_text and call is not None:
                return _safe_cell(call(record, None), places=places, yes=yes, no=no)
            value = None
        if value in empty_values or (many and not value.exists()):
            return ""
        if call is not None:
            value = call(record, value)
        return _safe_cell(value, places=places, yes=yes, no=no)

    return cell


def _raw_value(accessor, model) -> Callable[[object], object]:
    """The record's value at `accessor`, or the label of a field with choices (what
    get_FOO_display gives), read from a dict of the labels made once."""
    path, _separator, remainder = accessor.rpartition(accessor.SEPARATOR)
    if not remainder:
        return lambda record: None
    resolve = _resolver(accessor)
    if not getattr(accessor.get_field(model), "choices", ()):
        return resolve
    to_owner = _resolver(tables2_utils.Accessor(path))
    display = f"get_{remainder}_display"
    labels_of: dict[type, tuple | None] = {}

    def raw(record):
        try:
            owner = to_owner(record)
        except Exception:  # penultimate(quiet=True)
            owner = None
        if not isinstance(owner, Model) or not getattr(owner, display, None):
            return resolve(record)
        kind = type(owner)
        if kind not in labels_of:
            labels_of[kind] = _choice_labels(kind, display)
        if labels_of[kind] is None:  # a get_FOO_display of the model's own
            return getattr(owner, display)()
        field, labels = labels_of[kind]
        value = getattr(owner, field.attname)
        try:
            return labels[value]
        except KeyError:
            return force_str(value, strings_only=True)
        except TypeError:  # unhashable
            return getattr(owner, display)()

    return raw


def _choice_labels(model: type, display: str) -> tuple | None:
    """The field Django's get_FOO_display reads, and its labels as Model._get_FIELD_display
    gives them; None if `display` is a method of the model's own."""
    method = inspect.getattr_static(model, display, None)
    if not (isinstance(method, partialmethod) and method.func is Model._get_FIELD_display):
        return None
    field = method.keywords["field"]
    labels = {
        key: force_str(label, strings_only=True)
        for key, label in dict(make_hashable(field.flatchoices)).items()
    }
    return field, labels


def _resolver(accessor) -> Callable[[object], object]:
    """Accessor.resolve (not quiet), without its exceptions caught on every model step."""
    bits = accessor.bits

    def resolve(record):
        current = record
        for bit in bits:
            if not isinstance(current, Model):
                return accessor.resolve(record)  # a dict, a list: the general way
            current = getattr(current, bit)
            if callable(current):
                return accessor.resolve(record)  # alters_data and the call: its way
            if current is None:
                break
        return current

    return resolve


def _caller(fn, table: Table, bound_column) -> Callable[[object, object], object]:
    """A `value_*`/`render_*`/Column.value call with the arguments its signature names, as
    django-tables2's call_with_appropriate makes it (None if it names one not offered)."""
    names, catch_all = _signature(fn)
    if catch_all:
        names = _CELL_ARGUMENTS
    elif any(name not in _CELL_ARGUMENTS for name in names):
        return lambda record, value: None
    if names == ("record",):
        return lambda record, value: fn(record=record)
    if names == ("value",):
        return lambda record, value: fn(value=value)
    if names == ("value", "record") or names == ("record", "value"):
        return lambda record, value: fn(value=value, record=record)
    column = bound_column.column

    def call(record, value):
        offered = {
            "value": value,
            "record": record,
            "column": column,
            "bound_column": bound_column,
            "table": table,
        }
        if "bound_row" in names:
            offered["bound_row"] = BoundRow(record, table=table)
        return fn(**{name: offered[name] for name in names})

    return call


def _decimal_places(queryset: QuerySet, accessor: str) -> int | None:
    """Return the decimal places of the column `accessor` reads, if it is a DecimalField
    of the rows or of their annotations (money: 2; a rate or a share may have more)."""
    annotation = queryset.query.annotations.get(accessor)
    if annotation is not None:
        field = annotation.output_field
    else:
        model, field = queryset.model, None
        for name in accessor.replace(".", "__").split("__"):
            if model is None:
                return None
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                return None
            model = field.related_model
    return field.decimal_places if isinstance(field, DecimalField) else None


def _safe_cell(value, *, places: int | None = None, yes: str = "", no: str = ""):
    """The cell as a number, a date or text (nothing becomes an empty cell); a decimal with
    its field's `places` (a sum read from SQLite may come as 3100.00000000000 or 107400)."""
    if isinstance(value, Decimal) and places is not None and value.is_finite():
        with contextlib.suppress(InvalidOperation):  # more digits than a Decimal keeps
            return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if isinstance(value, (int, float, Decimal, datetime.date)) and not isinstance(value, bool):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return (yes or _("Sí")) if value else (no or _("No"))
    return str(value)


def _csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """CSV with a BOM and semicolons, as Excel in Spanish opens it without a wizard."""

    class _Line:
        def write(self, text: str) -> str:
            return text

    writer = csv.writer(_Line(), delimiter=";")
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([_csv_text(cell) for cell in row])


def _csv_text(cell) -> str:
    if isinstance(cell, str):
        # A customer could type "=HYPERLINK(...)" into their name: written as text.
        return spreadsheets.csv_text(cell)
    if isinstance(cell, Decimal):
        # The decimal comma of a Spanish Excel; "f": never an exponent (Decimal("1E+2")).
        return format(cell, "f").replace(".", ",")
    if isinstance(cell, datetime.datetime):
        return (
            timezone.localtime(cell).strftime("%d/%m/%Y %H:%M")
            if timezone.is_aware(cell)
            else cell.strftime("%d/%m/%Y %H:%M")
        )
    if isinstance(cell, datetime.date):
        return cell.strftime("%d/%m/%Y")
    return str(cell)


def _xlsx_bytes(header: list[str], rows: Iterable[list], *, title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([_xlsx_cell(sheet, cell) for cell in header])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, cell):
    if isinstance(cell, str) and (
        cell.startswith("=")
        or len(cell) > spreadsheets.XLSX_CELL_CHARACTERS
        or spreadsheets.CONTROL_CHARACTERS.search(cell)
    ):
        # A name with \x01 made the whole export a 500; "=…" would be a formula.
        return spreadsheets.xlsx_text_cell(sheet, cell)
    if isinstance(cell, datetime.datetime) and timezone.is_aware(cell):
        # Excel has no time zones: the local wall-clock time, as on the screen.
        return timezone.localtime(cell).replace(tzinfo=None)
    return cell
