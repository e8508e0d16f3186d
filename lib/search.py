"""Text normalization for the customer search: lower case, no accents, digits joined."""

import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, connections
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy, RawSQL
from django.utils.translation import gettext_lazy as _
from django_filters import CharFilter, FilterSet

from lib.rows import int_array

# A list's search box takes at most this many characters, as the form-based lists' do, and
# a search uses at most MAX_TERMS of its words: each word is one more LIKE (some searches
# three), and SQLite refuses a query of ~1,000 of them ("Expression tree is too large") or
# a pattern of 50 kB, after seconds of building it.
SEARCH_CHARS = 100
MAX_TERMS = 10


def ascii_digits(text: str) -> str:
    """Return `text` with its decimal digits and full-width characters written in ASCII.

    What a phone's keyboard or an input method may send for "45871236": "４５８７１２３６"
    (full width) or "٤٥٨٧١٢٣٦" (Arabic-Indic). Python's `\\d` and `isdigit()` take them
    for digits, so unconverted they would be stored as a document no one can find.
    Other characters, superscripts included, stay as they are (and fail the checks).
    """
    if text.isascii():
        return text
    # Most text that is not ASCII is a name with accents: only the rare hits call Python.
    return _NOT_ASCII_DIGITS.sub(_ascii_char, text)


# A decimal digit other than 0-9, or the full-width form of an ASCII character.
_NOT_ASCII_DIGITS = re.compile(r"(?![0-9])\d|[\uff01-\uff5e]")


def digits_of(text: str) -> str:
    """Return the digits of `text` as 0-9 only: a phone as typed ("+51 ９８７-654 321") to
    dial or compare. Other scripts' digits are converted (ascii_digits); superscripts and
    everything else are left out."""
    return "".join(ch for ch in ascii_digits(text) if "0" <= ch <= "9")


def _ascii_char(match: re.Match) -> str:
    char = match.group()
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    return chr(ord(char) - 0xFEE0)  # full-width ASCII: "Ａ" → "A", "１" → "1"


