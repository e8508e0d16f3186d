"""Campaigns: the outbound segment, its launch and effectiveness, the inbound public form."""

import datetime
from collections import Counter
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.models import PortalCode
from collections_app.portal import services as portal_services
from crm.gestiones import examples, services
from crm.gestiones.campaigns import selectors as campaign_selectors
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Campaign, CampaignTarget, FollowUp, Gestion, Outcome
from crm.models import Customer, Interaction
from integrations.models import OutboxMessage
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory, TagFactory

from .conftest import step

HTMX = {"HX-Request": "true"}
VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"

# A process a campaign can open: no required fields, one call that succeeds or is rejected.
CAMPAIGN_CALL = examples.ProcessSpec(
    name="Llamada de campaña",
    code="llamada-campana",
    description="Llamar al cliente que alcanzó una campaña.",
    product=None,
    states=(
        examples.StateSpec("Por llamar", days=2, is_initial=True),
        examples.StateSpec("Interesado", outcome=Outcome.SUCCESS, color="success"),
        examples.StateSpec("No interesado", outcome=Outcome.REJECTED, color="danger"),
    ),
    actions=(
        examples.ActionSpec(
            "Llamar",
            ("Por llamar",),
            (
                examples.ResultSpec("Acepta la oferta", "Interesado"),
                examples.ResultSpec("No acepta", "No interesado"),
            ),
        ),
    ),
    reasons=("Sin interés",),
)
REGISTRATION = {
    "document_type": "dni",
    "document_number": "41234567",
    "first_name": "Lucía",
    "last_name": "Paredes Rojas",
    "phone": "987654321",
    "email": "lucia@example.pe",
    "message": "Quiero saber más del crédito vehicular.",
    "consent": "on",
    "recaptcha_token": "token-from-the-browser",
}


@pytest.fixture
def call_type(asesor, asesor2, supervisor):
    return examples.build_process(CAMPAIGN_CALL, agents=[asesor, asesor2], supervisors=[supervisor])


@pytest.fixture
def google(settings):
    """Google's siteverify, faked; tests add the answer they need."""
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock() as mock:
        yield mock


def google_answers(google, **fields) -> None:
    answer = {
        "success": True,
        "score": 0.9,
        "action": "campaign",
        "hostname": "testserver",
        **fields,
    }
    google.add(responses.POST, VERIFY_URL, json=answer)


def make_campaign(**kwargs) -> Campaign:
    """Create a campaign; many-to-many filters and agents go by their field names."""
    many = {k: kwargs.pop(k) for k in campaign_services.CAMPAIGN_M2M_FIELDS if k in kwargs}
    kwargs.setdefault("name", "Campaña de prueba")
    kwargs.setdefault("slug", "campana-de-prueba")
    kwargs.setdefault("kind", Campaign.Kind.OUTBOUND)
    campaign = Campaign.objects.create(**kwargs)
    for field, values in many.items():
        getattr(campaign, field).set(values)
    return campaign


def make_inbound(call_type, **kwargs) -> Campaign:
    kwargs.setdefault("name", "Feria vehicular")
    kwargs.setdefault("slug", "feria-vehicular")
    kwargs.setdefault("description", "Regístrese y reciba una tasa preferencial.")
    kwargs.setdefault("status", Campaign.Status.ACTIVE)
    kwargs.setdefault("channel", ChannelFactory(code="feria", name="Feria"))
    return make_campaign(kind=Campaign.Kind.INBOUND, gestion_type=call_type, **kwargs)


