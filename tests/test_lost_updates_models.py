"""Two tabs, or two people, with the same record's edit form open, on the configuration
screens: message templates, segments, the message policy, gestiones campaigns, surveys and
catalog products (`lib.stale`).

Each test opens the form twice as a browser does, saves one tab with a change, then saves
the stale one: a field it left as shown keeps the other person's value; a field both
changed, differently, is refused once naming the stored value, and saved when sent again.
"""

import datetime
from decimal import Decimal

import lxml.html
import pytest
from django.urls import reverse

from callcenter.catalog import services as catalog_services
from collections_app.models import MessageTemplate, Segment
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Campaign, Question, Survey
from crm.models import MessagePolicy
from tests.factories import (
    BranchFactory,
    CatalogProductFactory,
    LoanProductFactory,
    TagFactory,
    UserFactory,
)
from tests.test_lost_updates import changed, client_for, shown_form_of, two_tabs

pytestmark = pytest.mark.django_db

REFUSED = "Otra persona lo cambió a «{}» mientras usted editaba"


@pytest.fixture
def tabs(client):
    """Open `url` as two administrators: each one's client and what each tab shows."""

    def open_tabs(url: str):
        admin = UserFactory(username="jefa", is_staff=True, is_superuser=True)
        client.force_login(admin)
        other = client_for(type(client), admin)
        first, stale = two_tabs(client, other, url)
        return client, other, first, stale

    return open_tabs


def resent(refused, field: str) -> list[tuple[str, str]]:
    """What the refused page's form sends again, without `field` (the test sets it)."""
    return [(name, value) for name, value in shown_form_of(refused) if name != field]


# Message templates -------------------------------------------------------------------------


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        name="Recordatorio",
        channel=MessageTemplate.Channel.SMS,
        body="Hola {nombre}, su cuota vence pronto.",
    )


def test_a_stale_template_form_keeps_another_persons_text(tabs, template):
    url = reverse("collections_app:template_update", args=[template.pk])
    client, other, first, stale = tabs(url)

    new_body = "Hola {nombre}, su cuota vence el {fecha_vencimiento}."
    assert client.post(url, changed(first, body=new_body)).status_code == 302
    response = other.post(url, changed(stale, name="Recordatorio de cuota"))

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.body) == ("Recordatorio de cuota", new_body)


def test_both_changing_a_templates_text_is_refused_once_then_saved(tabs, template):
    url = reverse("collections_app:template_update", args=[template.pk])
    client, other, first, stale = tabs(url)
    client.post(url, changed(first, body="Hola {nombre}, pague hoy."))

    refused = other.post(url, changed(stale, body="Hola {nombre}, le recordamos su cuota."))

    assert refused.status_code == 200
    assert REFUSED.format("Hola {nombre}, pague hoy.") in refused.content.decode()
    template.refresh_from_db()
    assert template.body == "Hola {nombre}, pague hoy."
    mine = "Hola {nombre}, le recordamos su cuota."
    assert other.post(url, changed(resent(refused, "body"), body=mine)).status_code == 302
    template.refresh_from_db()
    assert template.body == mine


# Segments ----------------------------------------------------------------------------------


def test_a_stale_segment_form_keeps_another_persons_rules(tabs):
    segment = Segment.objects.create(name="Morosos", min_days_past_due=1, buckets=["1_30"])
    excluded = TagFactory(name="Reprogramado")
    url = reverse("collections_app:segment_update", args=[segment.pk])
    client, other, first, stale = tabs(url)

    data = changed(first, min_days_past_due="31", excluded_tags=str(excluded.pk))
    data["buckets"] = ["31_60", "61_90"]
    assert client.post(url, data).status_code == 302
    response = other.post(url, changed(stale, description="Para el flujo de cobranza"))

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.description == "Para el flujo de cobranza"
    assert segment.min_days_past_due == 31
    assert sorted(segment.buckets) == ["31_60", "61_90"]
    assert list(segment.excluded_tags.all()) == [excluded]


def test_both_changing_a_segments_rule_is_refused_once_then_saved(tabs):
    segment = Segment.objects.create(name="Morosos", min_days_past_due=1)
    url = reverse("collections_app:segment_update", args=[segment.pk])
    client, other, first, stale = tabs(url)
    client.post(url, changed(first, min_days_past_due="31"))

    refused = other.post(url, changed(stale, min_days_past_due="61"))

    assert refused.status_code == 200
    assert REFUSED.format("31") in refused.content.decode()
    segment.refresh_from_db()
    assert segment.min_days_past_due == 31
    again = changed(resent(refused, "min_days_past_due"), min_days_past_due="61")
    assert other.post(url, again).status_code == 302
    segment.refresh_from_db()
    assert segment.min_days_past_due == 61


