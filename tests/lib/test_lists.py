"""Screens that answer a page or its HTMX fragment say so in Vary, and pick the right one."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxDetails
from pytest_django.asserts import assertTemplateNotUsed, assertTemplateUsed

from lib import lists
from tests.factories import UserFactory

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