def launch(campaign, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return campaign_services.launch_campaign(campaign=campaign, actor=actor)


# --- Segment ---------------------------------------------------------------------------


def test_the_segment_keeps_the_customers_matching_every_filter(db):
    lima, cusco = BranchFactory(), BranchFactory()
    web, phone = ChannelFactory(), ChannelFactory()
    vip = TagFactory(name="VIP")
    wanted = CustomerFactory(branch=lima, channel=web)
    wanted.tags.add(vip)
    CustomerFactory(branch=lima, channel=web)  # no tag
    CustomerFactory(branch=cusco, channel=web).tags.add(vip)  # other branch
    CustomerFactory(branch=lima, channel=phone).tags.add(vip)  # other channel
    campaign = make_campaign(segment_branches=[lima], segment_channels=[web], segment_tags=[vip])

    assert list(campaign_selectors.segment(campaign)) == [wanted]


def test_any_value_of_a_filter_matches_and_nobody_appears_twice(db):
    vip, renewal = TagFactory(name="VIP"), TagFactory(name="Renovación")
    both = CustomerFactory()
    both.tags.add(vip, renewal)
    one = CustomerFactory()
    one.tags.add(renewal)
    CustomerFactory()
    campaign = make_campaign(segment_tags=[vip, renewal])

    assert sorted(c.pk for c in campaign_selectors.segment(campaign)) == sorted([both.pk, one.pk])


def test_the_product_filter_keeps_customers_with_a_gestion_of_that_product(
    make_gestion, credit_type, customer
):
    make_gestion(customer=customer)
    make_gestion(customer=customer)
    CustomerFactory()
    campaign = make_campaign(segment_products=[credit_type.product])

    assert list(campaign_selectors.segment(campaign)) == [customer]


def test_the_city_filter_ignores_case_and_spaces(db):
    arequipa = CustomerFactory(city="Arequipa")
    CustomerFactory(city="Lima")
    campaign = make_campaign(segment_city="  AREQUIPA ")

    assert list(campaign_selectors.segment(campaign)) == [arequipa]


def test_a_campaign_without_filters_reaches_every_customer(db):
    CustomerFactory.create_batch(3)

    assert campaign_selectors.segment(make_campaign()).count() == 3


# --- Launch ----------------------------------------------------------------------------


def test_launching_opens_one_gestion_per_customer_shared_evenly_by_workload(
    call_type, supervisor, asesor, asesor2, django_capture_on_commit_callbacks
):
    branch, channel = BranchFactory(), ChannelFactory(code="correo", name="Correo")
    people = CustomerFactory.create_batch(4, branch=branch)
    campaign = make_campaign(gestion_type=call_type, channel=channel, segment_branches=[branch])

    launch(campaign, supervisor, django_capture_on_commit_callbacks)

    gestiones = Gestion.objects.filter(campaign=campaign)
    assert sorted(g.customer_id for g in gestiones) == sorted(p.pk for p in people)
    assert {g.channel for g in gestiones} == {channel}
    assert {g.subject for g in gestiones} == {"Campaña Campaña de prueba"}
    assert Counter(g.agent.username for g in gestiones) == {"asesor": 2, "asesor2": 2}
    assert campaign.targets.filter(gestion__isnull=False).count() == 4
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert campaign.launched_by == supervisor
    assert campaign.launched_at is not None


def test_launching_emails_the_filled_message_and_skips_customers_without_email(
    db, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán", email="rosa@example.pe")
    nomail = CustomerFactory(email="")
    campaign = make_campaign(
        name="Renueva 2026",
        message_subject="{nombre}, una oferta para usted",
        message_body="Hola {nombre}: {cliente}, conozca «{campana}».",
    )

    launch(campaign, supervisor, django_capture_on_commit_callbacks)

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["rosa@example.pe"]
    assert mailoutbox[0].subject == "Rosa, una oferta para usted"
    assert mailoutbox[0].body.startswith("Hola Rosa: Rosa Huamán, conozca «Renueva 2026».\n\n--\n")
    sent = campaign.targets.get(customer=rosa)
    assert (sent.message_status, sent.gestion) == (CampaignTarget.MessageStatus.SENT, None)
    assert sent.sent_at is not None
    skipped = campaign.targets.get(customer=nomail)
    assert skipped.message_status == CampaignTarget.MessageStatus.SKIPPED
    assert skipped.message_error == "sin correo"
    assert rosa.interactions.filter(kind=Interaction.Kind.EMAIL).count() == 1


def test_a_message_written_to_the_log_is_never_counted_as_sent(
    db, supervisor, settings, django_capture_on_commit_callbacks, client
):
    # The console backend delivers to nobody: the campaign's figures said "Enviados: 1".
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    rosa = CustomerFactory(first_name="Rosa", email="rosa@example.pe")
    campaign = make_campaign(message_body="Hola {nombre}")

    launch(campaign, supervisor, django_capture_on_commit_callbacks)
    client.force_login(supervisor)
    page = client.get(reverse("gestiones:campaign_detail", args=[campaign.pk]))

    target = campaign.targets.get(customer=rosa)
    assert (target.message_status, target.sent_at) == (CampaignTarget.MessageStatus.LOGGED, None)
    figures = campaign_selectors.effectiveness(campaign).messages
    assert (figures["sent"], figures["logged"]) == (0, 1)
    assertContains(page, "Registrados, no enviados (correo no configurado)")


def test_a_launched_message_waits_queued_until_the_outbox_sends_it(db, supervisor, mailoutbox):
    rosa = CustomerFactory(first_name="Rosa", email="rosa@example.pe")
    campaign = make_campaign(message_body="Hola {nombre}", status=Campaign.Status.ACTIVE)

    # Not committed: the outbox has not sent it yet.
    campaign_services.reach_segment(campaign_id=campaign.pk)

    target = campaign.targets.get(customer=rosa)
    assert target.message_status == CampaignTarget.MessageStatus.QUEUED
    assert target.sent_at is None
    assert mailoutbox == []
    assert campaign_selectors.effectiveness(campaign).messages["queued"] == 1


def test_a_message_the_mail_server_refuses_fails_its_target_until_retried_and_sent(
    db, supervisor, admin_client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    rosa = CustomerFactory(first_name="Rosa", email="rosa@example.pe")
    campaign = make_campaign(message_body="Hola {nombre}")
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    launch(campaign, supervisor, django_capture_on_commit_callbacks)
    target = campaign.targets.get(customer=rosa)
    assert target.message_status == CampaignTarget.MessageStatus.FAILED
    assert "550 5.1.1 User unknown" in target.message_error
    assert target.sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:integrations_outboxmessage_changelist"),
            {"action": "retry_messages", "_selected_action": [OutboxMessage.objects.get().pk]},
        )

    target.refresh_from_db()
    assert target.message_status == CampaignTarget.MessageStatus.SENT
    assert (target.message_error, target.sent_at is not None) == ("", True)
    assert [m.to for m in mailoutbox] == [["rosa@example.pe"]]


def test_launching_twice_reaches_only_the_customers_who_joined_since(
    call_type, supervisor, mailoutbox, django_capture_on_commit_callbacks
):
    branch = BranchFactory()
    CustomerFactory.create_batch(2, branch=branch, email="uno@example.pe")
    campaign = make_campaign(
        gestion_type=call_type, message_body="Hola {nombre}", segment_branches=[branch]
    )
    launch(campaign, supervisor, django_capture_on_commit_callbacks)
    newcomer = CustomerFactory(branch=branch, email="nuevo@example.pe")

    launch(campaign, supervisor, django_capture_on_commit_callbacks)

    assert campaign.targets.count() == 3
    assert Gestion.objects.filter(campaign=campaign).count() == 3
    assert Gestion.objects.filter(campaign=campaign, customer=newcomer).count() == 1
    assert len(mailoutbox) == 3


def test_the_launch_works_through_the_segment_in_batches(call_type, supervisor):
    CustomerFactory.create_batch(5)
    campaign = make_campaign(gestion_type=call_type, status=Campaign.Status.ACTIVE)

    reached = campaign_services.reach_segment(campaign_id=campaign.pk, batch_size=2)

    assert reached == 5
    assert campaign.targets.count() == 5
    assert campaign_services.reach_segment(campaign_id=campaign.pk, batch_size=2) == 0


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        (Campaign.Kind.INBOUND, Campaign.Status.ACTIVE, "Solo se lanzan campañas salientes."),
        (Campaign.Kind.OUTBOUND, Campaign.Status.FINISHED, "La campaña está finalizada"),
    ],
)
def test_only_an_outbound_campaign_still_running_is_launched(
    call_type, supervisor, kind, status, message
):
    CustomerFactory()
    campaign = make_campaign(kind=kind, status=status, gestion_type=call_type)

    with pytest.raises(ValidationError, match=message):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    assert not campaign.targets.exists()


