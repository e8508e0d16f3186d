import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm.gestiones import services
from crm.gestiones.models import Answer, FollowUp, Question, Survey, SurveyInvitation
from crm.gestiones.surveys import selectors as survey_selectors
from crm.gestiones.surveys import services as survey_services
from crm.gestiones.surveys import views
from crm.models import Interaction
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory

LIMA = ZoneInfo("America/Lima")
NOW = datetime.datetime(2026, 5, 4, 10, 0, tzinfo=LIMA)


@pytest.fixture
def survey(db) -> Survey:
    """Three questions: a required 1–5 scale, a required choice and an optional text."""
    survey = Survey.objects.create(name="Satisfacción", intro="Cuéntenos cómo le fue.")
    Question.objects.create(
        survey=survey, text="¿Qué tan satisfecho quedó?", kind=Question.Kind.SCALE, order=1
    )
    Question.objects.create(
        survey=survey,
        text="¿Por qué canal nos conoció?",
        kind=Question.Kind.CHOICE,
        choices="Radio\nInternet\nUn amigo",
        order=2,
    )
    Question.objects.create(
        survey=survey,
        text="Comentarios",
        kind=Question.Kind.TEXT,
        is_required=False,
        order=3,
    )
    return survey


def questions(survey: Survey) -> tuple[Question, Question, Question]:
    scale, choice, text = survey.questions.order_by("order")
    return scale, choice, text


def post_data(survey: Survey, scale=None, choice=None, text="") -> dict:
    q_scale, q_choice, q_text = questions(survey)
    data = {f"question_{q_text.pk}": text}
    if scale is not None:
        data[f"question_{q_scale.pk}"] = str(scale)
    if choice is not None:
        data[f"question_{q_choice.pk}"] = choice
    return data


@pytest.fixture
def invitation(make_gestion, survey, asesor) -> SurveyInvitation:
    gestion = make_gestion(agent=asesor, now=NOW)
    return SurveyInvitation.objects.create(gestion=gestion, survey=survey, sent_at=NOW)


def close(gestion, actor, now=NOW):
    action, result = step(gestion, "Contactar al cliente", "Desiste de la solicitud")
    return services.record_follow_up(
        gestion=gestion, actor=actor, action=action, result=result, now=now
    )


# --- Sending --------------------------------------------------------------------------


