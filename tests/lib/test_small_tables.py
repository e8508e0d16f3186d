"""Small tables kept per process: current after a save or a delete here, within a second
after another process's change or an emptied cache."""

import time

import pytest
from django.core.cache import cache

from crm.models import Branch
from lib import shared_versions, small_tables
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_rows_come_by_pk_and_a_second_read_asks_the_database_nothing(
    django_assert_num_queries,
):
    north = BranchFactory(name="Norte")

    (branches,) = small_tables.rows(Branch)
    with django_assert_num_queries(0):
        (again,) = small_tables.rows(Branch)

    assert branches[north.pk].name == "Norte"
    assert again is branches


def test_a_saved_or_new_row_shows_on_the_next_read():
    north = BranchFactory(name="Norte")
    small_tables.rows(Branch)

    north.name = "Norte Grande"
    north.save()
    south = BranchFactory(name="Sur")
    (branches,) = small_tables.rows(Branch)

    assert branches[north.pk].name == "Norte Grande"
    assert branches[south.pk].name == "Sur"


def test_a_deleted_row_is_gone_on_the_next_read():
    gone = BranchFactory(name="Cerrada")
    small_tables.rows(Branch)

    gone.delete()
    (branches,) = small_tables.rows(Branch)

    assert gone.pk not in branches


def later(monkeypatch, seconds: float) -> None:
    """Move this process's clock `seconds` on (the memo of the versions read, the copies' age)."""
    clock = time.monotonic() + seconds
    monkeypatch.setattr(time, "monotonic", lambda: clock)


def test_another_process_change_counts_within_a_second(monkeypatch, django_assert_num_queries):
    north = BranchFactory(name="Norte")
    small_tables.rows(Branch)
    # What another web process's save does here: the row changes, the version moves on.
    Branch.objects.filter(pk=north.pk).update(name="Norte (otro proceso)")
    cache.incr(small_tables._version_key(Branch))

    with django_assert_num_queries(0):  # the version read less than a second ago
        (before,) = small_tables.rows(Branch)
    later(monkeypatch, shared_versions.READ_SECONDS)
    (branches,) = small_tables.rows(Branch)

    assert before[north.pk].name == "Norte"
    assert branches[north.pk].name == "Norte (otro proceso)"


def test_the_versions_are_asked_of_the_cache_at_most_once_a_second(monkeypatch):
    small_tables.rows(Branch)
    asked = []
    get_many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: asked.append(keys) or get_many(keys))

    for _ in range(5):
        small_tables.rows(Branch)
    later(monkeypatch, shared_versions.READ_SECONDS)
    small_tables.rows(Branch)

    assert asked == [[small_tables._version_key(Branch)]]


def test_an_emptied_cache_reloads_rather_than_trusting_the_old_copy(monkeypatch):
    north = BranchFactory(name="Norte")
    small_tables.rows(Branch)
    Branch.objects.filter(pk=north.pk).update(name="Norte renombrada")  # no signal

    cache.clear()
    later(monkeypatch, shared_versions.READ_SECONDS)
    (branches,) = small_tables.rows(Branch)

    assert branches[north.pk].name == "Norte renombrada"


def test_a_change_without_a_signal_shows_after_max_age(monkeypatch):
    north = BranchFactory(name="Norte")
    small_tables.rows(Branch)
    Branch.objects.filter(pk=north.pk).update(name="Norte tarde")  # no signal, no version
    later(monkeypatch, small_tables.MAX_AGE + 1)

    (branches,) = small_tables.rows(Branch)

    assert branches[north.pk].name == "Norte tarde"


def test_people_are_kept_with_their_names_only():
    person = UserFactory(first_name="Ana", last_name="Ríos")

    (people,) = small_tables.rows(small_tables.people())

    kept = people[person.pk]
    assert kept.get_full_name() == "Ana Ríos"
    assert "password" in kept.get_deferred_fields()


def test_a_copy_of_some_columns_never_stands_in_for_the_whole_table():
    person = UserFactory(first_name="Ana", last_name="Ríos", email="ana@example.com")

    (names,) = small_tables.rows(small_tables.people())
    (whole,) = small_tables.rows(type(person))

    assert "email" in names[person.pk].get_deferred_fields()
    assert whole[person.pk].get_deferred_fields() == set()
    assert whole[person.pk].email == "ana@example.com"


def test_the_message_policy_saved_where_it_was_never_read_tells_the_processes_that_keep_it():
    # A worker keeps the policy (crm.messages reads it at each delivery); the page that edits
    # it never reads it through small_tables, so the app watches it from the start.
    from crm.models import MessagePolicy

    key = "small-tables:version:crm.messagepolicy"
    policy = MessagePolicy.current()
    cache.set(key, 5)

    policy.daily_limit = 2
    policy.save()

    assert cache.get(key) == 6
