"""A leaving advisor's open loans handed to another in one step, whoever their customers'
advisor is (credits.reassign): the loans the customers' reassignment leaves behind."""

import pytest
from django.core.exceptions import ValidationError

from credits.models import Loan
from credits.reassign import services
from crm.models import Interaction
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


# --- The service ------------------------------------------------------------------------


def test_the_open_loans_move_whoever_the_customers_advisor_is(supervisor, leaving, staying):
    # A customer of someone else, with two loans the leaving advisor placed.
    customer = CustomerFactory(advisor=staying)
    one = LoanFactory(customer=customer, advisor=leaving, payment_code="L1")
    two = LoanFactory(customer=customer, advisor=leaving, payment_code="L2")
    paid = LoanFactory(customer=customer, advisor=leaving, status=Loan.Status.PAID)
    someone_elses = LoanFactory(advisor=staying)

    moved = services.reassign_loans(
        loans=Loan.objects.all(), from_advisor=leaving, to_advisor=staying, actor=supervisor
    )

    assert moved == 2
    for loan in (one, two, paid, someone_elses):
        loan.refresh_from_db()
    assert one.advisor == two.advisor == staying
    # A paid loan keeps who advised it.
    assert paid.advisor == leaving
    # One entry for the customer, naming both loans; its advisor is not touched.
    assert entries(customer) == [
        "Asesor de los créditos L1, L2 cambiado de Luis Rojas a Ana Quispe."
    ]
    assert Interaction.objects.get(customer=customer).actor == supervisor
    customer.refresh_from_db()
    assert customer.advisor == staying


def test_only_the_loans_given_are_moved(supervisor, leaving, staying):
    kept = LoanFactory(advisor=leaving, payment_code="K1")
    given = LoanFactory(advisor=leaving, payment_code="G1")

    moved = services.reassign_loans(
        loans=Loan.objects.filter(pk=given.pk),
        from_advisor=leaving,
        to_advisor=staying,
        actor=supervisor,
    )

    assert moved == 1
    kept.refresh_from_db()
    assert kept.advisor == leaving


def test_the_loans_move_in_batches(supervisor, leaving, staying, monkeypatch):
    monkeypatch.setattr(services, "BATCH", 2)
    LoanFactory.create_batch(5, advisor=leaving)

    moved = services.reassign_loans(
        loans=Loan.objects.all(), from_advisor=leaving, to_advisor=staying, actor=supervisor
    )

    assert moved == 5
    assert set(Loan.objects.values_list("advisor", flat=True)) == {staying.pk}


@pytest.mark.parametrize("how", ["inactive", "another role", "the same"])
def test_only_another_active_advisor_receives_them(supervisor, leaving, staying, how):
    loan = LoanFactory(advisor=leaving)
    target = staying
    if how == "inactive":
        deactivate(staying)
    elif how == "another role":
        target = UserFactory(username="vende", role="Agente call center")
    else:
        target = leaving

    with pytest.raises(ValidationError) as refused:
        services.reassign_loans(
            loans=Loan.objects.all(), from_advisor=leaving, to_advisor=target, actor=supervisor
        )

    assert "to_advisor" in refused.value.message_dict
    loan.refresh_from_db()
    assert loan.advisor == leaving
    assert not Interaction.objects.exists()


# --- The screens ------------------------------------------------------------------------


def test_a_supervisor_reassigns_the_open_loans_the_list_shows(client, supervisor, leaving, staying):
    customer = CustomerFactory(advisor=staying)
    LoanFactory.create_batch(2, customer=customer, advisor=leaving)
    LoanFactory(advisor=leaving, status=Loan.Status.PAID)
    deactivate(leaving)
    client.force_login(supervisor)

    listed = client.get(f"/creditos/?advisor={leaving.pk}").content.decode()
    assert "Reasignar sus créditos abiertos a…" in listed
    page = client.get(f"/creditos/reasignar/?advisor={leaving.pk}").content.decode()
    assert "muestra 2 créditos abiertos a cargo de Luis Rojas (inactivo)" in page
    sent = client.post(
        f"/creditos/reasignar/?advisor={leaving.pk}",
        {"to_advisor": staying.pk, "expected": 2},
        follow=True,
    )

    assert [str(m) for m in sent.context["messages"]] == [
        "2 créditos de Luis Rojas (inactivo) reasignados a Ana Quispe."
    ]
    assert Loan.objects.filter(advisor=staying).count() == 2


def test_the_message_says_when_the_list_changed_meanwhile(client, supervisor, leaving, staying):
    LoanFactory.create_batch(3, advisor=leaving)
    client.force_login(supervisor)

    sent = client.post(
        f"/creditos/reasignar/?advisor={leaving.pk}",
        {"to_advisor": staying.pk, "expected": 2},
        follow=True,
    )

    said = [str(m) for m in sent.context["messages"]]
    assert said == [
        "3 créditos de Luis Rojas reasignados a Ana Quispe. La página mostraba 2: la lista "
        "cambió mientras tanto."
    ]


def test_the_page_refuses_a_target_who_is_not_an_active_advisor(
    client, supervisor, leaving, agente
):
    loan = LoanFactory(advisor=leaving)
    client.force_login(supervisor)

    response = client.post(f"/creditos/reasignar/?advisor={leaving.pk}", {"to_advisor": agente.pk})

    assert response.status_code == 200
    assert "Esa persona no puede recibir créditos" in response.content.decode()
    loan.refresh_from_db()
    assert loan.advisor == leaving


def test_an_advisor_may_not_reassign_a_portfolio(client, asesor, leaving):
    LoanFactory(advisor=leaving)
    client.force_login(asesor)

    assert client.get(f"/creditos/reasignar/?advisor={leaving.pk}").status_code == 403
    assert "loan-reassign" not in client.get("/creditos/").content.decode()


def test_the_page_asks_for_an_advisor_filter_first(client, supervisor):
    client.force_login(supervisor)

    response = client.get("/creditos/reasignar/?status=active", follow=True)

    assert response.redirect_chain[-1][0] == "/creditos/?status=active"
    assert [str(m) for m in response.context["messages"]] == [
        "Filtre la lista por un asesor para reasignar sus créditos."
    ]


def test_the_button_follows_a_filter_changed_without_a_reload(client, supervisor, leaving):
    LoanFactory(advisor=leaving)
    client.force_login(supervisor)

    swapped = client.get(f"/creditos/?advisor={leaving.pk}", HTTP_HX_REQUEST="true")

    body = swapped.content.decode()
    assert 'id="loan-reassign" hx-swap-oob="true"' in body
    assert "Reasignar sus créditos abiertos a…" in body
