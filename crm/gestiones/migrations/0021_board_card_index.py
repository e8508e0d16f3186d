"""The board's columns read a state's first 15 gestiones by due date (undated last), then
the latest closed, then by number: an index in that order. Without it a closed state of
the bench (110,000 gestiones, every one undated) walked the due-date index over all
1,000,000 gestiones: ~210 ms a column."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0020_state_duration_bounds"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="gestion",
            index=models.Index(
                fields=["state", "due_at", "-closed_at", "id"], name="gestiones_state_board_idx"
            ),
        ),
    ]
