"""The customers' open loans move with them when a supervisor hands an advisor's
customers to another (`crm.reassign`): registered there from CreditsConfig.ready."""

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credits.models import Loan

LABEL = gettext_lazy("Sus créditos abiertos que lleva el mismo asesor pasan también")
PERMISSION = "credits.change_loan"
# A loan still owed or on its way: paid and annulled ones keep who advised them.
CLOSED = (Loan.Status.PAID, Loan.Status.CANCELLED)


def move_open_loans(
    *,
    customer_ids: list[int],
    from_advisor: AbstractBaseUser,
    to_advisor: AbstractBaseUser,
    now: datetime.datetime,
) -> dict[int, str]:
    """Give the open loans of these customers that `from_advisor` advises to `to_advisor`;
    return, per customer, the sentence its timeline entry adds (the loans' codes)."""
    loans = list(
        Loan.objects.filter(customer_id__in=customer_ids, advisor=from_advisor)
        .exclude(status__in=CLOSED)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "customer_id", "payment_code")
    )
    if not loans:
        return {}
    Loan.objects.filter(pk__in=[pk for pk, _customer, _code in loans]).update(
        advisor=to_advisor, updated_at=now
    )
    codes: dict[int, list[str]] = {}
    for pk, customer_id, code in loans:
        codes.setdefault(customer_id, []).append(code or f"#{pk}")
    return {
        customer_id: _("también de sus créditos %(codes)s") % {"codes": ", ".join(found)}
        for customer_id, found in codes.items()
    }
