"""E-mail through Django's configured backend: SMTP or an ESP's HTTP API (django-anymail,
ANYMAIL_ESP) in production, the console by default, locmem in tests.

Knows nothing of our domain: an address, a subject and a text. SMTP failures become our
two errors: a refused recipient (5xx) is a `ProviderError`; a broken or timed-out
connection, or a 4xx reply (greylisting, a full mailbox, a busy server), is a
`TemporaryProviderError`. Reply codes: https://www.rfc-editor.org/rfc/rfc5321#section-4.2

Mail that belongs on nobody's timeline (staff notifications) goes out through the outbox
destination `DESTINATION`, registered by `IntegrationsConfig.ready`; messages to
customers go through `crm.messages`, which sends with `send`.
"""

import smtplib
from collections.abc import Mapping
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core.mail import EmailMessage
from django.utils.translation import gettext

from integrations import http, outbox
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import OutboxMessage

DESTINATION = "email"


def send(to: str, subject: str, body: str, *, headers: Mapping[str, str] | None = None) -> None:
    """Send one plain-text e-mail to one address, with `headers` besides the usual ones;
    raise our errors for any failure."""
    # A header is one line: a newline in a subject typed in admin would be refused.
    subject = " ".join(subject.split())
    # How the address reads in our errors: one line, or the timeline showed only its end
    # ("Bcc: x@… no es válido", as if the Bcc were the address refused).
    shown = " ".join(to.split())
    try:
        sent = EmailMessage(subject, body, None, [to], headers=dict(headers or {})).send()
    except AnymailRecipientsRefused as exc:
        # The provider's API refused every recipient (bounced before, unsubscribed...).
        raise ProviderError(
            gettext("El proveedor de correo rechazó la dirección %(to)s: %(reason)s")
            % {"to": shown, "reason": exc}
        ) from exc
    except AnymailAPIError as exc:
        # An HTTP API (ANYMAIL_ESP): no answer, 429 or 5xx is temporary, another 4xx is not.
        status = exc.status_code
        if status is None or status == 429 or status >= 500:
            raise TemporaryProviderError(str(exc)[: http.ERROR_BODY_CHARS]) from exc
        raise ProviderError(str(exc)[: http.ERROR_BODY_CHARS]) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        replies = list(exc.recipients.values())
        reason = "; ".join(f"{code} {_text(text)}" for code, text in replies)
        message = gettext("El servidor de correo rechazó la dirección %(to)s: %(reason)s") % {
            "to": shown,
            "reason": reason,
        }
        if replies and all(_is_transient(code) for code, _ in replies):
            raise TemporaryProviderError(message) from exc
        raise ProviderError(message) from exc
    except smtplib.SMTPAuthenticationError as exc:
        # Our credentials, not this message: retried, so the queue goes out once fixed.
        raise TemporaryProviderError(_reply(exc)) from exc
    except smtplib.SMTPConnectError as exc:
        raise TemporaryProviderError(_reply(exc)) from exc
    except smtplib.SMTPResponseException as exc:
        # The sender or the message refused (SMTPSenderRefused, SMTPDataError...).
        if _is_transient(exc.smtp_code):
            raise TemporaryProviderError(_reply(exc)) from exc
        raise ProviderError(_reply(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # Disconnected, refused connection, timeout, TLS failure: the server may be back later.
        raise TemporaryProviderError(
            gettext("El servidor de correo no respondió: %(error)s")
            % {"error": str(exc) or type(exc).__name__}
        ) from exc
    except ValueError as exc:
        # An address or header Django cannot put in a message: sending again won't help.
        # Django's reason is English, so the Spanish sentence comes first.
        raise ProviderError(
            gettext(
                "El correo a «%(to)s» no se pudo armar: la dirección o un encabezado no son "
                "válidos (%(error)s)"
            )
            % {"to": shown, "error": " ".join(str(exc).split())}
        ) from exc
    if not sent:
        raise ProviderError(
            gettext("El servidor de correo no aceptó el correo a %(to)s.") % {"to": shown}
        )


def send_payload(payload: dict[str, Any]) -> None:
    """Send an outbox payload of `DESTINATION`: {"to", "subject", "body"}."""
    send(payload["to"], payload["subject"], payload["body"])


def enqueue(*, to: str, subject: str, body: str, dedupe_key: str = "") -> OutboxMessage:
    """Queue one e-mail to `to` in the outbox, sent once the caller's transaction commits."""
    return outbox.enqueue_message(
        destination=DESTINATION,
        payload={"to": to, "subject": subject, "body": body},
        dedupe_key=dedupe_key,
    )


def _is_transient(code: int) -> bool:
    return 400 <= code < 500


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return gettext("El servidor de correo respondió %(code)s: %(text)s") % {
        "code": exc.smtp_code,
        "text": _text(exc.smtp_error),
    }


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
