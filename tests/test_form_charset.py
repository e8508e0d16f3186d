"""A form body in a charset other than UTF-8 gets the 400 page, on every anonymous form.

Django refuses a non-UTF-8 urlencoded body with BadRequest, and its error handlers then
ran the CSRF check again, which read the body again and failed inside the error page:
the visitor got the server's bare 500. lib.middleware.FormCharsetMiddleware answers
before anything reads the body.
"""

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertTemplateUsed

from crm.gestiones import examples
from crm.gestiones import services as gestion_services
from crm.gestiones.models import Campaign, Question, Survey, SurveyInvitation
from tests.factories import ChannelFactory, CustomerFactory, UserFactory

FORM = "application/x-www-form-urlencoded"
REFUSED_CONTENT_TYPES = {
    "utf-16": f"{FORM}; charset=utf-16",
    "utf-16-multipart": "multipart/form-data; boundary=xyz; charset=utf-16",
    "latin-1": f"{FORM}; charset=iso-8859-1",
    "unknown-charset": f"{FORM}; charset=x-no-such-charset",
}


@pytest.fixture
def campaign_url(db) -> str:
    agent = UserFactory(username="gestor", role="Asesor")
    call = examples.build_process(examples.SERVICE_REQUEST, agents=[agent])
    campaign = Campaign.objects.create(
        name="Feria vehicular",
        slug="feria-vehicular",
        kind=Campaign.Kind.INBOUND,
        status=Campaign.Status.ACTIVE,
        gestion_type=call,
        channel=ChannelFactory(code="feria", name="Feria"),
    )
    return reverse("campaign_form", args=[campaign.slug])


@pytest.fixture
def survey_url(db) -> str:
    agent = UserFactory(username="gestor", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[agent])
    gestion = gestion_services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )
    survey = Survey.objects.create(name="Satisfacción")
    Question.objects.create(survey=survey, text="Comentarios", kind=Question.Kind.TEXT, order=1)
    invitation = SurveyInvitation.objects.create(gestion=gestion, survey=survey)
    return reverse("survey_answer", args=[invitation.token])


@pytest.fixture(params=["login", "calculator_lead", "campaign", "survey"])
def form_url(request, db) -> str:
    """Each anonymous form's address."""
    if request.param == "campaign":
        return request.getfixturevalue("campaign_url")
    if request.param == "survey":
        return request.getfixturevalue("survey_url")
    return reverse(request.param)


@pytest.fixture
def visitor(form_url) -> Client:
    """A client that checks CSRF as a browser's request is checked, with its cookie."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    return client


def body(visitor: Client, **fields: str) -> str:
    token = visitor.cookies["csrftoken"].value
    return "&".join(f"{k}={v}" for k, v in {"csrfmiddlewaretoken": token, **fields}.items())


@pytest.mark.parametrize("content_type", REFUSED_CONTENT_TYPES.values(), ids=REFUSED_CONTENT_TYPES)
def test_a_form_body_not_in_utf8_gets_the_400_page_in_spanish(visitor, form_url, content_type):
    data = body(visitor, username="ana", first_name="Ana").encode("utf-16")

    response = visitor.generic("POST", form_url, data, content_type=content_type)

    assert response.status_code == 400
    assertTemplateUsed(response, "400.html")
    assertContains(response, "No pudimos leer su solicitud.", status_code=400)


@pytest.mark.parametrize("charset", ["", "; charset=utf-8", "; charset=UTF8"])
def test_a_form_body_in_utf8_reaches_the_form(visitor, form_url, charset):
    data = body(visitor, username="ana", first_name="Ana").encode()

    response = visitor.generic("POST", form_url, data, content_type=FORM + charset)

    # The form answers (its errors, a redirect, the rate limit): it read the body.
    assert response.status_code in (200, 302, 429)


def test_a_utf16_body_that_does_not_say_so_is_not_a_server_error(visitor, form_url):
    data = body(visitor, username="ana", first_name="Ana").encode("utf-16")

    response = visitor.generic("POST", form_url, data, content_type=FORM)

    # Read as Latin-1 (Django's fallback), its CSRF token is not found: the expired-form page.
    assert response.status_code == 403
    assertTemplateUsed(response, "403_csrf.html")
