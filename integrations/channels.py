"""What every messaging provider (SMS, WhatsApp) gives back, in one shape whoever sent it.

A provider module sends a message and answers a `Delivery`; its webhooks read into a
`StatusUpdate` (what became of a message we sent) or an `InboundMessage` (what a
customer wrote to us). The domain app keeps a message's status and moves it forward with
`advances`, because providers retry callbacks and deliver them out of order.

Without credentials a provider hands its message to `log_delivery`, which only writes it
to the log: the demo and a development machine then "send" without any account.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext, gettext_noop

logger = logging.getLogger("integrations.channels")

QUEUED = "queued"
SENT = "sent"
DELIVERED = "delivered"
READ = "read"
FAILED = "failed"
# Every status a message we sent can be in.
STATUSES = (QUEUED, SENT, DELIVERED, READ, FAILED)
# What a provider may answer when it takes a message: it has queued it, or sent it on.
ACCEPTED_STATUSES = (QUEUED, SENT)
# A message's life when all goes well; FAILED stands outside it (see `advances`).
STATUS_ORDER = {QUEUED: 0, SENT: 1, DELIVERED: 2, READ: 3}

SMS = "sms"
WHATSAPP = "whatsapp"
CHANNELS = (SMS, WHATSAPP)

# The text an inbound message without text shows in a conversation, by kind of content.
_PLACEHOLDERS = {
    "image": gettext_noop("[imagen]"),
    "audio": gettext_noop("[audio]"),
    "document": gettext_noop("[documento]"),
    "video": gettext_noop("[video]"),
    "sticker": gettext_noop("[sticker]"),
    "location": gettext_noop("[ubicación]"),
}
_OTHER_PLACEHOLDER = gettext_noop("[mensaje]")


@dataclass(frozen=True)
class Delivery:
    """What a provider answered when it accepted a message: its id for it, and its status."""

    # "twilio", "whatsapp", "log", or a registered SMS provider's name.
    provider: str
    # Status callbacks name the message by this id.
    provider_message_id: str
    # One of ACCEPTED_STATUSES, as the provider reported it.
    status: str = SENT

    def __post_init__(self) -> None:
        if self.status not in ACCEPTED_STATUSES:
            raise ValueError(f"A delivery's status is one of {ACCEPTED_STATUSES}: {self.status!r}.")


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery-status callback: what became of a message we sent."""

    provider: str
    provider_message_id: str
    # One of STATUSES.
    status: str
    # When the provider says it happened (aware, UTC); None when it does not say.
    at: datetime | None
    # The provider's error code and text when the message failed.
    error: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"A message status is one of {STATUSES}: {self.status!r}.")


@dataclass(frozen=True)
class InboundMessage:
    """A message a customer sent us."""

    provider: str
    # One of CHANNELS: the one the customer wrote on.
    channel: str
    provider_message_id: str
    # E.164, "+51987654321"; or WhatsApp's business-scoped user id when the sender shows no phone.
    sender: str
    # The text; a short placeholder ("[imagen]") for content that is not text.
    body: str
    at: datetime | None
    # The sender's profile name, when the provider gives it.
    name: str = ""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"A channel is one of {CHANNELS}: {self.channel!r}.")


def advances(current: str, new: str) -> bool:
    """Return whether a message in status `current` should move to status `new`.

    Forward only along queued → sent → delivered → read, so that a late or repeated
    callback changes nothing. `failed` follows queued or sent, never delivered or read
    (the customer has the message), and nothing follows it. A `current` outside STATUSES
    (none yet, or a local state such as the outbox's "sending") comes before them all;
    a `new` outside STATUSES never advances.
    """
    if current in (new, FAILED):
        return False
    known = current in STATUS_ORDER
    if new == FAILED:
        return not known or STATUS_ORDER[current] <= STATUS_ORDER[SENT]
    if new not in STATUS_ORDER:
        return False
    return not known or STATUS_ORDER[new] > STATUS_ORDER[current]


def placeholder(kind: str) -> str:
    """Return the Spanish text that stands for a message of `kind` ("image"...) without text."""
    return gettext(_PLACEHOLDERS.get(kind, _OTHER_PLACEHOLDER))


# The provider of a message written to the log: its channel has no credentials.
LOG_PROVIDER = "log"


def log_delivery(provider_label: str, to: str, text: str) -> Delivery:
    """Write a message to the log instead of sending it, and answer as a provider would."""
    logger.info(
        "%s is not configured; message to %s logged, not sent: %s", provider_label, to, text
    )
    return Delivery(
        provider=LOG_PROVIDER, provider_message_id="log-" + uuid.uuid4().hex, status=SENT
    )