def test_closing_a_gestion_emails_the_customer_a_link_to_the_survey(
    make_gestion,
    credit_type,
    customer,
    survey,
    asesor,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    credit_type.survey = survey
    credit_type.save()
    customer.email = "rosa@example.pe"
    customer.save()
    gestion = make_gestion(agent=asesor, now=NOW)

    with django_capture_on_commit_callbacks(execute=True):
        close(gestion, asesor, now=NOW + datetime.timedelta(hours=1))

    invitation = SurveyInvitation.objects.get(gestion=gestion)
    assert invitation.survey == survey
    assert invitation.sent_at == NOW + datetime.timedelta(hours=1)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["rosa@example.pe"]
    assert f"/encuesta/{invitation.token}/" in mailoutbox[0].body
    entry = customer.interactions.get(kind=Interaction.Kind.EMAIL)
    assert entry.summary == f"Correo enviado: {mailoutbox[0].subject}"


def test_a_survey_invitation_the_mail_server_refuses_shows_as_failed_on_the_timeline(
    make_gestion,
    credit_type,
    customer,
    survey,
    asesor,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    credit_type.survey = survey
    credit_type.save()
    customer.email = "rosa@example.pe"
    customer.save()
    gestion = make_gestion(agent=asesor, now=NOW)

    with django_capture_on_commit_callbacks(execute=True):
        close(gestion, asesor, now=NOW + datetime.timedelta(hours=1))

    entry = customer.interactions.get(kind=Interaction.Kind.EMAIL)
    assert entry.summary.startswith("Correo no enviado: ¿Cómo le atendimos?")
    assert customer.interactions.filter(
        kind=Interaction.Kind.SYSTEM,
        summary__startswith="No se pudo enviar el correo «¿Cómo le atendimos?",
    ).exists()


def test_a_customer_without_email_gets_an_invitation_but_no_email(
    make_gestion, credit_type, survey, asesor, mailoutbox, django_capture_on_commit_callbacks
):
    credit_type.survey = survey
    credit_type.save()
    gestion = make_gestion(agent=asesor, now=NOW)

    with django_capture_on_commit_callbacks(execute=True):
        close(gestion, asesor)

    assert SurveyInvitation.objects.get(gestion=gestion).sent_at is None
    assert mailoutbox == []


# --- The public page --------------------------------------------------------------------


def test_the_public_page_shows_every_question_without_signing_in(client, invitation, survey):
    response = client.get(reverse("survey_answer", args=[invitation.token]))

    assert response.status_code == 200
    assertTemplateUsed(response, "gestiones/survey_answer.html")
    for question in survey.questions.all():
        assertContains(response, question.text)
    q_scale, _choice, _text = questions(survey)
    for value in range(1, 6):
        assertContains(response, f'name="question_{q_scale.pk}" value="{value}"')
    assertContains(response, 'value="Internet"')
    assertContains(response, "<textarea")


def test_an_unknown_token_is_not_found(client, invitation):
    assert client.get(reverse("survey_answer", args=["no-such-token"])).status_code == 404
    assert client.post(reverse("survey_answer", args=["no-such-token"]), {}).status_code == 404
    # Not a token's characters (a NUL once reached PostgreSQL's query: a 500).
    assert client.get("/encuesta/%00/").status_code == 404
    assert client.post("/encuesta/a%00b/", {}).status_code == 404


def test_answering_through_the_public_page_stores_answers_follow_up_and_timeline(
    client, invitation, survey
):
    url = reverse("survey_answer", args=[invitation.token])

    response = client.post(url, post_data(survey, 4, "Internet", "Muy amables"))

    assert response.status_code == 302 and response.url == url
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    q_scale, q_choice, q_text = questions(survey)
    stored = {a.question_id: a for a in Answer.objects.filter(invitation=invitation)}
    assert stored[q_scale.pk].number == 4
    assert stored[q_choice.pk].text == "Internet"
    assert stored[q_text.pk].text == "Muy amables"
    follow_up = invitation.gestion.follow_ups.get(kind=FollowUp.Kind.SURVEY)
    assert follow_up.state == invitation.gestion.state == follow_up.from_state
    assert "¿Qué tan satisfecho quedó?: 4" in follow_up.notes
    assert "Muy amables" in follow_up.notes
    entry = Interaction.objects.get(
        customer=invitation.gestion.customer, direction=Interaction.Direction.INBOUND
    )
    assert entry.kind == Interaction.Kind.FOLLOW_UP
    assert "respondió la encuesta «Satisfacción»" in entry.summary
    assertContains(client.get(url), "Ya respondió esta encuesta")


def test_an_optional_question_may_stay_blank(client, invitation, survey):
    client.post(
        reverse("survey_answer", args=[invitation.token]), post_data(survey, 5, "Radio", "")
    )

    assert Answer.objects.filter(invitation=invitation).count() == 2


def test_required_questions_are_enforced_with_spanish_messages(client, invitation, survey):
    response = client.post(reverse("survey_answer", args=[invitation.token]), post_data(survey))

    assert response.status_code == 200
    assertContains(response, "Responda esta pregunta.", count=2)
    invitation.refresh_from_db()
    assert invitation.answered_at is None
    assert not Answer.objects.exists()


def test_a_value_outside_the_scale_is_refused(client, invitation, survey):
    response = client.post(
        reverse("survey_answer", args=[invitation.token]), post_data(survey, 9, "Radio")
    )

    assertContains(response, "Elija una de las opciones.")
    assert not Answer.objects.exists()


def test_the_service_checks_the_answers_too(invitation, survey):
    q_scale, q_choice, _text = questions(survey)

    with pytest.raises(ValidationError) as error:
        survey_services.answer_survey(
            invitation=invitation, answers={q_scale.pk: 0, q_choice.pk: "Tele"}
        )

    assert error.value.message_dict == {
        f"question_{q_scale.pk}": ["Elija un valor entre 1 y 5."],
        f"question_{q_choice.pk}": ["Elija una de las opciones."],
    }
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_a_survey_is_answered_only_once(client, invitation, survey):
    url = reverse("survey_answer", args=[invitation.token])
    client.post(url, post_data(survey, 4, "Radio"))

    response = client.post(url, post_data(survey, 1, "Internet"))

    assertContains(response, "Ya respondió esta encuesta")
    assert Answer.objects.get(question__kind=Question.Kind.SCALE).number == 4
    assert FollowUp.objects.filter(kind=FollowUp.Kind.SURVEY).count() == 1


def test_a_survey_switched_off_takes_no_more_answers_from_its_links(client, invitation, survey):
    """Its links, sent before, still took answers."""
    survey.is_active = False
    survey.save()
    url = reverse("survey_answer", args=[invitation.token])

    shown = client.get(url)
    sent = client.post(url, post_data(survey, 4, "Radio"))

    assertContains(shown, "Esta encuesta ya no recibe respuestas.")
    assertContains(sent, "Esta encuesta ya no recibe respuestas.")
    assert not Answer.objects.exists()


def test_a_stale_second_submission_stores_nothing(invitation, survey):
    """Two submissions at once: both read answered_at empty, only one claims the row."""
    q_scale, q_choice, _text = questions(survey)
    stale = SurveyInvitation.objects.get(pk=invitation.pk)
    survey_services.answer_survey(
        invitation=invitation, answers={q_scale.pk: 5, q_choice.pk: "Radio"}
    )

    with pytest.raises(ValidationError) as error:
        survey_services.answer_survey(
            invitation=stale, answers={q_scale.pk: 1, q_choice.pk: "Radio"}
        )

    assert error.value.code == "answered"
    assert list(Answer.objects.filter(question=q_scale).values_list("number", flat=True)) == [5]
    assert FollowUp.objects.filter(kind=FollowUp.Kind.SURVEY).count() == 1


def test_too_many_answers_from_one_address_get_a_429(client, invitation, survey, monkeypatch):
    monkeypatch.setattr(views, "SURVEY_RATE_LIMIT", "2/h")
    url = reverse("survey_answer", args=[invitation.token])
    client.post(url, post_data(survey))
    client.post(url, post_data(survey))

    response = client.post(url, post_data(survey, 3, "Radio"))

    assert response.status_code == 429
    assertContains(response, "demasiadas respuestas", status_code=429)
    assert not Answer.objects.exists()
    assert client.get(url).status_code == 200  # reading the page is not limited


def test_the_rate_limit_is_thirty_an_hour():
    assert views.SURVEY_RATE_LIMIT == "30/h"


# --- Report -----------------------------------------------------------------------------


def answered(make_gestion, survey, scale, choice, text="", sent_at=NOW, gestion_type=None):
    """Return an invitation sent at `sent_at`, answered with these values (scale None: unsent)."""
    kwargs = {"customer": CustomerFactory(), "now": sent_at}
    if gestion_type is not None:
        kwargs |= {"gestion_type": gestion_type, "data": {"categoria": "Reclamo"}}
    gestion = make_gestion(**kwargs)
    invitation = SurveyInvitation.objects.create(gestion=gestion, survey=survey, sent_at=sent_at)
    if scale is not None:
        q_scale, q_choice, q_text = questions(survey)
        survey_services.answer_survey(
            invitation=invitation,
            answers={q_scale.pk: scale, q_choice.pk: choice, q_text.pk: text},
            now=sent_at + datetime.timedelta(hours=2),
        )
    return invitation


@pytest.fixture
def known_answers(make_gestion, survey):
    """Five sent, four answered: scale 5, 4, 4, 2; Radio ×1, Internet ×3."""
    answered(make_gestion, survey, 5, "Radio", "Excelente atención")
    answered(make_gestion, survey, 4, "Internet")
    answered(make_gestion, survey, 4, "Internet", "Demoraron un poco")
    answered(make_gestion, survey, 2, "Internet")
    answered(make_gestion, survey, None, None)


def test_the_report_counts_rate_averages_distribution_and_choices(survey, known_answers):
    result = survey_selectors.report(survey=survey)

    assert (result.sent, result.answered) == (5, 4)
    assert result.response_rate == Decimal("80.0")
    (scale,) = result.scales
    assert scale.average == Decimal("3.75")
    assert scale.distribution == [(1, 0), (2, 1), (3, 0), (4, 2), (5, 1)]
    (choice,) = result.choices
    assert choice.rows == [
        ("Radio", 1, Decimal("25.0")),
        ("Internet", 3, Decimal("75.0")),
        ("Un amigo", 0, Decimal("0.0")),
    ]
    assert [q.text for q in result.text_questions] == ["Comentarios"]


def test_the_choice_percentages_add_up_to_100(make_gestion, survey):
    # One answer each: rounded one by one, 33.3 three times made 99.9 under 100.
    for choice in ("Radio", "Internet", "Un amigo"):
        answered(make_gestion, survey, 5, choice)

    (choice,) = survey_selectors.report(survey=survey).choices

    assert [share for _option, _count, share in choice.rows] == [
        Decimal("33.4"),
        Decimal("33.3"),
        Decimal("33.3"),
    ]


def test_percentages_round_half_up_to_one_place():
    assert survey_selectors.percent(1, 16) == Decimal("6.3")
    assert survey_selectors.percent(2, 3) == Decimal("66.7")
    assert survey_selectors.percent(0, 0) is None


def test_the_report_filters_by_sent_date_and_gestion_type(
    make_gestion, survey, service_type, known_answers
):
    answered(make_gestion, survey, 1, "Radio", sent_at=NOW - datetime.timedelta(days=40))
    answered(
        make_gestion,
        survey,
        1,
        "Un amigo",
        gestion_type=service_type,
        sent_at=NOW,
    )

    everything = survey_selectors.report(survey=survey)
    recent = survey_selectors.report(
        survey=survey,
        filters=survey_selectors.ReportFilters(date_from=NOW.date(), date_to=NOW.date()),
    )
    services_only = survey_selectors.report(
        survey=survey, filters=survey_selectors.ReportFilters(gestion_type=service_type)
    )

    assert (everything.sent, everything.answered) == (7, 6)
    assert (recent.sent, recent.answered) == (6, 5)
    assert (services_only.sent, services_only.answered) == (1, 1)
    assert services_only.scales[0].average == Decimal("1.00")


def test_the_report_page_shows_the_figures_and_links_text_answers_to_their_gestion(
    client, supervisor, survey, known_answers, django_assert_max_num_queries
):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_report", args=[survey.pk])

    with django_assert_max_num_queries(16):  # however many answers
        response = client.get(url)

    assert response.status_code == 200
    assertContains(response, "80.0 %")  # Peruvian format: decimal point
    assertContains(response, "3.75")
    assertContains(response, 'data-chart="scale-chart-')
    assertContains(response, "Excelente atención")
    text_answer = Answer.objects.get(text="Excelente atención")
    assertContains(response, f'href="{text_answer.invitation.gestion.get_absolute_url()}"')


def test_the_report_page_filters_from_the_query_string(client, supervisor, survey, known_answers):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_report", args=[survey.pk])

    response = client.get(url, {"date_from": "2026-06-01"})

    assert response.context["report"].sent == 0
    bad = client.get(url, {"date_from": "2026-06-01", "date_to": "2026-05-01"})
    assertContains(bad, "posterior")
    assert bad.context["report"].sent == 5


def test_the_report_shows_everything_for_an_end_on_the_last_day_of_the_calendar(
    client, supervisor, survey, known_answers
):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_report", args=[survey.pk])

    response = client.get(url, {"date_to": "9999-12-31"})

    assert response.status_code == 200
    assertContains(response, "Enviadas hasta: Elija una fecha entre el 01/01/2000 y el 31/12/")
    assert response.context["report"].sent == 5


def test_text_answers_page_through_an_htmx_fragment(client, supervisor, survey, known_answers):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_report", args=[survey.pk])

    response = client.get(
        url, {"page": "1"}, headers={"HX-Request": "true", "HX-Target": "survey-text-answers"}
    )

    assertTemplateUsed(response, "gestiones/partials/survey_text_answers.html")
    assertNotContains(response, "Tasa de respuesta")
    assertContains(response, "Demoraron un poco")


# --- A gestión's survey ----------------------------------------------------------------


def test_the_gestion_partial_shows_the_invitation_and_its_answers(
    rf, supervisor, invitation, survey
):
    q_scale, q_choice, _text = questions(survey)
    survey_services.answer_survey(
        invitation=invitation, answers={q_scale.pk: 4, q_choice.pk: "Radio"}
    )
    request = rf.get("/")
    request.user = supervisor
    gestion = invitation.gestion

    html = render_to_string(
        "gestiones/partials/survey_answers.html",
        {"gestion": gestion, "survey_invitation": survey_selectors.invitation_for(gestion)},
        request=request,
    )

    assert 'data-survey-status="answered"' in html
    assert "¿Qué tan satisfecho quedó?" in html and "Radio" in html
    assert reverse("gestiones:survey_report", args=[survey.pk]) in html


def test_the_gestion_partial_works_from_the_gestion_alone(rf, asesor, make_gestion, invitation):
    request = rf.get("/")
    request.user = asesor
    other = make_gestion(customer=CustomerFactory())

    sent = render_to_string(
        "gestiones/partials/survey_answers.html", {"gestion": invitation.gestion}, request=request
    )
    none = render_to_string(
        "gestiones/partials/survey_answers.html", {"gestion": other}, request=request
    )

    assert 'data-survey-status="sent"' in sent
    assert 'data-survey-status="none"' in none


def test_invitation_for_prefetches_answers_and_questions(
    invitation, survey, django_assert_num_queries
):
    q_scale, q_choice, _text = questions(survey)
    survey_services.answer_survey(
        invitation=invitation, answers={q_scale.pk: 4, q_choice.pk: "Radio"}
    )

    with django_assert_num_queries(3):
        found = survey_selectors.invitation_for(invitation.gestion)
        texts = [a.question.text for a in found.answers.all()]
        list(found.survey.questions.all())

    assert texts == ["¿Qué tan satisfecho quedó?", "¿Por qué canal nos conoció?"]


# --- Configuring ------------------------------------------------------------------------


def formset_data(rows: list[dict], initial: int = 0) -> dict:
    data = {
        "q-TOTAL_FORMS": str(len(rows)),
        "q-INITIAL_FORMS": str(initial),
        "q-MIN_NUM_FORMS": "0",
        "q-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"q-{i}-{key}"] = value
    return data


def test_a_supervisor_creates_a_survey_with_its_questions(client, supervisor):
    client.force_login(supervisor)
    data = {"name": "Post venta", "intro": "", "thanks": "¡Gracias!", "is_active": "on"}
    data |= formset_data(
        [
            {"order": "1", "text": "¿Nos recomendaría?", "kind": "scale", "scale_min": "0",
             "scale_max": "10", "is_required": "on", "choices": ""},
            {"order": "2", "text": "¿Qué mejoraría?", "kind": "text", "scale_min": "1",
             "scale_max": "5", "choices": ""},
            {"order": "0", "text": "", "kind": "", "scale_min": "1", "scale_max": "5",
             "is_required": "on", "choices": ""},
        ]
    )  # fmt: skip

    response = client.post(reverse("gestiones:survey_create"), data)

    survey = Survey.objects.get(name="Post venta")
    assert response.status_code == 302
    assert response.url == reverse("gestiones:survey_report", args=[survey.pk])
    assert [(q.text, q.kind, q.scale_min, q.scale_max) for q in survey.questions.all()] == [
        ("¿Nos recomendaría?", "scale", 0, 10),
        ("¿Qué mejoraría?", "text", 1, 5),
    ]


def test_a_choice_question_without_options_is_refused(client, supervisor):
    client.force_login(supervisor)
    data = {"name": "Rápida", "thanks": "Gracias", "is_active": "on"}
    data |= formset_data(
        [{"order": "1", "text": "¿Color?", "kind": "choice", "scale_min": "1",
          "scale_max": "5", "is_required": "on", "choices": ""}]
    )  # fmt: skip

    response = client.post(reverse("gestiones:survey_create"), data)

    assert response.status_code == 200
    assertContains(response, "necesita opciones")
    assert not Survey.objects.filter(name="Rápida").exists()


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"kind": "scale", "scale_min": "1", "scale_max": "1000000"}, "llega como máximo a 10"),
        ({"kind": "scale", "scale_min": "5", "scale_max": "1"}, "de un número menor a uno mayor"),
        (
            {"kind": "choice", "choices": "\n".join(f"Opción {n}" for n in range(21))},
            "como máximo 20 opciones; hay 21",
        ),
        ({"kind": "choice", "choices": "x" * 201}, "como máximo 200 caracteres"),
    ],
)
def test_a_question_is_as_long_as_a_page_can_show(client, supervisor, question, message):
    """1 to 1,000,000 was a scale: a 100 MB survey page and a report a minute long."""
    client.force_login(supervisor)
    row = {"order": "1", "text": "¿Qué tal?", "scale_min": "1", "scale_max": "5", "choices": ""}
    data = {"name": "Ancha", "thanks": "Gracias", "is_active": "on"}
    data |= formset_data([{**row, "is_required": "on", **question}])

    response = client.post(reverse("gestiones:survey_create"), data)

    assertContains(response, message)
    assertNotContains(response, "gestiones_question_scale_range")
    assert not Survey.objects.filter(name="Ancha").exists()


