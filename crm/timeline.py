"""How the 360 timeline tells an entry: a sentence, and the details worth a person's reading.

An entry's `summary` is its sentence, written by the service that recorded it (the full
text when the summary had to be shortened). Its `payload` holds the details, under keys
from a small vocabulary: each key has a Spanish label and a kind that says how to write
its value (money with its currency, a date, yes/no) or that it is for machines only (ids,
provider references), and is not shown. A higher app registers the keys it writes with
`register_detail` from its `AppConfig.ready`; a key nobody registered is shown with its
name made readable, never as code.

Amounts in sentences written as "PEN 1234.50" (entries recorded before the money filter,
and apps that do not use `crm.display.money_text` yet) are shown as "S/ 1,234.50".
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm import display
from crm.models import Interaction
from lib.money import Currency
from lib.registry import Registry

TEXT = "text"
MONEY = "money"
DATE = "date"
PERCENT = "percent"
HIDDEN = "hidden"
# Payload keys that name the currency of the entry's MONEY details.
CURRENCY_KEYS = ("moneda", "currency")


@dataclass(frozen=True)
class Detail:
    """How one payload key is shown: its label, and how its value is written."""

    label: Any  # a (lazy) string
    kind: str = TEXT


@dataclass(frozen=True)
class Entry:
    """What the timeline shows of an interaction."""

    sentence: str
    details: list[tuple[str, str]]


_details: Registry[Detail] = Registry("A timeline detail")


def register_detail(key: str, label: Any = "", kind: str = TEXT) -> None:
    """Show the payload key `key` as `label`, written as `kind` (HIDDEN: not shown)."""
    _details.register(key, Detail(label=label, kind=kind))


def entry(interaction: Interaction) -> Entry:
    """Return the sentence and the readable details of a timeline entry."""
    sentence = display.amounts_in_text(interaction.text or interaction.summary, on_screen=True)
    payload = interaction.payload or {}
    currency = _currency(payload, interaction.summary)
    details: list[tuple[str, str]] = []
    for key, value in payload.items():
        detail = _details.get(str(key)) or Detail(label=_readable(str(key)))
        if detail.kind == HIDDEN or str(key) in CURRENCY_KEYS:
            continue
        if isinstance(value, Mapping):
            # A group of values (a survey's answers): one line each.
            details += [
                (str(k), text) for k, v in value.items() if (text := _text(v, TEXT, currency))
            ]
            continue
        text = _text(value, detail.kind, currency)
        if text:
            details.append((str(detail.label), text))
    return Entry(sentence=sentence, details=details)


def _readable(key: str) -> str:
    return capfirst(key.replace("_", " ").strip())


def _currency(payload: Mapping[str, Any], summary: str) -> str:
    for key in CURRENCY_KEYS:
        if payload.get(key):
            return str(payload[key])
    found = re.search(r"\b(PEN|USD)\b|(US\$)|(S/)", summary or "")
    if found:
        return {"US$": Currency.USD, "S/": Currency.PEN}.get(found.group(0), found.group(0))
    return Currency.PEN


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _text(value: Any, kind: str, currency: str) -> str:
    """Return a payload value as a person reads it; "" for nothing worth showing."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return gettext("Sí") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(t for v in value if (t := _text(v, kind, currency)))
    if kind == MONEY:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        return display.money_on_screen(amount, currency) if amount else ""
    if kind == PERCENT:
        return f"{display.amount(value)} %"
    text = str(value)
    if _ISO_DATE.match(text):
        try:
            return formats.date_format(datetime.date.fromisoformat(text), "SHORT_DATE_FORMAT")
        except ValueError:
            return text
    if _ISO_DATETIME.match(text):
        try:
            at = datetime.datetime.fromisoformat(text)
        except ValueError:
            return text
        if timezone.is_aware(at):
            at = timezone.localtime(at)
        return formats.date_format(at, "SHORT_DATETIME_FORMAT")
    return display.amounts_in_text(text, on_screen=True)


# The vocabulary every app shares. Ids and provider references are for machines (admin
# shows them); the sentence already names what they point to.
for _key in (
    "delivery",
    "gestion",
    "loan",
    "payment",
    "investor",
    "contract",
    "submission",
    "event",
    "status",
    "annulled",
    "cita",
    "calcom_uid",
    "interaction",
    "import",  # the batch's number: its sentence names it
    "skipped",  # a skipped message's key, so the same one skipped again is said once
):
    register_detail(_key, kind=HIDDEN)

for _key, _label, _kind in (
    ("para", _("Para"), TEXT),
    ("mensaje", _("Mensaje"), TEXT),
    ("monto", _("Monto"), MONEY),
    ("total", _("Total"), MONEY),
    ("prepaid_principal", _("Capital prepagado"), MONEY),
    ("credited", _("A saldo a favor"), MONEY),
    ("credit_spent", _("Saldo a favor usado"), MONEY),
    ("overpaid", _("Pagado de más"), MONEY),
    ("reference", _("Referencia"), TEXT),
    ("received_on", _("Recibido el"), DATE),
    ("reason", _("Motivo"), TEXT),
    ("product", _("Producto"), TEXT),
    ("rate", _("Tasa anual"), PERCENT),
    ("document", _("Documento firmado"), TEXT),
    ("kommo_lead", _("Lead de Kommo"), TEXT),
    # The call center's (callcenter.services): a Kommo lead's id.
    ("lead", _("Lead de Kommo"), TEXT),
    # A credit lead's number (crm.gestiones.applications: calculator, campaign, walk-in).
    ("credit_lead", _("Lead de crédito"), TEXT),
    ("pedido", _("Pedido"), TEXT),
    ("notas", _("Notas"), TEXT),
    ("motivo", _("Motivo"), TEXT),
    ("acción", _("Acción"), TEXT),
    ("duración", _("Duración"), TEXT),
    ("enlace", _("Enlace de la videollamada"), TEXT),
):
    register_detail(_key, _label, _kind)
