"""The form renderer: Django's form widgets written by its Jinja2 templates, anything else
(the admin's widgets, a package's) by the Django templates, as before.

Django ships every built-in widget, form and error-list template twice, with the same
markup: as Django templates (django/forms/templates) and as Jinja2 templates
(django/forms/jinja2). The Django ones cost ~0.5 ms a widget (a select includes a template
per option): a conversation's page spent a sixth of its time on its five widgets. The admin
writes its own widgets (`admin/widgets/…`) only as Django templates, so a name the Jinja2
engine does not have goes to Django's own renderer.
"""

from django.forms import renderers
from django.template import TemplateDoesNotExist


class FormRenderer(renderers.BaseRenderer):
    """settings.FORM_RENDERER: Django's Jinja2 widget templates first, then its Django ones."""

    def __init__(self) -> None:
        self.jinja2 = renderers.Jinja2()
        self.django = renderers.DjangoTemplates()

    def get_template(self, template_name: str):
        try:
            return self.jinja2.get_template(template_name)
        except TemplateDoesNotExist:
            return self.django.get_template(template_name)
