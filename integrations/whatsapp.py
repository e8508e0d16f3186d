"""WhatsApp through Meta's WhatsApp Business Cloud API: send messages, read the webhooks.

Sending is one call, POST {WHATSAPP_API_URL}/{WHATSAPP_PHONE_NUMBER_ID}/messages with the
access token as a Bearer token. A business may write freely only within 24 hours of the
customer's last message (the customer-service window); outside it only an approved
template goes through, and Meta refuses anything else with error 131047. The caller
keeps that rule; `send_text` turns the refusal into `WindowClosed`. A customer who stopped
the business's marketing messages in WhatsApp (error 131050) fails that message for good,
saying so; it is not an opt-out of the lender's other messages (a payment reminder is a
utility template, which Meta still delivers), so the customer is not marked.

Meta's webhooks come to /webhooks/whatsapp/:

- GET, once, when the callback URL is subscribed: `verify_subscription` checks the
  hub.verify_token we chose and returns hub.challenge, which the view answers as
  text/plain;
- POST, each a JSON object signed in X-Hub-Signature-256 ("sha256=" and the hex
  HMAC-SHA256 of the raw body under the app secret), `{"object":
  "whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages",
  "value": {"metadata", "contacts", "messages", "statuses"}}]}]}`, where `messages` are
  what customers wrote and `statuses` what became of ours (sent, delivered, read,
  failed with `errors`). One call may carry several of either.

One item we cannot read (a message without its id, a status dated 9999) is skipped and
logged, and the rest of the call is read: refusing the call would make Meta retry all of
it for days, and the statuses and replies beside that item would never land. A sender who
adopted a WhatsApp username may show no phone number: the message then carries only their
business-scoped user id (`from_user_id`, "PE.1410018717833190"), and is read with that id
as its sender, which no customer's phone matches.

https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
https://developers.facebook.com/docs/graph-api/webhooks/getting-started
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/
"""

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from integrations import channels, http, payloads, webhooks
from integrations.channels import Delivery, InboundMessage, StatusUpdate
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)

logger = logging.getLogger(__name__)

NAME = "whatsapp"
LABEL = "WhatsApp"

# Relative to settings.WHATSAPP_API_URL, which carries the Graph API version.
# https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
MESSAGES_PATH = "/{phone_number_id}/messages"

# "sha256=" and the hex HMAC-SHA256 of the raw body under the app secret.
# https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="

# What every WhatsApp Business webhook body says it is about, and the field of messages
# and their statuses (others: template reviews, account updates...).
OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"

# Meta's error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
# More than 24 hours since the customer last wrote: only a template may go.
WINDOW_CLOSED = 131047
# The customer stopped the business's marketing messages in WhatsApp ("Detener
# promociones"): Meta refuses marketing templates to them, utility ones still go.
# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
MARKETING_STOPPED = 131050
# Throttling (too many calls, of the account, of the number, to one recipient) and a
# service that is down for now: retrying later is the fix.
TEMPORARY_CODES = frozenset({2, 4, 80007, 130429, 131056})
# Meta's codes worth a sentence of their own, for a refused send and a failed status
# alike; any other shows Meta's text alone (in English).
_ERRORS = {
    190: gettext_noop("El token de acceso de WhatsApp venció o no es válido."),
    131021: gettext_noop("El número de destino es el mismo que envía."),
    131026: gettext_noop("El número no tiene WhatsApp o no puede recibir el mensaje."),
    131042: gettext_noop("La cuenta de WhatsApp Business tiene un problema de pago."),
    WINDOW_CLOSED: gettext_noop(
        "Pasaron más de 24 horas desde el último mensaje del cliente: solo puede enviarse "
        "una plantilla aprobada."
    ),
    131049: gettext_noop(
        "Meta no entregó el mensaje para limitar los mensajes de marketing que recibe el cliente."
    ),
    MARKETING_STOPPED: gettext_noop(
        "El cliente dejó de recibir mensajes de marketing de la empresa: use una plantilla de "
        "utilidad (un recordatorio de pago), que sí le llega."
    ),
    131051: gettext_noop("WhatsApp no admite ese tipo de mensaje."),
    132000: gettext_noop("La cantidad de variables no coincide con la plantilla aprobada."),
    132001: gettext_noop("La plantilla no existe o no está aprobada en ese idioma."),
    132005: gettext_noop("El texto de la plantilla con sus variables es demasiado largo."),
    132007: gettext_noop("Las variables de la plantilla tienen caracteres que Meta no admite."),
    132012: gettext_noop("Las variables no tienen el formato que espera la plantilla aprobada."),
    132015: gettext_noop("La plantilla está pausada en Meta por su baja calidad."),
    132016: gettext_noop("La plantilla está desactivada en Meta."),
    133010: gettext_noop("El número de WhatsApp de la empresa no está registrado."),
}

