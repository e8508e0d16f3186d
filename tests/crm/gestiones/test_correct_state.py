"""«Corregir estado»: a supervisor of gestiones moves a gestión, open or closed, to another
state of its type to undo a wrong step or a wrong close, with a reason, from a confirmation
page that works without JavaScript. It is a step in the history and an entry on the
customer's timeline; the customer gets no message and no survey."""

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.models import Loan
from credits.services import loans as loan_services
from crm import merge
from crm.gestiones import selectors, services
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import (
    CreditApplication,
    FollowUp,
    Gestion,
    GestionState,
    Outcome,
    RejectionReason,
    Survey,
    SurveyInvitation,
)
from crm.gestiones.workload import selectors as workload_selectors
from crm.models import Interaction, Message
from lib.confirmation import CONFIRM_FIELD, CONFIRMED
from tests.crm.gestiones.conftest import step
from tests.crm.gestiones.test_applications import approve, receive
from tests.factories import CustomerFactory

REASON = "Marcó «Desiste» en lugar de «Contactado»"


def state(gestion_type, name: str) -> GestionState:
    return GestionState.objects.get(gestion_type=gestion_type, name=name)


@pytest.fixture
def service_gestion(make_gestion, service_type, asesor):
    return make_gestion(gestion_type=service_type, agent=asesor, data={"categoria": "Reclamo"})


def close(gestion, name: str = "Cerrado sin solución") -> Gestion:
    """Close the gestión as a step would (by the loan-less door: no alert, no survey here)."""
    services.move_to_state(
        gestion=gestion, state=state(gestion.gestion_type, name), actor=None, notes="Cerrada"
    )
    gestion.refresh_from_db()
    return gestion


def correct(gestion, to: str, actor, *, reason: str = REASON, **kwargs) -> FollowUp:
    gestion.refresh_from_db()
    kwargs.setdefault("shown_state", gestion.state)
    return services.correct_state(
        gestion=gestion,
        state=state(gestion.gestion_type, to),
        actor=actor,
        reason=reason,
        **kwargs,
    )


# --- The service ------------------------------------------------------------------------------


def test_an_open_gestion_moves_to_another_state_with_a_step_that_names_the_reason(
    service_gestion, supervisor
):
    before = timezone.now()

    follow_up = correct(service_gestion, "Esperando al cliente", supervisor)

    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Esperando al cliente"
    assert service_gestion.outcome == Outcome.OPEN
    # A new due date from the state's time allowed (2 days), counted from the correction.
    assert service_gestion.state_entered_at >= before
    assert service_gestion.due_at == service_gestion.state_entered_at + datetime.timedelta(days=2)
    assert follow_up.kind == FollowUp.Kind.STEP
    assert (follow_up.from_state.name, follow_up.state.name) == ("Creado", "Esperando al cliente")
    assert follow_up.notes == REASON
    assert follow_up.actor == supervisor
    assert follow_up.action is None and follow_up.result is None
    assert follow_up.changed_state


def test_a_closed_gestion_reopens_into_its_agents_work_and_the_workload(
    service_gestion, supervisor, asesor
):
    close(service_gestion)
    assert not selectors.my_work(asesor).filter(pk=service_gestion.pk).exists()
    open_before = {row.agent_id: row.active for row in workload_selectors.workload_by_agent()}

    correct(service_gestion, "Revisión", supervisor)

    service_gestion.refresh_from_db()
    assert service_gestion.outcome == Outcome.OPEN
    assert service_gestion.closed_at is None
    assert service_gestion.due_at == service_gestion.state_entered_at + datetime.timedelta(hours=8)
    assert service_gestion.agent == asesor
    assert selectors.my_work(asesor).filter(pk=service_gestion.pk).exists()
    open_after = {row.agent_id: row.active for row in workload_selectors.workload_by_agent()}
    assert open_after[asesor.pk] == open_before.get(asesor.pk, 0) + 1
    by_state = {row.state_id: row.active for row in workload_selectors.workload_by_state()}
    assert by_state[service_gestion.state_id] == 1


