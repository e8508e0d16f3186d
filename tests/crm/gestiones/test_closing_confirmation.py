"""A follow-up whose result closes the gestión (and may cancel its application's loan) is
asked on a page of the server's first: the first POST records nothing and shows what will
happen, with what was typed in hidden fields; only that page's form, with the confirm field,
records it. Without JavaScript, from a stale page or with Enter, it closed at once."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from playwright.sync_api import Browser, expect
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.models import Loan
from crm.gestiones import examples, services
from crm.gestiones.models import FollowUp, Gestion, Outcome
from lib.confirmation import CONFIRM_FIELD, CONFIRMED
from tests.browser.pages import sign_in
from tests.crm.gestiones.conftest import step
from tests.crm.gestiones.test_applications import approve, receive
from tests.factories import CustomerFactory, UserFactory

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def follow_up_url(gestion) -> str:
    return reverse("gestiones:follow_up", args=[gestion.pk])


def hidden_fields(response) -> list[tuple[str, str]]:
    return HIDDEN.findall(response.content.decode())


def confirmed(data: dict) -> dict:
    return {**data, CONFIRM_FIELD: CONFIRMED}


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_withdrawing_an_approved_application_names_the_loan_it_cancels(
    client, credit_type, lead, asesor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)
    data = {"action": action.pk, "result": gives_up.pk, "notes": "Consiguió otro préstamo"}

    asked = client.post(follow_up_url(gestion), data)

    assertTemplateUsed(asked, "gestiones/confirm_step.html")
    assertContains(asked, f"¿Cerrar la gestión #{gestion.pk}?")
    assertContains(asked, "«Desistido» (Cerrada) y queda cerrada")
    assertContains(
        asked,
        f"El crédito {loan.payment_code} (Borrador) de la solicitud se anula: ya no se podrá "
        "firmar ni desembolsar.",
    )
    loan.refresh_from_db()
    gestion.refresh_from_db()
    assert (loan.status, gestion.outcome) == (Loan.Status.DRAFT, Outcome.OPEN)
    assert not gestion.follow_ups.filter(result=gives_up).exists()

    done = client.post(follow_up_url(gestion), confirmed(data), follow=True)

    loan.refresh_from_db()
    gestion.refresh_from_db()
    assert (loan.status, gestion.outcome) == (Loan.Status.CANCELLED, Outcome.CLOSED)
    assert (
        "Seguimiento registrado: Contactar al cliente → Desiste de la solicitud. La gestión "
        f"pasó a «Desistido». El crédito {loan.payment_code} quedó anulado."
    ) in shown(done)


def test_a_closing_without_a_loan_to_cancel_names_none(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)

    asked = client.post(follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk})

    assertContains(asked, f"¿Cerrar la gestión #{gestion.pk}?")
    assertNotContains(asked, "se anula")


def test_the_confirmation_sends_again_what_was_typed(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ):
        action, result = step(gestion, action_name, result_name)
        client.force_login(asesor)
        client.post(follow_up_url(gestion), {"action": action.pk, "result": result.pk})
    action, rejected = step(gestion, "Resolver análisis", "Rechazado por comité")
    reason = gestion.gestion_type.rejection_reasons.get(name="Sobre endeudado")
    data = {
        "action": str(action.pk),
        "result": str(rejected.pk),
        "rejection_reason": str(reason.pk),
        "dyn_comentario_comite": "Deuda alta en <otras> entidades",
        "notes": 'Revisado "en comité" el lunes',
    }

    asked = client.post(follow_up_url(gestion), data)

    assertContains(asked, f"¿Rechazar la gestión #{gestion.pk}?")
    assertContains(asked, "Sobre endeudado")
    carried = dict(hidden_fields(asked))
    carried.pop("csrfmiddlewaretoken", None)  # the page's own
    assert carried.pop(CONFIRM_FIELD) == CONFIRMED  # the page's own button adds it
    assert carried == {
        "action": str(action.pk),
        "result": str(rejected.pk),
        "rejection_reason": str(reason.pk),
        "dyn_comentario_comite": "Deuda alta en &lt;otras&gt; entidades",
        "notes": "Revisado &quot;en comité&quot; el lunes",
    }

    client.post(follow_up_url(gestion), confirmed(data))

    gestion.refresh_from_db()
    follow_up = gestion.follow_ups.get(result=rejected)
    assert gestion.outcome == Outcome.REJECTED
    assert gestion.rejection_reason == reason
    assert follow_up.notes == 'Revisado "en comité" el lunes'
    assert follow_up.data["comentario_comite"] == "Deuda alta en <otras> entidades"


def test_a_rejection_without_its_reason_is_said_before_asking(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ):
        action, result = step(gestion, action_name, result_name)
        client.force_login(asesor)
        client.post(follow_up_url(gestion), {"action": action.pk, "result": result.pk})
    action, rejected = step(gestion, "Resolver análisis", "Rechazado por comité")

    response = client.post(follow_up_url(gestion), {"action": action.pk, "result": rejected.pk})

    assertTemplateUsed(response, "gestiones/gestion_detail.html")
    assertContains(response, "Indique el motivo de rechazo.")
    assertNotContains(response, "¿Rechazar la gestión")


def test_files_chosen_before_the_question_are_asked_for_again(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)
    data = {"action": action.pk, "result": gives_up.pk}

    asked = client.post(
        follow_up_url(gestion),
        {**data, "files": SimpleUploadedFile("carta.pdf", b"%PDF-1.7 carta")},
    )

    assertContains(asked, "Los archivos elegidos no pasan a esta página")
    assertContains(asked, "(carta.pdf)")
    assertContains(asked, 'enctype="multipart/form-data"')
    assertContains(asked, 'type="file" name="files"')

    client.post(
        follow_up_url(gestion),
        confirmed({**data, "files": SimpleUploadedFile("carta.pdf", b"%PDF-1.7 carta")}),
    )

    follow_up = gestion.follow_ups.get(result=gives_up)
    assert list(follow_up.attachments.values_list("name", flat=True)) == ["carta.pdf"]


def test_going_back_from_the_question_keeps_what_was_typed(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)
    data = {"action": action.pk, "result": gives_up.pk, "notes": "Lo pensará"}
    asked = client.post(follow_up_url(gestion), data)
    assertContains(asked, '<button type="submit" name="reload" value="1"')

    # «No, volver al formulario»: the same fields, with "reload" (and the confirm field).
    back = client.post(follow_up_url(gestion), {**confirmed(data), "reload": "1"})

    assertTemplateUsed(back, "gestiones/gestion_detail.html")
    assertContains(back, "Lo pensará</textarea>")
    assert back.context["form"]["result"].value() == str(gives_up.pk)
    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.OPEN


def test_a_supervisor_is_asked_too(client, make_gestion, asesor, supervisor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(supervisor)

    asked = client.post(follow_up_url(gestion), {"action": action.pk, "result": gives_up.pk})

    assertTemplateUsed(asked, "gestiones/confirm_step.html")
    gestion.refresh_from_db()
    assert gestion.outcome == Outcome.OPEN


def test_a_step_that_keeps_the_gestion_open_asks_nothing(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, moves = step(gestion, "Revisar documentos", "Documentos completos")
    client.force_login(asesor)

    response = client.post(follow_up_url(gestion), {"action": action.pk, "result": moves.pk})

    assert response.status_code == 302
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.STEP, result=moves).exists()


def test_the_confirmation_sent_twice_records_one_step(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    client.force_login(asesor)
    data = confirmed({"action": action.pk, "result": gives_up.pk, "notes": "Desiste"})

    client.post(follow_up_url(gestion), data)
    second = client.post(follow_up_url(gestion), data, follow=True)

    assert gestion.follow_ups.filter(result=gives_up).count() == 1
    assert any("ya se registró hace un momento" in text for text in shown(second))


@pytest.mark.browser
def test_without_javascript_in_the_browser_the_page_asks_and_then_closes(
    browser: Browser, live_server, roles
):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        agent=advisor,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")
    page.get_by_label("Acción").select_option(label="Contactar al cliente")
    page.get_by_role("button", name="Ver resultados de la acción").click()
    page.get_by_label("Resultado").select_option(label="Desiste de la solicitud → Desistido")
    page.get_by_label("Notas").fill("Ya no lo necesita")
    page.get_by_role("button", name="Registrar seguimiento").click()

    expect(page.get_by_role("heading", name=f"¿Cerrar la gestión #{gestion.pk}?")).to_be_visible()
    assert Gestion.objects.get(pk=gestion.pk).outcome == Outcome.OPEN
    page.get_by_role("button", name="Sí, cerrar la gestión").click()

    expect(page.locator("#messages")).to_contain_text("La gestión pasó a «Desistido»")
    assert Gestion.objects.get(pk=gestion.pk).outcome == Outcome.CLOSED
    assert (
        Gestion.objects.get(pk=gestion.pk)
        .follow_ups.get(result__name="Desiste de la solicitud")
        .notes
        == "Ya no lo necesita"
    )
    context.close()