# Meta's statuses of a message we sent, in ours. "deleted" and "warning" are not about
# its delivery and are left aside.
STATUSES = {
    "sent": channels.SENT,
    "delivered": channels.DELIVERED,
    "read": channels.READ,
    "failed": channels.FAILED,
}
# The message types that carry media, whose caption (when any) follows the placeholder.
_MEDIA = ("image", "audio", "document", "video", "sticker")

# An event id longer than this is kept as its hash: the inbox's column holds 255.
MAX_EVENT_ID = 200


class WindowClosed(ProviderError):
    """Meta refused a free-form message: the 24-hour window is closed, send a template."""


def is_configured() -> bool:
    """Whether messages go to Meta: the access token and the phone number id are set."""
    return bool(settings.WHATSAPP_ACCESS_TOKEN and settings.WHATSAPP_PHONE_NUMBER_ID)


def send_template(to: str, *, name: str, language: str, parameters: list[str]) -> Delivery:
    """Send an approved template, its body's {{1}}, {{2}}... filled with `parameters`."""
    if not name.strip() or not language.strip():
        raise ValueError("A WhatsApp template needs its name and language.")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": text} for text in parameters],
            }
        ]
    if not is_configured():
        text = f"template {name} ({language}) {parameters}"
        return channels.log_delivery(LABEL, to, text)
    return _send({**_envelope(to), "type": "template", "template": template})


def send_text(to: str, body: str) -> Delivery:
    """Send a free-form text; only within 24 hours of the customer's last message.

    Raise WindowClosed (a ProviderError) when Meta says the window is closed.
    """
    if not body.strip():
        raise ValueError("A WhatsApp text needs a body.")
    if not is_configured():
        return channels.log_delivery(LABEL, to, body)
    text = {"preview_url": False, "body": body}
    return _send({**_envelope(to), "type": "text", "text": text})


def verify_subscription(query: Mapping[str, str]) -> str:
    """Return hub.challenge when Meta's GET handshake carries our verify token.

    Raise SignatureError for another mode or token, no challenge, or no token configured.
    """
    expected = settings.WHATSAPP_VERIFY_TOKEN
    if not expected:
        raise SignatureError("No WhatsApp verify token is configured.")
    if query.get("hub.mode") != "subscribe":
        raise SignatureError("The handshake is not a subscription.")
    token = query.get("hub.verify_token") or ""
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise SignatureError("The verify token does not match.")
    challenge = query.get("hub.challenge") or ""
    if not challenge:
        raise SignatureError("The handshake has no challenge.")
    return challenge


def verify_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless X-Hub-Signature-256 is the body's HMAC under the app secret."""
    signature = payloads.header(headers, SIGNATURE_HEADER).strip()
    if not signature.lower().startswith(SIGNATURE_PREFIX):
        raise SignatureError(f"The request has no {SIGNATURE_HEADER} header.")
    digest = signature[len(SIGNATURE_PREFIX) :]
    webhooks.verify_hmac_sha256(settings.WHATSAPP_APP_SECRET, body, digest)


def read_webhook(data: Mapping[str, Any]) -> list[StatusUpdate | InboundMessage]:
    """Read every status and message a webhook carries, in the body's order.

    ValueError for a body about another object, or whose entries are not a list; [] when
    it carries no message or status of ours. A change, status or message that cannot be
    read (not an object, without its id, status or sender, dated out of range) is skipped
    and logged, and the others are read.
    """
    if data.get("object") != OBJECT:
        raise ValueError(f"The WhatsApp webhook is not about {OBJECT}.")
    items: list[StatusUpdate | InboundMessage] = []
    for entry in _list(data.get("entry"), "entry"):
        for value in _readable(_message_values, entry):
            names = _profile_names(value.get("contacts"))
            # The value's keys in the body's order: statuses first when they came first.
            for key, listed in value.items():
                if key == "statuses":
                    for raw in _readable(_list, listed, "statuses"):
                        items.extend(_readable(_status, raw))
                elif key == "messages":
                    for raw in _readable(_list, listed, "messages"):
                        items.extend(_readable(_message, raw, names))
    return items


def _message_values(entry: Any) -> list[dict]:
    """Return the values of an entry's changes about messages."""
    values = []
    for change in _list(_object(entry, "entry").get("changes"), "changes"):
        change = _object(change, "change")
        if change.get("field") == MESSAGES_FIELD:
            values.append(_object(change.get("value"), "value"))
    return values


