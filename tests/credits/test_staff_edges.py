"""Edges of the staff's loan, investor and portfolio screens found by hand: dates a typo
puts centuries away, bounds the product admin lacked, the admin's investor form, and
figures that must add up as shown."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from credits import portfolio, selectors
from credits.investors import selectors as investor_selectors
from credits.investors import services as investor_services
from credits.models import Investor, Liquidation, Loan, PortfolioSnapshot
from credits.services import delinquency
from credits.services import loans as loan_services
from tests.factories import CustomerFactory, InvestorFactory, LoanFactory, LoanProductFactory

# --- The loan form's dates --------------------------------------------------------------


def _loan_data(product, **overrides) -> dict:
    return {
        "customer": CustomerFactory().document_number,
        "product": product.pk,
        "principal": "10000",
        "term": "12",
        "annual_rate": "",
        "start_date": timezone.localdate().isoformat(),
        "first_due_date": "",
        "advisor": "",
        "branch": "",
        "notes": "",
        **overrides,
    }


@pytest.mark.parametrize("start", ["9999-12-31", "2999-01-01", "0001-01-01", "1900-01-01"])
def test_the_loan_form_refuses_a_start_date_a_typo_away_in_spanish(client, asesor, start):
    # 9999-12-31 was a 500: the default first due date fell in year 10000.
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(reverse("credits:loan_create"), _loan_data(product, start_date=start))

    assert response.status_code == 200
    assert (
        response.context["form"]
        .errors["start_date"][0]
        .startswith("La fecha de inicio debe estar entre el ")
    )
    assert not Loan.objects.exists()


@pytest.mark.parametrize("first_due", ["9999-01-01", "2999-01-01"])
def test_the_loan_form_refuses_a_first_due_date_years_after_the_start(client, asesor, first_due):
    # A loan with its first installment in 9999 was saved, and its page was then a 500.
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(
        reverse("credits:loan_create"), _loan_data(product, first_due_date=first_due, term="36")
    )

    assert response.status_code == 200
    assert response.context["form"].errors["first_due_date"] == [
        "El primer vencimiento debe caer dentro del año siguiente al inicio."
    ]
    assert not Loan.objects.exists()


def test_the_preview_refuses_a_start_date_a_typo_away(client, asesor):
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.get(
        reverse("credits:loan_preview"),
        {"product": product.pk, "principal": "10000", "term": "12", "start_date": "2999-01-01"},
    )

    assertContains(response, "La fecha de inicio debe estar entre el ")
    assert response.context["plan"] is None


def test_a_loan_starting_today_with_its_first_due_date_within_a_year_is_registered(client, asesor):
    product = LoanProductFactory()
    client.force_login(asesor)
    first_due = timezone.localdate() + timedelta(days=365)

    response = client.post(
        reverse("credits:loan_create"),
        _loan_data(product, first_due_date=first_due.isoformat()),
    )

    loan = Loan.objects.get()
    assert response.url == loan.get_absolute_url()
    assert loan.first_due_date == first_due


def test_the_service_refuses_a_schedule_running_past_year_9999(db):
    product = LoanProductFactory()

    with pytest.raises(ValidationError) as refused:
        loan_services.create_loan(
            actor=None,
            customer=CustomerFactory(),
            product=product,
            principal=Decimal("10000"),
            term=36,
            start_date=date(9998, 1, 1),
            first_due_date=date(9999, 1, 1),
        )

    assert refused.value.message_dict["first_due_date"] == [
        "Con estas fechas el cronograma pasaría del año 9999."
    ]
    assert not Loan.objects.exists()


# --- Life-cycle reasons -----------------------------------------------------------------


def test_a_too_long_write_off_reason_is_not_also_called_missing(client, supervisor):
    loan = LoanFactory(status=Loan.Status.ACTIVE)
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:loan_transition", args=[loan.pk]),
        {"action": "write_off", "reason": "x" * 300, "confirm": "yes"},
        follow=True,
    )

    assertContains(response, "Escriba como máximo 255 caracteres")
    assertNotContains(response, "Indique el motivo del castigo.")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE


# --- The loan page ----------------------------------------------------------------------


def test_the_loan_page_shows_the_vehicle_year_without_a_thousands_separator(client, supervisor):
    loan = LoanFactory(vehicle_brand="Toyota", vehicle_model="Rush", vehicle_year=2015)
    client.force_login(supervisor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, "Toyota Rush 2015")
    assertNotContains(response, "2,015")


def test_the_loan_page_shows_a_fixed_fee_as_money(client, supervisor):
    product = LoanProductFactory(fee_type="fixed", fee_value=Decimal("25"))
    loan = LoanFactory(product=product)
    client.force_login(supervisor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, "Monto fijo por cuota: S/ 25.00")


# --- Liquidations -----------------------------------------------------------------------


@pytest.mark.parametrize("end", [date(9999, 12, 31), date(2999, 1, 31)])
def test_a_liquidation_period_ending_years_ahead_is_refused(db, end):
    investor = InvestorFactory()

    with pytest.raises(ValidationError) as refused:
        investor_services.create_liquidation(
            investor=investor, period_start=date(2026, 1, 1), period_end=end, actor=None
        )

    assert refused.value.message_dict["period_end"] == [
        "El periodo no puede terminar después de este mes."
    ]
    assert not Liquidation.objects.exists()


@pytest.mark.parametrize("start", [date(1, 1, 1), date(2025, 1, 1)])
def test_a_liquidation_period_longer_than_a_year_is_refused(db, start):
    investor = InvestorFactory()

    with pytest.raises(ValidationError) as refused:
        investor_services.create_liquidation(
            investor=investor, period_start=start, period_end=date(2026, 1, 31), actor=None
        )

    assert refused.value.message_dict["period_start"] == [
        "Un periodo de liquidación abarca como máximo un año."
    ]
    assert not Liquidation.objects.exists()


def test_the_liquidation_form_shows_a_period_ending_years_ahead_on_its_field(client, supervisor):
    investor = InvestorFactory()
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": investor.pk, "period_start": "0001-01-01", "period_end": "9999-12-31"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["period_end"] == [
        "El periodo no puede terminar después de este mes."
    ]


# --- The product admin ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"late_annual_rate": Decimal("5000")}, "late_annual_rate", "La tasa moratoria no puede"),
        (
            {"fee_type": "percent", "fee_value": Decimal("900")},
            "fee_value",
            "Una comisión porcentual no puede pasar del 100 %.",
        ),
        ({"grace_days": 2_000_000_000}, "grace_days", "Los días de gracia no pueden pasar de 365."),
    ],
)
def test_a_product_with_an_absurd_late_rate_fee_or_grace_is_refused(db, changes, field, message):
    product = LoanProductFactory.build(**changes)

    with pytest.raises(ValidationError) as refused:
        product.full_clean()

    assert refused.value.message_dict[field][0].startswith(message)


def test_a_fixed_fee_above_100_is_still_a_fee(db):
    # Not a percentage: bounded by the product's smallest loan (test_loan_bounds), not by 100.
    product = LoanProductFactory.build(
        fee_type="fixed", fee_value=Decimal("250"), min_amount=Decimal("1000")
    )

    product.full_clean()


def test_the_admin_refuses_a_5000_percent_late_rate(admin_client):
    product = LoanProductFactory(name="Consumo")
    data = {
        "name": "Consumo",
        "currency": "PEN",
        "annual_rate": "24",
        "min_rate": "0",
        "max_rate": "100",
        "method": "french",
        "frequency": "monthly",
        "min_term": "1",
        "max_term": "72",
        "min_amount": "100",
        "max_amount": "500000",
        "fee_type": "none",
        "fee_value": "0",
        "late_annual_rate": "5000",
        "grace_days": "0",
        "allocation_order": "[]",
        "platform_fee_percent": "0",
        "approval_target_hours": "24",
        "is_active": "on",
    }

    response = admin_client.post(
        reverse("admin:credits_loanproduct_change", args=[product.pk]), data
    )

    assert response.status_code == 200
    assertContains(response, "La tasa moratoria no puede pasar de 1000 % anual.")
    product.refresh_from_db()
    assert product.late_annual_rate == Decimal("0")


def test_the_allocation_order_error_names_each_component_in_spanish(db):
    product = LoanProductFactory.build(allocation_order=["principal"])

    with pytest.raises(ValidationError) as refused:
        product.full_clean()

    assert "late_interest (Interés moratorio)" in refused.value.message_dict["allocation_order"][0]


# --- The investor admin -----------------------------------------------------------------


def _investor_admin_data(**overrides) -> dict:
    return {
        "kind": "person",
        "name": "Inversor del admin",
        "document_type": "dni",
        "document_number": "12345678",
        "email": "",
        "phone": "",
        "bank_name": "",
        "bank_account": "",
        "bank_cci": "",
        "currency": "PEN",
        "is_active": "on",
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"document_number": "1"}, "El DNI debe tener exactamente 8 dígitos."),
        ({"bank_cci": "abc"}, "El CCI debe tener exactamente 20 dígitos."),
        ({"kind": "company"}, "Una empresa se registra con su RUC."),
    ],
)
def test_the_investor_admin_applies_the_screens_checks(admin_client, overrides, message):
    response = admin_client.post(
        reverse("admin:credits_investor_add"), _investor_admin_data(**overrides)
    )

    assert response.status_code == 200
    assertContains(response, message)
    assert not Investor.objects.exists()


def test_the_investor_admin_saves_a_valid_investor(admin_client):
    response = admin_client.post(
        reverse("admin:credits_investor_add"), _investor_admin_data(bank_cci="00219100123456780121")
    )

    assert response.status_code == 302
    assert Investor.objects.get().bank_cci == "00219100123456780121"


# --- The portfolio report ---------------------------------------------------------------


def test_bucket_percents_add_up_to_exactly_100(make_active_loan):
    # Three loans alike in three buckets: rounded one by one, 33.33 three times made 99.99
    # under a 100.00 total.
    for first_due in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        make_active_loan(
            principal=Decimal("1000.00"),
            start_date=first_due - timedelta(days=31),
            first_due_date=first_due,
        )

    # On 15 April: 73, 45 and 14 days late.
    buckets = selectors.aging_report(date(2026, 4, 15))

    shares = sorted(b["percent"] for b in buckets if b["loans"])
    assert shares == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert sum(b["percent"] for b in buckets) == Decimal("100.00")


def test_a_snapshot_kept_with_percents_rounded_one_by_one_is_computed_again(db):
    # Figures kept before the fix (33.33 three times), and before the report was split by
    # currency: they are not shown as they are (`portfolio.has_figures` is False).
    third = {"loans": 1, "outstanding": "1000.00", "percent": "33.33"}
    snapshot = PortfolioSnapshot(
        as_of=date(2026, 4, 15),
        figures={
            "buckets": [
                {"bucket": "current", "loans": 0, "outstanding": "0.00", "percent": "0.00"},
                {"bucket": "1_30", **third},
                {"bucket": "31_60", **third},
                {"bucket": "61_90", **third},
                {"bucket": "90_plus", "loans": 0, "outstanding": "0.00", "percent": "0.00"},
            ],
            "outstanding": "3000.00",
            "par30": "66.67",
            "par90": "0.00",
            "collected_this_month": "0.00",
            "payments_this_month": 0,
        },
    )

    assert not portfolio.has_figures(snapshot)


def test_the_investor_dashboards_bucket_percents_add_up_to_exactly_100(make_active_loan):
    investor = InvestorFactory()
    for first_due in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        loan = make_active_loan(
            principal=Decimal("1000.00"),
            start_date=first_due - timedelta(days=31),
            first_due_date=first_due,
        )
        investor_services.add_participation(
            loan=loan, investor=investor, actor=None, share=Decimal("100")
        )
    delinquency.update_delinquency(today=date(2026, 4, 15))

    rows = investor_selectors.exposure_by_bucket(investor, date(2026, 4, 15))

    shares = sorted(row["percent"] for row in rows if row["outstanding"])
    assert shares == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


def test_the_loan_form_refuses_notes_of_a_pasted_book(client, asesor):
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(reverse("credits:loan_create"), _loan_data(product, notes="x" * 50_000))

    assert response.status_code == 200
    assert response.context["form"].errors["notes"] == [
        "Escriba como máximo 4000 caracteres (tiene 50000)."
    ]
    assert not Loan.objects.exists()
