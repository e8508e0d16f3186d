"""Load the ledger's demo: loan products, investors, and loans in every status and bucket.

Run it after `seed_demo`: it lends to that command's customers and acts as its users.
Idempotent: once the demo products have loans it adds nothing (it only brings
delinquency up to date, as the daily task would), so `make run` calls it on every start.

Every change goes through `credits.services`, in the order it would have happened and
with its past dates: loans opened over the last two years, signed, disbursed, funded by
investors, paid on time, late or no longer, prepaid, overpaid, annulled, written off, and
the investors' monthly liquidations. The services stamp a few rows with "now" (when a
payment was recorded, the timeline's events, the investors' distributions); like
seed_demo, this moves those to the day they stand for, so the timeline reads right and
past months have something to liquidate. Ledger entries keep their real recording time.
"""

import io
import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from credits import schedule, selectors
from credits.investors import services as investor_services
from credits.models import (
    Distribution,
    Installment,
    Investor,
    LedgerEntry,
    Liquidation,
    Loan,
    LoanProduct,
    Participation,
    Payment,
)
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.models import Customer, Interaction
from lib import money

SEED = 20261122
LOAN_COUNT = 250
MONTHLY = schedule.Frequency.MONTHLY
BIWEEKLY = schedule.Frequency.BIWEEKLY
WEEKLY = schedule.Frequency.WEEKLY
# From a loan's start to its first due date (the loans are created with both).
FIRST_PERIOD = {
    MONTHLY: relativedelta(months=1),
    BIWEEKLY: timedelta(days=15),
    WEEKLY: timedelta(days=7),
}


class ProductSpec(NamedTuple):
    name: str
    fields: dict  # the LoanProduct's
    share: float  # of the disbursed loans
    terms: tuple[int, ...]  # offered, in installments
    amounts: tuple[int, int, int]  # lowest, highest, step


PRODUCTS = [
    ProductSpec(
        "Crédito vehicular",
        {
            "annual_rate": Decimal("22.00"),
            "min_rate": Decimal("18.00"),
            "max_rate": Decimal("28.00"),
            "method": schedule.Method.FRENCH,
            "frequency": MONTHLY,
            "min_term": 12,
            "max_term": 60,
            "min_amount": Decimal("8000.00"),
            "max_amount": Decimal("150000.00"),
            "fee_type": schedule.FeeType.FIXED,
            "fee_value": Decimal("25.00"),  # GPS and insurance, per installment
            "late_annual_rate": Decimal("15.00"),
            "grace_days": 5,
            "platform_fee_percent": Decimal("20.00"),
        },
        0.35,
        (12, 24, 36, 48, 60),
        (12_000, 90_000, 500),
    ),
    ProductSpec(
        "Crédito de consumo",
        {
            "annual_rate": Decimal("32.00"),
            "min_rate": Decimal("28.00"),
            "max_rate": Decimal("36.00"),
            "method": schedule.Method.GERMAN,
            "frequency": MONTHLY,
            "min_term": 6,
            "max_term": 36,
            "min_amount": Decimal("1000.00"),
            "max_amount": Decimal("30000.00"),
            "late_annual_rate": Decimal("12.00"),
            "grace_days": 3,
            "platform_fee_percent": Decimal("25.00"),
        },
        0.30,
        (6, 9, 12, 18, 24, 36),
        (1_500, 25_000, 100),
    ),
    ProductSpec(
        "Microcrédito quincenal",
        {
            "annual_rate": Decimal("40.00"),
            "min_rate": Decimal("36.00"),
            "max_rate": Decimal("45.00"),
            "method": schedule.Method.FLAT,
            "frequency": BIWEEKLY,
            "min_term": 4,
            "max_term": 24,
            "min_amount": Decimal("500.00"),
            "max_amount": Decimal("8000.00"),
            "late_annual_rate": Decimal("10.00"),
            "grace_days": 2,
            "platform_fee_percent": Decimal("25.00"),
        },
        0.15,
        (6, 8, 12, 16, 24),
        (800, 6_000, 50),
    ),
    ProductSpec(
        "Crédito semanal",
        {
            "annual_rate": Decimal("45.00"),
            "min_rate": Decimal("40.00"),
            "max_rate": Decimal("50.00"),
            "method": schedule.Method.FRENCH,
            "frequency": WEEKLY,
            "min_term": 8,
            "max_term": 52,
            "min_amount": Decimal("300.00"),
            "max_amount": Decimal("5000.00"),
            "fee_type": schedule.FeeType.PERCENT,
            "fee_value": Decimal("1.50"),
            "late_annual_rate": Decimal("10.00"),
            "grace_days": 1,
            "platform_fee_percent": Decimal("25.00"),
        },
        0.20,
        (8, 12, 16, 20, 26),
        (400, 4_000, 50),
    ),
]
VEHICLE_PRODUCT = PRODUCTS[0].name
# Rates a vehicle loan was negotiated at, around the product's 22 %.
VEHICLE_RATES = [Decimal(r) for r in ("18.00", "19.50", "21.00", "22.00", "24.00", "25.50", "28")]
VEHICLES = {
    # brand: (VIN world manufacturer prefix, models)
    "Toyota": ("JTD", ["Yaris", "Corolla", "Hilux", "RAV4", "Rush"]),
    "Hyundai": ("KMH", ["Accent", "Grand i10", "Creta", "Tucson"]),
    "Kia": ("KNA", ["Picanto", "Rio", "Soluto", "Sportage"]),
    "Suzuki": ("JS2", ["Swift", "Dzire", "Vitara", "Ertiga"]),
    "Nissan": ("3N1", ["Versa", "Sentra", "Kicks", "Frontier"]),
}
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # a VIN never uses I, O or Q