def _readable(read: Callable[..., Any], raw: Any, *args: Any) -> list:
    """Return what `read(raw, *args)` reads, as a list ([] for None); [] and a log line when
    it raises ValueError, so one unreadable part does not cost the rest of the call."""
    try:
        result = read(raw, *args)
    except ValueError as exc:
        logger.warning("WhatsApp webhook: an unreadable part was skipped: %s", exc)
        return []
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def event_id(data: Mapping[str, Any]) -> str:
    """Return the inbox's id of a webhook, built from the items it carries.

    Each item is `status:<wamid>:<status>` or `in:<wamid>`, joined by commas, so the same
    call delivered twice is one event; past MAX_EVENT_ID characters it is kept as
    `sha256:<hex>` of that text. UnhandledEvent when it carries nothing of ours.
    """
    parts = [
        f"status:{item.provider_message_id}:{item.status}"
        if isinstance(item, StatusUpdate)
        else f"in:{item.provider_message_id}"
        for item in read_webhook(data)
    ]
    if not parts:
        raise UnhandledEvent("The WhatsApp webhook carries no message or status.")
    joined = ",".join(parts)
    if len(joined) > MAX_EVENT_ID:
        return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
    return joined


# The /webhooks/whatsapp/ door for POSTs: signed JSON, messages and their statuses.
WEBHOOK = webhooks.Endpoint(provider=NAME, verify=verify_webhook, event_id=event_id)


def _envelope(to: str) -> dict[str, str]:
    # Meta takes the number as digits, without "+".
    digits = "".join(char for char in to if char.isdigit())
    if not digits:
        raise ValueError(f"Not a phone number: {to!r}.")
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": digits}


def _send(payload: dict[str, Any]) -> Delivery:
    url = settings.WHATSAPP_API_URL.rstrip("/") + MESSAGES_PATH.format(
        phone_number_id=settings.WHATSAPP_PHONE_NUMBER_ID
    )
    headers = {"Authorization": f"Bearer {settings.WHATSAPP_ACCESS_TOKEN}"}
    try:
        with http.session() as client, http.translate_errors():
            response = client.post(url, json=payload, headers=headers)
    except ProviderError as exc:
        if http.accepted_but_unread(exc):
            # Meta took it (2xx); its answer was cut off or too large: a retry may duplicate it.
            raise http.OutcomeUnknown(_unknown(str(exc))) from exc
        raise
    try:
        answer = http.answer_json(response)
    except ValueError:
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        raise _error(error, response)
    # No error object: 429 and 5xx are temporary, another 4xx is not.
    http.raise_for_response(response)
    messages = answer.get("messages") if isinstance(answer, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str) or not message_id:
        # A success without the message's id: Meta most likely took it; sending it again
        # may duplicate it.
        raise http.OutcomeUnknown(
            _unknown(
                gettext("WhatsApp respondió algo inesperado: %(answer)s")
                % {"answer": response.text[: http.ERROR_BODY_CHARS]}
            )
        )
    return Delivery(provider=NAME, provider_message_id=message_id, status=channels.SENT)


def _unknown(detail: str) -> str:
    return gettext(
        "WhatsApp recibió el mensaje pero su respuesta no se pudo leer: no se sabe si se envió "
        "(%(detail)s)"
    ) % {"detail": detail}


def _error(error: Mapping[str, Any], response: requests.Response) -> ProviderError:
    """Turn Meta's error object into ours: throttling and 5xx are temporary."""
    code = error.get("code")
    message = _text(error.get("message"))
    error_data = error.get("error_data")
    details = _text(error_data.get("details")) if isinstance(error_data, dict) else ""
    if details:
        message = f"{message} ({details})" if message else details
    message = message[: http.ERROR_BODY_CHARS]
    if code == WINDOW_CLOSED:
        # Its own sentence comes first, longer than the others.
        text = gettext("WhatsApp rechazó el mensaje (error %(code)s): %(message)s") % {
            "code": code,
            "message": message,
        }
        return WindowClosed(
            gettext(
                "Pasaron más de 24 horas desde el último mensaje del cliente: la ventana de "
                "WhatsApp está cerrada y solo puede enviarse una plantilla aprobada."
            )
            + " "
            + text
        )
    text = gettext("WhatsApp rechazó el mensaje (error %(code)s): %(message)s") % {
        "code": code if code is not None else "?",
        "message": _explained(code, message),
    }
    status = response.status_code
    if status == 429 or status >= 500 or code in TEMPORARY_CODES:
        return TemporaryProviderError(text, retry_after=http.retry_after_seconds(response))
    return ProviderError(text)


