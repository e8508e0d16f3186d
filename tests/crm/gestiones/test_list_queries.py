"""The gestión lists (all, my work) and a gestión's page cost a fixed number of queries
however many gestiones and follow-ups there are."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.gestiones import tables
from crm.gestiones.models import Action, FollowUp, Gestion, Outcome
from crm.models import Customer
from tests.factories import BranchFactory, ChannelFactory

HTMX = {"HX-Request": "true"}


def _add_gestiones(count: int, *, gestion_type, agent) -> list[Gestion]:
    """Add `count` open gestiones worked by `agent`, each with two follow-ups."""
    state = gestion_type.states.filter(outcome=Outcome.OPEN).order_by("order", "id").first()
    action = Action.objects.filter(gestion_type=gestion_type).order_by("order", "id").first()
    result = action.results.order_by("id").first()
    branches = [BranchFactory() for _n in range(3)]
    channel = ChannelFactory()
    start = Customer.objects.count()
    customers = Customer.objects.bulk_create(
        Customer(
            document_number=f"{60000000 + start + n:08d}",
            first_name=f"Cliente{n}",
            last_name="Prueba",
            search_text=f"cliente{n} prueba",
        )
        for n in range(count)
    )
    gestiones = Gestion.objects.bulk_create(
        Gestion(
            customer=customer,
            gestion_type=gestion_type,
            state=state,
            agent=agent,
            branch=branches[n % 3],
            channel=channel,
            amount_requested=1000 + n,
            currency="PEN",
        )
        for n, customer in enumerate(customers)
    )
    FollowUp.objects.bulk_create(
        FollowUp(gestion=gestion, action=action, result=result, state=state, actor=agent)
        for gestion in gestiones
        for _n in range(2)
    )
    return gestiones


def _queries(client, url: str, **kwargs) -> int:
    client.get(url, **kwargs)  # once unmeasured: session stamp and caches, as on a working day
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("url_name", "query", "headers"),
    [
        ("gestiones:list", "", {}),
        ("gestiones:list", "?sort=-amount", {}),
        ("gestiones:list", "?page=2", HTMX),
        ("gestiones:my_work", "", {}),
        ("gestiones:my_work", "", HTMX),
    ],
)
def test_the_lists_cost_the_same_queries_for_10_or_1000_gestiones(
    client, asesor, credit_type, url_name, query, headers
):
    client.force_login(asesor)
    url = reverse(url_name) + query
    _add_gestiones(30, gestion_type=credit_type, agent=asesor)
    few = _queries(client, url, headers=headers)

    _add_gestiones(970, gestion_type=credit_type, agent=asesor)
    many = _queries(client, url, headers=headers)

    assert many == few


def test_the_list_shows_each_rows_branch_and_amount(client, supervisor, asesor, credit_type):
    gestion = _add_gestiones(1, gestion_type=credit_type, agent=asesor)[0]
    client.force_login(supervisor)

    content = client.get(reverse("gestiones:list")).content.decode()

    assert gestion.branch.name in content
    assert "1,000.00" in content
    assert gestion.get_absolute_url() in content
    assert gestion.customer.get_absolute_url() in content


@pytest.mark.parametrize("column", ["amount", "due_at"])
def test_blank_amounts_and_due_dates_sort_last_either_way(
    client, supervisor, asesor, credit_type, column
):
    blank, low, high = _add_gestiones(3, gestion_type=credit_type, agent=asesor)
    soon = timezone.now() + timedelta(days=1)
    Gestion.objects.filter(pk=blank.pk).update(amount_requested=None, due_at=None)
    Gestion.objects.filter(pk=low.pk).update(amount_requested=10, due_at=soon)
    Gestion.objects.filter(pk=high.pk).update(amount_requested=90, due_at=soon + timedelta(days=9))
    client.force_login(supervisor)

    def order(sort: str) -> list[int]:
        page = client.get(reverse("gestiones:list"), {"sort": sort}).content.decode()
        urls = {g.get_absolute_url(): g.pk for g in (blank, low, high)}
        found = re.findall("|".join(re.escape(u) + '"' for u in urls), page)
        return list(dict.fromkeys(urls[u[:-1]] for u in found))

    assert order(column) == [low.pk, high.pk, blank.pk]
    assert order(f"-{column}") == [high.pk, low.pk, blank.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
@pytest.mark.parametrize("column", ["amount_requested", "due_at"])
def test_each_sort_of_the_list_reads_an_index(asesor, credit_type, column):
    _add_gestiones(2000, gestion_type=credit_type, agent=asesor)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gestiones_gestion")
    up = tables._blanks_last(column, descending=False)
    down = tables._blanks_last(column, descending=True)

    for order in (up, down):
        plan = Gestion.objects.order_by(*order)[:25].explain()
        assert "Index Scan" in plan and "Sort" not in plan, plan


@pytest.mark.parametrize("who", ["asesor", "supervisor"])
def test_a_gestions_page_costs_the_same_queries_for_10_or_1000_follow_ups(
    client, request, asesor, credit_type, who
):
    gestion = _add_gestiones(1, gestion_type=credit_type, agent=asesor)[0]
    client.force_login(request.getfixturevalue(who))
    follow_up = gestion.follow_ups.first()

    def add_follow_ups(count: int) -> None:
        FollowUp.objects.bulk_create(
            FollowUp(
                gestion=gestion,
                action_id=follow_up.action_id,
                result_id=follow_up.result_id,
                state_id=follow_up.state_id,
                actor=asesor,
            )
            for _n in range(count)
        )

    add_follow_ups(8)
    few = _queries(client, gestion.get_absolute_url())
    add_follow_ups(990)
    many = _queries(client, gestion.get_absolute_url())

    assert many == few
