"""Drop the loan's single-column indexes on customer and status: the (customer, status)
and (status, bucket) indexes lead with those columns and serve their lookups, and every
loan written (a book import writes 100,000) paid for three more indexes.

By name, as recovery 0003 does: Django's AlterField(db_index=False) drops every plain
index on the column by what it finds in the database, and cannot say which it will be.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = (
    ("credits_loan_customer_id_d591d734", '"customer_id"'),
    ("credits_loan_status_b65dddf1", '"status"'),
)
# PostgreSQL's only: for LIKE on the column, which nothing asks of a status.
LIKE = ("credits_loan_status_b65dddf1_like", '"status" varchar_pattern_ops')


def drop_like(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{LIKE[0]}"')


def create_like(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{LIKE[0]}" ON "credits_loan" ({LIKE[1]})')


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0008_payment_source_clear"),
        ("crm", "0019_import_batch_head"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "credits_loan" ({columns})',
                )
                for name, columns in INDEXES
            ]
            + [migrations.RunPython(drop_like, create_like)],
            state_operations=[
                migrations.AlterField(
                    model_name="loan",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="loans",
                        to="crm.customer",
                        verbose_name="cliente",
                    ),
                ),
                migrations.AlterField(
                    model_name="loan",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("draft", "Borrador"),
                            ("awaiting_signature", "Por firmar"),
                            ("ready_to_disburse", "Por desembolsar"),
                            ("active", "Vigente"),
                            ("paid", "Pagado"),
                            ("written_off", "Castigado"),
                            ("cancelled", "Anulado"),
                        ],
                        default="draft",
                        max_length=20,
                        verbose_name="estado",
                    ),
                ),
            ],
        ),
    ]
