from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.investors import services as investor_services
from credits.models import Investor, Payment
from credits.services import payments as payment_services
from crm.models import Interaction
from tests.factories import InvestorFactory, LoanProductFactory

HTMX = {"HX-Request": "true"}
LIMA = ZoneInfo("America/Lima")


def _data(**overrides):
    data = {
        "kind": Investor.Kind.PERSON,
        "name": "Lucía Paredes",
        "document_type": "dni",
        "document_number": "41234567",
        "email": "lucia@example.pe",
        "phone": "",
        "bank_name": "BCP",
        "bank_account": "191-12345678-0-12",
        "bank_cci": "00219100123456780121",
        "currency": "PEN",
        "is_active": True,
    }
    data.update(overrides)
    return data


def _urls(investor):
    return [
        reverse("credits:investor_list"),
        reverse("credits:investor_dashboard"),
        reverse("credits:investor_create"),
        investor.get_absolute_url(),
        reverse("credits:investor_update", args=[investor.pk]),
    ]


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "outsider"])
def test_staff_without_the_investor_permissions_are_refused_every_investor_screen(
    db, client, request, who
):
    investor = InvestorFactory()
    client.force_login(request.getfixturevalue(who))

    for url in _urls(investor):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("credits:investor_create"), _data()).status_code == 403
    assert Investor.objects.count() == 1


def test_a_supervisor_opens_every_investor_screen(client, supervisor):
    investor = InvestorFactory()
    client.force_login(supervisor)

    for url in _urls(investor):
        assert client.get(url).status_code == 200, url


def test_the_navbar_offers_investors_to_supervisors_only(client, supervisor, asesor):
    client.force_login(supervisor)
    assertContains(client.get(reverse("credits:investor_list")), "bi-piggy-bank")

    client.force_login(asesor)
    assertNotContains(client.get(reverse("crm:customer_list")), "bi-piggy-bank")


def test_the_list_searches_by_name_document_or_email(client, supervisor):
    InvestorFactory(name="Lucía Paredes", document_number="41234567", email="lucia@example.pe")
    InvestorFactory(name="Jorge Salas", document_number="42222222", email="jorge@example.pe")
    client.force_login(supervisor)

    for text in ["Paredes", "41234567", "lucia@"]:
        response = client.get(reverse("credits:investor_list"), {"q": text})

        assertContains(response, "Lucía Paredes")
        assertNotContains(response, "Jorge Salas")
        assertContains(response, "1 inversionista")


def test_the_list_filters_by_status_and_kind(client, supervisor):
    InvestorFactory(name="Activa SAC", kind=Investor.Kind.COMPANY, document_type="ruc",
                    document_number="20100070970")  # fmt: skip
    InvestorFactory(name="Retirado Pérez", is_active=False)
    InvestorFactory(name="Activa Persona")
    client.force_login(supervisor)

    inactive = client.get(reverse("credits:investor_list"), {"is_active": "0"})
    companies = client.get(reverse("credits:investor_list"), {"kind": "company"})

    assertContains(inactive, "Retirado Pérez")
    assertNotContains(inactive, "Activa")
    assertContains(companies, "Activa SAC")
    assertNotContains(companies, "Activa Persona")


def test_the_list_paginates(client, supervisor):
    for i in range(30):
        InvestorFactory(name=f"Inversionista {i:02d}")
    client.force_login(supervisor)

    page2 = client.get(reverse("credits:investor_list"), {"page": 2})

    assertContains(page2, "30 inversionistas")
    assertContains(page2, "Inversionista 29")
    assertNotContains(page2, "Inversionista 00")


def test_an_htmx_search_gets_only_the_results_fragment(client, supervisor):
    InvestorFactory(name="Lucía Paredes")
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_list"), {"q": "Lucía"}, headers=HTMX)

    assertTemplateUsed(response, "credits/partials/investor_results.html")
    assertNotContains(response, "<nav")
    assert response["HX-Push-Url"].startswith(reverse("credits:investor_list") + "?q=")