def test_a_campaign_is_not_launched_again_while_its_launch_runs(call_type, supervisor):
    CustomerFactory()
    campaign = make_campaign(gestion_type=call_type, launch_heartbeat_at=timezone.now())

    with pytest.raises(ValidationError, match="sigue en curso"):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)


def test_a_type_with_required_fields_opens_gestiones_that_await_their_data(
    credit_type, supervisor, client, django_capture_on_commit_callbacks
):
    CustomerFactory()
    campaign = make_campaign(gestion_type=credit_type)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    gestion = Gestion.objects.get(campaign=campaign)
    assert gestion.data == {}
    client.force_login(supervisor)
    page = client.get(gestion.get_absolute_url()).content.decode()
    assert "Faltan datos obligatorios: Ingreso mensual, Destino del crédito" in page


# --- Effectiveness ---------------------------------------------------------------------


def test_effectiveness_counts_gestiones_by_state_agent_and_channel(
    call_type, asesor, asesor2, supervisor
):
    web, phone = ChannelFactory(name="Web"), ChannelFactory(name="Teléfono")
    campaign = make_campaign(gestion_type=call_type)

    def gestion(agent, channel, result=None):
        g = services.create_gestion(
            customer=CustomerFactory(),
            gestion_type=call_type,
            agent=agent,
            channel=channel,
            campaign=campaign,
        )
        if result:
            action, chosen = step(g, "Llamar", result)
            reason = call_type.rejection_reasons.first() if result == "No acepta" else None
            services.record_follow_up(
                gestion=g, actor=agent, action=action, result=chosen, rejection_reason=reason
            )
        CampaignTarget.objects.create(campaign=campaign, customer=g.customer, gestion=g)

    gestion(asesor, web, "Acepta la oferta")
    gestion(asesor, web, "No acepta")
    gestion(asesor2, phone, "Acepta la oferta")
    gestion(asesor2, web)
    CampaignTarget.objects.create(
        campaign=campaign,
        customer=CustomerFactory(),
        message_status=CampaignTarget.MessageStatus.SKIPPED,
    )
    services.create_gestion(customer=CustomerFactory(), gestion_type=call_type, agent=asesor)

    results = campaign_selectors.effectiveness(campaign)

    assert (results.total, results.success, results.rejected, results.open) == (4, 2, 1, 1)
    assert results.effectiveness == Decimal("50.0")
    assert [(r.name, r.count, r.percent) for r in results.by_state] == [
        ("Por llamar", 1, Decimal("25.0")),
        ("Interesado", 2, Decimal("50.0")),
        ("No interesado", 1, Decimal("25.0")),
    ]
    by_agent = {r.name: r for r in results.by_agent}
    andrea, bruno = by_agent["Andrea Quispe"], by_agent["Bruno Díaz"]
    assert (andrea.count, andrea.success, andrea.rejected, andrea.open) == (2, 1, 1, 0)
    assert (bruno.count, bruno.success, bruno.rejected, bruno.open) == (2, 1, 0, 1)
    assert andrea.effectiveness == bruno.effectiveness == Decimal("50.0")
    by_channel = {r.name: r for r in results.by_channel}
    assert (by_channel["Web"].count, by_channel["Web"].success) == (3, 1)
    assert by_channel["Web"].effectiveness == Decimal("33.3")
    assert by_channel["Teléfono"].percent == Decimal("25.0")
    assert results.messages["skipped"] == 1
    assert results.messages["sent"] == 0


