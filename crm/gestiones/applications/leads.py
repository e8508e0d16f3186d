"""What a credit lead carries (`CreditLead.data`): read, checked, and compared with the
customer its document belongs to.

A lead is what a prospect typed (or an advisor, for a walk-in): who they are, how to
reach them, and the loan they ask for. It is stored as plain JSON values and read back
through `LeadData`, never as a raw dict.
"""

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from credits.models import LoanProduct
from credits.schedule import MAX_ANNUAL_RATE, MAX_TERM
from credits.services import loans as loan_services
from crm import services as crm_services
from crm import validators
from crm.models import Customer
from lib import search

# Bounds on what a lead may carry, whatever the product allows.
MAX_AMOUNT = Decimal("999999999999.99")
NAME_CHARS = 120
EMAIL_CHARS = 254
COSIGNER_NAME_CHARS = 200
COSIGNER_DOCUMENT_CHARS = 20
NOTES_CHARS = 2000
# What a customer and a lead are compared on: the identity's names and the contact data.
COMPARED_FIELDS = ("first_name", "last_name", "email", "phone")


@dataclass(frozen=True)
class LeadData:
    """A credit lead's content, checked: the person, the contact data, the loan asked for."""

    document_type: str
    document_number: str
    first_name: str
    last_name: str
    phone: str  # E.164, or ""
    email: str
    product_id: int
    amount: Decimal
    term: int
    annual_rate: Decimal | None = None  # None: the product's
    cosigner_name: str = ""
    cosigner_email: str = ""
    cosigner_document: str = ""
    notes: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def as_json(self) -> dict[str, Any]:
        """Return the lead as `CreditLead.data` keeps it: strings and numbers only."""
        data = asdict(self)
        data["amount"] = f"{self.amount:.2f}"
        data["annual_rate"] = None if self.annual_rate is None else f"{self.annual_rate:f}"
        data["product"] = data.pop("product_id")
        return data

    def customer_data(self) -> dict[str, Any]:
        """Return what `crm.services.create_customer` takes of the person."""
        return {
            "document_type": self.document_type,
            "document_number": self.document_number,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "email": self.email,
        }

    def cosigner(self) -> dict[str, str]:
        return {
            "name": self.cosigner_name,
            "email": self.cosigner_email,
            "document": self.cosigner_document,
        }


def clean(data: Mapping[str, Any]) -> LeadData:
    """Check what a lead carries and return it read; ValidationError names each bad field.

    The amount, term and rate are checked against the product's own limits too.
    """
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    document_type = _text(data.get("document_type"))
    if document_type not in Customer.DocumentType.values:
        fail("document_type", _("Elija un tipo de documento de la lista."))
    number = validators.normalize_document_number(_text(data.get("document_number")))[:20]
    if document_type in Customer.DocumentType.values:
        try:
            validators.validate_document(document_type, number)
        except ValidationError as exc:
            for message in exc.messages:
                fail("document_number", message)
    first_name = _text(data.get("first_name"))
    last_name = _text(data.get("last_name"))
    if not first_name:
        fail("first_name", _("Ingrese los nombres."))
    if not last_name:
        fail("last_name", _("Ingrese los apellidos."))
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > NAME_CHARS:
            fail(field, _("Escriba como máximo %(n)s caracteres.") % {"n": NAME_CHARS})
    raw_phone = _text(data.get("phone"))
    phone = crm_services.phone_e164(raw_phone[:40]) if raw_phone else ""
    if raw_phone and not phone:
        fail("phone", _("El celular no es un número válido."))
    email = _text(data.get("email")).lower()
    if email:
        _check_email(email, "email", fail)
    if not raw_phone and not email:
        fail("phone", _("Indique al menos un celular o un correo para contactarlo."))

    product = _product(data.get("product"), fail)
    amount = _decimal(data.get("amount"), "amount", fail, places=2, top=MAX_AMOUNT)
    if amount is None and "amount" not in errors:
        fail("amount", _("Ingrese el monto."))
    elif amount is not None and amount <= 0:
        fail("amount", _("El monto debe ser mayor que cero."))
    term = _integer(data.get("term"), fail)
    annual_rate = _decimal(
        data.get("annual_rate"), "annual_rate", fail, places=4, top=MAX_ANNUAL_RATE
    )
    if annual_rate is not None and annual_rate < 0:
        fail("annual_rate", _("La tasa no puede ser negativa."))

    cosigner_name = _text(data.get("cosigner_name"))
    cosigner_email = _text(data.get("cosigner_email")).lower()
    cosigner_document = validators.normalize_document_number(_text(data.get("cosigner_document")))
    if len(cosigner_name) > COSIGNER_NAME_CHARS:
        fail(
            "cosigner_name", _("Escriba como máximo %(n)s caracteres.") % {"n": COSIGNER_NAME_CHARS}
        )
    if cosigner_email:
        _check_email(cosigner_email, "cosigner_email", fail)
    if len(cosigner_document) > COSIGNER_DOCUMENT_CHARS:
        fail(
            "cosigner_document",
            _("Escriba como máximo %(n)s caracteres.") % {"n": COSIGNER_DOCUMENT_CHARS},
        )
    notes = _text(data.get("notes"), multiline=True)
    if len(notes) > NOTES_CHARS:
        fail("notes", _("Escriba como máximo %(n)s caracteres.") % {"n": NOTES_CHARS})

    if product is not None and not errors:
        check_terms(product, amount=amount, term=term, annual_rate=annual_rate)
    if errors:
        raise ValidationError(errors)
    return LeadData(
        document_type=document_type,
        document_number=number,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        email=email,
        product_id=product.pk,
        amount=amount,
        term=term,
        annual_rate=annual_rate,
        cosigner_name=cosigner_name,
        cosigner_email=cosigner_email,
        cosigner_document=cosigner_document,
        notes=notes,
    )


