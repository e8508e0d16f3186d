"""Input of the conversations inbox: the list's filters (a query string), and what an agent
does with a conversation (reply, assign, label)."""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from collections_app import forms as collection_forms
from collections_app.conversations import selectors, services
from collections_app.models import ConversationLabel, MessageTemplate
from crm.forms import PersonChoiceField, ServiceErrorsMixin
from crm.models import Message
from lib import lists

PORTFOLIO_CHOICES = [
    (selectors.ALL_PORTFOLIOS, _("Todo")),
    (selectors.CURRENT, _("Vigente")),
    (selectors.WRITTEN_OFF, _("Castigada")),
]
UNREAD_ONLY = "1"


class ConversationFilterForm(collection_forms.DateRangeFields, collection_forms.ListFilterForm):
    """The inbox's query string. Without a portfolio it shows the current one (*Vigente*),
    as the seed asks, and the form says so: its radio is the one checked."""

    portfolio = forms.ChoiceField(
        label=_("Tipo de cartera"),
        required=False,
        choices=PORTFOLIO_CHOICES,
        error_messages={"invalid_choice": _("Elija Todo, Vigente o Castigada.")},
    )
    channel = forms.ChoiceField(
        label=_("Canal"),
        required=False,
        choices=[("", _("Todos los canales")), *Message.Channel.choices],
    )
    agent = forms.ChoiceField(label=_("Agente"), required=False)
    label = forms.ModelChoiceField(
        label=_("Etiqueta"),
        required=False,
        queryset=ConversationLabel.objects.all(),
        empty_label=_("Todas las etiquetas"),
        error_messages={"invalid_choice": _("Esa etiqueta ya no existe.")},
    )
    unread = forms.ChoiceField(
        label=_("Leídas"),
        required=False,
        choices=[("", _("Todas")), (UNREAD_ONLY, _("Solo sin leer"))],
    )
    since = forms.DateField(
        label=_("Último mensaje desde"),
        required=False,
        widget=forms.DateInput(**collection_forms.DATE_WIDGET),
    )
    until = forms.DateField(
        label=_("Último mensaje hasta"),
        required=False,
        widget=forms.DateInput(**collection_forms.DATE_WIDGET),
    )

    field_order = ["portfolio", "channel", "agent", "label", "unread", "since", "until", "q"]

    def __init__(self, data=None, *args: Any, **kwargs: Any) -> None:
        if data is not None and not data.get("portfolio"):
            data = data.copy()
            data["portfolio"] = selectors.CURRENT
        super().__init__(data, *args, **kwargs)
        # The agents and labels from the cache (lib.lists), not two queries a page view.
        agents = lists.cached_choices(
            "collections.conversation_agents",
            selectors.agent_choices,
            watch=[get_user_model()],
        )
        marker = next(
            (n for n, (value, _label) in enumerate(agents) if value == selectors.HELD_BY_FORMER),
            len(agents),
        )
        current, held_by_former, former = (
            agents[:marker],
            agents[marker : marker + 1],
            agents[marker + 1 :],
        )
        self.former = dict(former)
        self.fields["agent"].choices = [
            ("", _("Todos los agentes")),
            (selectors.MINE, _("Mis conversaciones")),
            (selectors.UNASSIGNED, _("Sin asignar")),
            *held_by_former,
            *current,
            *([(_("Ya no atienden conversaciones"), former)] if former else []),
        ]
        lists.cache_model_choices(self.fields["label"], "collections.conversation_labels")

    def chosen_person(self) -> int | None:
        """Return the id of the one person the valid filter shows the conversations of."""
        if not self.is_valid():
            return None
        agent = self.cleaned_data["agent"]
        return int(agent) if agent.isdigit() else None

    def filters(self) -> dict[str, Any] | None:
        filters = super().filters()
        if filters is None:
            return None
        filters["portfolio"] = filters["portfolio"] or selectors.CURRENT
        filters["unread"] = filters["unread"] == UNREAD_ONLY
        return filters


