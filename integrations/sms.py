"""SMS: send through Twilio's REST API (or another provider), and read Twilio's webhooks.

`send(to, body)` goes through the provider settings.SMS_PROVIDER names: "twilio", "log"
(channels.log_delivery: written to the log, sent nowhere), or any name an app registered
with `register_provider`, so a local aggregator fits behind the same call. Left blank, it
is Twilio when its account SID and auth token are set, else the log.

Twilio posts two kinds of webhook, both form-encoded, to settings.TWILIO_STATUS_CALLBACK_URL
(/webhooks/twilio/: the StatusCallback of every message we send, and the number's or
Messaging Service's "A message comes in" URL, which must be set to the same address):

- a status callback: MessageSid, MessageStatus ("sent", "delivered", "undelivered"...),
  ErrorCode when it failed;
- an inbound message: MessageSid, From, To, Body, SmsStatus "received", no MessageStatus
  (or MessageStatus "received"). WhatsApp through Twilio comes the same way, with
  From "whatsapp:+51...".

Both carry X-Twilio-Signature, checked by `verify_webhook` the way Twilio's own request
validator does.
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
https://www.twilio.com/docs/messaging/guides/webhook-request
https://www.twilio.com/docs/usage/security#validating-requests

A refusal because the number opted out (error 21610: it replied STOP to our sender) raises
`OptedOut`, and `opt_out_notice` recognises it in a failed status's error, so the
customer-message service marks the customer as not to be contacted.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext, gettext_noop

from integrations import channels, http, payloads, webhooks
from integrations.channels import Delivery, InboundMessage, StatusUpdate
from integrations.errors import OptedOut, ProviderError, SignatureError, UnhandledEvent
from lib.registry import Registry

NAME = "twilio"
LABEL = "Twilio"
LOG = "log"

# https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"

# base64 of the HMAC-SHA1, under the auth token, of the URL and the sorted POST fields.
# https://www.twilio.com/docs/usage/security#validating-requests
SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio's message statuses, in ours.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
STATUSES = {
    "accepted": channels.QUEUED,
    "scheduled": channels.QUEUED,
    "queued": channels.QUEUED,
    "sending": channels.SENT,
    "sent": channels.SENT,
    "delivered": channels.DELIVERED,
    "read": channels.READ,
    "undelivered": channels.FAILED,
    "failed": channels.FAILED,
    "canceled": channels.FAILED,
}
# The MessageStatus (and SmsStatus) of a message a customer sent us.
RECEIVED = "received"
# The From of a message that came through Twilio's WhatsApp sender.
WHATSAPP_PREFIX = "whatsapp:"

# The number replied STOP (or another of Twilio's opt-out words: STOPALL, UNSUBSCRIBE, END,
# QUIT, OPTOUT, REVOKE, CANCEL) to our sender: Twilio refuses every SMS to it until it
# replies START. https://www.twilio.com/docs/api/errors/21610
# https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out
OPTED_OUT = 21610

# Twilio's error codes worth a sentence of their own; any other shows Twilio's message.
# The 2xxxx come with a refused send, the 3xxxx with a status callback of a message that
# was not delivered (which carries the code alone: a bare "30003" told staff nothing).
# https://www.twilio.com/docs/api/errors
_ERRORS = {
    20003: gettext_noop("Twilio no aceptó las credenciales configuradas."),
    21211: gettext_noop("El número de destino no es válido."),
    21408: gettext_noop("La cuenta de Twilio no tiene habilitado el envío de SMS a ese país."),
    21606: gettext_noop("El número remitente configurado no puede enviar SMS."),
    OPTED_OUT: gettext_noop("El destinatario se dio de baja de los SMS (respondió STOP)."),
    21612: gettext_noop("Twilio no puede enviar SMS a ese número desde el remitente configurado."),
    21614: gettext_noop("El número de destino no puede recibir SMS."),
    21617: gettext_noop("El texto supera los 1600 caracteres que admite un SMS."),
    30003: gettext_noop("El celular de destino está apagado o sin cobertura."),
    30004: gettext_noop("El destinatario o su operador bloqueó el mensaje."),
    30005: gettext_noop("El número de destino no existe o ya no está activo."),
    30006: gettext_noop("El número es un teléfono fijo o su operador no recibe SMS."),
    30007: gettext_noop("El operador filtró el mensaje (lo tomó por spam)."),
    30008: gettext_noop("El operador no entregó el mensaje y no dijo por qué."),
}

SmsProvider = Callable[[str, str], Delivery]
_providers: Registry[SmsProvider] = Registry("An SMS provider")


def register_provider(name: str, provider: SmsProvider) -> None:
    """Make `provider(to, body) -> Delivery` the SMS provider settings.SMS_PROVIDER may name."""
    if name in (NAME, LOG):
        raise ImproperlyConfigured(f"The SMS provider {name!r} is built in.")
    _providers.register(name, provider)


def unregister_provider(name: str) -> None:
    """Forget a registered SMS provider (for tests)."""
    _providers.unregister(name)


def provider_name() -> str:
    """Return the provider `send` uses: settings.SMS_PROVIDER, or the default for blank."""
    name = settings.SMS_PROVIDER.strip()
    if name:
        return name
    return NAME if _has_twilio_credentials() else LOG


def is_configured() -> bool:
    """Whether SMS leave this machine: a provider other than the log is in use."""
    return provider_name() != LOG


def send(to: str, body: str) -> Delivery:
    """Send one SMS through the configured provider and return what it answered.

    Raise TemporaryProviderError when the provider could not answer now (retry later),
    ProviderError when it refused the message for good.
    """
    if not to.strip() or not body.strip():
        raise ValueError("An SMS needs a recipient and a text.")
    name = provider_name()
    if name == NAME:
        return send_twilio(to, body)
    if name == LOG:
        return channels.log_delivery("SMS", to, body)
    provider = _providers.get(name)
    if provider is None:
        raise ProviderError(gettext("No existe el proveedor de SMS «%(name)s».") % {"name": name})
    return provider(to, body)


def send_twilio(to: str, body: str) -> Delivery:
    """Send one SMS through Twilio's Messages API and return its SID and status."""
    account_sid = settings.TWILIO_ACCOUNT_SID
    if not _has_twilio_credentials():
        raise ProviderError(gettext("Twilio no está configurado."))
    fields = {"To": to, "Body": body, **_sender()}
    if settings.TWILIO_STATUS_CALLBACK_URL:
        fields["StatusCallback"] = settings.TWILIO_STATUS_CALLBACK_URL
    url = settings.TWILIO_API_URL.rstrip("/") + MESSAGES_PATH.format(
        account_sid=quote(account_sid, safe="")
    )
    try:
        with http.session() as client, http.translate_errors():
            response = client.post(url, data=fields, auth=(account_sid, settings.TWILIO_AUTH_TOKEN))
    except ProviderError as exc:
        if http.accepted_but_unread(exc):
            # Twilio took it (2xx); its answer was cut off or too large: a retry may duplicate it.
            raise http.OutcomeUnknown(_unknown(str(exc))) from exc
        raise
    if response.status_code == 429 or response.status_code >= 500:
        http.raise_for_response(response)
    answer = _json_object(response)
    if response.status_code >= 400:
        raise _refused(answer, response)
    return read_message(answer)