def read(data: Mapping[str, Any]) -> LeadData:
    """Return a stored lead, read as it was checked when it arrived (no new checks)."""
    rate = data.get("annual_rate")
    return LeadData(
        document_type=str(data.get("document_type") or ""),
        document_number=str(data.get("document_number") or ""),
        first_name=str(data.get("first_name") or ""),
        last_name=str(data.get("last_name") or ""),
        phone=str(data.get("phone") or ""),
        email=str(data.get("email") or ""),
        product_id=int(data.get("product") or 0),
        amount=Decimal(str(data.get("amount") or "0")),
        term=int(data.get("term") or 0),
        annual_rate=None if rate in (None, "") else Decimal(str(rate)),
        cosigner_name=str(data.get("cosigner_name") or ""),
        cosigner_email=str(data.get("cosigner_email") or ""),
        cosigner_document=str(data.get("cosigner_document") or ""),
        notes=str(data.get("notes") or ""),
    )


def check_terms(
    product: LoanProduct, *, amount: Decimal | None, term: int | None, annual_rate: Decimal | None
) -> None:
    """Raise ValidationError, on the lead's field names, unless the product allows these terms."""
    try:
        loan_services.validate_terms(
            product=product, principal=amount, term=term, annual_rate=annual_rate
        )
    except ValidationError as exc:
        renamed = {"principal": "amount"}
        raise ValidationError(
            {renamed.get(field, field): errors for field, errors in exc.message_dict.items()}
        ) from exc


def differences(customer: Customer, lead: LeadData) -> dict[str, tuple[str, str]]:
    """Return where the lead differs from the customer: field → (on file, typed).

    Names are the same when they differ only in case, accents or spaces; a contact datum
    the lead leaves empty is no difference, one the customer lacks is.
    """
    found = {}
    for field in ("first_name", "last_name"):
        on_file, typed = getattr(customer, field) or "", getattr(lead, field)
        if search.normalize(on_file) != search.normalize(typed):
            found[field] = (on_file, typed)
    if lead.email and lead.email.lower() != (customer.email or "").strip().lower():
        found["email"] = (customer.email or "", lead.email)
    on_file_phone = phone_text(customer.phone)
    if lead.phone and lead.phone != on_file_phone:
        found["phone"] = (on_file_phone, lead.phone)
    return found


def shown(found: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Return differences as the timeline shows them: label → "on file → typed"."""
    return {
        field_label(field): f"{on_file or '—'} → {typed}"
        for field, (on_file, typed) in found.items()
    }


def field_label(field: str) -> str:
    return capfirst(str(Customer._meta.get_field(field).verbose_name))


def phone_text(phone: Any) -> str:
    """Return a stored phone as E.164 text ("" when there is none)."""
    if not phone:
        return ""
    return getattr(phone, "as_e164", None) or crm_services.phone_e164(str(phone))


def _text(value: Any, *, multiline: bool = False) -> str:
    text = "" if value is None else str(value)
    if not multiline:
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def _check_email(email: str, field: str, fail) -> None:
    if len(email) > EMAIL_CHARS:
        fail(field, _("El correo es demasiado largo."))
        return
    try:
        validate_email(email)
    except ValidationError:
        fail(field, _("Ingrese un correo electrónico válido."))


def _product(value: Any, fail) -> LoanProduct | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        fail("product", _("Elija el producto de crédito."))
        return None
    product = LoanProduct.objects.filter(pk=pk, is_active=True).first() if pk > 0 else None
    if product is None:
        fail("product", _("Elija un producto de crédito activo."))
    return product


def _decimal(value: Any, field: str, fail, *, places: int, top: Decimal | None = None):
    if value is None or str(value).strip() == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        fail(field, _("Ingrese un número."))
        return None
    if not number.is_finite():
        fail(field, _("Ingrese un número."))
        return None
    if top is not None and abs(number) > top:
        fail(field, _("El número es demasiado grande."))
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        fail(field, _("Use como máximo %(n)s decimales.") % {"n": places})
        return None
    return number


def _integer(value: Any, fail) -> int | None:
    try:
        term = int(str(value).strip())
    except (TypeError, ValueError):
        fail("term", _("Ingrese el plazo en cuotas."))
        return None
    if not 1 <= term <= MAX_TERM:
        fail("term", _("El plazo debe estar entre 1 y %(max)s cuotas.") % {"max": MAX_TERM})
        return None
    return term
