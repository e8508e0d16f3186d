"""A refused follow-up says so first (accessibility pass, F6): the page's title begins with
«Error: » and marks the page (<meta name="form-errors">) so static/js/app.js moves the focus
to the form's error summary, two screens down the gestión. One rule for every page
(crm/templatetags/page_errors.py), whatever the page names its forms."""

import re

from django.urls import reverse

from tests.callcenter.html import elements

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
MARK = '<meta name="form-errors" content="shown">'


def title(response) -> tuple[bool, str]:
    """Return whether the page is marked as showing a refused form, and its title's words."""
    html = response.content.decode()
    return MARK in html, " ".join(TITLE.search(html).group(1).split())


def test_a_refused_follow_up_begins_the_title_with_error_and_marks_its_summary(
    client, make_gestion, asesor
):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.post(
        reverse("gestiones:follow_up", args=[gestion.pk]), {"action": "", "result": ""}
    )

    assert response.status_code == 200
    assert title(response) == (True, f"Error: Gestión #{gestion.pk} · Cartera")
    (summary,) = elements(response.content.decode())["follow-up-errors"]
    assert summary["tabindex"] == "-1"
    assert "data-error-summary" in summary


def test_the_gestion_page_as_first_shown_has_no_error_in_its_title(client, make_gestion, asesor):
    gestion = make_gestion(agent=asesor)
    client.force_login(asesor)

    response = client.get(gestion.get_absolute_url())

    assert title(response) == (False, f"Gestión #{gestion.pk} · Cartera")


def test_a_page_that_says_error_itself_says_it_once(client, db):
    response = client.post(reverse("login"), {"username": "", "password": ""})

    assert title(response) == (True, "Error: Ingresar · Cartera")
