"""A customer's identity (document and names) is not overwritten without a person and a role."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from crm import identity, services
from crm.models import Customer
from tests.factories import LoanFactory, UserFactory


@pytest.fixture
def with_loan(customer):
    LoanFactory(customer=customer, payment_code="L000000123")
    return customer


def renamed(customer, **changes) -> dict:
    data = {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
    }
    return {**data, **changes}


def test_it_says_a_customer_with_loans_has_a_protected_identity_and_why(with_loan):
    assert identity.protection(with_loan) == ["tiene créditos (L000000123)"]


def test_it_leaves_the_identity_of_a_customer_without_loans_free(customer):
    assert identity.protection(customer) == []


def test_it_refuses_an_advisor_changing_the_name_of_a_customer_with_loans(with_loan, asesor):
    with pytest.raises(ValidationError) as refused:
        services.update_customer(
            customer=with_loan, actor=asesor, data=renamed(with_loan, first_name="Rosa María")
        )

    assert "tiene créditos (L000000123)" in refused.value.messages[0]
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa"


def test_it_refuses_a_supervisor_who_did_not_confirm_the_change(with_loan, supervisor):
    with pytest.raises(ValidationError) as refused:
        services.update_customer(
            customer=with_loan,
            actor=supervisor,
            data=renamed(with_loan, document_number="45678913"),
        )

    assert "confirm_identity" in refused.value.message_dict
    with_loan.refresh_from_db()
    assert with_loan.document_number == "45678912"


def test_a_supervisor_who_confirms_changes_it_and_the_timeline_keeps_old_and_new(
    with_loan, supervisor
):
    services.update_customer(
        customer=with_loan,
        actor=supervisor,
        data=renamed(with_loan, document_number="45678913", first_name="Rosa María"),
        confirm_identity=True,
    )

    with_loan.refresh_from_db()
    assert (with_loan.document_number, with_loan.first_name) == ("45678913", "Rosa María")
    entry = with_loan.interactions.get(summary__startswith="Identidad y datos actualizados")
    assert entry.actor == supervisor
    assert entry.payload["número de documento"] == "45678912 → 45678913"
    assert entry.payload["nombres"] == "Rosa → Rosa María"
    assert entry.payload["identidad protegida"] == "tiene créditos (L000000123)"


def test_the_system_never_changes_an_identity(customer):
    with pytest.raises(ValidationError):
        services.update_customer(
            customer=customer, actor=None, data=renamed(customer, last_name="Otra Persona")
        )

    assert Customer.objects.get(pk=customer.pk).last_name == "Huamán Torres"


def test_other_fields_of_a_customer_with_loans_still_change_without_the_role(with_loan, asesor):
    services.update_customer(
        customer=with_loan, actor=asesor, data={**renamed(with_loan), "city": "Cusco"}
    )

    with_loan.refresh_from_db()
    assert with_loan.city == "Cusco"


def test_the_form_locks_the_identity_and_says_why_for_an_advisor(client, asesor, with_loan):
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_update", args=[with_loan.pk]))

    form = response.context["form"]
    assert form.fields["document_number"].disabled
    assert form.fields["first_name"].disabled
    assert "confirm_identity" not in form.fields
    assertContains(response, "tiene créditos (L000000123)")
    assertContains(response, "Solo un supervisor o un administrador puede corregirlos")


def test_an_advisor_posting_another_name_keeps_the_customer_as_they_were(client, asesor, with_loan):
    client.force_login(asesor)

    client.post(
        reverse("crm:customer_update", args=[with_loan.pk]),
        {
            **renamed(with_loan, first_name="Impostor"),
            "phone": str(with_loan.phone),
            "city": "Cusco",
        },
    )

    with_loan.refresh_from_db()
    assert (with_loan.first_name, with_loan.city) == ("Rosa", "Cusco")


def refusal_key(response) -> str:
    """The key of the changes a refusal listed, as the page sends it back."""
    return response.context["form"]["identity_key"].value()


def test_a_supervisor_must_tick_the_confirmation_in_the_form(client, supervisor, with_loan):
    client.force_login(supervisor)
    url = reverse("crm:customer_update", args=[with_loan.pk])
    posted = {**renamed(with_loan, first_name="Rosa María"), "phone": str(with_loan.phone)}

    unconfirmed = client.post(url, posted)
    confirmed = client.post(
        url, {**posted, "confirm_identity": "on", "identity_key": refusal_key(unconfirmed)}
    )

    assert unconfirmed.status_code == 200
    assert unconfirmed.context["form"].errors["confirm_identity"]
    assert confirmed.status_code == 302
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa María"


def test_a_box_ticked_before_the_changes_were_listed_confirms_nothing(
    client, supervisor, with_loan
):
    """A first POST with the box ticked (a script, a browser filling the form) gets the
    refusal with each old and new value, like any other."""
    client.force_login(supervisor)
    url = reverse("crm:customer_update", args=[with_loan.pk])
    posted = {**renamed(with_loan, first_name="Rosa María"), "phone": str(with_loan.phone)}

    response = client.post(url, {**posted, "confirm_identity": "on", "identity_key": "x" * 64})

    assert response.status_code == 200
    assertContains(response, "Nombres: Rosa → Rosa María")
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa"


def test_a_confirmation_counts_only_for_the_values_it_listed(client, supervisor, with_loan):
    """Refused for one name, the person types another and sends the box still ticked: the
    new value was never listed, so it is listed now instead of saved."""
    client.force_login(supervisor)
    url = reverse("crm:customer_update", args=[with_loan.pk])
    posted = {**renamed(with_loan, first_name="Rosa María"), "phone": str(with_loan.phone)}
    refused = client.post(url, posted)

    retyped = {**posted, "first_name": "Rosalía", "confirm_identity": "on"}
    response = client.post(url, {**retyped, "identity_key": refusal_key(refused)})

    assert response.status_code == 200
    assertContains(response, "Nombres: Rosa → Rosalía")
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa"
    saved = client.post(url, {**retyped, "identity_key": refusal_key(response)})
    assert saved.status_code == 302
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosalía"


def test_the_confirmation_box_appears_only_once_the_change_is_shown(client, supervisor, with_loan):
    """Ticked before the old and new values were on screen, it would confirm nothing."""
    client.force_login(supervisor)
    url = reverse("crm:customer_update", args=[with_loan.pk])
    posted = {**renamed(with_loan, first_name="Rosa María"), "phone": str(with_loan.phone)}

    opened = client.get(url)
    refused = client.post(url, posted)

    assertNotContains(opened, 'name="confirm_identity"')
    assertContains(refused, 'name="confirm_identity"')
    assertContains(refused, "Nombres: Rosa → Rosa María")


def test_supervisors_and_administrators_have_the_role_and_advisors_do_not(asesor, supervisor):
    admin = UserFactory(username="jefa", role="Administrador")

    assert supervisor.has_perm(identity.PERMISSION)
    assert admin.has_perm(identity.PERMISSION)
    assert not asesor.has_perm(identity.PERMISSION)


def test_admin_saves_a_protected_identity_only_with_the_key_of_what_it_listed(
    admin_client, with_loan
):
    url = reverse("admin:crm_customer_change", args=[with_loan.pk])
    posted = {
        **renamed(with_loan, first_name="Rosa María"),
        "phone": str(with_loan.phone),
        "confirm_identity": "on",
    }

    ticked_first = admin_client.post(url, posted)

    assert ticked_first.status_code == 200
    assertContains(ticked_first, "Nombres: Rosa → Rosa María")
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa"
    key = ticked_first.context["adminform"].form["identity_key"].value()
    saved = admin_client.post(url, {**posted, "identity_key": key})
    assert saved.status_code == 302
    with_loan.refresh_from_db()
    assert with_loan.first_name == "Rosa María"
