"""What a title= tooltip said is also written in the page (the 375 px and screen-reader
pass): a phone has no hover and many screen readers skip title=, so each of these words must
be text in the HTML (shown, or .visually-hidden for screen readers), not only an attribute."""

import html as html_lib
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from collections_app.conversations import alerts
from collections_app.models import Flow
from config import jinja2 as jinja_env
from crm.gestiones import examples
from crm.gestiones import services as gestion_services
from crm.gestiones.models import FollowUp, Gestion, Question, Survey, SurveyInvitation
from crm.gestiones.reports.timing import services as timing_services
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, make_lead
from tests.collections_app.conversations.conftest import inbound, outbound
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import make_flow, whole_portfolio
from tests.factories import CustomerFactory, LoanFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _ElementText(HTMLParser):
    """The text inside the element with this id, its children's included."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(page: str, element_id: str) -> str:
    """Return the words of one element, never its attributes (a title= is not text)."""
    parser = _ElementText(element_id)
    parser.feed(page)
    assert parser.parts, f"no element #{element_id} with text"
    return " ".join("".join(parser.parts).split())


def words(fragment: str) -> str:
    """Return the words of an HTML fragment: tags and their attributes left out."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]*>", " ", fragment)).split())


def signed_in(client, **fields):
    user = UserFactory(**fields)
    client.force_login(user)
    return user


# --- Customer 360 -----------------------------------------------------------------------------


def test_the_360_page_says_cartera_castigada_in_words(client):
    customer = CustomerFactory()
    customer.tags.add(TagFactory(name="Cartera castigada"))
    signed_in(client, username="asesor-tt", role="Asesor")

    page = client.get(customer.get_absolute_url()).content.decode()

    assert "Cartera castigada" in text_of(page, "customer-castigada")


# --- Gestiones --------------------------------------------------------------------------------


@pytest.fixture
def asesor_tt(client):
    return signed_in(client, username="asesor-tt", role="Asesor")


@pytest.fixture
def gestion(asesor_tt):
    gestion_type = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor_tt], supervisors=[]
    )
    customer = CustomerFactory(has_opted_out=True)
    return gestion_services.create_gestion(
        customer=customer,
        gestion_type=gestion_type,
        agent=asesor_tt,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )


def test_a_gestion_says_why_its_customer_is_not_contacted_and_where_the_mail_shows(client, gestion):
    follow_up = FollowUp.objects.filter(gestion=gestion).first()
    FollowUp.objects.filter(pk=follow_up.pk).update(is_customer_alerted=True)

    page = client.get(reverse("gestiones:detail", args=[gestion.pk])).content.decode()

    assert "no se le enviará ninguno" in text_of(page, "gestion-summary")
    assert "se ve en la línea de tiempo del cliente" in text_of(page, f"follow-up-{follow_up.pk}")


def test_the_lists_late_mark_and_the_boards_counts_are_words(client, gestion):
    Gestion.objects.filter(pk=gestion.pk).update(due_at=timezone.now() - timedelta(days=2))

    listing = client.get(reverse("gestiones:list")).content.decode()
    board = client.get(reverse("gestiones:board")).content.decode()

    # The wide table's due-date cell (the phone's summary has its own «Atrasada»).
    cells = re.findall(r'<td class="text-nowrap d-none d-md-table-cell">.*?</td>', listing)
    assert any("Atrasada" in words(cell) for cell in cells)
    header = board[board.index(f'id="state-{gestion.state_id}"') :]
    header = words(header[: header.index("</header>")])
    assert "1 gestión" in header
    assert "1 atrasada" in header


# --- Loans ------------------------------------------------------------------------------------


def test_an_imported_schedule_says_what_that_means(client):
    loan = LoanFactory(schedule_source="imported")
    signed_in(client, username="admin-tt", is_staff=True, is_superuser=True)

    page = client.get(reverse("credits:loan_detail", args=[loan.pk])).content.decode()

    assert "vino del sistema de origen" in text_of(page, "loan-header")


# --- Collections: strategies, inbox, alerts ---------------------------------------------------


@pytest.fixture
def cobranzas_tt(client):
    return signed_in(client, username="cobranzas-tt", role="Cobranzas")


