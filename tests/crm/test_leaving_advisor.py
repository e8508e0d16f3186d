"""A leaving advisor's customers and loans: found by the lists' advisor filter (those who
left are offered under «Ya no atienden»), and handed to another advisor at once, each
customer with its timeline entry, their open loans along when asked."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from credits.models import Loan
from crm.models import Interaction
from crm.reassign import services as reassign_services
from tests.factories import CustomerFactory, LoanFactory, UserFactory


@pytest.fixture
def leaving(db):
    return UserFactory(username="lrojas", first_name="Luis", last_name="Rojas", role="Asesor")


@pytest.fixture
def staying(db):
    return UserFactory(username="aquispe", first_name="Ana", last_name="Quispe", role="Asesor")


def deactivate(user) -> None:
    user.is_active = False
    user.save()


def entries(customer) -> list[str]:
    return list(
        Interaction.objects.filter(customer=customer, kind=Interaction.Kind.SYSTEM).values_list(
            "summary", flat=True
        )
    )


# --- The lists' filters ---------------------------------------------------------------


def test_the_customer_list_finds_the_customers_of_an_advisor_who_left(
    client, supervisor, leaving, staying
):
    CustomerFactory.create_batch(3, advisor=leaving)
    CustomerFactory(advisor=staying)
    deactivate(leaving)
    client.force_login(supervisor)

    response = client.get(f"/clientes/?advisor={leaving.pk}")

    assert not response.context["filter"].errors
    assert response.context["table"].paginator.count == 3
    html = response.content.decode()
    assert '<optgroup label="Ya no atienden">' in html
    assert f'<option value="{leaving.pk}" selected>Luis Rojas (inactivo)</option>' in html


def test_someone_moved_to_another_role_is_offered_marked_without_the_role(
    client, supervisor, leaving, staying
):
    CustomerFactory(advisor=leaving)
    leaving.groups.set([Group.objects.get(name="Agente call center")])
    client.force_login(supervisor)

    html = client.get("/clientes/").content.decode()

    current, _, gone = html.partition('<optgroup label="Ya no atienden">')
    assert f'<option value="{staying.pk}">Ana Quispe</option>' in current
    assert f'<option value="{leaving.pk}">Luis Rojas (sin rol de asesor)</option>' in gone


def test_someone_who_left_holding_nothing_is_not_offered(client, supervisor, leaving):
    deactivate(leaving)
    client.force_login(supervisor)

    response = client.get(f"/clientes/?advisor={leaving.pk}")

    assert "Ya no atienden" not in response.content.decode()
    assert response.context["filter"].errors


def test_the_loan_list_finds_the_loans_of_an_advisor_who_left(client, supervisor, leaving):
    LoanFactory.create_batch(2, advisor=leaving)
    LoanFactory()
    deactivate(leaving)
    client.force_login(supervisor)

    response = client.get(f"/creditos/?advisor={leaving.pk}")

    assert not response.context["filter"].errors
    assert response.context["table"].paginator.count == 2
    assert "Luis Rojas (inactivo)" in response.content.decode()


# --- The service ------------------------------------------------------------------------


def test_reassigning_moves_each_customer_with_a_timeline_entry_and_their_open_loans(
    supervisor, leaving, staying
):
    customer = CustomerFactory(advisor=leaving)
    open_loan = LoanFactory(customer=customer, advisor=leaving, payment_code="L1")
    paid = LoanFactory(customer=customer, advisor=leaving, status=Loan.Status.PAID)
    other = CustomerFactory(advisor=staying)
    hooks = reassign_services.hooks_for(supervisor)

    moved = reassign_services.reassign_customers(
        customers=CustomerFactory._meta.model.objects.all(),
        from_advisor=leaving,
        to_advisor=staying,
        actor=supervisor,
        hooks=hooks,
    )

    assert moved == 1
    customer.refresh_from_db()
    assert customer.advisor == staying
    assert entries(customer) == [
        "Asesor cambiado de Luis Rojas a Ana Quispe; también de sus créditos L1."
    ]
    assert Interaction.objects.get(customer=customer).actor == supervisor
    open_loan.refresh_from_db()
    paid.refresh_from_db()
    assert open_loan.advisor == staying
    assert paid.advisor == leaving
    assert entries(other) == []


def test_without_the_loans_box_the_loans_keep_their_advisor(supervisor, leaving, staying):
    customer = CustomerFactory(advisor=leaving)
    loan = LoanFactory(customer=customer, advisor=leaving)

    reassign_services.reassign_customers(
        customers=CustomerFactory._meta.model.objects.all(),
        from_advisor=leaving,
        to_advisor=staying,
        actor=supervisor,
    )

    loan.refresh_from_db()
    assert loan.advisor == leaving
    assert entries(customer) == ["Asesor cambiado de Luis Rojas a Ana Quispe."]


def test_the_customers_move_in_batches(supervisor, leaving, staying, monkeypatch):
    monkeypatch.setattr(reassign_services, "BATCH", 2)
    CustomerFactory.create_batch(5, advisor=leaving)

    moved = reassign_services.reassign_customers(
        customers=CustomerFactory._meta.model.objects.all(),
        from_advisor=leaving,
        to_advisor=staying,
        actor=supervisor,
    )

    assert moved == 5
    assert Interaction.objects.filter(kind=Interaction.Kind.SYSTEM).count() == 5


@pytest.mark.parametrize("how", ["inactive", "another role"])
def test_only_an_active_advisor_receives_customers(supervisor, leaving, staying, how):
    CustomerFactory(advisor=leaving)
    if how == "inactive":
        deactivate(staying)
    else:
        staying.groups.set([Group.objects.get(name="Agente call center")])

    with pytest.raises(ValidationError, match="no puede recibir clientes"):
        reassign_services.reassign_customers(
            customers=CustomerFactory._meta.model.objects.all(),
            from_advisor=leaving,
            to_advisor=staying,
            actor=supervisor,
        )


# --- The screens ------------------------------------------------------------------------


def test_a_supervisor_reassigns_the_customers_the_list_shows_after_a_confirmation(
    client, supervisor, leaving, staying
):
    customers = CustomerFactory.create_batch(2, advisor=leaving)
    loan = LoanFactory(customer=customers[0], advisor=leaving)
    deactivate(leaving)
    client.force_login(supervisor)
    listed = client.get(f"/clientes/?advisor={leaving.pk}").content.decode()
    assert "Reasignar estos 2 clientes a…" in listed

    page = client.get(f"/clientes/reasignar/?advisor={leaving.pk}")
    assert "muestra 2 clientes a cargo de Luis Rojas (inactivo)" in page.content.decode()
    assert page.context["form"]["along_credits.open_loans"].value() is True
    sent = client.post(
        f"/clientes/reasignar/?advisor={leaving.pk}",
        {"to_advisor": staying.pk, "expected": 2, "along_credits.open_loans": "on"},
        follow=True,
    )

    assert [str(m) for m in sent.context["messages"]] == [
        "2 clientes de Luis Rojas (inactivo) reasignados a Ana Quispe."
    ]
    assert {c.advisor for c in CustomerFactory._meta.model.objects.all()} == {staying}
    loan.refresh_from_db()
    assert loan.advisor == staying


def test_the_page_refuses_a_target_who_is_not_an_active_advisor(
    client, supervisor, leaving, agente
):
    CustomerFactory(advisor=leaving)
    client.force_login(supervisor)

    response = client.post(f"/clientes/reasignar/?advisor={leaving.pk}", {"to_advisor": agente.pk})

    assert response.status_code == 200
    assert "elija un asesor activo" in response.content.decode()
    assert CustomerFactory._meta.model.objects.get().advisor == leaving


def test_an_advisor_may_not_reassign_a_portfolio(client, asesor, leaving):
    CustomerFactory(advisor=leaving)
    client.force_login(asesor)

    response = client.get(f"/clientes/reasignar/?advisor={leaving.pk}")

    assert response.status_code == 403
    assert "customer-reassign" not in client.get("/clientes/").content.decode()


def test_the_page_asks_for_an_advisor_filter_first(client, supervisor):
    client.force_login(supervisor)

    response = client.get("/clientes/reasignar/", follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "Filtre la lista por un asesor para reasignar sus clientes."
    ]


def test_the_reassign_button_follows_a_filter_changed_without_a_reload(client, supervisor, leaving):
    # htmx swaps only the results: the heading's button came back out of band with the new N.
    CustomerFactory.create_batch(3, advisor=leaving)
    client.force_login(supervisor)

    swapped = client.get(f"/clientes/?advisor={leaving.pk}", HTTP_HX_REQUEST="true")
    whole = client.get(f"/clientes/?advisor={leaving.pk}").content.decode()

    body = swapped.content.decode()
    assert 'id="customer-reassign" hx-swap-oob="true"' in body
    assert "Reasignar estos 3 clientes a…" in body
    assert "hx-swap-oob" not in whole.split('id="customer-reassign"')[1].split(">")[0]


def test_an_advisor_without_customers_is_not_offered_zero_to_reassign(client, supervisor, staying):
    client.force_login(supervisor)

    listed = client.get(f"/clientes/?advisor={staying.pk}").content.decode()

    assert "Reasignar estos 0" not in listed
    assert "Reasignar los clientes de un asesor…" in listed