def test_an_answered_question_cannot_be_removed_or_change_kind(invitation, survey):
    q_scale, q_choice, q_text = questions(survey)
    survey_services.answer_survey(
        invitation=invitation, answers={q_scale.pk: 4, q_choice.pk: "Radio"}
    )
    data = {"name": survey.name, "thanks": survey.thanks, "is_active": True}
    keep = [
        survey_services.QuestionData(question=q, text=q.text, kind=q.kind, choices=q.choices)
        for q in (q_choice, q_text)
    ]

    with pytest.raises(ValidationError, match="no se puede eliminar"):
        survey_services.save_survey(survey=survey, data=data, questions=keep, removed=[q_scale])
    changed = [
        survey_services.QuestionData(question=q_scale, text=q_scale.text, kind=Question.Kind.TEXT),
        *keep,
    ]
    with pytest.raises(ValidationError, match="no se puede cambiar su tipo"):
        survey_services.save_survey(survey=survey, data=data, questions=changed)
    # An unanswered one may go.
    survey_services.save_survey(
        survey=survey,
        data=data,
        questions=[
            survey_services.QuestionData(question=q, text=q.text, kind=q.kind, choices=q.choices)
            for q in (q_scale, q_choice)
        ],
        removed=[q_text],
    )
    assert survey.questions.count() == 2


