"""The portal's own writes: one-time codes that prove a visitor is the customer, and each
visit's steps on the customer's timeline.

Nothing here tells a caller whether a document is registered. A code is asked for and
checked with the same work either way (a code drawn and hashed, one lookup); only the
customer, reading their phone or e-mail, learns that a code was sent. A code is kept as
an HMAC keyed with SECRET_KEY and bound to its customer, never in clear, lasts
CODE_MINUTES, allows MAX_ATTEMPTS wrong tries and opens one session. A new code leaves the
one before it working for PREVIOUS_CODE_MINUTES after that one was sent (the visitor sent
the form again because its answer was lost, and the first message arrives first); a wrong
try counts against both, so two open codes never allow more guesses than one.
"""

import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app import services as collection_services
from collections_app.models import CallbackRequest, Origin, PaymentLink, PortalCode
from crm import display
from crm import messages as customer_messages
from crm import services as crm_services
from crm.models import Customer, Interaction, Message
from integrations import sms
from integrations.models import OutboxMessage

CODE_DIGITS = 6
CODE_MINUTES = 10
MAX_ATTEMPTS = 5
# How long after it was sent a code still works once a newer one was asked for.
PREVIOUS_CODE_MINUTES = 5
# The channels a code may travel by, in order of preference: the first the customer has an
# address on. SMS only with a real SMS provider: without one, SMS go to the log, and a
# code must reach the debtor.
CODE_CHANNELS = (customer_messages.SMS, customer_messages.EMAIL)
_CODE_SALT = "collections_app.portal.code"
_DOCUMENT_SALT = "collections_app.portal.document"


class Step:
    """How far a visit got, in the order a visit usually goes."""

    IDENTIFIED = "identified"
    STATEMENT = "statement"
    LINK = "link"
    REPORTED = "reported"
    PROMISED = "promised"
    AGREEMENT = "agreement"
    CALLBACK = "callback"

    LABELS = {
        IDENTIFIED: gettext_lazy("se identificó con el código enviado"),
        STATEMENT: gettext_lazy("vio su estado de cuenta"),
        LINK: gettext_lazy("abrió un link de pago"),
        REPORTED: gettext_lazy("informó un pago"),
        PROMISED: gettext_lazy("se comprometió a pagar"),
        AGREEMENT: gettext_lazy("tomó un convenio de pago"),
        CALLBACK: gettext_lazy("pidió que lo llamen"),
    }


# --- One-time codes ------------------------------------------------------------------------


def code_hash(customer_id: int, code: str) -> str:
    """Return the code's HMAC (SECRET_KEY), bound to the customer: 64 hex characters."""
    return salted_hmac(_CODE_SALT, f"{customer_id}:{code}", algorithm="sha256").hexdigest()


def document_key(document_type: str, document_number: str) -> str:
    """Return a keyed digest of a document, to count requests by it without keeping it."""
    value = f"{document_type}:{document_number}"
    return salted_hmac(_DOCUMENT_SALT, value, algorithm="sha256").hexdigest()[:32]


def _customer(document_type: str, document_number: str) -> Customer | None:
    # The document of a record merged into another one (crm.merge) is the kept record's.
    return (
        Customer.objects.filter(document_type=document_type, document_number=document_number)
        .resolved()
        .first()
    )


def _channel_for(customer: Customer) -> tuple[str, str]:
    """Return the first channel, of CODE_CHANNELS, the customer has an address on."""
    for channel in CODE_CHANNELS:
        if channel == customer_messages.SMS and not sms.is_configured():
            continue
        address = customer_messages.address_for(customer, channel)
        if address:
            return channel, address
    return customer_messages.EMAIL, ""


