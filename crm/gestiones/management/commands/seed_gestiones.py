"""Load the gestiones demo: two configured processes and thousands of gestiones.

Run it after `seed_demo` (it uses its advisors, branches, channels and customers) and
`seed_credits` (life-cycle events are per loan product). Idempotent: the processes are
re-applied every time; the gestiones, the survey answers and the life-cycle history are
generated once.

The history (a year of gestiones) is generated in bulk by walking each process's own
follow-up table, so every follow-up is a transition the configuration allows and every
step is on the customer's timeline. Today's work then goes through the services, as an
advisor's day would: opened, distributed by workload, followed up. The answers to the
closing survey and the life-cycle events already done are history too, written in bulk.
"""

import datetime
import io
import random
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.text import slugify
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from credits.models import Loan, LoanContract, LoanProduct
from credits.services import contracts as contract_services
from credits.services import loans as loan_services
from crm import messages as crm_messages
from crm.gestiones import examples, services
from crm.gestiones.applications import services as application_services
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.documents import rendering as document_rendering
from crm.gestiones.documents import services as document_services
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import (
    Action,
    Answer,
    Campaign,
    CreditLead,
    DocumentTemplate,
    FollowUp,
    Gestion,
    GestionState,
    GestionType,
    Goal,
    LifecycleEvent,
    LifecycleRun,
    Outcome,
    Question,
    Survey,
    SurveyInvitation,
)
from crm.gestiones.notifications import services as notification_services
from crm.gestiones.reports.timing import services as timing_services
from crm.models import Channel, Customer, Interaction, Product, Tag

SEED = 20261121
HISTORY = 3000
ADVISORS = ("asesor", "lrojas", "mflores", "jcastillo")
# How likely an agent is to pick each result, by name (others weigh 1).
RESULT_WEIGHTS = {
    "Documentos completos": 6,
    "Faltan documentos": 1,
    "Aprobado": 5,
    "Aprobado con condiciones": 2,
    "Rechazado por comité": 3,
    "Condiciones cumplidas": 3,
    "No cumple condiciones": 1,
    "Contactado": 2,
    "No contesta": 1,
    "Desiste de la solicitud": 0.3,
    "Caso enviado a TI": 5,
    "Solucionado": 4,
    "Sin solución posible": 1,
}
ACTION_WEIGHTS = {
    "Contactar al cliente": 0.4,
    "Solicitar tiempo estimado": 0.6,
    "Pedir información al cliente": 0.5,
    "Cerrar": 0.25,
}
CREDIT_PRODUCTS = ("vehicular", "consumo", "moto")
# How many closed service gestiones got the survey, and how many of those answered it.
SURVEY_SENT = 0.8
SURVEY_ANSWERED = 0.6
SURVEY_COMMENTS = (
    "Me atendieron rápido.",
    "El asesor fue muy amable.",
    "Tardaron en responderme.",
    "Todo bien, gracias.",
    "Deberían avisar por WhatsApp.",
)
# The demo's credit applicants (new customers), one per funnel step below.
APPLICANTS = (
    ("70412233", "Marco", "Salazar Ríos"),
    ("70412234", "Lucía", "Paredes Vega"),
    ("70412235", "Renzo", "Cárdenas Luna"),
    ("70412236", "Milagros", "Huertas Soto"),
    ("70412237", "Diego", "Zapata Núñez"),
    ("70412238", "Valeria", "Castro Ramos"),
    ("70412239", "Kevin", "Aguilar Pinto"),
    ("70412240", "Daniela", "Chávez Lozano"),
    ("70412241", "Jorge", "Medina Flores"),
    ("70412242", "Sofía", "Herrera Campos"),
    ("70412243", "Raúl", "Espinoza Torres"),
    ("70412244", "Karina", "Mendoza Ruiz"),
    ("70412245", "Víctor", "Ortega Palomino"),
    ("70412246", "Flor", "Benites Arce"),
)
# (how far it got, hours since the lead, hours from the lead to the approval); the product's
# target is 24 h: some of each step take longer.
FUNNEL = (
    ("open", 2, 0),
    ("open", 10, 0),
    ("open", 30, 0),
    ("open", 52, 0),
    ("approved", 24 * 3, 6),
    ("approved", 24 * 5, 40),
    ("awaiting_signature", 24 * 7, 12),
    ("awaiting_signature", 24 * 9, 30),
    ("signed", 24 * 11, 8),
    ("signed", 24 * 13, 26),
    ("disbursed", 24 * 20, 5),
    ("disbursed", 24 * 28, 18),
    ("disbursed", 24 * 35, 60),
    ("disbursed", 24 * 41, 22),
)
# The example process's steps from the lead to the approval.
APPROVAL_STEPS = (
    ("Revisar documentos", "Documentos completos"),
    ("Enviar a estudio", "Enviado a análisis"),
    ("Resolver análisis", "Aprobado"),
)
WELCOME_LETTER = "Carta de bienvenida"
PROMISSORY_NOTE = "Pagaré"
THANKS_SUBJECT = "Gracias por confiar en nosotros"


