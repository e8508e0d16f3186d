"""PENDING (brief DA): passes once the lead applies the `reassign_gestion` check from
helper DA's report to crm/gestiones/workload/services.py; until then the first two tests
fail. The service, not only the forms, refuses a reassignment to someone active who may
not work gestiones (another role now)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError

from crm.gestiones.models import Gestion
from crm.gestiones.workload import services as workload_services
from tests.factories import CustomerFactory, UserFactory


def move_to_call_center(user) -> None:
    """Still active, but now a call-center agent: no permission to work gestiones."""
    user.groups.set([Group.objects.get(name="Agente call center")])


def test_reassigning_to_someone_without_the_role_is_refused_with_the_cause(
    make_gestion, asesor, asesor2, supervisor
):
    gestion = make_gestion(agent=asesor)
    move_to_call_center(asesor2)

    with pytest.raises(ValidationError) as refused:
        workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)

    assert refused.value.message_dict == {
        "agent": ["Bruno Díaz no puede trabajar gestiones: no tiene el rol."]
    }
    gestion.refresh_from_db()
    assert gestion.agent == asesor


def test_a_bulk_reassignment_to_someone_without_the_role_moves_nothing(
    make_gestion, asesor, asesor2, supervisor
):
    gestiones = [make_gestion(agent=asesor, customer=CustomerFactory()) for _ in range(2)]
    move_to_call_center(asesor2)

    with pytest.raises(ValidationError):
        workload_services.reassign_many(gestiones=gestiones, agent=asesor2, actor=supervisor)

    assert set(
        Gestion.objects.filter(pk__in=[g.pk for g in gestiones]).values_list("agent", flat=True)
    ) == {asesor.pk}


def test_an_inactive_agent_is_still_told_inactive(make_gestion, asesor, asesor2, supervisor):
    gestion = make_gestion(agent=asesor)
    asesor2.is_active = False
    asesor2.save()

    with pytest.raises(ValidationError) as refused:
        workload_services.reassign_gestion(gestion=gestion, agent=asesor2, actor=supervisor)

    assert refused.value.message_dict == {"agent": ["El gestor elegido está inactivo."]}


def test_someone_given_the_permission_directly_may_take_it(make_gestion, asesor, supervisor):
    gestion = make_gestion(agent=asesor)
    direct = UserFactory(username="directa", first_name="Diana", last_name="Paz")
    direct.user_permissions.add(Permission.objects.get(codename="add_followup"))

    workload_services.reassign_gestion(gestion=gestion, agent=direct, actor=supervisor)

    gestion.refresh_from_db()
    assert gestion.agent == direct
