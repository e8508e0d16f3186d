"""What a merge of two customers (crm.merge) does with their conversations.

A customer has one conversation (the inbox row that sums up their messages). When both
records have one, the merged record's is folded into the kept one: the messages
themselves move with the generic move (crm.Message), and the summary adds up.
"""

from crm.models import Customer

LABEL = "collections_app.conversation"


def check(keep: Customer, drop: Customer) -> str:
    """Conversations never keep two customers from being merged."""
    return ""


def move(keep: Customer, drop: Customer) -> None:
    """Fold `drop`'s conversation into `keep`'s when both have one; a lone one moves
    with the generic move."""
    from collections_app.models import Conversation

    found = {
        c.customer_id: c
        for c in Conversation.objects.select_for_update().filter(customer_id__in=[keep.pk, drop.pk])
    }
    kept, dropped = found.get(keep.pk), found.get(drop.pk)
    if kept is None or dropped is None:
        return
    if dropped.message_count and (
        not kept.message_count or dropped.last_message_at > kept.last_message_at
    ):
        kept.last_message_at = dropped.last_message_at
        kept.last_message_preview = dropped.last_message_preview
        kept.last_channel = dropped.last_channel
        kept.last_direction = dropped.last_direction
    kept.last_inbound_at = _latest(kept.last_inbound_at, dropped.last_inbound_at)
    kept.last_whatsapp_inbound_at = _latest(
        kept.last_whatsapp_inbound_at, dropped.last_whatsapp_inbound_at
    )
    # Waiting for an answer since the older of the two waits.
    waits = [t for t in (kept.awaiting_reply_since, dropped.awaiting_reply_since) if t]
    kept.awaiting_reply_since = min(waits) if waits else None
    kept.unread_count += dropped.unread_count
    kept.message_count += dropped.message_count
    kept.assigned_to_id = kept.assigned_to_id or dropped.assigned_to_id
    kept.save()
    kept.labels.add(*dropped.labels.all())
    dropped.delete()


def _latest(a, b):
    return max(t for t in (a, b) if t) if (a or b) else None


def register() -> None:
    from crm import merge

    merge.register_merge_handler(LABEL, check, move)
