"""When a written-off campaign's offer ends for its debtor: the countdown the /recovery/
portal showed them (fixed at their first visit), else the end of the campaign's end date.

Below the portal and the receivable alike (recovery.portal.selectors shows it, and
recovery.receivables puts it on the campaign's Debt, which bounds its links), so neither
imports the other.
"""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from recovery.models import Campaign, RecoverySettings


def end_of_day(day: date) -> datetime:
    """Return the moment `day` ends, local time (the next day's midnight)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def countdown_deadline(campaign: Campaign, portal: RecoverySettings) -> datetime | None:
    """Return when the offer ends for this debtor: the end fixed at their first visit (the
    hours set then), never past the campaign's end date (as it is now); None without a
    countdown: switched off now, off at the first visit, or started before it was last
    switched on (that debtor was shown the offer without one since)."""
    deadline = campaign.countdown_ends_at
    if not portal.countdown_enabled or deadline is None or campaign.first_visit_at is None:
        return None
    since = portal.countdown_started_at
    if since is not None and campaign.first_visit_at < since:
        return None
    if campaign.ends_on is not None:
        deadline = min(deadline, end_of_day(campaign.ends_on))
    return deadline


def offer_ends_at(campaign: Campaign, portal: RecoverySettings | None = None) -> datetime | None:
    """Return when the campaign's offer ends for its debtor: the countdown's end once it
    started (`countdown_deadline`), else the end of the campaign's end date; None when
    neither is set. Past it, the offer has concluded (since then): the portal and the bot
    make no new link, and no link made before outlives it (the campaign's `Debt`).

    Reads the portal's settings only for a campaign whose countdown started."""
    if campaign.countdown_ends_at is not None and campaign.first_visit_at is not None:
        deadline = countdown_deadline(campaign, portal or RecoverySettings.current())
        if deadline is not None:
            return deadline
    if campaign.ends_on is not None:
        return end_of_day(campaign.ends_on)
    return None
