"""Index what finds a customer from an inbound message, a lead or an appointment.

An inbound e-mail, a booked appointment and a call-center lead find their customer with
`email__iexact`, which PostgreSQL writes as UPPER(email) = UPPER(…): the plain and LIKE
indexes the field had served no lookup (no scan of either on the bench) and were written
on every customer insert and update. One expression index takes their place.

An inbound SMS or WhatsApp, the bot and a lead look for either phone: each lookup read
every customer (25 ms at 200,000). Each phone gets a partial index of the customers who
have one, so a customer without a second phone costs its writes nothing there.
"""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0015_search_index_pending_list"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="email",
            field=models.EmailField(blank=True, max_length=254, verbose_name="correo electrónico"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                django.db.models.functions.text.Upper("email"), name="crm_cust_email_upper_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("phone", ""), _negated=True),
                fields=["phone"],
                name="crm_cust_phone_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("phone_secondary", ""), _negated=True),
                fields=["phone_secondary"],
                name="crm_cust_phone2_idx",
            ),
        ),
    ]
