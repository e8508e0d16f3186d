"""A written-off campaign's figures a person mistypes: a debt unlike the balance of the loan
it names, a discount above the portal settings' maximum, and an Excel «40%» cell read as
0.4 %. Each refused on the screen's service, the file and the API alike."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from credits import selectors as credit_selectors
from credits.services import loans as loan_services
from recovery import services
from recovery.models import Campaign, RecoverySettings
from tests.factories import CustomerFactory, UserFactory
from tests.recovery.conftest import make_campaign
from tests.recovery.test_api import Partner, body, error_on, openapi, partner, token  # noqa: F401
from tests.recovery.test_imports import HEADER, ROSA, row, run

# The loan of the collections tests (10,000.00 at 24 %, 12 installments) owes this today.
OWED = Decimal("11347.15")
WHERE = (
    " (se cambia en Administración › Recuperación › Portal de cartera castigada, «descuento "
    "máximo de una campaña»)"
)


def xlsx_with_percent_cells(rows, cells) -> bytes:
    """An .xlsx whose (row, column) `cells` are formatted as Excel's 0 %: 0.4 shows «40%»."""
    book = openpyxl.Workbook()
    for values in rows:
        book.active.append(list(values))
    for line, column in cells:
        book.active.cell(row=line, column=column).number_format = "0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def set_max_discount(percent: str) -> None:
    portal = RecoverySettings.current()
    portal.max_discount_percent = Decimal(percent)
    portal.save()


def unlike(debt: str, code: str, owed: Decimal = OWED) -> str:
    return (
        f"La deuda castigada (S/ {debt}) no se parece al saldo del crédito {code} "
        f"(S/ {owed:,}): revise el monto."
    )


@pytest.fixture
def importer(db):
    return UserFactory(username="importadora")


@pytest.fixture
def rosa(db):
    return CustomerFactory(document_number=ROSA, first_name="Rosa", last_name="Huamán")


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


@pytest.fixture
def rosas_loan(rosa, make_active_loan):
    loan = make_active_loan(customer=rosa)
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    return loan


# --- F1: the debt against the balance of the loan it names ----------------------------------


def test_the_balance_compared_is_what_the_loan_owes_today(written_off):
    assert services.loans_owed([written_off.pk]) == {written_off.pk: OWED}
    assert credit_selectors.loan_balance(written_off).total_due == OWED


@pytest.mark.parametrize(
    ("debt", "shown"), [(Decimal("12000000.00"), "12,000,000.00"), (Decimal("12.00"), "12.00")]
)
def test_a_debt_far_from_the_loans_balance_is_refused_naming_both(written_off, debtor, debt, shown):
    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code=written_off.payment_code, debt_amount=debt)

    assert refused.value.message_dict["debt_amount"] == [unlike(shown, written_off.payment_code)]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("debt", "made"),
    [
        (OWED * 2, True),
        (OWED * 2 + Decimal("0.01"), False),
        (Decimal("5673.58"), True),  # half of 11,347.15 is 5,673.575
        (Decimal("5673.57"), False),
    ],
)
def test_the_debt_may_be_half_to_twice_the_loans_balance(written_off, debtor, debt, made):
    try:
        make_campaign(debtor, payment_code=written_off.payment_code, debt_amount=debt)
    except ValidationError as exc:
        assert not made, exc.message_dict
        assert list(exc.message_dict) == ["debt_amount"]
    else:
        assert made
        assert Campaign.objects.get().debt_amount == debt


def test_a_campaign_without_a_payment_code_is_not_compared_with_any_loan(written_off, debtor):
    campaign = make_campaign(debtor, payment_code="", debt_amount=Decimal("12000000.00"))

    assert campaign.debt_amount == Decimal("12000000.00")


def test_a_paid_loan_is_still_refused_for_its_status(loan, debtor):
    loan.status = loan.Status.PAID
    loan.save(update_fields=["status"])

    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code=loan.payment_code, debt_amount=Decimal("12.00"))

    assert list(refused.value.message_dict) == ["payment_code"]
    assert "no tiene deuda pendiente" in refused.value.message_dict["payment_code"][0]


