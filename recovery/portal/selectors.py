"""What the /recovery portal reads: a document's active campaign, the offer as it stands
now (its countdown included), the reasons to decline it, and the visits' funnel."""

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import PaymentLink, Portfolio
from collections_app.strategies import templating, variables
from crm.models import Customer
from recovery.models import RECEIVABLE_KIND as CAMPAIGN
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.offers import countdown_deadline, end_of_day, offer_ends_at

# Always offered last among the reasons to decline: it asks for a call-back.
ADVISOR_REASON = "Necesito que un asesor me contacte"


def campaign_for_document(document_type: str, document_number: str) -> Campaign | None:
    """Return the active campaign of the customer with this document, or None.

    One query whether or not anyone has the document, so nothing tells an unknown
    document from one without a campaign. The document of a record merged into another
    one (crm.merge) is the kept record's, which has its campaigns now.
    """
    holders = Customer.objects.filter(
        document_type=document_type, document_number=document_number
    ).resolved()
    return (
        Campaign.objects.filter(customer__in=holders, status=Campaign.Status.ACTIVE)
        .select_related("customer")
        .order_by("pk")
        .first()
    )


@dataclass(frozen=True)
class Offer:
    """A campaign's offer as the debtor sees it now."""

    campaign: Campaign
    now: datetime
    # The countdown's end: only while the campaign is in force and a countdown is set.
    deadline: datetime | None
    is_concluded: bool

    @property
    def is_paid(self) -> bool:
        return self.campaign.status == Campaign.Status.PAID

    @property
    def is_open(self) -> bool:
        return not self.is_concluded and not self.is_paid

    @property
    def deadline_shown(self) -> datetime | None:
        """The deadline as the debtor reads it, local time: an offer that runs to the end
        of 16 June reads "16/06/2026 23:59", not "17/06/2026 00:00" (the next day)."""
        return _as_read(self.deadline) if self.deadline is not None else None

    @property
    def seconds_left(self) -> int:
        if self.deadline is None:
            return 0
        return max(0, math.ceil((self.deadline - self.now).total_seconds()))

    @property
    def clock(self) -> str:
        """The time left as the countdown shows it: hours (any number), minutes, seconds."""
        hours, rest = divmod(self.seconds_left, 3600)
        return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def offer(campaign: Campaign, portal: RecoverySettings, now: datetime | None = None) -> Offer:
    """Return the campaign's offer now: open, concluded (the campaign ended, or its
    countdown ran out) or paid."""
    now = now or timezone.now()
    in_force = campaign.is_active and not campaign.has_ended(timezone.localdate(now))
    deadline = countdown_deadline(campaign, portal) if in_force else None
    is_concluded = campaign.status != Campaign.Status.PAID and (
        not in_force or (deadline is not None and now >= deadline)
    )
    return Offer(campaign=campaign, now=now, deadline=deadline, is_concluded=is_concluded)


@dataclass(frozen=True)
class LinkTerms:
    """What a campaign link's page says of the offer the link pays."""

    # Until when the link can be paid, local time as the debtor reads it (an end of day
    # reads 23:59): its expiry, or the offer's end when that comes first.
    valid_until: datetime
    # The offer concluded after the link was made (the countdown ran out, the campaign
    # ended): the page no longer invites paying it. A link an agent made after the offer
    # concluded is theirs to offer: it is not.
    offer_concluded: bool
    ended_at: datetime | None  # when the offer concluded, local time as the debtor reads it


def link_terms(
    link: PaymentLink, campaign: Campaign | None, portal: RecoverySettings, now: datetime | None
) -> LinkTerms:
    """Return what the page of `link` (a link for `campaign`) says of its offer now."""
    now = now or timezone.now()
    ends = offer_ends_at(campaign, portal) if campaign is not None else None
    made_before = ends is not None and link.created_at < ends
    valid_until = min(link.expires_at, ends) if made_before else link.expires_at
    concluded = (
        campaign is not None
        and link.status in (PaymentLink.Status.ACTIVE, PaymentLink.Status.EXPIRED)
        and offer(campaign, portal, now).is_concluded
        and (ends is None or made_before)
    )
    return LinkTerms(
        valid_until=_as_read(valid_until),
        offer_concluded=concluded,
        ended_at=_as_read(ends) if concluded and ends is not None else None,
    )


def _as_read(moment: datetime) -> datetime:
    """A moment in local time as the debtor reads it: midnight ends the day before."""
    local = timezone.localtime(moment)
    if local.time() == time.min:
        return local - timedelta(minutes=1)
    return local


# What a visit keeps of the reason chosen (the admin refuses a longer line).
REASON_CHARS = Visit._meta.get_field("decline_reason").max_length


def offer_text(
    portal: RecoverySettings, campaign: Campaign, customer: Customer, today: date
) -> str:
    """Return the portal's offer text written for `customer` and `campaign`: its variables
    ({nombre}, {monto_cancelacion}…, as the written-off templates have them) filled in, and
    `{{` as a brace. Plain text: the page escapes it."""
    parsed = templating.parse(portal.offer_text)
    if not parsed.names:
        return parsed.format({})
    recipient = variables.Recipient(
        customer=customer, receivable_kind=CAMPAIGN, receivable_id=campaign.pk
    )
    (values,) = variables.load_values([recipient], Portfolio.WRITTEN_OFF, today, names=parsed.names)
    return parsed.format(values)


def decline_reasons(portal: RecoverySettings) -> list[str]:
    """Return the configured reasons, one per line, and the advisor's last."""
    reasons = []
    for line in portal.decline_reasons.splitlines():
        reason = " ".join(line.split())[:REASON_CHARS]
        if reason and reason not in reasons and reason != ADVISOR_REASON:
            reasons.append(reason)
    return [*reasons, ADVISOR_REASON]


def funnel(
    campaign_code: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> list[tuple[str, int]]:
    """Return how many visits reached each step (each counts at every step up to its
    furthest), and how many declined; of one campaign code and a period when given.

    `since` and `until` are inclusive; a date means that whole local day. One query.
    """
    visits = Visit.objects.all()
    if campaign_code:
        visits = visits.filter(campaign__code__iexact=campaign_code)  # as the list filters it
    if since is not None:
        start = since if isinstance(since, datetime) else end_of_day(since - timedelta(days=1))
        visits = visits.filter(started_at__gte=start)
    if until is not None:
        if isinstance(until, datetime):
            visits = visits.filter(started_at__lte=until)
        else:
            visits = visits.filter(started_at__lt=end_of_day(until))
    counts = visits.aggregate(
        **{
            f"step_{step.value}": Count("pk", filter=Q(furthest_step__gte=step.value))
            for step in Visit.Step
        },
        declined=Count("pk", filter=Q(declined=True)),
    )
    rows = [(str(step.label), counts[f"step_{step.value}"]) for step in Visit.Step]
    return [*rows, (str(_("No le interesa")), counts["declined"])]
