"""A type's own numeric fields: amounts and counts, never negative and never absurdly large,
whether they come through the forms or straight to the services."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.gestiones import dynamic, forms, services
from crm.gestiones.models import FormField, Gestion

NEGATIVE_INCOME = "«Ingreso mensual» no puede ser negativo."
HUGE_INCOME = "«Ingreso mensual» admite hasta 12 cifras enteras y 4 decimales."


def data_form(gestion: Gestion, **values) -> forms.GestionDataForm:
    data = {"dyn_ingreso_mensual": "3500", "dyn_destino": "Consumo"}
    return forms.GestionDataForm({**data, **values}, gestion=gestion)


def test_opening_a_gestion_refuses_a_negative_income(client, credit_type, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:create", args=[customer.pk]),
        {
            "gestion_type": credit_type.pk,
            "currency": "PEN",
            "dyn_ingreso_mensual": "-5",
            "dyn_destino": "Consumo",
        },
    )

    assert response.status_code == 200
    assertContains(response, NEGATIVE_INCOME)
    assert not Gestion.objects.exists()


def test_the_data_page_refuses_a_negative_income(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:data", args=[gestion.pk]),
        {"dyn_ingreso_mensual": "-99999", "dyn_destino": "Consumo"},
    )

    assertContains(response, NEGATIVE_INCOME)
    gestion.refresh_from_db()
    assert gestion.data["ingreso_mensual"] == "3500.00"


@pytest.mark.parametrize("income", ["9" * 40, "1000000000000", "1.00001"])
def test_an_absurd_income_is_a_form_error(make_gestion, income):
    form = data_form(make_gestion(), dyn_ingreso_mensual=income)

    assert not form.is_valid()
    assert form.errors["dyn_ingreso_mensual"] == [HUGE_INCOME]


@pytest.mark.parametrize("income", ["1e309", "1_000", "9" * 41])
def test_an_income_in_pythons_syntax_or_longer_than_typed_is_no_number(make_gestion, income):
    # lib.fields reads numbers as people type them: no exponents, no underscores.
    form = data_form(make_gestion(), dyn_ingreso_mensual=income)

    assert form.errors["dyn_ingreso_mensual"] == ["Introduzca un número."]


@pytest.mark.parametrize(
    ("count", "error"),
    [
        ("-1", "«Dependientes» no puede ser negativo."),
        ("9" * 40, "«Dependientes» admite hasta 12 cifras."),
        ("1e309", "Introduzca un número entero."),
    ],
)
def test_an_integer_field_takes_only_counts(make_gestion, dependants, count, error):
    form = data_form(make_gestion(), dyn_dependientes=count)

    assert not form.is_valid()
    assert form.errors["dyn_dependientes"] == [error]


def test_zero_and_the_largest_numbers_are_taken(make_gestion, dependants):
    gestion = make_gestion()

    zero = data_form(gestion, dyn_ingreso_mensual="0", dyn_dependientes="0")
    largest = data_form(
        gestion, dyn_ingreso_mensual="999999999999.9999", dyn_dependientes="999999999999"
    )

    assert zero.is_valid(), zero.errors
    assert largest.is_valid(), largest.errors
    assert largest.data_for_service() == {
        "ingreso_mensual": Decimal("999999999999.9999"),
        "dependientes": 999_999_999_999,
        "destino": "Consumo",
        "ocupacion": "",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ingreso_mensual", "-5"),
        ("ingreso_mensual", "1E+309"),
        ("ingreso_mensual", "NaN"),
        ("ingreso_mensual", "Infinity"),
        ("dependientes", -1),
        ("dependientes", 10**40),
        ("dependientes", Decimal("Infinity")),
    ],
)
def test_the_services_refuse_what_the_forms_refuse(make_gestion, dependants, name, value):
    data = {"ingreso_mensual": "3500", "destino": "Consumo", name: value}

    with pytest.raises(ValidationError) as error:
        make_gestion(data=data)

    assert list(error.value.message_dict) == [name]
    assert not Gestion.objects.exists()


def test_the_services_say_why_a_number_is_refused(credit_type, dependants):
    fields = credit_type.fields.filter(scope=FormField.Scope.GESTION)

    with pytest.raises(ValidationError) as error:
        dynamic.clean_data({"ingreso_mensual": "-5", "dependientes": 10**13}, fields)

    assert error.value.message_dict["ingreso_mensual"] == [NEGATIVE_INCOME]
    assert error.value.message_dict["dependientes"] == ["«Dependientes» admite hasta 12 cifras."]


def test_updating_the_data_refuses_a_negative_income(make_gestion, asesor):
    gestion = make_gestion(agent=asesor)

    with pytest.raises(ValidationError):
        services.update_gestion_data(
            gestion=gestion, actor=asesor, data={"ingreso_mensual": "-1", "destino": "Consumo"}
        )


@pytest.fixture
def visit_day(credit_type) -> FormField:
    """A date field of the credit application's form."""
    return FormField.objects.create(
        gestion_type=credit_type,
        name="visita",
        label="Fecha de visita",
        kind=FormField.Kind.DATE,
        order=11,
    )


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_field_takes_only_dates_of_this_era(make_gestion, visit_day, day):
    form = data_form(make_gestion(), dyn_visita=day)

    assert not form.is_valid()
    assert form.errors["dyn_visita"] == [
        "«Fecha de visita»: elija una fecha entre el 01/01/1900 y el 31/12/2100."
    ]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_services_refuse_a_date_out_of_range(make_gestion, visit_day, day):
    data = {"ingreso_mensual": "3500", "destino": "Consumo", "visita": day}

    with pytest.raises(ValidationError) as error:
        make_gestion(data=data)

    assert list(error.value.message_dict) == ["visita"]


def test_a_decimal_given_by_code_in_exponent_form_is_stored_positional(make_gestion, dependants):
    """Stored as "1E+3", it came back to the data form as text its field refuses."""
    gestion = make_gestion(data={"ingreso_mensual": Decimal("1E+3"), "destino": "Consumo"})

    assert gestion.data["ingreso_mensual"] == "1000"