def test_an_answered_question_keeps_its_scale_and_the_options_chosen(invitation, survey):
    # A 4 of 1–5 read as a 4 of 1–10, or "Radio" answers left out of the report's options.
    q_scale, q_choice, q_text = questions(survey)
    survey_services.answer_survey(
        invitation=invitation, answers={q_scale.pk: 4, q_choice.pk: "Radio"}
    )
    data = {"name": survey.name, "thanks": survey.thanks, "is_active": True}

    def save(**changes):
        rows = []
        for q in (q_scale, q_choice, q_text):
            row = {"question": q, "text": q.text, "kind": q.kind, "choices": q.choices,
                   "scale_min": q.scale_min, "scale_max": q.scale_max}  # fmt: skip
            row.update(changes.get(q.kind, {}))
            rows.append(survey_services.QuestionData(**row))
        return survey_services.save_survey(survey=survey, data=data, questions=rows)

    with pytest.raises(ValidationError, match="no se puede cambiar su escala"):
        save(scale={"scale_max": 10})
    options = q_choice.choices.replace("Radio", "Radio FM")
    with pytest.raises(ValidationError, match="con la opción «Radio»; no se puede quitar"):
        save(choice={"choices": options})
    # Its text may be corrected, and an option added.
    save(
        scale={"text": "¿Qué tan satisfecho quedó?"}, choice={"choices": q_choice.choices + "\nTV"}
    )
    q_scale.refresh_from_db()
    q_choice.refresh_from_db()
    assert (q_scale.text, q_scale.scale_max) == ("¿Qué tan satisfecho quedó?", 5)
    assert q_choice.choice_list()[-1] == "TV"


