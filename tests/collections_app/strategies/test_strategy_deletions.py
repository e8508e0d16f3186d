"""Deleting a segment, a message template or a flow leaves a record in the deletions audit,
with what it was, in the same transaction; a refused deletion leaves none."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import EventSetting, Flow, FlowStep, MessageTemplate, Segment
from collections_app.strategies import flows, segments, templating
from crm.models import DeletionRecord


def test_a_deleted_segment_is_recorded_with_its_rules(segment, cobranzas):
    segments.delete_segment(segment=segment, actor=cobranzas)

    assert not Segment.objects.exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.object_id, record.name, record.deleted_by) == (
        "segment",
        segment.pk,
        "Atraso de 1 a 30 días",
        cobranzas,
    )
    assert record.detail_items() == [("Regla", "Días de atraso: de 1 a 30")]


def test_a_segment_a_flow_uses_is_kept_and_leaves_no_record(segment, cobranzas):
    Flow.objects.create(name="Mora temprana", segment=segment)

    with pytest.raises(ValidationError):
        segments.delete_segment(segment=segment, actor=cobranzas)

    assert Segment.objects.filter(pk=segment.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_a_deleted_template_is_recorded_with_its_channel_and_text(sms_template, cobranzas):
    templating.delete_template(template=sms_template, actor=cobranzas)

    assert not MessageTemplate.objects.exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.name, record.deleted_by) == (
        "message_template",
        "Recordatorio SMS",
        cobranzas,
    )
    assert record.detail_items() == [
        ("Canal", "SMS"),
        ("Cartera", "Cartera vigente"),
        ("Texto", "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}."),
    ]


def test_a_template_an_event_sends_is_kept_and_leaves_no_record(sms_template, cobranzas):
    EventSetting.objects.create(portfolio="vigente", event="promise", template=sms_template)

    with pytest.raises(ValidationError):
        templating.delete_template(template=sms_template, actor=cobranzas)

    assert MessageTemplate.objects.filter(pk=sms_template.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_a_deleted_flow_is_recorded_with_its_segment_and_steps(segment, sms_template, cobranzas):
    flow = Flow.objects.create(name="Mora temprana", segment=segment)
    FlowStep.objects.create(flow=flow, day_offset=-3, template=sms_template)
    FlowStep.objects.create(flow=flow, day_offset=5, template=sms_template)

    flows.delete_flow(flow=flow, actor=cobranzas)

    assert not Flow.objects.exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.name, record.deleted_by) == ("flow", "Mora temprana", cobranzas)
    assert record.detail_items() == [
        ("Segmento", "Atraso de 1 a 30 días"),
        ("Estado", "Inactivo"),
        ("Paso, día \u22123", "Recordatorio SMS (SMS)"),
        ("Paso, día +5", "Recordatorio SMS (SMS)"),
        ("Historial eliminado", "0 ejecuciones"),
    ]


def test_a_flow_deleted_twice_is_recorded_once(segment, cobranzas):
    flow = Flow.objects.create(name="Mora temprana", segment=segment)
    stale = Flow.objects.get(pk=flow.pk)
    flows.delete_flow(flow=flow, actor=cobranzas)

    flows.delete_flow(flow=stale, actor=cobranzas)

    assert DeletionRecord.objects.count() == 1


def test_a_segment_deleted_on_its_screen_is_recorded(client, cobranzas, segment):
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:segment_delete", args=[segment.pk]), {"confirm": "yes"}
    )

    assert response.status_code == 302
    assert DeletionRecord.objects.get().kind == "segment"


def test_supervisors_read_the_strategies_deletions_by_their_names(
    client, supervisor, segment, sms_template
):
    segments.delete_segment(segment=segment, actor=supervisor)
    templating.delete_template(template=sms_template, actor=supervisor)
    client.force_login(supervisor)
    url = reverse("gestiones:deletion_list")

    everything = client.get(url)
    only_segments = client.get(url, {"tipo": "segment"})

    assertContains(everything, "Segmento de cobranza")
    assertContains(everything, "Plantilla de mensaje")
    assertContains(everything, "Días de atraso: de 1 a 30")
    assert [r.name for r in only_segments.context["page"]] == ["Atraso de 1 a 30 días"]
