"""Whether a page shows a form it refused, for the layouts' <title> (WCAG 3.3.1).

{% load page_errors %}{% form_errors_shown as has_form_errors %}
{% if has_form_errors %}<meta name="form-errors" content="shown">{% endif %}
<title>{% filter error_title:has_form_errors %}{% block title %}…{% endblock %}{% endfilter %}
</title>

A screen reader reads the title first: after a refused form it says «Error: …», and the
page's script (static/js/app.js, static/js/error_summary.js on the portals) moves the focus
to what went wrong. Decided here, for every page, from the forms in the context: a view or
a page template need not say it (each named its forms its own way: form, follow_up_form,
reject_form).
"""

from django import forms, template
from django.utils.translation import gettext

register = template.Library()


def _refused(value: object) -> bool:
    # type(), not isinstance(): isinstance reads a lazy object's __class__, which evaluates
    # it (the context's user, its CSP nonce), for nothing.
    kind = type(value)
    if issubclass(kind, forms.BaseForm):
        return value.is_bound and bool(value.errors)
    if issubclass(kind, forms.BaseFormSet):
        return value.is_bound and value.total_error_count() > 0
    return False


@register.simple_tag(takes_context=True)
def form_errors_shown(context: template.Context) -> bool:
    """Return whether a form in the page's context was sent and refused."""
    return any(_refused(value) for value in context.flatten().values())


@register.filter(is_safe=True)
def error_title(title: str, has_errors: bool) -> str:
    """Begin the title with «Error: » when the page shows a refused form (once: a page may
    say it itself)."""
    prefix = gettext("Error:")
    text = str(title).strip()
    if not has_errors or text.startswith(prefix):
        return text
    return f"{prefix} {text}"
