"""Load the strategies and conversations demo: templates, segments, events settings, a
running flow, and conversations with messages in every status.

Run it after `seed_collections`. Idempotent: once any template exists it adds nothing, so
`make run` calls it on every start.

Every change goes through the services (templating, segments, events, flows, the
customer-message service, the conversations'), as the screens would make it. Two
liberties, both said here: while it loads, the quiet hours are off (a demo loaded at
night would otherwise hold every message until morning), and it plays the providers'
part for the messages it shows in each status (with no SMS or WhatsApp credentials the
messages go to the log provider, which sends no delivery callbacks).
"""

import datetime
from datetime import time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from collections_app.conversations import services as conversation_services
from collections_app.models import (
    Conversation,
    ConversationLabel,
    EventSetting,
    MessageTemplate,
    Portfolio,
)
from collections_app.strategies import events, flows, segments, templating
from credits.models import Bucket, Loan
from crm import messages as customer_messages
from crm.models import Message, MessagePolicy, Tag
from integrations import outbox
from integrations.models import OutboxMessage

TEMPLATES = [
    # name, channel, portfolio, subject, body, WhatsApp template name
    (
        "Recordatorio 3 días antes (SMS)",
        "sms",
        Portfolio.CURRENT,
        "",
        "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}. "
        "Pague en línea con su código {codigo_pago}: {link_pago}",
        "",
    ),
    (
        "Vence hoy (WhatsApp)",
        "whatsapp",
        Portfolio.CURRENT,
        "",
        "Hola {nombre}, hoy vence su cuota de {cuota} del crédito {codigo_pago}. "
        "Puede pagarla aquí: {link_pago}",
        "cuota_vence_hoy",
    ),
    (
        "Mora 5 días (SMS)",
        "sms",
        Portfolio.CURRENT,
        "",
        "{nombre}, su crédito {codigo_pago} tiene {dias_atraso} días de atraso y un monto "
        "vencido de {cuota_vencida}. Regularice hoy: {link_pago}. Responda BAJA para no "
        "recibir más mensajes.",
        "",
    ),
    (
        "Mora 15 días (correo)",
        "email",
        Portfolio.CURRENT,
        "Su crédito {codigo_pago} tiene cuotas vencidas",
        "Estimado(a) {nombre_completo}:\n\nSu crédito {codigo_pago} ({producto}) registra "
        "{dias_atraso} días de atraso; el monto vencido es {cuota_vencida} y el saldo para "
        "cancelarlo hoy, {saldo}.\n\nPague en línea o pida un convenio en {link_pago}.\n\n"
        "Atentamente,\nÁrea de Cobranzas",
        "",
    ),
    (
        "Compromiso registrado (SMS)",
        "sms",
        Portfolio.CURRENT,
        "",
        "{nombre}, registramos su compromiso de pagar {monto_compromiso} el "
        "{fecha_compromiso}. ¡Gracias!",
        "",
    ),
    (
        "Pago recibido, por verificar (SMS)",
        "sms",
        Portfolio.CURRENT,
        "",
        "{nombre}, recibimos su pago informado de {monto_pago} del {fecha_pago}. Lo "
        "verificaremos en las próximas horas.",
        "",
    ),
    (
        "Pago no verificado (WhatsApp)",
        "whatsapp",
        Portfolio.CURRENT,
        "",
        "{nombre}, no pudimos verificar su pago de {monto_pago}. Motivo: {motivo}.",
        "pago_no_verificado",
    ),
    (
        "Pago verificado (correo)",
        "email",
        Portfolio.CURRENT,
        "Verificamos su pago",
        "Estimado(a) {nombre_completo}:\n\nVerificamos su pago de {monto_pago} del "
        "{fecha_pago} para el crédito {codigo_pago}. Su saldo hoy es {saldo}.\n\n¡Gracias!",
        "",
    ),
]

EVENTS = [
    (EventSetting.Event.PROMISE, "Compromiso registrado (SMS)"),
    (EventSetting.Event.TO_VERIFY, "Pago recibido, por verificar (SMS)"),
    (EventSetting.Event.REJECTED, "Pago no verificado (WhatsApp)"),
    (EventSetting.Event.VERIFIED, "Pago verificado (correo)"),
]

LABELS = [("Negociando", Tag.Color.BLUE), ("Reclamo", Tag.Color.RED), ("Promesa", Tag.Color.GREEN)]

REPLIES = [
    ("whatsapp", "Buenas tardes, ¿puedo pagar la cuota en dos partes?"),
    ("sms", "Pago el viernes sin falta"),
    ("whatsapp", "Ya pagué ayer en el banco, les envío la constancia"),
    ("sms", "¿Cuánto debo en total?"),
    ("whatsapp", "No reconozco esa deuda"),
    ("sms", "BAJA"),
]


