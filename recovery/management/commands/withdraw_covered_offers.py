"""Withdraw the payment links, promises and agreements still open on the written-off loans
an active campaign covers: campaigns made before their creation withdrew them left them
open, so a debtor could still pay the whole loan through an old link while the campaign
asks for its discounted amount.

One-off. Without `--apply` it only counts what it would withdraw. With it, each campaign
is withdrawn in its own transaction by the same service the creation uses
(`recovery.services.withdraw_covered_loans_offers`), each withdrawal on the customer's
timeline. Running it again withdraws nothing. The campaigns are those that cover their
loans (`recovery.selectors.covering`): active and not past their end date, or paid (a
loan a paid campaign settled must not take the whole loan either). Finished ones, and
active ones past their end date, cover nothing: the loan is owed again.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from lib import bulk
from recovery import selectors, services
from recovery.models import Campaign

# Campaigns read per query: the memory stays flat whatever the portfolio (an import brings
# a hundred thousand), and one query finds the covered loans with something open for all.
CHUNK = 500
# Payment codes listed in the report.
LISTED = 20


@dataclass
class Tally:
    """What was (or would be) withdrawn, added up over the campaigns."""

    campaigns: int = 0
    loans: int = 0
    links: int = 0
    promises: int = 0
    agreements: int = 0
    codes: list[str] = field(default_factory=list)

    def add(self, offers: services.OpenOffers) -> None:
        if not offers:
            return
        loans: dict[int, str] = {}
        for item in (*offers.links, *offers.promises, *offers.agreements):
            loans.setdefault(item.receivable_id, item.receivable_code)
        self.campaigns += 1
        self.loans += len(loans)
        self.links += len(offers.links)
        self.promises += len(offers.promises)
        self.agreements += len(offers.agreements)
        # Only the first few are listed: the memory stays flat however many there are.
        room = LISTED - len(self.codes)
        self.codes.extend(code for _pk, code in sorted(loans.items())[: max(room, 0)])


class Command(BaseCommand):
    help = (
        "Retira los links de pago, compromisos y convenios abiertos de los créditos castigados "
        "que cubre una campaña activa. Sin --apply solo informa lo que retiraría."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Retirarlos de verdad (sin esta opción no se cambia nada).",
        )

    def handle(self, *args, apply: bool, **options) -> None:
        tally = Tally()
        failed: list[str] = []
        reviewed = 0
        for chunk in self._active_campaigns():
            reviewed += len(chunk)
            for campaign, offers in services.covered_loans_offers(chunk):
                if apply:
                    try:
                        offers = services.withdraw_covered_loans_offers(
                            campaign=campaign, actor=None
                        )
                    except ValidationError as exc:
                        failed.append(
                            f"{campaign.code} (cliente {campaign.customer_id}): "
                            + " ".join(exc.messages)
                        )
                        continue
                tally.add(offers)
        self._report(tally, reviewed=reviewed, failed=failed, apply=apply)

    def _active_campaigns(self):
        """Yield the campaigns that cover their loans, CHUNK at a time, by id."""
        campaigns = Campaign.objects.filter(selectors.covering(timezone.localdate())).only(
            "pk", "customer_id", "code", "payment_code", "status", "ends_on"
        )
        yield from bulk.pages_by_pk(campaigns, CHUNK)

    def _report(self, tally: Tally, *, reviewed: int, failed: list[str], apply: bool) -> None:
        write = self.stdout.write
        write(f"Campañas revisadas (activas o pagadas): {reviewed}")
        if not tally.campaigns and not failed:
            write(
                "Ninguna campaña cubre créditos con links de pago, compromisos o "
                "convenios abiertos: no hay nada que retirar."
            )
            return
        if apply:
            write(f"Campañas con ofertas retiradas: {tally.campaigns}")
            write(f"Créditos: {tally.loans}")
            write(f"Links de pago retirados: {tally.links}")
            write(f"Compromisos de pago retirados: {tally.promises}")
            write(f"Convenios de pago retirados: {tally.agreements}")
        else:
            write("Simulación: no se ha cambiado nada.")
            write(f"Campañas con ofertas por retirar: {tally.campaigns}")
            write(f"Créditos: {tally.loans}")
            write(f"Links de pago por retirar: {tally.links}")
            write(f"Compromisos de pago por retirar: {tally.promises}")
            write(f"Convenios de pago por retirar: {tally.agreements}")
        if tally.codes:
            more = tally.loans - len(tally.codes)
            listed = ", ".join(tally.codes) + (f" y {more} más" if more > 0 else "")
            write(f"Códigos de pago: {listed}")
        for failure in failed:
            self.stderr.write(f"No se retiraron las ofertas de la campaña {failure}")
        if not apply:
            write("Ejecute el comando con --apply para retirarlas.")
