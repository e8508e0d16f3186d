"""Two tabs on a plain edit form (a `forms.Form` that edits a stored record through a
service, `lib.stale.KeepsOthersChangesPlain`): the second save keeps what the first one
changed and it left as shown, and a field both changed is refused once.

Opened as a browser does (tests/test_lost_updates.py): GET the form in both tabs, save the
first, then send the stale one with one field changed.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from collections_app.models import EventSetting, MessageTemplate, Portfolio
from credits.models import Loan
from crm.gestiones import examples
from crm.gestiones.applications import services as application_services
from crm.gestiones.documents import services as document_services
from crm.gestiones.models import DocumentTemplate, FormField
from tests.collections_app.strategies.conftest import make_template
from tests.crm.gestiones.conftest import lead, product  # noqa: F401 (fixtures, imported)
from tests.crm.gestiones.test_applications import approve
from tests.crm.gestiones.test_documents import docx_with, upload
from tests.factories import LoanProductFactory, UserFactory
from tests.test_lost_updates import changed, client_for, shown_form, shown_form_of, two_tabs

pytestmark = pytest.mark.django_db

TOOK = "Otra persona lo cambió a «%s» mientras usted editaba"


def tabs(client, first_user, second_user, url: str):
    """`first_user`'s and `second_user`'s tabs on `url`, opened together: each one's client
    and what each tab shows."""
    client.force_login(first_user)
    other = client_for(type(client), second_user)
    return (client, other, *two_tabs(client, other, url))


def both_change(opened, url: str, field: str, theirs: str, mine: str, *, named: str, stored):
    """Both tabs change `field`, the first to `theirs`: the stale one is refused once,
    naming `named`, and saved when sent again. Return what `stored()` reads after each."""
    first_client, second_client, first, stale = opened
    assert first_client.post(url, changed(first, **{field: theirs})).status_code == 302
    refused = second_client.post(url, changed(stale, **{field: mine}))
    assert refused.status_code == 200
    assert TOOK % named in refused.content.decode()
    after_refusal = stored()
    # The refused page holds what is stored now: sent again, this person's value is kept.
    again = [(name, value) for name, value in shown_form_of(refused) if name != field]
    assert second_client.post(url, changed(again, **{field: mine})).status_code == 302
    return after_refusal, stored()


@pytest.fixture
def credit_type(asesor, supervisor):
    process = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )
    # A type's own fields of the other kinds the data page compares.
    for order, (name, label, kind) in enumerate(
        (
            ("fecha_visita", "Fecha de visita", FormField.Kind.DATE),
            ("dependientes", "Dependientes", FormField.Kind.INTEGER),
            ("casa_propia", "Casa propia", FormField.Kind.BOOLEAN),
        ),
        start=10,
    ):
        FormField.objects.create(
            gestion_type=process, name=name, label=label, kind=kind, order=order
        )
    return process


@pytest.fixture
def application(credit_type, lead):  # noqa: F811 (the gestiones tests' fixture)
    """Lucía's application (tests/crm/gestiones/conftest.py): S/ 10,000 in 12 installments."""
    intake = application_services.receive_lead(
        source="calculator", data=lead, received_at=timezone.now()
    )
    return intake.application


@pytest.fixture
def gestion(application):
    """The application's gestión, its own data filled in."""
    gestion = application.gestion
    gestion.data = {"ingreso_mensual": "3500.00", "destino": "Consumo", "dependientes": 1}
    gestion.save(update_fields=["data"])
    return gestion


# Credit application: its terms -------------------------------------------------------------


def test_a_stale_application_tab_keeps_the_new_amount_and_the_loan_is_drafted_for_it(
    client, application, asesor, supervisor
):
    """The stale tab put the old amount back, and the approval drafted the loan for it."""
    gestion = application.gestion
    url = reverse("gestiones:application_edit", args=[gestion.pk])
    _client, advisor, first, stale = tabs(client, supervisor, asesor, url)

    assert client.post(url, changed(first, amount="15000")).status_code == 302
    response = advisor.post(url, changed(stale, term="18"))

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.amount, application.term) == (Decimal("15000.00"), 18)
    approve(gestion, asesor)
    loan = Loan.objects.get(application=application)
    assert (loan.principal, loan.term) == (Decimal("15000.00"), 18)


def test_a_stale_application_tab_keeps_another_product(client, application, asesor, supervisor):
    other = LoanProductFactory(name="Vehicular")
    url = reverse("gestiones:application_edit", args=[application.gestion.pk])
    _client, advisor, first, stale = tabs(client, supervisor, asesor, url)

    assert client.post(url, changed(first, product=str(other.pk))).status_code == 302
    assert advisor.post(url, changed(stale, cosigner_name="Juan Paredes")).status_code == 302

    application.refresh_from_db()
    assert (application.loan_product, application.cosigner_name) == (other, "Juan Paredes")


def test_both_changing_the_amount_is_refused_once_then_saved_on_purpose(
    client, application, asesor, supervisor
):
    url = reverse("gestiones:application_edit", args=[application.gestion.pk])

    def amount():
        application.refresh_from_db()
        return application.amount

    opened = tabs(client, supervisor, asesor, url)
    assert both_change(
        opened, url, "amount", "15000", "12000", named="15000.00", stored=amount
    ) == (Decimal("15000.00"), Decimal("12000.00"))


# A gestión's own data (its type's dynamic fields, stored as JSON) ---------------------------


