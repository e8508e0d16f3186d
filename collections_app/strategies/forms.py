"""Input of the Segmentación, Plantillas and Eventos screens: the lists' filters, a segment's
rules, a template, the preview's customer, the events settings and the message policy."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import EventSetting, MessageTemplate, Portfolio, Segment
from collections_app.screens import (  # noqa: F401 (the strategy screens read them here)
    CONFIRM_FIELD,
    SEARCH_CHARS,
    ListFilterForm,
    is_confirmed,
)
from collections_app.strategies import events, segments, templating
from credits.models import Bucket, LoanProduct
from crm import forms as crm_forms
from crm.forms import ServiceErrorsMixin
from crm.models import MessagePolicy, Tag
from lib import fields as lib_fields
from lib.money import Currency
from lib.stale import KeepsOthersChanges, KeepsOthersChangesPlain

MAX_DAYS = 3650
# The longest text a template holds (MessageTemplate.body), whatever its channel.
BODY_CHARS = MessageTemplate._meta.get_field("body").max_length
# A segment's or a flow's description is read under its name: a few lines.
DESCRIPTION_CHARS = 500
MAX_BALANCE = Decimal("999999999.99")


def description_field() -> forms.CharField:
    """A segment's or a flow's description: optional, a few lines."""
    return forms.CharField(
        label=_("Descripción"),
        required=False,
        max_length=DESCRIPTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "max_length": _("Escriba una descripción de hasta %(limit_value)d caracteres.")
        },
    )


def _all(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


# --- Lists ---------------------------------------------------------------------------------


class SegmentFilterForm(ListFilterForm):
    use = forms.ChoiceField(
        label=_("Uso"),
        required=False,
        choices=[
            ("", _("Todos los segmentos")),
            (segments.IN_USE, _("Usados por flujos")),
            (segments.UNUSED, _("Sin flujos")),
        ],
    )


class TemplateFilterForm(ListFilterForm):
    channel = forms.ChoiceField(
        label=_("Canal"),
        required=False,
        choices=_all(_("Todos los canales"), MessageTemplate.Channel.choices),
    )
    portfolio = forms.ChoiceField(
        label=_("Cartera"), required=False, choices=_all(_("Ambas carteras"), Portfolio.choices)
    )
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=[
            ("", _("Activas e inactivas")),
            (templating.ACTIVE, _("Activas")),
            (templating.INACTIVE, _("Inactivas")),
        ],
    )


# --- Segments ------------------------------------------------------------------------------


def _days(label: str, low: int) -> forms.IntegerField:
    # A text input (lib.fields): "1.000" is refused as ambiguous, not read as 1.
    return lib_fields.IntegerField(
        label=label,
        required=False,
        min_value=low,
        max_value=MAX_DAYS,
        error_messages={
            "min_value": _("Indique un número de días de %(limit_value)s en adelante."),
            "max_value": _("Indique como máximo %(limit_value)s días (10 años)."),
            "invalid": _("Indique un número entero de días."),
        },
    )


def _balance(label: str) -> forms.DecimalField:
    # Each problem once: 10^15 broke the maximum and the digits, with the same message.
    return lib_fields.DecimalField(
        label=label,
        required=False,
        min_value=Decimal("0"),
        max_value=MAX_BALANCE,
        max_digits=14,
        decimal_places=2,
        error_messages={
            "min_value": _("El saldo no puede ser negativo."),
            "max_value": _("Indique un saldo de hasta 999,999,999.99."),
            "max_decimal_places": _("Indique el saldo con hasta dos decimales."),
            "max_digits": _("Indique un saldo de hasta 999,999,999.99."),
            "invalid": _("Indique un monto, como 1500.00."),
        },
    )


class SegmentForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """A segment's rules; an empty rule does not restrict. What another person saved while
    the form was open stays (`lib.stale`)."""

    min_days_past_due = _days(_("Días de atraso desde"), 0)
    max_days_past_due = _days(_("Días de atraso hasta"), 0)
    buckets = forms.MultipleChoiceField(
        label=_("Tramos de morosidad"),
        required=False,
        choices=Bucket.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Elija tramos de la lista.")},
    )
    min_balance = _balance(_("Saldo desde"))
    max_balance = _balance(_("Saldo hasta"))
    no_contact_days = _days(_("Sin contacto en los últimos (días)"), 1)
    contacted_within_days = _days(_("Con contacto en los últimos (días)"), 1)
    description = description_field()

    class Meta:
        model = Segment
        fields = [*segments.SEGMENT_FIELDS, *segments.SEGMENT_M2M_FIELDS]
        error_messages = {
            # Django's own reads "Ya existe Segmento con este Nombre.".
            "name": {"unique": _("Ya existe un segmento con ese nombre.")},
            # Django's own repeats what was sent ("Escoja una opción válida. x no es…").
            "promise_status": {"invalid_choice": _("Elija de la lista.")},
            "balance_currency": {"invalid_choice": _("Elija de la lista.")},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["products"].queryset = LoanProduct.objects.order_by("name")
        self.fields["branches"].queryset = crm_forms.branches_offered(
            keeping=self.instance.branches.all() if self.instance.pk else ()
        )
        self.fields["tags"].queryset = Tag.objects.order_by("name")
        self.fields["excluded_tags"].queryset = Tag.objects.order_by("name")
        self.fields["tags"].help_text = _(
            "Los clientes con «%(tag)s» nunca entran: sus comunicaciones son las de su campaña."
        ) % {"tag": segments.CASTIGADA_TAG}
        # Soles unless said: a form sent without it (older pages, the API) keeps its meaning.
        self.fields["balance_currency"].required = False
        self.fields["balance_currency"].help_text = _(
            "El saldo se compara con los créditos en esta moneda; los de la otra no entran."
        )
        self.fields["branches"].help_text = _(
            "La del crédito; si el crédito no tiene, la del cliente."
        )
        for name in segments.SEGMENT_M2M_FIELDS:
            self.fields[name].widget.attrs["size"] = 5
            self.fields[name].error_messages["invalid_choice"] = _("Elija de la lista.")
            # Not a number at all: Django's own repeats what was sent ("“x” no es un valor…").
            self.fields[name].error_messages["invalid_pk_value"] = _("Elija de la lista.")

    def clean_balance_currency(self) -> str:
        return self.cleaned_data.get("balance_currency") or Currency.PEN

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            segments.validate_rules(cleaned)
        except ValidationError as exc:
            self.add_service_error(exc)
        return cleaned

    def rules(self) -> segments.Rules:
        return segments.Rules.from_data(self.cleaned_data)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


# --- Templates -----------------------------------------------------------------------------


class TemplateForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """A message template; checked as `templating.validate_template` checks every path.
    What another person saved while the form was open stays (`lib.stale`)."""

    class Meta:
        model = MessageTemplate
        fields = list(templating.TEMPLATE_FIELDS)
        error_messages = {"name": {"unique": _("Ya existe una plantilla con ese nombre.")}}
        widgets = {
            "body": forms.Textarea(attrs={"rows": 7, "maxlength": 4000}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["whatsapp_name"].help_text = _(
            "Solo WhatsApp: el nombre con que Meta aprobó la plantilla (recordatorio_pago). "
            "Sus variables {{1}}, {{2}}… son las de este texto, en el orden en que aparecen."
        )
        self.fields["whatsapp_language"].help_text = _("Solo WhatsApp: es, es_PE, en_US…")
        self.fields["subject"].help_text = _("Solo correo; admite variables.")
        self.fields["body"].help_text = _(
            "Variables entre llaves, como {nombre}; para mostrar una llave, escriba {{ o }}."
        )
        # Said before saving: the channel of a template flows already sent stays (saving
        # refuses a new one, templating.save_template).
        sent_by = templating.flows_that_sent(self.instance)
        if sent_by:
            self.fields["channel"].help_text = _(
                "Ya se envió por este canal en los flujos %(flows)s: no cambia. Para otro "
                "canal, cree una plantilla nueva."
            ) % {"flows": sent_by}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Past the column (4000) the field's own message would stand beside the counter's
        # «10,000 de 918 caracteres»: one message instead, in the channel's own terms.
        channel = cleaned.get("channel")
        typed = self["body"].data or ""
        if "body" in self.errors and channel and len(typed) > BODY_CHARS:
            problem = templating.body_problem(channel, typed)
            if problem:
                self.errors["body"] = self.error_class([problem], renderer=self.renderer)
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            templating.validate_template(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, errors)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class DraftTemplateForm(forms.Form):
    """A template as the form holds it while it is edited: what the preview and the counter
    read (no name, nothing saved)."""

    channel = forms.ChoiceField(choices=MessageTemplate.Channel.choices, required=False)
    portfolio = forms.ChoiceField(choices=Portfolio.choices, required=False)
    subject = forms.CharField(max_length=200, required=False, strip=False)
    body = forms.CharField(
        max_length=BODY_CHARS,
        required=False,
        strip=False,
        error_messages={
            "max_length": _("El texto tiene más de %(limit_value)d caracteres: acórtelo.")
        },
    )
    whatsapp_name = forms.CharField(max_length=120, required=False)
    whatsapp_language = forms.CharField(max_length=10, required=False)

    def draft(self) -> MessageTemplate | None:
        """Return an unsaved template of what was typed; None if the fields do not parse."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return MessageTemplate(
            name="",
            channel=data["channel"] or MessageTemplate.Channel.SMS,
            portfolio=data["portfolio"] or Portfolio.CURRENT,
            subject=data["subject"],
            body=data["body"],
            whatsapp_name=data["whatsapp_name"],
            whatsapp_language=data["whatsapp_language"] or "es",
        )


