"""An approved credit application's loan is credited to its gestión's agent; when they
left (inactive, or without the advisor's role), to the customer's advisor; when that one
left too, to the person approving it. Never to someone who left."""

import datetime

import pytest
from django.contrib.auth.models import Group

from crm.gestiones import services
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import Gestion
from tests.crm.gestiones.conftest import step
from tests.factories import BranchFactory, UserFactory

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=30)


@pytest.fixture
def luis(db):
    return UserFactory(username="lrojas", first_name="Luis", last_name="Rojas", role="Asesor")


def deactivate(row) -> None:
    row.is_active = False
    row.save()


def application_of(lead, *, agent):
    intake = application_services.receive_lead(data=lead, source="calculator", received_at=NOW)
    Gestion.objects.filter(pk=intake.application.gestion_id).update(agent=agent)
    return intake.application


def approve(gestion, actor):
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
        ("Resolver análisis", "Aprobado"),
    ):
        gestion.refresh_from_db()
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(
            gestion=gestion, actor=actor, action=action, result=result, now=LATER
        )
    gestion.refresh_from_db()
    return gestion.loans.get()


def test_the_loan_is_the_gestion_agents_while_they_work(credit_type, lead, asesor, asesor2):
    application = application_of(lead, agent=asesor)

    assert approve(application.gestion, asesor2).advisor == asesor


def test_an_agent_who_left_passes_the_loan_to_the_customers_advisor(
    credit_type, lead, asesor, asesor2, luis
):
    application = application_of(lead, agent=luis)
    application.gestion.customer.advisor = asesor
    application.gestion.customer.save()
    deactivate(luis)

    assert approve(application.gestion, asesor2).advisor == asesor


def test_when_agent_and_customers_advisor_left_the_approver_gets_the_loan(
    credit_type, lead, asesor, asesor2, supervisor, luis
):
    application = application_of(lead, agent=luis)
    application.gestion.customer.advisor = luis
    application.gestion.customer.save()
    deactivate(luis)
    # Nobody left in the process's pool: the gestión keeps no agent to pass the loan to.
    for user in (asesor, asesor2):
        user.groups.set([Group.objects.get(name="Agente call center")])

    assert approve(application.gestion, supervisor).advisor == supervisor


def test_an_inactive_branch_of_the_gestion_and_the_customer_is_not_the_loans(
    credit_type, lead, asesor, supervisor
):
    application = application_of(lead, agent=asesor)
    trujillo = BranchFactory(name="Trujillo", code="tru")
    Gestion.objects.filter(pk=application.gestion_id).update(branch=trujillo)
    application.gestion.customer.branch = trujillo
    application.gestion.customer.save()
    deactivate(trujillo)

    loan = approve(application.gestion, asesor)

    assert loan.branch is None
    assert loan.customer.interactions.filter(
        summary__contains="La sucursal del cliente, Trujillo, está inactiva"
    ).exists()
