"""Discarding a credit lead: asked on a page of the server's first (it was a data-confirm
alone), and its page says why it was discarded (only the customer's timeline did)."""

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm import services as crm_services
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import CreditLead
from crm.models import Interaction
from lib.confirmation import CONFIRM_FIELD, CONFIRMED


@pytest.fixture
def waiting(credit_type, lead, customer):
    """A lead whose document is `customer`'s, typed with another first name: to confirm."""
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    return application_services.receive_lead(
        data=typed, source="calculator", received_at=timezone.now()
    ).lead


def discard_url(lead) -> str:
    return reverse("gestiones:credit_lead_discard", args=[lead.pk])


def test_discarding_asks_first_and_discards_nothing(client, waiting, asesor):
    client.force_login(asesor)

    response = client.post(discard_url(waiting), {"reason": "No es la misma persona"})

    assertTemplateUsed(response, "gestiones/confirm_step.html")
    assertContains(response, f"¿Descartar el lead #{waiting.pk}?")
    assertContains(response, "Rosa Huamán Torres")  # the customer on file
    assertContains(response, "No se abre ninguna solicitud de crédito con este lead.")
    # The reason, still editable, and the confirm field of the page's own form.
    assertContains(response, 'value="No es la misma persona"')
    assertContains(response, f'name="{CONFIRM_FIELD}" value="{CONFIRMED}"')
    waiting.refresh_from_db()
    assert waiting.status == CreditLead.Status.TO_CONFIRM


def test_the_confirmation_discards_it_and_its_page_shows_why(client, waiting, asesor):
    client.force_login(asesor)

    done = client.post(
        discard_url(waiting),
        {"reason": "Número de otra persona", CONFIRM_FIELD: CONFIRMED},
        follow=True,
    )
    page = client.get(reverse("gestiones:credit_lead", args=[waiting.pk]))

    assert done.redirect_chain == [(reverse("gestiones:credit_leads"), 302)]
    waiting.refresh_from_db()
    assert waiting.status == CreditLead.Status.DISCARDED
    assertContains(page, 'id="lead-discard-reason"')
    assertContains(page, "Número de otra persona")
    # The timeline says it once, in its sentence: the kept reason is not a second detail.
    entry = Interaction.objects.get(summary__contains="descartado")
    assert entry.summary == f"Lead de crédito #{waiting.pk} descartado: Número de otra persona"
    timeline = client.get(reverse("crm:customer_timeline", args=[waiting.customer_id]))
    assert timeline.content.decode().count("Número de otra persona") == 1


def test_a_lead_discarded_before_the_reason_had_its_key_shows_it_too(
    client, waiting, asesor, customer
):
    """Leads discarded before this change kept their reason in the sentence alone."""
    CreditLead.objects.filter(pk=waiting.pk).update(
        status=CreditLead.Status.DISCARDED, decided_by=asesor, decided_at=timezone.now()
    )
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=f"Lead de crédito #{waiting.pk} descartado: Broma",
        payload={"lead": waiting.pk},
        actor=asesor,
    )
    client.force_login(asesor)

    page = client.get(reverse("gestiones:credit_lead", args=[waiting.pk]))

    assertContains(page, "Motivo del descarte:</span> Broma</div>", html=False)


def test_an_empty_reason_is_asked_on_the_lead_page_before_any_question(client, waiting, asesor):
    client.force_login(asesor)

    response = client.post(discard_url(waiting), {"reason": "  "})

    assertTemplateUsed(response, "gestiones/credit_lead_detail.html")
    assertContains(response, "Indique por qué se descarta el lead.")
    assertNotContains(response, "¿Descartar el lead")


def test_the_lead_page_asks_nothing_in_the_browser_alone(client, waiting, asesor):
    client.force_login(asesor)

    page = client.get(reverse("gestiones:credit_lead", args=[waiting.pk])).content.decode()

    form = page[page.index('id="lead-discard"') :]
    form = form[: form.index("</form>")]
    assert "data-confirm" not in form
    assert 'id="lead-discard-reason"' not in page


def test_a_lead_already_decided_is_said_so_without_asking(client, waiting, asesor):
    application_services.confirm_lead(lead=waiting, actor=asesor)
    client.force_login(asesor)

    response = client.post(discard_url(waiting), {"reason": "Tarde"}, follow=True)

    assertContains(response, "ya está «Convertido en solicitud»")
    assertNotContains(response, "¿Descartar el lead")


def test_only_who_may_decide_leads_is_asked(client, waiting, cobranzas):
    client.force_login(cobranzas)

    response = client.post(discard_url(waiting), {"reason": "No"})

    assert response.status_code == 403