def test_an_inactive_flow_says_why_it_cannot_run_and_the_list_names_each_steps_template(
    client, cobranzas_tt
):
    sms = make_template(name="Aviso SMS", body="Hola {nombre}")
    flow = make_flow(whole_portfolio(), [(0, sms)], name="Mora temprana", is_active=False)

    detail = client.get(reverse("collections_app:flow_detail", args=[flow.pk])).content.decode()
    listing = client.get(reverse("collections_app:flow_list")).content.decode()

    assert "Active el flujo para ejecutarlo." in words(detail)
    assert 'aria-describedby="flow-run-disabled"' in detail
    assert "Aviso SMS" in text_of(listing, f"flow-{flow.pk}")
    assert Flow.objects.get(pk=flow.pk).is_active is False


def test_the_template_variables_say_what_each_one_is(client, cobranzas_tt):
    page = client.get(reverse("collections_app:template_variables")).content.decode()

    # Each chip is {name} and its label; a label is more than the name between braces.
    chips = re.findall(r"<button[^>]*data-insert[^>]*>(.*?)</button>", page, re.S)
    assert chips
    assert all(len(words(chip)) > len(words(chip).split(":")[0]) + 2 for chip in chips)


def test_the_inbox_says_unread_and_outbound_in_words(client, cobranzas_tt):
    rosa = CustomerFactory(phone="+51987654321")
    marta = CustomerFactory(phone="+51987654322")
    inbound(rosa)
    outbound(marta)

    page = client.get(reverse("collections_app:conversation_list")).content.decode()

    assert "sin leer" in text_of(page, f"conversation-{rosa.pk}")
    assert "Saliente" in text_of(page, f"conversation-{marta.pk}")


def test_the_closed_alerts_name_each_count(client, cobranzas_tt):
    page = client.get(reverse("collections_app:conversation_alerts")).content.decode()

    summary = words(page[page.index("<summary") : page.index("</summary>")])
    titles = [str(alert.title) for alert in alerts.attention()]
    assert titles
    for title in titles:
        assert f"{title}:" in summary


# --- Call center ------------------------------------------------------------------------------


def test_the_queue_writes_a_due_leads_date(client, settings):
    from callcenter.models import QueueSettings

    settings.KOMMO_SUBDOMAIN = "cartera"
    settings.KOMMO_BASE_URL = "https://cartera.kommo.com"
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": PIPELINE, "queue_status_id": QUEUE_STATUS}
    )
    lead = make_lead(due_at=timezone.now() - timedelta(hours=3))
    signed_in(client, username="agente-tt", role="Agente call center")

    page = client.get(reverse("callcenter:queue")).content.decode()

    # The Jinja table's date filter, as the cell's title= writes it.
    assert jinja_env.date(lead.due_at) in text_of(page, f"lead-{lead.pk}")


# --- Lists' export buttons --------------------------------------------------------------------


def test_the_export_buttons_say_they_export_the_filtered_rows(client):
    CustomerFactory()
    signed_in(client, username="supervisor-tt", role="Supervisor")

    page = client.get(reverse("crm:customer_list")).content.decode()

    assert "Exportar las filas filtradas a CSV" in words(page)
    assert "Exportar las filas filtradas a Excel" in words(page)


def test_the_reports_columns_say_what_they_count(client, gestion):
    timing_services.refresh_times(full=True)
    signed_in(client, username="supervisor-tt", role="Supervisor")

    teams = client.get(
        reverse("gestiones:dashboard_section", args=["teams"]), headers={"HX-Request": "true"}
    ).content.decode()
    times = client.get(reverse("gestiones:application_times")).content.decode()

    assert "Exitosas sobre las finalizadas" in words(teams)
    assert "Aprobadas dentro de la meta, sobre las aprobadas" in words(times)
    assert "Gestiones que aún están en el estado" in words(times)


def test_a_surveys_required_questions_say_so_in_words(client, gestion):
    survey = Survey.objects.create(name="Satisfacción")
    question = Question.objects.create(
        survey=survey, text="¿Qué tan satisfecho quedó?", kind=Question.Kind.SCALE, order=1
    )
    invitation = SurveyInvitation.objects.create(
        gestion=gestion, survey=survey, sent_at=timezone.now()
    )

    page = client.get(reverse("survey_answer", args=[invitation.token])).content.decode()

    assert "(obligatoria)" in text_of(page, f"field-question_{question.pk}")


def test_the_menus_name_link_says_it_changes_the_password(client):
    signed_in(client, username="asesor-tt", first_name="Ana", last_name="Ríos", role="Asesor")

    page = client.get(reverse("crm:customer_list")).content.decode()

    # A link's name for screen readers (aria-label): it starts with the words it shows.
    assert 'aria-label="Ana Ríos: cambiar mi contraseña">Ana Ríos</a>' in page