def test_the_list_shows_each_investors_capital_in_disbursed_loans(
    client, supervisor, make_active_loan
):
    investor = InvestorFactory(name="Lucía Paredes")
    loan = make_active_loan(principal=Decimal("10000.00"))
    investor_services.add_participation(
        loan=loan, investor=investor, actor=None, share=Decimal("25")
    )
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_list"))

    assertContains(response, "2,500.00")


def test_a_supervisor_registers_an_investor(client, supervisor):
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:investor_create"),
        _data(document_number="41 234 567", phone="987 654 321", bank_cci="002-191-00123456780121"),
    )

    investor = Investor.objects.get()
    assert response.url == investor.get_absolute_url()
    assert investor.document_number == "41234567"
    assert investor.phone == "+51987654321"
    assert investor.bank_cci == "00219100123456780121"


def test_a_cci_typed_in_full_width_digits_is_kept_in_ascii(client, supervisor):
    client.force_login(supervisor)

    client.post(
        reverse("credits:investor_create"),
        _data(bank_cci="００２１９１００１２３４５６７８０１２１"),
    )

    assert Investor.objects.get().bank_cci == "00219100123456780121"


def test_a_cci_in_arabic_indic_digits_is_kept_in_ascii(supervisor):
    investor = investor_services.create_investor(actor=supervisor, data=_data(bank_cci="٣" * 20))

    assert investor.bank_cci == "3" * 20


def test_registering_an_investor_writes_nothing_on_any_timeline(supervisor):
    investor_services.create_investor(actor=supervisor, data=_data())

    assert not Interaction.objects.exists()


def test_an_invalid_investor_is_refused_with_spanish_errors(client, supervisor):
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:investor_create"),
        _data(name="", document_number="1234567", email="no-es-correo", bank_cci="123"),
    )

    assert response.status_code == 200
    assertContains(response, "Revise los campos marcados.")
    assertContains(response, "Este campo es obligatorio.")
    assertContains(response, "Introduzca una dirección de correo electrónico válida.")
    assertContains(response, "El CCI debe tener exactamente 20 dígitos.")
    assert not Investor.objects.exists()


def test_the_document_is_validated_for_its_type(client, supervisor):
    client.force_login(supervisor)

    response = client.post(reverse("credits:investor_create"), _data(document_number="1234567"))

    assertContains(response, "El DNI debe tener exactamente 8 dígitos.")
    assert not Investor.objects.exists()


def test_a_company_must_register_with_its_ruc(client, supervisor):
    client.force_login(supervisor)

    refused = client.post(
        reverse("credits:investor_create"), _data(kind="company", name="Fondo Andino SAC")
    )
    accepted = client.post(
        reverse("credits:investor_create"),
        _data(kind="company", name="Fondo Andino SAC", document_type="ruc",
              document_number="20100070970"),
    )  # fmt: skip

    assertContains(refused, "Una empresa se registra con su RUC.")
    assert accepted.status_code == 302
    assert Investor.objects.get().document_type == "ruc"


def test_a_duplicate_document_is_refused(client, supervisor):
    InvestorFactory(document_type="dni", document_number="41234567")
    client.force_login(supervisor)

    response = client.post(reverse("credits:investor_create"), _data(document_number="41234567"))

    assert response.status_code == 200
    assertContains(response, "Ya existe un inversionista con ese tipo y número de documento.")
    assert Investor.objects.count() == 1


def test_the_service_refuses_a_duplicate_document_on_its_field(supervisor):
    investor_services.create_investor(actor=supervisor, data=_data())

    with pytest.raises(ValidationError) as excinfo:
        investor_services.create_investor(actor=supervisor, data=_data(name="Otra"))

    assert "Ya existe un inversionista" in str(excinfo.value.message_dict["document_number"])


def test_the_same_number_may_be_used_under_another_document_type(supervisor):
    investor_services.create_investor(actor=supervisor, data=_data(document_number="12345678"))

    investor_services.create_investor(
        actor=supervisor, data=_data(document_type="passport", document_number="12345678")
    )

    assert Investor.objects.count() == 2


