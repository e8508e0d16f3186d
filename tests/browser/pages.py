"""Steps the browser tests share."""

from playwright.sync_api import Page

DEMO_PASSWORD = "demo1234"  # the factories' password


def sign_in(page: Page, live_server, username: str) -> None:
    """Sign in through the login page, as a person would."""
    page.goto(f"{live_server.url}/ingresar/")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
