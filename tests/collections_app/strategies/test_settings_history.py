"""Every change to the strategies' settings leaves who, when and old → new (DG 5).

The message policy, the events settings, templates, segments and flows write one row of
Django admin's history (LogEntry) per change, saying «campo: antes → después» as a person
reads it; nothing when nothing changed.
"""

from datetime import time

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from collections_app.models import EventSetting, Flow, MessageTemplate, Segment
from collections_app.strategies import events, flows, segments, templating
from crm.models import MessagePolicy
from tests.collections_app.strategies.conftest import make_template
from tests.factories import TagFactory


def entries(model) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model)).order_by(
            "pk"
        )
    )


def policy_data(**changes) -> dict:
    policy = MessagePolicy.current()
    return {
        "quiet_start": policy.quiet_start,
        "quiet_end": policy.quiet_end,
        "daily_limit": policy.daily_limit,
        "quiet_weekdays": policy.quiet_weekdays,
        "quiet_dates": policy.quiet_dates,
        "is_sms_unaccented": policy.is_sms_unaccented,
        **changes,
    }


def test_a_message_policy_change_says_who_and_old_and_new_values(supervisor):
    events.save_message_policy(
        data=policy_data(quiet_start=time(20), quiet_end=time(8), daily_limit=3), actor=supervisor
    )
    LogEntry.objects.all().delete()

    events.save_message_policy(
        data=policy_data(
            quiet_start=time(21),
            daily_limit=5,
            quiet_weekdays=[6],
            quiet_dates=[["2026-12-25", "Navidad"]],
        ),
        actor=supervisor,
    )

    [entry] = entries(MessagePolicy)
    assert entry.user == supervisor
    assert entry.action_flag == CHANGE
    message = entry.get_change_message()
    assert "silencio desde: 20:00 → 21:00" in message
    assert "mensajes por día y cliente: 3 → 5" in message
    assert "días de la semana sin mensajes: (vacío) → domingo" in message
    assert "feriados sin mensajes: (vacío) → 25/12/2026 Navidad" in message
    assert "silencio hasta" not in message


def test_saving_the_policy_unchanged_writes_no_history(supervisor):
    events.save_message_policy(
        data=policy_data(quiet_start=time(20), quiet_end=time(8)), actor=supervisor
    )
    LogEntry.objects.all().delete()

    events.save_message_policy(data=policy_data(), actor=supervisor)

    assert entries(MessagePolicy) == []


def test_a_template_change_names_the_channel_by_its_label(cobranzas):
    template = make_template()

    templating.save_template(
        data={
            "channel": MessageTemplate.Channel.EMAIL,
            "subject": "Su cuota",
            "body": "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}.",
        },
        template=template,
        actor=cobranzas,
    )

    [entry] = entries(MessageTemplate)
    assert entry.user == cobranzas
    assert entry.object_id == str(template.pk)
    assert "canal: SMS → Correo" in entry.get_change_message()
    assert "asunto: (vacío) → Su cuota" in entry.get_change_message()


def test_creating_and_deleting_a_template_are_recorded(cobranzas):
    template = make_template()
    templating.save_template(
        data={
            "name": "Aviso corto",
            "channel": MessageTemplate.Channel.SMS,
            "portfolio": "vigente",
            "body": "Hola {nombre}.",
            "is_active": True,
        },
        actor=cobranzas,
    )
    created = MessageTemplate.objects.get(name="Aviso corto")

    templating.delete_template(template=template, actor=cobranzas)

    added, deleted = entries(MessageTemplate)
    assert (added.action_flag, added.object_id) == (ADDITION, str(created.pk))
    assert (deleted.action_flag, deleted.object_id) == (DELETION, str(template.pk))
    assert "Recordatorio SMS" in deleted.get_change_message()


def test_an_events_setting_change_says_the_template_before_and_after(cobranzas):
    first = make_template(name="Promesa A", body="Hola {nombre}.")
    second = make_template(name="Promesa B", body="Hola {nombre_completo}.")
    choice = events.Choice(
        portfolio="vigente", event=EventSetting.Event.PROMISE, template=first, is_active=True
    )
    events.save_event_settings(choices=[choice], actor=cobranzas)

    events.save_event_settings(
        choices=[
            events.Choice(
                portfolio="vigente",
                event=EventSetting.Event.PROMISE,
                template=second,
                is_active=False,
            )
        ],
        actor=cobranzas,
    )
    events.save_event_settings(
        choices=[
            events.Choice(
                portfolio="vigente",
                event=EventSetting.Event.PROMISE,
                template=second,
                is_active=False,
            )
        ],
        actor=cobranzas,
    )

    added, changed = entries(EventSetting)
    assert added.action_flag == ADDITION
    assert changed.get_change_message() == "plantilla: Promesa A → Promesa B; activo: Sí → No"


def test_a_segment_change_names_its_tags_and_numbers(cobranzas):
    TagFactory(name="VIP")
    tag = TagFactory(name="Moroso")
    segment = segments.save_segment(
        data={"name": "Atraso", "min_days_past_due": 1, "max_days_past_due": 30},
        actor=cobranzas,
    )

    segments.save_segment(
        data={
            "name": "Atraso",
            "min_days_past_due": 5,
            "max_days_past_due": 30,
            "buckets": ["1_30"],
            "tags": [tag],
        },
        actor=cobranzas,
        segment=segment,
    )

    added, changed = entries(Segment)
    assert added.action_flag == ADDITION
    message = changed.get_change_message()
    assert ": 1 → 5" in message
    assert "(vacío) → Moroso" in message
    assert "(vacío) → 1–30 días" in message
    assert "VIP" not in message


def test_a_flow_saved_switched_on_and_deleted_leaves_each_step(cobranzas, segment, sms_template):
    other = make_template(name="Otro SMS", body="Hola {nombre}.")
    flow = flows.save_flow(
        flow=None,
        name="Recordatorios",
        description="",
        segment=segment,
        steps=[flows.StepData(step=None, day_offset=-3, template=sms_template)],
        removed=[],
        actor=cobranzas,
    )
    flows.save_flow(
        flow=flow,
        name="Recordatorios",
        description="",
        segment=segment,
        steps=[
            flows.StepData(step=flow.steps.get(), day_offset=-3, template=sms_template),
            flows.StepData(step=None, day_offset=2, template=other),
        ],
        removed=[],
        actor=cobranzas,
    )
    flows.set_active(flow=flow, is_active=True, actor=cobranzas)

    flows.delete_flow(flow=flow, actor=cobranzas)

    added, changed, switched, deleted = entries(Flow)
    assert added.action_flag == ADDITION
    assert "Otro SMS" in changed.get_change_message()
    assert "→" in changed.get_change_message()
    assert switched.get_change_message() == "activo: No → Sí"
    assert deleted.action_flag == DELETION


def test_a_change_by_the_system_writes_no_history(db):
    template = make_template()

    templating.save_template(data={"body": "Hola {nombre}."}, template=template, actor=None)

    assert entries(MessageTemplate) == []
