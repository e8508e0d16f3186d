"""Message templates: their variables, the rules a template must meet, and its rendering.

A template says `{nombre}`; `{{` and `}}` are literal braces. A template is checked when
it is saved (`validate_template`, through `save_template` from every path: the screen,
admin, an import), so an unknown variable is refused then, not found out when a flow
sends 100,000 messages. Rendering reads the variables' values for many recipients at once
(`render_for`), parsing the template once.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app.models import EventSetting, FlowRun, FlowStep, MessageTemplate, Portfolio
from collections_app.strategies import variables
from crm import deletions
from crm import messages as customer_messages
from lib import audit, gsm, repeats, search

# The longest body each channel takes: SMS, six concatenated parts of 153 characters;
# WhatsApp, Meta's limit for a template's body; e-mail, the model's column.
BODY_LIMITS = {
    MessageTemplate.Channel.SMS: 918,
    MessageTemplate.Channel.WHATSAPP: 1024,
    MessageTemplate.Channel.EMAIL: 4000,
}
SMS_PARTS = 6
# Meta names an approved template in lower case, digits and underscores.
WHATSAPP_NAME = re.compile(r"[a-z0-9_]+\Z")
WHATSAPP_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?\Z")
# Meta refuses a template parameter without text: a variable with no value is sent as this.
WHATSAPP_BLANK = "-"

TEMPLATE_FIELDS = (
    "name",
    "channel",
    "portfolio",
    "subject",
    "body",
    "whatsapp_name",
    "whatsapp_language",
    "is_active",
)

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|\{|\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Parsed:
    """A text split into literal text and variables: even parts literal, odd parts names."""

    parts: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """The variables, in order of first appearance."""
        return list(dict.fromkeys(self.parts[1::2]))

    def format(self, values: Mapping[str, str]) -> str:
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        return "".join(
            part if index % 2 == 0 else values.get(part, "") for index, part in enumerate(parts)
        )


def parse(text: str) -> Parsed:
    """Split `text` into literal text and `{variables}`; say what is wrong with its braces."""
    parts: list[str] = []
    literal: list[str] = []
    errors: list[str] = []
    position = 0
    text = text or ""
    for match in _TOKEN.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        piece = match[0]
        if piece == "{{":
            literal.append("{")
        elif piece == "}}":
            literal.append("}")
        elif piece == "{":
            literal.append(piece)
            errors.append(_("Hay una llave «{» sin cerrar. Para mostrar una llave, escriba «{{»."))
        elif piece == "}":
            literal.append(piece)
            errors.append(_("Hay una llave «}» sin abrir. Para mostrar una llave, escriba «}}»."))
        elif _NAME.match(match[1]):
            parts.append("".join(literal))
            parts.append(match[1])
            literal = []
        else:
            literal.append(piece)
            errors.append(
                _(
                    "«%(text)s» no es una variable: escriba su nombre sin espacios, como "
                    "{nombre}. Para mostrar una llave, escriba «{{» o «}}»."
                )
                % {"text": piece}
            )
    literal.append(text[position:])
    parts.append("".join(literal))
    return Parsed(parts=tuple(parts), errors=tuple(dict.fromkeys(errors)))


def placeholders(text: str) -> list[str]:
    """Return the variables `text` says, in order of first appearance."""
    return parse(text).names


def sms_parts(text: str) -> int:
    """Return how many SMS `text` takes as written (0 for none)."""
    return gsm.parts(text or "")


def sms_parts_as_sent(text: str) -> int:
    """Return how many SMS `text` takes as it is sent: under the message policy's «SMS sin
    tildes», with "á" written as "a" (crm.messages.sms_text). Reads the policy."""
    return gsm.parts(customer_messages.sms_text(text or ""))


# --- Validation ------------------------------------------------------------------------------


def _uses_subject(template: MessageTemplate) -> bool:
    return template.channel == MessageTemplate.Channel.EMAIL


def validate_template(template: MessageTemplate) -> None:
    """Refuse a template a message could not be made from, with a Spanish message per field:
    braces that do not pair, a variable its portfolio does not offer, a body longer than
    its channel takes, an e-mail without subject, a WhatsApp template without the name
    Meta approved it under."""
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if template.channel not in MessageTemplate.Channel.values:
        refuse("channel", _("Elija el canal: SMS, WhatsApp o correo."))
    if template.portfolio not in Portfolio.values:
        refuse("portfolio", _("Elija la cartera: vigente o castigada."))
    offered = variables.variables_for(template.portfolio)
    fields = [("body", template.body)]
    if _uses_subject(template):
        fields.insert(0, ("subject", template.subject))
    for field, text in fields:
        parsed = parse(text)
        for error in parsed.errors:
            refuse(field, error)
        for name in parsed.names:
            if name not in offered:
                refuse(field, _unknown(name, template.portfolio, offered))
    too_long = body_problem(template.channel, template.body)
    if too_long:
        refuse("body", too_long)
    if not (template.body or "").strip():
        refuse("body", _("Escriba el texto del mensaje."))
    if _uses_subject(template) and not (template.subject or "").strip():
        refuse("subject", _("Indique el asunto del correo."))
    if template.channel == MessageTemplate.Channel.WHATSAPP:
        if not template.whatsapp_name.strip():
            refuse(
                "whatsapp_name",
                _("Indique el nombre con que WhatsApp aprobó la plantilla."),
            )
        elif not WHATSAPP_NAME.match(template.whatsapp_name):
            refuse(
                "whatsapp_name",
                _(
                    "El nombre de una plantilla de WhatsApp lleva minúsculas, números y «_», "
                    "como recordatorio_pago."
                ),
            )
        if not WHATSAPP_LANGUAGE.match(template.whatsapp_language or ""):
            refuse(
                "whatsapp_language",
                _("Indique el idioma como lo pide WhatsApp: es, es_PE, en_US…"),
            )
    if errors:
        raise ValidationError(errors)


def body_problem(channel: str, body: str) -> str:
    """Say why `body` is too long for `channel` ("" when it fits): more characters than the
    channel takes or, for an SMS, more than SMS_PARTS parts (an "á" or an emoji makes every
    part 67 characters; "€" or "[" counts twice), counted on the text as it is sent."""
    limit = BODY_LIMITS.get(channel)
    length = len(body or "")
    if limit is None:
        return ""
    if channel == MessageTemplate.Channel.SMS:
        body = customer_messages.sms_text(body or "")
        length = len(body)
        if length > limit:
            return _(
                "El texto tiene %(length)s caracteres; un SMS admite hasta %(limit)s "
                "(%(parts)s mensajes)."
            ) % {
                "length": formats.number_format(length),
                "limit": formats.number_format(limit),
                "parts": SMS_PARTS,
            }
        parts = gsm.parts(body)
        if parts > SMS_PARTS:
            return _(
                "El texto ocupa %(parts)s SMS; se admiten hasta %(limit)s. Con tildes (á, í, ó, "
                "ú) o emojis cada SMS lleva %(ucs2)s caracteres en vez de %(gsm)s, y signos "
                "como € o [ ] cuentan doble."
            ) % {"parts": parts, "limit": SMS_PARTS, "ucs2": gsm.UCS2_PART, "gsm": gsm.PART}
        return ""
    if length > limit:
        return _("El texto tiene %(length)s caracteres; %(channel)s admite hasta %(limit)s.") % {
            "length": formats.number_format(length),
            "limit": formats.number_format(limit),
            "channel": MessageTemplate.Channel(channel).label,
        }
    return ""


def _unknown(name: str, portfolio: str, offered: Mapping[str, str]) -> str:
    elsewhere = variables.portfolios_of(name)
    if elsewhere:
        labels = dict(Portfolio.choices)
        return _("La variable {%(name)s} es solo para plantillas de %(portfolio)s.") % {
            "name": name,
            "portfolio": " / ".join(str(labels[p]).lower() for p in elsewhere),
        }
    return _("Variable desconocida: {%(name)s}. Disponibles: %(names)s.") % {
        "name": name,
        "names": ", ".join("{" + known + "}" for known in offered),
    }


# --- Saving and deleting ---------------------------------------------------------------------


@transaction.atomic
def save_template(
    *,
    data: Mapping[str, Any],
    template: MessageTemplate | None = None,
    actor: AbstractBaseUser | None = None,
) -> MessageTemplate:
    """Create a template, or change `template`, from `data` (TEMPLATE_FIELDS); refuse one
    that fails the model's rules or `validate_template`, or a change of portfolio while
    the events settings of its old portfolio or a flow (current portfolio only) send it,
    a change of channel once a flow step's runs sent it to debtors, or switching it off
    while an active flow or event sends it. The change goes into the settings history
    (old → new, who, when)."""
    template = template if template is not None else MessageTemplate()
    # From the database: a form may have changed the instance it was given already.
    stored = MessageTemplate.objects.filter(pk=template.pk).first() if template.pk else None
    before = audit.snapshot(stored, TEMPLATE_FIELDS)
    old_portfolio, was_active = (stored.portfolio, stored.is_active) if stored else (None, False)
    old_channel = stored.channel if stored else None
    for name in TEMPLATE_FIELDS:
        if name in data:
            setattr(template, name, data[name])
    errors: dict[str, Any] = {}
    try:
        template.full_clean()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        validate_template(template)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if old_portfolio and old_portfolio != template.portfolio:
        used = EventSetting.objects.filter(template=template).exclude(portfolio=template.portfolio)
        if used.exists():
            errors.setdefault("portfolio", []).append(
                _(
                    "La plantilla se envía desde Eventos de su cartera actual: elija allí "
                    "otra plantilla antes de cambiarle la cartera."
                )
            )
        # Flows reach only the current portfolio's debtors, with its variables.
        flows = _flow_names(template.flow_steps.all())
        if template.portfolio != Portfolio.CURRENT and flows:
            errors.setdefault("portfolio", []).append(
                _(
                    "La envían los flujos %(flows)s, que solo envían plantillas de cartera "
                    "vigente: elija otra plantilla en sus pasos antes de cambiarle la cartera."
                )
                % {"flows": flows}
            )
    if old_channel and old_channel != template.channel and template.channel in CHANNEL_WORDS:
        _refuse_channel_change_after_runs(template, old_channel, errors)
    _refuse_event_variables_where_sent(template, errors)
    if was_active and not template.is_active:
        # A flow's step sends the template it names, active or not: switched off here, it
        # would still go out every morning.
        flows = _flow_names(template.flow_steps.filter(flow__is_active=True))
        if flows:
            errors.setdefault("is_active", []).append(
                _(
                    "La envían los flujos activos %(flows)s: elija otra plantilla en sus pasos "
                    "o desactive esos flujos antes."
                )
                % {"flows": flows}
            )
        # Switched off, an event would send nothing while its screen still says "Activo".
        events = [str(s) for s in template.event_settings.filter(is_active=True)]
        if events:
            errors.setdefault("is_active", []).append(
                _(
                    "La envían los eventos %(events)s: elija allí otra plantilla o desactive "
                    "esos eventos antes."
                )
                % {"events": ", ".join(f"«{event}»" for event in events)}
            )
    if errors:
        raise ValidationError(errors)
    repeats.save_or_refuse(
        template, field="name", message=_("Ya existe una plantilla con este nombre.")
    )
    after = audit.snapshot(template, TEMPLATE_FIELDS)
    if stored is None:
        audit.log_addition(actor=actor, obj=template, after=after)
    else:
        audit.log_change(actor=actor, obj=template, before=before, after=after)
    return template


def said(template: MessageTemplate) -> list[str]:
    """Return the variables `template`'s message says, in order (an e-mail's subject too)."""
    subject = placeholders(template.subject) if _uses_subject(template) else []
    return list(dict.fromkeys([*subject, *placeholders(template.body)]))


def flow_event_variables_problem(template: MessageTemplate) -> str:
    """Say why a flow may not send `template` ("" when it may): it says event variables,
    which only events' messages fill (a flow would send them blank)."""
    missing = variables.event_variables_missing(said(template), None)
    if not missing:
        return ""
    return _(
        "La plantilla «%(name)s» usa %(variables)s, que solo tienen los mensajes de Eventos: "
        "en un flujo saldrían en blanco. Elija otra plantilla para el paso."
    ) % {"name": template.name, "variables": ", ".join("{" + name + "}" for name in missing)}