def test_the_screen_shows_the_refusal_on_the_debt(agent_client, written_off, debtor):
    response = agent_client.post(
        reverse("recovery:campaign_create"),
        {
            "document_type": debtor.document_type,
            "document_number": debtor.document_number,
            "code": "CAST-07",
            "debt_amount": "12,000,000.00",
            "discount_type": "percent",
            "discount_value": "40",
            "payment_code": written_off.payment_code,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["debt_amount"] == [
        unlike("12,000,000.00", written_off.payment_code)
    ]
    assert not Campaign.objects.exists()


def test_a_file_row_far_from_its_loans_balance_is_refused_with_its_line(importer, rosa, rosas_loan):
    rows = [
        HEADER,
        row(ROSA, debt_amount=Decimal("12000000"), payment_code=rosas_loan.payment_code),
    ]

    batch = run(openpyxl_book(rows), importer)

    assert batch.error_preview == [[2, unlike("12,000,000.00", rosas_loan.payment_code)]]
    assert not Campaign.objects.exists()


def test_a_file_row_near_its_loans_balance_is_made(importer, rosa, rosas_loan):
    rows = [HEADER, row(ROSA, debt_amount=Decimal("11000"), payment_code=rosas_loan.payment_code)]

    batch = run(openpyxl_book(rows), importer)

    assert batch.created_count == 1, batch.error_preview
    assert Campaign.objects.get().payment_code == rosas_loan.payment_code


def test_the_api_refuses_a_debt_far_from_the_loans_balance(partner, written_off, debtor):  # noqa: F811
    response = partner.post(
        "/campanas",
        body(debtor, monto_deuda="12.00", codigo_pago_asociado=written_off.payment_code),
    )

    assert response.status_code == 422
    assert error_on(response, "monto_deuda") == unlike("12.00", written_off.payment_code)
    assert not Campaign.objects.exists()


# --- F6: the highest discount (the portal's settings) -----------------------------------------


def test_the_highest_discount_is_95_percent_until_an_admin_changes_it(db):
    assert RecoverySettings.current().max_discount_percent == Decimal("95")


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("percent", Decimal("99.99"), f"El descuento de 99.99 % pasa del máximo de 95 %{WHERE}."),
        ("percent", Decimal("95.01"), f"El descuento de 95.01 % pasa del máximo de 95 %{WHERE}."),
        (
            "amount",
            Decimal("11500.00"),
            "El descuento (11,500.00) es el 95.84 % de la deuda (12,000.00) y pasa del máximo "
            f"de 95 %{WHERE}.",
        ),
        (
            "amount",
            Decimal("11400.01"),
            "El descuento (11,400.01) es el 95.01 % de la deuda (12,000.00) y pasa del máximo "
            f"de 95 %{WHERE}.",
        ),
    ],
)
def test_a_discount_above_the_maximum_is_refused_naming_it_and_where_it_changes(
    db, kind, value, message
):
    with pytest.raises(ValidationError) as refused:
        make_campaign(CustomerFactory(), discount_type=kind, discount_value=value)

    assert refused.value.message_dict["discount_value"] == [message]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("kind", "value"), [("percent", "95"), ("amount", "11400.00")])
def test_a_discount_at_the_maximum_is_made(db, kind, value):
    campaign = make_campaign(CustomerFactory(), discount_type=kind, discount_value=Decimal(value))

    assert campaign.amount == Decimal("600.00")


def test_the_maximum_is_read_from_the_portals_settings(db):
    set_max_discount("99.99")

    campaign = make_campaign(CustomerFactory(), discount_value=Decimal("99.99"))
    set_max_discount("30")
    with pytest.raises(ValidationError) as refused:
        make_campaign(CustomerFactory(), discount_value=Decimal("40"))

    assert campaign.amount == Decimal("1.20")
    assert "pasa del máximo de 30 %" in refused.value.message_dict["discount_value"][0]