class Command(BaseCommand):
    help = "Carga las gestiones de demostración (idempotente)."

    def add_arguments(self, parser):
        parser.add_argument("--gestiones", type=int, default=HISTORY)

    def handle(self, *args, **options):
        rng = random.Random(SEED)  # noqa: S311 (demo data, not secrets)
        User = get_user_model()
        advisors = list(User.objects.filter(username__in=ADVISORS).order_by("username"))
        supervisors = list(User.objects.filter(username="supervisor"))
        if not advisors or not Customer.objects.exists():
            self.stderr.write("Ejecute antes seed_demo: faltan asesores y clientes.")
            return
        with transaction.atomic():
            credit = examples.build_process(
                examples.CREDIT_APPLICATION, agents=advisors, supervisors=supervisors
            )
            service = examples.build_process(
                examples.SERVICE_REQUEST, agents=advisors, supervisors=supervisors
            )
            self.seed_survey(service)
            self.seed_goals(rng, advisors, credit)
            self.seed_marketing(advisors, supervisors, credit, service)
        existing = Gestion.objects.filter(gestion_type__in=[credit, service]).count()
        if existing >= options["gestiones"]:
            self.stdout.write(f"Gestiones de demostración ya cargadas ({existing}).")
        else:
            made = self.seed_history(
                rng, options["gestiones"] - existing, advisors, credit, service
            )
            self.seed_today(rng, advisors, supervisors, credit, service)
            self.stdout.write(
                self.style.SUCCESS(f"Gestiones de demostración listas ({made} nuevas).")
            )
        applications = self.seed_applications(rng, credit)
        self.stdout.write(f"Solicitudes de crédito de demostración: {applications} nuevas.")
        if applications:
            # The times page reads figures beat refreshes every few minutes: have them now.
            timing_services.refresh_times(full=True)
        answered = self.seed_survey_answers(service)
        ran = self.seed_lifecycle_history()
        self.stdout.write(
            f"Encuestas respondidas: {answered} nuevas; eventos de ciclo de vida realizados: "
            f"{ran} nuevos."
        )

    def seed_applications(self, rng: random.Random, credit: GestionType) -> int:
        """Credit applications at every step of the funnel, through the services, backdated.

        Leads to confirm, applications open (some past the 24 h approval target), approved
        with their draft loan, awaiting signature, signed (ready to disburse) and disbursed.
        Contracts are recorded as DocuSeal would leave them, without calling it: seeding
        never calls out. Run once: the first demo applicant's lead marks them done.
        """
        if CreditLead.objects.filter(data__document_number=APPLICANTS[0][0]).exists():
            return 0
        products = list(LoanProduct.objects.filter(is_active=True).order_by("name"))
        existing = list(Customer.objects.exclude(email="").order_by("pk")[:2])
        if not products or len(existing) < 2:
            self.stderr.write("Ejecute antes seed_credits: faltan productos de crédito.")
            return 0
        now = timezone.now()
        applicants = iter(APPLICANTS)
        made = 0
        with transaction.atomic():
            # Two leads whose document is a customer's who wrote other names: to confirm.
            for customer, hours in zip(existing, (3, 28), strict=True):
                data = {
                    **_lead_terms(rng, products[0]),
                    "document_type": customer.document_type,
                    "document_number": customer.document_number,
                    "first_name": f"{customer.first_name} Alejandra",
                    "last_name": customer.last_name,
                    "email": f"otro.{customer.pk}@example.com",
                }
                application_services.receive_lead(
                    source="calculator", data=data, received_at=now - _hours(hours)
                )
                made += 1
            for step, lead_hours, approve_after in FUNNEL:
                document, first_name, last_name = next(applicants)
                product = rng.choice(products)
                received_at = now - _hours(lead_hours)
                intake = application_services.receive_lead(
                    source=rng.choice(("calculator", "walk_in")),
                    data={
                        **_lead_terms(rng, product),
                        "document_type": "dni",
                        "document_number": document,
                        "first_name": first_name,
                        "last_name": last_name,
                        "email": slugify(f"{first_name} {last_name}").replace("-", ".")
                        + "@example.com",
                        "phone": f"+5199{document[-7:]}",
                    },
                    received_at=received_at,
                )
                made += 1
                if step == "open" or intake.application is None:
                    continue
                self.walk_application(
                    intake.application, step, received_at, received_at + _hours(approve_after)
                )
        return made

    def walk_application(self, application, step: str, received_at, approved_at) -> None:
        """Follow an application's table to its approval, then its loan as far as `step`."""
        gestion = application.gestion
        moments = [received_at + (approved_at - received_at) * f for f in (0.2, 0.5, 1.0)]
        for (action_name, result_name), at in zip(APPROVAL_STEPS, moments, strict=True):
            gestion.refresh_from_db()
            action = Action.objects.get(gestion_type=gestion.gestion_type, name=action_name)
            services.record_follow_up(
                gestion=gestion,
                actor=gestion.agent,
                action=action,
                result=action.results.get(name=result_name),
                now=at,
            )
        application.refresh_from_db()
        loan = application.loan
        Loan.objects.filter(pk=loan.pk).update(
            created_at=approved_at, status_changed_at=approved_at
        )
        if step == "approved":
            return
        sent_at = approved_at + _hours(4)
        loan_services.change_status(
            loan=loan, to=Loan.Status.AWAITING_SIGNATURE, actor=gestion.agent
        )
        contract = LoanContract.objects.create(
            loan=loan,
            signer_email=loan.customer.email,
            status=LoanContract.Status.SENT,
            created_at=sent_at,
            sent_at=sent_at,
        )
        for signer in contract_services.signers_for(loan):
            signer.contract = contract
            signer.save()
        Loan.objects.filter(pk=loan.pk).update(status_changed_at=sent_at)
        if step == "awaiting_signature":
            return
        signed_at = sent_at + _hours(20)
        LoanContract.objects.filter(pk=contract.pk).update(
            status=LoanContract.Status.COMPLETED, completed_at=signed_at
        )
        contract.signers.update(status="completed", completed_at=signed_at)
        loan_services.change_status(
            loan=loan,
            to=Loan.Status.READY_TO_DISBURSE,
            actor=None,
            reason="Contrato firmado (demostración, sin DocuSeal)",
        )
        Loan.objects.filter(pk=loan.pk).update(status_changed_at=signed_at)
        if step == "signed":
            return
        disbursed_at = signed_at + _hours(30)
        loan.refresh_from_db()
        # Moves the gestión to «Desembolsado» too (the disbursement hook).
        supervisor = get_user_model().objects.filter(username="supervisor").first()
        loan_services.disburse(loan=loan, actor=supervisor, disbursed_at=disbursed_at)

    def seed_survey(self, service: GestionType) -> None:
        survey, created = Survey.objects.get_or_create(
            name="Satisfacción de atención",
            defaults={"intro": "Cuéntenos cómo le atendimos. Le tomará un minuto."},
        )
        if created:
            Question.objects.bulk_create(
                [
                    Question(
                        survey=survey,
                        order=1,
                        kind=Question.Kind.SCALE,
                        text="¿Qué tan satisfecho está con la atención?",
                        scale_min=1,
                        scale_max=5,
                    ),
                    Question(
                        survey=survey,
                        order=2,
                        kind=Question.Kind.CHOICE,
                        text="¿Se resolvió su solicitud?",
                        choices="Sí, por completo\nEn parte\nNo",
                    ),
                    Question(
                        survey=survey,
                        order=3,
                        kind=Question.Kind.TEXT,
                        text="¿Qué podríamos mejorar?",
                        is_required=False,
                    ),
                ]
            )
        GestionType.objects.filter(pk=service.pk, survey__isnull=True).update(survey=survey)

    def seed_goals(self, rng: random.Random, advisors, credit: GestionType) -> None:
        success = credit.states.get(name="Desembolsado")
        today = timezone.localdate()
        for months_back in range(3):
            year, month = today.year, today.month - months_back
            if month < 1:
                year, month = year - 1, month + 12
            for agent in advisors:
                for code in CREDIT_PRODUCTS:
                    product = Product.objects.get(code=code)
                    # Every draw happens whether or not the goal exists: a re-run sees the same.
                    targets = {
                        "target_local": Decimal(rng.randint(4, 12) * 10000),
                        "target_usd": Decimal(rng.randint(0, 3) * 5000),
                        "target_prospects": rng.randint(8, 20),
                        "target_customers": rng.randint(3, 8),
                    }
                    exists = Goal.objects.filter(
                        agent=agent, product=product, year=year, month=month
                    ).exists()
                    if not exists:
                        goal_services.create_goal(
                            data={
                                "agent": agent,
                                "product": product,
                                "year": year,
                                "month": month,
                                "success_state": success,
                                **targets,
                            }
                        )

    def seed_marketing(self, advisors, supervisors, credit, service) -> None:
        """A document template, two campaigns and a life-cycle event, as an admin would."""
        actor = supervisors[0] if supervisors else None
        self.seed_templates(credit, service)
        if not Campaign.objects.filter(slug="feria-vehicular").exists():
            campaign_services.save_campaign(
                actor=actor,
                data={
                    "name": "Feria vehicular",
                    "slug": "feria-vehicular",
                    "kind": Campaign.Kind.INBOUND,
                    "status": Campaign.Status.ACTIVE,
                    "description": "Déjenos sus datos y un asesor le llamará con su cotización.",
                    "gestion_type": credit,
                    "channel": Channel.objects.filter(code="web").first(),
                    "agents": advisors[:2],
                },
            )
        if not Campaign.objects.filter(slug="clientes-vip").exists():
            campaign_services.save_campaign(
                actor=actor,
                data={
                    "name": "Clientes VIP: renovación",
                    "slug": "clientes-vip",
                    "kind": Campaign.Kind.OUTBOUND,
                    "description": "Ofrecer renovación a los clientes VIP.",
                    "gestion_type": service,
                    "message_subject": "Una oferta para usted",
                    "message_body": "Estimado(a) {nombre}: tenemos una oferta de renovación "
                    "pensada para usted. Su asesor le contactará.",
                    "segment_tags": list(Tag.objects.filter(name="VIP")),
                },
            )
        loan_product = LoanProduct.objects.order_by("pk").first()
        if loan_product and not LifecycleEvent.objects.exists():
            LifecycleEvent.objects.create(
                name=f"Gracias por su crédito ({loan_product.name})",
                kind=LifecycleEvent.Kind.THANKS,
                loan_product=loan_product,
                anchor=LifecycleEvent.Anchor.DISBURSED,
                offset_days=1,
                message_subject=THANKS_SUBJECT,
                message_body="Estimado(a) {nombre}: gracias por su {producto}. "
                "Estamos para servirle.",
            )
            LifecycleEvent.objects.create(
                name=f"Oferta de renovación ({loan_product.name})",
                kind=LifecycleEvent.Kind.RENEWAL,
                loan_product=loan_product,
                anchor=LifecycleEvent.Anchor.MATURITY,
                offset_days=30,
                message_subject="Su crédito está por terminar",
                message_body="Estimado(a) {nombre}: su {producto} termina pronto. Si lo "
                "desea, su asesor le presentará una renovación.",
            )

    def seed_templates(self, credit, service) -> None:
        """A welcome letter for any gestión, and a promissory note for credit applications."""
        letter = DocumentTemplate.objects.filter(name=WELCOME_LETTER).first()
        if letter is None:
            document_services.create_template(
                name=WELCOME_LETTER,
                description="Bienvenida al cliente, con su gestión y su gestor.",
                file=ContentFile(welcome_letter(), name="carta-de-bienvenida.docx"),
                gestion_types=[credit, service],
            )
        elif _is_promissory_note(letter):
            # Demos seeded before this letter existed got the promissory note under its name.
            document_services.update_template(
                template=letter,
                name=WELCOME_LETTER,
                description="Bienvenida al cliente, con su gestión y su gestor.",
                gestion_types=[credit, service],
                roles=list(letter.roles.all()),
                file=ContentFile(welcome_letter(), name="carta-de-bienvenida.docx"),
            )
        if not DocumentTemplate.objects.filter(name=PROMISSORY_NOTE).exists():
            document_services.create_template(
                name=PROMISSORY_NOTE,
                description="Pagaré con los datos del crédito vinculado a la gestión.",
                file=ContentFile(document_rendering.sample_template(), name="pagare.docx"),
                gestion_types=[credit],
            )

    def seed_survey_answers(self, service: GestionType) -> int:
        """Send the closing survey to most closed service gestiones, with their answers.

        History, written in bulk: invitations that went out when each gestión closed, and
        the answers of the customers who replied.
        """
        # Read again: seed_survey gave the type its survey with an update.
        survey = GestionType.objects.get(pk=service.pk).survey
        if survey is None:
            return 0
        questions = list(survey.questions.order_by("order", "id"))
        closed = list(
            Gestion.objects.filter(gestion_type=service, closed_at__isnull=False)
            .exclude(survey_invitation__isnull=False)
            .order_by("pk")
            .values_list("pk", "closed_at", "outcome")
        )
        invitations, replies = [], []
        for pk, closed_at, outcome in closed:
            # Each gestión draws from its own seed: a re-run decides the same for it.
            rng = random.Random(SEED * 1_000_000 + pk)  # noqa: S311
            sent, answered, answers = rng.random(), rng.random(), _answers(rng, questions, outcome)
            if sent > SURVEY_SENT:
                continue
            invitation = SurveyInvitation(
                gestion_id=pk, survey=survey, sent_at=closed_at, created_at=closed_at
            )
            if answered <= SURVEY_ANSWERED:
                invitation.answered_at = closed_at + datetime.timedelta(hours=rng.randint(1, 72))
                replies.append((invitation, answers))
            invitations.append(invitation)
        with transaction.atomic():
            SurveyInvitation.objects.bulk_create(invitations, batch_size=500)
            Answer.objects.bulk_create(
                [
                    Answer(invitation=invitation, question=question, number=number, text=text)
                    for invitation, answers in replies
                    for question, number, text in answers
                ],
                batch_size=1000,
            )
        return len(replies)

    def seed_lifecycle_history(self) -> int:
        """Record the thanks already sent for the loans disbursed before today (in bulk).

        The daily sweep does the days to come; a customer who asked not to be contacted
        got nothing, as the sweep would have done.
        """
        event = LifecycleEvent.objects.filter(
            kind=LifecycleEvent.Kind.THANKS, anchor=LifecycleEvent.Anchor.DISBURSED
        ).first()
        if event is None:
            return 0
        due = timezone.now() - datetime.timedelta(days=event.offset_days)
        loans = list(
            Loan.objects.filter(product=event.loan_product, disbursed_at__lte=due)
            .exclude(pk__in=LifecycleRun.objects.filter(event=event).values("loan_id"))
            .select_related("customer", "product")
            .order_by("pk")
        )
        runs, entries = [], []
        for loan in loans:
            customer = loan.customer
            at = loan.disbursed_at + datetime.timedelta(days=event.offset_days)
            reached = bool(customer.email) and not customer.has_opted_out
            runs.append(LifecycleRun(event=event, loan=loan, ran_at=at, is_message_sent=reached))
            details = {"ciclo de vida": event.name, "crédito": loan.payment_code}
            if reached:
                entries.append(
                    Interaction(
                        customer=customer,
                        kind=Interaction.Kind.EMAIL,
                        direction=Interaction.Direction.OUTBOUND,
                        summary=f"Correo enviado: {THANKS_SUBJECT}",
                        payload={
                            **details,
                            "para": customer.email,
                            crm_messages.DELIVERY: {"status": "sent", "at": at.isoformat()},
                        },
                        occurred_at=at,
                    )
                )
            else:
                why = (
                    "El cliente pidió no ser contactado."
                    if customer.has_opted_out
                    else "El cliente no tiene correo registrado."
                )
                entries.append(
                    Interaction(
                        customer=customer,
                        kind=Interaction.Kind.SYSTEM,
                        summary=f"Correo no enviado: {THANKS_SUBJECT}. {why}",
                        payload=details,
                        occurred_at=at,
                    )
                )
        with transaction.atomic():
            LifecycleRun.objects.bulk_create(runs, batch_size=500)
            Interaction.objects.bulk_create(entries, batch_size=500)
        return len(runs)

    def seed_history(self, rng, count, advisors, credit, service) -> int:
        now = timezone.now()
        customers = list(Customer.objects.values_list("pk", "branch_id", "channel_id"))
        products = {p.code: p for p in Product.objects.filter(code__in=CREDIT_PRODUCTS)}
        walkers = {t.pk: _Walker(t) for t in (credit, service)}
        made = 0
        batch = 500
        for start in range(0, count, batch):
            rows = []
            for _ in range(min(batch, count - start)):
                gestion_type = credit if rng.random() < 0.7 else service
                customer_id, branch_id, channel_id = rng.choice(customers)
                # Recent gestiones weigh more: a year of work, busier lately.
                age = datetime.timedelta(
                    days=365 * rng.random() ** 1.6, minutes=rng.randint(0, 900)
                )
                rows.append(
                    walkers[gestion_type.pk].walk(
                        rng,
                        created_at=now - age,
                        now=now,
                        customer_id=customer_id,
                        branch_id=branch_id,
                        channel_id=channel_id,
                        agent=rng.choice(advisors),
                        product=products[rng.choice(CREDIT_PRODUCTS)]
                        if gestion_type == credit
                        else None,
                    )
                )
            with transaction.atomic():
                gestiones = Gestion.objects.bulk_create([g for g, _, _ in rows])
                follow_ups, interactions, links = [], [], []
                for gestion, steps, product in rows:
                    if product:
                        links.append(
                            Gestion.products.through(gestion_id=gestion.pk, product_id=product.pk)
                        )
                    for follow_up in steps:
                        follow_up.gestion_id = gestion.pk
                        follow_ups.append(follow_up)
                        interactions.append(_timeline_entry(gestion, follow_up))
                FollowUp.objects.bulk_create(follow_ups, batch_size=1000)
                Interaction.objects.bulk_create(interactions, batch_size=1000)
                Gestion.products.through.objects.bulk_create(links, batch_size=1000)
            made += len(gestiones)
            touched = {g.customer_id for g in gestiones}
            latest = (
                Interaction.objects.filter(customer=OuterRef("pk"))
                .exclude(kind=Interaction.Kind.SYSTEM)
                .order_by("-occurred_at")
            )
            Customer.objects.filter(pk__in=touched).update(
                last_interaction_at=Subquery(latest.values("occurred_at")[:1])
            )
        return made

    def seed_today(self, rng, advisors, supervisors, credit, service) -> None:
        """Open a few gestiones through the services, the way a day starts."""
        actor = supervisors[0] if supervisors else None
        customers = list(Customer.objects.order_by("?")[:8])
        with transaction.atomic():
            for i, customer in enumerate(customers):
                if i % 2:
                    services.create_gestion(
                        customer=customer,
                        gestion_type=service,
                        actor=actor,
                        subject="Constancia de no adeudo",
                        data={"categoria": "Constancia de no adeudo"},
                    )
                else:
                    services.create_gestion(
                        customer=customer,
                        gestion_type=credit,
                        actor=actor,
                        amount_requested=Decimal(rng.randint(20, 400) * 100),
                        data={
                            "ingreso_mensual": str(rng.randint(15, 80) * 100),
                            "destino": "Consumo",
                        },
                    )
            # The history's old alerts count as sent, but for three of asesor's late ones,
            # which the sweep then alerts as beat would: the demo's bell has something.
            now = timezone.now()
            late = Gestion.objects.filter(outcome=Outcome.OPEN, due_at__lt=now)
            keep = list(late.filter(agent__username="asesor").values_list("pk", flat=True)[:3])
            late.exclude(pk__in=keep).update(late_alerted_at=now, warned_at=now)
            notification_services.alert_due_gestiones(now=now)


