"""Two tabs, or two people, with the same edit form open: what the second save does to the
first one's change, and what a form sent again (back button, double click) does.

Each test opens the screens as a browser does (GET, then sends back the form with what it
showed, one field changed), so a stale form carries the values it was opened with. A test
marked xfail(strict=True) records a lost update found and not fixed yet; it fails (XPASS)
once fixed.
"""

from datetime import timedelta
from decimal import Decimal

import lxml.html
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from credits.models import Loan
from crm import services
from crm.gestiones import examples
from crm.gestiones import services as gestion_services
from crm.gestiones.models import Action, ActionResult
from crm.models import Interaction
from tests.factories import (
    CustomerFactory,
    InvestorFactory,
    LoanFactory,
    LoanProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def shown_form(client, url: str) -> list[tuple[str, str]]:
    """Return what the page's main form would send untouched, as a browser fills it in."""
    response = client.get(url)
    assert response.status_code == 200
    forms = [
        form
        for form in lxml.html.fromstring(response.content.decode()).forms
        if (form.get("method") or "get").lower() == "post"
        and (form.get("action") or url) in (url, "")
    ]
    fields: list[tuple[str, str]] = []
    for element in max(forms, key=lambda form: len(form.inputs)).inputs:
        name = element.name
        if not name:
            continue
        if element.tag == "select":
            options = element.xpath(".//option")
            chosen = [
                o.get("value", o.text or "") for o in options if o.get("selected") is not None
            ]
            if not element.multiple and not chosen and options:
                chosen = [options[0].get("value", options[0].text or "")]
            fields += [(name, value) for value in chosen]
        elif element.tag == "textarea":
            fields.append((name, element.text or ""))
        elif element.get("type", "text").lower() in ("checkbox", "radio"):
            if element.checked:
                fields.append((name, element.get("value", "on")))
        elif element.get("type", "text").lower() not in ("submit", "button", "file", "reset"):
            fields.append((name, element.get("value") or ""))
    return fields


def shown_form_of(response) -> list[tuple[str, str]]:
    """Return the fields of the form a page answered with (a refused save)."""
    form = max(lxml.html.fromstring(response.content.decode()).forms, key=lambda f: len(f.inputs))
    return [(name, value) for name, value in form.form_values()]


def changed(fields: list[tuple[str, str]], **values) -> dict[str, list[str]]:
    """Return the form's data with `values` in place of what it showed ("" unticks a box)."""
    data: dict[str, list[str]] = {}
    for name, value in fields:
        if name not in values:
            data.setdefault(name, []).append(value)
    for name, value in values.items():
        if value != "":
            data[name] = [value]
    return data


def two_tabs(first, second, url: str) -> tuple[list, list]:
    """Open `url` in two signed-in clients before either saves."""
    return shown_form(first, url), shown_form(second, url)


def customer_tabs(client, supervisor, asesor, customer):
    """A supervisor's and an advisor's tab on the customer's edit form, opened together:
    the form's address, the advisor's client, and what each tab shows."""
    url = reverse("crm:customer_update", args=[customer.pk])
    client.force_login(supervisor)
    advisor = client_for(type(client), asesor)
    return (url, advisor, *two_tabs(client, advisor, url))


@pytest.fixture
def admin_user(db):
    return UserFactory(username="jefa", is_staff=True, is_superuser=True)


def client_for(client_class, user):
    other = client_class()
    other.force_login(user)
    return other


# Customers: contact data, consent and identity --------------------------------------------


def test_a_stale_advisor_form_cannot_undo_a_protected_identity_change(client, supervisor, asesor):
    """The guard that holds: once a customer has a loan, the advisor's form does not send
    the names at all (disabled fields), so a supervisor's confirmed change stays."""
    customer = CustomerFactory(first_name="Rosa", last_name="Huamán Torres")
    LoanFactory(customer=customer)
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)

    # The supervisor's change is refused once with both values shown, then confirmed.
    refused = client.post(url, changed(first, first_name="Rosa María"))
    key = refused.context["form"]["identity_key"].value()
    client.post(
        url, changed(first, first_name="Rosa María", confirm_identity="on", identity_key=key)
    )
    customer.refresh_from_db()
    assert customer.first_name == "Rosa María"

    response = advisor.post(url, changed(stale, address="Av. Arequipa 100"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Rosa María"
    assert customer.address == "Av. Arequipa 100"


def test_each_save_of_the_same_customer_is_on_the_timeline_with_its_own_change(
    client, supervisor, asesor
):
    """Each save's old → new; the second one no longer puts the first one's phone back."""
    customer = CustomerFactory(phone="+51911111111")
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)

    client.post(url, changed(first, phone="922222222"))
    advisor.post(url, changed(stale, email="rosa@correo.pe"))

    entries = list(
        Interaction.objects.filter(customer=customer, kind=Interaction.Kind.SYSTEM)
        .order_by("pk")
        .values_list("payload", flat=True)
    )
    assert {"celular": "+51911111111 → +51922222222"} in entries
    # The second save changed only what its person changed: the e-mail.
    assert not any(entry.get("celular") == "+51922222222 → +51911111111" for entry in entries)
    assert any("rosa@correo.pe" in str(entry.values()) for entry in entries)


def test_a_stale_customer_form_keeps_another_persons_new_phone(client, supervisor, asesor):
    """The second save put back the phone its form had shown (last write won)."""
    customer = CustomerFactory(phone="+51911111111")
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)

    client.post(url, changed(first, phone="922222222"))
    response = advisor.post(url, changed(stale, email="rosa@correo.pe"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (str(customer.phone), customer.email) == ("+51922222222", "rosa@correo.pe")


def test_a_stale_customer_form_keeps_another_persons_name_change(client, supervisor, asesor):
    customer = CustomerFactory(first_name="Daniela")
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)

    client.post(url, changed(first, first_name="Daniela Alejandra"))
    response = advisor.post(url, changed(stale, city="Arequipa"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Daniela Alejandra", "Arequipa")


def test_a_stale_customer_form_does_not_undo_an_opt_out(client, supervisor, asesor):
    """The unticked box of a form opened before the opt-out read as "accepts messages
    again", on the timeline under the name of a person who never chose it."""
    customer = CustomerFactory()
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)

    client.post(url, changed(first, has_opted_out="on"))
    customer.refresh_from_db()
    assert customer.has_opted_out

    response = advisor.post(url, changed(stale, address="Jr. Junín 250"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.has_opted_out
    assert customer.address == "Jr. Junín 250"
    assert not Interaction.objects.filter(
        customer=customer, summary__icontains="vuelve a aceptar"
    ).exists()


def test_both_changing_the_same_field_is_refused_once_then_saved_on_purpose(
    client, supervisor, asesor
):
    customer = CustomerFactory(city="Lima")
    url, advisor, first, stale = customer_tabs(client, supervisor, asesor, customer)
    client.post(url, changed(first, city="Cusco"))

    refused = advisor.post(url, changed(stale, city="Arequipa"))

    assert refused.status_code == 200
    assert "Otra persona lo cambió a «Cusco» mientras usted editaba" in refused.content.decode()
    customer.refresh_from_db()
    assert customer.city == "Cusco"
    # The page now holds what is stored: sent again, this person's value is kept.
    again = [(name, value) for name, value in shown_form_of(refused) if name != "city"]
    saved = advisor.post(url, changed(again, city="Arequipa"))
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Arequipa"


def test_a_form_sent_without_what_it_showed_is_taken_as_it_comes(client, supervisor):
    """A script, or a page from before: no three-way merge, the values as sent."""
    customer = CustomerFactory(city="Lima")
    url = reverse("crm:customer_update", args=[customer.pk])
    client.force_login(supervisor)
    fields = [(n, v) for n, v in shown_form(client, url) if n != "seen_values"]

    response = client.post(url, changed(fields, city="Tacna"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Tacna"


def test_the_consent_service_alone_keeps_an_opt_out_when_not_told(customer):
    """A save that does not mention consent leaves it as it is (the service's own rule)."""
    services.set_contact_opt_out(customer=customer, opted_out=True)

    services.update_customer(customer=customer, actor=None, data={"city": "Cusco"})

    customer.refresh_from_db()
    assert customer.has_opted_out


# Investors: where their money goes --------------------------------------------------------


def test_a_stale_investor_form_keeps_the_new_bank_account(client, admin_user):
    """A stale tab put the old account back, with no record of either change: the next
    liquidation would have been paid to the old account."""
    investor = InvestorFactory(bank_account="191-00000001-0-00")
    url = reverse("credits:investor_update", args=[investor.pk])
    client.force_login(admin_user)
    other = client_for(type(client), admin_user)
    first, stale = two_tabs(client, other, url)

    assert client.post(url, changed(first, bank_account="191-99999999-0-00")).status_code == 302
    response = other.post(url, changed(stale, phone="999 111 222"))

    assert response.status_code == 302
    investor.refresh_from_db()
    assert investor.bank_account == "191-99999999-0-00"
    assert str(investor.phone) == "+51999111222"
    history = [
        entry.change_message
        for entry in LogEntry.objects.filter(object_id=str(investor.pk)).order_by("pk")
    ]
    assert history[0] == "cuenta: 191-00000001-0-00 → 191-99999999-0-00"
    assert history[1].startswith("teléfono: ")


# Roles in the admin ------------------------------------------------------------------------


def test_a_stale_admin_user_form_does_not_give_back_a_revoked_role(client, admin_user):
    """A stale tab's e-mail correction made the user active again, and an Asesor."""
    leaving = UserFactory(username="se_va", role="Asesor", email="se_va@cartera.pe")
    url = reverse("admin:auth_user_change", args=[leaving.pk])
    client.force_login(admin_user)
    other = client_for(type(client), admin_user)
    first, stale = two_tabs(client, other, url)

    revoked = changed(first, is_active="")
    revoked.pop("groups", None)
    assert client.post(url, revoked).status_code == 302
    leaving.refresh_from_db()
    assert not leaving.is_active and not leaving.groups.exists()

    response = other.post(url, changed(stale, email="se_va@otra.pe"))

    assert response.status_code == 302
    leaving.refresh_from_db()
    assert not leaving.is_active and not leaving.groups.exists()
    assert leaving.email == "se_va@otra.pe"


# A form sent again: back button, refresh, double click ------------------------------------


def test_the_same_new_loan_sent_twice_makes_one_draft(client, supervisor):
    """The back button and send, or a double click, made two drafts with two codes."""
    customer = CustomerFactory(document_number="40000123")
    product = LoanProductFactory(name="Consumo repetido")
    client.force_login(supervisor)
    url = reverse("credits:loan_create")
    today = timezone.localdate()
    data = changed(
        shown_form(client, url),
        customer=customer.document_number,
        product=str(product.pk),
        principal="5000",
        term="12",
        start_date=today.isoformat(),
        first_due_date=(today + timedelta(days=30)).isoformat(),
    )

    assert client.post(url, data).status_code == 302
    again = client.post(url, data)

    assert Loan.objects.filter(customer=customer).count() == 1
    first = Loan.objects.get(customer=customer)
    assert again.status_code == 200
    assert f"Usted registró este mismo crédito hace un momento ({first.payment_code}" in (
        again.content.decode()
    )
    # Said to be another loan with the same terms: opened.
    assert client.post(url, {**data, "repeat_ok": ["on"]}).status_code == 302
    assert Loan.objects.filter(customer=customer).count() == 2


# A gestión that moved or closed while its follow-up form was open --------------------------


@pytest.fixture
def service_gestion(asesor, supervisor, customer):
    process = examples.build_process(
        examples.SERVICE_REQUEST, agents=[asesor], supervisors=[supervisor]
    )
    gestion = gestion_services.create_gestion(
        customer=customer, gestion_type=process, agent=asesor, data={"categoria": "Reclamo"}
    )
    action, result = step(gestion, "Enviar caso a TI", "Caso enviado a TI")
    gestion_services.record_follow_up(gestion=gestion, actor=asesor, action=action, result=result)
    return gestion


def step(gestion, action_name: str, result_name: str) -> tuple[Action, ActionResult]:
    action = Action.objects.get(gestion_type=gestion.gestion_type, name=action_name)
    return action, action.results.get(name=result_name)


def test_a_stale_step_on_a_gestion_that_moved_on_records_nothing_and_keeps_the_notes(
    client, service_gestion, asesor, supervisor
):
    """The guard that holds: a step typed for «Revisión» is refused once the gestión left it,
    and the notes typed come back. (It says only «Elija una opción de la lista.», not that
    the gestión moved to «Esperando al cliente» meanwhile: reported.)"""
    typed = step(service_gestion, "Solicitar tiempo estimado", "Tiempo estimado disponible")
    action, result = step(service_gestion, "Pedir información al cliente", "Solicitud enviada")
    gestion_services.record_follow_up(
        gestion=service_gestion, actor=supervisor, action=action, result=result
    )
    steps_before = service_gestion.follow_ups.count()
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[service_gestion.pk]),
        {"action": typed[0].pk, "result": typed[1].pk, "notes": "TI dice: el viernes."},
    )

    assert response.status_code == 200
    assert "TI dice: el viernes." in response.content.decode()
    assert service_gestion.follow_ups.count() == steps_before
    service_gestion.refresh_from_db()
    assert service_gestion.state.name == "Esperando al cliente"


def test_a_follow_up_typed_while_the_gestion_was_closed_says_it_closed(
    client, service_gestion, asesor, supervisor
):
    """It was the 403 page ("pida a un administrador que revise su rol"), the notes lost."""
    typed = step(service_gestion, "Solicitar tiempo estimado", "Tiempo estimado disponible")
    action, result = step(service_gestion, "Resolver", "Solucionado")
    gestion_services.record_follow_up(
        gestion=service_gestion, actor=supervisor, action=action, result=result
    )
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[service_gestion.pk]),
        {"action": typed[0].pk, "result": typed[1].pk, "notes": "TI dice: el viernes."},
        follow=True,
    )

    assert response.status_code == 200
    assert "está cerrada («Resuelto»): se cerró mientras usted escribía" in (
        response.content.decode()
    )
    assert "TI dice: el viernes." in response.content.decode()


def test_the_step_that_closed_a_gestion_sent_twice_says_it_was_recorded(
    client, service_gestion, asesor
):
    # The second click said "se cerró mientras usted escribía y no se registró nada".
    action, result = step(service_gestion, "Resolver", "Solucionado")
    client.force_login(asesor)
    url = reverse("gestiones:follow_up", args=[service_gestion.pk])
    # From the closing's confirmation page (its confirm field): the step that closes it.
    data = {"action": action.pk, "result": result.pk, "notes": "Listo, llamó TI.", "confirm": "yes"}

    client.post(url, data)
    response = client.post(url, data, follow=True)

    page = response.content.decode()
    assert service_gestion.follow_ups.filter(result=result).count() == 1
    assert "Este seguimiento ya se registró hace un momento" in page
    assert "no se registró nada" not in page


def test_a_stale_loan_product_page_in_admin_keeps_another_administrators_rate(client, admin_user):
    """A stale tab saving the maximum amount put the old maximum rate back."""
    product = LoanProductFactory(max_rate="36.00", max_amount="50000.00")
    url = reverse("admin:credits_loanproduct_change", args=[product.pk])
    client.force_login(admin_user)
    other = client_for(type(client), admin_user)
    first, stale = two_tabs(client, other, url)

    assert client.post(url, changed(first, max_rate="40,00")).status_code == 302
    response = other.post(url, changed(stale, max_amount="60000"))

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.max_rate, product.max_amount) == (Decimal("40"), Decimal("60000"))


def test_a_stale_survey_editor_says_a_question_was_removed_meanwhile(client, admin_user):
    """It said only «Revise los campos marcados.» with nothing marked (the error sat on the
    formset's hidden id)."""
    from crm.gestiones.models import Question, Survey

    survey = Survey.objects.create(name="Satisfacción")
    for order, text in enumerate(("¿Cómo le fue?", "Comentarios"), start=1):
        Question.objects.create(survey=survey, text=text, kind=Question.Kind.TEXT, order=order)
    url = reverse("gestiones:survey_update", args=[survey.pk])
    client.force_login(admin_user)
    other = client_for(type(client), admin_user)
    first, stale = two_tabs(client, other, url)
    delete = next(name for name, _value in first if name.endswith("-0-id"))[: -len("id")] + "DELETE"

    assert client.post(url, changed(first, **{delete: "on"})).status_code == 302
    response = other.post(url, changed(stale, name="Satisfacción 2026"))

    assert response.status_code == 200
    assert "Otra persona quitó o cambió esta pregunta mientras usted editaba" in (
        response.content.decode()
    )
