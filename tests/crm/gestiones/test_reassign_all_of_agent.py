"""A leaving agent's gestiones: found by the lists' agent filter (under «Ya no atienden»),
and all their open ones moved from the workload screen at once, each as a single
reassignment writes it."""

from crm.gestiones.models import FollowUp
from crm.gestiones.workload import forms as workload_forms
from crm.models import Interaction
from tests.factories import CustomerFactory


def test_the_gestiones_list_finds_the_gestiones_of_an_agent_who_left(
    client, make_gestion, asesor, asesor2, supervisor
):
    make_gestion(customer=CustomerFactory(), agent=asesor)
    asesor.is_active = False
    asesor.save()
    client.force_login(supervisor)

    response = client.get(f"/gestiones/todas/?agent={asesor.pk}")

    assert not response.context["filter"].errors
    assert response.context["table"].paginator.count == 1
    assert "Andrea Quispe (inactivo)" in response.content.decode()


def test_all_open_gestiones_of_an_agent_move_at_once_each_with_its_entries(
    client, make_gestion, asesor, asesor2, supervisor
):
    theirs = [make_gestion(customer=CustomerFactory(), agent=asesor) for _ in range(3)]
    make_gestion(customer=CustomerFactory(), agent=asesor2)
    asesor.is_active = False
    asesor.save()
    client.force_login(supervisor)
    page = client.get(f"/gestiones/carga/?gestor={asesor.pk}").content.decode()
    assert "Reasignar todas las 3 gestiones abiertas de este gestor" in page

    sent = client.post(
        f"/gestiones/carga/?gestor={asesor.pk}",
        {"all_of_agent": "1", "agent": asesor2.pk, "expected": 3},
        follow=True,
    )

    assert [str(m) for m in sent.context["messages"]] == ["3 gestiones reasignadas a Bruno Díaz."]
    for gestion in theirs:
        gestion.refresh_from_db()
        assert gestion.agent == asesor2
        assert gestion.follow_ups.filter(kind=FollowUp.Kind.ASSIGNMENT, actor=supervisor).exists()
        assert Interaction.objects.filter(
            customer=gestion.customer, summary__startswith=f"Gestión #{gestion.pk}: Reasignada"
        ).exists()


def test_all_of_an_agent_moves_at_most_the_limit_and_says_how_many_are_left(
    client, make_gestion, asesor, asesor2, supervisor, monkeypatch
):
    monkeypatch.setattr(workload_forms, "ALL_LIMIT", 2)
    for _ in range(3):
        make_gestion(customer=CustomerFactory(), agent=asesor)
    client.force_login(supervisor)

    sent = client.post(
        f"/gestiones/carga/?gestor={asesor.pk}",
        {"all_of_agent": "1", "agent": asesor2.pk},
        follow=True,
    )

    said = str(next(iter(sent.context["messages"])))
    assert said.startswith("2 gestiones reasignadas a Bruno Díaz. Queda 1 abierta")
    assert asesor.gestiones.filter(outcome="open").count() == 1


def test_all_of_an_agent_follows_the_single_reassignment_rules(
    client, make_gestion, asesor, asesor2, supervisor, agente
):
    make_gestion(customer=CustomerFactory(), agent=asesor)
    client.force_login(supervisor)

    refused = client.post(
        f"/gestiones/carga/?gestor={asesor.pk}", {"all_of_agent": "1", "agent": agente.pk}
    )
    without_agent_filter = client.post(
        "/gestiones/carga/", {"all_of_agent": "1", "agent": asesor2.pk}
    )

    assert refused.status_code == 200
    assert refused.context["bulk_form"].errors["agent"]
    assert without_agent_filter.context["bulk_form"].non_field_errors() == [
        "Elija primero el gestor cuyas gestiones se reasignan."
    ]
    assert asesor.gestiones.filter(outcome="open").count() == 1