class _Walker:
    """Generates one gestión's life by following its type's configured follow-up table."""

    def __init__(self, gestion_type: GestionType):
        self.gestion_type = gestion_type
        self.initial = gestion_type.initial_state()
        self.states = {s.pk: s for s in GestionState.objects.filter(gestion_type=gestion_type)}
        self.actions: dict[int, list] = {pk: [] for pk in self.states}
        for action in Action.objects.filter(gestion_type=gestion_type).prefetch_related(
            "from_states", "results"
        ):
            for state in action.from_states.all():
                self.actions[state.pk].append((action, list(action.results.all())))
        self.reasons = list(gestion_type.rejection_reasons.all())

    def walk(self, rng, *, created_at, now, customer_id, branch_id, channel_id, agent, product):
        state = self.initial
        at = created_at
        steps = [
            FollowUp(kind=FollowUp.Kind.CREATED, state=state, created_at=at),
            FollowUp(
                kind=FollowUp.Kind.ASSIGNMENT,
                state=state,
                from_state=state,
                notes=f"Asignada a {agent.get_full_name()} (distribución automática)",
                agent=agent,
                created_at=at,
            ),
        ]
        entered = at
        reason = None
        requested = None
        approved = None
        if product is not None:
            requested = Decimal(rng.randint(10, 600) * 100)
        for _ in range(12):
            if state.outcome != Outcome.OPEN:
                break
            duration = state.duration or datetime.timedelta(days=1)
            # Mostly on time, sometimes late: a step takes 10% to 140% of the time allowed.
            next_at = at + duration * rng.uniform(0.1, 1.4)
            if next_at > now:
                break
            action, results = _pick(
                rng, self.actions[state.pk], ACTION_WEIGHTS, key=lambda p: p[0].name
            )
            result = _pick(rng, results, RESULT_WEIGHTS, key=lambda r: r.name)
            to_state = result.to_state if result.changes_state else state
            step = FollowUp(
                kind=FollowUp.Kind.STEP,
                action=action,
                result=result,
                from_state=state,
                state=to_state,
                actor=agent,
                agent=agent,
                created_at=next_at,
            )
            if to_state.outcome == Outcome.REJECTED:
                reason = rng.choice(self.reasons)
                step.rejection_reason = reason
            if result.name.startswith("Aprobado") and requested is not None:
                approved = (requested * Decimal(rng.randint(60, 100)) / 100).quantize(
                    Decimal("100"), rounding=ROUND_HALF_UP
                )
            steps.append(step)
            at = next_at
            if to_state.pk != state.pk:
                state, entered = to_state, next_at
        gestion = Gestion(
            customer_id=customer_id,
            gestion_type=self.gestion_type,
            state=state,
            outcome=state.outcome,
            agent=agent,
            assigned_at=created_at,
            branch_id=branch_id,
            channel_id=channel_id,
            is_time_controlled=True,
            state_entered_at=entered,
            due_at=services.due_at_for(state, entered_at=entered, is_time_controlled=True),
            amount_requested=requested,
            amount_approved=approved,
            currency="PEN",
            rejection_reason=reason,
            data={"ingreso_mensual": str(rng.randint(12, 90) * 100), "destino": "Consumo"}
            if product is not None
            else {"categoria": rng.choice(["Reclamo", "Cambio de fecha de pago", "Otro"])},
            survey=self.gestion_type.survey,
            created_at=created_at,
            last_follow_up_at=at if len(steps) > 2 else None,
            closed_at=entered if state.outcome != Outcome.OPEN else None,
        )
        return gestion, steps, product