def read_message(answer: Mapping[str, Any]) -> Delivery:
    """Read the message resource Twilio answers a send with into a Delivery."""
    sid = answer.get("sid")
    status = STATUSES.get(_text(answer.get("status")))
    if not isinstance(sid, str) or not sid or status is None:
        # Only a send's success (2xx) is read here: Twilio took it, we cannot tell more.
        raise http.OutcomeUnknown(_unknown(_unexpected(answer)))
    if status == channels.FAILED:
        raise _refused({"code": answer.get("error_code"), "message": answer.get("error_message")})
    if status not in channels.ACCEPTED_STATUSES:
        # Delivered before the answer: as far as sending goes, it is sent.
        status = channels.SENT
    return Delivery(provider=NAME, provider_message_id=sid, status=status)


def opt_out_notice(error: str) -> str:
    """Say, for the customer's timeline, that the number opted out, when a failed status's
    error (as `read_webhook` writes it: "21610: …") is Twilio's opt-out; else ""."""
    code = (error or "").split(":", 1)[0].strip()
    return _opted_out() if code == str(OPTED_OUT) else ""


def compute_signature(url: str, fields: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Return Twilio's signature of a POST to `url` with these form fields, as it sends it.

    The URL, then each field's name and value, by name and then value in sorted order,
    one copy of each repeated pair; HMAC-SHA1 under the auth token, in base64.
    """
    values: dict[str, set[str]] = {}
    for name, value in fields:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless X-Twilio-Signature signs this body for our webhook URL.

    As Twilio's RequestValidator does, the URL is tried without its port and with the
    scheme's default port, since Twilio signs one or the other. (Its bodySHA256 variant is
    for JSON bodies, which messaging webhooks never are.)
    """
    auth_token = settings.TWILIO_AUTH_TOKEN
    url = settings.TWILIO_STATUS_CALLBACK_URL
    if not auth_token:
        # An empty key is one anyone can sign with.
        raise SignatureError("No Twilio auth token is configured.")
    if not url:
        raise SignatureError("No Twilio webhook URL is configured to check the signature on.")
    signature = payloads.header(headers, SIGNATURE_HEADER).strip()
    if not signature:
        raise SignatureError(f"The request has no {SIGNATURE_HEADER} header.")
    try:
        fields = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=webhooks.MAX_FORM_FIELDS,
        )
    except ValueError as exc:
        # Not UTF-8, or too many fields: nothing Twilio signed.
        raise SignatureError("The body is not a form Twilio could have signed.") from exc
    given = signature.encode()
    # Every candidate is compared, so the time taken says nothing about which one matched.
    matches = [
        hmac.compare_digest(compute_signature(candidate, fields, auth_token).encode(), given)
        for candidate in _url_variants(url)
    ]
    if not any(matches):
        raise SignatureError("The signature does not match the body.")


