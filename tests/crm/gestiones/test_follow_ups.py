import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from crm.gestiones import services
from crm.gestiones.models import FollowUp, Gestion, Outcome, RejectionReason
from crm.models import Interaction
from integrations.models import OutboxMessage
from tests.crm.gestiones.conftest import step
from tests.races import at_once

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def test_a_new_gestion_starts_in_the_initial_state_with_its_due_date(make_gestion, asesor):
    gestion = make_gestion(actor=asesor, now=NOW)

    assert gestion.state.name == "Creado"
    assert gestion.outcome == Outcome.OPEN
    assert gestion.due_at == NOW + datetime.timedelta(days=1)
    assert gestion.products.get().code == "consumo"
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.CREATED).count() == 1


def test_a_gestion_without_required_dynamic_data_is_refused(make_gestion, asesor):
    with pytest.raises(ValidationError) as error:
        make_gestion(actor=asesor, data={"destino": "Consumo"})

    assert "ingreso_mensual" in error.value.message_dict
    assert not Gestion.objects.exists()


def test_a_dynamic_value_of_the_wrong_type_is_refused(make_gestion, asesor):
    with pytest.raises(ValidationError) as error:
        make_gestion(actor=asesor, data={"ingreso_mensual": "mucho", "destino": "Consumo"})

    assert "ingreso_mensual" in error.value.message_dict


def test_an_allowed_action_moves_the_gestion_and_lands_on_the_timeline(make_gestion, asesor):
    gestion = make_gestion(actor=asesor, now=NOW)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    later = NOW + datetime.timedelta(hours=3)

    follow_up = services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result, notes="OK", now=later
    )

    gestion.refresh_from_db()
    assert gestion.state.name == "Pre estudio"
    assert gestion.state_entered_at == later
    assert gestion.due_at == later + datetime.timedelta(days=2)
    assert follow_up.from_state.name == "Creado" and follow_up.state.name == "Pre estudio"
    entry = Interaction.objects.filter(kind=Interaction.Kind.FOLLOW_UP).first()
    assert "Revisar documentos → Documentos completos" in entry.summary
    assert "Creado → Pre estudio" in entry.summary


def test_an_action_not_allowed_in_the_current_state_is_refused(make_gestion, asesor):
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Desembolsar", "Desembolso realizado")

    with pytest.raises(ValidationError) as error:
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    assert "no está permitida en el estado «Creado»" in str(error.value)
    gestion.refresh_from_db()
    assert gestion.state.name == "Creado"
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.STEP).count() == 0


def test_a_result_of_another_action_is_refused(make_gestion, asesor):
    gestion = make_gestion(actor=asesor)
    action, _ = step(gestion, "Revisar documentos", "Documentos completos")
    _, other = step(gestion, "Desembolsar", "Desembolso realizado")

    with pytest.raises(ValidationError):
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=other)


def test_a_result_that_keeps_the_state_records_the_step_only(make_gestion, asesor):
    gestion = make_gestion(actor=asesor, now=NOW)
    action, result = step(gestion, "Contactar al cliente", "No contesta")

    services.record_follow_up(
        gestion=gestion,
        actor=asesor,
        action=action,
        result=result,
        now=NOW + datetime.timedelta(hours=1),
    )

    gestion.refresh_from_db()
    assert gestion.state.name == "Creado"
    assert gestion.due_at == NOW + datetime.timedelta(days=1)
    assert gestion.last_follow_up_at == NOW + datetime.timedelta(hours=1)


@pytest.mark.django_db(transaction=True)
def test_the_same_step_sent_twice_at_once_is_recorded_once(roles, make_gestion, asesor):
    """A double click on «No contesta»: it moves nothing, so both were recorded."""
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Contactar al cliente", "No contesta")

    def record():
        return services.record_follow_up(
            gestion=Gestion.objects.get(pk=gestion.pk), actor=asesor, action=action, result=result
        )

    done, errors = at_once(record, record)

    assert errors == []
    assert done[0].pk == done[1].pk
    assert gestion.follow_ups.filter(result=result).count() == 1


def test_the_same_step_with_the_same_files_sent_twice_is_recorded_once(make_gestion, asesor):
    # The guard skipped steps with files: a double click filed two steps, two copies each.
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Contactar al cliente", "No contesta")

    def record(*names):
        return services.record_follow_up(
            gestion=gestion,
            actor=asesor,
            action=action,
            result=result,
            files=[ContentFile(b"%PDF-1.4", name=name) for name in names],
        )

    first = record("dni.pdf", "boleta.pdf")
    again = record("boleta.pdf", "dni.pdf")
    other = record("recibo.pdf")

    assert again.pk == first.pk
    assert other.pk != first.pk
    assert gestion.follow_ups.filter(result=result).count() == 2


def test_the_same_step_a_while_later_is_another_step(make_gestion, asesor):
    gestion = make_gestion(actor=asesor, now=NOW)
    action, result = step(gestion, "Contactar al cliente", "No contesta")
    for minutes in (10, 40):
        services.record_follow_up(
            gestion=gestion,
            actor=asesor,
            action=action,
            result=result,
            now=NOW + datetime.timedelta(minutes=minutes),
        )

    assert gestion.follow_ups.filter(result=result).count() == 2


def _to_study(gestion, asesor):
    for action_name, result_name in [
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ]:
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)


