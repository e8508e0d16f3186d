"""Celery doors into the flow runner; ids in, counts out.

collections_app/tasks.py imports these, so the worker (which autodiscovers each app's
`tasks` module) registers them.
"""

from celery import shared_task

from collections_app.models import Flow
from collections_app.strategies import effectiveness, flow_forms, flows


@shared_task(name="collections_app.run_flows")
def run_flows() -> int:
    """Run today's steps of every active flow (beat, every morning); return how many ran."""
    return len(flows.run_flows())


@shared_task(name="collections_app.resume_flows")
def resume_flows() -> int:
    """Take up what dead workers left of today's flow runs (beat, every 15 minutes); return
    how many steps it went through."""
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