# --- Screens ---------------------------------------------------------------------------


def test_the_list_searches_and_filters_campaigns(client, supervisor):
    make_campaign(name="Renovación verano", slug="renovacion-verano")
    make_campaign(name="Feria de autos", slug="feria", kind=Campaign.Kind.INBOUND)
    client.force_login(supervisor)

    page = client.get(reverse("gestiones:campaign_list"), {"q": "verano"})
    inbound = client.get(reverse("gestiones:campaign_list"), {"kind": "inbound"}, headers=HTMX)

    assertContains(page, "Renovación verano")
    assertNotContains(page, "Feria de autos")
    assertTemplateUsed(inbound, "gestiones/partials/campaign_results.html")
    assertContains(inbound, "Feria de autos")
    assertNotContains(inbound, "Renovación verano")


def test_the_list_costs_the_same_queries_for_many_campaigns(
    client, supervisor, django_assert_max_num_queries
):
    for n in range(30):
        make_campaign(name=f"Campaña {n}", slug=f"campana-{n}", channel=ChannelFactory())
    client.force_login(supervisor)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("gestiones:campaign_list"))

    assert response.status_code == 200
    assert "30 campañas" in response.content.decode()


def test_a_supervisor_creates_an_outbound_campaign_with_its_segment(client, supervisor):
    branch, tag = BranchFactory(), TagFactory(name="VIP")
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:campaign_create"),
        {
            "name": "Clientes VIP de Lima",
            "kind": "outbound",
            "status": "draft",
            "message_subject": "Hola",
            "message_body": "Hola {nombre}",
            "segment_branches": [branch.pk],
            "segment_tags": [tag.pk],
            "segment_city": "Lima",
        },
    )

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == campaign.get_absolute_url()
    assert campaign.slug == "clientes-vip-de-lima"
    assert list(campaign.segment_branches.all()) == [branch]
    assert list(campaign.segment_tags.all()) == [tag]


