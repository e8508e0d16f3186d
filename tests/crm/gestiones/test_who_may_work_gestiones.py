"""Who may work gestiones decides the rest: the person who opens a gestión left without
an agent is told the real cause, and a campaign offers as its agents exactly those people
(`gestion_selectors.agents`: active, with follow-ups, superusers included)."""

from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from crm.gestiones.campaigns import forms as campaign_forms
from crm.gestiones.models import Gestion, Notification
from tests.factories import UserFactory


def move_to_call_center(user) -> None:
    """Still active, but now a call-center agent: no permission to work gestiones."""
    user.groups.set([Group.objects.get(name="Agente call center")])


def open_service_request(client, customer, service_type):
    return client.post(
        reverse("gestiones:create", args=[customer.pk]),
        {
            "gestion_type": service_type.pk,
            "currency": service_type.default_currency,
            "dyn_categoria": "Otro",
        },
    )


# --- The person who opens it ----------------------------------------------------------


def test_opening_a_gestion_whose_agents_lost_the_role_names_that_cause(
    client, asesor, asesor2, customer, service_type, supervisor
):
    # The service process's only agent is `asesor`, now in the call center.
    move_to_call_center(asesor)
    client.force_login(asesor2)

    response = open_service_request(client, customer, service_type)

    assert response.status_code == 302
    gestion = Gestion.objects.get(customer=customer)
    assert gestion.agent is None
    state = service_type.initial_state().name
    (told,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"el estado «{state}» no tiene gestores que puedan trabajarla." in told
    assert "gestores activos" not in told
    assert "Administración → Gestiones → Estados" in told
    # The supervisors' notice gives the same cause (one helper, `why_unassigned`).
    notice = Notification.objects.get(recipient=supervisor, gestion=gestion)
    assert notice.message.endswith(
        f"no tiene gestor: el estado «{state}» no tiene gestores que puedan trabajarla."
    )


def test_opening_a_gestion_whose_agents_are_inactive_still_says_no_active_agents(
    client, asesor, asesor2, customer, service_type
):
    asesor.is_active = False
    asesor.save()
    client.force_login(asesor2)

    response = open_service_request(client, customer, service_type)

    (told,) = [str(m) for m in get_messages(response.wsgi_request)]
    state = service_type.initial_state().name
    assert f"quedó sin gestor: el estado «{state}» no tiene gestores activos." in told


# --- A campaign's agents ----------------------------------------------------------------


def test_a_campaign_offers_as_agents_everyone_who_may_work_gestiones_and_nobody_else(
    asesor, supervisor
):
    boss = UserFactory(username="root", first_name="Raúl", last_name="Ortiz", is_superuser=True)
    direct = UserFactory(username="directa", first_name="Diana", last_name="Paz")
    direct.user_permissions.add(Permission.objects.get(codename="add_followup"))
    call_center = UserFactory(username="cc", role="Asesor")
    move_to_call_center(call_center)
    gone = UserFactory(username="ida", role="Asesor", is_active=False)
    retired_boss = UserFactory(username="exjefe", is_superuser=True, is_active=False)

    offered = set(campaign_forms.CampaignForm().fields["agents"].queryset)

    assert {boss, direct, asesor} <= offered
    assert not offered & {call_center, gone, retired_boss}
    assert offered == set(campaign_forms.campaign_agent_choices())
