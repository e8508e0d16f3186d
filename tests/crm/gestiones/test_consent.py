"""Customers who asked not to be contacted: campaigns, life-cycle events, alerts and
surveys reach them with nothing, say so on their timeline, and the campaign counts them."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits.models import Loan
from credits.services import loans as loan_services
from crm import messages as crm_messages
from crm import services as crm_services
from crm.gestiones import examples, services
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Campaign, CampaignTarget, LifecycleEvent, Outcome, Survey
from crm.gestiones.surveys import services as survey_services
from crm.models import MessagePolicy
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, TagFactory

from .conftest import step

LIMA = zoneinfo.ZoneInfo("America/Lima")

CALL = examples.ProcessSpec(
    name="Llamada de campaña",
    code="llamada-campana",
    description="Llamar al cliente.",
    product=None,
    states=(
        examples.StateSpec("Por llamar", days=2, is_initial=True),
        examples.StateSpec("Hecho", outcome=Outcome.SUCCESS),
    ),
    actions=(),
)


@pytest.fixture
def call_type(asesor, supervisor):
    return examples.build_process(CALL, agents=[asesor], supervisors=[supervisor])


def opted_out(customer):
    """Mark the customer as the staff does: with the `No contactar` tag."""
    crm_services.tag_customer(customer=customer, tag_name="No contactar")
    customer.refresh_from_db()
    return customer


@pytest.fixture
def vip_segment(db):
    """Three VIP customers with e-mail; the last asked not to be contacted."""
    vip = TagFactory(name="VIP")
    customers = [
        CustomerFactory(first_name=name, email=f"{name.lower()}@example.pe")
        for name in ("Rosa", "Luis", "Carla")
    ]
    for customer in customers:
        customer.tags.add(vip)
    opted_out(customers[-1])
    return vip, customers


def vip_campaign(vip, call_type) -> Campaign:
    campaign = Campaign.objects.create(
        name="Clientes VIP: renovación",
        slug="clientes-vip",
        kind=Campaign.Kind.OUTBOUND,
        gestion_type=call_type,
        message_subject="Una oferta para usted",
        message_body="Estimado(a) {nombre}: tenemos una oferta.",
    )
    campaign.segment_tags.set([vip])
    return campaign


def test_a_campaign_reaches_an_opted_out_customer_with_nothing_and_says_why(
    vip_segment, call_type, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    vip, (_rosa, _luis, carla) = vip_segment
    campaign = vip_campaign(vip, call_type)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    assert sorted(m.to[0] for m in mailoutbox) == ["luis@example.pe", "rosa@example.pe"]
    skipped = campaign.targets.get(customer=carla)
    assert skipped.message_status == CampaignTarget.MessageStatus.OPTED_OUT
    assert skipped.gestion is None
    assert not carla.gestiones.exists()
    assert not OutboxMessage.objects.filter(payload__to="carla@example.pe").exists()
    said = list(carla.interactions.values_list("summary", flat=True))
    assert "Correo no enviado: Una oferta para usted. El cliente pidió no ser contactado." in said
    assert any("no se abrió la gestión porque el cliente pidió no ser" in s for s in said)


def test_the_campaign_page_says_how_many_were_skipped_and_why(
    client, vip_segment, call_type, supervisor, django_capture_on_commit_callbacks
):
    vip, _customers = vip_segment
    campaign = vip_campaign(vip, call_type)
    client.force_login(supervisor)
    before = client.get(campaign.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    after = client.get(campaign.get_absolute_url())

    assertContains(before, "1 pidió no ser contactado y se omitirá.")
    assertContains(after, "Omitidos porque pidieron no ser contactados")
    assert after.context["results"].messages["opted_out"] == 1
    assertContains(after, "1 cliente del segmento pidió no ser contactado")


def test_the_segment_count_says_how_many_will_be_skipped(client, vip_segment, supervisor):
    vip, _customers = vip_segment
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:campaign_segment_count"),
        {"segment_tags": vip.pk},
        headers={"HX-Request": "true"},
    )

    assertContains(response, "3 clientes en el segmento")
    assertContains(response, "1 pidió no ser contactado: no recibirá nada.")


def test_a_life_cycle_event_skips_an_opted_out_customer(
    db, call_type, mailoutbox, django_capture_on_commit_callbacks
):
    product = LoanProductFactory(name="Crédito vehicular")
    customer = opted_out(CustomerFactory(email="rosa@example.pe"))
    loan = LoanFactory(customer=customer, product=product, status=Loan.Status.READY_TO_DISBURSE)
    at = timezone.make_aware(datetime.datetime(2026, 3, 2, 10, 0))
    loan_services.disburse(loan=loan, actor=None, disbursed_at=at)
    LifecycleEvent.objects.create(
        name="Gracias por su crédito",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=product,
        anchor=LifecycleEvent.Anchor.DISBURSED,
        offset_days=1,
        gestion_type=call_type,
        message_subject="Gracias",
        message_body="Gracias por su {producto}.",
    )

    with django_capture_on_commit_callbacks(execute=True):
        counts = campaign_services.run_lifecycle_events(today=datetime.date(2026, 3, 3))

    assert (counts["runs"], counts["gestiones"], counts["messages"]) == (1, 0, 0)
    assert mailoutbox == []
    said = list(customer.interactions.values_list("summary", flat=True))
    assert "Correo no enviado: Gracias. El cliente pidió no ser contactado." in said
    assert any(s.startswith("«Gracias por su crédito» (crédito") for s in said)


def test_a_life_cycle_event_counts_toward_the_daily_limit(
    db, call_type, mailoutbox, django_capture_on_commit_callbacks
):
    MessagePolicy.objects.create(
        pk=1, quiet_start=datetime.time(0), quiet_end=datetime.time(0), daily_limit=1
    )
    product = LoanProductFactory(name="Crédito vehicular")
    customer = CustomerFactory(email="rosa@example.pe")
    loan = LoanFactory(customer=customer, product=product, status=Loan.Status.READY_TO_DISBURSE)
    at = timezone.make_aware(datetime.datetime(2026, 3, 2, 10, 0))
    loan_services.disburse(loan=loan, actor=None, disbursed_at=at)
    LifecycleEvent.objects.create(
        name="Gracias por su crédito",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=product,
        anchor=LifecycleEvent.Anchor.DISBURSED,
        offset_days=1,
        gestion_type=call_type,
        message_subject="Gracias",
        message_body="Gracias por su {producto}.",
    )
    with (
        time_machine.travel(datetime.datetime(2026, 3, 3, 9, 0, tzinfo=LIMA), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        crm_messages.send_customer_message(
            customer=customer, channel=crm_messages.EMAIL, subject="Oferta", body="…", capped=True
        )
        counts = campaign_services.run_lifecycle_events(today=datetime.date(2026, 3, 3))

    assert (counts["runs"], counts["messages"]) == (1, 0)
    assert [m.subject for m in mailoutbox] == ["Oferta"]
    assert customer.interactions.filter(
        summary__contains="ya recibió los mensajes del día"
    ).exists()


def test_a_follow_up_alert_is_not_sent_to_an_opted_out_customer(
    make_gestion, asesor, customer, mailoutbox, django_capture_on_commit_callbacks
):
    customer.email = "rosa@example.pe"
    customer.save()
    opted_out(customer)
    gestion = make_gestion(actor=asesor)
    action, result = step(gestion, "Revisar documentos", "Faltan documentos")

    with django_capture_on_commit_callbacks(execute=True):
        follow_up = services.record_follow_up(
            gestion=gestion, actor=asesor, action=action, result=result
        )

    assert not follow_up.is_customer_alerted
    assert mailoutbox == []
    assert customer.interactions.filter(summary__contains="pidió no ser contactado").exists()


def test_a_survey_is_not_sent_to_an_opted_out_customer(make_gestion, asesor, customer):
    customer.email = "rosa@example.pe"
    customer.save()
    opted_out(customer)
    gestion = make_gestion(agent=asesor)
    gestion.survey = Survey.objects.create(name="Satisfacción")
    gestion.save()

    invitation = survey_services.invite(gestion=gestion)

    assert invitation.sent_at is None
    assert not OutboxMessage.objects.exists()


def test_a_campaign_skips_a_customer_who_already_got_the_days_messages(
    vip_segment, call_type, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    vip, (rosa, _luis, _carla) = vip_segment
    MessagePolicy.objects.create(
        pk=1, quiet_start=datetime.time(0), quiet_end=datetime.time(0), daily_limit=1
    )
    crm_messages.send_customer_message(
        customer=rosa, channel=crm_messages.EMAIL, subject="Recordatorio", body="…", capped=True
    )
    campaign = vip_campaign(vip, call_type)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    assert [m.to[0] for m in mailoutbox if m.subject == "Una oferta para usted"] == [
        "luis@example.pe"
    ]
    capped = campaign.targets.get(customer=rosa)
    assert capped.message_status == CampaignTarget.MessageStatus.CAPPED
    assert rosa.interactions.filter(summary__contains="ya recibió los mensajes del día").exists()