def test_the_timeline_names_who_corrected_both_states_and_the_reason(service_gestion, supervisor):
    close(service_gestion)

    correct(service_gestion, "Revisión", supervisor)

    entry = Interaction.objects.filter(customer=service_gestion.customer).latest("pk")
    assert entry.summary == (
        f"Gestión #{service_gestion.pk} · Estado corregido por {supervisor.get_full_name()}: "
        f"Cerrado sin solución → Revisión (reabierta) · Motivo: {REASON}"
    )
    assert entry.kind == Interaction.Kind.SYSTEM
    assert entry.payload["estado anterior"] == "Cerrado sin solución"
    assert entry.payload["estado"] == "Revisión"
    assert entry.payload["motivo"] == REASON


def test_a_correction_into_a_closing_state_sends_no_survey_and_no_message(
    make_gestion, service_type, asesor, supervisor
):
    survey = Survey.objects.create(name="Satisfacción", intro="Cuéntenos.")
    service_type.survey = survey
    service_type.save()
    gestion = make_gestion(
        customer=CustomerFactory(email="rosa@example.com"),
        gestion_type=service_type,
        agent=asesor,
        data={"categoria": "Otro"},
    )
    assert gestion.survey == survey
    messages_before = Message.objects.count()

    correct(gestion, "Resuelto", supervisor)

    gestion.refresh_from_db()
    assert (gestion.outcome, gestion.due_at) == (Outcome.SUCCESS, None)
    assert gestion.closed_at is not None
    assert not SurveyInvitation.objects.filter(gestion=gestion).exists()
    assert Message.objects.count() == messages_before
    assert not selectors.my_work(asesor).filter(pk=gestion.pk).exists()


def test_a_correction_to_the_state_it_is_in_is_refused_in_words(service_gestion, supervisor):
    steps = FollowUp.objects.count()

    with pytest.raises(ValidationError) as refused:
        correct(service_gestion, "Creado", supervisor)

    assert refused.value.message_dict == {
        "state": [
            f"La gestión #{service_gestion.pk} ya está en «Creado»: no hay nada que corregir."
        ]
    }
    assert FollowUp.objects.count() == steps


def test_a_stale_correction_is_refused_and_changes_nothing(service_gestion, supervisor):
    shown = service_gestion.state
    action, result = step(service_gestion, "Enviar caso a TI", "Caso enviado a TI")
    services.record_follow_up(
        gestion=service_gestion, actor=supervisor, action=action, result=result
    )
    steps, entries = FollowUp.objects.count(), Interaction.objects.count()

    with pytest.raises(ValidationError, match="cambió de estado mientras confirmaba") as refused:
        correct(service_gestion, "Esperando al cliente", supervisor, shown_state=shown)

    assert "ahora está en «Revisión», no en «Creado»" in refused.value.messages[0]
    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Revisión"
    assert (FollowUp.objects.count(), Interaction.objects.count()) == (steps, entries)


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "agente"])
def test_only_a_supervisor_of_gestiones_corrects_a_state(service_gestion, who, request):
    person = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        correct(service_gestion, "Revisión", person)

    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Creado"


def test_a_reason_is_required_and_bounded(service_gestion, supervisor):
    with pytest.raises(ValidationError) as empty:
        correct(service_gestion, "Revisión", supervisor, reason="   ")
    with pytest.raises(ValidationError) as long:
        correct(service_gestion, "Revisión", supervisor, reason="x" * 501)

    assert empty.value.message_dict == {"reason": ["Indique por qué se corrige el estado."]}
    assert long.value.message_dict == {"reason": ["Escriba como máximo 500 caracteres."]}


