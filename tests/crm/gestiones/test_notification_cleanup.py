"""Read notifications are deleted NOTIFICATIONS_KEEP_DAYS after they were read, in bounded
pk ranges; unread ones stay however old."""

from datetime import timedelta

from django.utils import timezone

from crm.gestiones.models import Notification
from crm.gestiones.notifications import services


def test_notifications_read_long_ago_go_recent_and_unread_ones_stay(asesor):
    now = timezone.now()
    long_ago = now - timedelta(days=services.NOTIFICATIONS_KEEP_DAYS + 1)
    lately = now - timedelta(days=services.NOTIFICATIONS_KEEP_DAYS - 1)

    def notification(read_at):
        return Notification.objects.create(
            recipient=asesor, kind="info", message="Aviso", created_at=long_ago, read_at=read_at
        )

    old_read = notification(long_ago)
    recent_read = notification(lately)
    unread = notification(None)

    assert services.delete_old_notifications(now=now) == 1
    assert not Notification.objects.filter(pk=old_read.pk).exists()
    assert set(Notification.objects.values_list("pk", flat=True)) == {recent_read.pk, unread.pk}


def test_a_run_deletes_at_most_max_rows(asesor):
    long_ago = timezone.now() - timedelta(days=services.NOTIFICATIONS_KEEP_DAYS + 1)
    Notification.objects.bulk_create(
        Notification(recipient=asesor, kind="info", message=f"Aviso {n}", read_at=long_ago)
        for n in range(5)
    )

    assert services.delete_old_notifications(batch=2, max_rows=3) == 3
    assert Notification.objects.count() == 2
    assert services.delete_old_notifications(batch=2, max_rows=3) == 2
    assert not Notification.objects.exists()


def test_beat_deletes_old_notifications_every_day():
    from django.conf import settings

    from crm.gestiones import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["gestiones-delete-old-notifications"]
    assert entry["task"] == tasks.delete_old_notifications.name
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {25})
