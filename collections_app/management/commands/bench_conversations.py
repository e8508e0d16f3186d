"""The conversations' data set for `make bench` / `make bench-web`: 1,000,000 messages.

    manage.py bench_conversations --messages 1000000     # PostgreSQL only

Tops up, on PostgreSQL, bench messages (`provider = 'bench'`) over the bench customers:
ten per customer in every status and channel, in and out, with each customer's
`Conversation` row as the message service keeps it (last message, unread count,
waiting reply), and 5 % of them tagged `Cartera castigada`. Written by SQL over
generate_series (a benchmark fixture, not business data: it skips the services on
purpose, as the other bench commands do), so the million rows take well under a minute.
The page times are measured by bench_web next to the customer list's.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from collections_app.strategies.segments import CASTIGADA_TAG
from crm.models import Customer, Message, Tag

MARKER = "bench"
PER_CUSTOMER = 10


class Command(BaseCommand):
    help = "Completa 1.000.000 de mensajes de prueba y sus conversaciones (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1_000_000)

    def handle(self, *args, messages, **options):
        self.fill(messages)

    def fill(self, wanted: int) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_conversations escribe con SQL de PostgreSQL.")
        have = Message.objects.filter(provider=MARKER).count()
        if have >= wanted:
            self.stdout.write(f"\nMensajes de prueba: {have:,}, ya cargados.")
            return
        started = time.perf_counter()
        customers = list(
            Customer.objects.order_by("pk").values_list("pk", flat=True)[: wanted // PER_CUSTOMER]
        )
        if not customers:
            raise CommandError("No hay clientes: cargue antes los clientes de prueba.")
        self.stdout.write(f"\nCreando {wanted - have:,} mensajes de prueba y sus conversaciones…")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM crm_message WHERE provider = %s", [MARKER])
            cursor.execute(
                "CREATE TEMP TABLE bench_conv_customers (n int, id bigint) ON COMMIT DROP"
            )
            cursor.execute(
                "INSERT INTO bench_conv_customers SELECT ordinality, id "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id)",
                [customers],
            )
            # Ten messages a customer, a day apart, newest today: in and out on every
            # channel, in every status.
            cursor.execute(
                """
                INSERT INTO crm_message (customer_id, channel, direction, status, subject, body,
                    address, provider, provider_message_id, error, origin, is_capped,
                    created_at, due_at, sent_at, delivered_at, read_at, failed_at)
                SELECT c.id,
                    (ARRAY['sms','whatsapp','email','whatsapp','bot'])[1 + (k %% 5)],
                    CASE WHEN k %% 3 = 0 THEN 'inbound' ELSE 'outbound' END,
                    CASE WHEN k %% 3 = 0 THEN 'received'
                         ELSE (ARRAY['queued','sent','delivered','read','failed'])[1 + (k %% 5)]
                    END,
                    'Recordatorio',
                    'Mensaje de prueba ' || k || ' para el cliente ' || c.id,
                    '+519' || lpad((c.n %% 100000000)::text, 8, '0'),
                    %s, 'bench-' || c.id || '-' || k, '', '', false,
                    now() - (k || ' hours')::interval - (c.n || ' seconds')::interval,
                    now() - (k || ' hours')::interval, NULL, NULL, NULL, NULL
                FROM bench_conv_customers c CROSS JOIN generate_series(0, %s - 1) AS k
                """,
                [MARKER, PER_CUSTOMER],
            )
            cursor.execute(
                """
                INSERT INTO collections_app_conversation (customer_id, assigned_to_id,
                    last_message_at, last_message_preview, last_channel, last_direction,
                    last_inbound_at, last_whatsapp_inbound_at, unread_count,
                    awaiting_reply_since, message_count)
                SELECT c.id, NULL, now() - (c.n || ' seconds')::interval,
                    'Mensaje de prueba 0', 'sms', 'inbound',
                    now() - (c.n || ' seconds')::interval, NULL, c.n %% 4,
                    CASE WHEN c.n %% 7 = 0 THEN now() - (c.n || ' seconds')::interval END,
                    %s
                FROM bench_conv_customers c
                ON CONFLICT (customer_id) DO NOTHING
                """,
                [PER_CUSTOMER],
            )
            tag, _ = Tag.objects.get_or_create(name=CASTIGADA_TAG)
            cursor.execute(
                """
                INSERT INTO crm_customer_tags (customer_id, tag_id)
                SELECT id, %s FROM bench_conv_customers WHERE n %% 20 = 0
                ON CONFLICT DO NOTHING
                """,
                [tag.pk],
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE crm_message, collections_app_conversation, crm_customer_tags")
        self.stdout.write(
            f"  {Message.objects.filter(provider=MARKER).count():,} mensajes en "
            f"{len(customers):,} conversaciones ({time.perf_counter() - started:.0f} s)"
        )
