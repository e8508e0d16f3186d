"""The call center's cast: Kommo configured, a queue stage, leads and stocked products."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from callcenter.models import CatalogProduct, Lead, QueueSettings, StockMovement
from tests.factories import CustomerFactory, UserFactory

FIXTURES = Path(__file__).parent.parent / "integrations" / "fixtures" / "kommo"
PIPELINE = 6950551
QUEUE_STATUS = 61000002
SOLD_STATUS = 61000005
SECRET = "kommo-path-token-0123456789"


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(autouse=True)
def kommo_settings(settings):
    # Cached reads (the queue's sources) and the Kommo throttle start empty in each test.
    cache.clear()
    settings.KOMMO_SUBDOMAIN = "cartera"
    settings.KOMMO_BASE_URL = "https://cartera.kommo.com"
    settings.KOMMO_TOKEN = ""
    settings.KOMMO_WEBHOOK_SECRET = SECRET
    settings.KOMMO_ACCOUNT_ID = ""
    return settings


@pytest.fixture
def queue_config(db) -> QueueSettings:
    config, _created = QueueSettings.objects.update_or_create(
        pk=1,
        defaults={
            "pipeline_id": PIPELINE,
            "queue_status_id": QUEUE_STATUS,
            "sold_status_id": SOLD_STATUS,
        },
    )
    return config


def make_lead(**fields) -> Lead:
    now = timezone.now()
    values = {
        "kommo_id": fields.pop("kommo_id", None) or 30000000 + Lead.objects.count() + 1,
        "name": "Lead de prueba",
        "contact_name": "Rosa Huamán",
        "phone": "+51987654321",
        "address": "Av. Arequipa 1234",
        "pipeline_id": PIPELINE,
        "status_id": QUEUE_STATUS,
        "in_queue": True,
        "queued_at": now,
        "due_at": now,
        **fields,
    }
    lead = Lead(**values)
    lead.search_text = lead.build_search_text()
    lead.save()
    return lead


def make_product(
    *, stock: int, price: str = "49.90", sku: str = "", name: str = ""
) -> CatalogProduct:
    n = CatalogProduct.objects.count() + 1
    product = CatalogProduct(
        sku=sku or f"SKU-{n:04d}", name=name or f"Producto {n}", price=Decimal(price), stock=stock
    )
    product.search_text = product.build_search_text()
    product.save()
    if stock:
        StockMovement.objects.create(
            product=product, delta=stock, reason=StockMovement.Reason.IMPORT
        )
    return product


@pytest.fixture
def agente2(db):
    return UserFactory(
        username="agente2", first_name="Luis", last_name="Ramos", role="Agente call center"
    )


@pytest.fixture
def lead(queue_config) -> Lead:
    return make_lead()


@pytest.fixture
def held_lead(queue_config, agente) -> Lead:
    """A lead the agent has taken, already linked to a CRM customer."""
    customer = CustomerFactory(phone="+51987654321", address="Av. Arequipa 1234")
    return make_lead(taken_by=agente, taken_at=timezone.now(), customer=customer)


@pytest.fixture
def back_to_the_latest_schema():
    """Migrate every app to its latest migration again after a test that migrated back:
    the transactional tests that run next write today's models, with the columns later
    migrations added (an order's annulment, 0010)."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
