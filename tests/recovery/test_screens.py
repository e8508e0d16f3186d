"""The agents' screens of written-off campaigns: who may open them, the list's search,
filters, totals and cost, a new campaign, finishing one, annulling a payment, its receipt,
the portal's funnel, and the campaign icon on the customer's profile."""

import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.strategies.segments import CASTIGADA_TAG
from credits import selectors as credit_selectors
from credits.models import Loan, Payment
from credits.services import loans as loan_services
from crm.models import Interaction
from recovery import services
from recovery.models import Campaign, CampaignPayment, Visit
from tests.factories import CustomerFactory, UserFactory
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, make_campaign

HTMX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LIST = reverse("recovery:campaign_list")


def detail_url(campaign) -> str:
    return reverse("recovery:campaign_detail", args=[campaign.pk])


def rows_of(response) -> list:
    return list(response.context["page"].object_list)


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def pay(campaign, amount, **kwargs):
    kwargs.setdefault("received_on", TODAY)
    kwargs.setdefault("source", "transfer")
    kwargs.setdefault("actor", None)
    return services.apply_payment(campaign_id=campaign.pk, amount=Decimal(amount), **kwargs)


def campaign_for_new_customer(code="CAST-A", **fields):
    customer = CustomerFactory(**fields.pop("customer", {}))
    return make_campaign(customer, code=code, **fields)


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


# --- Who may open what ---------------------------------------------------------------------


def _get_urls(campaign, payment) -> list[str]:
    return [
        LIST,
        reverse("recovery:campaign_create"),
        reverse("recovery:campaign_preview"),
        reverse("recovery:funnel"),
        detail_url(campaign),
        reverse("recovery:payment_receipt", args=[campaign.pk, payment.pk]),
    ]


def _post_urls(campaign, payment) -> dict[str, dict]:
    return {
        reverse("recovery:campaign_create"): {},
        reverse("recovery:campaign_finish", args=[campaign.pk]): {"confirm": "yes"},
        reverse("recovery:payment_annul", args=[campaign.pk, payment.pk]): {
            "reason": "x",
            "confirm": "yes",
        },
    }


def test_a_signed_out_visitor_is_sent_to_sign_in_from_every_screen(client, campaign):
    payment = pay(campaign, "100.00")

    for url in _get_urls(campaign, payment):
        response = client.get(url)
        assert response.status_code == 302, url
        assert reverse("login") in response["Location"], url


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_recovery_permissions_are_refused_every_screen(
    client, request, who, campaign
):
    payment = pay(campaign, "100.00", receipt=SimpleUploadedFile("r.pdf", PDF))
    client.force_login(request.getfixturevalue(who))

    for url in _get_urls(campaign, payment):
        assert client.get(url).status_code == 403, url
    for url, data in _post_urls(campaign, payment).items():
        assert client.post(url, data).status_code == 403, url

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert CampaignPayment.objects.get().status == CampaignPayment.Status.APPLIED


@pytest.mark.parametrize("who", ["cobranzas", "supervisor"])
def test_collections_agents_and_supervisors_open_every_screen(client, request, who, campaign):
    client.force_login(request.getfixturevalue(who))

    for url in [
        LIST,
        reverse("recovery:campaign_create"),
        reverse("recovery:funnel"),
        detail_url(campaign),
    ]:
        assert client.get(url).status_code == 200, url


def test_the_collections_menu_links_the_written_off_portfolio(agent_client):
    response = agent_client.get(reverse("collections_app:promise_list"))

    assertContains(response, LIST)


# --- The list ------------------------------------------------------------------------------


def test_the_list_shows_the_campaigns_newest_first_with_their_figures(agent_client, campaign):
    older = campaign_for_new_customer(code="CAST-OLD")
    Campaign.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=3))

    response = agent_client.get(LIST)

    assert rows_of(response) == [campaign, older]
    assertContains(response, "CAST-2026-06")
    assertContains(response, "7,200.00")
    assertContains(response, "Activa")


