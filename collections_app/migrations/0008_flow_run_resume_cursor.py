import datetime

from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

# What Message.origin says of a flow step's messages (collections_app.strategies.flows).
FLOW_ORIGIN = "collections.flow_step"


def cursor_from_messages(apps, schema_editor):
    """Give the runs that may still be taken up (running or failed) the cursor they went on
    from before: the last customer their step messaged that day."""
    FlowRun = apps.get_model("collections_app", "FlowRun")
    Message = apps.get_model("crm", "Message")
    for run in FlowRun.objects.exclude(status="done").only("pk", "step_id", "run_on"):
        start = timezone.make_aware(datetime.datetime.combine(run.run_on, datetime.time.min))
        last = Message.objects.filter(
            origin=FLOW_ORIGIN, origin_id=run.step_id, created_at__gte=start
        ).aggregate(last=Max("customer_id"))["last"]
        if last:
            FlowRun.objects.filter(pk=run.pk).update(last_customer_id=last)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0007_segment_balance_currency"),
        ("crm", "0020_message_replies_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowrun",
            name="attempt",
            field=models.PositiveIntegerField(default=1, verbose_name="intento"),
        ),
        migrations.AddField(
            model_name="flowrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="último avance"),
        ),
        migrations.AddField(
            model_name="flowrun",
            name="last_customer_id",
            field=models.PositiveBigIntegerField(
                default=0, verbose_name="último cliente procesado"
            ),
        ),
        migrations.RunPython(cursor_from_messages, migrations.RunPython.noop),
    ]
