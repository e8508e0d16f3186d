"""The Jinja2 environment of the lists' tables (templates under `jinja_templates/`).

Every page is a Django template; the tables of the busiest lists (customers, loans,
gestiones, the call-center queue) are Jinja2 templates that django-tables2's
`{% render_table %}` finds by name. At full size a Django template spent 6–15 ms writing a
list's 25 rows (each variable resolved, localized and escaped through several layers, each
`{% url %}` and date format ~30 µs); Jinja2 compiles a template to Python and writes the
same rows in a fraction of that, which is what brought those pages to half the speed of
a bare 50-row table (`make bench-web`).

The filters are the Django templates' own (crm/templatetags/formatting.py) under the same
names, plus what Django's built-ins do in these tables: `date`, `since` (timesince) and
`querystring` (django-tables2's querystring_replace). A row's links come ready from its
table's `records` (lib.links.pk_link: reversing a URL costs ~30 µs). Text is translated
with Django's gettext (`{{ _("Nuevo") }}`), and autoescape is on, as in Django templates.
"""

import datetime
import functools
from urllib.parse import urlencode

from django.utils import dateformat, formats, timezone
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import get_language, gettext, ngettext
from django_tables2.templatetags.django_tables2 import table_page_range
from jinja2 import Environment
from markupsafe import Markup

from crm import display
from crm.templatetags import formatting
from lib.kept import Kept


def environment(**options) -> Environment:
    options.setdefault("extensions", []).append("jinja2.ext.i18n")
    env = Environment(**options)  # noqa: S701 - the backend passes autoescape=True
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals.update(querystring=querystring, table_head=_table_head_writer(env))
    env.filters.update(
        money=formatting.money,
        # A timeline sentence's amounts as the 360 timeline writes them ("USD 5555.55" →
        # "US$ 5,555.55"): the conversation thread's bot and portal entries.
        amounts=functools.partial(display.amounts_in_text, on_screen=True),
        person=formatting.person,
        phone_national=formatting.phone_national,
        display=formatting.choice_display,
        date=date,
        since=since,
        table_page_range=table_page_range,
        evaluated=evaluated,
    )
    return env


def querystring(request, key: str, value) -> str:
    """Return "?…": the request's query string with `key` set to `value` (django-tables2's
    `{% querystring_replace key=value %}`: a sort or page link keeps the filters)."""
    params = dict(request.GET.lists())
    params[key] = [value]
    return "?" + urlencode(params, doseq=True)


# A list's headings, written once per table, order and query string in each process.
_heads: Kept[Markup] = Kept(1_000)


def _table_head_writer(env: Environment):
    def table_head(table, request) -> Markup:
        """Return the table's <thead> (partials/table_head.jinja): its labels, sort links
        and their asc/desc classes. They follow from the table's class and columns, its
        order and the query string, so a process writes them once for each: they cost
        ~0.5 ms a page (django-tables2 merges each column's attributes on every read),
        and a queue page left open asks for the same ones every few seconds."""
        key = (
            type(table),
            tuple(column.name for column in table.columns),  # the visible ones
            str(table.order_by),
            table.prefixed_order_by_field,
            request.GET.urlencode(),
            get_language(),
        )
        template = "partials/table_head.jinja"
        return _heads.get(
            key,
            lambda: Markup(env.get_template(template).render(table=table, request=request)),  # noqa: S704 - autoescaped
        )

    return table_head


def evaluated(lazy_html) -> Markup:
    """Return lazy HTML evaluated once: `{% set csrf = csrf_input|evaluated %}` before a
    loop (each evaluation of the backend's `csrf_input` masks the token anew)."""
    return Markup(str(lazy_html))  # noqa: S704 - Django's own escaped <input>


def date(value, format_name: str = "SHORT_DATETIME_FORMAT") -> str:
    """Write a date or datetime (in the local time zone) with a Django format name or
    format string, as Django's `date` filter does ("" for none)."""
    if not value:
        return ""
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        value = timezone.localtime(value)
    pattern = _strftime_pattern(formats.get_format(format_name))
    if pattern is None:  # month names and the like: Django writes them
        return dateformat.format(value, formats.get_format(format_name))
    return value.strftime(pattern)


# Django format characters that strftime writes the same way (numbers only, no names).
_STRFTIME = {"d": "%d", "m": "%m", "Y": "%Y", "y": "%y", "H": "%H", "i": "%M", "s": "%S"}


@functools.lru_cache(maxsize=64)
def _strftime_pattern(django_format: str) -> str | None:
    """Return the strftime pattern of a numeric Django format ("d/m/Y H:i" → "%d/%m/%Y
    %H:%M"), ~10× faster than Django's formatter; None when it has anything else."""
    pattern = []
    for char in django_format:
        if char in _STRFTIME:
            pattern.append(_STRFTIME[char])
        elif char.isalpha() or char in "\\%":
            return None
        else:
            pattern.append(char)
    return "".join(pattern)


class _Unit:
    """A `timesince` time string that writes its unit and count ("week=2"), not words."""

    def __init__(self, name: str):
        self.name = name

    def __mod__(self, values: dict) -> str:
        return f"{self.name}={values['num']}"


_UNITS = {name: _Unit(name) for name in TIME_STRINGS}
_since_words: Kept[str] = Kept(10_000)


def since(value, now=None) -> str:
    """Return how long ago `value` was ("3 horas, 5 minutos"), as Django's `timesince`.

    The queue writes it twice a row every few seconds, and Django's translated, lazy
    unit strings cost ~12 µs a call. Here Django's own arithmetic gives the units and
    counts ("month=1, week=2"), and their words are written once per process."""
    if not value:
        return ""
    if now is None:  # once, for both calls below
        now = _now(aware=timezone.is_aware(value))
    units = timesince(value, now, time_strings=_UNITS)
    return _since_words.get((units, get_language()), lambda: timesince(value, now))


def _now(*, aware: bool) -> datetime.datetime:
    """Return now as `timesince` takes it: aware for an aware time, naive for a naive one."""
    return datetime.datetime.now(datetime.UTC if aware else None)
