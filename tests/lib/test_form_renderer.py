"""The form renderer writes Django's widgets with its Jinja2 templates, the same markup as
its Django templates, and leaves other widgets (the admin's) to the Django templates."""

from django import forms
from django.forms import renderers
from django.template.backends.django import Template as DjangoTemplate
from django.template.backends.jinja2 import Template as Jinja2Template
from pytest_django.asserts import assertHTMLEqual

from lib.form_renderer import FormRenderer


class EveryWidget(forms.Form):
    name = forms.CharField(max_length=20, initial="Rosa")
    amount = forms.DecimalField(initial="1234.50")
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(choices=[("a", "Uno"), ("b", "Dos <b>")], initial="b")
    many = forms.MultipleChoiceField(
        choices=[("x", "Equis"), ("y", "Ye")], widget=forms.CheckboxSelectMultiple, initial=["y"]
    )
    agreed = forms.BooleanField(required=False)
    notes = forms.CharField(widget=forms.Textarea, initial="<script>")
    secret = forms.CharField(widget=forms.HiddenInput, initial="s")


def test_the_builtin_widgets_come_from_jinja2_and_the_admins_from_django_templates():
    renderer = FormRenderer()

    assert isinstance(renderer.get_template("django/forms/widgets/select.html"), Jinja2Template)
    assert isinstance(
        renderer.get_template("admin/widgets/related_widget_wrapper.html"), DjangoTemplate
    )


def test_a_form_is_written_as_the_django_templates_write_it():
    bound = EveryWidget({"name": "", "kind": "z", "many": ["x"], "notes": "<b>hola</b>"})
    for form in (EveryWidget(), bound):
        form.is_valid()
        with_jinja2 = form.render(renderer=FormRenderer())
        with_django = form.render(renderer=renderers.DjangoTemplates())
        assertHTMLEqual(with_jinja2, with_django)
        assert "<script>" not in with_jinja2 and "<b>hola</b>" not in with_jinja2
