"""Django admin pieces that know no domain."""

from collections.abc import Iterable

from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import capfirst

from lib.lookups import whole_number


class WholeNumberAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete for a foreign key to an integer id, that draws a form posted
    back with anything else ("²", "abc", 5,000 nines) as nothing chosen.

    Django's own looks the posted text up as an id to draw the form with its errors, and
    fails there (ValueError: a server error instead of the form's message).
    """

    def optgroups(self, name, value, attr=None):
        whole = [v for v in value if whole_number(str(v)) is not None]
        return super().optgroups(name, whole, attr)


class WholeNumberAutocompleteMixin:
    """For a ModelAdmin or inline whose `autocomplete_fields` are foreign keys to integer
    ids: their widget is WholeNumberAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = WholeNumberAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def some_rows(
    model: type[models.Model],
    rows: Iterable[models.Model],
    columns: tuple[str, ...],
    *,
    empty: str,
    caption: str,
    changelist: str,
    query: dict,
    link: str,
) -> str:
    """Return a parent's page's few rows of a related model and a link to all of them.

    `rows` as an HTML table of `columns` (each value shown as admin shows its field, line
    breaks kept), under `caption` and a link `link` to the admin list `changelist` filtered
    by `query`: an inline listed every row (360 installments made a 1 MB page).
    """
    fields = [model._meta.get_field(name) for name in columns]

    def cells(row) -> str:
        return format_html_join(
            "",
            "<td>{}</td>",
            ((linebreaksbr(display_for_field(getattr(row, f.name), f, empty)),) for f in fields),
        )

    table = format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<th>{}</th>", ((capfirst(f.verbose_name),) for f in fields)),
        format_html_join("", "<tr>{}</tr>", ((cells(row),) for row in rows)),
    )
    url = f"{reverse(changelist)}?{urlencode(query)}"
    return format_html('<p>{} <a href="{}">{}</a></p>{}', caption, url, link, table)


def blanked_by_deleting(obj: models.Model) -> list[str]:
    """Name, in plural, what deleting `obj` would leave pointing at nobody: the rows of
    relations that SET_NULL to it, and the admin's log of it («clientes», …), one EXISTS each.

    Such a record stands for who did something (a person, an API client): deleted, the
    history it is named in would read as done by nobody.
    """
    traces = []
    for relation in obj._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and relation.one_to_many):
            continue
        model = relation.related_model
        if relation.on_delete is not models.SET_NULL and model._meta.label != "admin.LogEntry":
            continue
        if model._base_manager.filter(**{relation.field.name: obj}).exists():
            traces.append(str(model._meta.verbose_name_plural))
    return traces


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (a timeline, an audit, an outbox): visible in admin,
    never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