# A channel as a sentence says it: «se envió por SMS», «por correo».
CHANNEL_WORDS = {
    MessageTemplate.Channel.SMS: gettext_lazy("SMS"),
    MessageTemplate.Channel.WHATSAPP: gettext_lazy("WhatsApp"),
    MessageTemplate.Channel.EMAIL: gettext_lazy("correo"),
}


def flows_that_sent(template: MessageTemplate) -> str:
    """Name the flows whose steps' runs sent `template` to debtors: "«A», «B»" ("" for
    none, or for a template not saved yet)."""
    if not template.pk:
        return ""
    ran = FlowRun.objects.filter(step__template=template, selected__gt=0).values("step_id")
    return _flow_names(FlowStep.objects.filter(pk__in=ran))


def _refuse_channel_change_after_runs(
    template: MessageTemplate, old_channel: str, errors: dict[str, Any]
) -> None:
    """Add to `errors` a change of channel of a template whose flow steps' runs picked
    debtors: a flow's page names its steps, and their runs, by their template's channel,
    so SMS already sent would read as e-mails (as a step that ran keeps its day and
    template, `flows._refuse_moving_steps_that_ran`)."""
    flows = flows_that_sent(template)
    if not flows:
        return
    errors.setdefault("channel", []).append(
        _(
            "La plantilla ya se envió por %(old)s en los flujos %(flows)s: su canal no cambia, "
            "para que el historial de esos envíos siga siendo por %(old)s. Para enviar este "
            "texto por %(new)s, cree una plantilla nueva con ese canal y elíjala en los pasos."
        )
        % {
            "old": CHANNEL_WORDS.get(old_channel, old_channel),
            "new": CHANNEL_WORDS[template.channel],
            "flows": flows,
        }
    )


