"""Reads of the settings history, and the kinds of setting it shows.

A kind is a code, the label people read and the models ("app_label.model") whose history
it gathers. The app that owns the models registers them (its admin module, loaded at
start-up with the admin): the core names none of the apps above it.
"""

import datetime
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib.registry import Registry

# The permission that opens the page (the Supervisor role has it, and every admin).
PERMISSION = "admin.view_logentry"


@dataclass(frozen=True)
class SettingKind:
    label: object
    models: tuple[str, ...]


_kinds: Registry[SettingKind] = Registry("A setting kind")


def register_setting_kind(code: str, label: object, *models: str) -> None:
    """Show the history of `models` ("app_label.model") under `label` (a lazy translation)."""
    _kinds.register(code, SettingKind(label=label, models=tuple(m.lower() for m in models)))


def unregister_setting_kind(code: str) -> None:
    """Forget the kind `code` (for tests)."""
    _kinds.unregister(code)


def kinds() -> list[tuple[str, str]]:
    """Return the registered kinds as (code, label) pairs, by label."""
    return sorted(((code, str(_kinds.get(code).label)) for code in _kinds.names()), key=_second)


def _second(pair: tuple[str, str]) -> str:
    return pair[1]


def _content_types(codes: list[str]) -> dict[int, str]:
    """Return {content type id: kind label} of the kinds `codes` (cached by Django)."""
    found = {}
    for code in codes:
        kind = _kinds.get(code)
        for dotted in kind.models:
            app_label, model = dotted.split(".")
            try:
                content_type = ContentType.objects.get_by_natural_key(app_label, model)
            except ContentType.DoesNotExist:  # an app not installed here
                continue
            found[content_type.pk] = str(kind.label)
    return found


def kind_labels() -> dict[int, str]:
    """Return {content type id: kind label} of every registered kind."""
    return _content_types(list(_kinds.names()))


def history(
    *,
    kind: str = "",
    person: int | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    q: str = "",
) -> QuerySet[LogEntry]:
    """Return the history of the settings, newest first: of one kind, by one person, between
    two days (inclusive, local time) and whose message or object has `q`, when given."""
    codes = [kind] if kind else list(_kinds.names())
    entries = (
        LogEntry.objects.filter(content_type__in=list(_content_types(codes)))
        .select_related("user")
        .order_by("-action_time", "-pk")
    )
    if person:
        entries = entries.filter(user_id=person)
    if since:
        entries = entries.filter(action_time__gte=_start_of(since))
    if until:
        entries = entries.filter(action_time__lt=_start_of(until + datetime.timedelta(days=1)))
    if q:
        # Changes of configuration by hand: a few a day, a plain scan is cheap.
        entries = entries.filter(change_message__icontains=q) | entries.filter(
            object_repr__icontains=q
        )
    return entries


def people() -> QuerySet[AbstractBaseUser]:
    """Return the people who changed a setting, by name."""
    ids = LogEntry.objects.filter(content_type__in=list(kind_labels())).values("user_id")
    return get_user_model().objects.filter(pk__in=ids).order_by("first_name", "last_name", "pk")


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


ACTIONS = {1: _("Creado"), 2: _("Modificado"), 3: _("Eliminado")}


# The core's own settings.
register_setting_kind("politica", _("Política de mensajes"), "crm.messagepolicy")
register_setting_kind(
    "catalogos",
    _("Sucursales, canales, productos y etiquetas"),
    "crm.branch",
    "crm.channel",
    "crm.product",
    "crm.tag",
)
