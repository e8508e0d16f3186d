# A campaign covers the written-off loans it was made for (Campaign.loans), no longer
# every loan its customer has written off whenever read: a loan written off later was
# swallowed by an older blank-code campaign. The campaigns made before keep what they
# covered when they were made: the loan their payment code names; with a blank code, the
# customer's loans written off by then and still written off.

from django.db import migrations, models

CHUNK = 2000
WRITTEN_OFF = "written_off"


def cover_what_they_covered(apps, schema_editor):
    Campaign = apps.get_model("recovery", "Campaign")
    Loan = apps.get_model("credits", "Loan")
    through = Campaign.loans.through
    db = schema_editor.connection.alias
    last = 0
    while True:
        campaigns = list(
            Campaign.objects.using(db)
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "customer_id", "payment_code", "created_at")[:CHUNK]
        )
        if not campaigns:
            return
        last = campaigns[-1][0]
        by_customer = {}
        for campaign in campaigns:
            by_customer.setdefault(campaign[1], []).append(campaign)
        loans = (
            Loan.objects.using(db)
            .filter(customer_id__in=list(by_customer))
            .values_list(
                "pk", "customer_id", "payment_code", "status", "status_changed_at", "created_at"
            )
        )
        links = []
        for loan_pk, customer_id, code, status, changed_at, loan_created_at in loans:
            for pk, _customer_id, payment_code, created_at in by_customer[customer_id]:
                if payment_code:
                    covers = payment_code == code
                else:
                    # Written off (and in the book) when the campaign was made.
                    covers = (
                        status == WRITTEN_OFF
                        and changed_at <= created_at
                        and loan_created_at <= created_at
                    )
                if covers:
                    links.append(through(campaign_id=pk, loan_id=loan_pk))
        through.objects.using(db).bulk_create(links, batch_size=CHUNK)


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0018_write_off_batch"),
        ("recovery", "0005_countdown_fixed_at_first_visit"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="loans",
            field=models.ManyToManyField(
                blank=True, related_name="+", to="credits.loan", verbose_name="créditos cubiertos"
            ),
        ),
        migrations.RunPython(cover_what_they_covered, migrations.RunPython.noop, elidable=True),
    ]
