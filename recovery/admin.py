"""Recovery in admin."""

import re
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.validators import MinValueValidator
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from collections_app.models import Portfolio
from collections_app.strategies import templating
from collections_app.strategies import variables as template_variables
from lib import audit, search
from lib import fields as lib_fields
from lib.stale import KeepsOthersChangesAdmin
from recovery import services, variables
from recovery.models import HUNDRED, Campaign, RecoverySettings
from recovery.portal import images
from recovery.portal import selectors as portal_selectors

# --- The /recovery portal's settings (one row) -------------------------------------------------

PHONE_AS_TYPED = re.compile(r"\+?[0-9 ().-]*", re.ASCII)
# The most reasons the portal offers: each is a radio button a debtor reads on a phone.
MAX_REASONS = 15
# Texts shown before the debtor says who they are (and the legal text, on every page): no
# debtor, no values for variables. Only the offer text, shown to one debtor, takes them.
TEXTS_WITHOUT_VARIABLES = ("title", "intro", "legal_text")
# A word in braces, as a variable is written: «{nombre}».
_VARIABLE_LIKE = re.compile(r"\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}")
# Not in the offer text: the portal's link (the debtor is on it already).
OFFER_TEXT_LEFT_OUT = ("link_pago",)


def offer_text_variables() -> list[str]:
    """Return the variables the portal's offer text may say: the debtor's and their
    campaign's, as the written-off templates have them, without the payment events' (the
    offer is no event) nor the portal's link."""
    return [
        name
        for name in template_variables.variables_for(Portfolio.WRITTEN_OFF)
        if name not in template_variables.EVENT_VARIABLES and name not in OFFER_TEXT_LEFT_OUT
    ]


def campaigns_above(max_discount_percent: Decimal) -> int:
    """Count the active campaigns whose discount passes `max_discount_percent`, measured as
    services.campaign_figures measures it (a percentage as typed; an amount against its
    debt)."""
    above = Q(
        discount_type=Campaign.DiscountType.PERCENT, discount_value__gt=max_discount_percent
    ) | Q(discount_type=Campaign.DiscountType.AMOUNT, hundredfold__gt=F("scaled_debt"))
    return (
        Campaign.objects.filter(status=Campaign.Status.ACTIVE)
        .alias(
            hundredfold=F("discount_value") * HUNDRED,
            scaled_debt=F("debt_amount") * max_discount_percent,
        )
        .filter(above)
        .count()
    )


