"""Give the open loans of one advisor to another, whoever their customers' advisor is:
the loans a leaving advisor placed with other advisors' customers (which the customers'
reassignment, `crm.reassign`, does not move) go in one step, each customer told on its
timeline."""

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits.customer_reassignment import CLOSED
from credits.models import Loan
from crm import services as crm_services
from crm.models import Interaction
from crm.reassign import services as reassign
from lib import bulk, people

# Loans moved per transaction, as the customers' reassignment moves customers: a batch
# that fails leaves the earlier ones moved; sending the page again moves the rest.
BATCH = 500


def open_loans(loans: QuerySet[Loan], advisor: AbstractBaseUser) -> QuerySet[Loan]:
    """Those of `loans` that `advisor` advises and are still owed or on their way: paid
    and annulled loans keep who advised them."""
    return loans.filter(advisor=advisor).exclude(status__in=CLOSED)


def reassign_loans(
    *,
    loans: QuerySet[Loan],
    from_advisor: AbstractBaseUser,
    to_advisor: AbstractBaseUser,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> int:
    """Make `to_advisor` the advisor of the open loans of `loans` that `from_advisor`
    advises, in batches of BATCH; each customer gets one timeline entry naming its loans.
    Return how many loans changed hands. Only an active advisor receives them."""
    now = now or timezone.now()
    reassign.check_receiver(from_advisor, to_advisor, noun=_("créditos"))
    ids = list(open_loans(loans, from_advisor).order_by("pk").values_list("pk", flat=True))
    moved = 0
    for start in range(0, len(ids), BATCH):
        moved += _move_batch(
            ids[start : start + BATCH],
            from_advisor=from_advisor,
            to_advisor=to_advisor,
            actor=actor,
            now=now,
        )
    return moved


@transaction.atomic
def _move_batch(
    ids: list[int],
    *,
    from_advisor: AbstractBaseUser,
    to_advisor: AbstractBaseUser,
    actor: AbstractBaseUser,
    now: datetime.datetime,
) -> int:
    # Locked and read again: a loan given to someone else (or paid off) meanwhile stays.
    still_theirs = list(
        Loan.objects.filter(pk__in=ids, advisor=from_advisor)
        .exclude(status__in=CLOSED)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "customer_id", "payment_code")
    )
    if not still_theirs:
        return 0
    Loan.objects.filter(pk__in=[pk for pk, _customer, _code in still_theirs]).update(
        advisor=to_advisor, updated_at=now
    )
    codes: dict[int, list[str]] = {}
    for pk, customer_id, code in still_theirs:
        codes.setdefault(customer_id, []).append(code or f"#{pk}")
    names = {"old": people.display_name(from_advisor), "new": people.display_name(to_advisor)}
    payload = {"asesor_anterior": from_advisor.pk, "asesor": to_advisor.pk}
    signed_in = people.signed_in(actor)
    bulk.insert_rows(
        Interaction,
        crm_services.INTERACTION_COLUMNS,
        (
            crm_services.system_entry_row(
                customer_id,
                summary=ngettext(
                    "Asesor del crédito %(codes)s cambiado de %(old)s a %(new)s.",
                    "Asesor de los créditos %(codes)s cambiado de %(old)s a %(new)s.",
                    len(found),
                )
                % {"codes": ", ".join(found), **names},
                payload={**payload, "creditos": found},
                actor_id=signed_in.pk if signed_in else None,
                at=now,
            )
            for customer_id, found in codes.items()
        ),
    )
    return len(still_theirs)
