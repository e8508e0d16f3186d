"""Numbers as people type them on the collections and recovery screens (lib.fields): an
amount typed "1500,50" is 1500.50, "1.500" is asked again and nothing is saved, a whole
number typed "1.000" is refused (Django read it as 1), and no input is type="number"
(Chromium drops the comma of "1500,50" as it is typed: 150050)."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import (
    AgreementRule,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
    Segment,
)
from collections_app.portal import forms as portal_forms
from collections_app.portal import selectors as portal_selectors
from collections_app.strategies.flow_forms import EffectivenessForm
from collections_app.strategies.forms import MessagePolicyForm, SegmentForm
from credits.models import Loan
from credits.services import loans as loan_services
from crm.models import MessagePolicy
from integrations import fakes
from recovery.forms import CampaignFilterForm, PreviewForm
from recovery.models import Campaign, RecoverySettings
from tests import receipts
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import whole_portfolio
from tests.collections_app.test_portal import VERIFY_URL, signed_in
from tests.credits.conftest import TODAY, at
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db

AMBIGUOUS = "«1.500» es ambiguo"
AMBIGUOUS_THOUSAND = "«1.000» es ambiguo"


@pytest.fixture(autouse=True)
def _today():
    with at(TODAY):
        yield


@pytest.fixture(autouse=True)
def _gateways():
    fakes.reset()
    yield
    fakes.reset()


@pytest.fixture
def loan(db) -> Loan:
    """A loan of 10,000 disbursed on its start day: several installments overdue on TODAY."""
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)
    disbursed_at = timezone.make_aware(datetime.combine(loan.start_date, time(9)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=disbursed_at)


@pytest.fixture
def debtor(loan):
    debtor = loan.customer
    debtor.email = "deudor@example.pe"  # the portal's code reaches them
    debtor.save()
    return debtor


@pytest.fixture
def google(settings):
    """Google's siteverify, faked: it takes every token made for the portal."""
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    settings.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        answer = {"success": True, "score": 0.9, "action": "portal_identify"}
        mock.post(VERIFY_URL, json={**answer, "hostname": "testserver"})
        yield


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def _no_number_inputs(response) -> None:
    assert response.status_code == 200
    assertNotContains(response, 'type="number"')


# --- An agent's promise, link and report (collections_app.forms) --------------------------


def _promise(agent_client, debtor, loan, amount):
    return agent_client.post(
        reverse("collections_app:customer_promise_create", args=[debtor.pk]),
        {
            "promise-debt": f"loan:{loan.pk}",
            "promise-amount": amount,
            "promise-promised_on": (TODAY + timedelta(days=7)).isoformat(),
        },
    )


def test_an_agents_promise_typed_with_a_decimal_comma_is_recorded_as_meant(
    agent_client, debtor, loan
):
    response = _promise(agent_client, debtor, loan, "1500,50")

    assert response.status_code == 302
    assert PaymentPromise.objects.get().amount == Decimal("1500.50")


def test_an_agents_promise_of_one_group_of_three_is_asked_again(agent_client, debtor, loan):
    response = _promise(agent_client, debtor, loan, "1.500")

    assert response.context["promise_form"].errors["amount"][0].startswith(AMBIGUOUS)
    assert not PaymentPromise.objects.exists()


def _link(agent_client, debtor, loan, **fields):
    return agent_client.post(
        reverse("collections_app:customer_link_create", args=[debtor.pk]),
        {"link-debt": f"loan:{loan.pk}", "link-provider": "mercadopago", **fields},
    )


def test_an_agents_link_for_an_amount_typed_with_a_decimal_comma_is_made_as_meant(
    agent_client, debtor, loan
):
    response = _link(
        agent_client, debtor, loan, **{"link-concept": "custom", "link-amount": "1500,50"}
    )

    assert response.status_code == 302
    assert PaymentLink.objects.get().amount == Decimal("1500.50")


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"link-concept": "custom", "link-amount": "1.500"}, "amount", AMBIGUOUS),
        (
            {"link-concept": "installment", "link-installment_number": "1.000"},
            "installment_number",
            AMBIGUOUS_THOUSAND,
        ),
    ],
    ids=["amount", "installment"],
)
def test_an_agents_link_with_an_ambiguous_number_is_refused(
    agent_client, debtor, loan, fields, field, says
):
    response = _link(agent_client, debtor, loan, **fields)

    assert response.context["link_form"].errors[field][0].startswith(says)
    assert not PaymentLink.objects.exists()


