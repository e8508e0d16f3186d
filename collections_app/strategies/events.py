"""The events settings (*Eventos*): which template a debtor gets when a payment event happens.

Two sections, one per portfolio, each answering four events: a promise to pay, a payment
to verify, a payment that could not be verified, and a verified payment (an agent's
approval, or money a gateway confirmed). `on_payment_event` listens to
`collections_app.signals.payment_event` (connected by `connect()`, from the app's
`ready`) and sends the setting's template on its channel through `crm.messages`, once per
event however often the event is announced. These messages answer what the debtor did,
so the daily limit does not count them; quiet hours and consent still hold.

Nothing goes out with a blank in it: a template that says another event's variable
(`variables.EVENT_VARIABLES_OF`: {monto_pago} on a promise) cannot be chosen, and one with
a variable the debtor has no value for today (the payment settled the loan: no {cuota}) is
not sent, with a timeline entry naming what was missing.

A message waits in the outbox (quiet hours hold it overnight) after its event: a setting
switched off, or left without a template, meanwhile no longer sends it, nor does an event
overtaken meanwhile (`still_wanted`, asked by crm.messages at delivery): «lo verificaremos»
once the payment was verified or rejected, a rejection once the payment was reopened, a
promise's acknowledgement once the promise was kept, broken or withdrawn. A message that
was held is written again when it goes out (`rewrite_held`): from its template and the
event as they are then, so «su saldo hoy es …» is the morning's figure, not the evening's.

The message policy (quiet hours, daily limit) is edited on the same screen.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from collections_app import signals
from collections_app.models import (
    EventSetting,
    MessageTemplate,
    PaymentLink,
    PaymentPromise,
    Portfolio,
    ReportedPayment,
)
from collections_app.signals import Event
from collections_app.strategies import templating, variables
from crm import display
from crm import messages as customer_messages
from crm import services as crm_services
from crm.models import Customer, Interaction, MessagePolicy
from lib import audit, small_tables

# The origin of the messages the settings send (crm.models.Message.origin), with the
# setting's id: the effectiveness figures count them by it.
ORIGIN = "collections.event"
DISPATCH_UID = "collections_app.strategies.events"
DATE_FORMAT = "%d/%m/%Y"
# The payment events that have a setting, and which: money a gateway confirmed is a
# verified payment as much as one an agent approved.
SETTING_OF = {
    Event.PROMISE: EventSetting.Event.PROMISE,
    Event.TO_VERIFY: EventSetting.Event.TO_VERIFY,
    Event.REJECTED: EventSetting.Event.REJECTED,
    Event.VERIFIED: EventSetting.Event.VERIFIED,
    Event.PAYMENT: EventSetting.Event.VERIFIED,
}
# The daily limit's bounds, as the policy's model field has them.
MIN_DAILY_LIMIT, MAX_DAILY_LIMIT = 1, 50


def connect() -> None:
    """Listen to the payment events, and write again the messages held by the quiet hours
    when they go out (call from AppConfig.ready; twice is once)."""
    signals.payment_event.connect(on_payment_event, dispatch_uid=DISPATCH_UID)
    customer_messages.register_held_rewrite(ORIGIN, rewrite_held)


def active_setting(portfolio: str, event: str) -> EventSetting | None:
    """Return the setting that sends a template for `event` in `portfolio`, or None.

    `event` is a setting's event or a payment event (`signals.Event`); a setting without
    a template, switched off, or whose template is switched off sends nothing.
    """
    event = SETTING_OF.get(event, event)
    return (
        EventSetting.objects.select_related("template")
        .filter(
            portfolio=portfolio,
            event=event,
            is_active=True,
            template__isnull=False,
            template__is_active=True,
        )
        .first()
    )


def configured(portfolio: str, event: str) -> bool:
    """Say whether the events settings send a message for `event` in `portfolio` (then the
    built-in notice of a reviewed payment does not also go)."""
    return active_setting(portfolio, event) is not None


def still_wanted(setting_id: int, detail: Mapping[str, Any] | None = None) -> str:
    """Say why a message the setting queued must not go out now ("" when it may): the
    setting was switched off, left without a template or deleted while it waited, or its
    event was overtaken (`overtaken`; `detail` is what `on_payment_event` queued it with,
    None for a message queued before it kept one). The crm.messages delivery check of
    ORIGIN.

    The setting is read from the process's copy of the settings (lib.small_tables: no query
    while they are unchanged; the screen and admin save rows one by one, which tells every
    process); the event's payment or promise by its pk, one query.
    """
    (settings_by_pk,) = small_tables.rows(EventSetting)
    setting = settings_by_pk.get(setting_id)
    if setting is None:
        # Not in the copy: deleted, or added after it was read (then read it now).
        setting = EventSetting.objects.filter(pk=setting_id).first()
    if setting is None:
        return _("El evento que envió este mensaje ya no está configurado: el mensaje no se envió.")
    if setting.is_active and setting.template_id is not None:
        return overtaken(detail) if detail else ""
    return _(
        "El evento «%(event)s» de %(portfolio)s se desactivó después de poner el mensaje en "
        "cola: no se envió."
    ) % {
        "event": setting.get_event_display(),
        "portfolio": setting.get_portfolio_display().lower(),
    }


def on_payment_event(
    sender: Any,
    *,
    event: str,
    portfolio: str,
    customer_id: int,
    receivable_kind: str = variables.LOAN,
    receivable_id: int | None = None,
    instance: Any = None,
    payment_id: int | None = None,
    **kwargs: Any,
) -> customer_messages.Sending | None:
    """Send the debtor the template set for this event, if one is (the signal's receiver).

    A template that would go out with a variable blank ("Próxima cuota:  el .", the loan
    settled) is not sent: a timeline entry names what is missing, and None is returned,
    as for an event with no template (a review then sends its built-in e-mail).
    """
    if event not in SETTING_OF or instance is None:
        return None
    setting = active_setting(portfolio, event)
    if setting is None:
        return None
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return None
    template = setting.template
    recipient = variables.Recipient(
        customer=customer,
        receivable_kind=receivable_kind,
        receivable_id=receivable_id,
        extra=event_values(instance),
    )
    today = timezone.localdate()
    key = dedupe_key(event, instance, payment_id)
    blank = templating.blank_variables(template, recipient, today)
    if blank:
        # "Próxima cuota:  el ." once the payment settled the loan: not sent.
        _not_sent_incomplete(customer, setting, blank, key)
        return None
    rendered = templating.render_for(template, [recipient], today)[0]
    return customer_messages.send_customer_message(
        customer=customer,
        channel=template.channel,
        subject=rendered.subject or template.name,
        body=rendered.body,
        origin=(ORIGIN, setting.pk),
        dedupe_key=key,
        whatsapp_template=rendered.whatsapp,
        origin_detail={
            "event": event,
            "object": instance._meta.label_lower,
            "pk": instance.pk,
            "receivable_kind": receivable_kind,
            "receivable_id": receivable_id,
            "template": template.pk,
            "channel": template.channel,
        },
    )


# The objects of the events that send a setting's template, by label (a message's detail).
EVENT_OBJECTS = {
    model._meta.label_lower: model for model in (PaymentPromise, ReportedPayment, PaymentLink)
}
# What each event leaves its object as: a message whose object is no longer so when it
# goes out says what is no longer true («lo verificaremos» of a payment verified since).
EVENT_LEAVES = {
    Event.PROMISE: PaymentPromise.Status.PENDING,
    Event.TO_VERIFY: ReportedPayment.Status.PENDING,
    Event.REJECTED: ReportedPayment.Status.REJECTED,
    Event.VERIFIED: ReportedPayment.Status.APPROVED,
    Event.PAYMENT: PaymentLink.Status.PAID,
}


def overtaken(detail: Mapping[str, Any]) -> str:
    """Say why an event's message must not go out now ("" when it may): its payment or
    promise changed since the event (the payment to verify verified or rejected, the
    rejected one reopened, the promise kept, broken or withdrawn) or was deleted."""
    model = EVENT_OBJECTS.get(detail.get("object", ""))
    left = EVENT_LEAVES.get(detail.get("event", ""))
    if model is None or left is None:
        return ""
    status = model.objects.filter(pk=detail.get("pk")).values_list("status", flat=True).first()
    if status == left:
        return ""
    said = {
        "what": model._meta.verbose_name,
        "id": detail.get("pk"),
        "event": EventSetting.Event(SETTING_OF[detail["event"]]).label,
    }
    if status is None:
        return (
            _(
                "El %(what)s #%(id)s se eliminó después de poner en cola el mensaje del evento "
                "«%(event)s»: no se envió."
            )
            % said
        )
    return _(
        "El %(what)s #%(id)s pasó a «%(status)s» después de poner en cola el mensaje del "
        "evento «%(event)s»: ya no era cierto y no se envió."
    ) % {**said, "status": model.Status(status).label}


def rewrite_held(
    setting_id: int, detail: Mapping[str, Any], customer: Customer
) -> customer_messages.Rewritten | str | None:
    """Write again a message the quiet hours held (crm.messages asks as it goes out): from
    its template and the event as they are now, for today, so its figures («su saldo hoy es
    …») are the ones of the morning it is read, not of the evening it was queued.

    A variable with no value now (the loan settled overnight: no {cuota}) refuses it, as
    `on_payment_event` would have. Sent as queued (None) when its template was deleted or
    moved to another channel, or its payment or promise is gone (`still_wanted` refused
    that already).
    """
    model = EVENT_OBJECTS.get(detail.get("object", ""))
    event = SETTING_OF.get(detail.get("event", ""))
    if model is None or event is None:
        return None
    instance = model.objects.filter(pk=detail.get("pk")).first()
    template = MessageTemplate.objects.filter(pk=detail.get("template")).first()
    if instance is None or template is None or template.channel != detail.get("channel"):
        return None
    recipient = variables.Recipient(
        customer=customer,
        receivable_kind=detail.get("receivable_kind") or variables.LOAN,
        receivable_id=detail.get("receivable_id"),
        extra=event_values(instance),
    )
    today = timezone.localdate()
    blank = templating.blank_variables(template, recipient, today)
    if blank:
        return _incomplete(EventSetting.Event(event).label, template, blank)
    rendered = templating.render_for(template, [recipient], today)[0]
    return customer_messages.Rewritten(
        subject=rendered.subject or template.name,
        body=rendered.body,
        whatsapp_template=rendered.whatsapp,
    )


def _incomplete(event: str, template: MessageTemplate, blank: list[str]) -> str:
    """Say that an event's template was not sent because it would go out incomplete."""
    return _(
        "Evento «%(event)s»: no se envió la plantilla «%(template)s» porque saldría "
        "incompleta: el cliente no tiene hoy %(names)s."
    ) % {
        "event": event,
        "template": template.name,
        "names": ", ".join("{" + name + "}" for name in blank),
    }


def _not_sent_incomplete(
    customer: Customer, setting: EventSetting, blank: list[str], key: str
) -> None:
    """Say on the timeline, once per event, that the setting's template was not sent
    because these variables have no value for the customer today."""
    entries = Interaction.objects.filter(
        customer=customer, kind=Interaction.Kind.SYSTEM, payload__event=key
    )
    if entries.exists():
        # The event announced again (a review tells the debtor before its commit too).
        return
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_incomplete(setting.get_event_display(), setting.template, blank),
        payload={"event": key},
    )