@pytest.mark.parametrize("typed", ["45678912", "huaman rosa", "CAST-ROSA", "L999000111"])
def test_the_list_finds_a_campaign_by_document_name_campaign_id_or_payment_code(
    agent_client, make_active_loan, typed
):
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán Torres", document_number="45678912")
    loan = make_active_loan(customer=rosa, payment_code="L999000111")
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    found = make_campaign(rosa, code="CAST-ROSA", payment_code="L999000111")
    campaign_for_new_customer(code="CAST-OTHER")

    response = agent_client.get(LIST, {"q": typed})

    assert rows_of(response) == [found]


def test_the_list_filters_by_status_campaign_id_end_date_and_amounts(agent_client):
    match = campaign_for_new_customer(
        code="CAST-M", debt_amount=Decimal("5000"), ends_on=TODAY + timedelta(days=10)
    )
    pay(match, "1000.00")  # balance 3000 - 1000 = 2000
    campaign_for_new_customer(code="CAST-M", debt_amount=Decimal("5000"), ends_on=None)
    campaign_for_new_customer(code="CAST-M", debt_amount=Decimal("900"), ends_on=TODAY)
    campaign_for_new_customer(code="CAST-X", debt_amount=Decimal("5000"), ends_on=TODAY)
    paid = campaign_for_new_customer(code="CAST-M", debt_amount=Decimal("5000"), ends_on=TODAY)
    pay(paid, "3000.00")

    response = agent_client.get(
        LIST,
        {
            "status": "0",
            "code": "cast-m",
            "ends_from": (TODAY + timedelta(days=1)).isoformat(),
            "ends_until": (TODAY + timedelta(days=30)).isoformat(),
            "debt_min": "4000",
            "debt_max": "6000",
            "amount_min": "3000",
            "amount_max": "3000",
            "balance_min": "1500",
            "balance_max": "2500",
        },
    )

    assert rows_of(response) == [match]


def test_the_list_filters_paid_campaigns(agent_client):
    paid = campaign_for_new_customer(code="CAST-P")
    pay(paid, CAMPAIGN_AMOUNT)
    campaign_for_new_customer(code="CAST-A")

    response = agent_client.get(LIST, {"status": "1"})

    assert rows_of(response) == [paid]
    assertContains(response, "Pagada")


def test_the_list_totals_the_filtered_campaigns(agent_client):
    first = campaign_for_new_customer(code="CAST-T")  # 12,000 → 7,200
    pay(first, "200.00")
    campaign_for_new_customer(code="CAST-T", debt_amount=Decimal("1000"))  # 1,000 → 600
    campaign_for_new_customer(code="CAST-OTHER")

    response = agent_client.get(LIST, {"code": "CAST-T"})

    (totals,) = response.context["totals"]
    assert (totals.count, totals.debt, totals.amount, totals.paid, totals.balance) == (
        2,
        Decimal("13000.00"),
        Decimal("7800.00"),
        Decimal("200.00"),
        Decimal("7600.00"),
    )
    assertContains(response, 'data-total="balance">S/ 7,600.00')


def test_the_list_shows_a_campaign_past_its_end_date_finished(agent_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=TODAY - timedelta(days=1))

    response = agent_client.get(LIST, {"status": "0"})

    assert rows_of(response) == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


@pytest.mark.parametrize(
    "query",
    [
        {"debt_min": "1e20"},
        {"debt_max": "-5"},
        {"balance_min": "abc"},
        {"ends_from": "3026-01-01"},
        {"status": "7"},
        {"q": "x" * 500},
        {"debt_min": "500", "debt_max": "100"},
    ],
)
def test_bad_filters_are_told_not_a_failure(agent_client, campaign, query):
    response = agent_client.get(LIST, query)

    assert response.status_code == 200
    assert rows_of(response) == []
    assertContains(response, 'id="filter-errors"')


def test_the_list_pages_by_25(agent_client):
    for n in range(26):
        campaign_for_new_customer(code=f"CAST-{n}")

    first = agent_client.get(LIST)
    second = agent_client.get(LIST, {"page": 2})

    assert len(rows_of(first)) == 25
    assert len(rows_of(second)) == 1
    assertContains(first, "26 campañas")


def test_an_htmx_search_gets_only_the_results(agent_client, campaign):
    response = agent_client.get(LIST, {"q": "CAST-2026-06"}, headers=HTMX)

    assertTemplateUsed(response, "recovery/partials/campaign_results.html")
    assertNotContains(response, "<html")
    assert rows_of(response) == [campaign]


