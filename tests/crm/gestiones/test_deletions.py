"""Deleting configuration takes a confirmation step and leaves a record supervisors read."""

import io
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site as admin_site
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from docx import Document
from pytest_django.asserts import assertContains

from crm import deletions as deletion_services
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.documents import services as document_services
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import (
    Campaign,
    CampaignTarget,
    DocumentTemplate,
    GestionState,
    Goal,
    Question,
    Survey,
    SurveyInvitation,
)
from crm.gestiones.surveys import services as survey_services
from crm.models import DeletionRecord, Product
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def goal(asesor, credit_type) -> Goal:
    return goal_services.create_goal(
        data={
            "agent": asesor,
            "product": Product.objects.get(code="consumo"),
            "year": 2026,
            "month": 5,
            "target_local": Decimal("50000"),
            "target_usd": Decimal("0"),
            "target_prospects": 10,
            "target_customers": 3,
            "success_state": GestionState.objects.get(
                gestion_type=credit_type, name="Desembolsado"
            ),
        }
    )


@pytest.fixture
def boss(db):
    return UserFactory(
        username="jefa", first_name="Ana", last_name="Administradora", role="Administrador"
    )


def test_one_post_no_longer_deletes_a_goal(client, supervisor, goal):
    client.force_login(supervisor)

    response = client.post(reverse("gestiones:goal_delete", args=[goal.pk]))

    assert response.status_code == 200
    assertContains(response, "¿Eliminar la meta «Andrea Quispe · Préstamo de consumo · Mayo 2026»?")
    assertContains(response, "S/ 50,000.00")
    assert Goal.objects.filter(pk=goal.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_a_confirmed_deletion_records_who_what_and_when(client, supervisor, goal):
    supervisor.first_name, supervisor.last_name = "Sergio", "Villanueva"
    supervisor.save()
    client.force_login(supervisor)

    response = client.post(reverse("gestiones:goal_delete", args=[goal.pk]), {"confirm": "yes"})

    assert response["Location"] == reverse("gestiones:goal_list")
    assert not Goal.objects.filter(pk=goal.pk).exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.object_id) == (deletion_kinds.GOAL, goal.pk)
    assert record.name == "Andrea Quispe · Préstamo de consumo · Mayo 2026"
    assert (record.deleted_by, record.deleted_by_name) == (supervisor, "Sergio Villanueva")
    assert ["Meta local", "S/ 50,000.00"] in record.details


def test_supervisors_read_the_deletions(client, supervisor, goal):
    goal_services.delete_goal(goal=goal, actor=supervisor)
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:deletion_list"))

    assertContains(response, "Andrea Quispe · Préstamo de consumo · Mayo 2026")
    assertContains(response, "Meta")


def test_the_deletions_are_searched_by_name_or_who_deleted(client, supervisor):
    supervisor.first_name, supervisor.last_name = "Sergio", "Villanueva"
    supervisor.save()
    for n in range(30):
        deletion_services.record_deletion(
            kind=deletion_kinds.SURVEY, object_id=n, name=f"Encuesta {n}", actor=None
        )
    deletion_services.record_deletion(
        kind=deletion_kinds.CAMPAIGN, object_id=99, name="Feria 2026", actor=supervisor
    )
    client.force_login(supervisor)
    url = reverse("gestiones:deletion_list")

    by_name = client.get(url, {"q": " feria\x00 "})
    by_person = client.get(url, {"q": "villanueva"})
    paged = client.get(url, {"q": "encuesta", "tipo": "survey"})

    assert [r.name for r in by_name.context["page"]] == ["Feria 2026"]
    assert [r.name for r in by_person.context["page"]] == ["Feria 2026"]
    assert paged.context["page"].paginator.count == 30
    assertContains(paged, "?page=2&amp;tipo=survey&amp;q=encuesta")
    assertContains(client.get(url, {"q": "nada así"}), "Ninguna eliminación coincide")


def test_advisors_do_not_read_the_deletions(client, asesor):
    client.force_login(asesor)

    assert client.get(reverse("gestiones:deletion_list")).status_code == 403


