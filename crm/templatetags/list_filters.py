"""The options of a list's filter dropdown, written in Python: one tag instead of a loop.

The template loop compared each option with the chosen value through two filters per
option: with a hundred advisors, branches and channels that was the costliest part of a
list page's filter form.
"""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def select_options(field) -> SafeString:
    """Return `<option>`s for a bound select field, the chosen one marked `selected`."""
    chosen = str(field.value())
    return mark_safe("".join(_options(field.field.choices, chosen)))  # noqa: S308 - escaped


def _options(choices, chosen: str):
    for value, label in choices:
        if isinstance(label, list | tuple):  # a group: (group label, its choices)
            yield f'<optgroup label="{escape(value)}">'
            yield from _options(label, chosen)
            yield "</optgroup>"
            continue
        text = str(getattr(value, "value", value))  # a model choice's value is its pk
        selected = " selected" if text == chosen else ""
        yield f'<option value="{escape(text)}"{selected}>{escape(label)}</option>'


@register.filter
def typed(value) -> str:
    """Return what was typed in a search box as the box shows it again: without NUL
    characters, which no page should carry (the search refuses them and says so)."""
    return str(value or "").replace("\x00", "")
