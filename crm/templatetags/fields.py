"""A form field's widget with Bootstrap's classes: what crispy-forms adds, without its cost.

{% load fields %}
{{ form.document_number|bootstrap_widget }}  → <input … class="textinput form-control">

crispy's `as_crispy_field` renders a stack of templates per field (~0.6 ms each); a page
with a dozen fields spent more on them than on everything else. The markup around the
widget is written by the page's own field partial (partials/form_field.html).
"""

from django import forms, template

register = template.Library()


@register.filter
def bootstrap_widget(field: forms.BoundField) -> str:
    """Render the field's widget with the classes crispy's bootstrap5 pack gives it."""
    widget = field.field.widget
    if isinstance(widget, forms.Select):
        css = "select form-select"
    elif isinstance(widget, forms.CheckboxInput):
        css = "checkboxinput form-check-input"
    else:
        css = f"{type(widget).__name__.lower()} form-control"
    attrs = {"class": css}
    if field.errors:
        attrs["class"] += " is-invalid"
        described = [f"{field.auto_id}_helptext"] if field.help_text else []
        attrs["aria-describedby"] = " ".join([*described, f"{field.auto_id}_error"])
    return field.as_widget(attrs=attrs)