def dedupe_key(event: str, instance: Any, payment_id: int | None) -> str:
    """Name one event's message: the same event announced again sends nothing more."""
    key = f"{ORIGIN}:{SETTING_OF[event]}:{instance._meta.label_lower}:{instance.pk}"
    return f"{key}:{payment_id}" if payment_id else key


def event_values(instance: Any) -> dict[str, str]:
    """Return the event's variables (`{monto_pago}`, `{motivo}`…) written for the debtor."""
    currency = getattr(instance, "currency", "")
    if isinstance(instance, PaymentPromise):
        return {
            "monto_compromiso": display.money_text(instance.amount, currency),
            "fecha_compromiso": instance.promised_on.strftime(DATE_FORMAT),
        }
    if isinstance(instance, ReportedPayment):
        return {
            "monto_pago": display.money_text(instance.amount, currency),
            "fecha_pago": instance.paid_on.strftime(DATE_FORMAT),
            "motivo": clause(instance.reject_reason),
        }
    if isinstance(instance, PaymentLink):
        paid_at = instance.paid_at or timezone.now()
        return {
            "monto_pago": display.money_text(instance.amount, currency),
            "fecha_pago": timezone.localtime(paid_at).strftime(DATE_FORMAT),
        }
    return {}


# What a reason may end with that a template's own sentence already ends with.
CLAUSE_ENDS = ".;,:…"


