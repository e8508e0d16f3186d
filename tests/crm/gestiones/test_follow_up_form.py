"""The follow-up form on a gestión's page: reloading it for another action keeps what was
typed, and a result that ends the gestión asks (on a page of the server's) before it is
recorded."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm.gestiones import examples, selectors, services
from crm.gestiones.models import FollowUp, Gestion, Outcome, Survey
from tests.browser.pages import sign_in
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, UserFactory

HTMX = {"HX-Request": "true"}
OPTION = re.compile(r'<option value="(\d+)"([^>]*)>')


def follow_up_url(gestion: Gestion) -> str:
    return reverse("gestiones:follow_up", args=[gestion.pk])


def questions(html: str) -> dict[int, str | None]:
    """Return each result option's data-confirm (None without one), by the result's pk."""
    result_select = html[html.index('name="result"') :]
    result_select = result_select[: result_select.index("</select>")]
    questions = {}
    for pk, attrs in OPTION.findall(result_select):
        found = re.search(r'data-confirm="([^"]*)"', attrs)
        questions[int(pk)] = found.group(1) if found else None
    return questions


def in_study(gestion: Gestion, agent) -> Gestion:
    """Take a new credit application to «En estudio», where the committee resolves it."""
    for action_name, result_name in [
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ]:
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(gestion=gestion, actor=agent, action=action, result=result)
    return gestion


# --- Reloading for another action ---------------------------------------------------------


def test_choosing_an_action_keeps_what_was_typed_and_shows_no_errors(client, make_gestion, asesor):
    gestion = in_study(make_gestion(agent=asesor), asesor)
    action, _ = step(gestion, "Resolver análisis", "Aprobado")
    client.force_login(asesor)

    response = client.post(
        follow_up_url(gestion),
        {
            "action": action.pk,
            "result": "",
            "amount_approved": "8500.50",
            "dyn_comentario_comite": "Buen historial",
            "notes": "Llamó a las 9; envía boletas el lunes",
            "reload": "1",
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    assertTemplateUsed(response, "gestiones/partials/follow_up_form.html")
    assertContains(response, "Aprobado → Aprobado análisis")  # the action's results
    assertContains(response, "Llamó a las 9; envía boletas el lunes</textarea>")
    assertContains(response, 'value="8500.50"')
    assertContains(response, "Buen historial</textarea>")
    assertNotContains(response, "No se registró el seguimiento")
    assertNotContains(response, "is-invalid")
    assert not gestion.follow_ups.filter(action=action).exists()


def test_without_javascript_the_reload_button_keeps_what_was_typed_in_the_page(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    action, _ = step(gestion, "Contactar al cliente", "Contactado")
    client.force_login(asesor)

    response = client.post(
        follow_up_url(gestion), {"action": action.pk, "notes": "Sin respuesta", "reload": "1"}
    )

    assertTemplateUsed(response, "gestiones/gestion_detail.html")
    assertContains(response, "Sin respuesta</textarea>")
    assertContains(response, '<button type="submit" name="reload" value="1"')
    assertNotContains(response, "No se registró el seguimiento")
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.STEP).count() == 0


def test_a_reload_keeps_the_chosen_result_of_the_same_action(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, result = step(gestion, "Contactar al cliente", "No contesta")
    client.force_login(asesor)

    response = client.post(
        follow_up_url(gestion), {"action": action.pk, "result": result.pk, "reload": "1"}
    )

    assert response.context["form"]["result"].value() == str(result.pk)


# --- Asking before a result that ends the gestión ---------------------------------------
# The question is a page of the server's (views._confirm_closing), with or without
# JavaScript; tests/crm/gestiones/test_closing_confirmation.py has the rest.


def test_only_the_result_that_closes_the_gestion_asks_first(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    _, reached = step(gestion, "Contactar al cliente", "Contactado")
    client.force_login(asesor)

    asked = client.post(follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk})
    recorded = client.post(follow_up_url(gestion), {"action": action.pk, "result": reached.pk})

    assertTemplateUsed(asked, "gestiones/confirm_step.html")
    assertContains(asked, f"¿Cerrar la gestión #{gestion.pk}?")
    assertContains(
        asked,
        f"La gestión #{gestion.pk} pasa a «Desistido» (Cerrada) y queda cerrada: después no "
        "admite más seguimientos.",
    )
    assert recorded.status_code == 302  # «Contactado» keeps it open: recorded at once
    assert list(
        gestion.follow_ups.filter(kind=FollowUp.Kind.STEP).values_list("result", flat=True)
    ) == [reached.pk]


def test_a_rejection_that_alerts_the_customer_says_so(client, make_gestion, asesor, customer):
    customer.email = "rosa@example.com"
    customer.save()
    gestion = in_study(make_gestion(agent=asesor), asesor)
    action, rejected = step(gestion, "Resolver análisis", "Rechazado por comité")
    reason = gestion.gestion_type.rejection_reasons.first()
    client.force_login(asesor)

    response = client.post(
        follow_up_url(gestion),
        {"action": action.pk, "result": rejected.pk, "rejection_reason": reason.pk},
    )

    assertContains(response, f"¿Rechazar la gestión #{gestion.pk}?")
    assertContains(response, "«Rechazado comité de crédito» (Rechazada)")
    assertContains(response, "Se avisa al cliente por correo.")
    assertContains(response, "Sí, rechazar la gestión")
    assert gestion.follow_ups.filter(result=rejected).count() == 0


@pytest.mark.parametrize(
    ("email", "has_opted_out"),
    [("", False), ("rosa@example.com", True)],
    ids=["no-email", "opted-out"],
)
def test_the_question_promises_no_alert_the_customer_will_not_get(
    client, make_gestion, asesor, customer, email, has_opted_out
):
    customer.email = email
    customer.has_opted_out = has_opted_out
    customer.save()
    gestion = in_study(make_gestion(agent=asesor), asesor)
    action, rejected = step(gestion, "Resolver análisis", "Rechazado por comité")
    reason = gestion.gestion_type.rejection_reasons.first()
    client.force_login(asesor)

    response = client.post(
        follow_up_url(gestion),
        {"action": action.pk, "result": rejected.pk, "rejection_reason": reason.pk},
    )

    assertContains(response, f"¿Rechazar la gestión #{gestion.pk}?")
    assertNotContains(response, "avisa al cliente")


def test_a_closing_that_sends_the_survey_says_the_customer_is_told(
    client, make_gestion, asesor, customer, credit_type
):
    customer.email = "rosa@example.com"
    customer.save()
    credit_type.survey = Survey.objects.create(name="Satisfacción")
    credit_type.save()
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)

    response = client.post(follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk})

    assertContains(response, "Se avisa al cliente por correo.")


def test_the_form_asks_nothing_in_the_browser_alone(client, make_gestion, asesor):
    """No data-confirm on the results any more: one question, the server's page."""
    gestion = make_gestion(agent=asesor)
    action, _ = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)

    response = client.post(follow_up_url(gestion), {"action": action.pk, "reload": "1"})

    assert set(questions(response.content.decode()).values()) == {None}


