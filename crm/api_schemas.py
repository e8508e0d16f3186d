"""What every JSON API endpoint's input and errors share (config/api.py mounts the routers):
schemas whose validation errors read in Spanish, a customer's document checked as its type
requires, and the shapes of the error answers. Here, in the customer core, so every app's
endpoints use them (collections, recovery, the book).
"""

import datetime
import functools
import re
import typing
from decimal import Decimal
from typing import Annotated, Any

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.utils.translation import ngettext
from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import AfterValidator, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from crm import validators as document_validators
from crm.models import Customer

# --- Validation errors in Spanish ----------------------------------------------------------

# Pydantic's error types -> the message the bot shows; {name} takes the error's context.
_MESSAGES = {
    "missing": N_("Este campo es obligatorio."),
    "extra_forbidden": N_("Este campo no se admite."),
    "string_type": N_("Debe ser un texto."),
    "string_pattern_mismatch": N_("Tiene caracteres que no se admiten."),
    "greater_than": N_("Debe ser mayor que {gt}."),
    "greater_than_equal": N_("Debe ser mayor o igual que {ge}."),
    "less_than": N_("Debe ser menor que {lt}."),
    "less_than_equal": N_("Debe ser menor o igual que {le}."),
    "decimal_parsing": N_("Indique un número válido, con punto decimal."),
    "decimal_type": N_("Indique un número válido, con punto decimal."),
    "decimal_max_places": N_("Use como máximo {decimal_places} decimales."),
    "decimal_max_digits": N_("El número tiene demasiadas cifras."),
    "decimal_whole_digits": N_("El número tiene demasiadas cifras."),
    "finite_number": N_("Indique un número finito."),
    "float_parsing": N_("Indique un número válido, con punto decimal."),
    "float_type": N_("Indique un número válido, con punto decimal."),
    "int_parsing": N_("Indique un número entero."),
    "int_type": N_("Indique un número entero."),
    "int_from_float": N_("Indique un número entero."),
    "int_parsing_size": N_("El número es demasiado grande."),
    "bool_parsing": N_("Indique true o false."),
    "bool_type": N_("Indique true o false."),
    "list_type": N_("Se esperaba una lista JSON."),
    "date_parsing": N_("Indique una fecha válida (AAAA-MM-DD)."),
    "date_from_datetime_parsing": N_("Indique una fecha válida (AAAA-MM-DD)."),
    "date_from_datetime_inexact": N_("Indique una fecha sin hora (AAAA-MM-DD)."),
    "date_type": N_("Indique una fecha válida (AAAA-MM-DD)."),
    "datetime_parsing": N_("Indique una fecha y hora válidas (AAAA-MM-DDTHH:MM)."),
    "datetime_from_date_parsing": N_("Indique una fecha y hora válidas (AAAA-MM-DDTHH:MM)."),
    "datetime_type": N_("Indique una fecha y hora válidas (AAAA-MM-DDTHH:MM)."),
    "enum": N_("Elija una de estas opciones: {expected}."),
    "literal_error": N_("Elija una de estas opciones: {expected}."),
    "model_type": N_("Se esperaba un objeto JSON."),
    "model_attributes_type": N_("Se esperaba un objeto JSON."),
    "dict_type": N_("Se esperaba un objeto JSON."),
    "json_invalid": N_("El JSON no es válido."),
}
# Those that count something: (context key, singular, plural), so "1 carácter", not "1 caracteres".
_COUNTED = {
    "string_too_short": (
        "min_length",
        N_("Debe tener al menos %(n)s carácter."),
        N_("Debe tener al menos %(n)s caracteres."),
    ),
    "string_too_long": (
        "max_length",
        N_("Debe tener como máximo %(n)s carácter."),
        N_("Debe tener como máximo %(n)s caracteres."),
    ),
    "too_short": (
        "min_length",
        N_("Debe tener al menos %(n)s elemento."),
        N_("Debe tener al menos %(n)s elementos."),
    ),
    "too_long": (
        "max_length",
        N_("Debe tener como máximo %(n)s elemento."),
        N_("Debe tener como máximo %(n)s elementos."),
    ),
}

# The types of the errors the validators below raise, already in Spanish.
NUL_TYPE = "null_character"
CONTROL_TYPE = "control_character"
PLAIN_NUMBER_TYPE = "plain_number"
_OWN_TYPES = {"document", "email", NUL_TYPE, CONTROL_TYPE, PLAIN_NUMBER_TYPE}


def spanish_message(error: Any) -> str:
    """Return a validation error's message in Spanish, whichever schema raised it.

    A message already in Spanish stays: this API's own errors, those translated by `BotIn`
    (which lost the context a template needs), and a validator's ValueError.
    """
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # raised by one of this API's validators, in Spanish
    if kind in _COUNTED and _COUNTED[kind][0] in ctx:
        key, singular, plural = _COUNTED[kind]
        count = int(ctx[key])
        return ngettext(singular, plural, count) % {"n": count}
    template = _MESSAGES.get(kind)
    if template is None:
        if kind in _OWN_TYPES or kind == "value_error" or kind in _COUNTED:
            return str(error.get("msg", ""))
        return _("Valor no válido.")
    values = {name: str(value).replace(" or ", " o ") for name, value in ctx.items()}
    try:
        return _(template).format(**values)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))  # translated already, without its context


