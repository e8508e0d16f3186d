"""Reopening a credit lead discarded by mistake: back to confirm, from a confirmation
page, with the reason on the customer's timeline under the discard."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm.gestiones.applications import services as application_services
from crm.gestiones.models import CreditLead
from crm.models import Customer, Interaction
from lib.confirmation import CONFIRM_FIELD, CONFIRMED
from tests.factories import UserFactory


@pytest.fixture
def discarded(credit_type, lead, customer, asesor):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = application_services.receive_lead(
        data=typed, source="calculator", received_at=timezone.now()
    ).lead
    return application_services.discard_lead(
        lead=waiting, actor=asesor, reason="Número de otra persona"
    )


def reopen_url(lead) -> str:
    return reverse("gestiones:credit_lead_reopen", args=[lead.pk])


def test_reopened_it_is_to_confirm_again_and_the_timeline_keeps_both(discarded, supervisor):
    application_services.reopen_lead(
        lead=discarded, actor=supervisor, reason="Sí era ella: cambió de número"
    )

    discarded.refresh_from_db()
    assert discarded.status == CreditLead.Status.TO_CONFIRM
    assert discarded.decided_by is None and discarded.decided_at is None
    summaries = list(
        Interaction.objects.filter(customer=discarded.customer)
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert f"Lead de crédito #{discarded.pk} descartado: Número de otra persona" in summaries
    reopened = summaries[-1]
    assert reopened.startswith(f"Lead de crédito #{discarded.pk} reabierto por ")
    assert "(lo descartó Andrea Quispe el " in reopened
    assert reopened.endswith("Sí era ella: cambió de número")


def test_it_can_then_be_confirmed(discarded, supervisor):
    application_services.reopen_lead(lead=discarded, actor=supervisor, reason="Error")

    intake = application_services.confirm_lead(lead=discarded, actor=supervisor)

    discarded.refresh_from_db()
    assert discarded.status == CreditLead.Status.CONVERTED
    assert intake.application is not None


def test_only_a_discarded_lead_is_reopened_and_a_reason_is_required(discarded, supervisor):
    with pytest.raises(ValidationError) as refused:
        application_services.reopen_lead(lead=discarded, actor=supervisor, reason="  ")
    assert refused.value.message_dict == {"reason": ["Indique por qué se reabre el lead."]}

    application_services.reopen_lead(lead=discarded, actor=supervisor, reason="Error")
    entries = Interaction.objects.count()
    with pytest.raises(ValidationError, match="solo un lead descartado se reabre"):
        application_services.reopen_lead(lead=discarded, actor=supervisor, reason="Error")
    assert Interaction.objects.count() == entries


def test_a_lead_whose_customer_is_gone_is_not_reopened(discarded, supervisor):
    CreditLead.objects.filter(pk=discarded.pk).update(customer=None)
    discarded.refresh_from_db()

    with pytest.raises(ValidationError, match="ya no existe"):
        application_services.reopen_lead(lead=discarded, actor=supervisor, reason="Error")

    discarded.refresh_from_db()
    assert discarded.status == CreditLead.Status.DISCARDED


# --- the screens ------------------------------------------------------------------------


def test_the_page_offers_it_to_who_may_decide_leads_only(client, discarded, asesor):
    page = reverse("gestiones:credit_lead", args=[discarded.pk])
    client.force_login(asesor)
    assertContains(client.get(page), reopen_url(discarded))

    agent = UserFactory(username="vende", role="Agente call center")
    client.force_login(agent)
    assert client.post(reopen_url(discarded), {"reason": "x"}).status_code in (403, 404)


def test_reopening_asks_first_and_changes_nothing(client, discarded, asesor):
    client.force_login(asesor)

    response = client.post(reopen_url(discarded), {"reason": "Sí era ella"})

    assertTemplateUsed(response, "gestiones/confirm_step.html")
    assertContains(response, f"¿Reabrir el lead #{discarded.pk}?")
    assertContains(response, "Número de otra persona")  # why it was discarded
    assertContains(response, 'value="Sí era ella"')
    assertNotContains(response, 'id="confirm-warning"')
    discarded.refresh_from_db()
    assert discarded.status == CreditLead.Status.DISCARDED


def test_confirmed_it_says_what_was_done_and_twice_changes_nothing_more(client, discarded, asesor):
    client.force_login(asesor)
    data = {"reason": "Sí era ella", CONFIRM_FIELD: CONFIRMED}

    done = client.post(reopen_url(discarded), data, follow=True)

    assertContains(done, f"Lead #{discarded.pk} reabierto: vuelve a estar por confirmar.")
    assertContains(done, 'id="lead-confirm"')  # the decision's forms are back
    entries = Interaction.objects.count()
    again = client.post(reopen_url(discarded), data, follow=True)
    assertContains(again, "no hay nada que reabrir")
    assert Interaction.objects.count() == entries


def test_a_reason_too_long_is_a_form_error(client, discarded, asesor):
    client.force_login(asesor)

    response = client.post(reopen_url(discarded), {"reason": "x" * 400, CONFIRM_FIELD: CONFIRMED})

    assertContains(response, "Escriba como máximo 300 caracteres.")
    discarded.refresh_from_db()
    assert discarded.status == CreditLead.Status.DISCARDED
    assert Customer.objects.filter(pk=discarded.customer_id).exists()
