"""Forms a screen reader can follow (accessibility pass, F3/F6): the quick note's errors tied
to its fields and its success said; the sign-in's errors tied and said in the title."""

import re

import pytest
from django.urls import reverse

from tests.callcenter.html import elements

HTMX = {"HX-Request": "true"}


def _title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def test_a_refused_quick_note_ties_its_error_to_the_box(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "note", "summary": ""},
        headers=HTMX,
    )

    by_id = elements(response.content.decode())
    (box,) = by_id["id_summary"]
    assert box["aria-invalid"] == "true"
    assert box["aria-describedby"] == "id_summary_error"
    assert "id_summary_error" in by_id
    assert "data-announce" not in by_id["note-form"][0]


@pytest.mark.parametrize(
    ("kind", "said"), [("note", "Nota agregada."), ("call", "Llamada registrada.")]
)
def test_a_saved_quick_note_says_so_through_the_pages_status(client, asesor, customer, kind, said):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": kind, "summary": "Pidió que lo llamen el lunes."},
        headers=HTMX,
    )

    (form,) = elements(response.content.decode())["note-form"]
    assert form["data-announce"] == said


def test_a_refused_sign_in_ties_the_errors_and_says_error_in_the_title(client, db):
    response = client.post(reverse("login"), {"username": "", "password": ""})

    assert _title(response).startswith("Error: Ingresar")
    by_id = elements(response.content.decode())
    for name in ("username", "password"):
        (field,) = by_id[f"id_{name}"]
        assert field["aria-invalid"] == "true"
        assert field["aria-describedby"] == f"id_{name}_error"
        assert f"id_{name}_error" in by_id
    assert not _title(client.get(reverse("login"))).startswith("Error")