def _report(agent_client, debtor, loan, amount):
    return agent_client.post(
        reverse("collections_app:customer_report_create", args=[debtor.pk]),
        {
            "report-debt": f"loan:{loan.pk}",
            "report-amount": amount,
            "report-paid_on": (TODAY - timedelta(days=2)).isoformat(),
            "report-method": "deposit",
            "report-receipt": SimpleUploadedFile(
                "comprobante.pdf", receipts.PDF, content_type="application/pdf"
            ),
        },
    )


def test_an_agents_report_typed_with_a_decimal_comma_is_recorded_as_meant(
    agent_client, debtor, loan
):
    response = _report(agent_client, debtor, loan, "1500,50")

    assert response.status_code == 302
    assert ReportedPayment.objects.get().amount == Decimal("1500.50")


def test_an_agents_report_of_one_group_of_three_is_asked_again(agent_client, debtor, loan):
    response = _report(agent_client, debtor, loan, "1.500")

    assert response.context["report_form"].errors["amount"][0].startswith(AMBIGUOUS)
    assert not ReportedPayment.objects.exists()


def test_the_customers_collections_page_has_no_number_inputs(agent_client, debtor, loan):
    response = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    _no_number_inputs(response)
    assertContains(response, 'inputmode="decimal"')


# --- Segments, the message policy, flows and their figures (collections_app.strategies) ----


def test_a_segments_balance_typed_with_a_decimal_comma_is_saved_as_meant(agent_client):
    response = agent_client.post(
        reverse("collections_app:segment_create"), {"name": "Medianos", "min_balance": "1500,50"}
    )

    assert response.status_code == 302
    assert Segment.objects.get().min_balance == Decimal("1500.50")


def test_a_segment_with_an_ambiguous_balance_is_not_saved(agent_client):
    response = agent_client.post(
        reverse("collections_app:segment_create"), {"name": "Medianos", "min_balance": "1.500"}
    )

    assert response.context["form"].errors["min_balance"][0].startswith(AMBIGUOUS)
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    "name", ["min_days_past_due", "max_days_past_due", "no_contact_days", "contacted_within_days"]
)
def test_a_segments_days_of_one_thousand_typed_the_spanish_way_are_refused(name):
    form = SegmentForm(data={"name": "Medianos", name: "1.000"})

    assert form.errors[name][0].startswith(AMBIGUOUS_THOUSAND)


def test_the_segment_form_has_no_number_inputs(agent_client):
    _no_number_inputs(agent_client.get(reverse("collections_app:segment_create")))


def test_a_daily_limit_of_one_thousand_typed_the_spanish_way_is_refused(supervisor, client):
    client.force_login(supervisor)
    data = {"quiet_start": "20:00", "quiet_end": "08:00", "daily_limit": "1.000"}

    response = client.post(reverse("collections_app:message_policy"), data)

    assert response.status_code == 200
    assert MessagePolicyForm(data=data).errors["daily_limit"][0].startswith(AMBIGUOUS_THOUSAND)
    assert MessagePolicy.current().daily_limit != 1


def test_the_events_page_has_no_number_inputs(agent_client):
    _no_number_inputs(agent_client.get(reverse("collections_app:event_settings")))


def _flow(segment, day: str, template) -> dict:
    return {
        "name": "Mora temprana",
        "description": "",
        "segment": segment.pk,
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "steps-0-day_offset": day,
        "steps-0-template": template.pk,
    }


