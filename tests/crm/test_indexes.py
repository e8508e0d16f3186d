"""The customers' lookups that run on every inbound message or lead use an index, and the
table is vacuumed often enough for its search index to stay lean."""

import pytest
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from crm import messages
from crm.models import Customer
from tests.factories import BranchFactory, ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _a_table_the_planner_reads_by_index(rows=3000):
    """Fills the customers' table and refreshes its statistics, so the plan is the one a real
    table gets. Forbidding sequential scans on a table of one row and no statistics is not
    enough: the planner may then walk any index whole and filter (seen in CI)."""
    branch, channel = BranchFactory(), ChannelFactory()
    Customer.objects.bulk_create(
        Customer(
            document_type=Customer.DocumentType.DNI,
            document_number=f"{20000000 + n:08d}",
            first_name="Cliente",
            last_name=f"Prueba {n}",
            phone=f"+5198{n:07d}",
            phone_secondary=f"+5197{n:07d}" if n % 3 == 0 else "",
            email=f"cliente{n}@correo.pe",
            branch=branch,
            channel=channel,
        )
        for n in range(rows)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")


def test_an_email_finds_its_customer_whatever_its_case():
    ana = CustomerFactory(email="Ana.Perez@Correo.pe")
    CustomerFactory(email="luis@correo.pe")

    assert messages.customer_for_address(messages.EMAIL, " ana.perez@correo.PE ") == ana


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_email_lookup_reads_the_upper_email_index():
    CustomerFactory(email="Ana.Perez@Correo.pe")
    _a_table_the_planner_reads_by_index()

    plan = Customer.objects.filter(email__iexact="ana.perez@correo.PE").explain()

    assert "crm_cust_email_upper_idx" in plan


def test_a_phone_finds_its_customer_by_either_number():
    ana = CustomerFactory(phone="+51987654321", phone_secondary="+51912345678")
    CustomerFactory(phone="+51911111111")

    assert messages.customer_for_address(messages.WHATSAPP, "+51912345678") == ana
    assert messages.customer_for_address(messages.WHATSAPP, "+51987654321") == ana


def test_a_phone_shared_goes_to_the_customer_contacted_last_not_to_one_never_contacted():
    contacted = CustomerFactory(phone="+51987654321")
    never = CustomerFactory(phone="+51987654321")
    Customer.objects.filter(pk=never.pk).update(last_interaction_at=None)
    Customer.objects.filter(pk=contacted.pk).update(last_interaction_at=timezone.now())

    assert messages.customer_for_address(messages.WHATSAPP, "+51987654321") == contacted


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_list_by_last_interaction_reads_its_index_either_way():
    _a_table_the_planner_reads_by_index()
    latest = F("last_interaction_at")

    down = Customer.objects.order_by(latest.desc(nulls_last=True), F("id").desc())[:25]
    up = Customer.objects.order_by(latest.asc(nulls_first=True), F("id").asc())[:25]

    assert "crm_cust_last_contact_idx" in down.explain()
    assert "crm_cust_last_contact_idx" in up.explain()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_phone_lookups_read_the_phones_partial_indexes():
    CustomerFactory(phone="+51987654321", phone_secondary="+51912345678")
    _a_table_the_planner_reads_by_index()

    either = Customer.objects.filter(
        Q(phone="+51912345678") | Q(phone_secondary="+51912345678")
    ).explain()
    several = Customer.objects.filter(phone__in=["+51987654321", "+51900000000"]).explain()

    assert "crm_cust_phone_idx" in either and "crm_cust_phone2_idx" in either
    assert "crm_cust_phone_idx" in several


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's storage settings")
def test_the_customers_table_is_vacuumed_after_two_percent_of_it_changed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'crm_customer'")
        (options,) = cursor.fetchone()

    assert "autovacuum_vacuum_scale_factor=0.02" in options
    assert "autovacuum_vacuum_threshold=1000" in options
