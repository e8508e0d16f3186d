"""The busiest lists' tables are Jinja2 templates (config/jinja2.py): they write what the
Django templates wrote, escaped, with the filters of the Django templates."""

import datetime

import pytest
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from config import jinja2 as jinja_env
from tests.factories import BranchFactory, CustomerFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="admin-jinja", is_staff=True, is_superuser=True)


def _django(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize(
    "format_name", ["SHORT_DATETIME_FORMAT", "SHORT_DATE_FORMAT", "DATE_FORMAT", "d/m H:i"]
)
def test_the_date_filter_writes_what_djangos_does(format_name):
    moment = datetime.datetime(2026, 3, 7, 4, 5, tzinfo=datetime.UTC)  # the day before, local

    expected = _django("{{ d|date:f }}", d=moment, f=format_name)

    assert jinja_env.date(moment, format_name) == expected
    assert jinja_env.date(None) == ""


@pytest.mark.parametrize("format_name", ["SHORT_DATE_FORMAT", "DATE_FORMAT"])
def test_the_date_filter_writes_a_day_as_djangos_does(format_name):
    day = datetime.date(2026, 3, 7)

    assert jinja_env.date(day, format_name) == _django("{{ d|date:f }}", d=day, f=format_name)


@pytest.mark.parametrize(
    "ago",
    [
        datetime.timedelta(seconds=30),
        datetime.timedelta(minutes=61, seconds=59),
        datetime.timedelta(days=2, hours=3),
        datetime.timedelta(days=27, hours=23, minutes=59),
        datetime.timedelta(days=28),  # a month or not, on the calendar
        datetime.timedelta(days=31, seconds=1),
        datetime.timedelta(days=400),
        datetime.timedelta(minutes=-5),  # in the future
    ],
)
@pytest.mark.parametrize(
    "now",
    [
        datetime.datetime(2026, 3, 1, 0, 30, tzinfo=datetime.UTC),  # after a short month
        datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
    ],
)
def test_since_writes_what_djangos_timesince_does(monkeypatch, ago, now):
    from django.utils.timesince import timesince

    monkeypatch.setattr(
        jinja_env, "_now", lambda *, aware: now if aware else now.replace(tzinfo=None)
    )
    for moment in (now - ago, (now - ago).replace(tzinfo=None)):
        expected = timesince(moment, now if moment.tzinfo else now.replace(tzinfo=None))

        assert jinja_env.since(moment) == expected
        assert jinja_env.since(moment) == expected  # kept, or written again alike


def test_a_table_head_is_written_once_per_order_and_query(client, admin, monkeypatch):
    CustomerFactory(first_name="Rosa")
    client.force_login(admin)
    jinja_env._heads.clear()

    client.get(reverse("crm:customer_list") + "?q=rosa")
    again = client.get(reverse("crm:customer_list") + "?q=rosa")
    other = client.get(reverse("crm:customer_list") + "?q=rosa&sort=-name")

    assert len(jinja_env._heads) == 2
    assertContains(again, 'href="?q=rosa&amp;sort=-name"')
    assertContains(other, 'class="desc orderable"')
    assertContains(other, 'href="?q=rosa&amp;sort=name"')


def test_a_sort_or_page_link_keeps_the_filters():
    request = RequestFactory().get("/clientes/?q=rosa&branch=3&page=4")

    link = jinja_env.querystring(request, "page", 2)

    assert link == "?q=rosa&branch=3&page=2"


def test_the_customer_list_escapes_names_and_writes_branch_advisor_and_tags(client, admin):
    advisor = UserFactory(first_name="Ana", last_name="Ríos", role="Asesor")
    branch = BranchFactory(name="Sucursal <Norte>")
    customer = CustomerFactory(
        first_name="<script>alert(1)</script>", branch=branch, advisor=advisor
    )
    customer.tags.add(TagFactory(name="Zeta"), TagFactory(name="Alfa & Omega"))
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list"))

    assertNotContains(response, "<script>alert(1)</script>")
    assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
    assertContains(response, "Sucursal &lt;Norte&gt;")
    assertContains(response, "Ana Ríos")
    html = response.content.decode()
    assert html.index("Alfa &amp; Omega") < html.index("Zeta")  # by name, as Tag's order
    assertContains(response, f'href="{customer.get_absolute_url()}"')


def test_a_renamed_branch_shows_at_once_on_the_list(client, admin):
    branch = BranchFactory(name="Sucursal Vieja")
    CustomerFactory(branch=branch)
    client.force_login(admin)
    client.get(reverse("crm:customer_list"))

    branch.name = "Sucursal Nueva"
    branch.save()
    response = client.get(reverse("crm:customer_list"), headers={"HX-Request": "true"})

    assertContains(response, "Sucursal Nueva")
    assertNotContains(response, "Sucursal Vieja")


def test_the_sort_links_keep_the_search(client, admin):
    CustomerFactory(first_name="Rosa")
    client.force_login(admin)

    response = client.get(reverse("crm:customer_list") + "?q=rosa")

    assertContains(response, 'href="?q=rosa&amp;sort=-name"')


def test_the_queue_writes_one_csrf_input_per_form_and_escapes_the_confirmation(client, supervisor):
    from callcenter.models import QueueSettings
    from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, SOLD_STATUS, make_lead

    QueueSettings.objects.update_or_create(
        pk=1,
        defaults={
            "pipeline_id": PIPELINE,
            "queue_status_id": QUEUE_STATUS,
            "sold_status_id": SOLD_STATUS,
        },
    )
    agent = UserFactory(username="agent-jinja", first_name="Eva", last_name="Soto")
    make_lead(contact_name='Ana "la <b>jefa</b>"', taken_by=agent, taken_at=timezone.now())
    client.force_login(supervisor)

    response = client.get(reverse("callcenter:queue"))

    html = response.content.decode()
    assert html.count('name="csrfmiddlewaretoken"') == html.count('method="post"')
    assertContains(response, "¿Liberar a Ana &#34;la &lt;b&gt;jefa&lt;/b&gt;&#34;?")
    assertContains(response, "Eva Soto")
