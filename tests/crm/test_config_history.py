"""The settings history page (DG 5): supervisors and admins read who changed which setting,
when, and from what to what; admin's change pages write old → new values too."""

from datetime import time, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from collections_app.strategies import events
from crm.models import Branch, MessagePolicy
from tests.factories import BranchFactory, UserFactory

URL = reverse("crm:config_history")


def change_policy(actor, **changes) -> None:
    policy = MessagePolicy.current()
    data = {
        "quiet_start": time(20),
        "quiet_end": time(8),
        "daily_limit": policy.daily_limit,
        "quiet_weekdays": [],
        "quiet_dates": [],
        **changes,
    }
    events.save_message_policy(data=data, actor=actor)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="jefa", first_name="Jefa", role="Administrador", is_staff=True)


def test_a_supervisor_reads_who_changed_the_message_policy_from_what_to_what(client, supervisor):
    change_policy(supervisor, daily_limit=3)
    change_policy(supervisor, daily_limit=7)
    client.force_login(supervisor)

    response = client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Historial de configuración" in body
    assert "mensajes por día y cliente: 3 → 7" in body
    assert "Política de mensajes" in body


def test_an_advisor_may_not_read_the_settings_history(client, asesor):
    client.force_login(asesor)

    assert client.get(URL).status_code == 403


def test_the_history_filters_by_kind_person_day_and_words(client, supervisor, admin_user):
    change_policy(supervisor, daily_limit=3)
    LogEntry.objects.all().delete()
    change_policy(supervisor, daily_limit=4)
    change_policy(admin_user, daily_limit=9)
    old = LogEntry.objects.order_by("pk").first()
    LogEntry.objects.filter(pk=old.pk).update(action_time=timezone.now() - timedelta(days=40))
    client.force_login(supervisor)
    today = timezone.localdate().isoformat()

    by_person = client.get(URL, {"persona": admin_user.pk}).content.decode()
    by_day = client.get(URL, {"desde": today, "hasta": today}).content.decode()
    by_words = client.get(URL, {"q": "4 → 9"}).content.decode()
    other_kind = client.get(URL, {"tipo": "flujos"}).content.decode()

    assert "4 → 9" in by_person and "3 → 4" not in by_person
    assert "4 → 9" in by_day and "3 → 4" not in by_day
    assert "4 → 9" in by_words and "3 → 4" not in by_words
    assert 'id="no-changes"' in other_kind


def test_a_reversed_date_range_is_said_not_run(client, supervisor):
    client.force_login(supervisor)

    response = client.get(URL, {"desde": "2026-06-10", "hasta": "2026-06-01"})

    assert response.status_code == 200
    assert "La fecha final es anterior a la inicial." in response.content.decode()


def test_the_history_shows_25_changes_a_page_newest_first(client, supervisor):
    change_policy(supervisor, daily_limit=1)
    LogEntry.objects.all().delete()
    for limit in range(2, 29):
        change_policy(supervisor, daily_limit=limit)
    client.force_login(supervisor)

    first = client.get(URL).content.decode()
    second = client.get(URL, {"page": 2}).content.decode()

    assert first.count('id="change-') == 25
    assert first.index("27 → 28") < first.index("26 → 27")
    assert "2 → 3" in second and "1 → 2" in second and "3 → 4" not in second


def test_admin_change_page_records_old_and_new_values(client, admin_user):
    branch = BranchFactory(name="Centro", code="centro", city="Lima")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:crm_branch_change", args=[branch.pk]),
        {"name": "Centro", "code": "centro", "city": "Cusco", "address": "", "is_active": ""},
    )

    assert response.status_code == 302
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Branch), action_flag=CHANGE
    )
    assert entry.get_change_message() == "ciudad: Lima → Cusco; activa: Sí → No"
    history = client.get(reverse("admin:crm_branch_history", args=[branch.pk]))
    assert "ciudad: Lima → Cusco" in history.content.decode()


def test_the_strategies_tabs_link_the_history_for_a_supervisor(client, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("collections_app:segment_list"))

    assert 'id="config-history-link"' in response.content.decode()