def test_the_list_costs_the_same_queries_however_many_campaigns(agent_client):
    campaign_for_new_customer(code="CAST-Q0")
    agent_client.get(LIST)  # the session, permissions and cached choices settle

    with CaptureQueriesContext(connection) as one:
        agent_client.get(LIST)
    for n in range(1, 8):
        pay(campaign_for_new_customer(code=f"CAST-Q{n}"), "10.00")
    with CaptureQueriesContext(connection) as eight:
        response = agent_client.get(LIST)

    assert len(rows_of(response)) == 8
    assert len(eight) == len(one), [q["sql"] for q in eight.captured_queries]


def test_the_list_offers_the_upload_the_template_and_a_new_campaign(agent_client, supervisor):
    response = agent_client.get(LIST)

    assertContains(response, reverse("recovery:campaign_create"))
    template_url = reverse("recovery:import_template")
    assertContains(response, template_url)
    agent_client.force_login(supervisor)  # who may import files
    response = agent_client.get(LIST)
    assertContains(response, f"{reverse('crm:import_new')}?kind=recovery_campaigns")


# --- A new campaign ------------------------------------------------------------------------


def _form(customer, **fields) -> dict:
    return {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "code": "CAST-NEW",
        "debt_amount": "5000.00",
        "discount_type": "percent",
        "discount_value": "30",
        "ends_on": (TODAY + timedelta(days=20)).isoformat(),
        "payment_code": "",
        **fields,
    }


def test_an_agent_makes_a_campaign_and_sees_it(agent_client, cobranzas, debtor):
    response = agent_client.post(reverse("recovery:campaign_create"), _form(debtor))

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(campaign)
    assert (campaign.amount, campaign.discount_amount, campaign.created_by) == (
        Decimal("3500.00"),
        Decimal("1500.00"),
        cobranzas,
    )
    assert debtor.tags.filter(name=CASTIGADA_TAG).exists()


def test_the_form_takes_a_document_typed_with_dots_and_spaces(agent_client, debtor):
    number = debtor.document_number
    typed = f"{number[:2]}.{number[2:5]} {number[5:]}"

    agent_client.post(reverse("recovery:campaign_create"), _form(debtor, document_number=typed))

    assert Campaign.objects.get().customer == debtor


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"document_number": "99999999"}, "document_number", "No hay un cliente"),
        ({"debt_amount": "1e20"}, "debt_amount", ""),
        ({"debt_amount": "-100"}, "debt_amount", ""),
        ({"debt_amount": "mil soles"}, "debt_amount", ""),
        ({"debt_amount": "NaN"}, "debt_amount", ""),
        ({"discount_value": "-1"}, "discount_value", ""),
        ({"discount_value": "100"}, "discount_value", "menor que el 100"),
        (
            {"discount_type": "amount", "discount_value": "5000"},
            "discount_value",
            "debe ser menor que la deuda",
        ),
        ({"ends_on": "2026-06-01"}, "ends_on", "ya pasó"),
        ({"ends_on": "9999-12-31"}, "ends_on", "Elija una fecha"),
        ({"code": ""}, "code", "Indique el ID"),
        ({"code": "X" * 31}, "code", ""),
        ({"payment_code": "NOPE-1"}, "payment_code", "No existe un crédito"),
        ({"discount_type": "gratis"}, "discount_type", ""),
    ],
)
def test_the_form_shows_what_is_wrong_on_its_field(agent_client, debtor, fields, field, message):
    response = agent_client.post(reverse("recovery:campaign_create"), _form(debtor, **fields))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Campaign.objects.exists()


def test_the_form_refuses_a_second_active_campaign(agent_client, campaign, debtor):
    response = agent_client.post(reverse("recovery:campaign_create"), _form(debtor))

    assert response.status_code == 200
    assertContains(response, "ya tiene una campaña activa")
    assert Campaign.objects.count() == 1


def test_the_form_previews_the_campaign_amount(agent_client):
    response = agent_client.get(
        reverse("recovery:campaign_preview"),
        {"debt_amount": "12000", "discount_type": "percent", "discount_value": "40"},
        headers=HTMX,
    )

    assertContains(response, 'id="preview-amount">7,200.00')


