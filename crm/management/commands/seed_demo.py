"""Load the demo: users for every role, configuration and customers with their history.

Idempotent: run it again and it only fills in what is missing (and resets the demo
passwords), so `make run` calls it on every start.
"""

import io
import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone

from crm import display, roles
from crm.models import (
    OPT_OUT_TAG,
    Appointment,
    Branch,
    Channel,
    Customer,
    Interaction,
    Product,
    Tag,
)
from lib import people
from lib.money import Currency

DEMO_USERS = [
    # username, first name, last name, group, is_staff/superuser
    ("admin", "Ana", "Administradora", "Administrador", True),
    ("supervisor", "Sergio", "Villanueva", "Supervisor", False),
    ("asesor", "Andrea", "Quispe", "Asesor", False),
    ("cobranzas", "Carlos", "Mendoza", "Cobranzas", False),
    ("agente", "Gabriela", "Torres", "Agente call center", False),
]
EXTRA_ADVISORS = [
    ("lrojas", "Luis", "Rojas"),
    ("mflores", "María", "Flores"),
    ("jcastillo", "Jorge", "Castillo"),
]
BRANCHES = [
    ("Lima Centro", "lima-centro", "Lima", "Jr. de la Unión 456"),
    ("Miraflores", "miraflores", "Lima", "Av. Larco 1150"),
    ("San Juan de Lurigancho", "sjl", "Lima", "Av. Próceres de la Independencia 2315"),
    ("Arequipa", "arequipa", "Arequipa", "Calle Mercaderes 212"),
    ("Trujillo", "trujillo", "Trujillo", "Jr. Pizarro 540"),
    ("Chiclayo", "chiclayo", "Chiclayo", "Av. Balta 830"),
]
CHANNELS = [
    ("Web", "web"),
    ("Sucursal", "sucursal"),
    ("Call center", "call-center"),
    ("WhatsApp", "whatsapp"),
    ("Referido", "referido"),
    ("Facebook", "facebook"),
]
PRODUCTS = [
    (
        "Crédito vehicular",
        "vehicular",
        "Financiamiento de autos nuevos y seminuevos con garantía mobiliaria.",
    ),
    ("Crédito de consumo", "consumo", "Préstamo personal de libre disponibilidad."),
    ("Crédito moto", "moto", "Financiamiento de motocicletas y mototaxis."),
    ("Inversión", "inversion", "Participación de inversionistas en la cartera de créditos."),
]
# Recovery keeps this tag on the customers with an active written-off campaign, and only
# there (seed_recovery makes the demo's campaigns through its service): the stories never
# hand it out, or segments, conversations and alerts would read customers not in recovery.
WRITTEN_OFF_TAG = "Cartera castigada"
TAGS = [
    ("VIP", Tag.Color.GREEN),
    (WRITTEN_OFF_TAG, Tag.Color.RED),
    ("Prospecto", Tag.Color.BLUE),
    ("Moroso", Tag.Color.YELLOW),
    ("Inversionista", Tag.Color.CYAN),
    (OPT_OUT_TAG, Tag.Color.GREY),
]
FIRST_NAMES = [
    "José",
    "Luis",
    "Carlos",
    "Juan",
    "Jorge",
    "Miguel",
    "Pedro",
    "Víctor",
    "César",
    "Raúl",
    "Manuel",
    "Fernando",
    "Ricardo",
    "Alberto",
    "Diego",
    "Renzo",
    "Kevin",
    "Christian",
    "María",
    "Rosa",
    "Carmen",
    "Ana",
    "Lucía",
    "Patricia",
    "Elizabeth",
    "Milagros",
    "Sofía",
    "Gabriela",
    "Verónica",
    "Karina",
    "Jessica",
    "Flor",
    "Yolanda",
    "Daniela",
    "Valeria",
]
LAST_NAMES = [
    "Quispe",
    "Flores",
    "Sánchez",
    "Rodríguez",
    "García",
    "Rojas",
    "Huamán",
    "Mamani",
    "Chávez",
    "Torres",
    "Ramírez",
    "Vargas",
    "Castillo",
    "Mendoza",
    "Díaz",
    "Gutiérrez",
    "Ríos",
    "Espinoza",
    "Cruz",
    "Vásquez",
    "Salazar",
    "Paredes",
    "Ccahuana",
    "Ticona",
    "Huanca",
    "Condori",
    "Cárdenas",
    "Palacios",
    "Aguilar",
    "Medina",
    "Zevallos",
    "Valdivia",
]
STREETS = [
    "Av. Arequipa",
    "Av. Brasil",
    "Jr. Huallaga",
    "Av. Túpac Amaru",
    "Calle Los Olivos",
    "Av. Javier Prado",
    "Jr. Ayacucho",
    "Av. Grau",
    "Calle Las Begonias",
    "Av. Angamos",
]
NOTES = [
    "Cliente consulta por ampliación de plazo.",
    "Solicita información de crédito vehicular para un auto seminuevo.",
    "Indica que pagará el viernes en agencia.",
    "Actualizó su dirección de domicilio.",
    "Pide que lo llamen después de las 6 p.m.",
    "Interesado en refinanciar su deuda.",
    "Se le explicó el cronograma de pagos.",
    "Envió constancia de trabajo y boletas.",
]
CALLS = [
    ("Llamada de bienvenida; confirma datos.", "outbound"),
    ("Recordatorio de cuota por vencer.", "outbound"),
    ("Cliente llama para consultar su saldo.", "inbound"),
    ("No contesta; se deja mensaje de voz.", "outbound"),
    ("Promesa de pago para el día 15.", "outbound"),
    ("Consulta por requisitos de crédito.", "inbound"),
]
MESSAGES = [
    ("whatsapp", "Se envió recordatorio de pago por WhatsApp.", "outbound"),
    ("whatsapp", "Cliente envía foto del voucher de pago.", "inbound"),
    ("sms", "SMS: Su cuota vence mañana. Pague con su código de pago.", "outbound"),
    ("email", "Correo con el cronograma de pagos actualizado.", "outbound"),
    ("email", "Cliente responde solicitando estado de cuenta.", "inbound"),
]
FOLLOW_UPS = [
    "Solicitud de crédito: pasa a evaluación.",
    "Solicitud de crédito: documentos completos.",
    "Solicitud de crédito: aprobada por comité.",
    "Solicitud de servicio: cambio de fecha de pago atendido.",
]
CUSTOMER_COUNT = 600
SEED = 20261121
# Customers (and their histories) written per transaction.
BATCH = 500
# The agenda: Cal.com bookings the demo makes up, found again by their uid's prefix.
AGENDA_PREFIX = "demo-"
AGENDA_SIZE = 36
AGENDA_HOURS = (9, 10, 11, 12, 15, 16, 17)
AGENDA_TOPICS = [
    ("Asesoría de crédito vehicular", "El cliente traerá boletas de los últimos tres meses."),
    ("Firma de contrato", "Revisar el cronograma con el cliente antes de firmar."),
    ("Refinanciamiento", "Cliente con dos cuotas atrasadas; evaluar nuevo plazo."),
    ("Consulta de crédito de consumo", ""),
    ("Entrega de documentos", "Constancia de trabajo y recibo de luz."),
]


