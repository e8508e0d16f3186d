"""Numbers typed on the gestiones screens and their admin (lib.fields): "1500,50" is read as
1500.50, "1.500" is asked again as ambiguous and nothing is saved, a count refuses "1.000"
(Django's IntegerField took it for 1), and every input is text, never type="number"
(Chromium dropped the comma of "1500,50" as it was typed: 150050)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from crm.gestiones import examples, services
from crm.gestiones import forms as gestion_forms
from crm.gestiones.applications import forms as application_forms
from crm.gestiones.applications import services as application_services
from crm.gestiones.goals import forms as goal_forms
from crm.gestiones.models import (
    CreditApplication,
    CreditLead,
    Gestion,
    GestionState,
    GestionType,
    Goal,
)

pytestmark = pytest.mark.django_db

AMBIGUOUS = "«1.500» es ambiguo"
AMBIGUOUS_COUNT = "«1.000» es ambiguo"
NUMBER_INPUT = 'type="number"'


@pytest.fixture
def credit_type(asesor, supervisor) -> GestionType:
    return examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )


@pytest.fixture
def gestion(credit_type, customer, asesor) -> Gestion:
    return services.create_gestion(
        customer=customer,
        gestion_type=credit_type,
        agent=asesor,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )


def errors_of(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


# --- Opening a gestión --------------------------------------------------------------------


def open_gestion(client, customer, credit_type, **values):
    typed = {
        "gestion_type": credit_type.pk,
        "currency": "PEN",
        "dyn_ingreso_mensual": "2500",
        "dyn_destino": "Vehículo",
    }
    return client.post(reverse("gestiones:create", args=[customer.pk]), typed | values)


def test_a_new_gestions_amounts_are_read_as_the_advisor_typed_them(
    client, customer, credit_type, asesor
):
    client.force_login(asesor)

    open_gestion(
        client,
        customer,
        credit_type,
        amount_requested="1500,50",
        dyn_ingreso_mensual="2.500,50",
    )

    gestion = Gestion.objects.get()
    assert gestion.amount_requested == Decimal("1500.50")
    assert gestion.data["ingreso_mensual"] == "2500.50"


@pytest.mark.parametrize("field", ["amount_requested", "dyn_ingreso_mensual"])
def test_a_new_gestions_amount_of_one_group_of_three_is_asked_again(
    client, customer, credit_type, asesor, field
):
    client.force_login(asesor)

    response = open_gestion(client, customer, credit_type, **{field: "1.500"})

    assert errors_of(response, field)[0].startswith(AMBIGUOUS)
    assert not Gestion.objects.exists()


def test_a_new_gestions_amount_with_three_extra_zeros_is_refused(
    client, customer, credit_type, asesor
):
    client.force_login(asesor)

    response = open_gestion(client, customer, credit_type, amount_requested="1500000000")

    # Taken, it counted toward the advisor's goal, whose targets stop at 100,000,000.
    assert errors_of(response, "amount_requested") == [
        "El monto puede ser a lo sumo 100,000,000.00: revise los ceros."
    ]
    assert not Gestion.objects.exists()


def test_a_new_gestions_count_refuses_a_thousand_with_a_point(
    client, customer, credit_type, asesor, dependants
):
    client.force_login(asesor)

    response = open_gestion(client, customer, credit_type, dyn_dependientes="1.000")

    assert errors_of(response, "dyn_dependientes")[0].startswith(AMBIGUOUS_COUNT)
    assert not Gestion.objects.exists()


def test_a_new_gestions_numbers_are_typed_in_text_inputs(customer, credit_type, asesor, dependants):
    form = gestion_forms.GestionForm(
        initial={"gestion_type": credit_type.pk}, customer=customer, user=asesor
    )

    for name in ("amount_requested", "dyn_ingreso_mensual", "dyn_dependientes"):
        html = str(form[name])
        assert 'type="text"' in html and NUMBER_INPUT not in html, name


# --- A gestión's data ---------------------------------------------------------------------


def test_a_gestions_data_is_read_as_the_advisor_typed_it(client, gestion, asesor, dependants):
    client.force_login(asesor)

    client.post(
        reverse("gestiones:data", args=[gestion.pk]),
        {"dyn_ingreso_mensual": "1500,50", "dyn_destino": "Consumo", "dyn_dependientes": "3"},
    )

    gestion.refresh_from_db()
    assert gestion.data["ingreso_mensual"] == "1500.50"
    assert gestion.data["dependientes"] == 3


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [("dyn_ingreso_mensual", "1.500", AMBIGUOUS), ("dyn_dependientes", "1.000", AMBIGUOUS_COUNT)],
)
def test_a_gestions_data_of_one_group_of_three_is_asked_again(
    client, gestion, asesor, dependants, field, typed, message
):
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:data", args=[gestion.pk]),
        {"dyn_ingreso_mensual": "3500", "dyn_destino": "Consumo", field: typed},
    )

    assert errors_of(response, field)[0].startswith(message)
    gestion.refresh_from_db()
    assert gestion.data == {"ingreso_mensual": "3500.00", "destino": "Consumo"}


def test_a_stored_decimal_that_would_read_as_ambiguous_is_shown_so_it_saves_again(gestion):
    # Typed as "1.234" before lib.fields, or given so by the API.
    gestion.data["ingreso_mensual"] = "1.234"
    form = gestion_forms.GestionDataForm(gestion=gestion)
    shown = form["dyn_ingreso_mensual"].value()

    again = gestion_forms.GestionDataForm(
        {"dyn_ingreso_mensual": shown, "dyn_destino": "Consumo"}, gestion=gestion
    )

    assert shown == "1.2340"
    assert again.is_valid(), again.errors
    assert again.cleaned_data["dyn_ingreso_mensual"] == Decimal("1.234")


def test_a_gestions_data_is_typed_in_text_inputs(gestion, dependants):
    form = gestion_forms.GestionDataForm(gestion=gestion)

    for name in ("dyn_ingreso_mensual", "dyn_dependientes"):
        html = str(form[name])
        assert 'type="text"' in html and NUMBER_INPUT not in html, name


# --- A follow-up --------------------------------------------------------------------------


def follow_up(client, gestion, **values):
    action = gestion.gestion_type.actions.get(name="Revisar documentos")
    result = action.results.get(name="Documentos completos")
    return client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]),
        {"action": action.pk, "result": result.pk} | values,
    )


def test_a_follow_ups_approved_amount_is_read_as_the_advisor_typed_it(client, gestion, asesor):
    client.force_login(asesor)

    follow_up(client, gestion, amount_approved="1500,50")

    gestion.refresh_from_db()
    assert gestion.amount_approved == Decimal("1500.50")


def test_a_follow_ups_approved_amount_of_one_group_of_three_is_asked_again(client, gestion, asesor):
    client.force_login(asesor)

    response = follow_up(client, gestion, amount_approved="1.500")

    assert errors_of(response, "amount_approved")[0].startswith(AMBIGUOUS)
    gestion.refresh_from_db()
    assert gestion.amount_approved is None
    assert gestion.state.name == "Creado"


def test_a_follow_ups_approved_amount_is_typed_in_a_text_input(gestion):
    form = gestion_forms.FollowUpForm(gestion=gestion, actions=[])

    html = str(form["amount_approved"])

    assert 'type="text"' in html and NUMBER_INPUT not in html


# --- A credit application -----------------------------------------------------------------


@pytest.fixture
def application(credit_type, lead) -> CreditApplication:
    return application_services.receive_lead(
        data=lead, source=CreditApplication.Source.CALCULATOR, received_at=timezone.now()
    ).application


def edit_application(client, application, **values):
    typed = {"product": application.loan_product_id, "amount": "10000", "term": "12"}
    return client.post(
        reverse("gestiones:application_edit", args=[application.gestion_id]), typed | values
    )


def test_an_applications_terms_are_read_as_the_advisor_typed_them(client, application):
    client.force_login(application.gestion.agent)

    edit_application(client, application, amount="1500,50", annual_rate="24,5")

    application.refresh_from_db()
    assert application.amount == Decimal("1500.50")
    assert application.annual_rate == Decimal("24.5")


def test_an_applications_rate_has_no_thousands(client, application):
    # A rate has no thousands: "24.125" is 24.125 %, not asked again.
    client.force_login(application.gestion.agent)

    edit_application(client, application, annual_rate="24.125")

    application.refresh_from_db()
    assert application.annual_rate == Decimal("24.125")


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [("amount", "1.500", AMBIGUOUS), ("term", "1.000", AMBIGUOUS_COUNT)],
)
def test_an_applications_terms_of_one_group_of_three_are_asked_again(
    client, application, field, typed, message
):
    client.force_login(application.gestion.agent)

    response = edit_application(client, application, **{field: typed})

    assert errors_of(response, field)[0].startswith(message)
    application.refresh_from_db()
    assert (application.amount, application.term) == (Decimal("10000.00"), 12)


def test_a_walk_in_applications_amount_is_read_as_the_advisor_typed_it(
    client, credit_type, product, asesor
):
    client.force_login(asesor)
    typed = {
        "document_type": "dni",
        "document_number": "41234567",
        "first_name": "Lucía",
        "last_name": "Paredes Vega",
        "phone": "987654321",
        "product": product.pk,
        "term": "12",
    }

    refused = client.post(reverse("gestiones:application_create"), typed | {"amount": "1.500"})
    client.post(reverse("gestiones:application_create"), typed | {"amount": "10.000,50"})

    assert errors_of(refused, "amount")[0].startswith(AMBIGUOUS)
    assert CreditLead.objects.count() == 1
    assert CreditApplication.objects.get().amount == Decimal("10000.50")


def test_an_applications_terms_are_typed_in_text_inputs(application):
    form = application_forms.ApplicationForm(application=application)

    for name in ("amount", "term", "annual_rate"):
        html = str(form[name])
        assert 'type="text"' in html and NUMBER_INPUT not in html, name
        assert "step=" not in html, name


# --- Goals ------------------------------------------------------------------------------


@pytest.fixture
def goal_form_data(credit_type, asesor) -> dict:
    return {
        "agent": asesor.pk,
        "product": credit_type.product_id,
        "year": "2026",
        "month": "5",
        "target_local": "5000",
        "target_usd": "0",
        "target_customers": "3",
        "target_prospects": "10",
        "success_state": GestionState.objects.get(gestion_type=credit_type, name="Desembolsado").pk,
    }


def test_a_goals_targets_are_read_as_the_supervisor_typed_them(client, supervisor, goal_form_data):
    client.force_login(supervisor)

    client.post(
        reverse("gestiones:goal_create"),
        goal_form_data | {"target_local": "1500,50", "target_usd": "12.500,00"},
    )

    goal = Goal.objects.get()
    assert (goal.target_local, goal.target_usd) == (Decimal("1500.50"), Decimal("12500.00"))


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("target_local", "1.500", AMBIGUOUS),
        ("target_usd", "1.500", AMBIGUOUS),
        ("target_customers", "1.000", AMBIGUOUS_COUNT),
        ("target_prospects", "1.000", AMBIGUOUS_COUNT),
        ("year", "2.026", "«2.026» es ambiguo"),
    ],
)
def test_a_goals_numbers_of_one_group_of_three_are_asked_again(
    client, supervisor, goal_form_data, field, typed, message
):
    client.force_login(supervisor)

    response = client.post(reverse("gestiones:goal_create"), goal_form_data | {field: typed})

    assert errors_of(response, field)[0].startswith(message)
    assert not Goal.objects.exists()


def test_a_goals_numbers_are_typed_in_text_inputs(client, supervisor, credit_type):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:goal_create"))

    assertNotContains(response, NUMBER_INPUT)
    for name in ("year", "target_local", "target_usd", "target_customers", "target_prospects"):
        assert 'type="text"' in str(response.context["form"][name]), name


def test_the_progress_pages_year_refuses_a_thousand_with_a_point(client, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:goal_progress"), {"year": "2.026", "month": "5"})

    assertContains(response, "«2.026» es ambiguo")
    assertContains(response, "Se muestra el mes actual.")
    assertNotContains(response, NUMBER_INPUT)


def test_the_goal_lists_year_filter_refuses_a_thousand_with_a_point(supervisor):
    goal_filter = goal_forms.GoalFilter({"year": "2.026"}, queryset=Goal.objects.all())
    typed = goal_forms.GoalFilter({"year": "2026"}, queryset=Goal.objects.all())

    assert not goal_filter.form.is_valid()
    assert goal_filter.form.errors["year"][0].startswith("«2.026» es ambiguo")
    assert typed.form.is_valid() and typed.form.cleaned_data["year"] == 2026
    assert NUMBER_INPUT not in str(typed.form["year"])


# --- Admin ------------------------------------------------------------------------------


def test_the_goal_admin_reads_targets_as_typed_and_asks_again_for_one_group_of_three(
    admin_client, goal_form_data
):
    url = reverse("admin:gestiones_goal_add")

    refused = admin_client.post(url, goal_form_data | {"target_local": "1.500"})
    admin_client.post(url, goal_form_data | {"target_local": "1500,50"})

    assert refused.context["adminform"].form.errors["target_local"][0].startswith(AMBIGUOUS)
    assert Goal.objects.get().target_local == Decimal("1500.50")


def test_a_states_duration_in_admin_refuses_a_thousand_with_a_point(admin_client, credit_type):
    state = GestionState.objects.get(gestion_type=credit_type, name="Creado")
    url = reverse("admin:gestiones_gestionstate_change", args=[state.pk])
    typed = {
        "gestion_type": credit_type.pk,
        "name": state.name,
        "order": str(state.order),
        "is_initial": "on",
        "outcome": state.outcome,
        "duration_days": "1.000",
        "duration_hours": "0",
        "duration_minutes": "0",
        "color": state.color,
        "state_agents-TOTAL_FORMS": "0",
        "state_agents-INITIAL_FORMS": "0",
    }

    response = admin_client.post(url, typed)

    assert response.context["adminform"].form.errors["duration_days"][0].startswith(AMBIGUOUS_COUNT)
    state.refresh_from_db()
    assert state.duration_days != 1000


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("duration_days", "3000000", "A lo sumo 3650 días (10 años)."),
        ("duration_hours", "1000000000", "A lo sumo 8760 horas (un año)."),
        ("duration_minutes", "99999999", "A lo sumo 525600 minutos (un año)."),
    ],
)
def test_a_states_duration_with_extra_zeros_is_refused_not_a_server_error_later(
    admin_client, credit_type, field, typed, said
):
    state = GestionState.objects.get(gestion_type=credit_type, name="Creado")
    url = reverse("admin:gestiones_gestionstate_change", args=[state.pk])
    before = (state.duration_days, state.duration_hours, state.duration_minutes)
    values = {
        "gestion_type": credit_type.pk,
        "name": state.name,
        "order": str(state.order),
        "is_initial": "on",
        "outcome": state.outcome,
        "duration_days": "0",
        "duration_hours": "0",
        "duration_minutes": "0",
        "color": state.color,
        "state_agents-TOTAL_FORMS": "0",
        "state_agents-INITIAL_FORMS": "0",
    }

    response = admin_client.post(url, values | {field: typed})

    assert response.context["adminform"].form.errors[field] == [said]
    state.refresh_from_db()
    assert (state.duration_days, state.duration_hours, state.duration_minutes) == before
    # Taken, 3,000,000 days made every new gestión of the type a 500 (its due date), and
    # 1,000,000,000 the times report.


@pytest.mark.parametrize(
    "url",
    ["admin:gestiones_goal_add", "admin:gestiones_gestionstate_add", "admin:gestiones_action_add"],
)
def test_the_gestiones_admin_types_numbers_in_text_inputs(admin_client, credit_type, url):
    response = admin_client.get(reverse(url))

    assertNotContains(response, NUMBER_INPUT)


def test_a_process_admin_keeps_admins_narrow_number_inputs(admin_client, credit_type):
    response = admin_client.get(
        reverse("admin:gestiones_gestiontype_change", args=[credit_type.pk])
    )

    assertNotContains(response, NUMBER_INPUT)
    assertContains(response, 'class="vIntegerField"')


def test_the_goal_lists_year_filter_brings_the_digits_and_filters_on_change(client, supervisor):
    client.force_login(supervisor)

    page = client.get(reverse("gestiones:goal_list")).content.decode()

    assert 'inputmode="numeric" data-typed-number' in page
    assert "change from:input[data-typed-number]" in page