class PreviewCustomerForm(forms.Form):
    """Whose data the preview shows: a document number, or part of a name."""

    preview_customer = forms.CharField(
        label=_("Cliente para la vista previa"),
        max_length=SEARCH_CHARS,
        error_messages={
            "required": _("Escriba el documento o el nombre de un cliente."),
            "max_length": _("Escriba como máximo %(limit_value)d caracteres para buscar."),
        },
    )


# --- Events settings and the message policy -----------------------------------------------


# One event's line on the settings screen: its label, the template select, the switch.
Row = tuple[str, forms.BoundField, forms.BoundField]


def setting_field(portfolio: str, event: str, part: str) -> str:
    return f"{portfolio}__{event}__{part}"


class EventSettingsForm(KeepsOthersChangesPlain, forms.Form):
    """For each portfolio and event: the template it sends and whether it is on. What
    another person saved while the form was open stays (`lib.stale`).

    The templates are read once for all eight selects (a ModelChoiceField per select would
    read them eight times).
    """

    def __init__(
        self,
        *args: Any,
        settings: dict[tuple[str, str], EventSetting],
        templates: list[MessageTemplate],
        **kwargs: Any,
    ) -> None:
        # What each select and switch holds now; an event never saved, nothing and off.
        stored: dict[str, Any] = {}
        for portfolio in Portfolio.values:
            for event in EventSetting.Event.values:
                setting = settings.get((portfolio, event))
                stored[setting_field(portfolio, event, "template")] = (
                    setting.template_id if setting else None
                )
                stored[setting_field(portfolio, event, "active")] = bool(
                    setting and setting.is_active and setting.template_id
                )
        super().__init__(*args, stored=stored, **kwargs)
        self.templates = {template.pk: template for template in templates}
        for portfolio, _label in Portfolio.choices:
            chosen = {s.template_id for (p, _e), s in settings.items() if p == portfolio}
            offered = [
                (template.pk, f"{template.name} ({template.get_channel_display()})")
                for template in templates
                if template.portfolio == portfolio and (template.is_active or template.pk in chosen)
            ]
            for event, label in EventSetting.Event.choices:
                self.fields[setting_field(portfolio, event, "template")] = forms.TypedChoiceField(
                    label=label,
                    required=False,
                    coerce=int,
                    empty_value=None,
                    choices=[("", _("— No enviar nada —")), *offered],
                    initial=stored[setting_field(portfolio, event, "template")],
                    error_messages={"invalid_choice": _("Elija una plantilla de la lista.")},
                )
                self.fields[setting_field(portfolio, event, "active")] = forms.BooleanField(
                    label=_("Activo"),
                    required=False,
                    initial=stored[setting_field(portfolio, event, "active")],
                )

    def sections(
        self,
    ) -> list[tuple[str, str, list[tuple[str, forms.BoundField, forms.BoundField]]]]:
        """Return, per portfolio, its value, label and (event label, template, active) rows."""
        return [
            (
                portfolio,
                label,
                [
                    (
                        event_label,
                        self[setting_field(portfolio, event, "template")],
                        self[setting_field(portfolio, event, "active")],
                    )
                    for event, event_label in EventSetting.Event.choices
                ],
            )
            for portfolio, label in Portfolio.choices
        ]

    def choices(self) -> list[events.Choice]:
        data = self.cleaned_data
        return [
            events.Choice(
                portfolio=portfolio,
                event=event,
                template=self.templates.get(data[setting_field(portfolio, event, "template")]),
                is_active=data[setting_field(portfolio, event, "active")],
            )
            for portfolio in Portfolio.values
            for event in EventSetting.Event.values
        ]

    def add_service_error(self, exc: ValidationError) -> None:
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)