@pytest.mark.parametrize("field", ["starts_on", "ends_on"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_campaign_date_is_between_2000_and_ten_years_ahead(client, supervisor, field, day):
    client.force_login(supervisor)
    data = {"name": "Feria", "kind": "outbound", "status": "draft", "message_body": "Hola"}

    response = client.post(reverse("gestiones:campaign_create"), {**data, field: day})

    assertContains(response, "Elija una fecha entre el 01/01/2000 y el")
    assert not Campaign.objects.exists()


def test_an_inbound_campaign_needs_a_gestion_type(client, supervisor):
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:campaign_create"),
        {"name": "Feria", "kind": "inbound", "status": "active"},
    )

    assertContains(response, "Una campaña entrante necesita el tipo de gestión")
    assert not Campaign.objects.exists()


def test_admin_checks_a_campaign_as_the_screens_do(admin_client):
    """Admin saved a campaign starting in 9999, or an inbound one opening nothing."""
    fields = {"name": "Feria", "slug": "feria", "kind": "inbound", "status": "draft"}

    response = admin_client.post(
        reverse("admin:gestiones_campaign_add"), {**fields, "starts_on": "9999-12-31"}
    )

    assertContains(response, "Elija una fecha entre el 01/01/2000 y el")
    assertContains(response, "Una campaña entrante necesita el tipo de gestión")
    assert not Campaign.objects.exists()


def test_a_supervisor_edits_a_campaign(client, supervisor, call_type):
    campaign = make_campaign(gestion_type=call_type)
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:campaign_update", args=[campaign.pk]),
        {
            "name": "Nuevo nombre",
            "slug": campaign.slug,
            "kind": "outbound",
            "status": "draft",
            "gestion_type": call_type.pk,
        },
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Nuevo nombre"


def test_a_campaign_that_reached_customers_keeps_its_type_on_the_edit_screen(
    client, supervisor, call_type
):
    # The form set the new type on the campaign before the service compared it with itself.
    campaign = make_campaign(gestion_type=call_type)
    CampaignTarget.objects.create(campaign=campaign, customer=CustomerFactory())
    client.force_login(supervisor)

    response = client.post(
        reverse("gestiones:campaign_update", args=[campaign.pk]),
        {
            "name": campaign.name,
            "slug": campaign.slug,
            "kind": "inbound",
            "status": "draft",
            "gestion_type": call_type.pk,
        },
    )

    assert response.status_code == 200
    assertContains(response, "Una campaña con destinatarios no cambia de tipo.")
    campaign.refresh_from_db()
    assert campaign.kind == Campaign.Kind.OUTBOUND


def test_the_form_counts_the_segment_live(client, supervisor):
    branch = BranchFactory()
    CustomerFactory.create_batch(2, branch=branch)
    CustomerFactory()
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:campaign_segment_count"), {"segment_branches": branch.pk}, headers=HTMX
    )

    assertContains(response, "2 clientes en el segmento")


