"""Written-off campaigns (*campañas de cartera castigada*), their payments, the /recovery
portal's settings and the visits to it.

A campaign offers a debtor whose debt was written off a discount: the written-off debt,
the discount (a percentage or an amount), and what settles it (the campaign amount). It
is a receivable of its own (`recovery.receivables`): its payments never touch the loan.
"""

from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib import files
from lib.money import MONEY

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
# A campaign as a receivable of collections_app (its payments, links and promises name it).
RECEIVABLE_KIND = "campaign"
# The most a campaign's debt may be: a file's amount mistyped by a factor of a million is
# refused, not stored.
MAX_DEBT = Decimal("99999999.99")
# The highest discount a campaign may have, in percent of its debt (RecoverySettings): 40
# typed as 99.99 would settle a debt of 12,000.00 for 1.20.
DEFAULT_MAX_DISCOUNT = Decimal("95")
MIN_MAX_DISCOUNT = Decimal("1")
TOP_MAX_DISCOUNT = Decimal("99.99")


def discount_percent(discount: Decimal, debt: Decimal) -> Decimal:
    """A discount as a percentage of its debt, two places, rounded down (`Campaign`'s)."""
    if not debt:
        return ZERO
    return (discount * HUNDRED / debt).quantize(Decimal("0.01"), ROUND_DOWN)