WEEKDAYS = [
    (0, _("lunes")),
    (1, _("martes")),
    (2, _("miércoles")),
    (3, _("jueves")),
    (4, _("viernes")),
    (5, _("sábado")),
    (6, _("domingo")),
]
# What the holidays' box takes: a line is a date and, optionally, its name.
QUIET_DATES_MAX_CHARACTERS = 20_000
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y")


class QuietDatesField(forms.CharField):
    """Holidays typed one per line («25/12/2026 Navidad»), as [ISO date, name] pairs in
    date order; each bad line is named by its number."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", QUIET_DATES_MAX_CHARACTERS)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            lines = []
            for row in value:
                try:
                    day = date.fromisoformat(row[0])
                except (TypeError, ValueError, IndexError):
                    continue
                lines.append(f"{day:%d/%m/%Y} {row[1]}".rstrip())
            return "\n".join(lines)
        return value

    def clean(self, value: Any) -> list[list[str]]:
        text = super().clean(value) or ""
        today = timezone.localdate()
        rows: dict[str, tuple[int, str]] = {}
        problems = []
        lines = [line.strip() for line in text.splitlines()]
        if sum(1 for line in lines if line) > events.MAX_QUIET_DATES:
            raise ValidationError(
                _("Indique como máximo %(n)s feriados."), params={"n": events.MAX_QUIET_DATES}
            )
        for number, line in enumerate(lines, start=1):
            if not line:
                continue
            typed, _space, name = line.partition(" ")
            day = _read_date(typed)
            if day is None:
                problems.append(
                    _("Línea %(n)s: «%(text)s» no es una fecha (dd/mm/aaaa).")
                    % {"n": number, "text": typed[:20]}
                )
            elif not today.year - 1 <= day.year <= today.year + 5:
                problems.append(
                    _("Línea %(n)s: la fecha %(day)s está fuera de %(low)s–%(high)s.")
                    % {
                        "n": number,
                        "day": f"{day:%d/%m/%Y}",
                        "low": today.year - 1,
                        "high": today.year + 5,
                    }
                )
            elif len(name.strip()) > events.QUIET_DATE_NAME_LENGTH:
                problems.append(
                    _("Línea %(n)s: el nombre tiene más de %(max)s caracteres.")
                    % {"n": number, "max": events.QUIET_DATE_NAME_LENGTH}
                )
            elif day.isoformat() in rows:
                problems.append(
                    _("Línea %(n)s: el %(day)s ya está en la línea %(first)s.")
                    % {"n": number, "day": f"{day:%d/%m/%Y}", "first": rows[day.isoformat()][0]}
                )
            else:
                rows[day.isoformat()] = (number, " ".join(name.split()))
        if problems:
            raise ValidationError(problems)
        return [[day, name] for day, (_number, name) in sorted(rows.items())]


def _read_date(text: str) -> date | None:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


class MessagePolicyForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """Quiet hours (local time), the days without messages, the daily limit of messages
    pushed to a customer, and whether SMS go without accents. What another person saved
    while the form was open stays (`lib.stale`)."""

    quiet_weekdays = forms.TypedMultipleChoiceField(
        label=_("Días de la semana sin mensajes"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Elija los días de la lista.")},
    )
    quiet_dates = QuietDatesField(
        label=_("Feriados sin mensajes"),
        required=False,
        help_text=_(
            "Uno por línea: la fecha (dd/mm/aaaa) y, si quiere, su nombre. Ej.: 25/12/2026 Navidad"
        ),
        error_messages={
            "max_length": _(
                "El texto es demasiado largo: indique como máximo un feriado por línea."
            )
        },
    )

    # Explicit, so a policy without quiet hours (start equal to end, what an empty
    # MESSAGES_QUIET_HOURS makes) can be kept while the daily limit or the holidays change:
    # two equal times typed are still refused.
    has_no_quiet_hours = forms.BooleanField(
        label=_("Sin horario de silencio"),
        required=False,
        help_text=_(
            "Los mensajes salen a cualquier hora; los días sin mensajes y el límite diario "
            "se siguen cumpliendo. Las horas de arriba no se usan."
        ),
    )

    daily_limit = lib_fields.IntegerField(
        label=_("Mensajes por día y cliente"),
        min_value=events.MIN_DAILY_LIMIT,
        max_value=events.MAX_DAILY_LIMIT,
        error_messages={
            "required": _("Indique el límite diario."),
            "min_value": _("Indique al menos %(limit_value)s mensaje por día."),
            "max_value": _("Indique como máximo %(limit_value)s mensajes por día."),
            "invalid": _("Indique un número entero de mensajes."),
        },
        help_text=_("Cuenta los mensajes de flujos y campañas; no las respuestas a eventos."),
    )

    class Meta:
        model = MessagePolicy
        fields = list(events.POLICY_FIELDS)
        help_texts = {
            "is_sms_unaccented": _(
                "Escribe á, í, ó, ú como a, i, o, u en los SMS: con una sola de esas letras el "
                "SMS se cobra por partes de 70 caracteres en vez de 160."
            )
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        error_messages = {
            "quiet_start": {
                "required": _("Indique desde qué hora no se envían mensajes."),
                "invalid": _("Indique una hora, como 20:00."),
            },
            "quiet_end": {
                "required": _("Indique hasta qué hora no se envían mensajes."),
                "invalid": _("Indique una hora, como 08:00."),
            },
        }

    # What events.validate_policy checks: a checkbox has nothing to check.
    VALIDATED = ("quiet_start", "quiet_end", "daily_limit", "quiet_weekdays", "quiet_dates")
    QUIET_HOURS = ("quiet_start", "quiet_end")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        if policy.pk is not None and "has_no_quiet_hours" not in self.initial:
            self.initial["has_no_quiet_hours"] = policy.quiet_start == policy.quiet_end
        # Asked for only when there are quiet hours (clean).
        for name in self.QUIET_HOURS:
            self.fields[name].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        no_quiet_hours = bool(cleaned.get("has_no_quiet_hours"))
        if no_quiet_hours:
            for name in self.QUIET_HOURS:
                cleaned[name] = events.NO_QUIET_HOURS
                self.errors.pop(name, None)  # a time not read is not asked for
        else:
            for name in self.QUIET_HOURS:
                if name not in self.errors and cleaned.get(name) is None:
                    self.add_error(name, self.fields[name].error_messages["required"])
        if all(cleaned.get(name) is not None for name in self.VALIDATED):
            try:
                events.validate_policy(
                    **{name: cleaned[name] for name in self.VALIDATED},
                    has_no_quiet_hours=no_quiet_hours,
                )
            except ValidationError as exc:
                self.add_service_error(exc)
        return cleaned

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)