def test_a_gestion_of_a_merged_customer_is_refused(make_gestion, service_type, asesor, supervisor):
    keep = CustomerFactory(first_name="Rosa", last_name="Huamán", document_number="45670001")
    drop = CustomerFactory(first_name="Rosa", last_name="Huamán", document_number="45670002")
    gestion = make_gestion(
        customer=drop, gestion_type=service_type, agent=asesor, data={"categoria": "Otro"}
    )
    shown = gestion.state
    merge.merge_customers(keep=keep, drop=drop, choices={}, actor=supervisor)

    # The page read the gestión before the merge committed.
    with pytest.raises(ValidationError, match="Este cliente se fusionó con Rosa Huamán"):
        services.correct_state(
            gestion=gestion,
            state=state(service_type, "Revisión"),
            shown_state=shown,
            actor=supervisor,
            reason=REASON,
        )

    assert Gestion.objects.get(pk=gestion.pk).state.name == "Creado"


def test_a_rejected_state_asks_its_reason_and_leaving_it_clears_the_reason(
    make_gestion, credit_type, supervisor
):
    gestion = make_gestion()
    reason = RejectionReason.objects.get(gestion_type=credit_type, name="No califica")
    with pytest.raises(ValidationError) as refused:
        correct(gestion, "Rechazado comité de crédito", supervisor)
    assert refused.value.message_dict == {"rejection_reason": ["Indique el motivo de rechazo."]}

    correct(gestion, "Rechazado comité de crédito", supervisor, rejection_reason=reason)
    gestion.refresh_from_db()
    assert (gestion.outcome, gestion.rejection_reason) == (Outcome.REJECTED, reason)
    assert gestion.follow_ups.latest("pk").rejection_reason == reason

    correct(gestion, "En estudio", supervisor)
    gestion.refresh_from_db()
    assert (gestion.outcome, gestion.rejection_reason) == (Outcome.OPEN, None)


def test_the_disbursed_state_is_not_reached_by_a_correction_before_the_loan_is(
    client, credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)

    with pytest.raises(ValidationError, match="pasa a «Desembolsado» sola"):
        correct(gestion, "Desembolsado", supervisor)