@transaction.atomic
def request_code(*, document_type: str, document_number: str, request_id: str = "") -> None:
    """Send a new code to the customer with this document, if there is one; say nothing.

    Earlier codes still open stop working, but for the newest one sent less than
    PREVIOUS_CODE_MINUTES ago (check_code). A customer without an address gets no code, and
    the timeline says why (the message service's entry). One who asked not to be contacted
    gets it: it answers their own request, and without it they could not sign in to pay.
    Expiring the old codes, making the new one and queueing its message (the outbox, sent
    after the commit) happen together or not at all. A `request_id` already served (the
    task delivered again: an ack lost, the broker's visibility timeout) does nothing: a
    second code would end the first while the visitor types it.
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    customer = _customer(document_type, document_number)
    # Hashed whether or not the document is registered: the same work either way.
    hashed = code_hash(customer.pk if customer else 0, code)
    if customer is None:
        return
    dedupe_key = f"portal-code-request-{request_id}" if request_id else ""
    if dedupe_key:
        # Two deliveries at once: the second waits here, then finds the first's message.
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if OutboxMessage.objects.filter(dedupe_key=dedupe_key).exists():
            return
    now = timezone.now()
    still_open = PortalCode.objects.filter(
        customer=customer, used_at__isnull=True, expires_at__gt=now
    )
    # The code before this one may reach the visitor first: it stays open (check_code).
    kept = still_open.filter(created_at__gt=now - timedelta(minutes=PREVIOUS_CODE_MINUTES))
    kept = list(kept.order_by("-created_at", "-pk").values_list("pk", flat=True)[:1])
    still_open.exclude(pk__in=kept).update(expires_at=now)
    channel, address = _channel_for(customer)
    portal_code = None
    if address:
        portal_code = PortalCode.objects.create(
            customer=customer,
            code_hash=hashed,
            channel=channel,
            sent_to=address[:120],
            created_at=now,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
    customer_messages.send_customer_message(
        customer=customer,
        channel=channel,
        subject=_("Su código para el portal de pagos"),
        body=_(
            "Su código para ingresar al portal de pagos es %(code)s. Vence en %(minutes)s "
            "minutos y sirve una sola vez. Si usted no lo pidió, ignore este mensaje."
        )
        % {"code": code, "minutes": CODE_MINUTES},
        dedupe_key=dedupe_key or (f"portal-code-{portal_code.pk}" if portal_code else ""),
        is_secret=True,
        requested=True,
    )


@transaction.atomic
def check_code(*, document_type: str, document_number: str, code: str) -> Customer | None:
    """Return the customer when `code` is one of their open codes, and spend it; else None.

    The newest open code counts, and the one before it while it is less than
    PREVIOUS_CODE_MINUTES old (request_code leaves no other open). A wrong code counts as
    an attempt on both, so they share MAX_ATTEMPTS: once the newest has had them, both are
    refused even when right. The right code closes the other one: one code, one session.
    """
    now = timezone.now()
    customer = _customer(document_type, document_number)
    customer_id = customer.pk if customer else 0
    # Asked for with id 0 when nobody has the document: the same query either way.
    open_codes = (
        PortalCode.objects.select_for_update()
        .filter(customer_id=customer_id, used_at__isnull=True)
        .filter(expires_at__gt=now)
        .order_by("-created_at", "-pk")
    )
    newest, previous = [*open_codes[:2], None, None][:2]
    if previous is not None and previous.created_at <= now - timedelta(
        minutes=PREVIOUS_CODE_MINUTES
    ):
        previous = None
    # Compared with two codes whether or not there are codes to compare with: the same work
    # either way.
    given = code_hash(customer_id, code)
    placeholder = code_hash(0, "-")
    matches = [
        hmac.compare_digest(candidate.code_hash if candidate else placeholder, given)
        for candidate in (newest, previous)
    ]
    if newest is None or newest.attempts >= MAX_ATTEMPTS:
        return None
    candidates = [c for c in (newest, previous) if c is not None and c.attempts < MAX_ATTEMPTS]
    matched = next(
        (
            c
            for c, match in zip((newest, previous), matches, strict=True)
            if match and c in candidates
        ),
        None,
    )
    if matched is None:
        PortalCode.objects.filter(pk__in=[c.pk for c in candidates]).update(
            attempts=F("attempts") + 1
        )
        return None
    matched.used_at = now
    matched.save(update_fields=["used_at"])
    PortalCode.objects.filter(customer_id=customer_id, used_at__isnull=True).filter(
        expires_at__gt=now
    ).update(expires_at=now)
    return customer


# --- Visits --------------------------------------------------------------------------------


def new_visit_id() -> str:
    """Return an id that groups one visit's timeline entries."""
    return secrets.token_hex(6)