def parse_webhook(body: bytes) -> dict[str, str]:
    """Return a webhook's form fields, flat (Twilio repeats no name); InvalidPayload if none."""
    return dict(webhooks.parse_form(body).fields)


def read_webhook(data: Mapping[str, Any]) -> StatusUpdate | InboundMessage:
    """Read a webhook's fields into a status update or an inbound message.

    UnhandledEvent for a status we do not follow ("receiving", "partially_delivered") or a
    call that is neither; ValueError without a MessageSid, or an inbound message without
    its sender.
    """
    sid = _text(data.get("MessageSid"))
    if not sid:
        raise ValueError("The Twilio webhook has no MessageSid.")
    message_status = _text(data.get("MessageStatus")).lower()
    if message_status and message_status != RECEIVED:
        status = STATUSES.get(message_status)
        if status is None:
            raise UnhandledEvent(f"Unsupported Twilio message status {message_status!r}.")
        return StatusUpdate(
            provider=NAME,
            provider_message_id=sid,
            status=status,
            at=None,  # Twilio's callbacks carry no time.
            error=_error(data) if status == channels.FAILED else "",
        )
    if message_status == RECEIVED or "Body" in data:
        return _inbound(sid, data)
    raise UnhandledEvent("The Twilio webhook is neither a status callback nor a message.")


def event_id(data: Mapping[str, Any]) -> str:
    """Return the inbox's id of a webhook: `status:<sid>:<status>` or `in:<sid>`."""
    item = read_webhook(data)
    if isinstance(item, InboundMessage):
        return f"in:{item.provider_message_id}"
    # Twilio's own status, not ours: "sending" and "sent" are two callbacks.
    return f"status:{item.provider_message_id}:{_text(data.get('MessageStatus')).lower()}"


# The /webhooks/twilio/ door: signed form, status callbacks and inbound messages.
WEBHOOK = webhooks.Endpoint(
    provider=NAME, verify=verify_webhook, parse=parse_webhook, event_id=event_id
)


