"""The words on pages: Spanish in the usted form, money by its symbol, plurals that agree,
and every form field with a label. Cheap: a few objects per test, no demo."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from credits.models import Liquidation, Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.gestiones import examples, services
from crm.gestiones.models import Campaign, LifecycleEvent, Question, Survey, SurveyInvitation
from tests.factories import (
    CustomerFactory,
    InvestorFactory,
    LoanFactory,
    LoanProductFactory,
    UserFactory,
)


def visible_text(html: str) -> str:
    """Return the text a reader sees: no scripts or styles; one space between pieces."""
    document = lxml.html.fromstring(html or "<p></p>")
    for hidden in document.xpath("//script|//style|//template|//noscript"):
        hidden.drop_tree()
    return " ".join(" ".join(document.itertext()).split())


@pytest.fixture
def admin_client(db, client):
    client.force_login(
        UserFactory(username="words-admin", is_staff=True, is_superuser=True, role="Administrador")
    )
    return client


@pytest.mark.parametrize(
    ("anchor", "days", "expected"),
    [
        (LifecycleEvent.Anchor.DISBURSED, 1, "1 día después del desembolso"),
        (LifecycleEvent.Anchor.DISBURSED, 15, "15 días después del desembolso"),
        (LifecycleEvent.Anchor.MATURITY, 1, "1 día antes del último vencimiento"),
        (LifecycleEvent.Anchor.MATURITY, 30, "30 días antes del último vencimiento"),
    ],
)
def test_lifecycle_events_count_their_days_in_the_right_number(
    admin_client, anchor, days, expected
):
    LifecycleEvent.objects.create(
        name="Gracias",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=LoanProductFactory(),
        anchor=anchor,
        offset_days=days,
        message_body="Gracias por confiar en nosotros.",
    )

    response = admin_client.get(reverse("gestiones:lifecycle"))

    text = visible_text(response.content.decode())
    assert expected in text
    assert "1 días" not in text


def test_the_import_page_speaks_to_staff_as_usted(admin_client):
    response = admin_client.get(reverse("crm:import_new"))

    text = visible_text(response.content.decode())
    assert "elija qué columna" in text
    assert "elige" not in text


def test_every_question_of_a_survey_has_a_label(db, asesor, supervisor):
    credit_type = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit_type,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )
    survey = Survey.objects.create(name="Satisfacción")
    Question.objects.create(
        survey=survey, text="¿Qué tan satisfecho quedó?", kind=Question.Kind.SCALE, order=1
    )
    Question.objects.create(
        survey=survey, text="¿Qué mejoraría?", kind=Question.Kind.TEXT, is_required=False, order=2
    )
    invitation = SurveyInvitation.objects.create(gestion=gestion, survey=survey)

    response = Client().get(reverse("survey_answer", args=[invitation.token]))

    document = lxml.html.fromstring(response.content.decode())
    labelled = set(document.xpath("//label/@for"))
    fields = document.xpath("//form//textarea|//form//select|//form//input[@type!='hidden']")
    assert len(fields) > 1
    assert [f.get("name") for f in fields if f.get("id") not in labelled] == []


def test_investor_pages_show_the_currency_symbol_not_its_code(admin_client):
    investor = InvestorFactory(currency="PEN")

    for url in (
        reverse("credits:investor_list"),
        reverse("credits:investor_detail", args=[investor.pk]),
        reverse("credits:investor_dashboard"),
    ):
        text = visible_text(admin_client.get(url).content.decode())
        assert "PEN" not in text, url
        assert "S/" in text, url


def test_a_liquidation_to_pay_names_its_amount_with_the_symbol(admin_client):
    liquidation = Liquidation.objects.create(
        investor=InvestorFactory(currency="PEN"),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        net_amount=Decimal("25519.87"),
    )

    response = admin_client.get(reverse("credits:liquidation_detail", args=[liquidation.pk]))

    html = response.content.decode()
    assert "Cuando haya transferido S/ 25,519.87 al inversionista" in visible_text(html)
    assert "PEN" not in visible_text(html)
    # The payout asks on its own page (tests/credits/test_confirm_pages.py).
    payout = admin_client.get(reverse("credits:liquidation_pay", args=[liquidation.pk]))
    asked = visible_text(payout.content.decode())
    assert "¿Registrar el abono de S/ 25,519.87 a" in asked
    assert "PEN" not in asked


def test_the_public_calculator_lists_products_with_the_currency_symbol(db):
    LoanProductFactory(name="Crédito de consumo", min_amount=Decimal("1000"), min_term=6)

    response = Client().get(reverse("calculator_credit"))

    document = lxml.html.fromstring(response.content.decode())
    limits = " ".join(" ".join(document.get_element_by_id("product-limits").itertext()).split())
    assert re.search(r"Crédito de consumo ?: S/ 1,000\.00 a 500,000\.00", limits), limits
    assert "PEN" not in limits


def test_a_loan_asks_to_disburse_its_amount_with_the_symbol(admin_client):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, principal=Decimal("12500.50"))

    response = admin_client.get(loan.get_absolute_url())

    html = response.content.decode()
    assert "¿Desembolsar S/ 12,500.50?" in html
    assert "PEN" not in html.split('id="loan-actions"', 1)[-1]


def test_a_payment_asks_to_be_annulled_with_its_amount_and_symbol(admin_client):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)
    loan = loan_services.disburse(
        loan=loan, actor=None, disbursed_at=datetime(2026, 1, 1, 9, tzinfo=UTC)
    )
    payment = payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1234.50"),
        received_on=date(2026, 2, 1),
        source=Payment.Source.CASH,
        actor=None,
    )

    # The annulment asks on its own page (tests/credits/test_confirm_pages.py).
    response = admin_client.get(reverse("credits:payment_annul", args=[loan.pk, payment.pk]))

    assert f"¿Anular el pago #{payment.pk} de S/\u00a01,234.50?" in response.content.decode()


@pytest.fixture
def credit_process(db, asesor, supervisor):
    return examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )


def test_a_campaign_of_one_customer_counts_them_in_the_singular(client, supervisor, credit_process):
    CustomerFactory()
    campaign = Campaign.objects.create(
        name="Renovación",
        slug="renovacion",
        kind=Campaign.Kind.OUTBOUND,
        gestion_type=credit_process,
        status=Campaign.Status.ACTIVE,
        launch_heartbeat_at=timezone.now(),  # the launch is running
    )
    client.force_login(supervisor)

    response = client.get(
        reverse("gestiones:campaign_progress", args=[campaign.pk]), headers={"HX-Request": "true"}
    )

    assert "0 de 1 cliente del segmento alcanzado" in visible_text(response.content.decode())


def test_the_workload_of_one_gestion_counts_it_in_the_singular(
    client, asesor, supervisor, credit_process
):
    services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit_process,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:workload"), {"gestor": asesor.pk})

    text = visible_text(response.content.decode())
    assert "Página 1 de 1 · 1 gestión" in text
    assert "1 gestiones" not in text


def test_every_pager_is_named_in_spanish(admin_client):
    # Jinja2's (the customers' list) and django-tables2's (the investors') both said
    # "Table navigation" to a screen reader.
    CustomerFactory.create_batch(30)
    InvestorFactory.create_batch(30)

    pages = [
        admin_client.get(reverse("crm:customer_list")),
        admin_client.get(reverse("credits:investor_list")),
    ]

    for page in pages:
        assert 'aria-label="Paginación"' in page.content.decode()
        assert "Table navigation" not in page.content.decode()