def _refuse_event_variables_where_sent(template: MessageTemplate, errors: dict[str, Any]) -> None:
    """Add to `errors` the event variables the template's text says that what sends it does
    not fill: none for a flow's step, only its event's for an events setting."""
    if not template.pk:
        return
    names = said(template)
    if not any(name in variables.EVENT_VARIABLES for name in names):
        return
    flows = _flow_names(template.flow_steps.all())
    if flows:
        missing = variables.event_variables_missing(names, None)
        errors.setdefault("body", []).append(
            _(
                "La envían los flujos %(flows)s, y %(variables)s solo lo tienen los mensajes "
                "de Eventos: en un flujo saldrían en blanco. Quite esas variables o elija otra "
                "plantilla en sus pasos."
            )
            % {"flows": flows, "variables": ", ".join("{" + name + "}" for name in missing)}
        )
    for setting in template.event_settings.order_by("portfolio", "event"):
        missing = variables.event_variables_missing(names, setting.event)
        if missing:
            filled = variables.EVENT_VARIABLES_OF.get(setting.event, frozenset())
            errors.setdefault("body", []).append(
                _(
                    "La envía el evento «%(event)s», que no tiene %(variables)s: el mensaje "
                    "saldría en blanco ahí. Este evento tiene %(filled)s."
                )
                % {
                    "event": str(setting),
                    "variables": ", ".join("{" + name + "}" for name in missing),
                    "filled": ", ".join(
                        "{" + name + "}" for name in variables.EVENT_VARIABLES if name in filled
                    ),
                }
            )


