"""«Sin horario de silencio» (start equal to end, what an empty MESSAGES_QUIET_HOURS makes)
can be kept, and chosen, on the policy's page; two equal times typed are still refused."""

import datetime

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.models import MessagePolicy

URL = "collections_app:message_policy"


@pytest.fixture
def no_quiet_hours(db) -> MessagePolicy:
    MessagePolicy.objects.update_or_create(
        pk=1,
        defaults={"quiet_start": datetime.time(0), "quiet_end": datetime.time(0), "daily_limit": 3},
    )
    return MessagePolicy.current()


def test_the_page_shows_a_policy_without_quiet_hours_as_such(client, supervisor, no_quiet_hours):
    client.force_login(supervisor)

    response = client.get(reverse("collections_app:event_settings"))

    form = response.context["policy_form"]
    assert form["has_no_quiet_hours"].value() is True
    assertContains(response, "Sin horario de silencio")


def test_a_policy_without_quiet_hours_keeps_them_while_the_limit_changes(
    client, supervisor, no_quiet_hours
):
    client.force_login(supervisor)
    data = {
        "quiet_start": "00:00",
        "quiet_end": "00:00",
        "has_no_quiet_hours": "on",
        "daily_limit": "5",
    }

    response = client.post(reverse(URL), data)

    assert response.status_code == 302
    policy = MessagePolicy.current()
    assert (policy.quiet_start, policy.quiet_end, policy.daily_limit) == (
        datetime.time(0),
        datetime.time(0),
        5,
    )


def test_no_quiet_hours_may_be_chosen_leaving_the_times_empty(client, supervisor):
    MessagePolicy.objects.update_or_create(
        pk=1, defaults={"quiet_start": datetime.time(20), "quiet_end": datetime.time(8)}
    )
    client.force_login(supervisor)

    response = client.post(
        reverse(URL),
        {"quiet_start": "", "quiet_end": "", "has_no_quiet_hours": "on", "daily_limit": "3"},
    )

    assert response.status_code == 302
    policy = MessagePolicy.current()
    assert policy.quiet_start == policy.quiet_end


def test_quiet_hours_come_back_when_the_box_is_unticked(client, supervisor, no_quiet_hours):
    client.force_login(supervisor)

    client.post(reverse(URL), {"quiet_start": "21:00", "quiet_end": "07:00", "daily_limit": "3"})

    policy = MessagePolicy.current()
    assert (policy.quiet_start, policy.quiet_end) == (datetime.time(21), datetime.time(7))


def test_two_equal_times_typed_without_the_box_are_still_refused(
    client, supervisor, no_quiet_hours
):
    client.force_login(supervisor)

    response = client.post(
        reverse(URL), {"quiet_start": "20:00", "quiet_end": "20:00", "daily_limit": "3"}
    )

    assert response.status_code == 200
    assert response.context["policy_form"].errors["quiet_end"] == [
        "El silencio debe terminar a otra hora que la de inicio (p. ej. de 20:00 a 08:00)."
    ]


def test_quiet_hours_left_empty_without_the_box_are_asked_for(client, supervisor):
    client.force_login(supervisor)

    response = client.post(reverse(URL), {"quiet_start": "", "quiet_end": "", "daily_limit": "3"})

    assert response.context["policy_form"].errors["quiet_start"] == [
        "Indique desde qué hora no se envían mensajes."
    ]
