"""In the demo, the «Cartera castigada» tag is exactly on the customers with an active
written-off campaign: recovery keeps it, and the seeds put it nowhere else."""

import io

from django.core.management import call_command

from collections_app.strategies.segments import CASTIGADA_TAG
from crm.models import Customer, Tag
from recovery.models import Campaign


def tagged_and_in_recovery() -> tuple[set[int], set[int]]:
    tagged = set(Customer.objects.filter(tags__name=CASTIGADA_TAG).values_list("pk", flat=True))
    active = set(
        Campaign.objects.filter(status=Campaign.Status.ACTIVE).values_list("customer_id", flat=True)
    )
    return tagged, active


def test_every_tagged_customer_has_an_active_campaign_and_every_such_customer_is_tagged(demo):
    tagged, active = tagged_and_in_recovery()

    assert active
    assert tagged == active


def test_loading_recovery_again_takes_the_tag_off_customers_without_an_active_campaign(demo):
    # A demo seeded when seed_demo still handed out the tag.
    stray = Customer.objects.exclude(recovery_campaigns__status=Campaign.Status.ACTIVE).first()
    stray.tags.add(Tag.objects.get(name=CASTIGADA_TAG))

    call_command("seed_recovery", stdout=io.StringIO())

    tagged, active = tagged_and_in_recovery()
    assert stray.pk not in tagged
    assert tagged == active


def test_the_customers_demo_hands_the_tag_to_nobody(db):
    call_command("seed_demo", customers=60, demo_instance=True, stdout=io.StringIO())

    assert Tag.objects.filter(name=CASTIGADA_TAG).exists()
    assert not Customer.objects.filter(tags__name=CASTIGADA_TAG).exists()
