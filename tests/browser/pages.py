"""Steps the browser tests share."""

from playwright.sync_api import Page

DEMO_PASSWORD = "demo1234"  # the factories' password


def sign_in(page: Page, live_server, username: str) -> None:
    """Sign in through the login page, as a person would."""
    page.goto(f"{live_server.url}/ingresar/")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Ingresar").click()


def queue_with_two_leads() -> None:
    """The call queue as the queue's browser tests find it: the agent Gabriela, the queue's
    Kommo settings and two leads waiting."""
    from callcenter.models import Lead, QueueSettings
    from tests.factories import UserFactory

    UserFactory(
        username="agente", first_name="Gabriela", last_name="Torres", role="Agente call center"
    )
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": 1, "queue_status_id": 2, "sold_status_id": 3}
    )
    for kommo_id, name in [(25399013, "Rosa Huamán"), (25399014, "Pedro Soto")]:
        lead = Lead(kommo_id=kommo_id, contact_name=name, phone="+51 999 000 111", in_queue=True)
        lead.search_text = lead.build_search_text()
        lead.save()
        Lead.objects.filter(pk=lead.pk).update(queued_at=lead.created_at, due_at=lead.created_at)
