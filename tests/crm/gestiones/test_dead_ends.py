"""No dead ends: after a hand-over, a closing, a document or a configuration hint, the user
knows where things went and what is missing."""

import io
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from docx import Document
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import services
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import FollowUp, GestionState, Outcome, StateAgent
from tests.crm.gestiones.conftest import step
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def only_agent(gestion_type, state_name: str, agent) -> None:
    """Leave `agent` as the only one working `state_name` (another area's agent)."""
    state = GestionState.objects.get(gestion_type=gestion_type, name=state_name)
    StateAgent.objects.filter(state=state).exclude(agent=agent).update(is_active=False)
    StateAgent.objects.update_or_create(state=state, agent=agent, defaults={"is_active": True})


def test_a_gestion_handed_to_another_area_sends_its_recorder_to_their_work_saying_where(
    client, make_gestion, asesor, credit_type
):
    analyst = UserFactory(username="analista", first_name="Inés", last_name="Paz", role="Asesor")
    only_agent(credit_type, "Pre estudio", analyst)
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("gestiones:my_work")
    told = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("«Pre estudio», a cargo de Inés Paz" in m for m in told), told


def test_a_gestion_still_visible_after_the_follow_up_goes_back_to_its_page(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk},
    )

    assert response["Location"] == gestion.get_absolute_url()


def test_closing_as_successful_with_required_data_missing_is_refused_naming_the_fields(
    make_gestion, asesor, credit_type
):
    gestion = make_gestion(agent=asesor, data={}, require_data=False)
    gestion.state = GestionState.objects.get(gestion_type=credit_type, name="Aprobado análisis")
    gestion.save()
    action, result = step(gestion, "Desembolsar", "Desembolso realizado")

    with pytest.raises(ValidationError) as refused:
        services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    assert "Ingreso mensual, Destino del crédito" in refused.value.messages[0]
    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.OPEN


def test_closing_as_successful_with_the_data_complete_goes_through(
    make_gestion, asesor, credit_type
):
    gestion = make_gestion(agent=asesor)
    gestion.state = GestionState.objects.get(gestion_type=credit_type, name="Aprobado análisis")
    gestion.save()
    action, result = step(gestion, "Desembolsar", "Desembolso realizado")

    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)

    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.SUCCESS


def docx_with(*paragraphs: str) -> bytes:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_document_that_would_print_blanks_is_refused_naming_them(
    make_gestion, asesor, credit_type
):
    gestion = make_gestion(agent=asesor, amount_requested=Decimal("1000.00"))
    note = document_services.create_template(
        name="Pagaré",
        file=SimpleUploadedFile(
            "pagare.docx",
            docx_with(
                "Debo y pagaré la suma de {{ credito.moneda }} {{ credito.capital }} "
                "({{ credito.capital_letras }}).",
                "{% if credito.vehiculo_placa %}Placa {{ credito.vehiculo_placa }}.{% endif %}",
            ),
        ),
        gestion_types=[credit_type],
    )

    with pytest.raises(ValidationError) as refused:
        document_services.generate_document(gestion=gestion, template=note, actor=asesor)

    message = refused.value.messages[0]
    for name in ("credito.moneda", "credito.capital", "credito.capital_letras"):
        assert "{{ " + name + " }}" in message
    assert "credito.vehiculo_placa" not in message  # only printed inside its own {% if %}
    assert "Vincule a la gestión el crédito" in message
    assert not FollowUp.objects.filter(gestion=gestion, kind=FollowUp.Kind.DOCUMENT).exists()


def test_a_supervisor_is_told_who_configures_life_cycle_events(client, supervisor):
    UserFactory(
        username="jefa",
        first_name="Ana",
        last_name="Administradora",
        is_staff=True,
        role="Administrador",
    )
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:lifecycle"))

    assertContains(response, "que usted no puede abrir")
    assertContains(response, "Ana Administradora")
    assertNotContains(response, reverse("admin:gestiones_lifecycleevent_changelist"))


def test_an_administrator_gets_the_link_to_configure_life_cycle_events(db, client):
    admin = UserFactory(username="jefa", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.get(reverse("gestiones:lifecycle"))

    assertContains(response, reverse("admin:gestiones_lifecycleevent_changelist"))
