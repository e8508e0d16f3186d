"""The deletions audit lives in the core: each app registers its kinds with their labels,
and the audit page reads them from there."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm import deletions


@pytest.fixture
def tea_kind():
    deletions.register_deletion_kind("tea", "Té")
    yield "tea"
    deletions.unregister_deletion_kind("tea")


def test_a_kind_is_shown_by_the_label_its_app_registered(tea_kind):
    assert deletions.kind_label(tea_kind) == "Té"


def test_a_kind_no_app_registered_is_shown_by_its_code():
    assert deletions.kind_label("no_such_kind") == "no_such_kind"


def test_another_label_for_a_taken_kind_is_refused(tea_kind):
    with pytest.raises(ImproperlyConfigured):
        deletions.register_deletion_kind(tea_kind, "Café")


def test_a_kind_longer_than_its_column_is_refused():
    with pytest.raises(ImproperlyConfigured):
        deletions.register_deletion_kind("x" * (deletions.KIND_MAX_LENGTH + 1), "Largo")


def test_every_app_registers_its_own_kinds():
    assert {
        "goal",
        "survey",
        "question",
        "campaign",
        "template",
        "segment",
        "message_template",
        "flow",
        "product",
    } <= dict(deletions.kinds()).keys()


def test_the_page_shows_a_record_of_an_unknown_kind_by_its_code(client, supervisor):
    deletions.record_deletion(kind="retired", object_id=4, name="Algo antiguo", actor=None)
    client.force_login(supervisor)

    response = client.get(reverse("gestiones:deletion_list"))

    assert response.context["rows"][0][1] == "retired"
    assertContains(response, "Algo antiguo")


def test_supervisors_read_the_audit_with_the_core_permission(supervisor, cobranzas):
    assert supervisor.has_perm("crm.view_deletionrecord")
    assert not cobranzas.has_perm("crm.view_deletionrecord")