class Command(BaseCommand):
    help = "Carga los datos de demostración (idempotente)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            default=CUSTOMER_COUNT,
            help=f"Cantidad de clientes de demostración (por defecto {CUSTOMER_COUNT}).",
        )
        parser.add_argument(
            "--demo-instance",
            action="store_true",
            help="Con DEBUG apagado: confirma que esta instancia es de demostración (crea "
            "usuarios con la contraseña de demostración, un superusuario entre ellos).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["demo_instance"]:
            # It makes a superuser `admin` and a user of every role, all with the demo
            # password, and resets it on every run: never by mistake on a live system.
            raise CommandError(
                "seed_demo crea el superusuario «admin» y un usuario por rol con la contraseña "
                "de demostración. Con DEBUG apagado (producción) no se ejecuta: si esta "
                "instancia es solo de demostración, agregue --demo-instance."
            )
        rng = random.Random(SEED)
        with transaction.atomic():
            roles.sync_roles()
            users = self.seed_users()
            branches, channels, tags = self.seed_configuration()
        created = self.seed_customers(
            rng,
            options["customers"],
            users=users,
            branches=branches,
            channels=channels,
            tags=tags,
        )
        booked = self.seed_agenda(
            random.Random(SEED),
            [users[u] for u in ("asesor", "lrojas", "mflores", "jcastillo")],
        )
        self.seed_import(users["supervisor"], branches)
        self.stdout.write(
            self.style.SUCCESS(
                f"Datos de demostración listos ({created} clientes y {booked} citas nuevos)."
            )
        )
        self.stdout.write(f"Usuarios de demostración (contraseña: {settings.DEMO_PASSWORD}):")
        for username, _first, _last, group, _staff in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {group}")

    def seed_import(self, supervisor, branches) -> None:
        """A finished customer import in the history, with a bad row skipped (once)."""
        from django.core.files.uploadedfile import SimpleUploadedFile
        from openpyxl import Workbook

        from crm.imports import services as imports
        from crm.models import ImportBatch

        if ImportBatch.objects.exists():
            return
        book = Workbook()
        sheet = book.active
        sheet.append(["Tipo doc", "Documento", "Nombres", "Apellidos", "Celular", "Sucursal"])
        for i, (first, last) in enumerate(
            [("Teodoro", "Quispe Mamani"), ("Lucía", "Ramos Vilca"), ("Hernán", "Sotelo Ruiz")]
        ):
            sheet.append(["DNI", f"{48100000 + i}", first, last, f"98710000{i}", branches[0].name])
        sheet.append(["DNI", "4810", "Fila", "con error", "", ""])
        out = io.BytesIO()
        book.save(out)
        upload = SimpleUploadedFile("clientes-sistema-anterior.xlsx", out.getvalue())
        batch = imports.upload(kind="customers", file=upload, actor=supervisor)
        imports.queue_import(
            batch=batch, mapping=batch.mapping, skip_invalid=True, actor=supervisor
        )
        # Run here (the demo may load before the worker starts); the queued task then
        # finds the import done and does nothing.
        imports.run_import(batch_id=batch.pk)

    def seed_users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, first, last, group_name, is_admin in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@cartera.pe",
                },
            )
            user.is_staff = user.is_superuser = is_admin
            user.set_password(settings.DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=group_name))
            users[username] = user
        advisor_group = Group.objects.get(name="Asesor")
        for username, first, last in EXTRA_ADVISORS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@cartera.pe",
                },
            )
            if created:
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
            user.groups.add(advisor_group)
            users[username] = user
        return users

    def seed_configuration(self):
        branches = [
            Branch.objects.get_or_create(
                code=code, defaults={"name": name, "city": city, "address": address}
            )[0]
            for name, code, city, address in BRANCHES
        ]
        channels = [
            Channel.objects.get_or_create(code=code, defaults={"name": name})[0]
            for name, code in CHANNELS
        ]
        for name, code, description in PRODUCTS:
            Product.objects.get_or_create(
                code=code, defaults={"name": name, "description": description}
            )
        tags = [
            Tag.objects.get_or_create(name=name, defaults={"color": color})[0]
            for name, color in TAGS
        ]
        return branches, channels, tags

    def seed_customers(self, rng, count, *, users, branches, channels, tags) -> int:
        """Create the demo's customers and their history in bulk.

        The services validate and write one customer at a time; the demo's hundreds are
        written in batches instead (the same rows the services would write: the search
        text, the "registered" entry, the consent field kept with its tag), and the story
        of each is built in memory first.
        """
        advisors = [users[u] for u in ("asesor", "lrojas", "mflores", "jcastillo")]
        staff = [*advisors, users["cobranzas"], users["supervisor"]]
        existing = set(
            Customer.objects.filter(document_type=Customer.DocumentType.DNI).values_list(
                "document_number", flat=True
            )
        )
        now = timezone.now()
        stories = []
        for i in range(count):
            # Every draw happens whether or not the customer exists, so a re-run sees the same data.
            dni = f"{40000000 + i * 7919 % 50000000:08d}"
            first = rng.choice(FIRST_NAMES)
            last = f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"
            phone = f"+519{rng.randint(10000000, 99999999)}"
            branch = rng.choice(branches)
            since = now - timedelta(days=rng.randint(5, 540), minutes=rng.randint(0, 600))
            story_seed = rng.random()
            channel = rng.choice(channels)
            advisor = rng.choice(advisors)
            address = f"{rng.choice(STREETS)} {rng.randint(100, 3999)}"
            if dni in existing:
                continue
            customer = Customer(
                document_type=Customer.DocumentType.DNI,
                document_number=dni,
                first_name=first,
                last_name=last,
                phone=phone,
                email=f"{first.lower()}.{last.split()[0].lower()}{i}@correo.pe".translate(
                    str.maketrans("áéíóú", "aeiou")
                ),
                address=address,
                city=branch.city,
                channel=channel,
                branch=branch,
                advisor=advisor,
                created_at=since,
            )
            customer.search_text = customer.build_search_text()
            stories.append((customer, random.Random(story_seed), since))
        for start in range(0, len(stories), BATCH):
            self.write_batch(stories[start : start + BATCH], now=now, staff=staff, tags=tags)
        return len(stories)

    def write_batch(self, stories, *, now, staff, tags) -> None:
        with transaction.atomic():
            customers = Customer.objects.bulk_create([c for c, _rng, _since in stories])
            interactions, tag_rows, opted_out = [], [], []
            for customer, (_c, rng, since) in zip(customers, stories, strict=True):
                chosen = self.story_tags(rng, tags)
                tag_rows += [
                    Customer.tags.through(customer_id=customer.pk, tag_id=t.pk) for t in chosen
                ]
                entries = [
                    Interaction(
                        customer=customer,
                        kind=Interaction.Kind.SYSTEM,
                        summary="Cliente registrado",
                        channel=customer.channel,
                        payload={"canal": customer.channel.name, "sucursal": customer.branch.name},
                        occurred_at=since,
                    )
                ]
                if any(t.name == OPT_OUT_TAG for t in chosen):
                    opted_out.append(customer.pk)
                    entries.append(
                        Interaction(
                            customer=customer,
                            kind=Interaction.Kind.SYSTEM,
                            summary="El cliente pidió no ser contactado: no recibirá mensajes "
                            "ni campañas.",
                            actor=rng.choice(staff),
                            occurred_at=since + timedelta(minutes=5),
                        )
                    )
                entries += self.story(rng, customer, since, now, staff)
                customer.last_interaction_at = max(
                    (e.occurred_at for e in entries if e.kind != Interaction.Kind.SYSTEM),
                    default=None,
                )
                interactions += entries
            Customer.tags.through.objects.bulk_create(tag_rows)
            Interaction.objects.bulk_create(interactions, batch_size=BATCH)
            Customer.objects.bulk_update(customers, ["last_interaction_at"], batch_size=BATCH)
            Customer.objects.filter(pk__in=opted_out).update(
                has_opted_out=True, opted_out_at=F("created_at")
            )

    def story_tags(self, rng, tags) -> list:
        if rng.random() < 0.25:
            # Drawn from every tag, so the other tags stay what they were in earlier demos.
            chosen = rng.sample(tags, k=rng.randint(1, 2))
            return [t for t in chosen if t.name != WRITTEN_OFF_TAG]
        return []

    def story(self, rng, customer, since, now, staff) -> list[Interaction]:
        """Return a customer's history: calls, notes, messages, payments, visits, follow-ups."""
        span = max((now - since).total_seconds(), 3600)
        moments = sorted(
            since + timedelta(seconds=rng.uniform(0, span)) for _ in range(rng.randint(3, 14))
        )
        installment = Decimal(rng.randint(25, 180) * 10)
        paid = 0
        entries = []
        for at in moments:
            roll = rng.random()
            actor = rng.choice(staff)
            if roll < 0.25:
                summary, direction = rng.choice(CALLS)
                fields = {
                    "kind": Interaction.Kind.CALL,
                    "summary": summary,
                    "direction": direction,
                    "actor": actor,
                    "payload": {"duración": f"{rng.randint(1, 12)} min"},
                }
            elif roll < 0.45:
                fields = {
                    "kind": Interaction.Kind.NOTE,
                    "summary": rng.choice(NOTES),
                    "actor": actor,
                }
            elif roll < 0.65:
                kind, summary, direction = rng.choice(MESSAGES)
                fields = {
                    "kind": kind,
                    "summary": summary,
                    "direction": direction,
                    "actor": None if direction == "outbound" else actor,
                }
            elif roll < 0.80:
                paid += 1
                amount = display.money_text(installment, Currency.PEN)
                fields = {
                    "kind": Interaction.Kind.PAYMENT,
                    "summary": f"Pago recibido de {amount} (cuota {paid})",
                    "direction": Interaction.Direction.INBOUND,
                    "payload": {
                        "monto": f"{installment:.2f}",
                        "medio": rng.choice(["Efectivo", "Transferencia", "MercadoPago"]),
                    },
                }
            elif roll < 0.90:
                fields = {
                    "kind": Interaction.Kind.PORTAL_VISIT,
                    "summary": "Ingresó al portal de pagos y consultó su saldo.",
                    "direction": Interaction.Direction.INBOUND,
                }
            else:
                fields = {
                    "kind": Interaction.Kind.FOLLOW_UP,
                    "summary": rng.choice(FOLLOW_UPS),
                    "actor": actor,
                }
            entries.append(Interaction(customer=customer, occurred_at=at, **fields))
        return entries

    def seed_agenda(self, rng, advisors) -> int:
        """Book the demo's Cal.com appointments: the last weeks and the next two, some of
        them for people who are not customers yet ("cliente por registrar")."""
        if Appointment.objects.filter(calcom_uid__startswith=AGENDA_PREFIX).exists():
            return 0
        now = timezone.now()
        today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        customers = list(Customer.objects.order_by("pk")[:AGENDA_SIZE])
        appointments, entries = [], []
        for i in range(AGENDA_SIZE):
            starts = today + timedelta(days=rng.randint(-20, 14), hours=rng.choice(AGENDA_HOURS))
            advisor = rng.choice(advisors)
            status = rng.choices(
                list(Appointment.Status), weights=[7, 2, 1] if starts < now else [8, 2, 1]
            )[0]
            title, notes = rng.choice(AGENDA_TOPICS)
            appointment = Appointment(
                calcom_uid=f"{AGENDA_PREFIX}{i}",
                advisor=advisor,
                title=title,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                status=status,
                location=rng.choice(BRANCHES)[3] if rng.random() < 0.5 else "",
                video_url="" if rng.random() < 0.5 else f"https://cal.com/video/demo-{i}",
                notes=notes,
                cancellation_reason="El cliente no podrá asistir."
                if status == Appointment.Status.CANCELLED
                else "",
                organizer_email=advisor.email,
                calcom_event_at=min(now, starts - timedelta(days=2)),
                created_at=min(now, starts - timedelta(days=2)),
            )
            if i % 6 == 5 or not customers:
                # Booked through the public link by someone who is not registered yet.
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                appointment.attendee_name = name
                appointment.attendee_email = f"visitante{i}@correo.pe"
            else:
                customer = customers[i % len(customers)]
                appointment.customer = customer
                appointment.attendee_name = customer.full_name
                appointment.attendee_email = customer.email
                when = formats.date_format(timezone.localtime(starts), "SHORT_DATETIME_FORMAT")
                entries.append(
                    Interaction(
                        customer=customer,
                        kind=Interaction.Kind.APPOINTMENT,
                        direction=Interaction.Direction.INBOUND,
                        summary=f"Cita agendada: {title}, {when}",
                        payload={"asesor": people.display_name(advisor)},
                        occurred_at=appointment.calcom_event_at,
                    )
                )
            appointments.append(appointment)
        with transaction.atomic():
            Appointment.objects.bulk_create(appointments)
            Interaction.objects.bulk_create(entries)
        return len(appointments)
