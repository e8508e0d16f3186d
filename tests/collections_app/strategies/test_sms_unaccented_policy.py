"""«SMS sin tildes» on the Estrategias screens: the message policy's form saves it, and the
template editor counts an SMS's parts on the text as it is sent."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.strategies import templating
from crm.models import MessagePolicy

HTMX = {"HX-Request": "true"}
# 100 characters with one "á": two UCS-2 parts as written, one GSM part without the accent.
ACCENTED = "á" + "a" * 99


@pytest.fixture
def unaccented(db):
    return MessagePolicy.objects.create(pk=1, is_sms_unaccented=True)


def post_policy(client, **changes):
    data = {"quiet_start": "20:00", "quiet_end": "08:00", "daily_limit": "3", **changes}
    return client.post(reverse("collections_app:message_policy"), data)


def test_the_policy_form_saves_sms_without_accents(client, supervisor):
    client.force_login(supervisor)

    response = post_policy(client, is_sms_unaccented="on")

    assert response.status_code == 302
    assert MessagePolicy.current().is_sms_unaccented is True


def test_the_policy_form_turns_sms_without_accents_off(client, supervisor, unaccented):
    client.force_login(supervisor)

    response = post_policy(client)

    assert response.status_code == 302
    assert MessagePolicy.current().is_sms_unaccented is False


def test_the_policy_screen_says_what_sms_without_accents_does(client, cobranzas):
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:event_settings"))

    assertContains(response, "SMS sin tildes")
    assertContains(response, "se cobra por partes de 70 caracteres en vez de 160")


def test_without_the_policy_an_accent_counts_parts_of_70(db):
    assert templating.sms_parts_as_sent(ACCENTED) == 2


def test_with_the_policy_the_parts_are_counted_without_the_accents(unaccented):
    assert templating.sms_parts_as_sent(ACCENTED) == 1
    # A character with no GSM equivalent still sends it as UCS-2.
    assert templating.sms_parts_as_sent("😀" + ACCENTED) == 2


def test_with_the_policy_a_template_that_fits_only_without_accents_is_saved(unaccented):
    """700 "á" are 11 UCS-2 parts as written, but 5 GSM parts as sent."""
    assert templating.body_problem("sms", "á" * 700) == ""


def test_without_the_policy_the_same_template_is_refused(db):
    assert templating.body_problem("sms", "á" * 700).startswith("El texto ocupa 11 SMS")


def test_the_editors_counter_counts_the_text_as_sent(client, cobranzas, unaccented):
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:template_counter"),
        {"channel": "sms", "body": ACCENTED},
        headers=HTMX,
    )

    assertContains(response, "1 SMS")
