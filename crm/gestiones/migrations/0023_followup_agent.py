"""Each follow-up names the gestión's agent once it was recorded: the time dashboard
credits every stay to the agent in charge when it began, not to whoever holds the gestión
now.

Older rows get the gestión's agent at migration time, what the dashboard credits them to
today, and only on open gestiones: a closed one is never reassigned, so its empty rows
read as its agent for good, and its follow-ups (most of the table) are not rewritten.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def name_the_agent_of_open_gestiones(apps, schema_editor) -> None:
    FollowUp = apps.get_model("gestiones", "FollowUp")
    Gestion = apps.get_model("gestiones", "Gestion")
    open_gestiones = Gestion.objects.filter(outcome="open", agent__isnull=False)
    FollowUp.objects.filter(gestion__in=open_gestiones.values("pk")).update(
        agent_id=Subquery(Gestion.objects.filter(pk=OuterRef("gestion_id")).values("agent_id"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0022_deletionrecord_to_crm"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="agent",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="gestor a cargo",
            ),
        ),
        migrations.RunPython(name_the_agent_of_open_gestiones, migrations.RunPython.noop),
    ]
