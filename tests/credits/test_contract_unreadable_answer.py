"""A contract DocuSeal took although its answer could not be read is sent once, and said sent.

DocuSeal answering 2xx with an empty body, an HTML page or missing keys most likely made
the submission and e-mailed the first signer: nobody must be asked to sign twice, and the
timeline must not say the contract was not sent.
"""

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from credits import tasks
from credits.models import LoanContract
from credits.services import contracts as contract_services
from crm.models import Interaction
from integrations.errors import TemporaryProviderError
from tests.credits.test_contracts import API, docuseal_settings, fixture  # noqa: F401
from tests.factories import CustomerFactory, LoanFactory, UserFactory


@pytest.fixture
def loan(db):
    return LoanFactory(customer=CustomerFactory(email="rosa@example.com"))


@pytest.fixture
def queued(loan, django_capture_on_commit_callbacks) -> LoanContract:
    """A contract queued for DocuSeal whose send has not run yet."""
    with django_capture_on_commit_callbacks(execute=False):
        return contract_services.send_for_signature(loan=loan, actor=None)


@pytest.fixture
def failed(queued) -> LoanContract:
    """A contract whose send reached DocuSeal and was then marked failed (before this fix,
    an unreadable answer did that)."""
    LoanContract.objects.filter(pk=queued.pk).update(
        status=LoanContract.Status.FAILED,
        send_attempted_at=timezone.now(),
        error="DocuSeal respondió algo inesperado: <html>OK</html>",
    )
    queued.refresh_from_db()
    return queued


def made_in_docuseal(contract: LoanContract, submission_id: int = 41) -> list[dict]:
    answer = fixture("create_submission_response")
    answer[0]["external_id"] = contract.external_id
    answer[0]["email"] = "rosa@example.com"
    answer[0]["submission_id"] = submission_id
    return answer


def docuseal_has(contract: LoanContract, found: list[dict]) -> None:
    """Answer DocuSeal's lookups of `contract` by our external id with `found`."""
    responses.get(
        f"{API}/submitters",
        match=[matchers.query_param_matcher({"external_id": contract.external_id})],
        json={"data": found, "pagination": {}},
    )
    if found:
        responses.get(
            f"{API}/submitters",
            match=[matchers.query_param_matcher({"submission_id": "41", "limit": "100"})],
            json={"data": found, "pagination": {}},
        )


def creates() -> int:
    return sum(1 for call in responses.calls if call.request.method == "POST")


def timeline(contract: LoanContract) -> list[str]:
    customer = contract.loan.customer
    return list(Interaction.objects.filter(customer=customer).values_list("summary", flat=True))


@responses.activate
def test_a_send_answered_with_an_unreadable_2xx_is_retried_and_the_retry_takes_it(queued):
    responses.post(f"{API}/submissions", status=200, body="<html>OK</html>")
    docuseal_has(queued, made_in_docuseal(queued))

    # The unreadable answer is temporary: the task will retry, nothing is said failed.
    with pytest.raises(TemporaryProviderError):
        contract_services.send_contract(contract_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.PENDING
    # The retry asks DocuSeal first, and takes the submission it made.
    contract_services.send_contract(contract_id=queued.pk)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.SENT
    assert queued.submission_id == 41
    assert creates() == 1
    said = timeline(queued)
    assert not any("No se pudo enviar a firma" in s for s in said), said
    assert any("enviado a firma a rosa@example.com" in s for s in said), said


@responses.activate
def test_the_last_retry_takes_the_submission_its_unreadable_answer_made(queued):
    LoanContract.objects.filter(pk=queued.pk).update(send_attempted_at=timezone.now())
    # Before the last attempt DocuSeal has nothing; that attempt makes it, unreadably.
    docuseal_has(queued, [])
    responses.post(f"{API}/submissions", status=200, body="")
    docuseal_has(queued, made_in_docuseal(queued))

    tasks.send_contract.apply(kwargs={"contract_id": queued.pk}, retries=8)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.SENT
    assert queued.submission_id == 41
    assert not any("No se pudo enviar a firma" in s for s in timeline(queued))


@responses.activate
def test_spent_retries_on_unreadable_answers_do_not_say_docuseal_did_not_answer(queued):
    LoanContract.objects.filter(pk=queued.pk).update(send_attempted_at=timezone.now())
    docuseal_has(queued, [])
    responses.post(f"{API}/submissions", status=200, body="<html>OK</html>")

    tasks.send_contract.apply(kwargs={"contract_id": queued.pk}, retries=8)

    queued.refresh_from_db()
    assert queued.status == LoanContract.Status.FAILED
    assert queued.error.startswith("DocuSeal no confirmó el envío tras varios intentos: ")
    assert "DocuSeal respondió algo inesperado" in queued.error
    assert "no respondió" not in queued.error


@responses.activate
def test_resending_a_failed_contract_docuseal_has_takes_it_instead_of_asking_twice(
    failed, client, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="asesor", role="Asesor"))
    docuseal_has(failed, made_in_docuseal(failed))
    responses.post(f"{API}/submissions", json=made_in_docuseal(failed, submission_id=42))

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            reverse("credits:loan_transition", args=[failed.loan.pk]),
            {"action": "resend_contract"},
            follow=True,
        ).content.decode()

    assert creates() == 0
    (contract,) = LoanContract.objects.filter(loan=failed.loan)
    assert contract.status == LoanContract.Status.SENT
    assert contract.submission_id == 41
    assert contract.error == ""
    assert "DocuSeal recibió el contrato" in answer
    assert any(
        "sí llegó a DocuSeal, que pidió la firma a rosa@example.com: no se envió otro" in s
        for s in timeline(contract)
    )


@responses.activate
def test_resending_a_failed_contract_docuseal_does_not_have_sends_a_new_one(
    failed, django_capture_on_commit_callbacks
):
    docuseal_has(failed, [])
    responses.post(f"{API}/submissions", json=made_in_docuseal(failed, submission_id=42))

    with django_capture_on_commit_callbacks(execute=True):
        new = contract_services.resend_contract(loan=failed.loan, actor=None)

    assert new.pk != failed.pk
    assert creates() == 1
    failed.refresh_from_db()
    assert failed.status == LoanContract.Status.FAILED


@responses.activate
def test_a_resend_is_refused_while_docuseal_cannot_say_whether_it_has_the_contract(
    failed, django_capture_on_commit_callbacks
):
    responses.get(f"{API}/submitters", status=503)
    responses.post(f"{API}/submissions", json=made_in_docuseal(failed, submission_id=42))

    with (
        pytest.raises(ValidationError, match="no se envió otro"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        contract_services.resend_contract(loan=failed.loan, actor=None)

    assert creates() == 0
    assert LoanContract.objects.filter(loan=failed.loan).count() == 1