def test_a_rejection_needs_a_reason_of_the_type(make_gestion, asesor, service_type):
    gestion = make_gestion(actor=asesor)
    _to_study(gestion, asesor)
    action, result = step(gestion, "Resolver análisis", "Rechazado por comité")

    with pytest.raises(ValidationError) as error:
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    assert "rejection_reason" in error.value.message_dict

    foreign = RejectionReason.objects.create(gestion_type=service_type, name="Otro tipo")
    with pytest.raises(ValidationError):
        services.record_follow_up(
            gestion=gestion, actor=asesor, action=action, result=result, rejection_reason=foreign
        )

    reason = gestion.gestion_type.rejection_reasons.get(name="Baja capacidad")
    services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result, rejection_reason=reason
    )
    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.REJECTED
    assert gestion.rejection_reason == reason
    assert gestion.closed_at is not None
    assert gestion.due_at is None


def test_a_closed_gestion_accepts_no_more_steps(make_gestion, asesor):
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    action, result = step(gestion, "Contactar al cliente", "Contactado")
    with pytest.raises(ValidationError) as error:
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    assert "está cerrada" in str(error.value)


def test_approving_records_the_approved_amount(make_gestion, asesor):
    gestion = make_gestion(actor=asesor, amount_requested=Decimal("12000.00"))
    _to_study(gestion, asesor)
    action, result = step(gestion, "Resolver análisis", "Aprobado")

    services.record_follow_up(
        gestion=gestion,
        actor=asesor,
        action=action,
        result=result,
        amount_approved=Decimal("10000.50"),
    )

    gestion.refresh_from_db()
    assert gestion.amount_approved == Decimal("10000.50")
    assert gestion.state.name == "Aprobado análisis"


def test_a_result_that_alerts_the_customer_emails_them(
    make_gestion, asesor, customer, mailoutbox, django_capture_on_commit_callbacks
):
    customer.email = "rosa@example.com"
    customer.save()
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Faltan documentos")

    with django_capture_on_commit_callbacks(execute=True):
        follow_up = services.record_follow_up(
            gestion=gestion, actor=asesor, action=action, result=result
        )

    assert follow_up.is_customer_alerted
    sent = [m for m in mailoutbox if m.to == ["rosa@example.com"]]
    assert len(sent) == 1
    assert f"solicitud n.º {gestion.pk}" in sent[0].body
    assert "Rosa Huamán Torres" in sent[0].body
    assert Interaction.objects.filter(
        customer=customer, kind=Interaction.Kind.EMAIL, direction=Interaction.Direction.OUTBOUND
    ).exists()
    entry = customer.interactions.get(kind=Interaction.Kind.EMAIL)
    assert entry.summary == f"Correo enviado: {sent[0].subject}"


def test_an_alert_is_on_the_timeline_as_queued_until_it_goes_out(
    make_gestion, asesor, customer, mailoutbox
):
    customer.email = "rosa@example.com"
    customer.save()
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Faltan documentos")

    # Not committed: the outbox has not sent it yet.
    follow_up = services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result
    )

    assert follow_up.is_customer_alerted
    assert mailoutbox == []
    entry = customer.interactions.get(kind=Interaction.Kind.EMAIL)
    assert entry.summary.startswith("Correo en cola: Su gestión n.º")


def test_a_result_that_does_not_alert_sends_nothing_to_the_customer(
    make_gestion, asesor, customer, mailoutbox, django_capture_on_commit_callbacks
):
    customer.email = "rosa@example.com"
    customer.save()
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    with django_capture_on_commit_callbacks(execute=True):
        follow_up = services.record_follow_up(
            gestion=gestion, actor=asesor, action=action, result=result
        )

    assert not follow_up.is_customer_alerted
    assert not [m for m in mailoutbox if m.to == ["rosa@example.com"]]


def test_a_customer_without_email_is_not_alerted_and_the_timeline_says_so(
    make_gestion, asesor, customer
):
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Faltan documentos")

    follow_up = services.record_follow_up(
        gestion=gestion, actor=asesor, action=action, result=result
    )

    assert not follow_up.is_customer_alerted
    assert Interaction.objects.filter(
        customer=customer, summary__contains="no tiene correo registrado"
    ).exists()
    assert not customer.interactions.filter(kind=Interaction.Kind.EMAIL).exists()
    assert not OutboxMessage.objects.exists()


def test_the_customer_message_cannot_reach_python_attributes(make_gestion):
    assert services.fill(
        "{cliente} {x.__class__} {gestion}", {"cliente": "Rosa", "gestion": 7}
    ) == ("Rosa {x.__class__} 7")


def test_a_follow_up_stores_its_attachments(make_gestion, asesor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    follow_up = services.record_follow_up(
        gestion=gestion,
        actor=asesor,
        action=action,
        result=result,
        files=[ContentFile(b"%PDF-1.4 boleta", name="boleta.pdf")],
    )

    attachment = follow_up.attachments.get()
    assert attachment.name == "boleta.pdf"
    assert attachment.file.read() == b"%PDF-1.4 boleta"


def test_a_follow_up_with_a_too_big_file_stores_nothing(make_gestion, asesor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    big = ContentFile(b"x" * (services.MAX_ATTACHMENT_BYTES + 1), name="enorme.pdf")

    with pytest.raises(ValidationError):
        services.record_follow_up(
            gestion=gestion, actor=asesor, action=action, result=result, files=[big]
        )

    gestion.refresh_from_db()
    assert gestion.state.name == "Creado"
