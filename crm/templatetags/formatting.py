"""Template filters for what every screen writes the same way: money, people, timeline entries.

{% load formatting %}
{{ gestion.amount_requested|money:gestion.currency }}   → S/ 1,234.50
{{ goal.target_usd|money:"USD" }}                       → US$ 10.00
{{ row.total|money }}                                   → 1,234.50 (the header names it)
{{ "PEN"|currency_symbol }}                             → S/
{{ gestion.agent|person }}                              → Andrea Quispe
{{ customer.phone_e164|phone_national }}                 → 987 654 321
{{ customer|display:"document_type" }}                  → DNI (as get_document_type_display)
"""

from typing import Any

from django import template

from crm import display, timeline
from lib import people

register = template.Library()


@register.filter
def money(value: Any, currency: str | None = None) -> str:
    """Write an amount as money in `currency` ("" for no amount)."""
    return display.money_text(value, currency)


@register.filter
def currency_symbol(currency: str | None) -> str:
    return display.currency_symbol(currency)


@register.filter
def phone_national(stored: Any) -> str:
    """Write a phone as the country does ("" for none); takes the stored E.164 text."""
    return display.phone_national(str(stored or ""))


@register.filter(name="display")
def choice_display(instance: Any, field_name: str) -> str:
    """Write a choice field's label, as `get_<field>_display` does at a fraction of its cost."""
    return display.choice_label(instance, field_name)


@register.filter
def person(user: Any) -> str:
    """Write a user by full name (the username only when there is none)."""
    return people.display_name(user)


@register.filter
def timeline_entry(interaction: Any) -> timeline.Entry:
    """Return the sentence and readable details of a timeline entry."""
    return timeline.entry(interaction)