def _flow_names(steps: QuerySet) -> str:
    """Name the flows of these steps: "«A», «B»" ("" for none)."""
    names = sorted(set(steps.values_list("flow__name", flat=True)))
    return ", ".join(f"«{name}»" for name in names)


def usage(template: MessageTemplate) -> list[str]:
    """Say where a template is sent from: its flows' steps and its events settings."""
    steps = template.flow_steps.select_related("flow").order_by("flow__name", "day_offset")
    places = [
        _("el flujo «%(flow)s», día %(day)+d") % {"flow": step.flow.name, "day": step.day_offset}
        for step in steps
    ]
    places += [
        _("Eventos: %(setting)s") % {"setting": str(setting)}
        for setting in template.event_settings.all()
    ]
    return places


# Its code in the deletions audit (crm.deletions), registered in CollectionsAppConfig.ready;
# "template" is gestiones' document template.
DELETION_KIND = "message_template"


def deletion_details(template: MessageTemplate) -> list[tuple[str, str]]:
    """Return what a deleted template was, as (label, text) pairs, for the deletions audit."""
    details = [
        (_("Canal"), template.get_channel_display()),
        (_("Cartera"), template.get_portfolio_display()),
    ]
    if template.subject:
        details.append((_("Asunto"), template.subject))
    if template.whatsapp_name:
        details.append((_("Plantilla de WhatsApp"), template.whatsapp_name))
    details.append((_("Texto"), template.body))
    return details


@transaction.atomic
def delete_template(*, template: MessageTemplate, actor: AbstractBaseUser | None = None) -> None:
    """Delete a template nothing sends, and record who did it in the deletions audit;
    refuse, saying where, one that a flow step or an events setting sends."""
    template = MessageTemplate.objects.select_for_update().filter(pk=template.pk).first()
    if template is None:
        return  # deleted a moment ago by someone else, who has the record
    places = usage(template)
    if places:
        raise ValidationError(
            _("No se puede eliminar la plantilla: se usa en %(places)s.")
            % {"places": "; ".join(places)}
        )
    deletions.record_deletion(
        kind=DELETION_KIND,
        object_id=template.pk,
        name=template.name,
        details=deletion_details(template),
        actor=actor,
    )
    audit.log_deletion(actor=actor, obj=template, before=audit.snapshot(template, TEMPLATE_FIELDS))
    try:
        template.delete()
    except ProtectedError as exc:  # put to use meanwhile (the record goes back too)
        raise ValidationError(
            _("No se puede eliminar la plantilla: acaba de ponerse en uso.")
        ) from exc


