"""The template variables' registry, and the values its built-in sources load at once for
many recipients."""

from datetime import date

import pytest
from django.core.exceptions import ImproperlyConfigured

from collections_app.strategies import variables
from credits import selectors as credit_selectors
from tests.collections_app.conftest import OVERDUE, TO_SETTLE, TODAY
from tests.collections_app.strategies.conftest import FLOW_DUE_DATE
from tests.factories import CustomerFactory, LoanProductFactory


def written(amount) -> str:
    """An amount as a debtor reads it in Spanish: "S/ 10,970.27"."""
    return "S/ " + f"{amount:,.2f}"


def test_each_portfolio_offers_its_variables_sorted_by_name():
    current = variables.variables_for("vigente")
    written_off = variables.variables_for("castigada")

    assert list(current) == sorted(current)
    assert {"nombre", "saldo", "cuota_vencida", "link_pago", "monto_pago"} <= set(current)
    assert {"nombre", "documento", "monto_pago", "motivo"} <= set(written_off)
    assert "saldo" not in written_off


def test_a_higher_app_adds_variables_to_the_portfolio_it_serves(castigada_variables):
    assert variables.variables_for("castigada")["monto_campana"] == "Monto de la campaña"
    assert "monto_campana" not in variables.variables_for("vigente")
    assert variables.portfolios_of("monto_campana") == ("castigada",)


def test_a_variable_another_source_offers_for_the_same_portfolio_is_refused():
    clash = variables.VariableSource(
        name="clash",
        variables={"saldo": "Otro saldo"},
        portfolios=("vigente",),
        load=lambda recipients, today: [{} for _ in recipients],
    )

    with pytest.raises(ImproperlyConfigured):
        variables.register_source(clash)

    assert "clash" not in [source.name for source in variables.sources_for("vigente")]


def test_the_customer_variables_are_their_names_and_document(customer):
    (values,) = variables.load_values([variables.Recipient(customer)], "vigente", TODAY)

    assert values["nombre"] == "Rosa"
    assert values["apellido"] == "Huamán Torres"
    assert values["nombre_completo"] == "Rosa Huamán Torres"
    assert values["documento"] == "45678912"


def test_a_loans_values_speak_of_the_installment_the_message_is_about(flow_debtor, settings):
    settings.SITE_URL = "https://cartera.example.com/"
    loan = flow_debtor.loans.get()
    balance = credit_selectors.open_balances([loan.pk], TODAY)[loan.pk]
    recipient = variables.Recipient(flow_debtor, receivable_id=loan.pk, due_date=FLOW_DUE_DATE)

    (values,) = variables.load_values([recipient], "vigente", TODAY)

    assert values["saldo"] == written(balance.to_settle)
    assert values["cuota_vencida"] == "S/ 945.60"
    assert values["fecha_vencimiento"] == FLOW_DUE_DATE.strftime("%d/%m/%Y")
    assert values["cuota"] == "S/ 945.60"
    assert values["codigo_pago"] == "L900000001"
    assert values["dias_atraso"] == "5"
    assert values["producto"] == loan.product.name
    assert values["link_pago"] == "https://cartera.example.com/portal/"


def test_without_a_day_the_oldest_unpaid_installment_is_the_one(loan, debtor):
    (values,) = variables.load_values(
        [variables.Recipient(debtor, receivable_id=loan.pk)], "vigente", TODAY
    )

    assert values["fecha_vencimiento"] == "01/02/2026"
    assert values["saldo"] == written(TO_SETTLE)
    assert values["cuota_vencida"] == written(OVERDUE)


def test_a_coming_installment_is_named_by_its_day(loan, debtor):
    recipient = variables.Recipient(debtor, receivable_id=loan.pk, due_date=date(2026, 7, 1))

    (values,) = variables.load_values([recipient], "vigente", TODAY)

    assert values["fecha_vencimiento"] == "01/07/2026"
    assert values["cuota"] == "S/ 945.60"


def test_without_a_loan_the_customers_active_loans_are_taken_together(make_active_loan):
    debtor = CustomerFactory()
    product = LoanProductFactory(name="Consumo")
    first = make_active_loan(customer=debtor, payment_code="L100000001", product=product)
    second = make_active_loan(customer=debtor, payment_code="L100000002", product=product)
    balances = credit_selectors.open_balances([first.pk, second.pk], TODAY)

    (values,) = variables.load_values([variables.Recipient(debtor)], "vigente", TODAY)

    assert values["saldo"] == written(sum(b.to_settle for b in balances.values()))
    assert values["cuota_vencida"] == written(2 * OVERDUE)
    assert values["codigo_pago"] == "L100000001, L100000002"
    assert values["producto"] == "Consumo"


def test_a_customer_without_active_loans_gets_blank_loan_values(customer):
    (values,) = variables.load_values([variables.Recipient(customer)], "vigente", TODAY)

    assert values["saldo"] == values["codigo_pago"] == values["fecha_vencimiento"] == ""
    assert values["nombre"] == "Rosa"


def test_a_debt_that_is_no_loan_gets_no_loan_values(debtor):
    recipient = variables.Recipient(debtor, receivable_kind="campaign", receivable_id=7)

    (values,) = variables.load_values([recipient], "vigente", TODAY)

    assert values["saldo"] == values["cuota"] == ""


def test_an_events_values_travel_with_the_recipient_and_are_blank_without_it(customer):
    told = variables.Recipient(customer, extra={"monto_pago": "S/ 100.00", "motivo": "Ilegible"})

    with_event, without = variables.load_values(
        [told, variables.Recipient(customer)], "castigada", TODAY
    )

    assert with_event["monto_pago"] == "S/ 100.00"
    assert with_event["motivo"] == "Ilegible"
    assert with_event["fecha_pago"] == ""
    assert without["monto_pago"] == ""


def test_values_for_many_recipients_cost_the_same_queries_as_for_one(
    make_active_loan, django_assert_num_queries
):
    loans = [make_active_loan(payment_code=f"L2000000{n:02d}") for n in range(8)]
    recipients = [variables.Recipient(loan.customer, receivable_id=loan.pk) for loan in loans]

    # The loans with their product, then their installments.
    with django_assert_num_queries(2):
        one = variables.load_values(recipients[:1], "vigente", TODAY)
    with django_assert_num_queries(2):
        many = variables.load_values(recipients, "vigente", TODAY)

    assert len(many) == 8
    assert many[0] == one[0]
    assert [row["codigo_pago"] for row in many] == [loan.payment_code for loan in loans]


def test_only_the_sources_of_the_variables_asked_for_are_read(debtor, django_assert_num_queries):
    with django_assert_num_queries(0):
        (values,) = variables.load_values(
            [variables.Recipient(debtor)], "vigente", TODAY, names=["nombre"]
        )

    assert "saldo" not in values