def test_without_javascript_a_closing_result_asks_first_and_then_closes(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)

    first = client.post(follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk})
    gestion.refresh_from_db()
    open_after_first = gestion.outcome
    second = client.post(
        follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk, "confirm": "yes"}
    )

    assert first.status_code == 200
    assert open_after_first == Outcome.OPEN
    assert second.status_code == 302
    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.CLOSED


# --- In the browser ----------------------------------------------------------------------


def test_in_the_browser_notes_survive_the_action_and_closing_asks_first(
    page: Page, live_server, roles
):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        agent=advisor,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")
    page.get_by_label("Notas").fill("El cliente ya no necesita el crédito")

    page.get_by_label("Acción").select_option(label="Contactar al cliente")
    result = page.get_by_label("Resultado")
    expect(result.locator("option", has_text="Desiste de la solicitud")).to_have_count(1)
    expect(page.get_by_label("Notas")).to_have_value("El cliente ya no necesita el crédito")
    result.select_option(label="Desiste de la solicitud → Desistido")
    page.get_by_role("button", name="Registrar seguimiento").click()

    # The server asks; going back keeps what was typed.
    expect(page.get_by_role("heading", name=f"¿Cerrar la gestión #{gestion.pk}?")).to_be_visible()
    assert Gestion.objects.get(pk=gestion.pk).outcome == Outcome.OPEN
    page.get_by_role("button", name="No, volver al formulario").click()
    expect(page.get_by_label("Notas")).to_have_value("El cliente ya no necesita el crédito")
    assert Gestion.objects.get(pk=gestion.pk).outcome == Outcome.OPEN

    page.get_by_role("button", name="Registrar seguimiento").click()
    page.get_by_role("button", name="Sí, cerrar la gestión").click()

    expect(page.locator("#messages")).to_contain_text("La gestión pasó a «Desistido»")
    assert Gestion.objects.get(pk=gestion.pk).outcome == Outcome.CLOSED


# --- The approved amount ----------------------------------------------------------------------


def test_a_credit_application_asks_for_the_approved_amount(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    assertContains(
        client.get(reverse("gestiones:detail", args=[gestion.pk])), 'name="amount_approved"'
    )


def test_a_service_request_neither_asks_for_nor_keeps_an_approved_amount(
    client, make_gestion, service_type, asesor
):
    gestion = make_gestion(gestion_type=service_type, agent=asesor, data={"categoria": "Reclamo"})
    action = selectors.allowed_actions(gestion)[0]
    result = action.results.first()
    client.force_login(asesor)

    page = client.get(reverse("gestiones:detail", args=[gestion.pk]))
    client.post(
        follow_up_url(gestion),
        {"action": action.pk, "result": result.pk, "amount_approved": "123", "notes": "Listo"},
    )

    assertNotContains(page, 'name="amount_approved"')
    gestion.refresh_from_db()
    assert gestion.follow_ups.filter(action=action).exists()
    assert gestion.amount_approved is None
