"""Two example processes, configured the way an administrator would in admin.

`seed_gestiones` loads them for the demo and the tests build on them; a real installation
may load them as a starting point and edit them in admin. Re-running is harmless: rows
are found by name.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from crm.gestiones.models import (
    Action,
    ActionResult,
    FormField,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
    StateAgent,
)
from crm.models import Product


@dataclass(frozen=True)
class StateSpec:
    name: str
    outcome: str = Outcome.OPEN
    days: int = 0
    hours: int = 0
    minutes: int = 0
    is_initial: bool = False
    color: str = "secondary"
    is_approval: bool = False
    is_disbursement: bool = False


@dataclass(frozen=True)
class ResultSpec:
    name: str
    to_state: str | None
    alerts_customer: bool = False
    message: str = ""

    @property
    def changes_state(self) -> bool:
        return self.to_state is not None


@dataclass(frozen=True)
class ActionSpec:
    name: str
    from_states: tuple[str, ...]
    results: tuple[ResultSpec, ...]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = FormField.Kind.TEXT
    is_required: bool = False
    choices: tuple[str, ...] = ()
    scope: str = FormField.Scope.GESTION


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    code: str
    description: str
    product: tuple[str, str] | None
    states: tuple[StateSpec, ...]
    actions: tuple[ActionSpec, ...]
    reasons: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = field(default=())
    warn_before_minutes: int = 120
    is_credit_application: bool = False


CREDIT_APPLICATION = ProcessSpec(
    name="Solicitud de crédito",
    code="solicitud-credito",
    description="Desde la solicitud hasta el desembolso o el rechazo.",
    product=("Préstamo de consumo", "consumo"),
    states=(
        StateSpec("Creado", days=1, is_initial=True, color="info"),
        StateSpec("Pre estudio", days=2, color="primary"),
        StateSpec("En estudio", days=3, color="primary"),
        StateSpec("Condicionado", days=2, color="warning"),
        # Approving makes the draft loan; the loan's disbursement closes the gestión.
        StateSpec("Aprobado análisis", days=1, color="success", is_approval=True),
        StateSpec("Desembolsado", outcome=Outcome.SUCCESS, color="success", is_disbursement=True),
        StateSpec("Rechazado comité de crédito", outcome=Outcome.REJECTED, color="danger"),
        StateSpec("Rechazado gerente de negocios", outcome=Outcome.REJECTED, color="danger"),
        StateSpec("Desistido", outcome=Outcome.CLOSED, color="secondary"),
    ),
    actions=(
        ActionSpec(
            "Revisar documentos",
            ("Creado",),
            (
                ResultSpec("Documentos completos", "Pre estudio"),
                ResultSpec(
                    "Faltan documentos",
                    None,
                    alerts_customer=True,
                    message=(
                        "Estimado(a) {cliente}: para continuar con su solicitud n.º {gestion} "
                        "necesitamos documentos adicionales. Su asesor le contactará."
                    ),
                ),
            ),
        ),
        ActionSpec(
            "Enviar a estudio",
            ("Pre estudio",),
            (ResultSpec("Enviado a análisis", "En estudio"),),
        ),
        ActionSpec(
            "Resolver análisis",
            ("En estudio",),
            (
                ResultSpec("Aprobado", "Aprobado análisis", alerts_customer=True),
                ResultSpec("Aprobado con condiciones", "Condicionado", alerts_customer=True),
                ResultSpec("Rechazado por comité", "Rechazado comité de crédito", True),
            ),
        ),
        ActionSpec(
            "Revisar condiciones",
            ("Condicionado",),
            (
                ResultSpec("Condiciones cumplidas", "Aprobado análisis"),
                ResultSpec("No cumple condiciones", "Rechazado gerente de negocios", True),
            ),
        ),
        ActionSpec(
            "Desembolsar",
            ("Aprobado análisis",),
            (ResultSpec("Desembolso realizado", "Desembolsado", alerts_customer=True),),
        ),
        ActionSpec(
            "Contactar al cliente",
            ("Creado", "Pre estudio", "En estudio", "Condicionado", "Aprobado análisis"),
            (
                ResultSpec("Contactado", None),
                ResultSpec("No contesta", None),
                ResultSpec("Desiste de la solicitud", "Desistido"),
            ),
        ),
    ),
    reasons=("Baja capacidad", "No califica", "Sobre endeudado", "Historial crediticio"),
    is_credit_application=True,
    fields=(
        FieldSpec("ingreso_mensual", "Ingreso mensual", FormField.Kind.DECIMAL, True),
        FieldSpec("ocupacion", "Ocupación"),
        FieldSpec(
            "destino",
            "Destino del crédito",
            FormField.Kind.CHOICE,
            True,
            ("Vehículo", "Consumo", "Negocio"),
        ),
        FieldSpec(
            "comentario_comite",
            "Comentario del comité",
            FormField.Kind.LONG_TEXT,
            scope=FormField.Scope.FOLLOW_UP,
        ),
    ),
)

SERVICE_REQUEST = ProcessSpec(
    name="Solicitud de servicio",
    code="solicitud-servicio",
    description="Pedidos y reclamos del cliente, hasta su solución.",
    product=None,
    states=(
        StateSpec("Creado", hours=4, is_initial=True, color="info"),
        StateSpec("Revisión", hours=8, color="primary"),
        StateSpec("Esperando al cliente", days=2, color="warning"),
        StateSpec("Resuelto", outcome=Outcome.SUCCESS, color="success"),
        StateSpec("Cerrado sin solución", outcome=Outcome.CLOSED, color="secondary"),
    ),
    actions=(
        ActionSpec(
            "Enviar caso a TI",
            ("Creado",),
            (ResultSpec("Caso enviado a TI", "Revisión"),),
        ),
        ActionSpec(
            "Solicitar tiempo estimado",
            ("Revisión",),
            (
                ResultSpec("No hay tiempo estimado", None),
                ResultSpec(
                    "Tiempo estimado disponible",
                    None,
                    alerts_customer=True,
                    message=(
                        "Estimado(a) {cliente}: ya tenemos un tiempo estimado para su "
                        "solicitud n.º {gestion}. Le mantendremos informado."
                    ),
                ),
            ),
        ),
        ActionSpec(
            "Pedir información al cliente",
            ("Revisión",),
            (ResultSpec("Solicitud enviada", "Esperando al cliente", alerts_customer=True),),
        ),
        ActionSpec(
            "Registrar respuesta del cliente",
            ("Esperando al cliente",),
            (ResultSpec("Información recibida", "Revisión"),),
        ),
        ActionSpec(
            "Resolver",
            ("Revisión",),
            (ResultSpec("Solucionado", "Resuelto", alerts_customer=True),),
        ),
        ActionSpec(
            "Cerrar",
            ("Revisión", "Esperando al cliente"),
            (ResultSpec("Sin solución posible", "Cerrado sin solución", alerts_customer=True),),
        ),
    ),
    fields=(
        FieldSpec(
            "categoria",
            "Categoría",
            FormField.Kind.CHOICE,
            True,
            ("Cambio de fecha de pago", "Constancia de no adeudo", "Reclamo", "Otro"),
        ),
    ),
    warn_before_minutes=60,
)


@transaction.atomic
def build_process(
    spec: ProcessSpec,
    *,
    agents: Iterable[AbstractBaseUser] = (),
    supervisors: Iterable[AbstractBaseUser] = (),
) -> GestionType:
    """Create or update the process `spec`; `agents` work every open state."""
    product = None
    if spec.product:
        product, _ = Product.objects.get_or_create(
            code=spec.product[1], defaults={"name": spec.product[0]}
        )
    gestion_type, _ = GestionType.objects.update_or_create(
        code=spec.code,
        defaults={
            "name": spec.name,
            "description": spec.description,
            "product": product,
            "warn_before_minutes": spec.warn_before_minutes,
            "is_credit_application": spec.is_credit_application,
        },
    )
    states = {}
    for order, s in enumerate(spec.states):
        states[s.name], _ = GestionState.objects.update_or_create(
            gestion_type=gestion_type,
            name=s.name,
            defaults={
                "order": order,
                "outcome": s.outcome,
                "is_initial": s.is_initial,
                "duration_days": s.days,
                "duration_hours": s.hours,
                "duration_minutes": s.minutes,
                "color": s.color,
                "is_approval": s.is_approval,
                "is_disbursement": s.is_disbursement,
            },
        )
    for order, a in enumerate(spec.actions):
        action, _ = Action.objects.update_or_create(
            gestion_type=gestion_type, name=a.name, defaults={"order": order}
        )
        action.from_states.set([states[name] for name in a.from_states])
        for result_order, r in enumerate(a.results):
            ActionResult.objects.update_or_create(
                action=action,
                name=r.name,
                defaults={
                    "to_state": states[r.to_state] if r.to_state else None,
                    "changes_state": r.changes_state,
                    "alerts_customer": r.alerts_customer,
                    "customer_message": r.message,
                    "order": result_order,
                },
            )
    for name in spec.reasons:
        RejectionReason.objects.get_or_create(gestion_type=gestion_type, name=name)
    for order, f in enumerate(spec.fields):
        FormField.objects.update_or_create(
            gestion_type=gestion_type,
            scope=f.scope,
            name=f.name,
            defaults={
                "label": f.label,
                "kind": f.kind,
                "is_required": f.is_required,
                "choices": "\n".join(f.choices),
                "order": order,
            },
        )
    agents = list(agents)
    for state in states.values():
        if state.outcome == Outcome.OPEN:
            for agent in agents:
                StateAgent.objects.get_or_create(state=state, agent=agent)
    supervisors = list(supervisors)
    if supervisors:
        gestion_type.supervisors.add(*supervisors)
    return gestion_type