class Command(BaseCommand):
    help = "Carga la demostración de estrategias y conversaciones (después de seed_collections)."

    def handle(self, *args, **options):
        if MessageTemplate.objects.exists():
            self.stdout.write(
                self.style.SUCCESS(
                    "La demostración de estrategias ya estaba cargada; no se agregó nada."
                )
            )
            return
        self.agent = get_user_model().objects.filter(username="cobranzas").first()
        if self.agent is None:
            raise CommandError("Falta el usuario «cobranzas»: ejecute antes `manage.py seed_demo`.")
        if not Loan.objects.filter(status=Loan.Status.ACTIVE).exists():
            raise CommandError("Faltan créditos: ejecute antes `manage.py seed_credits`.")
        policy = MessagePolicy.current()
        quiet = (policy.quiet_start, policy.quiet_end)
        MessagePolicy.objects.filter(pk=policy.pk).update(quiet_start=time(0), quiet_end=time(0))
        try:
            self.seed()
        finally:
            MessagePolicy.objects.filter(pk=policy.pk).update(
                quiet_start=quiet[0], quiet_end=quiet[1]
            )

    def seed(self) -> None:
        templates = {}
        for name, channel, portfolio, subject, body, wa_name in TEMPLATES:
            templates[name] = templating.save_template(
                data={
                    "name": name,
                    "channel": channel,
                    "portfolio": portfolio,
                    "subject": subject,
                    "body": body,
                    "whatsapp_name": wa_name,
                    "whatsapp_language": "es",
                    "is_active": True,
                }
            )
        events.save_event_settings(
            choices=[
                events.Choice(Portfolio.CURRENT, event, templates[name], True)
                for event, name in EVENTS
            ]
        )
        early = segments.save_segment(
            data={
                "name": "Al día y mora temprana",
                "description": "Créditos vigentes con hasta 30 días de atraso.",
                "max_days_past_due": 30,
                "buckets": [],
            },
            actor=self.agent,
        )
        segments.save_segment(
            data={
                "name": "Mora tardía sin compromiso",
                "description": "Más de 60 días de atraso y ningún compromiso pendiente.",
                "min_days_past_due": 61,
                "buckets": [Bucket.D61_90, Bucket.D90_PLUS],
                "promise_status": "none",
            },
            actor=self.agent,
        )
        segments.save_segment(
            data={
                "name": "Sin contacto en 30 días",
                "no_contact_days": 30,
                "min_days_past_due": 1,
                "buckets": [],
            },
            actor=self.agent,
        )
        flow = flows.save_flow(
            flow=None,
            name="Recordatorio y mora temprana",
            description="SMS 3 días antes, WhatsApp el día, SMS a los 5 días y correo a los 15.",
            segment=early,
            steps=[
                flows.StepData(None, -3, templates["Recordatorio 3 días antes (SMS)"]),
                flows.StepData(None, 0, templates["Vence hoy (WhatsApp)"]),
                flows.StepData(None, 5, templates["Mora 5 días (SMS)"]),
                flows.StepData(None, 15, templates["Mora 15 días (correo)"]),
            ],
            removed=[],
            actor=self.agent,
        )
        flows.set_active(flow=flow, is_active=True, actor=self.agent)
        runs = flows.run_flow(flow)
        self.seed_conversations()
        self.stdout.write(
            self.style.SUCCESS(
                f"Estrategias de demostración listas: {MessageTemplate.objects.count()} "
                f"plantillas, 3 segmentos, eventos de cartera vigente, el flujo «{flow.name}» "
                f"activo (hoy: {sum(run.queued for run in runs)} mensajes en cola), "
                f"{Conversation.objects.count()} conversaciones con "
                f"{Message.objects.count()} mensajes."
            )
        )

    def seed_conversations(self) -> None:
        """Replies from debtors, answers from the agent, and messages in every status."""
        labels = [
            ConversationLabel.objects.get_or_create(name=name, defaults={"color": color})[0]
            for name, color in LABELS
        ]
        loans = list(
            Loan.objects.filter(status=Loan.Status.ACTIVE, days_past_due__gt=0)
            .exclude(customer__phone="")
            .exclude(customer__has_opted_out=True)
            .select_related("customer")
            .order_by("-days_past_due", "pk")[:12]
        )
        now = timezone.now()
        for n, loan in enumerate(loans[: len(REPLIES)]):
            channel, text = REPLIES[n]
            customer_messages.record_inbound(
                channel=channel,
                provider="demo",
                provider_message_id=f"demo-in-{loan.customer.pk}-{n}",
                address=str(loan.customer.phone),
                body=text,
                at=now - timedelta(hours=n * 5 + 1),
            )
        for n, loan in enumerate(loans[:4]):
            conversation = Conversation.objects.get(customer=loan.customer)
            conversation_services.assign(conversation, self.agent, self.agent)
            conversation_services.set_labels(conversation, [labels[n % len(labels)]], self.agent)
        # The agent answers the first two on the channel they wrote by (inside WhatsApp's
        # 24 hours).
        for loan, (channel, _text) in zip(loans[:2], REPLIES, strict=False):
            conversation = Conversation.objects.get(customer=loan.customer)
            conversation_services.reply(
                conversation,
                channel=channel,
                body="Hola, con gusto le ayudamos. ¿Para qué fecha podría pagar?",
                actor=self.agent,
            )
        self.show_every_status(loans[6:])

    def show_every_status(self, loans: list[Loan]) -> None:
        """Send one reminder to each of a few debtors, and play the provider's callbacks:
        one stays queued, the others sent, delivered, read, failed."""
        statuses = ["queued", "sent", "delivered", "read", "failed", "read"]
        for loan, status in zip(loans, statuses, strict=False):
            sending = customer_messages.send_customer_message(
                customer=loan.customer,
                channel=customer_messages.SMS,
                subject="Aviso de cobranza",
                body=f"Hola {loan.customer.first_name}, recuerde pagar su crédito "
                f"{loan.payment_code}.",
                actor=self.agent,
            )
            if status == "queued" or not sending.is_queued:
                continue
            queued = OutboxMessage.objects.get(payload__message=sending.message.pk)
            outbox.deliver_message(message_id=queued.pk)
            message = Message.objects.get(pk=sending.message.pk)
            at = timezone.now() + datetime.timedelta(minutes=1)
            if status in ("delivered", "read"):
                customer_messages.record_status(
                    provider=message.provider,
                    provider_message_id=message.provider_message_id,
                    status="delivered",
                    at=at,
                )
            if status in ("read", "failed"):
                customer_messages.record_status(
                    provider=message.provider,
                    provider_message_id=message.provider_message_id,
                    status=status,
                    at=at,
                    error="30003 Unreachable destination handset" if status == "failed" else "",
                )