INVESTORS = [
    # kind, name, document type, number, bank, account, CCI
    (
        "person",
        "Rosa Elena Paredes Cárdenas",
        "dni",
        "08451236",
        "BCP",
        "191-34567821-0-45",
        "00219113456782104551",
    ),
    (
        "person",
        "Jorge Luis Valdivia Ramos",
        "dni",
        "10293847",
        "Interbank",
        "200-3012457789",
        "00320000301245778931",
    ),
    (
        "person",
        "Carmen Rosa Huamán Ticona",
        "dni",
        "29384756",
        "BBVA",
        "0011-0182-0200456712",
        "01118200020045671211",
    ),
    (
        "person",
        "Patricia Salazar Medina",
        "dni",
        "41827364",
        "Scotiabank",
        "970-0456123",
        "00997000045612312377",
    ),
    (
        "person",
        "Miguel Ángel Zevallos Ríos",
        "dni",
        "07765432",
        "BCP",
        "193-20984512-0-77",
        "00219312098451207772",
    ),
    (
        "company",
        "Inversiones Andinas S.A.C.",
        "ruc",
        "20601234571",
        "BCP",
        "194-2233445-0-19",
        "00219400223344501913",
    ),
    (
        "company",
        "Fondo Capital Sur S.A.",
        "ruc",
        "20554433221",
        "BBVA",
        "0011-0661-0100223344",
        "01166100010022334465",
    ),
    (
        "company",
        "Grupo Empresarial Misti E.I.R.L.",
        "ruc",
        "20458899123",
        "Interbank",
        "300-3009988776",
        "00330000300998877622",
    ),
    (
        "company",
        "Cooperativa de Ahorro San Martín",
        "ruc",
        "20101987654",
        "Scotiabank",
        "000-1122334",
        "00900000112233412388",
    ),
]

# Each loan follows one story; PLANS gives each story's share of the loans, and the rest
# pay on time. Stopped payers stop at an installment due this many days ago, which puts
# them in one aging bucket.
PLANS = {
    "draft": 0.04,
    "awaiting_signature": 0.03,
    "ready_to_disburse": 0.03,
    "cancelled": 0.025,
    "late": 0.14,
    "stopped_1_30": 0.05,
    "stopped_31_60": 0.05,
    "stopped_61_90": 0.04,
    "stopped_90_plus": 0.04,
    "written_off": 0.03,
    "prepay_shorten": 0.025,
    "prepay_lower": 0.025,
    "overpay_credit": 0.02,
    "annulled": 0.015,
    "paid_up": 0.08,
    "paid_early": 0.03,
}
PENDING_PLANS = ("draft", "awaiting_signature", "ready_to_disburse", "cancelled")
STOPPED_DAYS = {
    "stopped_1_30": (3, 28),
    "stopped_31_60": (33, 58),
    "stopped_61_90": (63, 88),
    "stopped_90_plus": (100, 330),
    "written_off": (150, 500),
}
# Stories with one special payment (a prepayment, an overpayment, an annulment, a payoff).
SPECIAL_PLANS = ("prepay_shorten", "prepay_lower", "overpay_credit", "annulled", "paid_early")
CANCEL_REASONS = [
    "El cliente desistió del crédito.",
    "No calificó en la evaluación crediticia.",
    "Documentación incompleta después de 30 días.",
]
SOURCES = [
    (Payment.Source.CASH, 0.30),
    (Payment.Source.TRANSFER, 0.25),
    (Payment.Source.DEPOSIT, 0.20),
    (Payment.Source.MERCADOPAGO, 0.25),
]
ADVISORS = ("asesor", "lrojas", "mflores", "jcastillo")
MIN_LOANS = 20  # every story once, and one loan paid on time