def _spanish(error: Any) -> dict:
    """Return a pydantic error with its message in Spanish (our own messages are already)."""
    return {
        "type": PydanticCustomError(error["type"], spanish_message(error)),
        "loc": error["loc"],
        "input": error.get("input"),
    }


def _nul_errors(data: Any) -> list[dict]:
    """Errors for each text in `data` with a NUL character, which PostgreSQL cannot store
    (Django's forms refuse it too, with ProhibitNullCharactersValidator), or another
    control character, named by its code point. A loop, not recursion: JSON may nest as
    deep as its parser allows."""
    errors = []
    pending: list[tuple[tuple, Any]] = [((), data)]
    while pending:
        loc, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            message = _("Tiene un carácter nulo, que no se admite.")
            errors.append(
                {"type": PydanticCustomError(NUL_TYPE, message), "loc": loc, "input": value}
            )
        elif message := document_validators.control_character_problem(value):
            errors.append(
                {"type": PydanticCustomError(CONTROL_TYPE, message), "loc": loc, "input": value}
            )
        elif isinstance(value, dict):
            for key, item in value.items():
                pending += [((*loc, str(key)), key), ((*loc, str(key)), item)]
        elif isinstance(value, list | tuple):
            pending += [((*loc, index), item) for index, item in enumerate(value)]
    return errors


# --- Numbers ------------------------------------------------------------------------------

# A number sent as text (a query string, a JSON string) is ASCII digits with a point for the
# decimals. Pydantic alone also reads "1e4" (10000), "1_0000" and full-width digits, which
# a person typing a query means as something else or by mistake. A JSON number is the
# client's program's and stays as JSON reads it.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)


class _Plain:
    """Marks a number field whose text must be plain (`PlainNumbersIn` checks it)."""


_PLAIN = _Plain()
PlainDecimal = Annotated[Decimal, _PLAIN]
PlainInt = Annotated[int, _PLAIN]


def local_time(value: datetime.datetime | None) -> datetime.datetime | None:
    """A moment as the lender lives it, with its offset ("2026-06-18T12:00:00-05:00"): in
    UTC ("…T17:00:00Z") a bot showing the date part said the next day for any time after
    19:00 in Lima. The API reads a time without an offset as local, and writes it so."""
    if value is None or timezone.is_naive(value):
        return value
    return timezone.localtime(value)


# An output field: a moment written in local time with its offset (`local_time`).
LocalDateTime = Annotated[datetime.datetime, AfterValidator(local_time)]


@functools.cache
def _plain_fields(schema: type[Schema]) -> tuple[str, ...]:
    """The names of a schema's PlainDecimal and PlainInt fields, optional ones too."""

    def marked(annotation: Any) -> bool:
        if typing.get_origin(annotation) is Annotated and _PLAIN in annotation.__metadata__:
            return True
        return any(marked(arg) for arg in typing.get_args(annotation))

    return tuple(
        name
        for name, field in schema.model_fields.items()
        if _PLAIN in field.metadata or marked(field.annotation)
    )


class PlainNumbersIn(Schema):
    """An input schema whose PlainDecimal and PlainInt fields, sent as text, are plain.

    A model-level check rather than a validator on the type: pydantic would then apply the
    field's bounds after it, out of its JSON schema and with their figures' repr in the
    message ("menor o igual que Decimal('99999999.99')").
    """

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: Any) -> Any:
        raw = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(raw, dict):
            return data
        message = _("Escriba el número solo con dígitos y, si tiene decimales, un punto: 1500.50.")
        errors = [
            {
                "type": PydanticCustomError(PLAIN_NUMBER_TYPE, message),
                "loc": (name,),
                "input": raw[name],
            }
            for name in _plain_fields(cls)
            if isinstance(raw.get(name), str) and not _PLAIN_NUMBER.fullmatch(raw[name].strip())
        ]
        if errors:
            raise PydanticValidationError.from_exception_data(cls.__name__, errors)
        return data


class BotIn(PlainNumbersIn):
    """An input schema whose validation errors read in Spanish."""

    @model_validator(mode="wrap")
    @classmethod
    def _in_spanish(cls, data: Any, handler: Any) -> Any:
        nul = _nul_errors(data)
        if nul:
            raise PydanticValidationError.from_exception_data(cls.__name__, nul)
        try:
            return handler(data)
        except PydanticValidationError as exc:
            raise PydanticValidationError.from_exception_data(
                exc.title, [_spanish(error) for error in exc.errors()]
            ) from None


