"""A portal code request delivered twice (an ack lost, the broker's visibility timeout)
sends one code, and the code the visitor is typing keeps working."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from collections_app.models import PortalCode
from collections_app.portal import services as portal_services
from tests.collections_app.test_portal import reachable  # noqa: F401

pytestmark = pytest.mark.django_db


def request(customer, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        portal_services.request_code(
            document_type=customer.document_type,
            document_number=customer.document_number,
            request_id="task-7f3a",
        )


def test_a_request_delivered_again_sends_no_second_code(
    reachable,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    request(reachable, django_capture_on_commit_callbacks)
    (sent,) = mail.outbox
    code = re.search(r"\b(\d{6})\b", sent.body).group(1)

    request(reachable, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert PortalCode.objects.filter(customer=reachable).count() == 1
    assert (
        portal_services.check_code(
            document_type=reachable.document_type,
            document_number=reachable.document_number,
            code=code,
        )
        == reachable
    )


def test_a_new_request_still_replaces_the_code(reachable, django_capture_on_commit_callbacks):  # noqa: F811
    # The first sent more than a few minutes before the second: the code just before a new
    # one stays open a while (test_portal_two_codes).
    earlier = timezone.now() - timedelta(minutes=portal_services.PREVIOUS_CODE_MINUTES, seconds=1)
    for request_id, at in (("first", earlier), ("second", timezone.now())):
        with (
            time_machine.travel(at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            portal_services.request_code(
                document_type=reachable.document_type,
                document_number=reachable.document_number,
                request_id=request_id,
            )

    assert len(mail.outbox) == 2
    first = re.search(r"\b(\d{6})\b", mail.outbox[0].body).group(1)
    assert (
        portal_services.check_code(
            document_type=reachable.document_type,
            document_number=reachable.document_number,
            code=first,
        )
        is None
    )


def test_the_task_delivered_again_with_its_id_sends_one_code(
    reachable,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from collections_app.portal import tasks

    for _delivery in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.request_code.apply(
                args=(reachable.document_type, reachable.document_number), task_id="a1b2"
            )

    assert len(mail.outbox) == 1
