"""How a process is configured: its types, states, who works each state, the actions and
their results, rejection reasons, form fields, and the document templates it fills."""

import datetime
import re
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxLengthValidator, MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm import display
from crm.models import Product
from lib import files
from lib.money import Currency

USER = settings.AUTH_USER_MODEL


class Outcome(models.TextChoices):
    """What a state means for the gestión: still open, or closed with a result."""

    OPEN = "open", _("En curso")
    SUCCESS = "success", _("Exitosa")
    REJECTED = "rejected", _("Rechazada")
    CLOSED = "closed", _("Cerrada")


CLOSED_OUTCOMES = (Outcome.SUCCESS, Outcome.REJECTED, Outcome.CLOSED)
# What a state means for a gestión when it enters it: refused as a change while gestiones
# are in the state (GestionState.clean).
COPIED_ON_ENTRY = ("gestion_type", "outcome", "is_approval", "is_disbursement")

# Every message a gestión, campaign or life-cycle event sends goes by e-mail: the longest
# body is the e-mail limit of collections' message templates (4,000 characters).
EMAIL_BODY_CHARS = 4000
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def email_body_validator() -> MaxLengthValidator:
    """Refuse a message body longer than an e-mail takes, saying so in the channel's words."""
    return MaxLengthValidator(
        EMAIL_BODY_CHARS,
        _("El texto tiene %(show_value)d caracteres; un correo admite hasta %(limit_value)d."),
    )