def _inbound(sid: str, data: Mapping[str, Any]) -> InboundMessage:
    sender = _text(data.get("From"))
    channel = channels.SMS
    if sender.lower().startswith(WHATSAPP_PREFIX):
        channel = channels.WHATSAPP
        sender = sender[len(WHATSAPP_PREFIX) :].strip()
    if not sender:
        raise ValueError("The Twilio message has no From.")
    return InboundMessage(
        provider=NAME,
        channel=channel,
        provider_message_id=sid,
        sender=sender,
        body=_text(data.get("Body")) or _media_placeholder(data),
        at=None,
        name=_text(data.get("ProfileName")),
    )


def _media_placeholder(data: Mapping[str, Any]) -> str:
    # A picture sent without text (MMS, WhatsApp): say what came instead of nothing.
    content_type = _text(data.get("MediaContentType0")).lower()
    if not content_type:
        return ""
    kind = content_type.split("/", 1)[0]
    if kind in ("image", "audio", "video"):
        return channels.placeholder(kind)
    return channels.placeholder("document")


def _error(data: Mapping[str, Any]) -> str:
    code = _text(data.get("ErrorCode"))
    # Digits only, and few: int() of a forged 5,000-digit code raises.
    is_number = code.isascii() and code.isdigit() and len(code) <= 9
    known = _ERRORS.get(int(code)) if is_number else None
    message = " ".join(
        part for part in (gettext(known) if known else "", _text(data.get("ErrorMessage"))) if part
    )
    return ": ".join(part for part in (code, message) if part)


def _url_variants(url: str) -> list[str]:
    """Return the URL without its port and with its scheme's default port (Twilio's validator)."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    host = parsed.netloc.rsplit(":", 1)[0] if port else parsed.netloc
    default_port = 443 if parsed.scheme == "https" else 80
    without_port = parsed._replace(netloc=host).geturl()
    with_port = url if port else parsed._replace(netloc=f"{host}:{default_port}").geturl()
    return [without_port, with_port]


def _sender() -> dict[str, str]:
    # A Messaging Service picks the number from its pool (and handles STOP and sticky
    # senders), so it wins when both are set.
    service_sid = settings.TWILIO_MESSAGING_SERVICE_SID
    if service_sid:
        return {"MessagingServiceSid": service_sid}
    if settings.TWILIO_FROM_NUMBER:
        return {"From": settings.TWILIO_FROM_NUMBER}
    raise ProviderError(gettext("Falta el remitente de Twilio: un número o un Messaging Service."))


def _refused(answer: Mapping[str, Any], response: Any = None) -> ProviderError:
    """Turn Twilio's refusal into our error: OptedOut for a number that opted out."""
    text = _refusal(answer, response)
    if str(answer.get("code")) == str(OPTED_OUT):
        return OptedOut(text, notice=_opted_out())
    return ProviderError(text)


def _opted_out() -> str:
    return gettext(
        "Twilio informa que el número se dio de baja (%(code)s): respondió STOP u otra palabra "
        "de baja a nuestros SMS."
    ) % {"code": OPTED_OUT}


def _refusal(answer: Mapping[str, Any], response: Any = None) -> str:
    code = answer.get("code")
    message = _text(answer.get("message"))
    if not message and response is not None:
        message = response.text[: http.ERROR_BODY_CHARS]
    known = _ERRORS.get(code) if isinstance(code, int) else None
    return gettext("Twilio rechazó el SMS (error %(code)s): %(message)s") % {
        "code": code if code not in (None, "") else "?",
        "message": gettext(known) + " " + message if known else message,
    }


def _unexpected(answer: Any) -> str:
    return gettext("Twilio respondió algo inesperado: %(answer)s") % {
        "answer": str(answer)[: http.ERROR_BODY_CHARS]
    }


def _unknown(detail: str) -> str:
    return gettext(
        "Twilio recibió el mensaje pero su respuesta no se pudo leer: no se sabe si se envió "
        "(%(detail)s)"
    ) % {"detail": detail}


def _json_object(response: Any) -> dict[str, Any]:
    try:
        answer = http.answer_json(response)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    if response.status_code >= 400:
        # A refusal without Twilio's JSON (a proxy's page): keep its text.
        return {}
    # A success (2xx) that is not Twilio's JSON: Twilio most likely took the message.
    raise http.OutcomeUnknown(_unknown(_unexpected(response.text)))


def _has_twilio_credentials() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""
