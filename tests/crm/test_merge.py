"""Merging two records of the same customer (crm.merge): what moves, what is refused, who may."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from collections_app.models import Conversation, PortalCode
from crm import identity, merge, selectors
from crm.gestiones.models import Campaign as MarketingCampaign
from crm.gestiones.models import CampaignTarget
from crm.models import Customer, Interaction
from lib.confirmation import CONFIRM_FIELD, CONFIRMED
from recovery.models import Campaign
from tests.factories import CustomerFactory, LoanFactory, TagFactory


@pytest.fixture
def keep(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="45678912", email="", city="Lima"
    )


@pytest.fixture
def drop(db):
    return CustomerFactory(
        document_type=Customer.DocumentType.PASSPORT,
        document_number="AB123456",
        first_name="Rosa María",
        last_name="Huamán Torres",
        email="rosa@example.com",
        city="Cusco",
    )


def merged(keep, drop, supervisor, **kwargs):
    return merge.merge_customers(
        keep=keep, drop=drop, choices=kwargs.pop("choices", {}), actor=supervisor, **kwargs
    )


def form_choices(keep, drop):
    return {merge.CHOICE_PREFIX + n: c for n, c in merge.default_choices(keep, drop).items()}


def written_off_campaign(customer, code, **fields):
    amount = Decimal("100.00")
    return Campaign.objects.create(
        customer=customer,
        code=code,
        debt_amount=amount,
        discount_type="percent",
        discount_value=Decimal("0"),
        discount_amount=Decimal("0"),
        amount=amount,
        **fields,
    )


def marketing_campaign(name="Campaña de prueba"):
    return MarketingCampaign.objects.create(
        name=name, slug=name.lower().replace(" ", "-"), kind=MarketingCampaign.Kind.OUTBOUND
    )


# --- What moves -------------------------------------------------------------------------------


def test_every_relation_of_the_merged_customer_moves_to_the_kept_one(demo, supervisor):
    keep, drop = CustomerFactory(), CustomerFactory()
    for relation in merge.relations():
        model = relation.model
        if model._meta.auto_created:
            drop.tags.add(TagFactory())
        elif model is Customer:
            CustomerFactory(merged_into=drop)
        elif model is CampaignTarget:
            CampaignTarget.objects.create(campaign=marketing_campaign(), customer=drop)
        elif model is PortalCode:
            PortalCode.objects.create(
                customer=drop,
                code_hash="x",
                channel="sms",
                sent_to="+51999999999",
                expires_at=timezone.now() + timedelta(minutes=5),
            )
        else:
            # One row of each kind the demo made, now the merged record's.
            row = model._base_manager.order_by("pk").first()
            assert row is not None, f"the demo has no {model._meta.label}"
            model._base_manager.filter(pk=row.pk).update(**{relation.field.attname: drop.pk})
    had = {r.label: list(r.rows(drop).values_list("pk", flat=True)) for r in merge.relations()}
    assert all(had.values()), [label for label, rows in had.items() if not rows]

    merged(keep, drop, supervisor)

    for relation in merge.relations():
        left = relation.rows(drop)
        if relation.model is Interaction:
            # Only its «Fusionado en …» entry, written after the move.
            left = left.exclude(summary__startswith="Fusionado en")
        assert not left.exists(), relation.label
        if relation.model is Customer:
            # The customer merged into `drop` before, and now `drop` itself.
            assert relation.rows(keep).count() == 2
        else:
            assert set(had[relation.label]) <= set(relation.rows(keep).values_list("pk", flat=True))
    drop.refresh_from_db()
    assert drop.merged_into_id == keep.pk


def test_the_relations_include_those_hidden_by_a_plus_related_name():
    labels = {relation.model._meta.label for relation in merge.relations()}

    assert {"collections_app.PaymentLink", "collections_app.PortalCode", "recovery.Visit"} <= labels


def test_it_merges_the_tags_without_repeating_one(keep, drop, supervisor):
    shared, other = TagFactory(name="VIP"), TagFactory(name="Moroso")
    keep.tags.add(shared)
    drop.tags.add(shared, other)

    merged(keep, drop, supervisor)

    assert sorted(keep.tags.values_list("name", flat=True)) == ["Moroso", "VIP"]
    assert not drop.tags.exists()


def test_it_folds_both_conversations_into_the_kept_one(keep, drop, supervisor):
    now = timezone.now()
    Conversation.objects.create(
        customer=keep, message_count=2, unread_count=1, last_message_at=now - timedelta(days=1)
    )
    Conversation.objects.create(
        customer=drop,
        message_count=3,
        unread_count=2,
        last_message_at=now,
        last_message_preview="Hola, ya pagué",
    )

    merged(keep, drop, supervisor)

    conversation = Conversation.objects.get()
    assert conversation.customer_id == keep.pk
    assert (conversation.message_count, conversation.unread_count) == (5, 3)
    assert conversation.last_message_preview == "Hola, ya pagué"


def test_it_keeps_one_target_when_a_campaign_reached_both(keep, drop, supervisor):
    campaign = marketing_campaign()
    kept = CampaignTarget.objects.create(campaign=campaign, customer=keep)
    CampaignTarget.objects.create(campaign=campaign, customer=drop)

    merged(keep, drop, supervisor)

    assert list(CampaignTarget.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_kept_customer_stays_opted_out_when_the_merged_one_was(keep, drop, supervisor):
    Customer.objects.filter(pk=drop.pk).update(has_opted_out=True, opted_out_at=timezone.now())

    merged(keep, drop, supervisor)

    keep.refresh_from_db()
    assert keep.has_opted_out


# --- Which values stay --------------------------------------------------------------------


def test_a_blank_value_of_the_kept_one_takes_the_other_by_default(keep, drop):
    choices = merge.default_choices(keep, drop)

    assert choices["email"] == merge.DROP
    assert choices["city"] == merge.KEEP


def test_contact_values_chosen_from_the_other_record_are_applied(keep, drop, supervisor):
    merged(keep, drop, supervisor, choices={"email": merge.DROP, "city": merge.DROP})

    keep.refresh_from_db()
    assert (keep.email, keep.city) == ("rosa@example.com", "Cusco")
    assert "rosa@example.com" in keep.search_text


def test_a_choice_that_is_not_one_of_the_two_is_refused(keep, drop, supervisor):
    with pytest.raises(ValidationError, match="uno u otro"):
        merged(keep, drop, supervisor, choices={"document": "both"})

    drop.refresh_from_db()
    assert drop.merged_into_id is None


def test_a_change_of_identity_needs_the_key_of_the_changes_shown(keep, drop, supervisor):
    choices = {"document": merge.DROP, "first_name": merge.DROP}

    with pytest.raises(ValidationError) as refused:
        merged(keep, drop, supervisor, choices=choices)

    assert "confirm_identity" in refused.value.error_dict
    keep.refresh_from_db()
    assert keep.document_number == "45678912"
    assert not Interaction.objects.filter(customer=keep, summary__startswith="Fusionado").exists()


def test_the_identity_chosen_is_applied_with_its_key(keep, drop, supervisor):
    choices = {"document": merge.DROP, "first_name": merge.DROP}
    key = identity.key_for(keep.pk, merge.chosen_values(keep, drop, choices))

    merged(keep, drop, supervisor, choices=choices, identity_key=key)

    keep.refresh_from_db()
    drop.refresh_from_db()
    assert (keep.document_type, keep.document_number) == ("passport", "AB123456")
    assert keep.first_name == "Rosa María"
    # The document is unique: the merged record gave it up.
    assert drop.document_number == f"FUSIONADO-{drop.pk}"


def test_a_protected_identity_needs_the_role_too(keep, drop, asesor):
    LoanFactory(customer=keep)
    choices = {"document": merge.DROP}
    key = identity.key_for(keep.pk, merge.chosen_values(keep, drop, choices))

    with pytest.raises(ValidationError, match="Solo un supervisor"):
        merged(keep, drop, asesor, choices=choices, identity_key=key)


# --- The timeline ------------------------------------------------------------------------------


def test_the_kept_timeline_says_what_came_from_where_and_who_did_it(keep, drop, supervisor):
    LoanFactory(customer=drop)
    choices = {"document": merge.DROP}
    key = identity.key_for(keep.pk, merge.chosen_values(keep, drop, choices))

    merged(keep, drop, supervisor, choices=choices, identity_key=key)

    entry = Interaction.objects.filter(customer=keep).order_by("-pk").first()
    assert entry.summary.startswith("Fusionado con otro registro del mismo cliente")
    assert "Pasaporte AB123456" in entry.summary
    assert "Créditos: 1" in entry.payload["Traído de ese registro"]
    assert entry.payload["Número de documento"] == "45678912 → AB123456"
    assert entry.payload["Tipo de documento"] == "DNI → Pasaporte"
    assert entry.actor == supervisor


def test_the_merged_timeline_says_where_it_went(keep, drop, supervisor):
    merged(keep, drop, supervisor)

    entries = list(Interaction.objects.filter(customer=drop))
    assert len(entries) == 1
    assert entries[0].summary.startswith(f"Fusionado en {keep.full_name}")


# --- Refusals ----------------------------------------------------------------------------------


def test_a_customer_is_not_merged_with_itself(keep, supervisor):
    with pytest.raises(ValidationError, match="consigo mismo"):
        merged(keep, keep, supervisor)


def test_a_customer_already_merged_is_not_merged_again(keep, drop, supervisor):
    third = CustomerFactory()
    merged(keep, drop, supervisor)

    with pytest.raises(ValidationError, match="ya fue fusionado"):
        merged(third, drop, supervisor)

    drop.refresh_from_db()
    assert drop.merged_into_id == keep.pk


def test_two_active_written_off_campaigns_refuse_the_merge_naming_both(keep, drop, supervisor):
    written_off_campaign(keep, "CAST-A")
    written_off_campaign(drop, "CAST-B")

    with pytest.raises(ValidationError) as refused:
        merged(keep, drop, supervisor)

    assert "CAST-A" in str(refused.value) and "CAST-B" in str(refused.value)
    assert Campaign.objects.filter(customer=drop).count() == 1


def test_an_active_campaign_and_a_closed_one_merge(keep, drop, supervisor):
    written_off_campaign(keep, "CAST-A")
    written_off_campaign(drop, "CAST-B", status=Campaign.Status.PAID)

    merged(keep, drop, supervisor)

    assert Campaign.objects.filter(customer=keep).count() == 2


def test_a_handler_refusal_leaves_the_database_as_it_was(keep, drop, supervisor):
    def refuse(keep, drop):
        raise ValidationError("No.")

    Conversation.objects.create(customer=keep, message_count=1)
    Conversation.objects.create(customer=drop, message_count=1)
    loan = LoanFactory(customer=drop)
    # Sorted last: the conversation handler has folded drop's conversation already.
    merge.register_merge_handler("zz.test", lambda keep, drop: "", refuse)
    try:
        with pytest.raises(ValidationError):
            merged(keep, drop, supervisor)
    finally:
        merge.unregister_merge_handler("zz.test")

    assert Conversation.objects.filter(customer=drop).exists()
    loan.refresh_from_db()
    drop.refresh_from_db()
    assert (loan.customer_id, drop.merged_into_id) == (drop.pk, None)
    assert not Interaction.objects.filter(summary__startswith="Fusionado").exists()


def test_a_page_older_than_a_change_of_either_record_is_refused(keep, drop, supervisor):
    seen = merge.fingerprint(keep, drop)
    LoanFactory(customer=drop)

    with pytest.raises(ValidationError, match="cambió desde que se abrió"):
        merged(keep, drop, supervisor, seen=seen)

    drop.refresh_from_db()
    assert drop.merged_into_id is None


def test_a_second_merge_of_the_same_pair_fails_cleanly(keep, drop, supervisor):
    # Two people confirm the same comparison: the second request holds the old rows.
    seen = merge.fingerprint(keep, drop)
    stale_keep, stale_drop = Customer.objects.get(pk=keep.pk), Customer.objects.get(pk=drop.pk)
    merged(keep, drop, supervisor, seen=seen)
    entries = Interaction.objects.count()

    with pytest.raises(ValidationError, match="ya fue fusionado"):
        merged(stale_keep, stale_drop, supervisor, seen=seen)

    assert Interaction.objects.count() == entries


# --- The screens ---------------------------------------------------------------------------


def test_the_merged_record_redirects_to_the_kept_one(client, keep, drop, supervisor):
    merged(keep, drop, supervisor)
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_detail", args=[drop.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("crm:customer_detail", args=[keep.pk])
    assert "fue fusionado" in response.content.decode()


def test_the_merged_record_is_out_of_the_list_and_the_search(client, keep, drop, supervisor):
    merged(keep, drop, supervisor)
    client.force_login(supervisor)

    listed = client.get(reverse("crm:customer_list")).content.decode()
    searched = client.get(reverse("crm:customer_list"), {"q": "Rosa"}).content.decode()

    assert reverse("crm:customer_detail", args=[drop.pk]) not in listed + searched
    assert reverse("crm:customer_detail", args=[keep.pk]) in searched


def test_the_customer_search_never_finds_a_merged_record(keep, drop, supervisor):
    merged(keep, drop, supervisor)

    found = selectors.search_customers(Customer.objects.all(), "Rosa")

    assert list(found.values_list("pk", flat=True)) == [keep.pk]


def test_supervisors_may_merge_and_advisors_may_not(supervisor, asesor):
    assert supervisor.has_perm("crm.merge_customer")
    assert not asesor.has_perm("crm.merge_customer")


@pytest.mark.parametrize("name", ["crm:customer_merge_pick", "crm:customer_merge"])
def test_the_merge_pages_need_the_permission(client, keep, drop, asesor, name):
    client.force_login(asesor)
    args = [keep.pk] if name == "crm:customer_merge_pick" else [keep.pk, drop.pk]

    assert client.get(reverse(name, args=args)).status_code == 403
    if name == "crm:customer_merge":
        assert client.post(reverse(name, args=args), {CONFIRM_FIELD: CONFIRMED}).status_code == 403
    drop.refresh_from_db()
    assert drop.merged_into_id is None


def test_the_360_page_offers_the_merge_only_with_the_permission(client, keep, asesor, supervisor):
    url = reverse("crm:customer_detail", args=[keep.pk])
    client.force_login(asesor)
    assert "customer-merge-link" not in client.get(url).content.decode()
    client.force_login(supervisor)
    assert "customer-merge-link" in client.get(url).content.decode()


def test_the_pick_page_finds_the_other_record(client, keep, drop, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_merge_pick", args=[keep.pk]), {"q": "AB123456"})

    assert reverse("crm:customer_merge", args=[keep.pk, drop.pk]) in response.content.decode()


def test_the_comparison_confirms_an_identity_change_before_merging(client, keep, drop, supervisor):
    client.force_login(supervisor)
    url = reverse("crm:customer_merge", args=[keep.pk, drop.pk])
    page = client.get(url)
    data = {
        CONFIRM_FIELD: CONFIRMED,
        "seen": page.context["form"]["seen"].value(),
        **form_choices(keep, drop),
        "from_document": merge.DROP,
    }

    refused = client.post(url, data)

    assert refused.status_code == 200
    assert "Número de documento: 45678912 → AB123456" in refused.content.decode()
    drop.refresh_from_db()
    assert drop.merged_into_id is None

    data.update(confirm_identity="on", identity_key=refused.context["form"].data["identity_key"])
    done = client.post(url, data)

    assert done.status_code == 302
    keep.refresh_from_db()
    assert keep.document_number == "AB123456"


def test_the_comparison_without_its_confirmation_merges_nothing(client, keep, drop, supervisor):
    client.force_login(supervisor)
    url = reverse("crm:customer_merge", args=[keep.pk, drop.pk])

    response = client.post(url, form_choices(keep, drop))

    assert response.status_code == 200
    drop.refresh_from_db()
    assert drop.merged_into_id is None


def test_the_success_message_says_what_came_from_the_merged_record(client, keep, drop, supervisor):
    LoanFactory(customer=drop)
    client.force_login(supervisor)
    url = reverse("crm:customer_merge", args=[keep.pk, drop.pk])
    page = client.get(url)
    data = {CONFIRM_FIELD: CONFIRMED, "seen": page.context["form"]["seen"].value()}

    done = client.post(url, {**data, **form_choices(keep, drop)}, follow=True)

    shown = [str(m) for m in done.context["messages"]]
    assert any("Traído de ese registro:" in m and "Créditos: 1" in m for m in shown), shown


def test_the_comparison_warns_when_the_two_look_like_two_people(client, keep, drop, supervisor):
    client.force_login(supervisor)

    page = client.get(reverse("crm:customer_merge", args=[keep.pk, drop.pk]))

    assert page.context["differences"] == [
        "Los documentos son distintos: DNI 45678912 y Pasaporte AB123456.",
        "Los nombres son distintos: Rosa Huamán y Rosa María Huamán Torres.",
    ]
    assert "La fusión no se puede deshacer" in page.content.decode()


def test_two_spellings_of_one_name_and_one_document_are_no_warning(db):
    keep = CustomerFactory(
        first_name="José", last_name="Quispe  Mamani", document_number="41234567"
    )
    twin = CustomerFactory.build(first_name="JOSE", last_name="quispe mamani")
    twin.document_type, twin.document_number = keep.document_type, ""

    assert merge.differences(keep, twin) == []
