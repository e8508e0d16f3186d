"""An approval sent twice (a double click on «Aprobado»): one draft loan, and the second
send says the step was recorded a moment ago instead of «Elija una opción de la lista»."""

from django.urls import reverse
from django.utils import timezone

from credits.models import Loan
from crm.gestiones import services
from crm.gestiones.applications import services as application_services
from tests.crm.gestiones.conftest import (  # noqa: F401 (fixtures, imported)
    asesor2,
    credit_type,
    lead,
    product,
    step,
)


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_an_approval_sent_twice_drafts_one_loan_and_the_second_says_it_was_recorded(
    client,
    credit_type,  # noqa: F811
    lead,  # noqa: F811
):
    gestion = application_services.receive_lead(
        data=lead, source="calculator", received_at=timezone.now()
    ).application.gestion
    for action_name, result_name in (
        ("Revisar documentos", "Documentos completos"),
        ("Enviar a estudio", "Enviado a análisis"),
    ):
        gestion.refresh_from_db()
        action, result = step(gestion, action_name, result_name)
        services.record_follow_up(
            gestion=gestion, actor=gestion.agent, action=action, result=result
        )
    gestion.refresh_from_db()
    client.force_login(gestion.agent)
    action, result = step(gestion, "Resolver análisis", "Aprobado")
    url = reverse("gestiones:follow_up", args=[gestion.pk])
    data = {"action": action.pk, "result": result.pk, "notes": "Aprobado por comité"}
    client.post(url, data)

    second = client.post(url, data, follow=True)

    assert Loan.objects.count() == 1
    assert second.redirect_chain == [(gestion.get_absolute_url(), 302)]
    assert any("ya se registró hace un momento" in text for text in shown(second))