def test_a_discount_in_money_also_says_its_share_of_the_debt(agent_client, debtor):
    campaign = make_campaign(debtor, discount_type="amount", discount_value=Decimal("3000"))

    response = agent_client.get(detail_url(campaign))

    assertContains(response, "25.00 % de la deuda")


def test_the_preview_says_what_is_wrong(agent_client):
    response = agent_client.get(
        reverse("recovery:campaign_preview"),
        {"debt_amount": "100", "discount_type": "amount", "discount_value": "150"},
    )

    assertContains(response, "debe ser menor que la deuda")


# --- One campaign --------------------------------------------------------------------------


def test_the_page_shows_the_campaign_its_figures_and_its_payments(agent_client, campaign, debtor):
    payment = pay(campaign, "1200.00", reference="OP-1")

    response = agent_client.get(detail_url(campaign))

    assertContains(response, 'data-figure="amount">S/ 7,200.00')
    assertContains(response, 'data-figure="balance">S/ 6,000.00')
    text = " ".join(response.content.decode().split())
    assert 'data-figure="discount"> 40 % · S/ 4,800.00 </dd>' in text
    assertNotContains(response, "% de la deuda")  # said once: the percent is the discount
    assertContains(response, f'id="payment-{payment.pk}"')
    assertContains(response, reverse("collections_app:customer_collections", args=[debtor.pk]))


def test_the_page_shows_the_customers_portal_activity(agent_client, campaign, debtor):
    visit = Visit.objects.create(
        campaign=campaign,
        customer=debtor,
        token="t" * 24,
        furthest_step=Visit.Step.OFFER,
        declined=True,
        decline_reason="El descuento no es suficiente",
    )
    Interaction.objects.create(
        customer=debtor,
        kind=Interaction.Kind.SYSTEM,
        summary="Vio la oferta de la campaña",
        payload={"recovery_visit": visit.pk, "recovery_step": 2},
    )

    response = agent_client.get(detail_url(campaign))

    assertContains(response, f'id="visit-{visit.pk}"')
    assertContains(response, "El descuento no es suficiente")
    assertContains(response, "Vio la oferta de la campaña")
    # The campaign's own entries (made) are its history.
    assertContains(response, "Campaña de cartera castigada CAST-2026-06")


def test_another_campaign_page_is_404(agent_client):
    assert agent_client.get(reverse("recovery:campaign_detail", args=[999])).status_code == 404


def test_an_id_beyond_any_row_is_a_404_on_the_screens(agent_client, db):
    huge = 10**30

    assert agent_client.get(reverse("recovery:campaign_detail", args=[huge])).status_code == 404
    receipt = reverse("recovery:payment_receipt", args=[huge, huge])
    assert agent_client.get(receipt).status_code == 404


# --- Finishing -----------------------------------------------------------------------------


def test_finishing_asks_for_confirmation_first(agent_client, campaign):
    url = reverse("recovery:campaign_finish", args=[campaign.pk])

    response = agent_client.post(url, {"reason": "Acuerdo con el cliente"})

    assertTemplateUsed(response, "collections_app/confirm.html")
    assertContains(response, "¿Finalizar esta campaña?")
    assertContains(response, 'name="reason" value="Acuerdo con el cliente"')
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE


