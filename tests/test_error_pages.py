"""The error pages: in Spanish, on the error layout, and the 500 page with the database down."""

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertTemplateNotUsed, assertTemplateUsed


def database_down(execute, sql, params, many, context):
    raise OperationalError("could not connect to server: Connection refused")


@pytest.fixture
def visitor(db) -> Client:
    """A client that checks CSRF as a browser's request is checked, with its cookie."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    return client


def assert_error_page(response, template: str, status: int, text: str) -> None:
    assert response.status_code == status
    assertTemplateUsed(response, template)
    assertTemplateUsed(response, "error_layout.html")
    assertTemplateNotUsed(response, "base.html")
    assertContains(response, text, status_code=status)
    assertContains(response, response["X-Request-ID"], status_code=status)


def test_an_unknown_address_gets_the_404_page(client, asesor):
    client.force_login(asesor)

    response = client.get("/no-existe/")

    assert_error_page(response, "404.html", 404, "No encontramos lo que busca.")


@pytest.mark.parametrize(
    ("path", "home"),
    [
        ("/portal/no-existe/", "/portal/"),
        ("/recovery/no-existe/", "/recovery/"),
        ("/calculadora/no-existe/", "/calculadora/"),
        ("/no-existe/", "/"),
    ],
)
def test_a_public_areas_error_page_leads_back_to_its_own_start(db, path, home):
    # A debtor sent to "/" lands on the staff's sign-in page.
    response = Client().get(path)

    assert response.status_code == 404
    assertContains(response, f'href="{home}"', status_code=404)


def test_opening_a_form_only_address_gets_the_spanish_405_page(db):
    response = Client().get(reverse("collections_app:portal_pay"))

    assert_error_page(response, "405.html", 405, "Esta dirección solo recibe un formulario.")
    assert response["Allow"] == "POST"
    assertContains(response, 'href="/portal/"', status_code=405)
    assert "Content-Security-Policy" in response


def test_a_page_outside_the_users_role_gets_the_403_page(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("credits:investor_list"))

    assert_error_page(response, "403.html", 403, "No tiene permiso para ver esta página.")


def test_a_form_sent_without_its_csrf_token_gets_the_spanish_page(visitor):
    response = visitor.post(reverse("login"), {"username": "ana", "password": "x"})

    assert_error_page(response, "403_csrf.html", 403, "El formulario que envió ya no es válido.")


def test_a_form_sent_without_the_csrf_cookie_asks_to_allow_cookies(db):
    browser_without_cookies = Client(enforce_csrf_checks=True)

    response = browser_without_cookies.post(reverse("login"), {"username": "ana"})

    assert_error_page(response, "403_csrf.html", 403, "no aceptó las cookies de este sitio")


def test_a_form_with_more_fields_than_django_reads_gets_the_400_page(visitor, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    token = visitor.cookies["csrftoken"].value
    fields = "&".join(f"f{n}=x" for n in range(20))

    response = visitor.generic(
        "POST",
        reverse("calculator_lead"),
        f"csrfmiddlewaretoken={token}&{fields}",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error_page(response, "400.html", 400, "No pudimos leer su solicitud.")


def test_the_500_page_shows_when_the_database_is_down(asesor):
    client = Client(raise_request_exception=False)
    client.force_login(asesor)

    with connection.execute_wrapper(database_down):
        response = client.get(reverse("crm:customer_list"))

    assert_error_page(response, "500.html", 500, "Ocurrió un error inesperado.")


def test_a_server_error_is_mailed_to_the_admins(asesor, settings, mailoutbox):
    settings.ADMINS = [("Operaciones", "ops@example.pe")]
    client = Client(raise_request_exception=False)
    client.force_login(asesor)

    with connection.execute_wrapper(database_down):
        client.get(reverse("crm:customer_list"))

    # Django may report it twice: saving the session on the way out fails as well.
    assert mailoutbox
    assert {tuple(mail.to) for mail in mailoutbox} == {("ops@example.pe",)}
    assert mailoutbox[0].subject.startswith("[Cartera] ERROR")
