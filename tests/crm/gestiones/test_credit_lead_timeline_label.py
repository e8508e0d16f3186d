"""A credit lead's entries on the customer's timeline (received, confirmed, discarded,
converted) name it «Lead de crédito»: «Lead de Kommo» is the call center's, whose entries
keep it."""

from django.utils import timezone

from crm import services as crm_services
from crm import timeline
from crm.gestiones.applications import selectors as application_selectors
from crm.gestiones.applications import services as application_services
from crm.gestiones.models import CreditLead
from crm.models import Interaction


def labels(interaction: Interaction) -> dict[str, str]:
    return dict(timeline.entry(interaction).details)


def test_a_credit_leads_entries_say_lead_de_credito(credit_type, lead, customer, asesor):
    typed = {**lead, "document_number": customer.document_number, "first_name": "Rosalía"}
    waiting = application_services.receive_lead(
        data=typed, source="calculator", received_at=timezone.now()
    ).lead
    application_services.discard_lead(lead=waiting, actor=asesor, reason="Broma")

    entries = Interaction.objects.filter(customer=customer, summary__startswith="Lead de crédito")
    assert entries.count() == 2  # received, discarded
    for entry in entries:
        shown = labels(entry)
        assert shown["Lead de crédito"] == str(waiting.pk)
        assert "Lead de Kommo" not in shown
    # The lead's page still finds why it was discarded.
    assert application_selectors.discard_reason(CreditLead.objects.get(pk=waiting.pk)) == "Broma"


def test_the_call_centers_entries_keep_lead_de_kommo(customer):
    entry = crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.CALL,
        summary="Llamada al lead 998877",
        payload={"lead": 998877},
    )

    assert labels(entry) == {"Lead de Kommo": "998877"}