class _StoredImage:
    """A stored image as the file widget shows it: its name, linked to the portal's view
    (MEDIA_ROOT has no URL)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url

    def __str__(self) -> str:
        return self.name


class PortalImageInput(forms.ClearableFileInput):
    def __init__(self, kind: str, attrs: dict | None = None) -> None:
        super().__init__(attrs={"accept": "image/png,image/jpeg,image/webp", **(attrs or {})})
        self.kind = kind

    def format_value(self, value: Any) -> Any:
        if self.is_initial(value):
            return _StoredImage(
                PurePosixPath(value.name).name, reverse("recovery:image", args=[self.kind])
            )
        return super().format_value(value)


class RecoverySettingsForm(forms.ModelForm):
    class Meta:
        model = RecoverySettings
        fields = [
            "title",
            "intro",
            "offer_text",
            "logo",
            "banner",
            "legal_text",
            "countdown_enabled",
            "countdown_hours",
            "decline_reasons",
            "is_active",
            "advisor_whatsapp",
            "max_discount_percent",
        ]
        widgets = {kind: PortalImageInput(kind) for kind in images.KINDS}
        # Django's own reads "carácter(es)"; the stored name is shortened anyway.
        error_messages = {
            kind: {
                "max_length": _(
                    "El nombre del archivo tiene %(length)d caracteres: cámbielo por uno de "
                    "hasta %(max)d."
                )
            }
            for kind in images.KINDS
        }
        help_texts = {
            "logo": _("PNG, JPG o WebP, hasta 2 MB."),
            "banner": _("PNG, JPG o WebP, hasta 2 MB. Se muestra a todo el ancho."),
            "title": _("Igual para todos: no admite variables como {nombre}."),
            "intro": _(
                "Se muestra antes de que el deudor se identifique: no admite variables como "
                "{nombre}."
            ),
            "legal_text": _("Igual en todas las páginas: no admite variables como {nombre}."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The form field of a positive integer takes 0 on its own and says "0 or more" for
        # -1; the countdown starts at one hour, so both get the same answer.
        hours = self.fields["countdown_hours"]
        hours.min_value = 1
        hours.validators = [v for v in hours.validators if not isinstance(v, MinValueValidator)] + [
            MinValueValidator(1)
        ]
        # A percentage, never grouped: "92,5" is ninety-two and a half.
        percent = self.fields.get("max_discount_percent")
        if isinstance(percent, lib_fields.DecimalField):
            percent.grouped = False
        # Read here, not at import: recovery registers its variables when the apps are ready.
        if "offer_text" in self.fields:
            self.fields["offer_text"].help_text = _(
                "Admite variables entre llaves, con los datos de cada deudor y su campaña: "
                "%(names)s. Para mostrar una llave, escriba {{ o }}."
            ) % {"names": ", ".join("{" + name + "}" for name in offer_text_variables())}

    def clean_offer_text(self) -> str:
        text = self.cleaned_data["offer_text"]
        parsed = templating.parse(text)
        problems = list(parsed.errors)
        offered = offer_text_variables()
        unknown = [name for name in parsed.names if name not in offered]
        if unknown:
            problems.append(
                _("La oferta no tiene %(unknown)s. Puede usar: %(names)s.")
                % {
                    "unknown": ", ".join("{" + name + "}" for name in unknown),
                    "names": ", ".join("{" + name + "}" for name in offered),
                }
            )
        if problems:
            raise forms.ValidationError(problems)
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in TEXTS_WITHOUT_VARIABLES:
            found = _VARIABLE_LIKE.search(cleaned.get(name) or "")
            if found:
                self.add_error(
                    name,
                    _(
                        "Este texto es igual para todos los deudores y no admite variables: "
                        "«%(variable)s» se vería tal cual. Las variables van en «Texto de la "
                        "oferta»."
                    )
                    % {"variable": found[0]},
                )
        return cleaned

    def _clean_image(self, kind: str) -> Any:
        value = self.cleaned_data.get(kind)
        # A new upload is checked; the stored file (or a cleared one) is kept as it is.
        if value and hasattr(value, "content_type"):
            images.validate(value)
        return value

    def clean_logo(self) -> Any:
        return self._clean_image("logo")

    def clean_banner(self) -> Any:
        return self._clean_image("banner")

    def clean_decline_reasons(self) -> str:
        reasons = self.cleaned_data["decline_reasons"]
        seen: dict[str, int] = {}
        for number, line in enumerate(reasons.splitlines(), start=1):
            reason = " ".join(line.split())
            # The portal stores the chosen reason in a 200-character column.
            if len(reason) > portal_selectors.REASON_CHARS:
                raise forms.ValidationError(
                    _(
                        "La línea %(line)d tiene %(length)d caracteres: cada motivo puede "
                        "tener hasta %(max)d."
                    )
                    % {
                        "line": number,
                        "length": len(reason),
                        "max": portal_selectors.REASON_CHARS,
                    }
                )
            if not reason:
                continue
            # The portal would show both as one choice (or two that read the same).
            key = reason.casefold()
            if key == portal_selectors.ADVISOR_REASON.casefold():
                raise forms.ValidationError(
                    _("La línea %(line)d no hace falta: «%(reason)s» se agrega siempre.")
                    % {"line": number, "reason": portal_selectors.ADVISOR_REASON}
                )
            if key in seen:
                raise forms.ValidationError(
                    _("La línea %(line)d repite el motivo de la línea %(first)d: «%(reason)s».")
                    % {"line": number, "first": seen[key], "reason": reason}
                )
            seen[key] = number
        if len(seen) > MAX_REASONS:
            raise forms.ValidationError(
                _("Hay %(count)d motivos: el portal muestra hasta %(max)d.")
                % {"count": len(seen), "max": MAX_REASONS}
            )
        return reasons

    def clean_advisor_whatsapp(self) -> str:
        typed = self.cleaned_data["advisor_whatsapp"]
        # Digits and the usual separators only: "abc" or "²" is refused, not stored blank.
        if not PHONE_AS_TYPED.fullmatch(search.ascii_digits(typed)):
            raise forms.ValidationError(
                _("Escriba solo el número, con código de país: 51987654321.")
            )
        number = search.digits_of(typed)
        if number and not 8 <= len(number) <= 15:
            raise forms.ValidationError(_("Indique el número con código de país: 8 a 15 dígitos."))
        return number


@admin.register(RecoverySettings)
class RecoverySettingsAdmin(audit.AuditedAdminMixin, KeepsOthersChangesAdmin, admin.ModelAdmin):
    """One row (`RecoverySettings.current()`): the list opens it; it is never added twice
    nor deleted."""

    form = RecoverySettingsForm
    # The countdown's hours, typed in a text input (lib.fields): "1.000" is refused, not 1.
    formfield_overrides = lib_fields.admin_number_fields()
    readonly_fields = ["portal_url", "updated_at"]
    fieldsets = [
        (
            _("Ajustes"),
            {
                "fields": [
                    "title",
                    "intro",
                    "offer_text",
                    "logo",
                    "banner",
                    "legal_text",
                    "countdown_enabled",
                    "countdown_hours",
                    "decline_reasons",
                ]
            },
        ),
        (
            _("Configuración"),
            {
                "fields": [
                    "portal_url",
                    "is_active",
                    "advisor_whatsapp",
                    "max_discount_percent",
                    "updated_at",
                ]
            },
        ),
    ]

    @admin.display(description=_("dirección del portal"))
    def portal_url(self, obj: RecoverySettings) -> str:
        # The customer portal's site plus /recovery/: follows SITE_URL, not editable.
        url = variables.recovery_url()
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def save_model(
        self, request: HttpRequest, obj: RecoverySettings, form: forms.ModelForm, change: bool
    ) -> None:
        # Switched on again: countdowns of an earlier spell no longer count (the debtors
        # were shown the offer without one meanwhile); only first visits from now run one.
        if "countdown_enabled" in form.changed_data and obj.countdown_enabled:
            obj.countdown_started_at = timezone.now()
        super().save_model(request, obj, form, change)
        # A lower maximum binds new campaigns only: say how many active ones stay above it.
        if "max_discount_percent" in form.changed_data:
            above = campaigns_above(obj.max_discount_percent)
            if above:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)s campaña activa tiene un descuento mayor que el nuevo máximo "
                        "(%(max)s %%); sigue con el suyo.",
                        "%(count)s campañas activas tienen un descuento mayor que el nuevo "
                        "máximo (%(max)s %%); siguen con el suyo.",
                        above,
                    )
                    % {
                        "count": formats.number_format(above),
                        "max": services.percent_text(obj.max_discount_percent),
                    },
                )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not RecoverySettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        portal = RecoverySettings.current()
        return redirect("admin:recovery_recoverysettings_change", portal.pk)
