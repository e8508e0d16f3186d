"""A person's permissions come from the cache, and any change to them counts at once."""

from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse


def _permission_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "auth_permission" in q["sql"]]


def test_a_second_page_reads_no_permission(client, asesor):
    client.force_login(asesor)
    client.get(reverse("crm:customer_list"))

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("crm:customer_list")).status_code == 200

    assert _permission_reads(queries) == []


def test_leaving_a_group_takes_its_permissions_away_at_once(client, asesor):
    client.force_login(asesor)
    assert client.get(reverse("crm:customer_list")).status_code == 200

    asesor.groups.remove(Group.objects.get(name="Asesor"))

    assert client.get(reverse("crm:customer_list")).status_code == 403


def test_a_permission_taken_from_a_group_counts_at_once(client, asesor):
    client.force_login(asesor)
    assert client.get(reverse("crm:customer_list")).status_code == 200

    view = Permission.objects.get(codename="view_customer", content_type__app_label="crm")
    Group.objects.get(name="Asesor").permissions.remove(view)

    assert client.get(reverse("crm:customer_list")).status_code == 403


def test_a_deactivated_person_is_signed_out(client, asesor):
    client.force_login(asesor)
    client.get(reverse("crm:customer_list"))

    asesor.is_active = False
    asesor.save()

    assert client.get(reverse("crm:customer_list")).status_code == 302


def test_a_permission_given_to_the_person_counts_at_once(client, agente):
    client.force_login(agente)
    assert client.get(reverse("credits:loan_list")).status_code == 403

    agente.user_permissions.add(
        Permission.objects.get(codename="view_loan", content_type__app_label="credits")
    )

    assert client.get(reverse("credits:loan_list")).status_code == 200
