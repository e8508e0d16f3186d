"""Hand-written pagers past page 999, and searches whose NUL must never reach PostgreSQL."""

import pytest
from django.db import connection
from django.urls import reverse

from crm.gestiones.models import CreditLead, Notification
from tests.callcenter.conftest import agente2, held_lead, make_product, queue_config  # noqa: F401
from tests.factories import CustomerFactory


def test_the_next_page_link_after_page_999_is_a_number_the_list_reads(client, asesor, monkeypatch):
    """USE_THOUSAND_SEPARATOR wrote «?page=1,001», which the paginator reads as page 1."""
    from crm.gestiones.notifications import views

    monkeypatch.setattr(views, "NOTIFICATIONS_PAGE_SIZE", 1)
    Notification.objects.bulk_create(
        Notification(recipient=asesor, kind="info", message=f"Aviso {n}") for n in range(1001)
    )
    client.force_login(asesor)

    body = client.get(reverse("gestiones:notifications"), {"page": "1000"}).content.decode()

    assert "?page=1001" in body and "?page=999" in body


def _nul_reaches_the_database(client, url, params) -> bool:
    sent = []

    def record(execute, sql, query_params, many, context):
        sent.extend(p for p in (query_params or ()) if isinstance(p, str) and "\x00" in p)
        return execute(sql, query_params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url, params)
    assert response.status_code == 200
    # psycopg refuses such a parameter ("PostgreSQL text fields cannot contain NUL (0x00)
    # bytes"): on PostgreSQL the request would be a 500.
    return bool(sent)


@pytest.mark.django_db
def test_the_credit_lead_search_keeps_a_nul_from_the_database(admin_client):
    CreditLead.objects.create(
        source="calculator", customer=CustomerFactory(), data={"first_name": "Ana"}
    )

    assert not _nul_reaches_the_database(
        admin_client, reverse("gestiones:credit_leads"), {"q": "a\x00b"}
    )


def test_the_catalog_search_keeps_a_nul_from_the_database(client, agente, held_lead):  # noqa: F811
    make_product(stock=3, name="Zapatilla")
    client.force_login(agente)

    assert not _nul_reaches_the_database(
        client, reverse("callcenter:catalog", args=[held_lead.pk]), {"q": "za\x00p"}
    )