def _answers(rng: random.Random, questions, outcome: str) -> list[tuple]:
    """Return one customer's (question, number, text) answers: happier when solved."""
    solved = outcome == Outcome.SUCCESS
    answers = []
    for question in questions:
        if question.kind == Question.Kind.SCALE:
            low = question.scale_min + (2 if solved else 0)
            answers.append((question, rng.randint(low, question.scale_max), ""))
        elif question.kind == Question.Kind.CHOICE:
            options = question.choice_list()
            answers.append((question, None, options[0] if solved else rng.choice(options)))
        elif rng.random() < 0.4:
            answers.append((question, None, rng.choice(SURVEY_COMMENTS)))
    return answers


def welcome_letter() -> bytes:
    """Return the demo's welcome letter: the customer, their gestión and who works it."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    document.sections[0].footer.paragraphs[0].text = "{{ empresa.nombre }}"
    document.add_paragraph(
        "{{ cliente.ciudad }}, {{ fecha.hoy }}"
    ).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.add_paragraph()
    greeting = document.add_paragraph("Estimado(a) ")
    greeting.add_run("{{ cliente.nombre_completo }}").bold = True
    greeting.add_run(":")
    body = document.add_paragraph(
        "Le damos la bienvenida a {{ empresa.nombre }} y le agradecemos su confianza. Hemos "
        "registrado su {{ gestion.tipo }} con el n.º {{ gestion.numero }}; la atiende "
        "{{ gestion.gestor }}, quien le acompañará en cada paso y le mantendrá informado."
    )
    body.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    document.add_paragraph(
        "Para cualquier consulta, comuníquese con nosotros o acérquese a nuestra sucursal "
        "indicando su n.º de gestión."
    ).alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    document.add_paragraph()
    document.add_paragraph("Atentamente,")
    document.add_paragraph("{{ gestion.gestor }}").runs[0].bold = True
    document.add_paragraph("{{ empresa.nombre }}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _is_promissory_note(template: DocumentTemplate) -> bool:
    """Return whether a stored template is the sample promissory note."""
    try:
        with template.file.open("rb") as handle:
            text = "\n".join(p.text for p in Document(io.BytesIO(handle.read())).paragraphs)
    except (OSError, ValueError, KeyError):
        return False
    return "PAGARÉ" in text


def _hours(hours: float) -> datetime.timedelta:
    return datetime.timedelta(hours=hours)


def _lead_terms(rng: random.Random, product: LoanProduct) -> dict:
    """Return an amount and term within the product's limits, as a lead types them."""
    low, high = product.min_amount, min(product.max_amount, product.min_amount * 20)
    amount = ((low + (high - low) * Decimal(rng.randint(1, 9)) / 10) / 100).quantize(1) * 100
    amount = min(max(amount, product.min_amount), product.max_amount)
    term = rng.randint(product.min_term, min(product.max_term, max(product.min_term, 24)))
    return {"product": product.pk, "amount": f"{amount:.2f}", "term": term}