def test_a_confirmed_finish_ends_the_campaign_and_the_tag(agent_client, campaign, debtor):
    url = reverse("recovery:campaign_finish", args=[campaign.pk])

    response = agent_client.post(url, {"reason": "Acuerdo", "confirm": "yes"}, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert not debtor.tags.filter(name=CASTIGADA_TAG).exists()
    assert "Campaña CAST-2026-06 finalizada." in shown(response)
    assertNotContains(response, 'id="campaign-finish"')


def test_finishing_a_paid_campaign_is_refused_on_the_page(agent_client, campaign):
    pay(campaign, CAMPAIGN_AMOUNT)
    url = reverse("recovery:campaign_finish", args=[campaign.pk])

    response = agent_client.post(url, {"confirm": "yes"})

    assert response.status_code == 200
    assertContains(response, "no está activa")


# --- Annulling a payment -------------------------------------------------------------------


def _annul_url(campaign, payment) -> str:
    return reverse("recovery:payment_annul", args=[campaign.pk, payment.pk])


def test_annulling_needs_a_reason(agent_client, campaign):
    payment = pay(campaign, "500.00")

    response = agent_client.post(_annul_url(campaign, payment), {"reason": ""})

    assert response.status_code == 200
    assertContains(response, "Indique el motivo de la anulación.")
    assert CampaignPayment.objects.get().status == CampaignPayment.Status.APPLIED


def test_annulling_asks_for_confirmation_first(agent_client, campaign):
    payment = pay(campaign, "500.00")

    response = agent_client.post(_annul_url(campaign, payment), {"reason": "Duplicado"})

    assertTemplateUsed(response, "collections_app/confirm.html")
    assertContains(response, "el crédito no cambia")
    assert CampaignPayment.objects.get().status == CampaignPayment.Status.APPLIED


def test_a_confirmed_annulment_gives_the_balance_back_and_leaves_the_loan_alone(
    agent_client, campaign, written_off, django_capture_on_commit_callbacks
):
    payment = pay(campaign, CAMPAIGN_AMOUNT)  # pays the campaign off
    loan_payments = Payment.objects.filter(loan=written_off).count()
    loan_before = credit_selectors.loan_balance(Loan.objects.get(pk=written_off.pk), TODAY)

    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            _annul_url(campaign, payment), {"reason": "Cheque rechazado", "confirm": "yes"}
        )

    assert response.status_code == 302
    payment.refresh_from_db()
    campaign.refresh_from_db()
    assert payment.status == CampaignPayment.Status.ANNULLED
    assert payment.annul_reason == "Cheque rechazado"
    assert (campaign.status, campaign.balance) == (Campaign.Status.ACTIVE, CAMPAIGN_AMOUNT)
    assert Payment.objects.filter(loan=written_off).count() == loan_payments
    after = credit_selectors.loan_balance(Loan.objects.get(pk=written_off.pk), TODAY)
    assert after == loan_before


def test_an_annulled_payment_offers_no_second_annulment(agent_client, campaign):
    payment = pay(campaign, "500.00")
    agent_client.post(_annul_url(campaign, payment), {"reason": "Duplicado", "confirm": "yes"})

    response = agent_client.post(
        _annul_url(campaign, payment), {"reason": "Otra vez", "confirm": "yes"}
    )

    assert response.status_code == 200
    assertContains(response, "Este pago ya fue anulado el ")
    assertContains(response, "no se anuló otra vez.")


def test_a_payment_of_another_campaign_is_404(agent_client, campaign):
    other = campaign_for_new_customer(code="CAST-O")
    payment = pay(other, "100.00")

    response = agent_client.post(_annul_url(campaign, payment), {"reason": "x", "confirm": "yes"})

    assert response.status_code == 404
    assert CampaignPayment.objects.get().status == CampaignPayment.Status.APPLIED


# --- Receipts ------------------------------------------------------------------------------


def _with_perms(*names):
    user = UserFactory()
    for dotted in names:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def test_a_receipt_is_served_to_who_may_see_payments_only(client, cobranzas, campaign):
    payment = pay(campaign, "100.00", receipt=SimpleUploadedFile("recibo.pdf", PDF))
    url = reverse("recovery:payment_receipt", args=[campaign.pk, payment.pk])
    client.force_login(cobranzas)

    served = client.get(url)

    assert served.status_code == 200
    assert served["Content-Type"] == "application/pdf"
    assert b"".join(served.streaming_content) == PDF
    client.force_login(_with_perms("crm.view_customer", "recovery.view_campaign"))
    assert client.get(url).status_code == 403


def test_a_payment_without_a_receipt_has_none_to_serve(agent_client, campaign):
    payment = pay(campaign, "100.00")

    response = agent_client.get(reverse("recovery:payment_receipt", args=[campaign.pk, payment.pk]))

    assert response.status_code == 404


# --- The funnel ----------------------------------------------------------------------------


def _visit(campaign, step, n, *, declined=False, started_at=None):
    for _ in range(n):
        Visit.objects.create(
            campaign=campaign,
            customer=campaign.customer,
            token=secrets.token_hex(12),
            furthest_step=step,
            declined=declined,
            started_at=started_at or timezone.now(),
        )