# The message policy (below the events settings, its own form) ------------------------------


@pytest.fixture
def policy(db):
    return MessagePolicy.objects.create(
        pk=1, quiet_start=datetime.time(20, 0), quiet_end=datetime.time(8, 0), daily_limit=3
    )


def policy_form(response) -> list[tuple[str, str]]:
    page = lxml.html.fromstring(response.content.decode())
    return list(page.get_element_by_id("message-policy-form").form_values())


def policy_tabs(tabs):
    page = reverse("collections_app:event_settings")
    client, other, _first, _stale = tabs(page)
    return client, other, policy_form(client.get(page)), policy_form(other.get(page))


def test_a_stale_message_policy_form_keeps_another_persons_daily_limit(tabs, policy):
    url = reverse("collections_app:message_policy")
    client, other, first, stale = policy_tabs(tabs)

    assert client.post(url, changed(first, daily_limit="1")).status_code == 302
    response = other.post(url, changed(stale, quiet_end="09:00"))

    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.daily_limit, policy.quiet_end) == (1, datetime.time(9, 0))


def test_both_changing_the_daily_limit_is_refused_once_then_saved(tabs, policy):
    url = reverse("collections_app:message_policy")
    client, other, first, stale = policy_tabs(tabs)
    client.post(url, changed(first, daily_limit="1"))

    refused = other.post(url, changed(stale, daily_limit="5"))

    assert refused.status_code == 200
    assert REFUSED.format("1") in refused.content.decode()
    assert MessagePolicy.current().daily_limit == 1
    again = [(n, v) for n, v in policy_form(refused) if n != "daily_limit"]
    assert other.post(url, changed(again, daily_limit="5")).status_code == 302
    assert MessagePolicy.current().daily_limit == 5


# Gestiones campaigns ----------------------------------------------------------------------


@pytest.fixture
def campaign(db):
    return Campaign.objects.create(
        name="Feria 2026",
        slug="feria-2026",
        kind=Campaign.Kind.OUTBOUND,
        message_body="Hola {nombre}, le esperamos en la feria.",
        starts_on=datetime.date(2026, 3, 1),
        ends_on=datetime.date(2026, 3, 31),
    )