def test_the_page_launches_the_campaign_after_confirmation(
    client, supervisor, call_type, django_capture_on_commit_callbacks
):
    CustomerFactory.create_batch(3)
    campaign = make_campaign(gestion_type=call_type)
    client.force_login(supervisor)
    page = client.get(campaign.get_absolute_url())
    assertContains(page, "¿Lanzar la campaña a 3 clientes?")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("gestiones:campaign_launch", args=[campaign.pk]))

    assert response.status_code == 302
    assert campaign.targets.count() == 3
    page = client.get(campaign.get_absolute_url())
    assertContains(page, "los clientes del segmento quedaron en cola")
    assertContains(page, "3 de 3 clientes del segmento alcanzados")
    assertContains(page, 'data-chart="campaign-agent-chart"')
    assertContains(page, 'id="campaign-agent-chart" type="application/json"')


def test_the_progress_polls_while_the_launch_runs_and_reloads_when_done(
    client, supervisor, call_type
):
    CustomerFactory.create_batch(2)
    campaign = make_campaign(
        gestion_type=call_type,
        status=Campaign.Status.ACTIVE,
        launch_heartbeat_at=timezone.now(),
    )
    url = reverse("gestiones:campaign_progress", args=[campaign.pk])
    client.force_login(supervisor)

    running = client.get(url, headers=HTMX)
    Campaign.objects.update(launch_heartbeat_at=None)
    done = client.get(url, headers=HTMX)

    assertContains(running, 'hx-trigger="every 2s"')
    assertContains(running, "0 de 2 clientes del segmento alcanzados")
    assert done["HX-Refresh"] == "true"


def test_an_inbound_campaign_shows_its_public_link(client, supervisor, call_type):
    campaign = make_inbound(call_type)
    client.force_login(supervisor)

    response = client.get(campaign.get_absolute_url())

    assertContains(response, "http://testserver/campana/feria-vehicular/")
    assertNotContains(response, 'id="launch-form"')


@pytest.mark.parametrize(
    "name", ["campaign_list", "campaign_create", "lifecycle", "campaign_segment_count"]
)
def test_an_asesor_cannot_open_the_campaign_screens(client, asesor, name):
    client.force_login(asesor)

    assert client.get(reverse(f"gestiones:{name}")).status_code == 403


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("campaign_detail", "get"),
        ("campaign_update", "get"),
        ("campaign_progress", "get"),
        ("campaign_launch", "post"),
    ],
)
def test_an_asesor_cannot_see_or_launch_a_campaign(client, asesor, call_type, name, method):
    campaign = make_campaign(gestion_type=call_type)
    CustomerFactory()
    client.force_login(asesor)

    response = getattr(client, method)(reverse(f"gestiones:{name}", args=[campaign.pk]))

    assert response.status_code == 403
    assert not campaign.targets.exists()


# --- Inbound ---------------------------------------------------------------------------


def test_the_public_page_shows_the_campaign_and_lets_recaptcha_in(client, call_type, settings):
    settings.RECAPTCHA_SITE_KEY = "site-key"
    make_inbound(call_type)

    response = client.get(reverse("campaign_form", args=["feria-vehicular"]))

    assertContains(response, "Feria vehicular")
    assertContains(response, "Regístrese y reciba una tasa preferencial.")
    assertContains(response, 'data-recaptcha-action="campaign"')
    assert "https://www.google.com/recaptcha/" in response["Content-Security-Policy"]