def test_the_funnel_counts_the_visits_at_each_step(agent_client, campaign):
    _visit(campaign, Visit.Step.IDENTIFIED, 4)
    _visit(campaign, Visit.Step.OFFER, 2, declined=True)
    _visit(campaign, Visit.Step.PAYMENT_OPTIONS, 1)
    _visit(campaign, Visit.Step.PAID, 1)

    response = agent_client.get(reverse("recovery:funnel"))

    report = response.context["report"]
    assert [row["count"] for row in report] == [8, 4, 2, 1, 2]
    assert [row["of_visits"] for row in report] == [
        Decimal("100.0"),
        Decimal("50.0"),
        Decimal("25.0"),
        Decimal("12.5"),
        Decimal("25.0"),
    ]
    assert report[2]["of_previous"] == Decimal("50.0")
    assert report[-1]["is_declined"] and report[-1]["of_previous"] is None
    assertContains(response, 'data-chart="funnel-chart"')
    assertContains(response, "Abrió las opciones de pago")


def test_the_funnel_filters_by_campaign_id_and_dates(agent_client, campaign):
    other = campaign_for_new_customer(code="CAST-F")
    _visit(campaign, Visit.Step.OFFER, 3)
    _visit(campaign, Visit.Step.OFFER, 5, started_at=timezone.now() - timedelta(days=10))
    _visit(other, Visit.Step.PAID, 2)

    response = agent_client.get(
        reverse("recovery:funnel"),
        {"code": "CAST-2026-06", "since": TODAY.isoformat(), "until": TODAY.isoformat()},
    )

    assert [row["count"] for row in response.context["report"]] == [3, 3, 0, 0, 0]


def test_the_funnels_campaign_id_is_found_whatever_its_case_as_in_the_list(agent_client, campaign):
    _visit(campaign, Visit.Step.OFFER, 2)

    response = agent_client.get(reverse("recovery:funnel"), {"code": "cast-2026-06"})

    assert [row["count"] for row in response.context["report"]][:2] == [2, 2]


def test_bad_funnel_filters_are_told(agent_client):
    response = agent_client.get(
        reverse("recovery:funnel"), {"since": "2026-06-10", "until": "2026-06-01"}
    )

    assert response.status_code == 200
    assertContains(response, 'id="funnel-errors"')


# --- The campaign icon on the customer's profile ---------------------------------------------


def test_the_profile_of_a_customer_with_an_active_campaign_shows_the_icon(
    agent_client, campaign, debtor
):
    response = agent_client.get(debtor.get_absolute_url())

    assertContains(response, 'id="customer-castigada"')
    assertContains(response, "data-castigada")
    assertContains(response, f"{LIST}?q={debtor.document_number}")


def test_the_profile_loses_the_icon_when_the_campaign_ends(agent_client, campaign, debtor):
    services.finish_campaign(campaign=campaign, actor=None)

    response = agent_client.get(debtor.get_absolute_url())

    assertNotContains(response, "data-castigada")


def test_an_advisor_sees_the_icon_without_the_link(client, asesor, campaign, debtor):
    client.force_login(asesor)

    response = client.get(debtor.get_absolute_url())

    assertContains(response, "data-castigada")
    assertNotContains(response, LIST)


# --- On a phone ------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_agent_screens_fit_a_phone(page, live_server, roles, make_active_loan):
    from tests.browser.pages import sign_in
    from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll

    UserFactory(username="cobranzas", role="Cobranzas")
    campaign = make_campaign(make_active_loan().customer, code="CAST-TELEFONO-2026-LARGO")
    pay(campaign, "1234.56", reference="OP-0000000000000001")
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "cobranzas")

    for path in [
        LIST,
        f"{LIST}?debt_min=1",
        detail_url(campaign),
        reverse("recovery:campaign_create"),
        reverse("recovery:funnel"),
    ]:
        page.goto(live_server.url + path)
        assert_no_sideways_scroll(page)
    page.goto(live_server.url + LIST)
    page.get_by_label("Buscar").fill("CAST-TELEFONO")
    page.wait_for_selector("#campaign-results #result-count:has-text('1 campaña')")