def _pick(rng: random.Random, options: list, weights: dict, *, key):
    return rng.choices(options, weights=[weights.get(key(o), 1) for o in options])[0]


def _timeline_entry(gestion: Gestion, follow_up: FollowUp) -> Interaction:
    if follow_up.kind == FollowUp.Kind.CREATED:
        summary = (
            f"Gestión #{gestion.pk} abierta: {gestion.gestion_type.name} ({follow_up.state.name})"
        )
        kind = Interaction.Kind.FOLLOW_UP
    elif follow_up.kind == FollowUp.Kind.ASSIGNMENT:
        summary = f"Gestión #{gestion.pk}: {follow_up.notes}"
        kind = Interaction.Kind.SYSTEM
    else:
        summary = f"Gestión #{gestion.pk} · {follow_up.action.name} → {follow_up.result.name}"
        if follow_up.state.pk != follow_up.from_state.pk:
            summary += f" · {follow_up.from_state.name} → {follow_up.state.name}"
        kind = Interaction.Kind.FOLLOW_UP
    return Interaction(
        customer_id=gestion.customer_id,
        kind=kind,
        channel_id=gestion.channel_id,
        summary=summary[:500],
        payload={"gestion": gestion.pk, "estado": follow_up.state.name},
        actor=follow_up.actor,
        occurred_at=follow_up.created_at,
    )