@deconstructible
class PlaceholderValidator:
    """Refuse a {name} the sending service does not fill: it would reach the customer as
    written."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def __call__(self, value: str) -> None:
        unknown = [
            n for n in dict.fromkeys(_PLACEHOLDER.findall(value or "")) if n not in self.names
        ]
        if unknown:
            raise ValidationError(
                ngettext(
                    "El texto usa {%(unknown)s}, que no existe; admite %(names)s.",
                    "El texto usa {%(unknown)s}, que no existen; admite %(names)s.",
                    len(unknown),
                ),
                code="unknown_placeholder",
                params={
                    "unknown": "}, {".join(unknown),
                    "names": ", ".join(f"{{{n}}}" for n in self.names),
                },
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlaceholderValidator) and self.names == other.names


class GestionType(models.Model):
    """A process (*tipo de gestión*): credit application, service request, renewal…"""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    code = models.SlugField(_("código"), max_length=40, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("producto principal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestion_types",
        help_text=_("Se agrega a cada gestión nueva de este tipo."),
    )
    is_time_controlled = models.BooleanField(
        _("control de tiempo"),
        default=True,
        help_text=_("Valor inicial de «control de tiempo» en las gestiones nuevas."),
    )
    default_currency = models.CharField(
        _("moneda"), max_length=3, choices=Currency, default=Currency.PEN
    )
    supervisors = models.ManyToManyField(
        USER, verbose_name=_("supervisores del tipo"), blank=True, related_name="+"
    )
    survey = models.ForeignKey(
        "Survey",
        verbose_name=_("encuesta al cerrar"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gestion_types",
        help_text=_("Se envía por enlace al cliente cuando la gestión se cierra."),
    )
    # Minutes before the due time at which "about to be late" alerts go out.
    # The alerts look a week ahead: a warning earlier than that is never sent.
    warn_before_minutes = models.PositiveIntegerField(
        _("aviso antes del vencimiento (minutos)"),
        default=120,
        validators=[
            MaxValueValidator(
                7 * 24 * 60, _("El aviso puede ser a lo sumo 10080 minutos (7 días) antes.")
            )
        ],
    )
    # The process credit leads open (calculator, campaigns, walk-ins): its gestiones carry a
    # CreditApplication, and its approving state makes their draft loan.
    is_credit_application = models.BooleanField(
        _("solicitud de crédito"),
        default=False,
        help_text=_(
            "Los leads de crédito abren gestiones de este tipo; al aprobarlas se crea el "
            "crédito en borrador. Solo un tipo puede serlo."
        ),
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tipo de gestión")
        verbose_name_plural = _("tipos de gestión")
        constraints = [
            models.UniqueConstraint(
                fields=["is_credit_application"],
                condition=Q(is_credit_application=True),
                name="gestiones_type_one_credit_application",
                violation_error_message=_("Ya hay otro tipo de gestión de solicitud de crédito."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def initial_state(self) -> "GestionState | None":
        return self.states.filter(is_initial=True).first()


class GestionState(models.Model):
    """A state of a process (*estado de seguimiento*), with its time allowed and its people."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="states",
    )
    name = models.CharField(_("nombre"), max_length=120)
    order = models.PositiveIntegerField(_("orden"), default=0)
    is_initial = models.BooleanField(_("inicial"), default=False)
    outcome = models.CharField(_("resultado"), max_length=10, choices=Outcome, default=Outcome.OPEN)
    # Time allowed in the state (*tiempo de duración*); all zero means no limit. Bounded: a
    # slip of extra zeros (3,000,000 days) made every new gestión of the type a 500 when
    # its due date was computed, and the times report with it.
    duration_days = models.PositiveIntegerField(
        _("días"),
        default=0,
        validators=[MaxValueValidator(3650, _("A lo sumo 3650 días (10 años)."))],
    )
    duration_hours = models.PositiveIntegerField(
        _("horas"),
        default=0,
        validators=[MaxValueValidator(8760, _("A lo sumo 8760 horas (un año)."))],
    )
    duration_minutes = models.PositiveIntegerField(
        _("minutos"),
        default=0,
        validators=[MaxValueValidator(525600, _("A lo sumo 525600 minutos (un año)."))],
    )
    supervisors = models.ManyToManyField(
        USER, verbose_name=_("supervisores del estado"), blank=True, related_name="+"
    )
    agents = models.ManyToManyField(
        USER,
        verbose_name=_("gestores del estado"),
        blank=True,
        through="StateAgent",
        related_name="gestion_states",
    )
    color = models.CharField(_("color"), max_length=12, default="secondary")
    # For credit applications: entering this state approves the application (its draft
    # loan is made then), and the loan's disbursement moves the gestión to this one.
    is_approval = models.BooleanField(
        _("aprueba la solicitud"),
        default=False,
        help_text=_(
            "Al entrar a este estado se aprueba la solicitud de crédito y se crea el "
            "crédito en borrador."
        ),
    )
    is_disbursement = models.BooleanField(
        _("crédito desembolsado"),
        default=False,
        help_text=_("La gestión pasa a este estado cuando se desembolsa su crédito."),
    )

    class Meta:
        ordering = ["gestion_type", "order", "id"]
        verbose_name = _("estado")
        verbose_name_plural = _("estados")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_state_unique_name"
            ),
            models.UniqueConstraint(
                fields=["gestion_type"],
                condition=Q(is_initial=True),
                name="gestiones_state_one_initial",
                violation_error_message=_("El tipo de gestión ya tiene un estado inicial."),
            ),
            models.CheckConstraint(
                condition=~Q(is_initial=True, outcome__in=CLOSED_OUTCOMES),
                name="gestiones_state_initial_is_open",
                violation_error_message=_("El estado inicial no puede ser de cierre."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> datetime.timedelta | None:
        """Return the time allowed in this state, or None when it has no limit."""
        delta = datetime.timedelta(
            days=self.duration_days, hours=self.duration_hours, minutes=self.duration_minutes
        )
        return delta or None

    @property
    def is_closing(self) -> bool:
        return self.outcome in CLOSED_OUTCOMES

    def clean(self) -> None:
        # A gestión copies its state's outcome when it enters (`_enter_state`), and what an
        # approving or disbursed state does happens then too. Changed under the gestiones
        # already in the state, the state would say one thing and they another: open
        # gestiones under a closing state (no closing date, still counted and followed up),
        # closed ones under an open-looking column, an approving state they never went
        # through. The way out is a new state, or moving them first.
        if self.pk is None:
            return
        fields = [self._meta.get_field(name) for name in COPIED_ON_ENTRY]
        stored = (
            GestionState.objects.filter(pk=self.pk)
            .values("name", "outcome", *(f.attname for f in fields))
            .first()
        )
        if stored is None:
            return
        changed = [f for f in fields if stored[f.attname] != getattr(self, f.attname)]
        if not changed:
            return
        if stored["gestion_type_id"] != self.gestion_type_id:
            self._refuse_a_move_the_follow_up_table_names()
        count = self.gestiones.count()
        if not count:
            return
        if stored["outcome"] == Outcome.OPEN:
            way_out = ngettext(
                "Mueva esa gestión a otro estado con un seguimiento, o cree un estado nuevo.",
                "Mueva esas %(n)s gestiones a otro estado con un seguimiento, o cree un "
                "estado nuevo.",
                count,
            )
        else:
            way_out = ngettext(
                "Esa gestión está cerrada y no se mueve: cree un estado nuevo y úselo en la "
                "tabla de seguimiento.",
                "Esas gestiones están cerradas y no se mueven: cree un estado nuevo y úselo "
                "en la tabla de seguimiento.",
                count,
            )
        why = ngettext(
            "No se puede cambiar «%(field)s» mientras haya gestiones en «%(state)s»: hay "
            "%(n)s, que tomó lo que el estado era al entrar y no cambiaría con él.",
            "No se puede cambiar «%(field)s» mientras haya gestiones en «%(state)s»: hay "
            "%(n)s, que tomaron lo que el estado era al entrar y no cambiarían con él.",
            count,
        )
        raise ValidationError(
            {
                f.name: f"{why} {way_out}"
                % {"field": f.verbose_name, "state": stored["name"], "n": display.whole(count)}
                for f in changed
            }
        )

    def _refuse_a_move_the_follow_up_table_names(self) -> None:
        """A state its process's follow-up table names (an action allowed in it, a result
        that leads to it) stays in that process: moved, the process's actions would lead to
        another process's state."""
        named = self.actions.exists() or ActionResult.objects.filter(to_state=self).exists()
        if named:
            raise ValidationError(
                {
                    "gestion_type": _(
                        "No se puede pasar «%(state)s» a otro tipo de gestión: la tabla de "
                        "seguimiento de su tipo la usa (acciones permitidas en ese estado o "
                        "resultados que llevan a él). Quítela de esa tabla primero, o cree un "
                        "estado nuevo en el otro tipo."
                    )
                    % {"state": self.name}
                }
            )


class StateAgent(models.Model):
    """An agent who works a state and receives its gestiones while `is_active`."""

    state = models.ForeignKey(
        GestionState,
        verbose_name=_("estado"),
        on_delete=models.CASCADE,
        related_name="state_agents",
    )
    agent = models.ForeignKey(
        USER, verbose_name=_("gestor"), on_delete=models.CASCADE, related_name="state_agents"
    )
    is_active = models.BooleanField(_("recibe gestiones"), default=True)

    class Meta:
        verbose_name = _("gestor del estado")
        verbose_name_plural = _("gestores del estado")
        constraints = [
            models.UniqueConstraint(fields=["state", "agent"], name="gestiones_state_agent_unique")
        ]

    def __str__(self) -> str:
        return f"{self.state} · {self.agent}"


class Action(models.Model):
    """An action an agent performs (*acción*), allowed in some states of its type."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="actions",
    )
    name = models.CharField(_("acción"), max_length=120)
    from_states = models.ManyToManyField(
        GestionState,
        verbose_name=_("permitida en los estados"),
        related_name="actions",
        help_text=_("Estados en los que se puede registrar esta acción."),
    )
    order = models.PositiveIntegerField(_("orden"), default=0)
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        ordering = ["gestion_type", "order", "id"]
        verbose_name = _("acción")
        verbose_name_plural = _("acciones")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_action_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ActionResult(models.Model):
    """One row of the follow-up table: action → result → state, and what it triggers."""

    action = models.ForeignKey(
        Action, verbose_name=_("acción"), on_delete=models.CASCADE, related_name="results"
    )
    name = models.CharField(_("resultado"), max_length=120)
    to_state = models.ForeignKey(
        GestionState,
        verbose_name=_("estado"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    changes_state = models.BooleanField(_("cambia estado"), default=True)
    alerts_customer = models.BooleanField(_("alerta cliente"), default=False)
    customer_message = models.TextField(
        _("mensaje al cliente"),
        blank=True,
        validators=[
            email_body_validator(),
            PlaceholderValidator(("cliente", "gestion", "tipo", "estado", "resultado")),
        ],
        help_text=_(
            "Texto del aviso; admite {cliente}, {gestion}, {tipo}, {estado} y {resultado}."
        ),
    )
    order = models.PositiveIntegerField(_("orden"), default=0)

    class Meta:
        ordering = ["action", "order", "id"]
        verbose_name = _("resultado")
        verbose_name_plural = _("resultados")
        constraints = [
            models.UniqueConstraint(fields=["action", "name"], name="gestiones_result_unique_name"),
            models.CheckConstraint(
                condition=Q(changes_state=False) | Q(to_state__isnull=False),
                name="gestiones_result_state_when_changing",
                violation_error_message=_("Indique el estado al que pasa la gestión."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} → {self.name}"

    def clean(self) -> None:
        if (
            self.to_state_id
            and self.action_id
            and self.to_state.gestion_type_id != self.action.gestion_type_id
        ):
            raise ValidationError(
                {"to_state": _("El estado debe ser del mismo tipo de gestión que la acción.")}
            )


class RejectionReason(models.Model):
    """Why a gestión of a type was rejected (*motivo de rechazo*)."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="rejection_reasons",
    )
    name = models.CharField(_("motivo"), max_length=120)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["gestion_type", "name"]
        verbose_name = _("motivo de rechazo")
        verbose_name_plural = _("motivos de rechazo")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_reason_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FormField(models.Model):
    """A field of a type's dynamic form, captured on the gestión or on each follow-up."""

    class Scope(models.TextChoices):
        GESTION = "gestion", _("Gestión")
        FOLLOW_UP = "follow_up", _("Seguimiento")

    class Kind(models.TextChoices):
        TEXT = "text", _("Texto")
        LONG_TEXT = "long_text", _("Texto largo")
        INTEGER = "integer", _("Número entero")
        DECIMAL = "decimal", _("Número decimal")
        DATE = "date", _("Fecha")
        BOOLEAN = "boolean", _("Sí / No")
        CHOICE = "choice", _("Lista de opciones")

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="fields",
    )
    scope = models.CharField(
        _("se captura en"), max_length=10, choices=Scope, default=Scope.GESTION
    )
    name = models.SlugField(
        _("clave"), max_length=40, help_text=_("Nombre interno; también el marcador en plantillas.")
    )
    label = models.CharField(_("etiqueta"), max_length=120)
    kind = models.CharField(_("tipo de dato"), max_length=10, choices=Kind, default=Kind.TEXT)
    is_required = models.BooleanField(_("obligatorio"), default=False)
    choices = models.TextField(_("opciones"), blank=True, help_text=_("Una opción por línea."))
    help_text = models.CharField(_("ayuda"), max_length=200, blank=True)
    order = models.PositiveIntegerField(_("orden"), default=0)

    class Meta:
        ordering = ["gestion_type", "scope", "order", "id"]
        verbose_name = _("campo del formulario")
        verbose_name_plural = _("campos del formulario")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "scope", "name"], name="gestiones_field_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.kind == self.Kind.CHOICE and not self.choice_list():
            raise ValidationError({"choices": _("Una lista de opciones necesita opciones.")})

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


def template_upload_to(instance: "DocumentTemplate", filename: str) -> str:
    # Private: under a random folder, served only by template_file (lib/files.py).
    return files.private_name("plantillas", filename)


class DocumentTemplate(models.Model):
    """A DOCX with placeholders (contract, collection letter, promissory note)."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    description = models.CharField(_("descripción"), max_length=255, blank=True)
    file = models.FileField(
        _("plantilla DOCX"),
        upload_to=template_upload_to,
        validators=[FileExtensionValidator(["docx"])],
    )
    gestion_types = models.ManyToManyField(
        GestionType, verbose_name=_("tipos de gestión"), related_name="document_templates"
    )
    roles = models.ManyToManyField(
        Group,
        verbose_name=_("roles que lo generan"),
        blank=True,
        related_name="+",
        help_text=_("Vacío: cualquier rol que trabaje la gestión."),
    )
    is_active = models.BooleanField(_("activa"), default=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("plantilla de documento")
        verbose_name_plural = _("plantillas de documentos")

    def __str__(self) -> str:
        return self.name