def test_a_flow_step_on_day_one_thousand_typed_the_spanish_way_is_refused(agent_client):
    segment = whole_portfolio()
    template = make_template(name="Aviso SMS", body="Hola {nombre}")

    response = agent_client.post(
        reverse("collections_app:flow_create"), _flow(segment, "1.000", template)
    )

    assert response.status_code == 200
    assertContains(response, AMBIGUOUS_THOUSAND)
    assert not segment.flows.exists()

    response = agent_client.post(
        reverse("collections_app:flow_create"), _flow(segment, " -3 ", template)
    )

    assert response.status_code == 302
    assert segment.flows.get().steps.get().day_offset == -3


def test_the_flow_form_has_no_number_inputs_nor_a_keyboard_without_minus(agent_client):
    response = agent_client.get(reverse("collections_app:flow_create"))

    _no_number_inputs(response)
    assertNotContains(response, 'inputmode="numeric"')  # the days before the due date are < 0


def test_attribution_days_of_one_thousand_typed_the_spanish_way_are_refused():
    form = EffectivenessForm(data={"days": "1.000"})

    assert form.errors["days"][0].startswith(AMBIGUOUS_THOUSAND)
    assert EffectivenessForm(data={"days": "14"}).period()[2] == 14


def test_the_effectiveness_page_has_no_number_inputs(agent_client):
    _no_number_inputs(agent_client.get(reverse("collections_app:effectiveness")))


# --- The portal (collections_app.portal.forms and its statement) --------------------------


def _portal_form(form_class, debtor, loan, **data):
    statement = portal_selectors.statement(debtor)
    extra = {"gateways": portal_selectors.gateways()} if form_class is portal_forms.PayForm else {}
    return form_class(data={"debt": f"loan:{loan.pk}", **data}, statement=statement, **extra)


@pytest.mark.parametrize(
    ("form_class", "data"),
    [
        (portal_forms.PayForm, {"concept": "custom", "provider": "mercadopago"}),
        (portal_forms.PromiseForm, {"promised_on": "2026-06-30"}),
    ],
    ids=["pay", "promise"],
)
def test_a_portal_amount_typed_with_a_decimal_comma_is_read_as_meant(
    debtor, loan, form_class, data
):
    form = _portal_form(form_class, debtor, loan, amount="1500,50", **data)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == Decimal("1500.50")


@pytest.mark.parametrize(
    "form_class", [portal_forms.PayForm, portal_forms.ReportForm, portal_forms.PromiseForm]
)
def test_a_portal_amount_of_one_group_of_three_is_asked_again(debtor, loan, form_class):
    form = _portal_form(form_class, debtor, loan, amount="1.500")

    assert form.errors["amount"][0].startswith(AMBIGUOUS)


def test_a_portal_installment_one_thousand_typed_the_spanish_way_is_refused(debtor, loan):
    form = _portal_form(
        portal_forms.PayForm, debtor, loan, concept="installment", installment_number="1.000"
    )

    assert form.errors["installment_number"][0].startswith(AMBIGUOUS_THOUSAND)


def test_a_debtors_promise_typed_with_a_decimal_comma_is_recorded_as_meant(google, debtor, loan):
    client = signed_in(Client(), debtor)
    url = reverse("collections_app:portal_promise")

    refused = client.post(
        url, {"debt": f"loan:{loan.pk}", "amount": "1.500", "promised_on": "2026-06-30"}
    )

    assert refused.status_code == 200
    assertContains(refused, AMBIGUOUS)
    assert not PaymentPromise.objects.exists()

    client.post(url, {"debt": f"loan:{loan.pk}", "amount": "1500,50", "promised_on": "2026-06-30"})

    assert PaymentPromise.objects.get().amount == Decimal("1500.50")


def test_the_portals_pages_have_no_number_inputs(google, debtor, loan):
    client = signed_in(Client(), debtor)

    statement = client.get(reverse("collections_app:portal_statement"))

    _no_number_inputs(statement)
    assertContains(statement, 'name="amount"')
    for name in ("portal_report", "portal_promise"):
        _no_number_inputs(client.get(reverse(f"collections_app:{name}")))


# --- Recovery's campaigns (recovery.forms) -------------------------------------------------