def test_a_survey_already_sent_is_not_deleted_and_the_page_says_why(
    client, boss, make_gestion, asesor
):
    survey = Survey.objects.create(name="Satisfacción")
    SurveyInvitation.objects.create(survey=survey, gestion=make_gestion(agent=asesor))
    client.force_login(boss)

    response = client.post(reverse("gestiones:survey_delete", args=[survey.pk]), {"confirm": "yes"})

    assertContains(response, "ya se envió a 1 clientes")
    assert Survey.objects.filter(pk=survey.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_a_survey_never_sent_is_deleted_after_confirmation_and_recorded(client, boss):
    survey = Survey.objects.create(name="Piloto")
    Question.objects.create(survey=survey, text="¿Nos recomendaría?", kind=Question.Kind.SCALE)
    client.force_login(boss)

    shown = client.get(reverse("gestiones:survey_delete", args=[survey.pk]))
    client.post(reverse("gestiones:survey_delete", args=[survey.pk]), {"confirm": "yes"})

    assertContains(shown, "¿Nos recomendaría?")
    assert not Survey.objects.exists()
    assert DeletionRecord.objects.get().kind == deletion_kinds.SURVEY


def test_a_campaign_that_reached_customers_is_kept(boss):
    campaign = Campaign.objects.create(name="VIP", slug="vip", kind=Campaign.Kind.OUTBOUND)
    CampaignTarget.objects.create(campaign=campaign, customer=CustomerFactory())

    assert "ya llegó a 1 clientes" in campaign_services.deletion_problem(campaign)


def test_a_draft_campaign_is_deleted_after_confirmation_and_recorded(client, boss):
    campaign = Campaign.objects.create(
        name="Borrador", slug="borrador", kind=Campaign.Kind.OUTBOUND
    )
    client.force_login(boss)

    client.post(reverse("gestiones:campaign_delete", args=[campaign.pk]), {"confirm": "yes"})

    assert not Campaign.objects.exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.name, record.deleted_by) == (
        deletion_kinds.CAMPAIGN,
        "Borrador",
        boss,
    )


def a_template(credit_type) -> DocumentTemplate:
    document = Document()
    document.add_paragraph("Hola {{ cliente.nombres }}")
    out = io.BytesIO()
    document.save(out)
    return document_services.create_template(
        name="Carta",
        file=SimpleUploadedFile("carta.docx", out.getvalue()),
        gestion_types=[credit_type],
    )


def test_a_document_template_deleted_after_confirmation_is_recorded(client, boss, credit_type):
    template = a_template(credit_type)
    client.force_login(boss)

    client.post(reverse("gestiones:document_template_delete", args=[template.pk]))
    assert DocumentTemplate.objects.exists()  # not without the confirmation
    client.post(
        reverse("gestiones:document_template_delete", args=[template.pk]), {"confirm": "yes"}
    )

    assert not DocumentTemplate.objects.exists()
    assert DeletionRecord.objects.get().kind == deletion_kinds.DOCUMENT_TEMPLATE


def test_a_document_template_deleted_twice_says_the_first_deleted_it(client, boss, credit_type):
    template = a_template(credit_type)
    client.force_login(boss)
    url = reverse("gestiones:document_template_delete", args=[template.pk])
    client.post(url, {"confirm": "yes"})

    second = client.post(url, {"confirm": "yes"}, follow=True)

    assert second.redirect_chain == [(reverse("gestiones:document_template_list"), 302)]
    assert "Plantilla de documento «Carta» ya se eliminó hace un momento." in [
        str(m) for m in second.context["messages"]
    ]


def test_a_deletion_in_admin_is_recorded_too(boss, credit_type):
    template = a_template(credit_type)
    request = RequestFactory().post("/admin/")
    request.user = boss

    admin_site._registry[DocumentTemplate].delete_model(request, template)

    assert DeletionRecord.objects.get().deleted_by == boss


def test_a_question_removed_from_a_survey_is_recorded(supervisor):
    survey = Survey.objects.create(name="Piloto")
    keep = Question.objects.create(survey=survey, text="¿Le atendimos bien?", kind="scale")
    drop = Question.objects.create(survey=survey, text="¿Volvería?", kind="scale")

    survey_services.save_survey(
        survey=survey,
        data={"name": "Piloto"},
        questions=[survey_services.QuestionData(question=keep, text=keep.text, kind=keep.kind)],
        removed=[drop],
        actor=supervisor,
    )

    record = DeletionRecord.objects.get()
    assert (record.kind, record.name, record.deleted_by) == (
        deletion_kinds.QUESTION,
        "¿Volvería?",
        supervisor,
    )