def test_the_editor_shows_the_questions_and_saves_changes(client, supervisor, survey):
    client.force_login(supervisor)
    url = reverse("gestiones:survey_update", args=[survey.pk])
    q_scale, q_choice, q_text = questions(survey)
    assertContains(client.get(url), "¿Por qué canal nos conoció?")
    rows = [
        {"id": str(q.pk), "survey": str(survey.pk), "order": str(q.order), "text": q.text,
         "kind": q.kind, "choices": q.choices, "scale_min": "1", "scale_max": "5",
         "is_required": "on"}
        for q in (q_scale, q_choice, q_text)
    ]  # fmt: skip
    rows[0]["text"] = "¿Qué tan satisfecho quedó con la atención?"
    rows[2]["DELETE"] = "on"
    data = {"name": "Satisfacción 2", "thanks": "Gracias", "is_active": "on"}

    response = client.post(url, data | formset_data(rows, initial=3))

    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.name == "Satisfacción 2"
    assert [q.text for q in survey.questions.all()] == [
        "¿Qué tan satisfecho quedó con la atención?",
        "¿Por qué canal nos conoció?",
    ]


def test_the_list_searches_surveys(client, supervisor, survey):
    Survey.objects.create(name="Cobranza amable")
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:survey_list"), {"q": "satisf"})

    assertContains(response, "Satisfacción")
    assertNotContains(response, "Cobranza amable")


