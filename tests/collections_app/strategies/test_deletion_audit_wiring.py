"""The deletions audit, wired outside the audit's own files: who deleted a segment or a
template on its screen, and the «Eliminaciones» link for those who may read the audit.

These fail until collections_app/strategies/views.py passes `actor=request.user` to
`delete_segment` and `delete_template`, and templates/gestiones/partials/deletions_link.html
checks `perms.crm.view_deletionrecord` (the permission moved to crm).
"""

from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.models import DeletionRecord


def test_who_deleted_a_segment_on_its_screen_is_recorded(client, cobranzas, segment):
    client.force_login(cobranzas)

    client.post(reverse("collections_app:segment_delete", args=[segment.pk]), {"confirm": "yes"})

    assert DeletionRecord.objects.get().deleted_by == cobranzas


def test_who_deleted_a_template_on_its_screen_is_recorded(client, cobranzas, sms_template):
    client.force_login(cobranzas)

    client.post(
        reverse("collections_app:template_delete", args=[sms_template.pk]), {"confirm": "yes"}
    )

    assert DeletionRecord.objects.get().deleted_by == cobranzas


def test_supervisors_see_the_link_to_the_deletions(client, supervisor):
    client.force_login(supervisor)

    assertContains(client.get(reverse("gestiones:goal_list")), 'id="deletions-link"')