def clause(text: str) -> str:
    """Write a reason as a template says it inside its own sentence («Motivo: {motivo}.»):
    without the final period (or other closing mark) the agent may have typed, which the
    template's would double («legible..»)."""
    return (text or "").strip().rstrip(CLAUSE_ENDS + " ").strip()


# --- The settings screen -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What the screen chose for one event of one portfolio."""

    portfolio: str
    event: str
    template: MessageTemplate | None
    is_active: bool


def current_settings() -> dict[tuple[str, str], EventSetting]:
    """Return the stored settings by (portfolio, event)."""
    return {(s.portfolio, s.event): s for s in EventSetting.objects.select_related("template")}


@transaction.atomic
def save_event_settings(
    *, choices: list[Choice], actor: AbstractBaseUser | None = None
) -> list[EventSetting]:
    """Store what template each event sends, per portfolio; refuse a template of another
    portfolio, a switched-off template, a template that says another event's variable
    ({monto_pago} on a promise: it would go out blank), or an event switched on with
    nothing to send. Each setting changed goes into the settings history (old → new).

    Errors name the screen's field: `<portfolio>__<event>__template`.
    """
    errors: dict[str, list[str]] = {}
    for choice in choices:
        field = f"{choice.portfolio}__{choice.event}__template"
        known = choice.portfolio in Portfolio.values and choice.event in EventSetting.Event.values
        if not known:
            errors.setdefault(field, []).append(_("Evento desconocido."))
            continue
        template = choice.template
        if template is None:
            if choice.is_active:
                errors.setdefault(field, []).append(
                    _("Elija la plantilla que se envía, o desactive el evento.")
                )
            continue
        if template.portfolio != choice.portfolio:
            errors.setdefault(field, []).append(
                _("La plantilla «%(name)s» es de %(portfolio)s.")
                % {"name": template.name, "portfolio": template.get_portfolio_display().lower()}
            )
        if choice.is_active and not template.is_active:
            errors.setdefault(field, []).append(
                _("La plantilla «%(name)s» está inactiva: actívela o elija otra.")
                % {"name": template.name}
            )
        missing = variables.event_variables_missing(_names(template), choice.event)
        if missing:
            errors.setdefault(field, []).append(_foreign_variables(template, choice.event, missing))
    if errors:
        raise ValidationError(errors)
    stored = current_settings()
    saved = []
    for choice in choices:
        before = audit.snapshot(stored.get((choice.portfolio, choice.event)), SETTING_FIELDS)
        setting, created = EventSetting.objects.update_or_create(
            portfolio=choice.portfolio,
            event=choice.event,
            defaults={"template": choice.template, "is_active": choice.is_active},
        )
        after = audit.snapshot(setting, SETTING_FIELDS)
        if created:
            audit.log_addition(actor=actor, obj=setting, after=after)
        else:
            audit.log_change(actor=actor, obj=setting, before=before, after=after)
        saved.append(setting)
    return saved