# --- Permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "outsider"])
def test_staff_without_the_survey_permissions_are_refused(client, request, who, survey):
    client.force_login(request.getfixturevalue(who))

    for url in (
        reverse("gestiones:survey_list"),
        reverse("gestiones:survey_create"),
        reverse("gestiones:survey_report", args=[survey.pk]),
        reverse("gestiones:survey_update", args=[survey.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("gestiones:survey_create"), {"name": "X"}).status_code == 403
    assert Survey.objects.count() == 1


def test_a_supervisor_opens_every_survey_screen(client, supervisor, survey):
    client.force_login(supervisor)

    for url in (
        reverse("gestiones:survey_list"),
        reverse("gestiones:survey_create"),
        reverse("gestiones:survey_report", args=[survey.pk]),
        reverse("gestiones:survey_update", args=[survey.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_the_staff_screens_ask_anonymous_visitors_to_sign_in(client, survey):
    response = client.get(reverse("gestiones:survey_list"))

    assert response.status_code == 302
    assert reverse("login") in response.url


@pytest.mark.parametrize(
    ("survey_fields", "question", "message"),
    [
        # The customer would see "Sí" twice, and the report counted its answers twice.
        ({}, {"kind": "choice", "choices": "Sí\nNo\nsí "}, "La opción «sí» está repetida"),
        ({}, {"order": "10000000000"}, "menor o igual a 1000"),
        ({"intro": "x" * 100_000}, {}, "como máximo 2000 caracteres"),
    ],
)
def test_a_survey_is_refused_options_twice_and_absurd_sizes(
    client, supervisor, survey_fields, question, message
):
    client.force_login(supervisor)
    row = {"order": "1", "text": "¿Qué tal?", "kind": "scale", "scale_min": "1",
           "scale_max": "5", "choices": "", "is_required": "on"}  # fmt: skip
    data = {"name": "Acotada", "thanks": "Gracias", "is_active": "on", **survey_fields}
    data |= formset_data([{**row, **question}])

    response = client.post(reverse("gestiones:survey_create"), data)

    assertContains(response, message)
    assert not Survey.objects.filter(name="Acotada").exists()