# --- Rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A template made into one message: what `crm.messages` sends."""

    subject: str
    body: str
    whatsapp: "customer_messages.WhatsAppTemplate | None"


@dataclass(frozen=True)
class _Compiled:
    subject: Parsed
    body: Parsed
    template: MessageTemplate

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.subject.names, *self.body.names]))

    def render(self, values: Mapping[str, str]) -> Rendered:
        template = self.template
        whatsapp = None
        if template.channel == MessageTemplate.Channel.WHATSAPP:
            whatsapp = customer_messages.WhatsAppTemplate(
                name=template.whatsapp_name,
                language=template.whatsapp_language,
                parameters=tuple(whatsapp_parameter(values.get(name)) for name in self.body.names),
            )
        return Rendered(
            subject=self.subject.format(values) if _uses_subject(template) else "",
            body=self.body.format(values),
            whatsapp=whatsapp,
        )


def whatsapp_parameter(value: str | None) -> str:
    """Write a value as Meta takes a template parameter: one line (a new line, a tab or
    more than four spaces in a row refuse the whole message), never empty."""
    return " ".join((value or "").split()) or WHATSAPP_BLANK


def _compile(template: MessageTemplate) -> _Compiled:
    return _Compiled(subject=parse(template.subject), body=parse(template.body), template=template)


def render(template: MessageTemplate, values: Mapping[str, str]) -> Rendered:
    """Make one message of `template` with these variables' values (a missing one says "")."""
    return _compile(template).render(values)


def render_for(
    template: MessageTemplate, recipients: Sequence[variables.Recipient], today: date
) -> list[Rendered]:
    """Make `template`'s message for each recipient, in order: the values read at once for
    all of them (only the sources of the variables it says), the template parsed once."""
    compiled = _compile(template)
    values = variables.load_values(recipients, template.portfolio, today, names=compiled.names)
    return [compiled.render(row) for row in values]


def blank_variables(
    template: MessageTemplate, recipient: variables.Recipient, today: date
) -> list[str]:
    """Return the variables `template` sends that have no value for `recipient` today:
    sent, it would read "su cuota de  del crédito ." (only an e-mail sends its subject)."""
    compiled = _compile(template)
    is_email = template.channel == MessageTemplate.Channel.EMAIL
    names = compiled.names if is_email else compiled.body.names
    (values,) = variables.load_values([recipient], template.portfolio, today, names=names)
    return [name for name in names if not values.get(name)]


# --- The screens' reads ----------------------------------------------------------------------

ACTIVE = "activas"
# A new template sent again this soon with the name it just took is the same form sent twice.
CREATE_REPEAT_WINDOW = timedelta(minutes=1)
INACTIVE = "inactivas"


def template_for(user: AbstractBaseUser, pk: int) -> MessageTemplate:
    """Return the template `pk` if `user` may see templates, else 404."""
    if not user.has_perm("collections_app.view_messagetemplate"):
        raise Http404
    return get_object_or_404(MessageTemplate, pk=pk)


def just_created(name: str) -> MessageTemplate | None:
    """Return the template named `name` created a moment ago, if any: the form sent twice
    (a double click, the back button and send) finds its name taken by it. (A template
    keeps no author, so it is anyone's: a name clash within the minute is rare enough.)"""
    name = repeats.sent_name(name)
    if name is None:
        return None
    return repeats.made_within(MessageTemplate.objects.filter(name=name), CREATE_REPEAT_WINDOW)


def template_list(
    *, q: str = "", channel: str = "", portfolio: str = "", status: str = ""
) -> QuerySet[MessageTemplate]:
    """Return the templates by name, with how many flow steps and events send each."""
    found = MessageTemplate.objects.annotate(
        step_count=Count("flow_steps", distinct=True),
        event_count=Count("event_settings", distinct=True),
    )
    found = search.in_small_table(found, q, "name", "body", "subject")
    if channel:
        found = found.filter(channel=channel)
    if portfolio:
        found = found.filter(portfolio=portfolio)
    if status == ACTIVE:
        found = found.filter(is_active=True)
    elif status == INACTIVE:
        found = found.filter(is_active=False)
    return found.order_by("name", "pk")
