"""Searches find a name typed without its accents or in another case, as the customer
search does: the investors (a normalized `search_text`) and the small configuration lists
(gestiones' goals, surveys, campaigns, document templates and deletions; the collections
strategies' segments, templates and flows)."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import Flow, Segment
from credits.investors import services as investor_services
from credits.models import Investor
from crm.gestiones.models import Campaign, DeletionRecord, DocumentTemplate, Goal, Survey
from tests.collections_app.strategies.conftest import make_template
from tests.crm.gestiones.conftest import asesor2, credit_type  # noqa: F401
from tests.factories import InvestorFactory, ProductFactory, UserFactory


@pytest.fixture
def admin(db):
    return UserFactory(username="acentos-admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


# --- Investors -----------------------------------------------------------------------------
@pytest.mark.parametrize("q", ["cardenas", "CÁRDENAS", "paredes cardenas"])
def test_the_investor_search_finds_a_name_whatever_its_accents_and_case(admin_client, q):
    InvestorFactory(name="Rosa Elena Paredes Cárdenas")
    InvestorFactory(name="Carmen Rosa Huamán Ticona")

    response = admin_client.get(reverse("credits:investor_list"), {"q": q})

    assertContains(response, "Paredes Cárdenas")
    assertNotContains(response, "Huamán Ticona")


def test_the_investor_search_finds_a_phone_typed_with_spaces(admin_client):
    InvestorFactory(name="Inversiones Andinas", phone="+51 999-123-456")
    InvestorFactory(name="Capital del Sur", phone="+51 988 000 111")

    response = admin_client.get(reverse("credits:investor_list"), {"q": "999 123 456"})

    assertContains(response, "Inversiones Andinas")
    assertNotContains(response, "Capital del Sur")


def test_a_renamed_investor_is_found_by_the_new_name_and_not_the_old(admin_client, admin):
    investor = InvestorFactory(name="Rosa Paredes")

    investor_services.update_investor(
        investor=investor, actor=admin, data={"name": "Rosa Peñaloza"}
    )

    assert (
        admin_client.get(reverse("credits:investor_list"), {"q": "penaloza"})
        .context["table"]
        .page.paginator.count
        == 1
    )
    assert (
        admin_client.get(reverse("credits:investor_list"), {"q": "paredes"})
        .context["table"]
        .page.paginator.count
        == 0
    )


def test_an_investor_changed_in_the_admin_is_found_by_the_new_name(admin_client):
    investor = InvestorFactory(name="Rosa Paredes", document_number="40123456")
    fields = {f: getattr(investor, f) for f in investor_services.INVESTOR_FIELDS}

    response = admin_client.post(
        reverse("admin:credits_investor_change", args=[investor.pk]),
        {**fields, "is_active": "on", "name": "José Núñez"},
    )

    assert response.status_code == 302, response.context["adminform"].errors
    investor.refresh_from_db()
    assert investor.search_text.startswith("jose nunez ")


def test_the_migration_fills_the_search_text_of_existing_investors(db):
    migration = importlib.import_module("credits.migrations.0012_investor_search_text")
    written = InvestorFactory(name="Óscar Muñoz", email="OMUNOZ@Example.com", phone="+51 987 654")
    Investor.objects.filter(pk=written.pk).update(search_text="")  # as before the migration

    migration.fill_search_text(apps, connection.schema_editor())

    written.refresh_from_db()
    assert written.search_text == written.build_search_text()
    assert written.search_text.startswith("oscar munoz ")
    assert "omunoz@example.com" in written.search_text
    assert "51987654" in written.search_text


# --- The small configuration lists ----------------------------------------------------------
def _survey(name: str) -> None:
    Survey.objects.create(name=name)


def _campaign(name: str) -> None:
    Campaign.objects.create(name=name, slug=name.lower().replace(" ", "-")[:40])


def _document_template(name: str) -> None:
    DocumentTemplate.objects.create(name=name, file="documentos/plantilla.docx")


def _deletion(name: str) -> None:
    DeletionRecord.objects.create(kind="survey", object_id=1, name=name)


def _segment(name: str) -> None:
    Segment.objects.create(name=name)


def _message_template(name: str) -> None:
    make_template(name=name)


def _flow(name: str) -> None:
    Flow.objects.create(name=name, segment=Segment.objects.create(name=f"Segmento {name}"))


LISTS = [
    ("gestiones:survey_list", _survey),
    ("gestiones:campaign_list", _campaign),
    ("gestiones:document_template_list", _document_template),
    ("gestiones:deletion_list", _deletion),
    ("collections_app:segment_list", _segment),
    ("collections_app:template_list", _message_template),
    ("collections_app:flow_list", _flow),
]


@pytest.mark.parametrize("q", ["satisfaccion", "SATISFACCIÓN", "atencion"])
@pytest.mark.parametrize(("url", "make"), LISTS, ids=[url for url, _make in LISTS])
def test_a_configuration_list_finds_a_name_whatever_its_accents_and_case(
    admin_client, url, make, q
):
    make("Satisfacción de atención")
    make("Recordatorio de pago")

    response = admin_client.get(reverse(url), {"q": q})

    assertContains(response, "Satisfacción de atención")
    assertNotContains(response, "Recordatorio de pago")


@pytest.mark.parametrize(("url", "make"), LISTS, ids=[url for url, _make in LISTS])
def test_a_configuration_list_still_pages_its_matches(admin_client, url, make):
    for number in range(30):
        make(f"Campaña García {number:02d}")
    make("Recordatorio de pago")

    first = admin_client.get(reverse(url), {"q": "garcia"})
    second = admin_client.get(reverse(url), {"q": "garcia", "page": 2})

    names = [f"Campaña García {number:02d}" for number in range(30)]
    pages = [first.content.decode(), second.content.decode()]
    assert all(any(name in page for page in pages) for name in names)
    assert not any(all(name in page for name in names) for page in pages), "one page of 25"
    assert not any("Recordatorio de pago" in page for page in pages)


@pytest.mark.parametrize("q", ["garcia", "GARCÍA", "jose garcia", "credito"])
def test_the_goal_list_finds_an_agent_or_product_whatever_its_accents_and_case(
    admin_client,
    credit_type,  # noqa: F811
    q,
):
    garcia = UserFactory(username="jose.g", first_name="José", last_name="García", role="Asesor")
    other = UserFactory(username="lrojas", first_name="Luis", last_name="Rojas", role="Asesor")
    state = credit_type.states.first()
    Goal.objects.create(
        agent=garcia,
        product=ProductFactory(name="Crédito vehicular"),
        year=2026,
        month=3,
        success_state=state,
    )
    Goal.objects.create(
        agent=other, product=ProductFactory(name="Seguro"), year=2026, month=3, success_state=state
    )

    # The results alone: the page's agent filter names every agent.
    response = admin_client.get(
        reverse("gestiones:goal_list"), {"q": q}, headers={"HX-Request": "true"}
    )

    assertContains(response, "José García")
    assertNotContains(response, "Rojas")
