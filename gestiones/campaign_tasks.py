"""Celery doors into the campaign and life-cycle services.

The tasks carry explicit names: beat and `campaigns.launch_campaign` send them by name,
and this module is not one Celery's autodiscovery finds by itself (it looks for
`tasks.py`), so the worker must import it (see `gestiones.campaigns`).
"""

from celery import shared_task

# The services import this module to enqueue; they are imported inside each task.


@shared_task(name="gestiones.launch_campaign")
def launch_campaign(campaign_id: int, actor_id: int | None = None) -> int:
    """Reach the pending customers of a launched outbound campaign, batch by batch."""
    from gestiones import campaigns

    return campaigns.reach_segment(campaign_id=campaign_id, actor_id=actor_id)


@shared_task(name="gestiones.run_lifecycle_events")
def run_lifecycle_events() -> dict[str, int]:
    """Run the day's life-cycle events (beat, daily)."""
    from gestiones import lifecycle

    return lifecycle.run_lifecycle_events()