def _campaign(customer, **fields) -> dict:
    return {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "code": "CAST-NEW",
        "debt_amount": "5000.00",
        "discount_type": "amount",
        "discount_value": "0",
        "ends_on": (TODAY + timedelta(days=20)).isoformat(),
        "payment_code": "",
        **fields,
    }


def test_a_campaign_typed_with_decimal_commas_is_made_as_meant(agent_client, debtor):
    data = _campaign(debtor, debt_amount="1500,50", discount_value="500,25")

    response = agent_client.post(reverse("recovery:campaign_create"), data)

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.debt_amount, campaign.discount_value) == (
        Decimal("1500.50"),
        Decimal("500.25"),
    )


@pytest.mark.parametrize("field", ["debt_amount", "discount_value"])
def test_a_campaign_with_an_ambiguous_figure_is_not_made(agent_client, debtor, field):
    response = agent_client.post(
        reverse("recovery:campaign_create"), _campaign(debtor, **{field: "1.500"})
    )

    assert response.context["form"].errors[field][0].startswith(AMBIGUOUS)
    assert not Campaign.objects.exists()


def test_a_campaigns_preview_and_filters_read_amounts_as_typed(db):
    preview = PreviewForm(data={"debt_amount": "1500,50", "discount_value": "1.500"})
    filters = CampaignFilterForm(data={"debt_min": "1.500,00", "balance_max": "1.500"})

    assert not preview.is_valid()
    assert preview.cleaned_data["debt_amount"] == Decimal("1500.50")
    assert preview.errors["discount_value"][0].startswith(AMBIGUOUS)
    assert not filters.is_valid()
    assert filters.cleaned_data["debt_min"] == Decimal("1500.00")
    assert filters.errors["balance_max"][0].startswith(AMBIGUOUS)


def test_the_campaign_screens_have_no_number_inputs(agent_client):
    for name in ("campaign_create", "campaign_list"):
        response = agent_client.get(reverse(f"recovery:{name}"))
        _no_number_inputs(response)
        assertContains(response, 'inputmode="decimal"')


# --- Admin: agreement rules and the /recovery portal's settings ----------------------------


def _rule(**fields) -> dict:
    return {
        "name": "Convenio 6",
        "max_installments": "6",
        "min_down_payment_percent": "12,5",
        "late_interest_discount_percent": "0",
        "min_days_past_due": "1",
        "days_between_installments": "30",
        "is_active": "on",
        **fields,
    }


def test_an_agreement_rules_percentages_take_a_decimal_comma(admin_client):
    response = admin_client.post(reverse("admin:collections_app_agreementrule_add"), _rule())

    assert response.status_code == 302
    assert AgreementRule.objects.get().min_down_payment_percent == Decimal("12.5")


@pytest.mark.parametrize(
    "field", ["max_installments", "min_days_past_due", "days_between_installments"]
)
def test_an_agreement_rules_whole_numbers_typed_the_spanish_way_are_refused(admin_client, field):
    response = admin_client.post(
        reverse("admin:collections_app_agreementrule_add"), _rule(**{field: "1.000"})
    )

    errors = response.context["adminform"].form.errors
    assert errors[field][0].startswith(AMBIGUOUS_THOUSAND)
    assert not AgreementRule.objects.exists()


def test_the_agreement_rules_admin_has_no_number_inputs(admin_client):
    response = admin_client.get(reverse("admin:collections_app_agreementrule_add"))

    _no_number_inputs(response)
    assertContains(response, 'class="vIntegerField"')


def test_the_countdowns_hours_typed_the_spanish_way_are_refused(admin_client):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])
    data = {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": portal.legal_text,
        "countdown_enabled": "on",
        "countdown_hours": "1.000",
        "decline_reasons": portal.decline_reasons,
        "is_active": "on",
        "advisor_whatsapp": "",
    }

    refused = admin_client.post(url, data)
    page = admin_client.get(url)

    errors = refused.context["adminform"].form.errors
    assert errors["countdown_hours"][0].startswith(AMBIGUOUS_THOUSAND)
    assert RecoverySettings.current().countdown_hours == 48
    _no_number_inputs(page)
