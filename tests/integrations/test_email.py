import pytest
import responses
from django.core import mail

from integrations import email, outbox
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import OutboxMessage

BACKENDS = "tests.email_backends."
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def test_it_sends_one_plain_text_email_to_one_address(settings):
    settings.DEFAULT_FROM_EMAIL = "Cartera <no-reply@cartera.example>"

    email.send("rosa@example.pe", "Su gestión", "Hola Rosa")

    (sent,) = mail.outbox
    assert (sent.to, sent.subject, sent.body) == (["rosa@example.pe"], "Su gestión", "Hola Rosa")
    assert sent.from_email == "Cartera <no-reply@cartera.example>"


def test_it_keeps_a_subject_typed_on_several_lines_on_one(settings):
    email.send("rosa@example.pe", "Su gestión\nn.º 7", "Hola")

    assert mail.outbox[0].subject == "Su gestión n.º 7"


@pytest.mark.parametrize(
    ("backend", "text"),
    [
        ("RefusingBackend", "rechazó la dirección rosa@example.pe: 550 5.1.1 User unknown"),
        ("RejectingContentBackend", "respondió 554: 5.7.1 Message rejected as spam"),
    ],
)
def test_it_turns_a_refusal_for_good_into_a_provider_error(settings, backend, text):
    settings.EMAIL_BACKEND = BACKENDS + backend

    with pytest.raises(ProviderError) as raised:
        email.send("rosa@example.pe", "Su gestión", "Hola")

    assert not isinstance(raised.value, TemporaryProviderError)
    assert text in str(raised.value)


@pytest.mark.parametrize(
    ("backend", "text"),
    [
        ("GreylistingBackend", "450 4.2.0 Greylisted"),
        ("BusyBackend", "respondió 451"),
        ("TimeoutBackend", "no respondió: timed out"),
        ("UnreachableBackend", "Connection refused"),
        ("DisconnectingBackend", "Connection unexpectedly closed"),
        ("BadCredentialsBackend", "respondió 535"),
    ],
)
def test_it_turns_what_may_work_later_into_a_temporary_error(settings, backend, text):
    settings.EMAIL_BACKEND = BACKENDS + backend

    with pytest.raises(TemporaryProviderError) as raised:
        email.send("rosa@example.pe", "Su gestión", "Hola")

    assert text in str(raised.value)


def test_it_sends_an_email_queued_in_the_outbox_once_the_transaction_commits(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = email.enqueue(to="andrea@example.com", subject="[Cartera] Atrasada", body="Hola")
        assert mail.outbox == []

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert [m.to for m in mail.outbox] == [["andrea@example.com"]]


def test_it_leaves_a_refused_email_failed_in_the_outbox_and_sends_it_when_retried(
    db, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = BACKENDS + "RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = email.enqueue(to="andrea@example.com", subject="[Cartera] Atrasada", body="Hola")
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert "550 5.1.1 User unknown" in message.last_error
    settings.EMAIL_BACKEND = LOCMEM

    with django_capture_on_commit_callbacks(execute=True):
        outbox.retry_message(message=message)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert len(mail.outbox) == 1


# --- Through an ESP's HTTP API (django-anymail) ------------------------------------------

MAILGUN_URL = "https://api.mailgun.net/v3/mg.cartera.example/messages"


@pytest.fixture
def mailgun(settings):
    """Anymail's Mailgun backend, as ANYMAIL_ESP=mailgun sets it, its HTTP faked."""
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {
        "MAILGUN_API_KEY": "key-test",
        "MAILGUN_SENDER_DOMAIN": "mg.cartera.example",
    }
    with responses.RequestsMock() as api:
        yield api


def test_it_sends_through_the_providers_api(mailgun):
    mailgun.add(responses.POST, MAILGUN_URL, json={"id": "<1@mg>", "message": "Queued."})

    email.send("rosa@example.pe", "Su gestión", "Hola Rosa")

    body = mailgun.calls[0].request.body
    text = body.decode() if isinstance(body, bytes) else body
    assert "rosa%40example.pe" in text or "rosa@example.pe" in text
    assert "Hola" in text


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_provider_that_cannot_answer_now_is_retried(mailgun, status):
    mailgun.add(responses.POST, MAILGUN_URL, status=status, json={"message": "busy"})

    with pytest.raises(TemporaryProviderError):
        email.send("rosa@example.pe", "Su gestión", "Hola")


def test_a_provider_that_refuses_the_message_is_not_retried(mailgun):
    mailgun.add(responses.POST, MAILGUN_URL, status=400, json={"message": "'to' invalid"})

    with pytest.raises(ProviderError) as caught:
        email.send("rosa@example.pe", "Su gestión", "Hola")

    assert not isinstance(caught.value, TemporaryProviderError)