class DocumentIn(BotIn):
    tipo_documento: Customer.DocumentType = Field(
        description="Tipo de documento: dni, ce (carné de extranjería), ruc o passport."
    )
    numero_documento: str = Field(
        min_length=6,
        max_length=20,
        pattern=r"^[0-9A-Za-z .-]+$",
        description="Número de documento; se ignoran espacios, puntos y guiones. DNI: 8 "
        "dígitos; RUC: 11; carné de extranjería: 9 a 12 letras o dígitos; pasaporte: 6 a 12.",
    )

    @field_validator("numero_documento")
    @classmethod
    def _valid_for_its_type(cls, value: str, info: ValidationInfo) -> str:
        number = document_validators.normalize_document_number(value)
        document_type = info.data.get("tipo_documento")
        if document_type is None:
            return number  # the type is wrong, and says so
        try:
            document_validators.validate_document(document_type, number)
        except DjangoValidationError as exc:
            raise PydanticCustomError("document", exc.messages[0]) from None
        return number


class DetailOut(Schema):
    detail: str


class ValidationErrorOut(Schema):
    detail: list[dict]


# What every endpoint behind a token may answer besides its own (400: more parameters than
# Django reads, config/api.py); and a 404 where it reads one thing.
TOKEN_ERRORS: dict[int, Any] = {
    400: DetailOut,
    401: DetailOut,
    403: DetailOut,
    422: ValidationErrorOut,
    429: DetailOut,
}
NOT_FOUND: dict[int, Any] = {404: DetailOut, **TOKEN_ERRORS}

MAX_PAGE = 10_000
MAX_PER_PAGE = 100


# What a page's `siguiente` signs: the last row's values in the list's order.
_CURSOR_SALT = "crm.api.page"


def _checked_cursor(text: str) -> str:
    if text and _cursor_values(text) is None:
        raise ValueError(
            _("No es un valor «siguiente» de esta API: pase el que trajo la página anterior.")
        )
    return text


class PageQuery(BotIn):
    """A list's page: which one and how many rows (a list's query schema extends it).

    `despues` (the `siguiente` of the page before) reads the rows after that page's last
    one, in the list's order: pages that hold still while rows are added, where `pagina`
    counts rows from the start and shifts with every row added before them.
    """

    pagina: PlainInt = Field(1, ge=1, le=MAX_PAGE)
    por_pagina: PlainInt = Field(50, ge=1, le=MAX_PER_PAGE)
    despues: Annotated[str, AfterValidator(_checked_cursor)] = Field(
        "",
        max_length=500,
        description=(
            "El valor `siguiente` de la página anterior: la página que le sigue, estable "
            "aunque se agreguen filas. Con él, `pagina` no se usa."
        ),
    )


class PageOut(Schema):
    """A list's page header; a list's page schema extends it with its `resultados`."""

    total: int
    pagina: int
    por_pagina: int
    siguiente: str | None = Field(
        description="Páselo en `despues` para pedir la página siguiente; null en la última."
    )


def paged(rows: QuerySet, params: PageQuery) -> tuple[dict, list]:
    """Return a list's page of `rows` (ordered by fields that are never NULL and end with
    a unique one): its header (total, page, size, the next page's `siguiente`) and rows."""
    order = [(name.lstrip("-"), name.startswith("-")) for name in rows.query.order_by]
    size = params.por_pagina
    if params.despues:
        page = list(rows.filter(_after(order, _cursor_values(params.despues)))[: size + 1])
    else:
        start = (params.pagina - 1) * size
        page = list(rows[start : start + size + 1])
    more, page = len(page) > size, page[:size]
    header = {
        "total": rows.count(),
        "pagina": params.pagina,
        "por_pagina": size,
        "siguiente": _cursor(page[-1], order) if more else None,
    }
    return header, page


def _cursor(row: Any, order: list[tuple[str, bool]]) -> str:
    values = [getattr(row, name) for name, _descending in order]
    # A date, a moment or an amount as text: the field reads it back in the lookup.
    values = [v.isoformat() if isinstance(v, datetime.date) else v for v in values]
    values = [str(v) if isinstance(v, Decimal) else v for v in values]
    return signing.dumps(values, salt=_CURSOR_SALT)


def _cursor_values(text: str) -> list | None:
    try:
        values = signing.loads(text, salt=_CURSOR_SALT)
    except signing.BadSignature:
        return None
    return values if isinstance(values, list) else None


def _after(order: list[tuple[str, bool]], values: list) -> Q:
    """The rows after `values` in `order`: (a > x) or (a = x and b > y) or …, each field
    in its own direction. A cursor of another list matches no row."""
    if len(values) != len(order):
        return Q(pk__in=[])
    after = Q(pk__in=[])
    for index, (name, descending) in enumerate(order):
        step = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[index]})
        for earlier, value in zip(order[:index], values[:index], strict=True):
            step &= Q(**{earlier[0]: value})
        after |= step
    return after


def amount_text(value: Decimal) -> str:
    """An amount as every endpoint writes it: a string with two decimals ("1234.50")."""
    return f"{value:.2f}"
