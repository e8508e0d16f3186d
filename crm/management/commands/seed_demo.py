"""Load the demo: users for every role, configuration and customers with their history.

Idempotent: run it again and it only fills in what is missing (and resets the demo
passwords), so `make run` calls it on every start.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm import roles, services
from crm.models import Branch, Channel, Customer, Interaction, Product, Tag

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
TAGS = [
    ("VIP", Tag.Color.GREEN),
    ("Cartera castigada", Tag.Color.RED),
    ("Prospecto", Tag.Color.BLUE),
    ("Moroso", Tag.Color.YELLOW),
    ("Inversionista", Tag.Color.CYAN),
    ("No contactar", Tag.Color.GREY),
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


class Command(BaseCommand):
    help = "Carga los datos de demostración (idempotente)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            default=CUSTOMER_COUNT,
            help=f"Cantidad de clientes de demostración (por defecto {CUSTOMER_COUNT}).",
        )

    def handle(self, *args, **options):
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
        self.stdout.write(
            self.style.SUCCESS(f"Datos de demostración listos ({created} clientes nuevos).")
        )
        self.stdout.write(f"Usuarios de demostración (contraseña: {settings.DEMO_PASSWORD}):")
        for username, _first, _last, group, _staff in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {group}")

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
        advisors = [users[u] for u in ("asesor", "lrojas", "mflores", "jcastillo")]
        staff = [*advisors, users["cobranzas"], users["supervisor"]]
        existing = set(
            Customer.objects.filter(document_type=Customer.DocumentType.DNI).values_list(
                "document_number", flat=True
            )
        )
        now = timezone.now()
        created = 0
        for i in range(count):
            # Every draw happens whether or not the customer exists, so a re-run sees the same data.
            dni = f"{40000000 + i * 7919 % 50000000:08d}"
            first = rng.choice(FIRST_NAMES)
            last = f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"
            phone = f"+519{rng.randint(10000000, 99999999)}"
            branch = rng.choice(branches)
            since = now - timedelta(days=rng.randint(5, 540), minutes=rng.randint(0, 600))
            story_seed = rng.random()
            if dni in existing:
                continue
            customer = services.create_customer(
                actor=None,
                data={
                    "document_type": Customer.DocumentType.DNI,
                    "document_number": dni,
                    "first_name": first,
                    "last_name": last,
                    "phone": phone,
                    "email": f"{first.lower()}.{last.split()[0].lower()}{i}@correo.pe".translate(
                        str.maketrans("áéíóú", "aeiou")
                    ),
                    "address": f"{rng.choice(STREETS)} {rng.randint(100, 3999)}",
                    "city": branch.city,
                    "channel": rng.choice(channels),
                    "branch": branch,
                    "advisor": rng.choice(advisors),
                },
            )
            # Backdate: the demo's customers arrived over the last year and a half.
            Customer.objects.filter(pk=customer.pk).update(
                created_at=since, last_interaction_at=since
            )
            customer.interactions.update(occurred_at=since)
            self.seed_timeline(random.Random(story_seed), customer, since, now, staff, tags)
            created += 1
        return created

    def seed_timeline(self, rng, customer, since, now, staff, tags) -> None:
        if rng.random() < 0.25:
            for tag in rng.sample(tags, k=rng.randint(1, 2)):
                customer.tags.add(tag)
        span = max((now - since).total_seconds(), 3600)
        moments = sorted(
            since + timedelta(seconds=rng.uniform(0, span)) for _ in range(rng.randint(3, 14))
        )
        installment = Decimal(rng.randint(25, 180) * 10)
        paid = 0
        for at in moments:
            roll = rng.random()
            actor = rng.choice(staff)
            if roll < 0.25:
                summary, direction = rng.choice(CALLS)
                services.record_interaction(
                    customer=customer,
                    kind=Interaction.Kind.CALL,
                    summary=summary,
                    direction=direction,
                    actor=actor,
                    occurred_at=at,
                    payload={"duración": f"{rng.randint(1, 12)} min"},
                )
            elif roll < 0.45:
                services.record_interaction(
                    customer=customer,
                    kind=Interaction.Kind.NOTE,
                    summary=rng.choice(NOTES),
                    actor=actor,
                    occurred_at=at,
                )
            elif roll < 0.65:
                kind, summary, direction = rng.choice(MESSAGES)
                services.record_interaction(
                    customer=customer,
                    kind=kind,
                    summary=summary,
                    direction=direction,
                    actor=None if direction == "outbound" else actor,
                    occurred_at=at,
                )
            elif roll < 0.80:
                paid += 1
                services.record_interaction(
                    customer=customer,
                    kind=Interaction.Kind.PAYMENT,
                    summary=f"Pago recibido de S/ {installment:,.2f} (cuota {paid})",
                    direction=Interaction.Direction.INBOUND,
                    occurred_at=at,
                    payload={
                        "monto": f"{installment:.2f}",
                        "medio": rng.choice(["Efectivo", "Transferencia", "MercadoPago"]),
                    },
                )
            elif roll < 0.90:
                services.record_interaction(
                    customer=customer,
                    kind=Interaction.Kind.PORTAL_VISIT,
                    summary="Ingresó al portal de pagos y consultó su saldo.",
                    direction=Interaction.Direction.INBOUND,
                    occurred_at=at,
                )
            else:
                services.record_interaction(
                    customer=customer,
                    kind=Interaction.Kind.FOLLOW_UP,
                    summary=rng.choice(FOLLOW_UPS),
                    actor=actor,
                    occurred_at=at,
                )