class ReplyForm(ServiceErrorsMixin, forms.Form):
    """An agent's answer: the channel, the text (and subject for an e-mail), or a WhatsApp
    template when the 24 hours are over."""

    channel = forms.ChoiceField(
        label=_("Canal"),
        error_messages={
            "required": _("Elija el canal."),
            "invalid_choice": _("El cliente no tiene dirección en ese canal."),
        },
    )
    subject = forms.CharField(
        label=_("Asunto (correo)"),
        required=False,
        max_length=services.SUBJECT_CHARS,
        error_messages={
            "max_length": _("Escriba un asunto de %(limit_value)d caracteres o menos.")
        },
    )
    body = forms.CharField(
        label=_("Mensaje"),
        required=False,
        max_length=services.REPLY_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": _("Escriba como máximo %(limit_value)d caracteres.")},
    )
    template = forms.ModelChoiceField(
        label=_("Plantilla de WhatsApp"),
        required=False,
        queryset=MessageTemplate.objects.filter(
            channel=MessageTemplate.Channel.WHATSAPP, is_active=True
        ),
        empty_label=_("Sin plantilla (texto libre)"),
        error_messages={"invalid_choice": _("Esa plantilla ya no está activa.")},
    )

    def __init__(self, *args: Any, channels: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channels

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            not cleaned.get("template")
            and not (cleaned.get("body") or "").strip()
            and "body" not in self.errors  # too long: that is what is wrong, not "empty"
            and "template" not in self.errors  # a template was chosen, just not a valid one
        ):
            self.add_error("body", _("Escriba el mensaje."))
        return cleaned


class SelectWithShownOnly(forms.Select):
    """A select some of whose options are shown but cannot be chosen (`shown_only`)."""

    shown_only: frozenset[str] = frozenset()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(getattr(value, "value", value)) in self.shown_only:
            option["attrs"]["disabled"] = True
        return option


class AssignForm(ServiceErrorsMixin, forms.Form):
    agent = PersonChoiceField(
        label=_("Asignada a"),
        required=False,
        queryset=selectors.assignable_agents(),
        empty_label=_("Sin asignar"),
        widget=SelectWithShownOnly,
        error_messages={"invalid_choice": _("Esa persona no atiende conversaciones.")},
    )

    def show_holder(self, pk: int, label: str) -> None:
        """Show who holds the conversation although they may no longer be given one: their
        option, chosen and disabled (a posted id of theirs is still refused)."""
        widget = self.fields["agent"].widget
        choices = list(widget.choices)
        widget.choices = [*choices[:1], (pk, label), *choices[1:]]
        widget.shown_only = frozenset({str(pk)})


class ReassignForm(ServiceErrorsMixin, forms.Form):
    """To whom the conversations the inbox shows go (conversation_reassign), and how many
    the page said they were (`expected`), so the result can say when that changed."""

    agent = PersonChoiceField(
        label=_("Reasignar a"),
        queryset=selectors.assignable_agents(),
        empty_label=_("Elija a quién"),
        error_messages={
            "required": _("Elija a quién reasignarlas."),
            "invalid_choice": _("Esa persona no atiende conversaciones."),
        },
    )
    expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)


class LabelsForm(ServiceErrorsMixin, forms.Form):
    labels = forms.ModelMultipleChoiceField(
        label=_("Etiquetas"),
        required=False,
        queryset=ConversationLabel.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": _("Una de las etiquetas ya no existe."),
            "invalid_pk_value": _("Una de las etiquetas ya no existe."),
        },
    )


class ThreadForm(forms.Form):
    """Where "ver anteriores" resumes the thread; a cursor that is not one is refused."""

    antes = forms.CharField(required=False, max_length=60)

    def cursor(self) -> selectors.Cursor | None:
        if not self.is_valid():
            return None
        return selectors.Cursor.parse(self.cleaned_data["antes"])