def test_a_stale_campaign_form_keeps_another_persons_dates(tabs, campaign):
    url = reverse("gestiones:campaign_update", args=[campaign.pk])
    client, other, first, stale = tabs(url)

    assert client.post(url, changed(first, ends_on="2026-04-15")).status_code == 302
    response = other.post(url, changed(stale, description="Con test drive"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.description, campaign.ends_on) == (
        "Con test drive",
        datetime.date(2026, 4, 15),
    )


def test_a_stale_campaign_form_does_not_put_a_launched_campaign_back_to_draft(
    tabs, campaign, supervisor
):
    url = reverse("gestiones:campaign_update", args=[campaign.pk])
    _client, other, _first, stale = tabs(url)
    campaign_services.launch_campaign(campaign=campaign, actor=supervisor)

    response = other.post(url, changed(stale, description="Con test drive"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert campaign.description == "Con test drive"


def test_both_changing_a_campaigns_end_date_is_refused_once_then_saved(tabs, campaign):
    url = reverse("gestiones:campaign_update", args=[campaign.pk])
    client, other, first, stale = tabs(url)
    client.post(url, changed(first, ends_on="2026-04-15"))

    refused = other.post(url, changed(stale, ends_on="2026-04-30"))

    assert refused.status_code == 200
    # Written as the screens write a date, not as stored.
    assert REFUSED.format("15/04/2026") in refused.content.decode()
    campaign.refresh_from_db()
    assert campaign.ends_on == datetime.date(2026, 4, 15)
    again = changed(resent(refused, "ends_on"), ends_on="2026-04-30")
    assert other.post(url, again).status_code == 302
    campaign.refresh_from_db()
    assert campaign.ends_on == datetime.date(2026, 4, 30)


# Surveys: the survey's own fields ---------------------------------------------------------


@pytest.fixture
def survey(db):
    survey = Survey.objects.create(name="Satisfacción", intro="Cuéntenos cómo le fue.")
    Question.objects.create(survey=survey, text="¿Cómo le fue?", kind=Question.Kind.TEXT, order=1)
    return survey


def test_a_stale_survey_form_does_not_switch_a_survey_back_on(tabs, survey):
    url = reverse("gestiones:survey_update", args=[survey.pk])
    client, other, first, stale = tabs(url)

    assert client.post(url, changed(first, is_active="")).status_code == 302
    response = other.post(url, changed(stale, intro="Su opinión nos ayuda."))

    assert response.status_code == 302
    survey.refresh_from_db()
    assert (survey.is_active, survey.intro) == (False, "Su opinión nos ayuda.")


def test_both_changing_a_surveys_thanks_is_refused_once_then_saved(tabs, survey):
    url = reverse("gestiones:survey_update", args=[survey.pk])
    client, other, first, stale = tabs(url)
    client.post(url, changed(first, thanks="¡Gracias!"))

    refused = other.post(url, changed(stale, thanks="Gracias por su tiempo."))

    assert refused.status_code == 200
    assert REFUSED.format("¡Gracias!") in refused.content.decode()
    survey.refresh_from_db()
    assert survey.thanks == "¡Gracias!"
    again = changed(resent(refused, "thanks"), thanks="Gracias por su tiempo.")
    assert other.post(url, again).status_code == 302
    survey.refresh_from_db()
    assert survey.thanks == "Gracias por su tiempo."


# Admin pages without fieldsets ------------------------------------------------------------


def test_an_admin_page_without_fieldsets_sends_what_it_showed_once(admin_client):
    # The admin lists such a form's fields, the hidden one too, and the mixin added it again.
    url = reverse("admin:credits_loanproduct_change", args=[LoanProductFactory().pk])

    page = admin_client.get(url).content.decode()

    assert page.count('name="seen_values"') == 1


# Catalog products (admin) -----------------------------------------------------------------


def test_a_stale_catalog_product_form_keeps_the_new_price_and_the_stock(tabs):
    product = CatalogProductFactory(name="Casco", price=Decimal("49.90"))
    catalog_services.adjust_stock(product=product, delta=10, note="Conteo", actor=None)
    url = reverse("admin:callcenter_catalogproduct_change", args=[product.pk])
    client, other, first, stale = tabs(url)

    assert client.post(url, changed(first, price="59.90")).status_code == 302
    catalog_services.adjust_stock(product=product, delta=-3, note="Merma", actor=None)
    response = other.post(url, changed(stale, name="Casco integral"))

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.price, product.stock) == ("Casco integral", Decimal("59.90"), 7)


def test_both_changing_a_products_price_is_refused_once_then_saved(tabs):
    product = CatalogProductFactory(name="Casco", price=Decimal("49.90"))
    url = reverse("admin:callcenter_catalogproduct_change", args=[product.pk])
    client, other, first, stale = tabs(url)
    client.post(url, changed(first, price="59.90"))

    refused = other.post(url, changed(stale, price="55.00"))

    assert refused.status_code == 200
    assert REFUSED.format("59.90") in refused.content.decode()
    product.refresh_from_db()
    assert product.price == Decimal("59.90")
    assert other.post(url, changed(resent(refused, "price"), price="55.00")).status_code == 302
    product.refresh_from_db()
    assert product.price == Decimal("55.00")


# An inactive branch a rule names ---------------------------------------------------------


def test_saving_a_segment_keeps_an_inactive_branch_it_names(tabs):
    # The list offered active branches only: the saved page dropped the inactive one, and
    # the segment then reached every branch's customers.
    closed = BranchFactory(name="Sucursal cerrada", is_active=False)
    segment = Segment.objects.create(name="Morosos del norte", min_days_past_due=1)
    segment.branches.set([closed])
    url = reverse("collections_app:segment_update", args=[segment.pk])
    client, _other, first, _stale = tabs(url)

    assert client.post(url, changed(first, description="Solo el norte")).status_code == 302

    segment.refresh_from_db()
    assert list(segment.branches.all()) == [closed]


def test_saving_a_campaign_keeps_an_inactive_branch_it_names(tabs):
    closed = BranchFactory(name="Sucursal cerrada", is_active=False)
    campaign = Campaign.objects.create(
        name="Feria", slug="feria", kind=Campaign.Kind.OUTBOUND, message_body="Hola {nombre}"
    )
    campaign.segment_branches.set([closed])
    url = reverse("gestiones:campaign_update", args=[campaign.pk])
    client, _other, first, _stale = tabs(url)

    assert client.post(url, changed(first, description="Del norte")).status_code == 302

    campaign.refresh_from_db()
    assert list(campaign.segment_branches.all()) == [closed]