def test_a_registration_creates_the_customer_and_a_gestion_for_the_campaign_agents(
    client, call_type, asesor2, google
):
    google_answers(google)
    campaign = make_inbound(call_type, agents=[asesor2])

    response = client.post(
        reverse("campaign_form", args=["feria-vehicular"]), REGISTRATION, REMOTE_ADDR="203.0.113.9"
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("campaign_thanks", args=["feria-vehicular"])
    customer = Customer.objects.get(document_number="41234567")
    assert (customer.first_name, customer.email) == ("Lucía", "lucia@example.pe")
    assert customer.channel == campaign.channel
    gestion = Gestion.objects.get(customer=customer)
    assert (gestion.campaign, gestion.gestion_type, gestion.agent) == (campaign, call_type, asesor2)
    assert gestion.channel == campaign.channel
    assert gestion.subject == "Campaña Feria vehicular"
    created = gestion.follow_ups.get(kind=FollowUp.Kind.CREATED)
    assert "Quiero saber más del crédito vehicular." in created.notes
    assert campaign.targets.get().customer == customer
    sent = parse_qs(google.calls[0].request.body)
    assert sent["remoteip"] == ["203.0.113.9"]


def test_the_visitor_is_thanked_after_the_redirect(client, call_type, google):
    google_answers(google)
    make_inbound(call_type)

    response = client.post(
        reverse("campaign_form", args=["feria-vehicular"]), REGISTRATION, follow=True
    )

    assertContains(response, "¡Gracias por registrarse!")


def test_an_existing_customer_is_found_by_document_and_keeps_their_data(
    client, call_type, google, settings
):
    # Anyone may type anyone's document: an e-mail the customer lacked, once written, is
    # where the portal would send the customer's access code.
    settings.SMS_PROVIDER = ""
    google_answers(google)
    make_inbound(call_type)
    rosa = CustomerFactory(document_number="41234567", first_name="Rosa", email="")
    phone = rosa.phone

    client.post(
        reverse("campaign_form", args=["feria-vehicular"]),
        {**REGISTRATION, "email": "otra.persona@example.pe"},
    )
    portal_services.request_code(document_type="dni", document_number="41234567")

    assert Customer.objects.count() == 1
    rosa.refresh_from_db()
    assert (rosa.first_name, rosa.email, rosa.phone) == ("Rosa", "", phone)
    assert Gestion.objects.filter(customer=rosa).count() == 1
    assert not PortalCode.objects.filter(sent_to="otra.persona@example.pe").exists()
    # What was typed is there for the agent to confirm.
    note = Interaction.objects.get(customer=rosa, kind=Interaction.Kind.NOTE)
    assert "otra.persona@example.pe" in note.payload.values()


def test_registering_again_keeps_the_open_gestion(client, call_type, google):
    google_answers(google)
    google_answers(google)
    make_inbound(call_type)
    url = reverse("campaign_form", args=["feria-vehicular"])

    client.post(url, REGISTRATION)
    client.post(url, {**REGISTRATION, "message": "Llámenme por la tarde"})

    assert Gestion.objects.count() == 1
    assert Interaction.objects.filter(kind=Interaction.Kind.NOTE).count() == 2


def test_a_bad_document_is_refused_and_nothing_is_saved(client, call_type, google):
    make_inbound(call_type)

    response = client.post(
        reverse("campaign_form", args=["feria-vehicular"]),
        {**REGISTRATION, "document_number": "1234"},
    )

    assert response.status_code == 200
    assertContains(response, "El DNI debe tener exactamente 8 dígitos.")
    assert not Customer.objects.exists()
    assert not Gestion.objects.exists()
    assert len(google.calls) == 0


def test_the_form_needs_consent_and_a_way_to_reach_the_person(client, call_type, google):
    make_inbound(call_type)
    data = {k: v for k, v in REGISTRATION.items() if k not in ("consent", "email", "phone")}

    response = client.post(reverse("campaign_form", args=["feria-vehicular"]), data)

    assertContains(response, "Necesitamos su autorización para contactarlo.")
    assertContains(response, "Déjenos al menos un celular o un correo para contactarlo.")
    assert not Customer.objects.exists()


def test_a_refused_captcha_saves_nothing(client, call_type, google):
    google_answers(google, score=0.1)
    make_inbound(call_type)

    response = client.post(reverse("campaign_form", args=["feria-vehicular"]), REGISTRATION)

    assertContains(response, "No pudimos verificar que la solicitud la envía una persona.")
    assert not Customer.objects.exists()


def test_past_the_rate_limit_the_form_answers_429_without_asking_google(client, call_type, google):
    make_inbound(call_type)
    url = reverse("campaign_form", args=["feria-vehicular"])
    for _ in range(10):
        client.post(url, {**REGISTRATION, "document_number": "1"})

    response = client.post(url, REGISTRATION)

    assert response.status_code == 429
    assertContains(response, "Recibimos demasiadas solicitudes desde su conexión.", status_code=429)
    assert not Customer.objects.exists()
    assert len(google.calls) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"status": Campaign.Status.DRAFT},
        {"status": Campaign.Status.FINISHED},
        {"ends_on": datetime.date(2020, 1, 31)},
        {"starts_on": datetime.date(2999, 1, 1)},
        {"kind": Campaign.Kind.OUTBOUND},
    ],
)
def test_a_campaign_not_open_for_registrations_has_no_public_page(client, call_type, change):
    campaign = make_inbound(call_type)
    Campaign.objects.filter(pk=campaign.pk).update(**change)
    url = reverse("campaign_form", args=["feria-vehicular"])

    assert client.get(url).status_code == 404
    assert client.post(url, REGISTRATION).status_code == 404


