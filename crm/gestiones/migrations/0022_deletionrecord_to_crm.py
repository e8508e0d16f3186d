"""The deletions audit moves down to the core (crm 0024 takes the model into its state).

Here: `kind` is widened to 30 characters in the database (registered codes such as
"message_template", no longer choices); the model leaves gestiones' state, its table and
rows staying; its content type becomes crm's, so the permissions keep their ids and every
group or person that could read the audit still can, as `crm.view_deletionrecord`; and the
roles are synced again (crm.roles now names that permission).
"""

from django.db import migrations, models

MODEL = "deletionrecord"


def _move_content_type(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    moving = ContentType.objects.filter(app_label=source, model=MODEL).first()
    if moving is None:
        return  # a database whose permissions were never created: post_migrate makes them
    # One made for the target meanwhile (by a sync of the roles) holds no group's old grant:
    # the moving one, whose permissions the groups hold, replaces it.
    ContentType.objects.filter(app_label=target, model=MODEL).delete()
    moving.app_label = target
    moving.save(update_fields=["app_label"])
    ContentType.objects.clear_cache()


def to_crm(apps, schema_editor):
    from crm.roles import sync_roles

    _move_content_type(apps, "gestiones", "crm")
    sync_roles(apps)


def to_gestiones(apps, schema_editor):
    _move_content_type(apps, "crm", "gestiones")


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0021_board_card_index"),
        ("crm", "0024_deletionrecord"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The last syncs of the roles so far: this one runs after them and leaves the whole
        # table applied.
        ("credits", "0010_cancel_loan_permission"),
        ("recovery", "0002_roles"),
        ("callcenter", "0002_roles"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deletionrecord",
            name="kind",
            field=models.CharField(max_length=30, verbose_name="qué"),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="DeletionRecord")],
        ),
        migrations.RunPython(to_crm, to_gestiones),
    ]
