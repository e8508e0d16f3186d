"""Leads in the queue linked to a customer who existed before them become suggestions.

Until now a lead arriving from Kommo was linked at once to any customer with its
document, phone or e-mail. Such a customer was matched, not created from the lead: from
now on an agent confirms the match on the call, with both records in view. Leads out of
the queue keep their customer (their calls and orders are history).
"""

from django.db import migrations


def _digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _matched_by(lead, customer) -> str:
    if lead.document_number and lead.document_number == customer.document_number:
        return "document"
    lead_phones = {_digits(p)[-9:] for p in (lead.phone, lead.phone_secondary) if _digits(p)}
    customer_phones = {
        _digits(p)[-9:] for p in (customer.phone, customer.phone_secondary) if _digits(p)
    }
    if lead_phones & customer_phones:
        return "phone"
    if lead.email and lead.email.lower() == (customer.email or "").lower():
        return "email"
    return "phone"


def unlink_unconfirmed_matches(apps, schema_editor):
    Lead = apps.get_model("callcenter", "Lead")
    leads = Lead.objects.filter(in_queue=True, customer__isnull=False).select_related("customer")
    for lead in leads.iterator():
        customer = lead.customer
        if customer.created_at >= lead.created_at:
            continue  # created from the lead's own data when it arrived
        Lead.objects.filter(pk=lead.pk).update(
            customer=None, suggested_customer=customer, suggested_by=_matched_by(lead, customer)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0004_lead_suggested_customer"),
    ]

    operations = [migrations.RunPython(unlink_unconfirmed_matches, migrations.RunPython.noop)]