def test_a_supervisor_edits_an_investor(client, supervisor):
    investor = InvestorFactory(name="Lucía Paredes", document_number="41234567")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:investor_update", args=[investor.pk]),
        _data(bank_name="Interbank", is_active=False),
    )

    investor.refresh_from_db()
    assert response.url == investor.get_absolute_url()
    assert (investor.bank_name, investor.is_active) == ("Interbank", False)


def test_an_edit_cannot_take_another_investors_document(client, supervisor):
    InvestorFactory(document_number="42222222")
    investor = InvestorFactory(document_number="41234567")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:investor_update", args=[investor.pk]),
        _data(document_number="42222222"),
    )

    assertContains(response, "Ya existe un inversionista con ese tipo y número de documento.")
    investor.refresh_from_db()
    assert investor.document_number == "41234567"


@pytest.fixture
def funded_loan(make_active_loan, time_machine):
    """A 10,000 flat loan funded 60/40, with one payment and one annulled payment."""
    time_machine.move_to(datetime(2026, 1, 1, 10, tzinfo=LIMA), tick=False)
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    jorge = InvestorFactory(name="Jorge Salas")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    investor_services.add_participation(loan=loan, investor=jorge, actor=None, share=Decimal("40"))
    time_machine.move_to(datetime(2026, 2, 1, 10, tzinfo=LIMA), tick=False)
    payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=date(2026, 2, 1),
        source=Payment.Source.TRANSFER,
        actor=None,
    )
    time_machine.move_to(datetime(2026, 3, 1, 10, tzinfo=LIMA), tick=False)
    second = payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=date(2026, 3, 1),
        source=Payment.Source.TRANSFER,
        actor=None,
    )
    time_machine.move_to(datetime(2026, 3, 5, 10, tzinfo=LIMA), tick=False)
    payment_services.annul_payment(payment=second, actor=None, reason="Depósito rechazado")
    return loan, lucia, jorge


def test_the_detail_shows_participations_distributions_and_reversals(
    client, supervisor, funded_loan
):
    loan, lucia, _jorge = funded_loan
    client.force_login(supervisor)

    response = client.get(lucia.get_absolute_url())

    assertContains(response, loan.payment_code)
    assertContains(response, loan.customer.full_name)
    assertContains(response, "60 %")
    assertContains(response, "6,000.00")
    assertContains(response, "5,500.00")  # her 60 % of the 9,166.67 still owed
    assertContains(response, f"Anulación del pago n.º {loan.payments.order_by('id').last().pk}")
    assertContains(response, "-608.00")  # the reversal: 500.00 principal, 120.00 - 12.00 interest
    assertContains(response, 'data-chart="earnings-chart"')
    assertContains(response, 'id="exposure-chart" type="application/json"')


def test_the_detail_pages_the_distributions_through_htmx(client, supervisor, funded_loan):
    _loan, lucia, _jorge = funded_loan
    client.force_login(supervisor)

    response = client.get(
        lucia.get_absolute_url(),
        {"page": 1},
        headers={**HTMX, "HX-Target": "investor-distributions"},
    )

    assertTemplateUsed(response, "credits/partials/investor_distributions.html")
    assertNotContains(response, '<nav class="navbar')
    assertContains(response, "Pendiente")


@pytest.mark.parametrize("loans", [2, 12])
def test_the_detail_costs_the_same_queries_for_few_or_many_loans(
    client, supervisor, make_active_loan, django_assert_max_num_queries, loans
):
    investor = InvestorFactory()
    for _i in range(loans):
        loan = make_active_loan(principal=Decimal("1000.00"))
        investor_services.add_participation(
            loan=loan, investor=investor, actor=None, share=Decimal("50")
        )
    client.force_login(supervisor)

    # Session, user, permissions (2), investor, distributions (count, page), summary (3),
    # months, participations, liquidations, and the session's inactivity stamp (3).
    with django_assert_max_num_queries(16):
        response = client.get(investor.get_absolute_url())

    assert response.status_code == 200
