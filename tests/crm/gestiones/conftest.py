"""The gestiones cast: the two example processes, worked by `asesor` and a second advisor."""

from decimal import Decimal

import pytest

from crm.gestiones import examples, services
from crm.gestiones.models import Action, ActionResult, FormField, GestionType
from tests.factories import LoanProductFactory, UserFactory


@pytest.fixture
def asesor2(db):
    return UserFactory(username="asesor2", first_name="Bruno", last_name="Díaz", role="Asesor")


@pytest.fixture
def credit_type(db, asesor, asesor2, supervisor) -> GestionType:
    """ "Solicitud de crédito": every open state worked by asesor and asesor2."""
    return examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor, asesor2], supervisors=[supervisor]
    )


@pytest.fixture
def service_type(db, asesor, supervisor) -> GestionType:
    return examples.build_process(
        examples.SERVICE_REQUEST, agents=[asesor], supervisors=[supervisor]
    )


@pytest.fixture
def make_gestion(credit_type, customer):
    """Open a credit application for `customer` (or another), assigned to `agent` if given."""

    def make(**kwargs):
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("gestion_type", credit_type)
        if kwargs["gestion_type"].code == examples.CREDIT_APPLICATION.code:
            kwargs.setdefault("data", {"ingreso_mensual": "3500.00", "destino": "Consumo"})
        return services.create_gestion(**kwargs)

    return make


def step(gestion, action_name: str, result_name: str) -> tuple[Action, ActionResult]:
    """Return the (action, result) pair of the gestión's type with these names."""
    action = Action.objects.get(gestion_type=gestion.gestion_type, name=action_name)
    return action, action.results.get(name=result_name)


# --- Credit applications: a product and what an applicant typed (lead → loan tests) ----


@pytest.fixture
def product(db):
    return LoanProductFactory(
        name="Consumo 24 %",
        annual_rate=Decimal("24.00"),
        min_rate=Decimal("20.00"),
        max_rate=Decimal("30.00"),
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("30000.00"),
        min_term=6,
        max_term=36,
    )


@pytest.fixture
def lead(product) -> dict:
    """What Lucía typed on the calculator's "Quiero un crédito" form."""
    return {
        "document_type": "dni",
        "document_number": "41234567",
        "first_name": "Lucía",
        "last_name": "Paredes Vega",
        "phone": "987 654 321",
        "email": "lucia@example.com",
        "product": product.pk,
        "amount": "10000.00",
        "term": 12,
    }


@pytest.fixture
def dependants(credit_type) -> FormField:
    """An integer field of the credit application's form."""
    return FormField.objects.create(
        gestion_type=credit_type,
        name="dependientes",
        label="Dependientes",
        kind=FormField.Kind.INTEGER,
        order=10,
    )