def normalize(text: str) -> str:
    """Return `text` lower-cased and without accents ("Huamán" → "huaman")."""
    decomposed = unicodedata.normalize("NFKD", ascii_digits(text or ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def terms(text: str) -> list[str]:
    """Split what a user typed into search terms.

    A phone or document typed with spaces, dashes or a leading + ("+51 987-654 321") is
    one term of digits; anything else is split on spaces, each word once, the first
    MAX_TERMS of them (a longer search finds what its first ten words find).
    """
    text = normalize(text)
    if not text:
        return []
    if re.fullmatch(r"[\d\s\-+().]+", text):
        digits = re.sub(r"\D", "", text)
        return [digits] if digits else []
    return list(dict.fromkeys(text.split()))[:MAX_TERMS]


def matches_all(text: str, field: str = "search_text") -> Q:
    """Return the condition "every term of `text` is in `field`" (an empty Q for no terms).

    `field` holds text normalized like `normalize` does: the models' `search_text`.
    """
    condition = Q()
    for term in terms(text):
        condition &= Q(**{f"{field}__contains": term})
    return condition


# Up to this many matches, a list pages its search's matches by id (see `narrowed`).
FEW_MATCHES = 500


@dataclass
class _Probe:
    """A search waiting for its list's order: `narrowed` sets it, `matches` runs it."""

    condition: tuple  # the WHERE children `narrowed` added: the search
    conditions: tuple[int, bool]  # the WHERE's shape after it (see `_conditions`)
    ids: list[int] | None = None
    ran_for: tuple | None = None  # the order `ids` are in


def narrowed(queryset: QuerySet, condition: Q) -> QuerySet:
    """Return `queryset` restricted to its rows that meet `condition` (a search).

    Read as it is, the search is one more condition of the list's query. A list does
    better (`lib.lists.CappedPaginator`): once its order is known it calls `matches`,
    which runs the search once, over the list's every other filter (a FilterSet applies
    its search last, see `SearchLastFilterSet`), and sorts up to FEW_MATCHES matches in
    the database in the list's order. Their number is the count, and the page reads its
    own rows by id (`page_of`). A trigram search costs 1–4 ms at 150,000 customers; as
    one query with the list's order and page, PostgreSQL may walk the order's index
    testing every row to find a rare match, and reading every match to sort them again
    for the page cost ~1 ms more. With more matches than a few, the list counts and pages
    the query as it is (the matches are not rare).
    """
    before = len(queryset.query.where.children)
    found = queryset.filter(condition)
    found.query.search_probe = _Probe(
        condition=tuple(found.query.where.children[before:]),
        conditions=_conditions(found.query),
    )
    return found


def matches(queryset: QuerySet) -> list[int] | None:
    """Return the ids of the rows of `queryset` (a `narrowed` one), in its order (one
    query, run once per order), or None: more than FEW_MATCHES, an order this cannot
    write, or a filter added after the search (the queryset is then read as it is)."""
    probe = _probe_of(queryset)
    if probe is None:
        return None
    order = _order_of(queryset.query)
    if order is None:
        return None
    if probe.ran_for != order:
        probe.ids, probe.ran_for = _sorted_matches(queryset, order), order
    return probe.ids


def page_of(queryset: QuerySet, ids: list[int]) -> QuerySet:
    """Return `queryset` (a `narrowed` one, unsliced) as the rows `ids`: the search's
    condition replaced by those ids, everything else (order, columns, joins) kept."""
    searched = _probe_of(queryset).condition
    page = queryset.all()
    page.query.search_probe = None
    children = page.query.where.children
    children[:] = [child for child in children if all(child is not c for c in searched)]
    return page.filter(_equals_any("pk", ids)) if ids else page.none()


def _equals_any(field: str, ids: list[int]) -> Q:
    """Return "`field` is one of `ids`": on PostgreSQL `field = ANY('{1,2,3}'::bigint[])`.

    One array parameter, written as a literal: psycopg parses a statement with many
    placeholders on every run, and adapting a list of ints costs ~1 µs each. "pk =
    ANY(array)" reads the rows in one index scan, where "pk IN (SELECT unnest(array))"
    joined them one by one.
    """
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": ids})
    return Q(_EqualsAny(F(field), RawSQL("%s::bigint[]", (int_array(ids),))))


class _EqualsAny(Func):
    """`value = ANY(array)` (Django's lookups write the right side in parentheses)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def _probe_of(queryset: QuerySet) -> _Probe | None:
    probe = getattr(queryset.query, "search_probe", None)
    if probe is None or probe.conditions != _conditions(queryset.query):
        return None
    return probe


def _order_of(query) -> tuple[tuple[str, bool, str], ...] | None:
    """Return the query's order as (field, descending, where its NULLs go) triples, the
    primary key last (a tie-breaker), or None if it orders by something other than field
    names, signed ("-name") or as `F(name).desc(nulls_last=True)`."""
    names = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
    if query.extra_order_by:
        return None
    order = []
    for name in names:
        nulls = ""
        if isinstance(name, OrderBy) and type(name.expression) is F:
            descending = name.descending
            nulls = " NULLS FIRST" if name.nulls_first else " NULLS LAST" if name.nulls_last else ""
            name = name.expression.name
        elif isinstance(name, str):
            descending = name.startswith("-")
            name = name.lstrip("-")
        else:
            return None
        if not _is_column(query, name):
            return None
        order.append((name, descending, nulls))
    if not any(name in ("pk", query.get_meta().pk.name) for name, _d, _n in order):
        order.append(("pk", False, ""))
    return tuple(order)


def _is_column(query, name: str) -> bool:
    """Say whether ordering by `name` orders by one value: an annotation, or a field that
    is not a relation (Django orders by a relation's own ordering, "?" is random)."""
    if name in query.annotations:
        return True
    *path, last = name.split(LOOKUP_SEP)
    meta = query.get_meta()
    try:
        for part in path:
            field = meta.get_field(part)
            if not field.is_relation:
                return False
            meta = field.related_model._meta
        if last == "pk":
            return True
        field = meta.get_field(last)
    except FieldDoesNotExist:
        return False
    return not field.is_relation or last == field.attname != field.name


def _sorted_matches(queryset: QuerySet, order) -> list[int] | None:
    """Run the search: at most FEW_MATCHES + 1 matches, then sort them in `order`."""
    # The inner query selects the id and the order's columns (the id once: a column named
    # twice is ambiguous), unsorted, and stops at FEW_MATCHES + 1 matches; the outer one
    # sorts them by their positions, so no column needs a name of ours.
    primary_key = ("pk", queryset.model._meta.pk.name)
    names = ["pk"] + [name for name, _d, _n in order if name not in primary_key]
    position = {name: index for index, name in enumerate(names, start=1)}
    first = queryset.order_by().values_list(*names)
    sql, params = first[: FEW_MATCHES + 1].query.sql_with_params()
    sort = ", ".join(
        f"{position.get(name, 1)} {'DESC' if descending else 'ASC'}{nulls}"
        for name, descending, nulls in order
    )
    with connections[first.db].cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) AS search_matches ORDER BY {sort}", params)  # noqa: S608
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= FEW_MATCHES else None


def _conditions(query) -> tuple[int, bool]:
    # A filter added to a query adds a child to its WHERE (an AND): what changed is seen
    # by the number of children, without compiling the query.
    return len(query.where.children), query.where.negated


def in_small_table(rows: QuerySet, text: str, *fields: str) -> QuerySet:
    """Keep the `rows` one of whose `fields` holds what was typed, accents and case aside.

    For tables of tens of rows (segments, templates, campaigns, surveys…): their texts are
    read and compared in Python (one query), since neither database's LIKE ignores accents
    and SQLite's folds the case of ASCII only; the rows keep their order and pagination.
    """
    wanted = normalize(text)
    if not wanted:
        return rows
    found = [
        pk
        for pk, *texts in rows.model._default_manager.values_list("pk", *fields)
        if any(wanted in normalize(value or "") for value in texts)
    ]
    return rows.filter(pk__in=found)


class SearchFilter(CharFilter):
    """A list's search box (`q`) in its FilterSet: at most SEARCH_CHARS characters.

    A longer search is the field's error, shown next to the box (the form-based lists'
    `q`, collections_app.screens.ListFilterForm, says the same), and the list shows no
    rows (lib.lists.render_list); the box's `maxlength` keeps a person from typing it.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Buscar"))
        kwargs.setdefault("max_length", SEARCH_CHARS)
        kwargs.setdefault(
            "error_messages",
            {"max_length": _("Escriba como máximo %(limit_value)d caracteres para buscar.")},
        )
        super().__init__(*args, **kwargs)


class SearchLastFilterSet(FilterSet):
    """A FilterSet that applies its search (`q`) after every other filter.

    The search's probe then sees the list's whole filter (see `narrowed`), so the
    count of a few matches needs no query.
    """

    def get_form_class(self):
        """Return the filter form's class, built once per FilterSet class.

        django-filter builds a new class, with a new field per filter, on every request
        (~0.25 ms of the customer list's ~11). A form copies its class's fields, and a
        model choice field its queryset (`.all()`), so nothing one request does reaches the
        next. A FilterSet whose filters may differ per request keeps a class per request:
        one with a filter whose choices come from the request (a callable `queryset`), or
        with its own `__init__` (which may set choices or drop filters, as the call queue's
        and the goals' lists do).
        """
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            if cls.__init__ is SearchLastFilterSet.__init__ and not any(
                callable(getattr(f, "queryset", None)) for f in self.filters.values()
            ):
                cls._form_class = form_class
        return form_class

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        cleaned = self.form.cleaned_data
        for name in sorted(cleaned, key=lambda name: name == "q"):
            queryset = self.filters[name].filter(queryset, cleaned[name])
        return queryset