def record_step(*, customer: Customer, visit: str, step: str, detail: str = "") -> Interaction:
    """Put one step of a portal visit on the customer's timeline, with the visit's id."""
    summary = _("Portal del cliente: %(step)s") % {"step": Step.LABELS[step]}
    if detail:
        summary = f"{summary} ({detail})"
    return crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.PORTAL_VISIT,
        direction=Interaction.Direction.INBOUND,
        summary=summary,
        payload={"visit": visit, "step": step},
    )


@transaction.atomic
def record_link_step(*, customer: Customer, visit: str, link: PaymentLink) -> bool:
    """Put on the timeline that the visitor opened `link`, once per link; return whether
    this call wrote it.

    Pressed twice (a double click, the back button and again), *Pagar* finds the link the
    first press made (create_payment_link's reuse): one link, one entry. Under the
    customer's lock, so two presses at once write one entry too.
    """
    crm_services.lock_customer(customer.pk)
    said = Interaction.objects.filter(
        customer=customer,
        kind=Interaction.Kind.PORTAL_VISIT,
        payload__step=Step.LINK,
        summary__contains=link.reference,
    ).exists()
    if said:
        return False
    record_step(customer=customer, visit=visit, step=Step.LINK, detail=link_detail(link))
    return True


def link_detail(link: PaymentLink) -> str:
    """The link as the step's entry names it: «cuota 3, S/ 945.60, PL-…», the amount
    written as the rest of the timeline writes it."""
    concept = link.get_concept_display().lower()
    if link.concept == PaymentLink.Concept.INSTALLMENT and link.installment_number:
        concept = f"{concept} {link.installment_number}"
    amount = display.money_text(link.amount, link.currency)
    return f"{concept}, {amount}, {link.reference}"


@transaction.atomic
def start_visit(customer: Customer) -> str:
    """Record that a visitor proved to be the customer; return the visit's id."""
    visit = new_visit_id()
    entry = record_step(customer=customer, visit=visit, step=Step.IDENTIFIED)
    # The visit shows in the customer's conversation; its later steps only on the timeline.
    customer_messages.record_activity(interaction=entry, channel=Message.Channel.PORTAL)
    return visit


@transaction.atomic
def request_call(
    *, customer: Customer, visit: str, phone: str, preferred_time: str
) -> CallbackRequest:
    """Ask for a call to `phone` for the identified customer, and put the step on the
    timeline once a visit; return the request.

    The number's request still waiting is the one returned (`request_callback`: one open
    request per number), so a form sent twice is one call in the agents' list.
    """
    callback = collection_services.request_callback(
        customer=customer,
        phone=phone,
        origin=Origin.PORTAL,
        actor=None,
        preferred_time=preferred_time,
    )
    asked_in_this_visit = (
        callback.is_repeat
        and Interaction.objects.filter(
            customer=customer,
            kind=Interaction.Kind.PORTAL_VISIT,
            payload__visit=visit,
            payload__step=Step.CALLBACK,
        ).exists()
    )
    if not asked_in_this_visit:
        record_step(customer=customer, visit=visit, step=Step.CALLBACK, detail=preferred_time)
    return callback


@transaction.atomic
def request_call_unverified(
    *, document_type: str, document_number: str, preferred_time: str
) -> CallbackRequest | None:
    """A visitor who got no code asks for a call: call the phone on file, if any.

    The visitor has not proved who they are, so the call goes only to the number the
    customer registered, never to one the visitor types; whoever calls checks who answers.
    Return the request, or None (nobody with that document, or no phone on file: then the
    timeline says that a call was asked for and could not be placed).
    """
    customer = _customer(document_type, document_number)
    if customer is None:
        return None
    if not customer.phone:
        crm_services.record_interaction(
            customer=customer,
            kind=Interaction.Kind.PORTAL_VISIT,
            direction=Interaction.Direction.INBOUND,
            summary=_(
                "Portal del cliente: pidió que lo llamen sin haberse identificado (no recibió "
                "el código), pero no tiene celular registrado"
            ),
            payload={"step": Step.CALLBACK},
        )
        return None
    return collection_services.request_callback(
        customer=customer,
        phone=str(customer.phone),
        origin=Origin.PORTAL,
        actor=None,
        preferred_time=_("%(time)s; sin identificarse en el portal") % {"time": preferred_time},
    )