def _explained(code: Any, message: str) -> str:
    """Put our sentence for a known Meta code before Meta's own (English) text."""
    known = _ERRORS.get(code) if isinstance(code, int) and not isinstance(code, bool) else None
    return f"{gettext(known)} {message}".strip() if known else message


def _status(raw: Any) -> StatusUpdate | None:
    item = _object(raw, "status")
    meta_status = _required(item.get("status"), "status")
    status = STATUSES.get(meta_status)
    if status is None:
        return None
    return StatusUpdate(
        provider=NAME,
        provider_message_id=_required(item.get("id"), "status id"),
        status=status,
        at=_moment(item.get("timestamp")),
        error=_status_error(item.get("errors")) if status == channels.FAILED else "",
    )


def _status_error(errors: Any) -> str:
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return ""
    code = first.get("code")
    title = _text(first.get("title")) or _text(first.get("message"))
    error_data = first.get("error_data")
    details = _text(error_data.get("details")) if isinstance(error_data, dict) else ""
    if details:
        title = f"{title} ({details})" if title else details
    title = _explained(code, title)
    return ": ".join(str(part) for part in (code, title) if part not in (None, ""))


def _message(raw: Any, names: Mapping[str, str]) -> InboundMessage:
    item = _object(raw, "message")
    phone = _text(item.get("from")).lstrip("+")
    # A sender with a username may show no phone, only their business-scoped user id.
    sender = phone or _required(item.get("from_user_id"), "message sender")
    return InboundMessage(
        provider=NAME,
        channel=channels.WHATSAPP,
        provider_message_id=_required(item.get("id"), "message id"),
        # The user id is no phone: it matches no customer, as an unknown number does.
        sender="+" + phone if phone else sender,
        body=_body(item),
        at=_moment(item.get("timestamp")),
        name=names.get(sender, ""),
    )


def _body(item: Mapping[str, Any]) -> str:
    """Return a message's text, or the placeholder of what it carries instead."""
    kind = _text(item.get("type"))
    content = item.get(kind) if kind else None
    content = content if isinstance(content, dict) else {}
    if kind == "text":
        return _text(content.get("body"))
    if kind == "button":
        # A quick-reply button of a template.
        return _text(content.get("text")) or channels.placeholder(kind)
    if kind == "interactive":
        # A reply button or a list row of an interactive message we sent.
        reply = content.get(_text(content.get("type")))
        title = _text(reply.get("title")) if isinstance(reply, dict) else ""
        return title or channels.placeholder(kind)
    placeholder = channels.placeholder(kind)
    caption = _text(content.get("caption")) if kind in _MEDIA else ""
    return f"{placeholder} {caption}" if caption else placeholder


def _profile_names(contacts: Any) -> dict[str, str]:
    names = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        name = _text(profile.get("name")) if isinstance(profile, dict) else ""
        if not name:
            continue
        # The phone (wa_id) and the business-scoped user id name the same sender; a
        # sender with a username may have the id only.
        for key in (_text(contact.get("wa_id")).lstrip("+"), _text(contact.get("user_id"))):
            if key:
                names[key] = name
    return names


def _moment(raw: Any) -> datetime | None:
    """Read Meta's timestamps: unix seconds, as a string (or a number)."""
    if raw is None or raw == "":
        return None
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | str)
        or not str(raw).isascii()
        or not str(raw).isdigit()
    ):
        raise ValueError(f"The WhatsApp webhook's timestamp is not unix seconds: {raw!r}.")
    try:
        moment = datetime.fromtimestamp(int(raw), tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:  # past year 9999 or the platform's
        raise ValueError(f"The WhatsApp webhook's timestamp is out of range: {raw!r}.") from exc
    if not payloads.is_plausible_moment(moment, max_ahead=payloads.CLOCK_AHEAD):
        # Each dates what has happened. A message dated 9999 kept the 24-hour window open
        # and its conversation first in the inbox for good; one dated 1970, last.
        raise ValueError(f"The WhatsApp webhook's timestamp is out of range: {raw!r}.")
    return moment


def _list(raw: Any, field: str) -> list:
    if not isinstance(raw, list):
        raise ValueError(f"The WhatsApp webhook's {field} is not a list.")
    return raw


def _object(raw: Any, field: str) -> dict:
    if not isinstance(raw, dict):
        raise ValueError(f"The WhatsApp webhook's {field} is not an object.")
    return raw


def _required(raw: Any, field: str) -> str:
    text = _text(raw)
    if not text:
        raise ValueError(f"The WhatsApp webhook has no {field}.")
    return text


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""
