"""Screens that answer a page or its HTMX fragment say so in Vary, and pick the right one."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_htmx.middleware import HtmxDetails
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertTemplateNotUsed,
    assertTemplateUsed,
)

from crm.models import Branch
from lib import lists, shared_versions
from tests.factories import BranchFactory, CustomerFactory, UserFactory

# Every screen that answers both a browser and HTMX with the same URL.
PAGE_OR_FRAGMENT = (
    "crm:customer_list",
    "crm:agenda",
    "callcenter:queue",
    "credits:loan_list",
    "credits:portfolio_report",
    "credits:investor_list",
    "credits:investor_dashboard",
    "credits:liquidation_list",
    "gestiones:my_work",
    "gestiones:list",
    "gestiones:dashboard",
    "gestiones:document_template_list",
    "gestiones:campaign_list",
    "gestiones:survey_list",
    "gestiones:goal_list",
    "calculator",
)


@pytest.fixture
def admin(db):
    return UserFactory(username="admin-vary", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("name", PAGE_OR_FRAGMENT)
@pytest.mark.parametrize("htmx", [False, True])
def test_the_page_and_its_fragment_vary_on_hx_request(client, admin, name, htmx):
    client.force_login(admin)
    headers = {"HX-Request": "true"} if htmx else {}

    response = client.get(reverse(name), headers=headers)

    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")


def _request(**headers):
    request = RequestFactory().get("/lista/?q=ana", headers=headers)
    request.htmx = HtmxDetails(request)
    return request


def test_a_browser_gets_the_page():
    with assertTemplateUsed("404.html"), assertTemplateNotUsed("500.html"):
        response = lists.render_page_or_fragment(
            _request(), page_template="404.html", fragment_template="500.html", context={}
        )

    assert "HX-Push-Url" not in response.headers


def test_htmx_gets_the_fragment_and_the_address_it_stands_for():
    with assertTemplateUsed("500.html"), assertTemplateNotUsed("404.html"):
        response = lists.render_page_or_fragment(
            _request(HX_Request="true"),
            page_template="404.html",
            fragment_template="500.html",
            context={},
        )

    assert response.headers["HX-Push-Url"] == "/lista/?q=ana"


def test_a_report_replaces_the_address_without_a_history_entry():
    response = lists.render_page_or_fragment(
        _request(HX_Request="true"),
        page_template="404.html",
        fragment_template="500.html",
        context={},
        url="replace",
    )

    assert response.headers["HX-Replace-Url"] == "/lista/?q=ana"
    assert "HX-Push-Url" not in response.headers


def test_a_history_restore_gets_the_whole_page():
    with assertTemplateUsed("404.html"):
        response = lists.render_page_or_fragment(
            _request(HX_Request="true", HX_History_Restore_Request="true"),
            page_template="404.html",
            fragment_template="500.html",
            context={},
        )

    assert "HX-Push-Url" not in response.headers


# --- Counting: exact up to the cap, "more than" above it -----------------------------


@pytest.fixture
def customers_over_the_cap(db, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_CAP", 30)
    CustomerFactory.create_batch(31, last_name="Capado")


def test_a_list_over_the_cap_says_more_than_and_counts_no_further(
    client, admin, customers_over_the_cap
):
    client.force_login(admin)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("crm:customer_list"))

    text = " ".join(response.content.decode().split())
    assert "Más de 30 clientes · ordene al revés para ver los últimos" in text
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper() and 'FROM "crm_customer"' in q["sql"]
    ]
    assert len(counts) == 1 and "LIMIT 31" in counts[0]
    # The pages cover the first 30 rows; page 2 is the last one offered.
    last = client.get(reverse("crm:customer_list"), {"page": 2})
    assert last.context["table"].page.number == 2
    assert last.context["table"].paginator.num_pages == 2


def test_a_whole_table_estimated_far_above_the_cap_is_not_counted(client, admin, monkeypatch):
    branch = BranchFactory()
    CustomerFactory.create_batch(3, first_name="Rosa", branch=branch)
    monkeypatch.setattr(lists, "_estimated_rows", lambda model: lists.ESTIMATE_FLOOR + 1)
    client.force_login(admin)

    with CaptureQueriesContext(connection) as whole:
        response = client.get(reverse("crm:customer_list"))
    assert "Más de" in response.content.decode()
    assert not [q for q in whole.captured_queries if "COUNT(" in q["sql"].upper()]

    # A filtered list is counted: the estimate is of the whole table only.
    with CaptureQueriesContext(connection) as filtered:
        in_branch = client.get(reverse("crm:customer_list"), {"branch": branch.pk})
    assert [q for q in filtered.captured_queries if "COUNT(" in q["sql"].upper()]
    assert "3 clientes" in " ".join(in_branch.content.decode().split())

    # A search's few matches are counted as it finds them.
    found = client.get(reverse("crm:customer_list"), {"q": "rosa"})
    assert "3 clientes" in " ".join(found.content.decode().split())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_the_estimate_is_postgresqls_row_statistics(db):
    from crm.models import Customer

    CustomerFactory.create_batch(40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    lists._estimates.clear()

    assert lists._estimated_rows(Customer) == Customer.objects.count()


def test_a_list_at_the_cap_counts_exactly(client, admin, db, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_CAP", 30)
    CustomerFactory.create_batch(30, last_name="Exacto")
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"))

    text = " ".join(response.content.decode().split())
    assert "30 clientes" in text and "Más de" not in text
    assert response.context["table"].paginator.capped is False


# --- Filter dropdowns: choices from the cache, dropped when their rows change ----------


def _reads_of(queries, *tables: str) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if any(f'FROM "{t}"' in q["sql"] for t in tables)
    ]


def test_filter_dropdowns_come_from_the_cache_until_their_rows_change(client, admin):
    BranchFactory(name="Sucursal Norte")
    client.force_login(admin)
    client.get(reverse("crm:customer_list"))

    with CaptureQueriesContext(connection) as queries:
        again = client.get(reverse("crm:customer_list"))

    assert _reads_of(queries, "crm_branch", "crm_channel", "crm_tag") == []
    assertContains(again, "Sucursal Norte")
    # A new branch, and a new advisor (a group change, not a save), show at once.
    BranchFactory(name="Sucursal Sur")
    UserFactory(username="nuevo", first_name="Nora", last_name="Nueva", role="Asesor")
    after = client.get(reverse("crm:customer_list"))
    assertContains(after, "Sucursal Sur")
    assertContains(after, "Nora Nueva")


def test_filter_dropdowns_ask_the_cache_at_most_once_a_second(client, admin, monkeypatch):
    BranchFactory(name="Sucursal Norte")
    client.force_login(admin)
    client.get(reverse("crm:customer_list"))
    asked = []
    get_many = cache.get_many
    monkeypatch.setattr(
        cache,
        "get_many",
        lambda keys: asked.append(lists._CHOICES_VERSION in keys) or get_many(keys),
    )
    # Another process adds a branch: no signal here, only the shared version moves on.
    Branch.objects.bulk_create([Branch(name="Sucursal Lejana")])
    cache.incr(lists._CHOICES_VERSION)

    within = client.get(reverse("crm:customer_list"))
    clock = time.monotonic() + shared_versions.READ_SECONDS
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    after = client.get(reverse("crm:customer_list"))

    assertNotContains(within, "Sucursal Lejana")  # this process's copy, read just now
    assertContains(after, "Sucursal Lejana")
    assert asked.count(True) == 1  # only the read after the second


def test_the_results_fragment_reads_no_dropdown(client, admin, monkeypatch):
    client.force_login(admin)
    asked = []
    monkeypatch.setattr(lists, "cache_filter_choices", lambda filterset: asked.append(filterset))

    fragment = client.get(reverse("crm:customer_list"), headers={"HX-Request": "true"})
    page = client.get(reverse("crm:customer_list"))

    assert len(asked) == 1  # the page's filter form; the fragment has none
    assertNotContains(fragment, 'name="branch"')
    assertContains(page, 'name="branch"')


def test_watching_dropdown_models_leaves_other_deletes_on_djangos_fast_path(client, admin):
    from django.db.models.deletion import Collector

    from integrations.models import WebhookEvent

    client.force_login(admin)
    client.get(reverse("crm:customer_list"))  # watches the dropdowns' models

    # A listener for every model would make Django load each row before deleting it.
    assert Collector(using="default").can_fast_delete(WebhookEvent.objects.all())


def test_a_filter_dropdown_marks_the_chosen_option_and_escapes_names(client, admin):
    chosen = BranchFactory(name="Norte <b>")
    BranchFactory(name="Sur")
    client.force_login(admin)

    html = client.get(reverse("crm:customer_list"), {"branch": chosen.pk}).content.decode()

    assert f'<option value="{chosen.pk}" selected>Norte &lt;b&gt;</option>' in html
    assert html.count(" selected>") == 1 + html.count('value="" selected>')


@pytest.mark.parametrize("asked", ["0", "-3"])
def test_a_page_below_the_first_is_the_first_not_the_last(client, admin, asked):
    """django-tables2 answered an empty page with the last one: ?page=0 showed the end."""
    branch = Branch.objects.create(name="Centro")
    CustomerFactory.create_batch(30, branch=branch)
    client.force_login(admin)
    url = reverse("crm:customer_list")

    first = client.get(url, {"sort": "document_number"})
    asked_page = client.get(url, {"sort": "document_number", "page": asked})

    assert asked_page.status_code == 200
    assert asked_page.context["table"].page.number == 1
    assert [c.pk for c in asked_page.context["table"].page.object_list.data] == [
        c.pk for c in first.context["table"].page.object_list.data
    ]


def test_a_filter_the_list_cannot_use_is_said_not_dropped_silently(client, admin):
    client.force_login(admin)

    page = client.get(reverse("credits:loan_list"), {"status": "xx"})
    plain = client.get(reverse("credits:loan_list"), {"status": "active"})

    assertContains(page, 'id="filter-errors"')
    assertContains(page, "Estos filtros no se aplicaron:")
    assertNotContains(plain, 'id="filter-errors"')


def test_django_tables2_reads_each_functions_signature_once(monkeypatch):
    # It read inspect.signature on every cell: a third of an export's time.
    from django_tables2 import utils as tables2_utils

    from lib import lists

    reads = []
    uncached = lists._signature_uncached

    def counting(fn):
        reads.append(fn)
        return uncached(fn)

    monkeypatch.setattr(lists, "_signature_uncached", counting)
    monkeypatch.setattr(lists, "_signatures", {})

    class Row:
        def render_name(self, value, record):
            return value

        @staticmethod
        def plain(value, **kwargs):
            return value

    assert tables2_utils.signature is lists._signature
    for _ in range(3):
        assert tables2_utils.signature(Row().render_name) == (("value", "record"), None)
        assert tables2_utils.signature(Row.plain) == (("value",), "kwargs")
        assert tables2_utils.signature(Row.render_name) == (("self", "value", "record"), None)
    assert len(reads) == 3
