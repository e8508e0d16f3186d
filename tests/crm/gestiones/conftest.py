"""The gestiones cast: the two example processes, worked by `asesor` and a second advisor."""

import pytest

from crm.gestiones import examples, services
from crm.gestiones.models import Action, ActionResult, GestionType
from tests.factories import UserFactory


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