# What the settings history says of an event setting.
SETTING_FIELDS = ("template", "is_active")


def _names(template: MessageTemplate) -> list[str]:
    """The variables a template's message says (an e-mail's subject too)."""
    subject = (
        templating.placeholders(template.subject)
        if template.channel == MessageTemplate.Channel.EMAIL
        else []
    )
    return [*subject, *templating.placeholders(template.body)]


def _foreign_variables(template: MessageTemplate, event: str, missing: list[str]) -> str:
    """Say that `template` says event variables `event` does not fill, and which it does."""
    filled = variables.EVENT_VARIABLES_OF.get(event, frozenset())
    if len(missing) == 1:
        text = _(
            "La plantilla «%(name)s» usa %(missing)s, que el evento «%(event)s» no tiene: el "
            "mensaje saldría con ese dato en blanco. Este evento tiene %(filled)s."
        )
    else:
        text = _(
            "La plantilla «%(name)s» usa %(missing)s, que el evento «%(event)s» no tiene: el "
            "mensaje saldría con esos datos en blanco. Este evento tiene %(filled)s."
        )
    return text % {
        "name": template.name,
        "missing": ", ".join("{" + name + "}" for name in missing),
        "event": EventSetting.Event(event).label,
        "filled": ", ".join(
            "{" + name + "}" for name in variables.EVENT_VARIABLES if name in filled
        ),
    }