def test_a_disbursed_loans_application_does_not_leave_its_disbursed_state(
    credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    loan_services.change_status(loan=loan, to=Loan.Status.READY_TO_DISBURSE, actor=supervisor)
    loan_services.disburse(loan=loan, actor=supervisor)

    with pytest.raises(ValidationError) as refused:
        correct(gestion, "Desistido", supervisor)

    assert refused.value.messages == [
        f"El crédito {loan.payment_code} de esta solicitud está desembolsado: la gestión no pasa "
        "a «Desistido» mientras lo esté. Si el desembolso fue un error, anúlelo primero en la "
        "página del crédito."
    ]
    gestion.refresh_from_db()
    assert gestion.state.name == "Desembolsado"


# --- Credit applications: what happens to the loan ---------------------------------------------


def test_a_wrong_withdrawal_corrected_back_keeps_the_cancelled_loan_and_saving_makes_a_new_one(
    credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=gives_up)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CANCELLED

    correct(gestion, "Aprobado análisis", supervisor)

    gestion.refresh_from_db()
    loan.refresh_from_db()
    application = CreditApplication.objects.get(gestion=gestion)
    assert (gestion.outcome, gestion.state.name) == (Outcome.OPEN, "Aprobado análisis")
    assert loan.status == Loan.Status.CANCELLED
    assert application.loan == loan
    assert Loan.objects.filter(customer=gestion.customer).count() == 1

    application_services.update_application(
        application=application,
        actor=asesor,
        product=application.loan_product,
        amount=application.amount,
        term=application.term,
        annual_rate=application.annual_rate,
    )

    application.refresh_from_db()
    assert application.loan != loan
    assert application.loan.status == Loan.Status.DRAFT


def test_a_wrong_approval_corrected_to_a_withdrawal_cancels_its_waiting_loan(
    credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()

    correct(gestion, "Desistido", supervisor)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.CANCELLED


def test_a_wrong_approval_corrected_to_an_open_state_leaves_its_loan_as_it_is(
    credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()

    correct(gestion, "En estudio", supervisor)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DRAFT


# --- The screens ------------------------------------------------------------------------------


def correct_url(gestion) -> str:
    return reverse("gestiones:correct_state", args=[gestion.pk])


def form_data(gestion, to: str, **extra) -> dict:
    return {
        "state": state(gestion.gestion_type, to).pk,
        "reason": REASON,
        "shown_state": gestion.state_id,
        **extra,
    }


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_supervisor_finds_the_card_on_the_gestion_page_and_an_advisor_does_not(
    client, service_gestion, supervisor, asesor
):
    client.force_login(supervisor)
    page = client.get(service_gestion.get_absolute_url())
    assertContains(page, 'id="correct-state-card"')
    assertContains(page, f'action="{correct_url(service_gestion)}"')

    client.force_login(asesor)
    page = client.get(service_gestion.get_absolute_url())
    assert page.status_code == 200
    assertNotContains(page, 'id="correct-state-card"')


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "agente"])
def test_the_correction_url_answers_403_to_other_roles(client, service_gestion, who, request):
    client.force_login(request.getfixturevalue(who))

    response = client.post(
        correct_url(service_gestion),
        {**form_data(service_gestion, "Revisión"), CONFIRM_FIELD: CONFIRMED},
    )

    assert response.status_code == 403
    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Creado"


def test_the_first_post_asks_on_a_page_of_its_own_and_changes_nothing(
    client, service_gestion, supervisor
):
    close(service_gestion)
    client.force_login(supervisor)
    steps = FollowUp.objects.count()

    asked = client.post(correct_url(service_gestion), form_data(service_gestion, "Revisión"))

    assertTemplateUsed(asked, "gestiones/confirm_step.html")
    assertContains(asked, f"¿Corregir el estado de la gestión #{service_gestion.pk}?")
    assertContains(
        asked,
        f"La gestión #{service_gestion.pk} pasa de «Cerrado sin solución» a «Revisión» y queda "
        "como «En curso».",
    )
    assertContains(asked, "Estaba cerrada: se reabre (se borra su fecha de cierre)")
    assertContains(asked, "Su vencimiento se calcula de nuevo con el tiempo de «Revisión»")
    assertContains(asked, "No se avisa al cliente: una corrección no le envía ningún mensaje.")
    # What was typed travels in hidden fields, with the confirm field of its own form.
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.content.decode())
    )
    assert hidden["reason"] == REASON
    assert hidden["shown_state"] == str(service_gestion.state_id)
    assert hidden[CONFIRM_FIELD] == "yes"
    service_gestion.refresh_from_db()
    assert service_gestion.outcome == Outcome.CLOSED
    assert FollowUp.objects.count() == steps


def test_the_confirmed_post_corrects_it(client, service_gestion, supervisor):
    close(service_gestion)
    client.force_login(supervisor)

    done = client.post(
        correct_url(service_gestion),
        {**form_data(service_gestion, "Revisión"), CONFIRM_FIELD: CONFIRMED},
        follow=True,
    )

    service_gestion.refresh_from_db()
    assert (service_gestion.state.name, service_gestion.outcome) == ("Revisión", Outcome.OPEN)
    assert (
        f"Estado de la gestión #{service_gestion.pk} corregido: «Cerrado sin solución» → "
        "«Revisión». La gestión está abierta de nuevo."
    ) in shown(done)
    assert done.redirect_chain[-1][0] == service_gestion.get_absolute_url()


def test_into_a_closing_state_the_page_says_no_survey_goes(client, service_gestion, supervisor):
    client.force_login(supervisor)

    asked = client.post(correct_url(service_gestion), form_data(service_gestion, "Resuelto"))

    assertContains(asked, "No se envía la encuesta de cierre.")
    assertNotContains(asked, "se reabre")


