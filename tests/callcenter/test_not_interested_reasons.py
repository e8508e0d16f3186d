"""«No interesado» needs a reason: a fresh install has some, and an empty list says who fills it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from callcenter.models import CallRecord, LossReason

BEFORE = [("callcenter", "0007_queue_settings_bounds")]
AFTER = [("callcenter", "0008_default_not_interested_reasons")]
WHERE = "un administrador los agrega en Administración → Call center → Motivos de no interés"


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_a_fresh_install_comes_with_reasons_for_not_interested():
    _migrate(BEFORE)
    LossReason.objects.all().delete()

    _migrate(AFTER)

    names = set(LossReason.objects.filter(is_active=True).values_list("name", flat=True))
    assert {"No le interesa el producto", "Ya compró en otro lugar", "Otro"} <= names
    assert len(names) == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_the_default_reasons_leave_an_install_with_its_own_reasons_alone():
    _migrate(BEFORE)
    LossReason.objects.all().delete()
    LossReason.objects.create(name="Precio alto")

    _migrate(AFTER)
    _migrate(BEFORE)  # going back keeps the rows: calls may point at them

    assert list(LossReason.objects.values_list("name", flat=True)) == ["Precio alto"]


def test_an_empty_reason_list_says_where_an_administrator_adds_them(client, agente, held_lead):
    LossReason.objects.all().delete()
    client.force_login(agente)

    page = client.get(held_lead.get_absolute_url())
    refused = client.post(
        reverse("callcenter:lead_outcome", args=[held_lead.pk]),
        {"outcome-outcome": "not_interested"},
    )

    assertContains(page, WHERE)
    assertContains(refused, "Aún no hay motivos de no interés: " + WHERE)
    assertNotContains(refused, "Indique por qué no le interesa.")
    assert not CallRecord.objects.exists()


def test_with_reasons_on_the_list_the_agent_is_only_asked_to_choose_one(client, agente, held_lead):
    LossReason.objects.get_or_create(name="Otro")
    client.force_login(agente)

    refused = client.post(
        reverse("callcenter:lead_outcome", args=[held_lead.pk]),
        {"outcome-outcome": "not_interested"},
    )

    assertContains(refused, "Indique por qué no le interesa.")
    assertNotContains(refused, WHERE)
