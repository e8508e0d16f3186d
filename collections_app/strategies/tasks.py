"""Celery doors into the flow runner; ids in, counts out.

collections_app/tasks.py imports these, so the worker (which autodiscovers each app's
`tasks` module) registers them.
"""

import logging

from celery import shared_task
from django.utils import timezone

from collections_app.models import Flow
from collections_app.strategies import effectiveness, flow_forms, flows
from credits.services import nightly

logger = logging.getLogger(__name__)


@shared_task(name="collections_app.run_flows")
def run_flows() -> int:
    """Run today's steps of every active flow (beat, every morning); return how many ran.

    After a stop, beat sends every missed daily job at once, at whatever hour it is: before
    09:00 nothing runs (the 15-minute sweep runs the day's steps from 09:00), and the
    loans' nightly runs first when it has not yet today, so the messages read today's days
    past due, amounts and segments, not the figures of the last night it ran.
    """
    if timezone.localtime().time() < flows.RUN_AT:
        logger.info("Flows not run before %s: the sweep runs them then", flows.RUN_AT)
        return 0
    nightly.run_unless_done()
    return len(flows.run_flows())


@shared_task(name="collections_app.resume_flows")
def resume_flows() -> int:
    """Take up what dead workers left of today's flow runs (beat, every 15 minutes); return
    how many steps it went through. From 09:00 it also runs steps not run today, after the
    loans' nightly (`run_flows`)."""
    if timezone.localtime().time() >= flows.RUN_AT:
        nightly.run_unless_done()
    return len(flows.resume_runs())


@shared_task(name="collections_app.run_flow")
def run_flow(flow_id: int) -> int:
    """Run today's steps of one flow ("Ejecutar hoy"); return how many ran."""
    flow = Flow.objects.select_related("segment").filter(pk=flow_id).first()
    if flow is None:
        return 0  # deleted since it was queued
    return len(flows.run_flow(flow))


@shared_task(name="collections_app.refresh_effectiveness")
def refresh_effectiveness() -> str:
    """Compute and keep the effectiveness report of the period the page opens on (beat,
    every 5 minutes); return that period."""
    since, until, days = flow_forms.EffectivenessForm({}).period()
    effectiveness.keep_report(since=since, until=until, days=days)
    return f"{since.isoformat()}..{until.isoformat()}+{days}"