# A year of holidays, twice over: more is a mistaken paste.
MAX_QUIET_DATES = 200
QUIET_DATE_NAME_LENGTH = 60


# The shortest time a day must keep for sending. One hour is the outbox's longest wait
# between two attempts (OUTBOX_BACKOFF_MAX_SECONDS): within a shorter window a message that
# failed once would next be tried in the silence, and a flow's message held to a few
# minutes' window that cannot be delivered that day ends failed, never sent days late.
# Anything shorter is taken for a typing slip (08:00 to 07:59 for 20:00 to 07:59).
MIN_SENDING_MINUTES = 60


def sending_minutes(quiet_start: time, quiet_end: time) -> int:
    """Return the minutes of a day outside the quiet hours (from their end to their start;
    equal times are no quiet hours: the whole day)."""
    start = quiet_start.hour * 60 + quiet_start.minute
    end = quiet_end.hour * 60 + quiet_end.minute
    return (start - end) % (24 * 60) or 24 * 60


def _duration(minutes: int) -> str:
    """Write minutes as a person says them: «45 minutos», «1 hora», «2 h 30 min»."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return ngettext("%(n)s minuto", "%(n)s minutos", rest) % {"n": rest}
    if not rest:
        return ngettext("%(n)s hora", "%(n)s horas", hours) % {"n": hours}
    return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}


def validate_policy(
    *,
    quiet_start: time,
    quiet_end: time,
    daily_limit: int,
    quiet_weekdays: list[int] | None = None,
    quiet_dates: list[list[str]] | None = None,
    has_no_quiet_hours: bool = False,
) -> None:
    """Refuse quiet hours that start when they end (unless there are to be none,
    `has_no_quiet_hours`) or leave less than MIN_SENDING_MINUTES a day to send, a daily
    limit outside 1–50, every weekday without messages, or holidays that are not
    [ISO date, name] pairs."""
    errors: dict[str, list[str]] = {}
    weekdays = quiet_weekdays or []
    if any(not isinstance(day, int) or not 0 <= day <= 6 for day in weekdays):
        errors["quiet_weekdays"] = [_("Elija los días de la lista.")]
    elif len(set(weekdays)) == 7:
        errors["quiet_weekdays"] = [
            _("Deje al menos un día de la semana con mensajes: si no, ninguno saldría.")
        ]
    dates = quiet_dates or []
    if len(dates) > MAX_QUIET_DATES:
        errors["quiet_dates"] = [_("Indique como máximo %(n)s feriados.") % {"n": MAX_QUIET_DATES}]
    elif not all(_is_quiet_date(row) for row in dates):
        errors["quiet_dates"] = [_("Indique cada feriado como una fecha y su nombre.")]
    if quiet_start == quiet_end and not has_no_quiet_hours:
        errors["quiet_end"] = [
            _("El silencio debe terminar a otra hora que la de inicio (p. ej. de 20:00 a 08:00).")
        ]
    elif sending_minutes(quiet_start, quiet_end) < MIN_SENDING_MINUTES:
        errors["quiet_end"] = [
            _(
                "Con silencio de %(start)s a %(end)s, el día tiene solo %(left)s para enviar "
                "mensajes: deje al menos %(least)s (p. ej., silencio de 20:00 a 08:00)."
            )
            % {
                "start": f"{quiet_start:%H:%M}",
                "end": f"{quiet_end:%H:%M}",
                "left": _duration(sending_minutes(quiet_start, quiet_end)),
                "least": _duration(MIN_SENDING_MINUTES),
            }
        ]
    if not MIN_DAILY_LIMIT <= daily_limit <= MAX_DAILY_LIMIT:
        errors["daily_limit"] = [
            _("Indique entre %(low)s y %(high)s mensajes por día y cliente.")
            % {"low": MIN_DAILY_LIMIT, "high": MAX_DAILY_LIMIT}
        ]
    if errors:
        raise ValidationError(errors)


# No quiet hours: start equal to end (crm.messages.quiet_hours_until reads it so).
NO_QUIET_HOURS = time(0)

# What the message policy screen edits (its form's fields, what saving writes).
POLICY_FIELDS = (
    "quiet_start",
    "quiet_end",
    "daily_limit",
    "quiet_weekdays",
    "quiet_dates",
    "is_sms_unaccented",
)


@transaction.atomic
def save_message_policy(
    *, data: Mapping[str, Any], actor: AbstractBaseUser | None = None
) -> MessagePolicy:
    """Change the quiet hours, the days without messages and the daily limit every
    message to customers keeps, and whether SMS go without accents («SMS sin tildes»);
    what changed goes into the settings history (old → new, who, when).

    `has_no_quiet_hours`: messages go out at any hour, stored as the policy always said it
    (start equal to end, as an empty MESSAGES_QUIET_HOURS makes it); the times are then
    not read.
    """
    no_quiet_hours = bool(data.get("has_no_quiet_hours"))
    if no_quiet_hours:
        quiet_start = quiet_end = NO_QUIET_HOURS
    else:
        quiet_start, quiet_end = data["quiet_start"], data["quiet_end"]
    validate_policy(
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        daily_limit=data["daily_limit"],
        quiet_weekdays=data.get("quiet_weekdays"),
        quiet_dates=data.get("quiet_dates"),
        has_no_quiet_hours=no_quiet_hours,
    )
    policy = MessagePolicy.current()
    before = _policy_snapshot(policy)
    policy.quiet_start = quiet_start
    policy.quiet_end = quiet_end
    policy.daily_limit = data["daily_limit"]
    policy.quiet_weekdays = sorted(set(data.get("quiet_weekdays") or []))
    policy.quiet_dates = sorted(data.get("quiet_dates") or [])
    policy.is_sms_unaccented = bool(data.get("is_sms_unaccented", policy.is_sms_unaccented))
    policy.save(update_fields=[*POLICY_FIELDS, "updated_at"])
    audit.log_change(actor=actor, obj=policy, before=before, after=_policy_snapshot(policy))
    return policy


WEEKDAY_NAMES = (
    _lazy("lunes"),
    _lazy("martes"),
    _lazy("miércoles"),
    _lazy("jueves"),
    _lazy("viernes"),
    _lazy("sábado"),
    _lazy("domingo"),
)


def _policy_snapshot(policy: MessagePolicy) -> audit.Snapshot:
    """The policy as its history shows it: weekdays by name, holidays as dd/mm/yyyy name."""
    weekdays = [
        str(WEEKDAY_NAMES[day]) if isinstance(day, int) and 0 <= day <= 6 else str(day)
        for day in policy.quiet_weekdays or []
    ]
    holidays = [
        _holiday_text(row) for row in policy.quiet_dates or [] if isinstance(row, list | tuple)
    ]
    return audit.snapshot(
        policy, POLICY_FIELDS, values={"quiet_weekdays": weekdays, "quiet_dates": holidays}
    )


def _holiday_text(row: list | tuple) -> str:
    day, name = [*row, "", ""][:2]
    parts = str(day).split("-")  # stored as an ISO date (validate_policy)
    return f"{'/'.join(reversed(parts))} {name}".strip()


def _is_quiet_date(row: Any) -> bool:
    if not isinstance(row, list | tuple) or len(row) != 2:
        return False
    day, name = row
    if not isinstance(name, str) or len(name) > QUIET_DATE_NAME_LENGTH:
        return False
    try:
        return date.fromisoformat(day).isoformat() == day
    except (TypeError, ValueError):
        return False