def test_a_stale_data_tab_keeps_every_kind_of_value_another_person_saved(
    client, gestion, asesor, supervisor
):
    """Decimals and dates are text in the JSON: they are compared as the form reads them."""
    url = reverse("gestiones:data", args=[gestion.pk])
    _client, advisor, first, stale = tabs(client, supervisor, asesor, url)
    theirs = changed(
        first,
        dyn_ingreso_mensual="4200.50",
        dyn_destino="Negocio",
        dyn_fecha_visita="2026-12-01",
        dyn_dependientes="3",
        dyn_casa_propia="true",
    )

    assert client.post(url, theirs).status_code == 302
    response = advisor.post(url, changed(stale, dyn_ocupacion="Comerciante"))

    assert response.status_code == 302
    gestion.refresh_from_db()
    assert gestion.data == {
        "ingreso_mensual": "4200.50",
        "destino": "Negocio",
        "fecha_visita": "2026-12-01",
        "dependientes": 3,
        "casa_propia": True,
        "ocupacion": "Comerciante",
    }


def test_both_changing_the_same_data_is_refused_once_then_saved_on_purpose(
    client, gestion, asesor, supervisor
):
    url = reverse("gestiones:data", args=[gestion.pk])

    def destination():
        gestion.refresh_from_db()
        return gestion.data["destino"]

    opened = tabs(client, supervisor, asesor, url)
    assert both_change(
        opened, url, "dyn_destino", "Negocio", "Vehículo", named="Negocio", stored=destination
    ) == ("Negocio", "Vehículo")


def test_saving_the_data_page_keeps_a_stored_yes_or_no(client, gestion, asesor):
    """The select was given True where its options are "true" and "false", so it showed «—»
    and every save of the page erased the answer (`dynamic._initial`)."""
    gestion.data = {**gestion.data, "casa_propia": True}
    gestion.save(update_fields=["data"])
    url = reverse("gestiones:data", args=[gestion.pk])
    client.force_login(asesor)

    client.post(url, changed(shown_form(client, url), dyn_ocupacion="Comerciante"))

    gestion.refresh_from_db()
    assert gestion.data.get("casa_propia") is True


# Document templates ---------------------------------------------------------------------


@pytest.fixture
def contract(settings, tmp_path, credit_type):
    settings.MEDIA_ROOT = tmp_path
    return document_services.create_template(
        name="Contrato de mutuo",
        file=upload(docx_with("Yo, {{ cliente.nombre_completo }}.")),
        gestion_types=[credit_type],
    )


@pytest.fixture
def jefa(db):
    return UserFactory(username="jefa", is_staff=True, is_superuser=True)


def test_a_stale_template_tab_keeps_another_persons_name_roles_and_switch(
    client, contract, supervisor, jefa
):
    url = reverse("gestiones:document_template_update", args=[contract.pk])
    _client, other, first, stale = tabs(client, supervisor, jefa, url)
    cobranzas = Group.objects.get_or_create(name="Cobranzas")[0]
    theirs = changed(first, name="Contrato de mutuo 2026", is_active="", roles=str(cobranzas.pk))

    assert client.post(url, theirs).status_code == 302
    response = other.post(url, changed(stale, description="Para créditos de consumo"))

    assert response.status_code == 302
    contract.refresh_from_db()
    assert (contract.name, contract.is_active, contract.description) == (
        "Contrato de mutuo 2026",
        False,
        "Para créditos de consumo",
    )
    assert list(contract.roles.all()) == [cobranzas]


def test_both_renaming_a_template_is_refused_once_then_saved_on_purpose(
    client, contract, supervisor, jefa
):
    url = reverse("gestiones:document_template_update", args=[contract.pk])

    def name():
        return DocumentTemplate.objects.get().name

    opened = tabs(client, supervisor, jefa, url)
    assert both_change(
        opened, url, "name", "Contrato 2026", "Mutuo", named="Contrato 2026", stored=name
    ) == ("Contrato 2026", "Mutuo")


# Events settings --------------------------------------------------------------------------


@pytest.fixture
def sms_templates(db):
    return (
        make_template(name="Recordatorio SMS"),
        make_template(name="Promesa SMS", body="Hola {nombre}, gracias por su promesa."),
    )


def setting(event: str) -> EventSetting | None:
    return EventSetting.objects.filter(portfolio=Portfolio.CURRENT, event=event).first()


def test_a_stale_events_tab_keeps_another_persons_event(client, cobranzas, sms_templates):
    """The stale tab switched off, and emptied, the event another person had just set."""
    reminder, promise = sms_templates
    url = reverse("collections_app:event_settings")
    _client, other, first, stale = tabs(client, cobranzas, cobranzas, url)
    theirs = changed(
        first, vigente__promise__template=str(promise.pk), vigente__promise__active="on"
    )
    mine = changed(
        stale, vigente__to_verify__template=str(reminder.pk), vigente__to_verify__active="on"
    )

    assert client.post(url, theirs).status_code == 302
    response = other.post(url, mine)

    assert response.status_code == 302
    assert (setting("promise").template, setting("promise").is_active) == (promise, True)
    assert (setting("to_verify").template, setting("to_verify").is_active) == (reminder, True)


def test_both_choosing_an_events_template_is_refused_once_then_saved_on_purpose(
    client, cobranzas, sms_templates
):
    reminder, promise = sms_templates
    url = reverse("collections_app:event_settings")

    def promise_template():
        return setting("promise").template

    opened = tabs(client, cobranzas, cobranzas, url)
    named = f"Promesa SMS ({MessageTemplate.Channel.SMS.label})"
    assert both_change(
        opened,
        url,
        "vigente__promise__template",
        str(promise.pk),
        str(reminder.pk),
        named=named,
        stored=promise_template,
    ) == (promise, reminder)