class Command(BaseCommand):
    help = "Carga créditos, inversionistas y pagos de demostración (idempotente)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loans",
            type=int,
            default=LOAN_COUNT,
            help=f"Cantidad de créditos de demostración (por defecto {LOAN_COUNT}).",
        )

    def handle(self, *args, loans, **options):
        started = time.perf_counter()
        if loans < MIN_LOANS:
            raise CommandError(f"--loans debe ser al menos {MIN_LOANS}.")
        self.today = timezone.localdate()
        # Whatever the services stamp from now on is moved back to its day (see stamp()).
        self.started = timezone.now()
        self.users = self.demo_users()
        rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
        with transaction.atomic():
            products = self.seed_products()
            investors = self.seed_investors()
            if Loan.objects.filter(product__in=products).exists():
                created = 0
            else:
                created = self.seed_loans(rng, loans, products, investors)
            delinquency.update_delinquency(today=self.today)
            if created:
                self.seed_liquidations()
        self.seed_loan_import(products[0])
        elapsed = time.perf_counter() - started
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Créditos de demostración listos: {created} nuevos ({elapsed:.1f} s)."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    "Los créditos de demostración ya estaban cargados; no se agregó nada."
                )
            )
        self.print_summary(products)

    def seed_loan_import(self, product: LoanProduct) -> None:
        """A finished import of loans from the previous system, with their payment history.

        For the customers `seed_demo`'s customer import brought (documents 48100000 on):
        a workbook with the sheets «Créditos» and «Pagos», each loan's balance reconciled.
        """
        from django.core.files.uploadedfile import SimpleUploadedFile
        from openpyxl import Workbook

        from crm.imports import services as imports
        from crm.models import ImportBatch

        if ImportBatch.objects.filter(kind="loans").exists():
            return
        documents = [f"{48100000 + i}" for i in range(3)]
        if Customer.objects.filter(document_number__in=documents).count() < len(documents):
            return
        book = Workbook()
        loans = book.active
        loans.title = "Créditos"
        loans.append(
            [
                "Documento",
                "Código de pago",
                "Producto",
                "Fecha de desembolso",
                "Capital",
                "Plazo",
                "Saldo",
            ]
        )
        payments = book.create_sheet("Pagos")
        payments.append(["Código de pago", "Fecha", "Monto", "Referencia"])
        for i, document in enumerate(documents):
            start = self.today - timedelta(days=200 - 40 * i)
            principal, term, code = Decimal(9000 + 1500 * i), 12, f"SA-{2024100 + i}"
            plan = schedule.build_schedule(
                principal=principal,
                annual_rate=product.annual_rate,
                term=term,
                method=product.method,
                frequency=product.frequency,
                first_due_date=schedule.first_due_date_after(start, product.frequency),
                start_date=start,
                fee_type=product.fee_type,
                fee_value=product.fee_value,
            )
            balance = Decimal(0)
            for row in plan.rows:
                if row.due_date < self.today and row.number <= 4 - i:
                    payments.append([code, row.due_date, row.total, f"REC-{code}-{row.number}"])
                else:
                    balance += row.total
            loans.append([document, code, product.name, start, principal, term, balance])
        out = io.BytesIO()
        book.save(out)
        upload = SimpleUploadedFile("creditos-sistema-anterior.xlsx", out.getvalue())
        supervisor = self.users["supervisor"]
        batch = imports.upload(kind="loans", file=upload, actor=supervisor)
        imports.queue_import(
            batch=batch, mapping=batch.mapping, skip_invalid=True, actor=supervisor
        )
        # Run here, as seed_demo does with its customer import; the queued task finds it done.
        imports.run_import(batch_id=batch.pk)

    def demo_users(self) -> dict:
        names = (*ADVISORS, "supervisor", "cobranzas")
        users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
        missing = sorted(set(names) - set(users))
        if missing or not Customer.objects.exists():
            raise CommandError(
                "Faltan los clientes o usuarios de demostración: "
                "ejecute antes `manage.py seed_demo`."
            )
        return users

    def seed_products(self) -> list[LoanProduct]:
        return [
            LoanProduct.objects.get_or_create(name=spec.name, defaults=spec.fields)[0]
            for spec in PRODUCTS
        ]

    def seed_investors(self) -> list[Investor]:
        investors = []
        for kind, name, doc_type, number, bank, account, cci in INVESTORS:
            slug = name.split()[0].lower().translate(str.maketrans("áéíóú", "aeiou"))
            email, phone = f"{slug}.{number[-4:]}@inversionistas.pe", f"+5199{number[-7:]}"
            investor, _ = Investor.objects.get_or_create(
                document_type=doc_type,
                document_number=number,
                defaults={
                    "kind": kind,
                    "name": name,
                    "email": email,
                    "phone": phone,
                    "bank_name": bank,
                    "bank_account": account,
                    "bank_cci": cci,
                    # What the list's search reads, as the services write it.
                    "search_text": Investor.search_text_for(
                        name=name, document_number=number, email=email, phone=phone
                    ),
                },
            )
            investors.append(investor)
        return investors

    # --- Loans ---------------------------------------------------------------------------

    def seed_loans(self, rng, count, products, investors) -> int:
        plans = [name for name, share in PLANS.items() for _ in range(max(1, round(share * count)))]
        plans += ["punctual"] * (count - len(plans))
        rng.shuffle(plans)
        customers = list(Customer.objects.order_by("document_number"))
        chosen = rng.sample(customers, min(count, len(customers)))
        chosen += [rng.choice(customers) for _ in range(count - len(chosen))]
        self.payments = self.annulments = 0
        self.stdout.write(f"Creando {count} créditos con sus pagos…")
        for k, (plan, customer) in enumerate(zip(plans, chosen, strict=True), start=1):
            # One generator per loan: the story of a loan does not depend on the others'.
            story = random.Random(rng.random())  # noqa: S311
            self.seed_loan(story, plan, customer, products, investors)
            if k % 50 == 0 or k == count:
                self.stdout.write(f"  {k}/{count} créditos, {self.payments:,} pagos")
        latest = (
            Interaction.objects.filter(customer=OuterRef("pk"))
            .exclude(kind=Interaction.Kind.SYSTEM)
            .order_by("-occurred_at")
        )
        Customer.objects.filter(pk__in={c.pk for c in chosen}).update(
            last_interaction_at=Subquery(latest.values("occurred_at")[:1])
        )
        return count

    def seed_loan(self, rng, plan, customer, products, investors) -> None:
        advisor = customer.advisor if customer.advisor else self.users["asesor"]
        if plan in PENDING_PLANS:
            self.seed_pending_loan(rng, plan, customer, products, advisor, investors)
            return
        product, term, first_due, stop = self.draw_terms(rng, plan, products)
        start = first_due - FIRST_PERIOD[product.frequency]
        created_on = start - timedelta(days=rng.randint(2, 12))
        loan = loan_services.create_loan(
            actor=advisor,
            customer=customer,
            product=product,
            principal=self.draw_amount(rng, product),
            term=term,
            start_date=start,
            first_due_date=first_due,
            annual_rate=rng.choice(VEHICLE_RATES) if product.name == VEHICLE_PRODUCT else None,
            vehicle=self.draw_vehicle(rng) if product.name == VEHICLE_PRODUCT else None,
            repeat_ok=True,
        )
        self.stamp(customer, created_on, rng)
        if rng.random() < 0.7:
            loan_services.change_status(loan=loan, to=Loan.Status.AWAITING_SIGNATURE, actor=advisor)
            self.stamp(customer, created_on + timedelta(days=1), rng)
        loan_services.change_status(loan=loan, to=Loan.Status.READY_TO_DISBURSE, actor=advisor)
        self.stamp(customer, min(start, created_on + timedelta(days=2)), rng)
        supervisor = self.users["supervisor"]
        disbursed_at = self.moment(start, rng)
        loan_services.disburse(loan=loan, actor=supervisor, disbursed_at=disbursed_at)
        self.stamp(customer, start, rng, at=disbursed_at)
        self.fund(rng, loan, investors, supervisor, start)
        self.loan_payments: list[Payment] = []
        last_on = self.pay(rng, loan, plan, stop, advisor)
        self.backdate_payments(loan)
        changed_on = start
        if plan == "written_off":
            changed_on = min(self.today, stop + timedelta(days=rng.randint(120, 150)))
            loan_services.write_off(
                loan=loan,
                actor=supervisor,
                reason="Más de 120 días de atraso sin acuerdo de pago: pasa a cartera castigada.",
            )
            self.stamp(customer, changed_on, rng)
        loan.refresh_from_db(fields=["status"])
        backdated = {"created_at": self.moment(created_on, rng)}
        if loan.status == Loan.Status.PAID:
            changed_on = last_on
            backdated["paid_at"] = self.moment(last_on, rng)
        backdated["status_changed_at"] = self.moment(changed_on, rng)
        Loan.objects.filter(pk=loan.pk).update(**backdated)
        if plan == "written_off":
            # The portfolio report reads the moment of a write-off from its ledger entry.
            LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.WRITE_OFF).update(
                created_at=backdated["status_changed_at"]
            )

    def seed_pending_loan(self, rng, plan, customer, products, advisor, investors) -> None:
        """Open a loan that was never disbursed, and move it as far as its plan says."""
        product = rng.choices(products, weights=[spec.share for spec in PRODUCTS])[0]
        created_on = self.today - timedelta(days=rng.randint(0, 45 if plan == "cancelled" else 12))
        loan = loan_services.create_loan(
            actor=advisor,
            customer=customer,
            product=product,
            principal=self.draw_amount(rng, product),
            term=rng.choice(PRODUCTS[products.index(product)].terms),
            start_date=max(created_on, self.today) + timedelta(days=rng.randint(1, 10)),
            annual_rate=rng.choice(VEHICLE_RATES) if product.name == VEHICLE_PRODUCT else None,
            vehicle=self.draw_vehicle(rng) if product.name == VEHICLE_PRODUCT else None,
            repeat_ok=True,
        )
        self.stamp(customer, created_on, rng)
        changed_on = created_on
        steps = {
            "draft": [],
            "awaiting_signature": [Loan.Status.AWAITING_SIGNATURE],
            "ready_to_disburse": [Loan.Status.AWAITING_SIGNATURE, Loan.Status.READY_TO_DISBURSE],
            "cancelled": [
                *rng.choice([[], [Loan.Status.AWAITING_SIGNATURE]]),
                Loan.Status.CANCELLED,
            ],
        }[plan]
        for status in steps:
            changed_on = min(self.today, changed_on + timedelta(days=rng.randint(0, 3)))
            # Only the status moves: sending to DocuSeal (services.send_for_signature) is
            # left to whoever tries the demo, so seeding never calls out.
            loan_services.change_status(
                loan=loan,
                to=status,
                actor=advisor,
                reason=rng.choice(CANCEL_REASONS) if status == Loan.Status.CANCELLED else "",
            )
            self.stamp(customer, changed_on, rng)
        if plan == "ready_to_disburse" and rng.random() < 0.5:
            self.fund(rng, loan, investors, self.users["supervisor"], changed_on)
        Loan.objects.filter(pk=loan.pk).update(
            created_at=self.moment(created_on, rng),
            status_changed_at=self.moment(changed_on, rng),
        )

    def draw_terms(self, rng, plan, products):
        """Return (product, term, first due date, stop due date) that fit the plan's story."""
        weights = [spec.share for spec in PRODUCTS]
        for _ in range(500):
            product = rng.choices(products, weights=weights)[0]
            term = rng.choice(PRODUCTS[products.index(product)].terms)
            # The first installment fell due up to 700 days ago, so starts span two years;
            # more of them are recent, as in a portfolio that grows.
            first_due = self.today - timedelta(days=1 + int(699 * rng.random() ** 2))
            dates = schedule.due_dates(first_due, product.frequency, term)
            due = sum(1 for d in dates if d < self.today)
            if plan in STOPPED_DAYS:
                low, high = STOPPED_DAYS[plan]
                stops = [d for d in dates[1:] if low <= (self.today - d).days <= high]
                if stops:
                    return product, term, first_due, rng.choice(stops)
            elif plan == "paid_up":
                if dates[-1] <= self.today - timedelta(days=6):
                    return product, term, first_due, None
            elif plan in SPECIAL_PLANS:
                if due >= 3 and term - due >= 3:
                    return product, term, first_due, None
            elif due >= 1 and term - due >= 2:
                return product, term, first_due, None
        raise CommandError(f"No se encontraron condiciones para un crédito «{plan}».")

    def draw_amount(self, rng, product: LoanProduct) -> Decimal:
        low, high, step = next(spec.amounts for spec in PRODUCTS if spec.name == product.name)
        return Decimal(rng.randrange(low, high + 1, step))

    def draw_vehicle(self, rng) -> dict:
        brand = rng.choice(list(VEHICLES))
        prefix, models = VEHICLES[brand]
        letters = "".join(rng.choice(PLATE_LETTERS) for _ in range(3))
        return {
            "brand": brand,
            "model": rng.choice(models),
            "year": rng.randint(2015, self.today.year),
            "plate": f"{letters}-{rng.randint(100, 999)}",
            "vin": prefix + "".join(rng.choice(VIN_CHARS) for _ in range(14)),
        }

    def fund(self, rng, loan, investors, actor, on: date) -> None:
        """Give most loans one to three investors; some are funded only in part."""
        if rng.random() < 0.15:
            return
        is_full = rng.random() < 0.75
        total = 100 if is_full else rng.choice([40, 50, 60, 75, 80])
        count = rng.choice([1, 1, 2, 2, 3]) if is_full else rng.choice([1, 2])
        cuts = sorted(rng.sample(range(10, total, 10), count - 1))
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for investor, share in zip(rng.sample(investors, count), shares, strict=True):
            investor_services.add_participation(
                loan=loan, investor=investor, actor=actor, share=Decimal(share)
            )
            self.stamp(loan.customer, on, rng)
        Participation.objects.filter(loan=loan).update(created_at=self.moment(on, rng))

    # --- Payments ------------------------------------------------------------------------

    def pay(self, rng, loan, plan, stop: date | None, advisor) -> date:
        """Pay the loan's installments as its plan says, oldest first; return the last day paid."""
        rows = self.open_rows(loan)
        due_count = sum(1 for r in rows if r.due_date < self.today)
        special_at = rng.randint(1, max(1, due_count - 2)) if plan in SPECIAL_PLANS else -1
        made = 0
        last_on = loan.start_date
        while True:
            if not rows:
                return last_on
            row = rows[0]
            if stop is not None and row.due_date >= stop:
                self.pay_part(rng, loan, row, advisor)
                return last_on
            on = max(row.due_date + timedelta(days=self.delay(rng, plan)), last_on)
            if on > self.today:
                return last_on
            is_late = (on - row.due_date).days > loan.grace_days
            if is_late and delinquency.accrue_late_interest(loan=loan, today=on):
                rows = self.open_rows(loan)
            due_now = [r for r in rows if r.due_date <= on]
            in_course = rows[len(due_now) : len(due_now) + 1]
            later = rows[len(due_now) + 1 :]
            settled = due_now or in_course
            amount = sum((r.total_pending for r in settled), schedule.ZERO)
            overpayment = Payment.Overpayment.CREDIT
            is_special = made == special_at
            if is_special and later:
                base = sum((r.total_pending for r in due_now + in_course), schedule.ZERO)
                principal_left = sum((r.pending("principal") for r in later), schedule.ZERO)
                if plan == "paid_early":
                    amount, overpayment = base + principal_left, Payment.Overpayment.SHORTEN_TERM
                elif plan in ("prepay_shorten", "prepay_lower"):
                    extra = principal_left * Decimal(rng.randint(20, 50)) / 100 // 10 * 10
                    amount = base + max(extra, Decimal(10))
                    overpayment = (
                        Payment.Overpayment.SHORTEN_TERM
                        if plan == "prepay_shorten"
                        else Payment.Overpayment.LOWER_INSTALLMENT
                    )
                elif plan == "overpay_credit":
                    amount = base + Decimal(rng.randrange(50, 400, 10))
            payment = self.apply(rng, loan, amount, on, advisor, overpayment=overpayment)
            if is_special and plan == "annulled":
                on = self.annul(rng, loan, payment, on, advisor)
            # A plain payment settles exactly the installments it was counted for.
            rows = self.open_rows(loan) if is_special else rows[len(settled) :]
            made += 1
            last_on = on

    def open_rows(self, loan: Loan) -> list[Installment]:
        """Return the loan's installments with something left to pay, oldest first."""
        # An installment gets `paid_on` once nothing is left to pay on it.
        return list(selectors.live_installments(loan).filter(paid_on__isnull=True))

    def delay(self, rng, plan: str) -> int:
        """Return how many days after the due date the customer pays (negative: before)."""
        if plan == "late":
            return rng.randint(1, 25)
        # Special plans pay on time too: their special payment must happen before today.
        if plan in ("punctual", "paid_up", *SPECIAL_PLANS):
            return rng.choice((-5, -3, -2, -1, 0, 0, 0, 0))
        return rng.randint(2, 12) if rng.random() < 0.15 else rng.choice((-3, -1, 0, 0, 0))

    def pay_part(self, rng, loan, row: Installment, advisor) -> None:
        """Sometimes a customer who stopped paying still pays part of the installment."""
        on = row.due_date + timedelta(days=rng.randint(0, 6))
        if rng.random() < 0.6 or on > self.today:
            return
        if (on - row.due_date).days > loan.grace_days:
            delinquency.accrue_late_interest(loan=loan, today=on)
            row.refresh_from_db()
        part = money.cents(row.total_pending * Decimal(rng.choice(("0.3", "0.4", "0.5"))))
        self.apply(rng, loan, part, on, advisor)

    def apply(self, rng, loan, amount, on: date, advisor, **kwargs) -> Payment:
        source = rng.choices([s for s, _w in SOURCES], weights=[w for _s, w in SOURCES])[0]
        reference = {
            Payment.Source.TRANSFER: f"OP-{rng.randint(10_000_000, 99_999_999)}",
            Payment.Source.DEPOSIT: f"DEP {rng.randint(1_000_000, 9_999_999)}",
            Payment.Source.MERCADOPAGO: f"MP {rng.randint(10**10, 10**11 - 1)}",
        }.get(source, "")
        # A MercadoPago payment arrives by webhook; the others are entered by staff.
        actor = rng.choice([advisor, self.users["cobranzas"]])
        if source == Payment.Source.MERCADOPAGO:
            actor = None
        payment = payment_services.apply_payment(
            loan=loan, amount=amount, received_on=on, source=source, actor=actor,
            reference=reference, **kwargs,
        )  # fmt: skip
        payment.recorded_at = self.moment(on, rng)
        self.stamp(loan.customer, on, rng, at=payment.recorded_at)
        self.loan_payments.append(payment)
        self.payments += 1
        return payment

    def annul(self, rng, loan, payment: Payment, on: date, advisor) -> date:
        """Annul a payment: a bounced transfer, or the same payment entered twice."""
        supervisor = self.users["supervisor"]
        self.annulments += 1
        if self.annulments % 2:
            annulled = payment
            reason = "La transferencia fue rechazada por el banco."
            on = min(self.today, on + timedelta(days=2))
        else:
            annulled = self.apply(rng, loan, payment.amount, on, advisor, repeat_ok=True)
            reason = "Pago registrado dos veces por error."
        payment_services.annul_payment(payment=annulled, actor=supervisor, reason=reason)
        annulled.annulled_at = self.moment(on, rng)
        self.stamp(loan.customer, on, rng, at=annulled.annulled_at)
        return on

    def backdate_payments(self, loan: Loan) -> None:
        """Date the loan's payments, and what they gave investors, by when they were received."""
        if not self.loan_payments:
            return
        Payment.objects.bulk_update(self.loan_payments, ["recorded_at", "annulled_at"])
        payments = Payment.objects.filter(pk=OuterRef("payment_id"))
        shares = Distribution.objects.filter(payment__loan=loan)
        shares.filter(reversal_of__isnull=True).update(
            created_at=Subquery(payments.values("recorded_at")[:1])
        )
        shares.filter(reversal_of__isnull=False).update(
            created_at=Subquery(payments.values("annulled_at")[:1])
        )
        # A reversal's value date is the annulment's day, which the demo places in the past.
        for payment in self.loan_payments:
            if payment.annulled_at is not None:
                shares.filter(payment=payment, reversal_of__isnull=False).update(
                    value_date=timezone.localdate(payment.annulled_at)
                )

    # --- Investors' liquidations ---------------------------------------------------------

    def seed_liquidations(self) -> None:
        """Liquidate the two previous months for a few investors; the older ones are paid."""
        this_month = self.today.replace(day=1)
        made = 0
        for months_ago, paid in ((2, 3), (1, 1)):
            start = this_month - relativedelta(months=months_ago)
            end = start + relativedelta(months=1) - timedelta(days=1)
            made += self.liquidate(start, end, paid=paid)
        if not made:  # a small seed may have paid investors nothing then: this month so far
            self.liquidate(this_month, self.today, paid=1)

    def liquidate(self, start: date, end: date, *, paid: int) -> int:
        """Liquidate the period for up to three investors with lines in it; pay the first ones."""
        supervisor = self.users["supervisor"]
        investors = (
            Investor.objects.filter(
                distributions__liquidation__isnull=True,
                distributions__created_at__date__range=(start, end),
            )
            .distinct()
            .order_by("name")[:3]
        )
        investors = list(investors)
        made = 0
        for k, investor in enumerate(investors):
            try:
                liquidation = investor_services.create_liquidation(
                    investor=investor, period_start=start, period_end=end, actor=supervisor
                )
            except ValidationError:
                continue  # a net not positive: it waits for the investor's next liquidation
            made += 1
            backdated = {"created_at": self.moment(min(self.today, end + timedelta(days=3)))}
            if k < paid:
                investor_services.mark_liquidation_paid(
                    liquidation=liquidation,
                    reference=f"TRF-{end:%Y%m}-{k + 1:03d}",
                    actor=supervisor,
                )
                backdated["paid_at"] = self.moment(min(self.today, end + timedelta(days=5)))
            Liquidation.objects.filter(pk=liquidation.pk).update(**backdated)
        return made

    # --- Helpers -------------------------------------------------------------------------

    def moment(self, day: date, rng=None) -> datetime:
        """Return a time in business hours of `day` (today: before this run began)."""
        hour, minute = (rng.randint(9, 17), rng.randint(0, 59)) if rng else (12, 0)
        moment = timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))
        return min(moment, self.started - timedelta(minutes=1))

    def stamp(self, customer: Customer, day: date, rng, *, at: datetime | None = None) -> None:
        """Move the timeline events the last service call recorded to when it happened.

        The services date them "now"; every moment given here is before this run began,
        so the events still dated after that are exactly the ones not yet moved.
        """
        Interaction.objects.filter(customer=customer, occurred_at__gte=self.started).update(
            occurred_at=at or self.moment(day, rng)
        )

    def print_summary(self, products) -> None:
        loans = Loan.objects.filter(product__in=products)
        by_status = dict(loans.values_list("status").annotate(n=Count("id")))
        self.stdout.write(f"\n{'Estado':<22}{'créditos':>9}")
        for status in Loan.Status:
            self.stdout.write(f"{status.label:<22}{by_status.get(status, 0):>9}")
        self.stdout.write(
            f"\n{'Tramo (vigentes y castigados)':<30}{'créditos':>9}{'capital pendiente':>20}"
        )
        for row in selectors.aging_report(self.today):
            self.stdout.write(f"{row['label']:<30}{row['loans']:>9}{row['outstanding']:>20,.2f}")
        payments = Payment.objects.filter(loan__in=loans)
        annulled = payments.filter(status=Payment.Status.ANNULLED).count()
        investors = Investor.objects.filter(document_number__in=[i[3] for i in INVESTORS])
        liquidations = Liquidation.objects.filter(investor__in=investors)
        self.stdout.write(
            f"\nPagos: {payments.count() - annulled:,} aplicados y {annulled} anulados; "
            f"{investors.count()} "
            f"inversionistas con {Participation.objects.filter(loan__in=loans).count()} "
            f"participaciones; {liquidations.count()} liquidaciones "
            f"({liquidations.filter(status=Liquidation.Status.PAID).count()} pagadas)."
        )