def test_a_file_row_above_the_maximum_is_refused_with_its_line(importer, rosa):
    set_max_discount("50")

    batch = run(openpyxl_book([HEADER, row(ROSA, discount_value=Decimal("60"))]), importer)

    assert batch.error_preview == [
        [2, f"El descuento de 60 % pasa del máximo de 50 %{WHERE} («60.00 %»)."]
    ]
    assert not Campaign.objects.exists()


def test_the_api_refuses_a_discount_above_the_maximum(partner, debtor):  # noqa: F811
    response = partner.post("/campanas", body(debtor, valor_descuento="99.99"))

    assert response.status_code == 422
    assert error_on(response, "valor_descuento") == (
        f"El descuento de 99.99 % pasa del máximo de 95 %{WHERE}."
    )
    assert not Campaign.objects.exists()


def test_the_screens_preview_says_the_discount_passes_the_maximum(agent_client, db):
    response = agent_client.get(
        reverse("recovery:campaign_preview"),
        {"debt_amount": "12000", "discount_type": "percent", "discount_value": "99.99"},
    )

    assert response.context["preview"] == {
        "problems": [f"El descuento de 99.99 % pasa del máximo de 95 %{WHERE}."]
    }


@pytest.mark.parametrize(
    ("typed", "stored", "error"),
    [
        ("92,5", Decimal("92.50"), None),
        ("99.99", Decimal("99.99"), None),
        ("100", None, "Indique a lo sumo 99.99 %."),
        ("0.5", None, "Indique al menos 1 %."),
    ],
)
def test_an_admin_sets_the_maximum_between_1_and_99_99(admin_client, typed, stored, error):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])
    data = {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": portal.legal_text,
        "countdown_hours": "48",
        "decline_reasons": portal.decline_reasons,
        "advisor_whatsapp": "",
        "max_discount_percent": typed,
    }

    response = admin_client.post(url, data)

    portal.refresh_from_db()
    if error is None:
        assert response.status_code == 302
        assert portal.max_discount_percent == stored
    else:
        assert response.context["adminform"].form.errors["max_discount_percent"] == [error]
        assert portal.max_discount_percent == Decimal("95")


# --- F5: an Excel «40%» cell is the number 0.4 ---------------------------------------------------


def test_a_numeric_percent_cell_below_one_is_refused_as_ambiguous(importer, rosa):
    rows = [HEADER, row(ROSA, discount_value=0.4)]

    batch = run(xlsx_with_percent_cells(rows, [(2, 6)]), importer)

    assert batch.error_preview == [[2, "¿0,4 % o 40 %? Escriba 40 para un descuento de 40 %."]]
    assert not Campaign.objects.exists()


def test_a_numeric_percent_cell_with_decimals_is_refused_naming_both_readings(importer, rosa):
    batch = run(openpyxl_book([HEADER, row(ROSA, discount_value=0.125)]), importer)

    assert batch.error_preview == [
        [2, "¿0,125 % o 12,5 %? Escriba 12,5 para un descuento de 12,5 %."]
    ]


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("40", Decimal("40.00")),
        ("40%", Decimal("40.00")),
        ("0,4", Decimal("0.40")),  # typed as text: read as written
        (40.0, Decimal("40.00")),
    ],
)
def test_other_percent_cells_keep_their_reading(importer, rosa, cell, stored):
    batch = run(openpyxl_book([HEADER, row(ROSA, discount_value=cell)]), importer)

    assert batch.created_count == 1, batch.error_preview
    assert Campaign.objects.get().discount_value == stored


def test_an_amount_discount_below_one_stays_an_amount(importer, rosa):
    rows = [HEADER, row(ROSA, discount_type="Monto", discount_value=0.4)]

    batch = run(openpyxl_book(rows), importer)

    assert batch.created_count == 1, batch.error_preview
    assert Campaign.objects.get().discount_amount == Decimal("0.40")


def openpyxl_book(rows) -> bytes:
    return xlsx_with_percent_cells(rows, [])