class Campaign(models.Model):
    """One debtor's written-off campaign: the debt, its discount, what settles it."""

    class DiscountType(models.TextChoices):
        PERCENT = "percent", _("Porcentaje")
        AMOUNT = "amount", _("Monto")

    class Status(models.IntegerChoices):
        ACTIVE = 0, _("Activa")
        PAID = 1, _("Pagada")
        FINISHED = 2, _("Finalizada")

    # Not indexed alone: the unique (customer, code) index leads with it and serves its
    # lookups; a second index cost every import (100,000 campaigns: ~0.2 s).
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("cliente"),
        on_delete=models.PROTECT,
        related_name="recovery_campaigns",
        db_index=False,
    )
    code = models.CharField(_("ID de campaña"), max_length=30)
    debt_amount = models.DecimalField(_("deuda castigada"), **MONEY)
    discount_type = models.CharField(_("tipo de descuento"), max_length=10, choices=DiscountType)
    discount_value = models.DecimalField(_("valor del descuento"), **MONEY)
    # Computed when the campaign is made (services.campaign_figures) and kept: the debt
    # less the discount, what settles the campaign.
    discount_amount = models.DecimalField(_("monto de descuento"), **MONEY)
    amount = models.DecimalField(_("monto de la campaña"), **MONEY)
    # What standing payments add up to; the balance is amount - paid_amount.
    paid_amount = models.DecimalField(_("pagado"), **MONEY, default=ZERO)
    currency = models.CharField(_("moneda"), max_length=3, default="PEN")
    ends_on = models.DateField(_("fecha de finalización"), null=True, blank=True, db_index=True)
    # The loan the campaign comes from, by its payment code; blank: all the customer owed,
    # written off, when it was made (`loans`).
    payment_code = models.CharField(_("código de pago asociado"), max_length=30, blank=True)
    # The written-off loans it covers (settles instead of them), fixed when it is made
    # (services.copy_campaigns): the one its payment code names, or, with a blank code, the
    # customer's written-off loans of its currency then. A loan written off later is a debt
    # of its own, never swallowed by an older campaign (selectors.covered_loans).
    loans = models.ManyToManyField(
        "credits.Loan", verbose_name=_("créditos cubiertos"), related_name="+", blank=True
    )
    # Indexed by (status, ends_on), which serves a filter by status alone too.
    status = models.PositiveSmallIntegerField(_("estado"), choices=Status, default=Status.ACTIVE)
    paid_at = models.DateTimeField(_("pagada"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finalizada"), null=True, blank=True)
    # When the debtor first saw the offer on /recovery/: the countdown runs from here.
    first_visit_at = models.DateTimeField(_("primera visita"), null=True, blank=True)
    # The countdown's end, fixed at the first visit with the hours set then: the admin
    # changing them later neither ends nor reopens what a debtor was shown. Blank: no
    # countdown was on at the first visit. The end date still caps it when read.
    countdown_ends_at = models.DateTimeField(_("fin de la cuenta regresiva"), null=True, blank=True)
    import_batch = models.ForeignKey(
        "crm.ImportBatch",
        verbose_name=_("importación"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creada"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("actualizada"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaña de cartera castigada")
        verbose_name_plural = _("campañas de cartera castigada")
        indexes = [
            models.Index(fields=["code"], name="recovery_campaign_code"),
            models.Index(fields=["status", "ends_on"], name="recovery_campaign_status_end"),
        ]
        constraints = [
            # A customer has at most one active campaign, whoever writes it.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status=0),
                name="recovery_one_active_campaign",
            ),
            # The same campaign is offered to a customer once.
            models.UniqueConstraint(fields=["customer", "code"], name="recovery_campaign_unique"),
            models.CheckConstraint(condition=Q(debt_amount__gt=0), name="recovery_debt_positive"),
            models.CheckConstraint(
                condition=Q(discount_value__gte=0), name="recovery_discount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(amount__lte=models.F("debt_amount")),
                name="recovery_amount_within_debt",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=models.F("amount")),
                name="recovery_paid_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.customer_id}"

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid_amount

    @property
    def discount_percent(self) -> Decimal:
        """The discount as a percentage of the debt, two places (what the offer shows): the
        percentage typed for a percentage campaign (40 %, not the 39.99 % its amount,
        rounded to the cent, gives back); for an amount, rounded down: 999.99 off 1,000 is
        99.99 %, never the 100 % no campaign may give."""
        if self.discount_type == self.DiscountType.PERCENT:
            return self.discount_value
        return discount_percent(self.discount_amount, self.debt_amount)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def has_ended(self, today) -> bool:
        """Say whether its end date is before `today` (a blank end date never ends)."""
        return self.ends_on is not None and self.ends_on < today


def receipt_upload_to(payment: "CampaignPayment", filename: str) -> str:
    # Private: under a random folder, served only by recovery.views.payment_receipt.
    return files.private_name("recuperacion", filename)


class CampaignPayment(models.Model):
    """Money received for a campaign; it settles the campaign, never the loan."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Aplicado")
        ANNULLED = "annulled", _("Anulado")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaña"), on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(_("monto"), **MONEY)
    received_on = models.DateField(_("fecha de pago"))
    # Where the money came from: transfer, deposit, cash, mercadopago, clear, other.
    source = models.CharField(_("origen"), max_length=20)
    reference = models.CharField(_("n.º de operación"), max_length=80, blank=True)
    # A gateway's id for the payment: the same one is never applied twice.
    external_id = models.CharField(max_length=120, null=True, blank=True, unique=True)
    receipt = models.FileField(_("comprobante"), upload_to=receipt_upload_to, blank=True)
    # What was received beyond the campaign's balance (a gateway's payment is recorded
    # whatever the balance is by then); not part of what the campaign counts as paid.
    overpaid = models.DecimalField(_("pagado en exceso"), **MONEY, default=ZERO)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.APPLIED, db_index=True
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("registrado"), default=timezone.now)
    annulled_at = models.DateTimeField(_("anulado"), null=True, blank=True)
    annulled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("anulado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    annul_reason = models.CharField(_("motivo de la anulación"), max_length=255, blank=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("pago de campaña")
        verbose_name_plural = _("pagos de campañas")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign.code} · {self.amount} · {self.received_on}"


def image_upload_to(portal: "RecoverySettings", filename: str) -> str:
    return files.private_name("recuperacion-portal", filename)


DEFAULT_REASONS = (
    "No tengo dinero en este momento",
    "No reconozco la deuda",
    "Ya pagué esta deuda",
    "El descuento no es suficiente",
)


class RecoverySettings(models.Model):
    """The /recovery portal's settings: one row (`RecoverySettings.current()`).

    *Ajustes*: images, texts, legal text, the countdown, the reasons to decline.
    *Configuración*: whether the portal is on (it starts off), the adviser's WhatsApp, and
    the highest discount any campaign may have (the screen, the API and the file alike).
    Its address is the customer portal's plus /recovery, not a setting.
    """

    is_active = models.BooleanField(_("activo"), default=False)
    title = models.CharField(
        _("título"), max_length=120, default="Tenemos una oferta especial para usted"
    )
    intro = models.TextField(
        _("texto de bienvenida"),
        max_length=1000,
        default="Ingrese su número de documento para ver la oferta que tenemos para su deuda.",
    )
    offer_text = models.TextField(
        _("texto de la oferta"),
        max_length=1000,
        default="Cancele su deuda hoy con un descuento exclusivo.",
    )
    logo = models.FileField(_("logo"), upload_to=image_upload_to, blank=True)
    banner = models.FileField(_("imagen principal"), upload_to=image_upload_to, blank=True)
    legal_text = models.TextField(_("texto legal"), max_length=4000, blank=True)
    countdown_enabled = models.BooleanField(
        _("agregar cuenta regresiva"),
        default=False,
        help_text=_(
            "Desactivada, ninguna oferta muestra cuenta regresiva: cada una dura lo que dura "
            "su campaña. Al activarla de nuevo, la cuenta regresiva corre solo para los "
            "deudores que ingresen por primera vez desde entonces; quienes ya ingresaron "
            "siguen sin ella hasta la fecha de finalización de su campaña."
        ),
    )
    countdown_hours = models.PositiveSmallIntegerField(
        _("horas de validez desde el primer ingreso"),
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        help_text=_(
            "Se fijan para cada deudor en su primer ingreso: cambiarlas no acorta ni alarga "
            "las cuentas regresivas ya iniciadas. Nunca pasan de la fecha de finalización "
            "de la campaña."
        ),
    )
    # When the countdown was last switched on (admin): countdowns that started before it,
    # in an earlier spell, no longer count. Blank: every stored countdown counts.
    countdown_started_at = models.DateTimeField(
        _("cuenta regresiva activada"), null=True, blank=True
    )
    decline_reasons = models.TextField(
        _("motivos de «No me interesa esta oferta»"),
        max_length=2000,
        default="\n".join(DEFAULT_REASONS),
        help_text=_(
            "Uno por línea. «Necesito que un asesor me contacte» se agrega siempre al final."
        ),
    )
    advisor_whatsapp = models.CharField(
        _("WhatsApp de «Habla con un asesor»"),
        max_length=20,
        blank=True,
        help_text=_("Número con código de país, solo dígitos: 51987654321."),
    )
    # Read by services.campaign_figures: the screen, the API and the file all refuse above it.
    max_discount_percent = models.DecimalField(
        _("descuento máximo de una campaña (%)"),
        # Five digits, so 100 is told the maximum, not the digits a column holds.
        max_digits=5,
        decimal_places=2,
        default=DEFAULT_MAX_DISCOUNT,
        validators=[
            MinValueValidator(MIN_MAX_DISCOUNT, _("Indique al menos %(limit_value)s %%.")),
            MaxValueValidator(TOP_MAX_DISCOUNT, _("Indique a lo sumo %(limit_value)s %%.")),
        ],
        help_text=_(
            "El mayor descuento que una campaña puede ofrecer, en porcentaje de la deuda "
            "castigada; también limita los descuentos por monto. Entre 1 y 99.99."
        ),
    )
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        verbose_name = _("portal de cartera castigada")
        verbose_name_plural = _("portal de cartera castigada")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_discount_percent__gte=MIN_MAX_DISCOUNT)
                & Q(max_discount_percent__lte=TOP_MAX_DISCOUNT),
                name="recovery_max_discount_in_range",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Portal de cartera castigada"))

    @classmethod
    def current(cls) -> "RecoverySettings":
        found = cls.objects.order_by("pk").first()
        return found if found is not None else cls.objects.get_or_create(pk=1)[0]


class Visit(models.Model):
    """One visit to /recovery/ and how far it got (the funnel report counts these)."""

    class Step(models.IntegerChoices):
        IDENTIFIED = 1, _("Se identificó")
        OFFER = 2, _("Vio la oferta")
        PAYMENT_OPTIONS = 3, _("Abrió las opciones de pago")
        PAID = 4, _("Pagó")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaña"), on_delete=models.CASCADE, related_name="visits"
    )
    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("cliente"), on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(max_length=24, unique=True)
    furthest_step = models.PositiveSmallIntegerField(
        _("hasta dónde llegó"), choices=Step, default=Step.IDENTIFIED
    )
    declined = models.BooleanField(_("no le interesa"), default=False)
    decline_reason = models.CharField(_("motivo"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("inicio"), default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(_("última actividad"), default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("visita al portal de cartera castigada")
        verbose_name_plural = _("visitas al portal de cartera castigada")

    def __str__(self) -> str:
        return f"{self.campaign.code} · {self.started_at:%Y-%m-%d %H:%M}"
