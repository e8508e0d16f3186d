"""Kommo leads in the call queue, the catalog with its stock, orders and call outcomes."""

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import PurePosixPath
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib import files, search

# A lead is held while its call lasts: a day at most, or the queue could never take it back.
MAX_TAKE_TIMEOUT_MINUTES = 24 * 60
HOLD_MESSAGE = _("La reserva de un lead dura entre 1 y 1440 minutos (un día).")
# Kommo's ids are positive.
KOMMO_ID = MinValueValidator(1, _("Indique el id de Kommo: un número mayor que cero."))


class QueueSettings(models.Model):
    """The Kommo stages the call center works with: one row, edited in admin.

    The row is created from the KOMMO_* environment variables the first time it is read
    (`callcenter.selectors.queue_settings`); from then on admin is where it changes.
    """

    pipeline_id = models.BigIntegerField(
        _("embudo (pipeline) de Kommo"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Id del embudo donde está la etapa «Para Llamar»."),
    )
    queue_status_id = models.BigIntegerField(
        _("etapa «Para Llamar»"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Id de la etapa de Kommo cuyos leads entran en la cola."),
    )
    sold_status_id = models.BigIntegerField(
        _("etapa «Venta Confirmada»"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Id de la etapa a la que pasa el lead al confirmar un pedido."),
    )
    no_answer_status_id = models.BigIntegerField(
        _("etapa para «No contesta»"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Vacío: el lead sigue en «Para Llamar» y vuelve a la cola."),
    )
    callback_status_id = models.BigIntegerField(
        _("etapa para «Volver a llamar»"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Vacío: el lead sigue en «Para Llamar» con su hora de nueva llamada."),
    )
    not_interested_status_id = models.BigIntegerField(
        _("etapa para «No interesado»"),
        null=True,
        blank=True,
        validators=[KOMMO_ID],
        help_text=_("Kommo usa 143 para «Venta perdida» (cerrado sin éxito)."),
    )
    take_timeout_minutes = models.PositiveIntegerField(
        _("minutos de reserva de un lead"),
        default=30,
        validators=[
            MinValueValidator(1, HOLD_MESSAGE),
            MaxValueValidator(MAX_TAKE_TIMEOUT_MINUTES, HOLD_MESSAGE),
        ],
        help_text=_("Pasado este tiempo sin terminar la llamada, otro agente puede tomar el lead."),
    )

    class Meta:
        verbose_name = _("configuración de la cola")
        verbose_name_plural = _("configuración de la cola")

    def __str__(self) -> str:
        return str(_("Etapas de Kommo del call center"))

    def clean(self) -> None:
        # An outcome "moved" to «Para Llamar» itself took the lead out of the queue while
        # Kommo kept it there; empty is how an outcome leaves the lead in the queue.
        if self.queue_status_id is None:
            return
        errors = {}
        for field in (
            "sold_status_id",
            "no_answer_status_id",
            "callback_status_id",
            "not_interested_status_id",
        ):
            if getattr(self, field) == self.queue_status_id:
                errors[field] = _(
                    "Es la etapa «Para Llamar»: indique otra etapa, o déjelo vacío si el lead "
                    "debe seguir en la cola."
                )
        if errors.get("sold_status_id"):
            errors["sold_status_id"] = _(
                "Es la etapa «Para Llamar»: una venta debe llevar el lead a otra etapa."
            )
        if errors:
            raise ValidationError(errors)

    def hold_cutoff(self, now: datetime | None = None) -> datetime:
        """Return the moment before which a lead's hold has expired."""
        # Within the admin's bounds even for a value saved before them: 10^10 minutes
        # overflowed the date arithmetic and took the queue page down for everyone.
        minutes = min(max(self.take_timeout_minutes, 1), MAX_TAKE_TIMEOUT_MINUTES)
        return (now or timezone.now()) - timedelta(minutes=minutes)

    def is_queue_stage(self, pipeline_id: int | None, status_id: int | None) -> bool:
        """Say whether a Kommo (pipeline, status) pair is the configured «Para Llamar»."""
        if self.queue_status_id is None or status_id != self.queue_status_id:
            return False
        return self.pipeline_id is None or pipeline_id is None or pipeline_id == self.pipeline_id


class LossReason(models.Model):
    """Why a customer was not interested; may map to one of Kommo's loss reasons."""

    name = models.CharField(_("motivo"), max_length=120, unique=True)
    kommo_loss_reason_id = models.BigIntegerField(
        _("id del motivo de pérdida en Kommo"), null=True, blank=True
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("motivo de no interés")
        verbose_name_plural = _("motivos de no interés")

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    """A Kommo lead the call center knows: in the queue while Kommo has it in «Para Llamar»."""

    class State(models.TextChoices):
        NEW = "new", _("Nuevo")
        NO_ANSWER = "no_answer", _("No contesta")
        CALLBACK = "callback", _("Volver a llamar")
        SOLD = "sold", _("Venta confirmada")
        # Its sale was annulled (callcenter.services.orders.annul_order).
        ORDER_ANNULLED = "order_annulled", _("Pedido anulado")
        NOT_INTERESTED = "not_interested", _("No interesado")
        LEFT = "left", _("Fuera de la etapa")
        # Back in the queue after an outcome took it out (callcenter.services.requeue).
        REQUEUED = "requeued", _("Devuelto a la cola")

    class Match(models.TextChoices):
        DOCUMENT = "document", _("documento")
        PHONE = "phone", _("teléfono")
        EMAIL = "email", _("correo")

    # The states a lead in the queue can be in; the others have left it.
    QUEUE_STATES = (State.NEW, State.NO_ANSWER, State.CALLBACK, State.REQUEUED)
    # The states a call's outcome (or an annulled sale) took the lead out of the queue in:
    # a supervisor may put such a lead back. Not LEFT (Kommo moved it) nor SOLD.
    REQUEUABLE_STATES = (
        State.NOT_INTERESTED,
        State.NO_ANSWER,
        State.CALLBACK,
        State.ORDER_ANNULLED,
    )

    kommo_id = models.BigIntegerField(_("id en Kommo"), unique=True)
    name = models.CharField(_("lead"), max_length=255, blank=True)
    contact_kommo_id = models.BigIntegerField(_("id del contacto en Kommo"), null=True, blank=True)
    contact_name = models.CharField(_("contacto"), max_length=255, blank=True)
    phone = models.CharField(_("teléfono"), max_length=40, blank=True)
    phone_secondary = models.CharField(_("teléfono alternativo"), max_length=40, blank=True)
    email = models.EmailField(_("correo electrónico"), blank=True)
    document_number = models.CharField(_("documento"), max_length=20, blank=True)
    address = models.CharField(_("dirección"), max_length=255, blank=True)
    city = models.CharField(_("ciudad"), max_length=120, blank=True)
    notes = models.TextField(_("notas de Kommo"), blank=True)
    source = models.CharField(_("origen"), max_length=120, blank=True, db_index=True)
    pipeline_id = models.BigIntegerField(_("embudo"), null=True, blank=True)
    status_id = models.BigIntegerField(_("etapa en Kommo"), null=True, blank=True)
    # The lead's CRM customer: created from the lead's own data, or an existing customer
    # an agent confirmed is the same person. Orders ship to it; calls land on its timeline.
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("cliente"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    # An existing customer whose document, phone or e-mail matches the lead's: not the
    # lead's customer until an agent confirms it on the call, with both records in view.
    suggested_customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("posible cliente"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    suggested_by = models.CharField(_("coincide por"), max_length=20, choices=Match, blank=True)
    state = models.CharField(_("estado"), max_length=20, choices=State, default=State.NEW)
    in_queue = models.BooleanField(_("en cola"), default=False)
    queued_at = models.DateTimeField(_("en cola desde"), null=True, blank=True)
    # What the queue sorts by, oldest first: when the lead entered, or when to call back.
    due_at = models.DateTimeField(_("llamar desde"), null=True, blank=True)
    callback_at = models.DateTimeField(_("volver a llamar el"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("intentos"), default=0)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("atendido por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="taken_leads",
    )
    taken_at = models.DateTimeField(_("tomado el"), null=True, blank=True)
    # Kommo's own clock of the last change applied: an older webhook changes nothing.
    kommo_updated_at = models.BigIntegerField(_("última modificación en Kommo"), default=0)
    details_fetched_at = models.DateTimeField(_("datos leídos de Kommo"), null=True, blank=True)
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        permissions = [
            ("take_lead", _("Puede tomar leads de la cola y registrar llamadas")),
            ("release_lead", _("Puede liberar leads tomados por otros agentes")),
            ("requeue_lead", _("Puede devolver a la cola leads que salieron de ella")),
        ]
        indexes = [
            # The queue: leads in it, oldest first. Partial, so it holds only the queue
            # (not every lead ever called) and SQLite uses it for `WHERE in_queue` too.
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(in_queue=True),
                name="callcenter_lead_queue_idx",
            ),
            models.Index(
                fields=["taken_by"],
                condition=models.Q(in_queue=True),
                name="callcenter_lead_taken_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("callcenter:lead_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.contact_name or self.name or f"Lead {self.kommo_id}"

    def build_search_text(self) -> str:
        """Return the normalized name, phones, document and e-mail the queue search reads."""
        digits = [
            "".join(ch for ch in p if ch.isdigit()) for p in (self.phone, self.phone_secondary)
        ]
        parts = [self.contact_name, self.name, self.document_number, self.email, *digits]
        return search.normalize(" ".join(p for p in parts if p))

    def is_held_after(self, cutoff: datetime) -> bool:
        """Say whether an agent holds the lead with a hold taken after `cutoff`."""
        return (
            self.taken_by_id is not None and self.taken_at is not None and (self.taken_at > cutoff)
        )


class CatalogProduct(models.Model):
    """An item the call center may sell, with its live stock (units)."""

    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    name = models.CharField(_("nombre"), max_length=200)
    description = models.TextField(_("descripción"), blank=True)
    price = models.DecimalField(
        _("precio"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("moneda"), max_length=3, default="PEN")
    stock = models.IntegerField(_("stock"), default=0)
    is_active = models.BooleanField(_("activo"), default=True)
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("producto del catálogo")
        verbose_name_plural = _("catálogo de productos")
        constraints = [
            # The last line of defence: no sale, import or adjustment leaves stock negative.
            models.CheckConstraint(
                condition=models.Q(stock__gte=0),
                name="callcenter_product_stock_not_negative",
                violation_error_message=_("El stock no puede ser negativo."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def build_search_text(self) -> str:
        return self.search_text_for(name=self.name, sku=self.sku)

    @staticmethod
    def search_text_for(*, name: str, sku: str) -> str:
        """Return the search text of a product with this name and SKU (imports use it bare)."""
        return search.normalize(f"{name} {sku}")


class StockMovement(models.Model):
    """One change of a product's stock; their sum is the stock (append-only)."""

    class Reason(models.TextChoices):
        IMPORT = "import", _("Importación")
        ADJUSTMENT = "adjustment", _("Ajuste")
        SALE = "sale", _("Venta")
        # An annulled order's units, back in stock: one movement per line.
        ANNULMENT = "annulment", _("Anulación de pedido")

    product = models.ForeignKey(
        CatalogProduct,
        verbose_name=_("producto"),
        on_delete=models.PROTECT,
        related_name="movements",
    )
    delta = models.IntegerField(_("cambio"))
    reason = models.CharField(_("motivo"), max_length=20, choices=Reason)
    order = models.ForeignKey(
        "Order",
        verbose_name=_("pedido"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stock_movements",
    )
    note = models.CharField(_("nota"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("movimiento de stock")
        verbose_name_plural = _("movimientos de stock")

    def __str__(self) -> str:
        return f"{self.product.sku} {self.delta:+d}"


def catalog_import_upload_to(instance: "CatalogImport", filename: str) -> str:
    # A folder of its own per import, named at random: its files' paths cannot be guessed,
    # and two uploads of "catalogo.xlsx" never meet (lib/files.py).
    return files.private_name("catalog-imports", filename)


def catalog_import_errors_upload_to(instance: "CatalogImport", filename: str) -> str:
    # Next to the uploaded file, in its folder.
    return f"{PurePosixPath(instance.file.name).parent}/{filename}"


class ImportErrorRow(NamedTuple):
    """One bad row of an import file, as kept for the import's page."""

    line: int
    sku: str
    message: str


class CatalogImport(models.Model):
    """A catalog file uploaded in admin and imported by a Celery task: what it did.

    The final state lives here; while the task runs, its progress lives in the cache
    (`callcenter.catalog.imports.save_progress`), since the import's transaction hides its
    writes from every other connection until it commits.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En cola")
        RUNNING = "running", _("En curso")
        DONE = "done", _("Terminada")
        FAILED = "failed", _("Falló")

    file = models.FileField(_("archivo"), upload_to=catalog_import_upload_to, max_length=255)
    file_name = models.CharField(_("nombre del archivo"), max_length=255)
    skip_invalid = models.BooleanField(_("omitir filas con errores"), default=False)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("importada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("subida"), default=timezone.now)
    started_at = models.DateTimeField(_("iniciada"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminada"), null=True, blank=True)
    # False when bad rows stopped the import (and skip_invalid was off): nothing written.
    is_applied = models.BooleanField(_("aplicada"), default=False)
    created_count = models.PositiveIntegerField(_("productos creados"), default=0)
    updated_count = models.PositiveIntegerField(_("productos actualizados"), default=0)
    unchanged_count = models.PositiveIntegerField(_("sin cambios"), default=0)
    skipped_count = models.PositiveIntegerField(_("filas omitidas"), default=0)
    error_row_count = models.PositiveIntegerField(_("filas con errores"), default=0)
    error_count = models.PositiveIntegerField(_("errores"), default=0)
    # The first errors, [line, sku, message] each (read with `preview_errors`); all of them
    # are in errors_file.
    error_preview = models.JSONField(_("primeros errores"), default=list, blank=True)
    errors_file = models.FileField(
        _("filas con errores (.csv)"),
        upload_to=catalog_import_errors_upload_to,
        max_length=255,
        blank=True,
    )
    failure = models.TextField(_("motivo del fallo"), blank=True)
    # How many times beat sent the import again after it went without progress
    # (callcenter.catalog.imports.resume_abandoned, lib.progress.send_again).
    attempts = models.PositiveSmallIntegerField(_("reenvíos"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("importación de catálogo")
        verbose_name_plural = _("importaciones de catálogo")

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("admin:callcenter_catalogproduct_import_detail", args=[self.pk])

    @property
    def progress_cache_key(self) -> str:
        return f"callcenter:catalog-import:{self.pk}:progress"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def written_count(self) -> int:
        return self.created_count + self.updated_count

    def preview_errors(self) -> list[ImportErrorRow]:
        return [ImportErrorRow(line, sku, message) for line, sku, message in self.error_preview]


class Order(models.Model):
    """A confirmed order from a call, for logistics; annulled before dispatch by mistake."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmado")
        DISPATCHED = "dispatched", _("Despachado")
        ANNULLED = "annulled", _("Anulado")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.PROTECT, related_name="orders"
    )
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("cliente"),
        on_delete=models.PROTECT,
        related_name="callcenter_orders",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agente"),
        on_delete=models.PROTECT,
        related_name="callcenter_orders",
    )
    status = models.CharField(_("estado"), max_length=20, choices=Status, default=Status.CONFIRMED)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("moneda"), max_length=3, default="PEN")
    # Where and to whom logistics delivers, as confirmed on the call.
    delivery_name = models.CharField(_("recibe"), max_length=255)
    delivery_phone = models.CharField(_("teléfono de entrega"), max_length=40)
    delivery_address = models.CharField(_("dirección de entrega"), max_length=255)
    delivery_city = models.CharField(_("ciudad"), max_length=120, blank=True)
    notes = models.TextField(_("indicaciones"), blank=True)
    created_at = models.DateTimeField(_("confirmado el"), default=timezone.now)
    # Where the lead was in Kommo before the sale moved it: where an annulment may move it
    # back. Empty for orders from before it was kept, whose earlier stage nobody knows.
    kommo_pipeline_before = models.BigIntegerField(
        _("embudo en Kommo antes de la venta"), null=True, blank=True
    )
    kommo_status_before = models.BigIntegerField(
        _("etapa en Kommo antes de la venta"), null=True, blank=True
    )
    annulled_at = models.DateTimeField(_("anulado el"), null=True, blank=True)
    annulled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("anulado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    annul_reason = models.CharField(_("motivo de anulación"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("pedido")
        verbose_name_plural = _("pedidos")
        permissions = [("annul_order", _("Puede anular pedidos no despachados"))]
        indexes = [models.Index(fields=["status", "-created_at"], name="callcenter_order_status")]

    def __str__(self) -> str:
        return f"Pedido {self.pk}"

    @property
    def is_annulled(self) -> bool:
        return self.status == self.Status.ANNULLED

    @property
    def kommo_annulment_key(self) -> str:
        """Return the outbox key of the Kommo update this order's annulment sends (one)."""
        return f"callcenter:order-annulment:{self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("pedido"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        CatalogProduct, verbose_name=_("producto"), on_delete=models.PROTECT, related_name="+"
    )
    # Name, SKU and price as sold: the catalog may change later.
    sku = models.CharField(_("SKU"), max_length=60)
    name = models.CharField(_("producto"), max_length=200)
    quantity = models.PositiveIntegerField(_("cantidad"))
    unit_price = models.DecimalField(_("precio unitario"), max_digits=12, decimal_places=2)
    line_total = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        verbose_name = _("línea de pedido")
        verbose_name_plural = _("líneas de pedido")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class CallRecord(models.Model):
    """One call to a lead and how it ended."""

    class Outcome(models.TextChoices):
        SALE = "sale", _("Venta")
        NO_ANSWER = "no_answer", _("No contesta")
        CALLBACK = "callback", _("Volver a llamar")
        NOT_INTERESTED = "not_interested", _("No interesado")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="calls"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agente"),
        on_delete=models.PROTECT,
        related_name="callcenter_calls",
    )
    outcome = models.CharField(_("resultado"), max_length=20, choices=Outcome)
    callback_at = models.DateTimeField(_("volver a llamar el"), null=True, blank=True)
    loss_reason = models.ForeignKey(
        LossReason,
        verbose_name=_("motivo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    notes = models.TextField(_("notas"), blank=True)
    order = models.OneToOneField(
        Order,
        verbose_name=_("pedido"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="call",
    )
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("llamada")
        verbose_name_plural = _("llamadas")

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} · {self.lead}"

    @property
    def kommo_dedupe_key(self) -> str:
        """Return the outbox key of the Kommo update this call sends (at most one)."""
        return f"callcenter:call:{self.pk}"
