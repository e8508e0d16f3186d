"""The demo (`demo` in tests/conftest.py): every screen has something to show, and loading
it again changes nothing."""

import io

import pytest
from django.core.management import call_command
from docx import Document

from crm.gestiones.documents import context, rendering
from crm.gestiones.models import (
    Answer,
    ApplicationTime,
    DocumentTemplate,
    Gestion,
    LifecycleRun,
    SurveyInvitation,
    TimeBuild,
)
from crm.models import Appointment, Customer, Interaction


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# How the staff (and the demo) mark a customer who asked not to be contacted.
OPT_OUT_TAG = "No contactar"


def counts() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        Interaction.objects.count(),
        Appointment.objects.count(),
        Gestion.objects.count(),
        SurveyInvitation.objects.count(),
        Answer.objects.count(),
        LifecycleRun.objects.count(),
        DocumentTemplate.objects.count(),
    )


def test_the_demo_has_an_agenda_survey_answers_and_life_cycle_history(demo):
    assert Appointment.objects.filter(customer__isnull=False).exists()
    assert Appointment.objects.filter(customer__isnull=True).exists()  # por registrar
    assert Answer.objects.exists()
    assert SurveyInvitation.objects.filter(answered_at__isnull=True).exists()
    assert LifecycleRun.objects.exists()


def test_the_demo_customers_tagged_no_contactar_have_opted_out(demo):
    tagged = Customer.objects.filter(tags__name=OPT_OUT_TAG)

    assert tagged.exists()
    assert set(tagged.values_list("pk", flat=True)) == set(
        Customer.objects.filter(has_opted_out=True).values_list("pk", flat=True)
    )


def test_the_welcome_letter_is_a_letter_and_fills_for_an_assigned_gestion(demo):
    letter = DocumentTemplate.objects.get(name="Carta de bienvenida")
    with letter.file.open("rb") as handle:
        data = handle.read()
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    # The letter names the customer's city: a customer of the demo registered without one
    # would leave that blank, rightly.
    gestion = Gestion.objects.filter(agent__isnull=False).exclude(customer__city="").first()

    rendered = rendering.render_document(data, context.context_for(gestion))

    assert "PAGARÉ" not in text
    assert "Le damos la bienvenida" in text
    assert rendered.blanks == []


def test_loading_the_demo_again_adds_nothing(demo):
    before = counts()

    # The sizes of the `demo` fixture (tests/conftest.py), loaded a second time.
    call_command("seed_demo", customers=12, demo_instance=True, stdout=io.StringIO())
    call_command("seed_gestiones", gestiones=60, stdout=io.StringIO())

    assert counts() == before


def test_the_demo_has_the_credit_times_computed(demo):
    # The times page shows figures at once, not "aún no se han calculado".
    assert TimeBuild.objects.exists()
    assert ApplicationTime.objects.exists()


def test_the_demos_history_names_who_was_in_charge(demo):
    # The time dashboard credits each stay to the advisor in charge when it began.
    from crm.gestiones.models import FollowUp

    steps = FollowUp.objects.filter(kind__in=[FollowUp.Kind.ASSIGNMENT, FollowUp.Kind.STEP])
    assert steps.exists()
    assert not steps.filter(agent__isnull=True).exists()