def test_a_stale_confirmation_is_refused_not_applied(client, service_gestion, supervisor):
    data = {**form_data(service_gestion, "Esperando al cliente"), CONFIRM_FIELD: CONFIRMED}
    action, result = step(service_gestion, "Enviar caso a TI", "Caso enviado a TI")
    services.record_follow_up(
        gestion=service_gestion, actor=supervisor, action=action, result=result
    )
    client.force_login(supervisor)

    done = client.post(correct_url(service_gestion), data, follow=True)

    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Revisión"
    assert any("cambió de estado mientras confirmaba" in m for m in shown(done))


def test_without_a_reason_the_page_says_so_and_keeps_the_state(client, service_gestion, supervisor):
    client.force_login(supervisor)

    response = client.post(
        correct_url(service_gestion), {**form_data(service_gestion, "Revisión"), "reason": ""}
    )

    assert response.status_code == 200
    assertTemplateUsed(response, "gestiones/gestion_detail.html")
    assertContains(response, "Indique por qué se corrige el estado.")


def test_going_back_from_the_confirmation_keeps_what_was_typed(client, service_gestion, supervisor):
    client.force_login(supervisor)

    back = client.post(
        correct_url(service_gestion), {**form_data(service_gestion, "Revisión"), "reload": "1"}
    )

    assertTemplateUsed(back, "gestiones/gestion_detail.html")
    assertContains(back, REASON)
    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Creado"


def test_reopening_a_withdrawn_application_says_the_cancelled_loan_stays_cancelled(
    client, credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    action, gives_up = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=gives_up)
    gestion.refresh_from_db()
    client.force_login(supervisor)

    asked = client.post(correct_url(gestion), form_data(gestion, "Aprobado análisis"))

    assertContains(
        asked,
        f"El crédito {loan.payment_code}, anulado, sigue anulado: la corrección no hace un "
        "crédito nuevo. Al guardar la solicitud («Editar» en su tarjeta) se hace un nuevo "
        "crédito en borrador con lo que pida.",
    )


def test_a_wrong_approval_corrected_to_a_withdrawal_names_the_loan_it_cancels(
    client, credit_type, lead, asesor, supervisor
):
    gestion = approve(receive(lead, credit_type).application.gestion, asesor)
    loan = gestion.loans.get()
    client.force_login(supervisor)

    asked = client.post(correct_url(gestion), form_data(gestion, "Desistido"))
    done = client.post(
        correct_url(gestion),
        {**form_data(gestion, "Desistido"), CONFIRM_FIELD: CONFIRMED},
        follow=True,
    )

    assertContains(
        asked,
        f"El crédito {loan.payment_code} (Borrador) de la solicitud se anula: ya no se podrá "
        "firmar ni desembolsar.",
    )
    assert any(f"El crédito {loan.payment_code} quedó anulado." in m for m in shown(done))


def test_a_reopened_gestion_whose_agent_left_goes_to_the_states_agents(
    make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    close(gestion, "Desistido")
    asesor.is_active = False
    asesor.save()

    correct(gestion, "En estudio", supervisor)

    gestion.refresh_from_db()
    assert gestion.agent == asesor2
    assert selectors.my_work(asesor2).filter(pk=gestion.pk).exists()


def test_the_closing_confirmation_says_a_supervisor_can_reopen_it(client, service_gestion, asesor):
    action, result = step(service_gestion, "Enviar caso a TI", "Caso enviado a TI")
    services.record_follow_up(gestion=service_gestion, actor=asesor, action=action, result=result)
    action, closes = step(service_gestion, "Cerrar", "Sin solución posible")
    client.force_login(asesor)

    asked = client.post(
        reverse("gestiones:follow_up", args=[service_gestion.pk]),
        {"action": action.pk, "result": closes.pk, "notes": ""},
    )

    assertContains(asked, "solo un supervisor la reabre, con «Corregir estado»")
    assertNotContains(asked, "no se vuelve a abrir")
