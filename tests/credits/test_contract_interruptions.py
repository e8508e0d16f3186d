"""A contract whose send to DocuSeal was cut off halfway does not block its loan.

Celery loses a task for good when its worker is killed (acks_late does not bring it
back), a publish can fail after the commit, and DocuSeal can be down longer than the
task's retries: the contract must not stay "Por enviar" for ever.
"""

import json
from datetime import timedelta

import pytest
import responses
import time_machine
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from credits import tasks
from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from crm.models import Interaction
from tests.credits.test_contracts import API, docuseal_settings, fixture  # noqa: F401
from tests.factories import CustomerFactory, LoanFactory, UserFactory

LATER = timedelta(minutes=20)


@pytest.fixture
def queued(db, django_capture_on_commit_callbacks) -> LoanContract:
    """A contract queued for DocuSeal whose send never ran (its task was lost)."""
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))
    with django_capture_on_commit_callbacks(execute=False):
        return contract_services.send_for_signature(loan=loan, actor=None)


def created_submission(contract: LoanContract) -> list[dict]:
    answer = fixture("create_submission_response")
    answer[0]["external_id"] = contract.external_id
    answer[0]["email"] = "rosa@example.com"
    answer[0]["submission_id"] = 41
    return answer


def timeline(contract: LoanContract) -> list[str]:
    customer = contract.loan.customer
    return list(Interaction.objects.filter(customer=customer).values_list("summary", flat=True))


@responses.activate
def test_a_contract_whose_retries_are_spent_says_it_failed_and_why(queued):
    responses.post(f"{API}/submissions", status=503)

    # The last of the task's retries.
    tasks.send_contract.apply(kwargs={"contract_id": queued.pk}, retries=8)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.FAILED
    assert "DocuSeal no confirmó el envío tras varios intentos" in queued.error
    assert "503" in queued.error
    assert any("No se pudo enviar a firma el contrato" in s for s in timeline(queued))


@responses.activate
def test_a_contract_whose_send_was_cut_off_can_be_sent_again_from_the_loan_page(
    queued, client, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="asesor", role="Asesor"))
    responses.get(
        f"{API}/submitters",
        match=[matchers.query_param_matcher({"external_id": queued.external_id})],
        json={"data": [], "pagination": {}},
    )
    responses.post(f"{API}/submissions", json=created_submission(queued))

    with time_machine.travel(timezone.now() + LATER, tick=False):
        page = client.get(queued.loan.get_absolute_url()).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(
                reverse("credits:loan_transition", args=[queued.loan.pk]),
                {"action": "resend_contract"},
                follow=True,
            ).content.decode()

    assert "No se pudo enviar a DocuSeal: el envío no terminó" in page
    assert 'value="resend_contract"' in page
    assert "en cola para DocuSeal" in answer
    (contract,) = LoanContract.objects.filter(loan=queued.loan)
    assert contract.pk == queued.pk
    assert contract.status == LoanContract.Status.SENT
    assert any("no se pudo enviar a DocuSeal" in s for s in timeline(contract))


def test_a_contract_queued_a_moment_ago_is_not_sent_twice(queued):
    with pytest.raises(Exception, match="en cola para enviarse a DocuSeal"):
        contract_services.resend_contract(loan=queued.loan, actor=None)

    assert LoanContract.objects.filter(loan=queued.loan).count() == 1


@responses.activate
def test_a_send_cut_off_after_docuseal_made_the_submission_does_not_make_a_second_one(queued):
    # The first send started, DocuSeal made the submission, and the worker died before
    # the commit: the contract is still "Por enviar", with its attempt on record.
    LoanContract.objects.filter(pk=queued.pk).update(send_attempted_at=timezone.now())
    mine = created_submission(queued)
    responses.get(
        f"{API}/submitters",
        match=[matchers.query_param_matcher({"external_id": queued.external_id})],
        json={"data": mine, "pagination": {}},
    )
    responses.get(
        f"{API}/submitters",
        match=[matchers.query_param_matcher({"submission_id": "41", "limit": "100"})],
        json={"data": mine, "pagination": {}},
    )

    contract_services.send_contract(contract_id=queued.pk)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.SENT
    assert queued.submission_id == 41
    assert queued.signers.get().submitter_id == mine[0]["id"]
    assert not [c for c in responses.calls if c.request.method == "POST"]


def test_two_sweeps_at_once_queue_a_lost_send_once(queued, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(timezone.now() + LATER, tick=False),
        django_capture_on_commit_callbacks(execute=False) as sends,
    ):
        first = tasks.send_stalled_contracts()
        second = tasks.send_stalled_contracts()

    assert (first, second) == (1, 0)
    assert len(sends) == 1


def test_the_sweep_leaves_a_contract_whose_send_is_under_way(
    queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as sends:
        tasks.send_stalled_contracts()

    assert sends == []


def test_the_sweep_gives_up_on_a_contract_it_could_not_send_for_hours(queued):
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        tasks.send_stalled_contracts()

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.FAILED
    assert "se dejó de reintentar" in queued.error
    assert any("No se pudo enviar a firma el contrato" in s for s in timeline(queued))
    # Failed, it no longer blocks the loan: "Reenviar" makes a new contract.
    assert Loan.objects.get(pk=queued.loan.pk).status == Loan.Status.AWAITING_SIGNATURE


@responses.activate
def test_a_contract_sent_again_goes_to_the_email_corrected_meanwhile(
    queued, django_capture_on_commit_callbacks
):
    # The send was cut off; meanwhile an advisor corrects the borrower's e-mail.
    customer = queued.loan.customer
    customer.email = "rosa.nueva@example.com"
    customer.save(update_fields=["email"])
    responses.get(
        f"{API}/submitters",
        match=[matchers.query_param_matcher({"external_id": queued.external_id})],
        json={"data": [], "pagination": {}},
    )
    answer = created_submission(queued)
    answer[0]["email"] = "rosa.nueva@example.com"
    created = responses.post(f"{API}/submissions", json=answer)

    with (
        time_machine.travel(timezone.now() + LATER, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        contract_services.resend_contract(loan=queued.loan, actor=None)

    queued.refresh_from_db()
    sent_to = [s["email"] for s in json.loads(created.calls[0].request.body)["submitters"]]
    assert sent_to == ["rosa.nueva@example.com"]
    assert queued.status == LoanContract.Status.SENT
    assert list(queued.signers.values_list("email", flat=True)) == ["rosa.nueva@example.com"]
    assert any("enviado a firma a rosa.nueva@example.com" in s for s in timeline(queued))


@responses.activate
def test_a_contract_whose_borrower_lost_the_email_meanwhile_fails_saying_why(
    queued, django_capture_on_commit_callbacks
):
    customer = queued.loan.customer
    customer.email = ""
    customer.save(update_fields=["email"])

    contract_services.send_contract(contract_id=queued.pk)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.FAILED
    assert "no tiene correo electrónico" in queued.error
    assert not responses.calls  # nothing asked of DocuSeal
