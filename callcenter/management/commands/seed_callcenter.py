"""Load the call center's demo: Kommo stages, a catalog with stock, leads, calls and orders.

Run it after `seed_demo` (it uses its agents and customers). Idempotent: once the demo
leads exist it adds nothing, so `make run` calls it on every start.

Leads arrive the way production receives them: a Kommo-shaped webhook body stored in the
inbox and processed by the same processor. Calls and orders go through
`callcenter.services`, so stock, timeline and the Kommo outbox are what they would be.
Without a Kommo token the outbox messages stay failed in admin ("Kommo no está
configurado"), ready to retry once KOMMO_* is set.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from callcenter import selectors
from callcenter.catalog import services as catalog_services
from callcenter.models import CallRecord, CatalogProduct, Lead, LossReason, QueueSettings
from callcenter.services import calls as call_services
from crm import services as crm_services
from crm.models import Customer
from integrations import services as inbox
from integrations import webhooks

SEED = 20261121
DEMO_PIPELINE = 6950551
DEMO_QUEUE_STATUS = 61000002
DEMO_SOLD_STATUS = 61000005
DEMO_LOST_STATUS = 143  # Kommo's "Closed - lost"
FIRST_LEAD_ID = 40_000_001
LEADS = 80
SOLD = 14
NO_ANSWER = 6
CALLBACK = 4
NOT_INTERESTED = 5

EXTRA_AGENTS = [("jperez", "Julia", "Pérez"), ("mlopez", "Martín", "López")]
# Added to the defaults of migration 0008 (price, bought elsewhere, ...), which the demo
# already has; get_or_create keeps reseeding harmless.
LOSS_REASONS = [
    "No solicitó información",
    "Sin presupuesto por ahora",
]
CATALOG = [
    # sku, name, price, stock
    ("ZAP-RUN-40", "Zapatillas Runner talla 40", "189.90", 14),
    ("ZAP-RUN-42", "Zapatillas Runner talla 42", "189.90", 3),
    ("ZAP-URB-38", "Zapatillas Urbanas talla 38", "149.00", 22),
    ("MOC-CUE-01", "Mochila de cuero", "239.00", 6),
    ("MOC-VIA-02", "Mochila de viaje 40 L", "199.50", 1),
    ("REL-DEP-01", "Reloj deportivo GPS", "459.00", 8),
    ("REL-CLA-02", "Reloj clásico acero", "329.00", 0),
    ("AUD-BT-01", "Audífonos Bluetooth", "129.90", 35),
    ("AUD-ANC-02", "Audífonos con cancelación de ruido", "399.00", 4),
    ("PAR-BT-01", "Parlante Bluetooth portátil", "179.00", 12),
    ("CEL-FUN-01", "Funda para celular", "39.90", 120),
    ("CAR-USB-01", "Cargador rápido USB-C", "59.90", 60),
    ("LIC-ELE-01", "Licuadora 1.5 L", "219.00", 9),
    ("OLL-PRE-01", "Olla a presión 6 L", "189.00", 5),
    ("FRE-AIR-01", "Freidora de aire 4 L", "349.00", 2),
    ("PLA-ELE-01", "Plancha a vapor", "99.90", 18),
    ("VEN-PIE-01", "Ventilador de pie", "159.00", 0),
    ("COL-2P-01", "Colchón 2 plazas", "899.00", 3),
    ("SAB-2P-01", "Juego de sábanas 2 plazas", "119.00", 25),
    ("TOA-SET-01", "Set de toallas (4)", "89.90", 40),
]
SOURCES = ["Facebook", "Instagram", "Web", "WhatsApp", "Referido"]
FIRST_NAMES = ["Rosa", "Carmen", "Luis", "Jorge", "María", "Pedro", "Lucía", "Miguel", "Elena"]
LAST_NAMES = ["Huamán", "Quispe", "Flores", "Mamani", "Rojas", "Vargas", "Castillo", "Díaz"]
STREETS = ["Av. Arequipa", "Jr. Cusco", "Av. Brasil", "Calle Los Pinos", "Av. Angamos"]


class Command(BaseCommand):
    help = "Carga el catálogo, los leads de Kommo, llamadas y pedidos de demostración."

    def handle(self, *args, **options):
        if Lead.objects.filter(kommo_id=FIRST_LEAD_ID).exists():
            self.stdout.write("Call center: la demostración ya está cargada.")
            return
        rng = random.Random(SEED)  # noqa: S311 (demo data, not secrets)
        agents = self._agents()
        self._settings()
        self._catalog()
        self._leads(rng)
        self._calls(rng, agents)
        self.stdout.write(
            f"Call center: {CatalogProduct.objects.count()} productos, "
            f"{Lead.objects.filter(in_queue=True).count()} leads en cola, "
            f"{CallRecord.objects.filter(outcome=CallRecord.Outcome.SALE).count()} pedidos."
        )

    def _agents(self) -> list:
        User = get_user_model()
        group = Group.objects.get(name=selectors.AGENT_GROUP)
        for username, first, last in EXTRA_AGENTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
            user.groups.add(group)
        return list(selectors.agents())

    def _settings(self) -> None:
        QueueSettings.objects.update_or_create(
            pk=1,
            defaults={
                "pipeline_id": settings.KOMMO_QUEUE_PIPELINE_ID or DEMO_PIPELINE,
                "queue_status_id": settings.KOMMO_QUEUE_STATUS_ID or DEMO_QUEUE_STATUS,
                "sold_status_id": settings.KOMMO_SOLD_STATUS_ID or DEMO_SOLD_STATUS,
                "not_interested_status_id": DEMO_LOST_STATUS,
            },
        )
        for name in LOSS_REASONS:
            LossReason.objects.get_or_create(name=name)

    def _catalog(self) -> None:
        for sku, name, price, stock in CATALOG:
            if not CatalogProduct.objects.filter(sku=sku).exists():
                catalog_services.create_product(
                    actor=None,
                    data={"sku": sku, "name": name, "price": Decimal(price), "stock": stock},
                )

    def _leads(self, rng: random.Random) -> None:
        """Deliver one Kommo webhook per lead into «Para Llamar», oldest first."""
        config = selectors.queue_settings()
        customers = list(Customer.objects.order_by("id")[:40])
        start = timezone.now() - timedelta(hours=LEADS)
        for n in range(LEADS):
            at = int((start + timedelta(hours=n, minutes=rng.randint(0, 50))).timestamp())
            fields = self._person(rng, customers, n)
            body = _status_webhook(
                lead_id=FIRST_LEAD_ID + n,
                name=f"Pedido {fields['Fuente']} #{n + 1}",
                pipeline_id=config.pipeline_id,
                status_id=config.queue_status_id,
                modified_at=at,
                custom_fields=fields,
            )
            with transaction.atomic():
                event, _created = webhooks.store_event(
                    provider="kommo", event_id=f"kommo:demo:{n}", body=body, headers={}
                )
            # Processed here, not by the worker: the demo is ready when the command ends.
            inbox.process_event(event_id=event.pk)
            arrived = datetime.fromtimestamp(at, tz=UTC)
            Lead.objects.filter(kommo_id=FIRST_LEAD_ID + n).update(
                queued_at=arrived, due_at=arrived
            )

    @staticmethod
    def _person(rng: random.Random, customers: list, n: int) -> dict[str, str]:
        if customers and n % 3 == 0:
            # A third are people the CRM knows: suggested by document, confirmed on the call.
            customer = customers[n % len(customers)]
            return {
                "Nombre": customer.full_name,
                "DNI": customer.document_number,
                "Teléfono": str(customer.phone or ""),
                "Dirección": customer.address,
                "Fuente": rng.choice(SOURCES),
            }
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        return {
            "Nombre": f"{first} {last}",
            "Teléfono": f"+519{rng.randint(10_000_000, 99_999_999)}",
            "Dirección": f"{rng.choice(STREETS)} {rng.randint(100, 2999)}",
            "Fuente": rng.choice(SOURCES),
        }

    def _calls(self, rng: random.Random, agents: list) -> None:
        """Work the oldest leads: sales, no answers, call-backs and refusals."""
        leads = list(Lead.objects.filter(in_queue=True).order_by("due_at", "id"))
        products = list(CatalogProduct.objects.filter(stock__gt=5))
        reasons = list(LossReason.objects.all())
        plan = (
            [CallRecord.Outcome.SALE] * SOLD
            + [CallRecord.Outcome.NO_ANSWER] * NO_ANSWER
            + [CallRecord.Outcome.CALLBACK] * CALLBACK
            + [CallRecord.Outcome.NOT_INTERESTED] * NOT_INTERESTED
        )
        for lead, outcome in zip(leads, plan, strict=False):
            agent = rng.choice(agents)
            call_services.take_lead(lead=lead, agent=agent)
            if outcome == CallRecord.Outcome.SALE:
                lead.refresh_from_db()
                if lead.suggested_customer_id:
                    # The demo's people the CRM knows come with their document; a phone
                    # that matches someone else's is a different person.
                    answer = (
                        call_services.confirm_customer_match
                        if lead.suggested_by == Lead.Match.DOCUMENT
                        else call_services.reject_customer_match
                    )
                    lead = answer(lead=lead, agent=agent, customer_id=lead.suggested_customer_id)
                call_services.confirm_contact_data(lead=lead, agent=agent, data=_contact(lead, rng))
                picks = rng.sample(products, k=rng.randint(1, 2))
                call_services.confirm_order(
                    lead=lead,
                    agent=agent,
                    lines=[call_services.CartLine(p.pk, rng.randint(1, 2)) for p in picks],
                    notes=rng.choice(["", "Entregar por la tarde", "Llamar antes de llegar"]),
                )
            else:
                call_services.record_outcome(
                    lead=lead,
                    agent=agent,
                    outcome=outcome,
                    callback_at=timezone.now() + timedelta(hours=rng.randint(2, 30))
                    if outcome == CallRecord.Outcome.CALLBACK
                    else None,
                    loss_reason=rng.choice(reasons)
                    if outcome == CallRecord.Outcome.NOT_INTERESTED
                    else None,
                )
        # One lead in the middle of a call, so the queue shows a held row.
        waiting = Lead.objects.filter(in_queue=True, taken_by__isnull=True).order_by("due_at")
        holder = get_user_model().objects.filter(username="jperez").first()
        if holder and waiting.exists():
            call_services.take_lead(lead=waiting.first(), agent=holder)


def _contact(lead: Lead, rng: random.Random) -> dict:
    if lead.customer:
        c = lead.customer
        return {
            "document_type": c.document_type,
            "document_number": c.document_number,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "phone": c.phone or crm_services.phone_e164(lead.phone),
            "phone_secondary": c.phone_secondary,
            "email": c.email,
            "address": c.address or lead.address,
            "city": c.city or "Lima",
        }
    first, _sep, last = lead.contact_name.partition(" ")
    return {
        "document_type": Customer.DocumentType.DNI,
        "document_number": f"7{rng.randint(1_000_000, 9_999_999)}",
        "first_name": first,
        "last_name": last,
        "phone": crm_services.phone_e164(lead.phone),
        "phone_secondary": "",
        "email": "",
        "address": lead.address,
        "city": "Lima",
    }


def _status_webhook(
    *,
    lead_id: int,
    name: str,
    pipeline_id: int | None,
    status_id: int | None,
    modified_at: int,
    custom_fields: dict[str, str],
) -> bytes:
    """Return a body shaped like Kommo's leads[status] webhook for one lead."""
    prefix = "leads[status][0]"
    pairs = [
        (f"{prefix}[id]", lead_id),
        (f"{prefix}[name]", name),
        (f"{prefix}[status_id]", status_id or ""),
        (f"{prefix}[old_status_id]", (status_id or 0) - 1),
        (f"{prefix}[pipeline_id]", pipeline_id or ""),
        (f"{prefix}[last_modified]", modified_at),
        (f"{prefix}[date_create]", modified_at - 600),
        (f"{prefix}[account_id]", 31361463),
    ]
    for i, (field, value) in enumerate(custom_fields.items()):
        pairs += [
            (f"{prefix}[custom_fields][{i}][id]", 1000 + i),
            (f"{prefix}[custom_fields][{i}][name]", field),
            (f"{prefix}[custom_fields][{i}][values][0][value]", value),
        ]
    pairs += [("account[subdomain]", settings.KOMMO_SUBDOMAIN or "demo"), ("account[id]", 31361463)]
    return urlencode(pairs).encode()