def test_an_open_campaign_within_its_dates_takes_registrations(db, call_type):
    today = timezone.localdate()
    campaign = make_inbound(call_type, starts_on=today, ends_on=today)

    gestion = campaign_services.register_inbound(
        campaign=campaign,
        data={**REGISTRATION, "consent": True},
    )

    assert gestion.campaign == campaign
    assert gestion.agent is not None


def test_the_form_offers_only_the_types_a_campaign_can_open(client, supervisor, call_type):
    retired = examples.build_process(examples.CREDIT_APPLICATION)
    retired.is_active = False
    retired.save()
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:campaign_create"))

    choices = list(response.context["form"].fields["gestion_type"].queryset)
    assert choices == [call_type]
    assert retired not in choices
    assertContains(response, 'hx-get="/gestiones/campanas/segmento/"')


def test_unknown_placeholders_are_named_in_the_singular_or_the_plural():
    from django.core.exceptions import ValidationError

    from crm.gestiones.models.processes import PlaceholderValidator

    check = PlaceholderValidator(["nombre"])
    with pytest.raises(ValidationError) as one:
        check("Hola {apodo}")
    with pytest.raises(ValidationError) as two:
        check("Hola {apodo} y {edad}")

    assert one.value.messages == ["El texto usa {apodo}, que no existe; admite {nombre}."]
    assert two.value.messages == ["El texto usa {apodo}, {edad}, que no existen; admite {nombre}."]


def test_the_same_registration_sent_twice_is_one_timeline_entry(db, call_type):
    campaign = make_inbound(call_type)
    data = {**REGISTRATION, "consent": True, "message": "Quiero un crédito"}

    first = campaign_services.register_inbound(campaign=campaign, data=data)
    second = campaign_services.register_inbound(campaign=campaign, data=data)
    other = campaign_services.register_inbound(
        campaign=campaign, data={**data, "message": "Mejor mañana"}
    )

    assert first == second == other
    notes = first.customer.interactions.filter(summary__startswith="Registro en la campaña")
    assert [entry.payload["mensaje"] for entry in notes.order_by("pk")] == [
        "Quiero un crédito",
        "Mejor mañana",
    ]


def test_a_message_the_provider_took_but_did_not_answer_readably_counts_sent_not_failed(call_type):
    from crm import messages as crm_messages

    target = CampaignTarget.objects.create(
        campaign=make_campaign(gestion_type=call_type),
        customer=CustomerFactory(),
        message_status=CampaignTarget.MessageStatus.QUEUED,
    )
    unknown = "Twilio recibió el mensaje pero su respuesta no se pudo leer: no se sabe si se envió"

    campaign_services.record_message_outcome(
        target.pk,
        crm_messages.Outcome(
            interaction_id=1,
            status=crm_messages.DeliveryStatus.UNKNOWN,
            at=timezone.now(),
            error=unknown,
        ),
    )

    # "Failed" would have had someone send it again: the customer most likely has it.
    target.refresh_from_db()
    assert target.message_status == CampaignTarget.MessageStatus.SENT
    assert target.message_error == unknown
