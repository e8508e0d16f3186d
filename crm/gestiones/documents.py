"""Documents from templates: a DOCX with Jinja placeholders, filled from a gestión.

A template is a Word file written by the business (contract, collection letter, promissory
note) with placeholders such as `{{ cliente.nombre_completo }}` or `{{ fecha.dia_letras }}`.
`generate_document` fills it from the gestión (`context_for`), makes a PDF copy and files
both on the gestión as a follow-up of kind DOCUMENT.

The PDF copy is laid out from the filled DOCX by `lib.docx_pdf`.
"""

import datetime
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from credits import services as credit_services
from credits.models import Installment, Loan
from crm.gestiones import selectors, services
from crm.gestiones.models import (
    Attachment,
    DocumentTemplate,
    FollowUp,
    FormField,
    Gestion,
    GestionType,
)
from lib import docx_pdf, money, words

# Largest template accepted (the same limit as an attachment).
MAX_TEMPLATE_BYTES = services.MAX_ATTACHMENT_BYTES

# --- Placeholders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    group: str
    key: str
    description: str

    @property
    def name(self) -> str:
        return f"{self.group}.{self.key}"

    @property
    def tag(self) -> str:
        return "{{ " + self.name + " }}"


_P = Placeholder
PLACEHOLDERS: tuple[Placeholder, ...] = (
    _P("cliente", "nombres", gettext_lazy("Nombres del cliente")),
    _P("cliente", "apellidos", gettext_lazy("Apellidos del cliente")),
    _P("cliente", "nombre_completo", gettext_lazy("Nombres y apellidos")),
    _P("cliente", "tipo_documento", gettext_lazy("Tipo de documento (DNI, RUC…)")),
    _P("cliente", "documento", gettext_lazy("Número de documento")),
    _P("cliente", "direccion", gettext_lazy("Dirección")),
    _P("cliente", "ciudad", gettext_lazy("Ciudad")),
    _P("cliente", "celular", gettext_lazy("Celular")),
    _P("cliente", "correo", gettext_lazy("Correo electrónico")),
    _P("gestion", "numero", gettext_lazy("Número de la gestión")),
    _P("gestion", "tipo", gettext_lazy("Tipo de gestión")),
    _P("gestion", "estado", gettext_lazy("Estado actual")),
    _P("gestion", "asunto", gettext_lazy("Asunto")),
    _P("gestion", "monto_solicitado", gettext_lazy("Monto solicitado (1,234.50)")),
    _P("gestion", "monto_solicitado_letras", gettext_lazy("Monto solicitado en letras")),
    _P("gestion", "monto_aprobado", gettext_lazy("Monto aprobado (1,234.50)")),
    _P("gestion", "monto_aprobado_letras", gettext_lazy("Monto aprobado en letras")),
    _P("gestion", "moneda", gettext_lazy("Símbolo de la moneda (S/, US$)")),
    _P("gestion", "sucursal", gettext_lazy("Sucursal")),
    _P("gestion", "canal", gettext_lazy("Canal")),
    _P("gestion", "gestor", gettext_lazy("Gestor a cargo")),
    _P("gestion", "creada", gettext_lazy("Fecha de apertura (dd/mm/aaaa)")),
    _P(
        "gestion",
        "datos",
        gettext_lazy("Datos del formulario por su clave, p. ej. {{ gestion.datos.destino }}"),
    ),
    _P("credito", "codigo", gettext_lazy("Código de pago del crédito")),
    _P("credito", "producto", gettext_lazy("Producto del crédito")),
    _P("credito", "capital", gettext_lazy("Capital (1,234.50)")),
    _P("credito", "capital_letras", gettext_lazy("Capital en letras")),
    _P("credito", "moneda", gettext_lazy("Símbolo de la moneda del crédito")),
    _P("credito", "tasa", gettext_lazy("Tasa nominal anual en % (24.00)")),
    _P("credito", "plazo", gettext_lazy("Plazo en cuotas")),
    _P("credito", "frecuencia", gettext_lazy("Frecuencia de pago (Mensual…)")),
    _P("credito", "fecha_inicio", gettext_lazy("Fecha de inicio (dd/mm/aaaa)")),
    _P("credito", "primer_vencimiento", gettext_lazy("Primer vencimiento (dd/mm/aaaa)")),
    _P("credito", "cuota", gettext_lazy("Cuota regular (1,234.50)")),
    _P("credito", "cuota_letras", gettext_lazy("Cuota regular en letras")),
    _P("credito", "vehiculo_marca", gettext_lazy("Marca del vehículo")),
    _P("credito", "vehiculo_modelo", gettext_lazy("Modelo del vehículo")),
    _P("credito", "vehiculo_anio", gettext_lazy("Año del vehículo")),
    _P("credito", "vehiculo_placa", gettext_lazy("Placa del vehículo")),
    _P("credito", "vehiculo_vin", gettext_lazy("VIN del vehículo")),
    _P("fecha", "dia", gettext_lazy("Día de hoy (21)")),
    _P("fecha", "dia_letras", gettext_lazy("Día en letras (veintiuno)")),
    _P("fecha", "mes", gettext_lazy("Mes en número (11)")),
    _P("fecha", "mes_letras", gettext_lazy("Mes en letras (noviembre)")),
    _P("fecha", "anio", gettext_lazy("Año (2026)")),
    _P("fecha", "anio_letras", gettext_lazy("Año en letras (dos mil veintiséis)")),
    _P("fecha", "hoy", gettext_lazy("Fecha completa (21 de noviembre de 2026)")),
    _P("empresa", "nombre", gettext_lazy("Nombre de la empresa")),
    _P("empresa", "ruc", gettext_lazy("RUC de la empresa")),
    _P("empresa", "direccion", gettext_lazy("Dirección de la empresa")),
)
# The context's shape: group → its keys.
_KNOWN: dict[str, set[str]] = {
    group: {p.key for p in PLACEHOLDERS if p.group == group}
    for group in dict.fromkeys(p.group for p in PLACEHOLDERS)
}

GROUP_LABELS = {
    "cliente": gettext_lazy("Cliente"),
    "gestion": gettext_lazy("Gestión"),
    "credito": gettext_lazy("Crédito (el vinculado a la gestión, o el vigente más reciente)"),
    "fecha": gettext_lazy("Fecha de generación"),
    "empresa": gettext_lazy("Empresa"),
}

# Used when settings define no COMPANY_NAME / COMPANY_RUC / COMPANY_ADDRESS.
COMPANY = {"nombre": "Cartera", "ruc": "", "direccion": ""}

MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def placeholders() -> dict[str, str]:
    """Return every placeholder's name (`cliente.nombres`) and what it holds."""
    return {p.name: str(p.description) for p in PLACEHOLDERS}


def placeholder_groups() -> list[tuple[str, list[Placeholder]]]:
    """Return the placeholders grouped for the help panel: (group label, placeholders)."""
    groups: dict[str, list[Placeholder]] = {}
    for p in PLACEHOLDERS:
        groups.setdefault(p.group, []).append(p)
    return [(str(GROUP_LABELS[group]), items) for group, items in groups.items()]


# --- The context -------------------------------------------------------------------------


class FormData(dict):
    """The gestión's form data: a key the gestión lacks renders empty instead of failing."""

    def __missing__(self, key: str) -> str:
        return ""


def context_for(gestion: Gestion, *, today: datetime.date | None = None) -> dict[str, Any]:
    """Return the values of every placeholder for `gestion`, grouped as in `PLACEHOLDERS`."""
    today = today or timezone.localdate()
    customer = gestion.customer
    loan = loan_for(gestion)
    currency = gestion.currency
    return {
        "cliente": {
            "nombres": customer.first_name,
            "apellidos": customer.last_name,
            "nombre_completo": customer.full_name,
            "tipo_documento": customer.get_document_type_display(),
            "documento": customer.document_number,
            "direccion": customer.address,
            "ciudad": customer.city,
            "celular": customer.phone.as_national if customer.phone else "",
            "correo": customer.email,
        },
        "gestion": {
            "numero": str(gestion.pk),
            "tipo": gestion.gestion_type.name,
            "estado": gestion.state.name,
            "asunto": gestion.subject,
            "monto_solicitado": money.format_money(gestion.amount_requested),
            "monto_solicitado_letras": words.amount_in_words(gestion.amount_requested, currency),
            "monto_aprobado": money.format_money(gestion.amount_approved),
            "monto_aprobado_letras": words.amount_in_words(gestion.amount_approved, currency),
            "moneda": money.CURRENCY_SYMBOLS.get(currency, currency),
            "sucursal": str(gestion.branch or ""),
            "canal": str(gestion.channel or ""),
            "gestor": _person(gestion.agent),
            "creada": _date(timezone.localtime(gestion.created_at).date()),
            "datos": _form_data(gestion),
        },
        "credito": _loan_values(loan),
        "fecha": {
            "dia": str(today.day),
            "dia_letras": words.number_in_words(today.day),
            "mes": f"{today.month:02d}",
            "mes_letras": MONTHS[today.month - 1],
            "anio": str(today.year),
            "anio_letras": words.number_in_words(today.year),
            "hoy": f"{today.day} de {MONTHS[today.month - 1]} de {today.year}",
        },
        "empresa": {
            "nombre": getattr(settings, "COMPANY_NAME", COMPANY["nombre"]),
            "ruc": getattr(settings, "COMPANY_RUC", COMPANY["ruc"]),
            "direccion": getattr(settings, "COMPANY_ADDRESS", COMPANY["direccion"]),
        },
    }


def loan_for(gestion: Gestion) -> Loan | None:
    """Return the gestión's loan: the first linked, else the customer's latest live one."""
    loan = gestion.loans.select_related("product").order_by("pk").first()
    if loan is None:
        loan = (
            Loan.objects.filter(customer_id=gestion.customer_id, status__in=Loan.LIVE)
            .select_related("product")
            .order_by("-created_at", "-pk")
            .first()
        )
    return loan


def _loan_values(loan: Loan | None) -> dict[str, str]:
    if loan is None:
        return dict.fromkeys(sorted(_KNOWN["credito"]), "")
    installment = _regular_installment(loan)
    return {
        "codigo": loan.payment_code,
        "producto": loan.product.name,
        "capital": money.format_money(loan.principal),
        "capital_letras": words.amount_in_words(loan.principal, loan.currency),
        "moneda": money.CURRENCY_SYMBOLS.get(loan.currency, loan.currency),
        "tasa": f"{money.cents(loan.annual_rate):.2f}",
        "plazo": str(loan.term),
        "frecuencia": loan.get_frequency_display(),
        "fecha_inicio": _date(loan.start_date),
        "primer_vencimiento": _date(loan.first_due_date),
        "cuota": money.format_money(installment),
        "cuota_letras": words.amount_in_words(installment, loan.currency),
        "vehiculo_marca": loan.vehicle_brand,
        "vehiculo_modelo": loan.vehicle_model,
        "vehiculo_anio": str(loan.vehicle_year or ""),
        "vehiculo_placa": loan.vehicle_plate,
        "vehiculo_vin": loan.vehicle_vin,
    }


def _regular_installment(loan: Loan) -> Decimal | None:
    """Return the first regular installment's total: the stored one, else the terms' schedule."""
    first = (
        Installment.objects.filter(loan=loan, kind=Installment.Kind.REGULAR, is_superseded=False)
        .order_by("number")
        .first()
    )
    if first is not None:
        return first.total_due
    try:
        return credit_services.schedule_for(loan).installment
    except (ArithmeticError, ValueError):
        return None


def _form_data(gestion: Gestion) -> FormData:
    kinds = dict(
        gestion.gestion_type.fields.filter(scope=FormField.Scope.GESTION).values_list(
            "name", "kind"
        )
    )
    return FormData(
        {key: _form_value(value, kinds.get(key)) for key, value in (gestion.data or {}).items()}
    )


def _form_value(value: Any, kind: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Sí") if value else _("No")
    if kind == FormField.Kind.DECIMAL:
        try:
            return money.format_money(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    if kind == FormField.Kind.DATE:
        try:
            return _date(datetime.date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def _date(value: datetime.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _person(user: AbstractBaseUser | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# --- Checking and rendering DOCX templates ---------------------------------------------------

# Methods a template may call on the form data (`gestion.datos.items()`).
_DICT_METHODS = {"items", "keys", "values", "get"}


def _environment() -> SandboxedEnvironment:
    # Sandboxed: templates are uploaded by users and must not reach Python internals.
    # Autoescaped: values land inside the document's XML ("&" must become "&amp;").
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def _open_docx(data: bytes) -> DocxTemplate:
    template = DocxTemplate(io.BytesIO(data))
    try:
        template.init_docx()
    except Exception as exc:
        # python-docx raises a zoo of errors (BadZipFile, KeyError, ValueError…) for a
        # file that is not a Word document; all mean the same to the user.
        raise ValidationError(
            {"file": _("El archivo no es un documento Word (.docx) válido.")}
        ) from exc
    return template


def _jinja_source(template: DocxTemplate) -> str:
    """Return the Jinja source of the body, headers and footers, one paragraph a line."""
    sources = [template.patch_xml(template.get_xml())]
    for uri in (template.HEADER_URI, template.FOOTER_URI):
        for _key, part in template.get_headers_footers(uri):
            sources.append(template.patch_xml(template.get_part_xml(part)))
    return "\n".join(re.sub(r"<w:p([ >])", r"\n<w:p\1", source) for source in sources)


def unknown_placeholders(source: str, *, data_keys: Iterable[str] | None = None) -> list[str]:
    """Return the placeholders `source` uses that the context does not have.

    `data_keys` limits `gestion.datos.<key>`; None allows any key there. Raises
    TemplateSyntaxError when the source is not valid Jinja.
    """
    tree = _environment().parse(source)
    roots = meta.find_undeclared_variables(tree)
    unknown = {name for name in roots if name not in _KNOWN}
    allowed_data = None if data_keys is None else set(data_keys) | _DICT_METHODS
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _dotted_path(node)
        if not path or path[0] not in roots or path[0] not in _KNOWN or len(path) < 2:
            continue
        group, key = path[0], path[1]
        if key not in _KNOWN[group]:
            unknown.add(f"{group}.{key}")
            continue
        data_key = path[2] if (group, key) == ("gestion", "datos") and len(path) > 2 else None
        if data_key and allowed_data is not None and data_key not in allowed_data:
            unknown.add(f"gestion.datos.{data_key}")
    return sorted(unknown)


def _dotted_path(node: nodes.Node) -> list[str] | None:
    """Return `a.b.c` of an attribute chain as ["a", "b", "c"], or None if not constant."""
    path: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if not isinstance(node.arg, nodes.Const) or not isinstance(node.arg.value, str):
                return None
            path.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            path.append(node.name)
            return path[::-1]
        else:
            return None


def _syntax_error(exc: TemplateSyntaxError, source: str) -> ValidationError:
    near = ""
    # At the end of the template the line is the last paragraph, not where the mistake is.
    if exc.lineno and "end of template" not in str(exc.message):
        lines = source.splitlines()
        if 0 < exc.lineno <= len(lines):
            near = re.sub(r"<[^>]+>", "", lines[exc.lineno - 1]).strip()[:120]
    message = _("La plantilla tiene un error de sintaxis en un marcador: %(error)s.") % {
        "error": _syntax_detail(exc)
    }
    if near:
        message += " " + _("Está en el párrafo: «%(text)s».") % {"text": near}
    message += " " + _(
        "Revise que cada marcador abra y cierre con llaves dobles y use comillas rectas."
    )
    return ValidationError({"file": message})


def _syntax_detail(exc: TemplateSyntaxError) -> str:
    """Return Jinja's complaint in Spanish for the usual mistakes, else as Jinja says it."""
    text = str(exc.message or exc)
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", text)
    if block:
        return _("falta cerrar el bloque «%(tag)s» con «end%(tag)s»") % {"tag": block.group(1)}
    tag = re.search(r"Encountered unknown tag '(\w+)'", text)
    if tag:
        return _("etiqueta desconocida «%(tag)s»") % {"tag": tag.group(1)}
    return text


def _unknown_error(names: Sequence[str]) -> ValidationError:
    return ValidationError(
        {
            "file": _(
                "La plantilla usa marcadores que no existen: %(names)s. "
                "Consulte la lista de marcadores disponibles."
            )
            % {"names": ", ".join(names)}
        }
    )


def check_template(data: bytes, *, data_keys: Iterable[str] | None = None) -> DocxTemplate:
    """Return the DOCX template in `data`, or raise ValidationError saying what is wrong."""
    template = _open_docx(data)
    source = _jinja_source(template)
    try:
        unknown = unknown_placeholders(source, data_keys=data_keys)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, source) from exc
    if unknown:
        raise _unknown_error(unknown)
    return template


def render_docx(template: DocumentTemplate | bytes, context: Mapping[str, Any]) -> bytes:
    """Fill a DOCX template (a DocumentTemplate or its bytes) and return the new DOCX."""
    if isinstance(template, DocumentTemplate):
        with template.file.open("rb") as handle:
            data = handle.read()
    else:
        data = template
    docx = check_template(data)
    try:
        docx.render(dict(context), jinja_env=_environment())
    except UndefinedError as exc:
        raise ValidationError(
            {"file": _("La plantilla usa un dato que no existe: %(error)s.") % {"error": exc}}
        ) from exc
    except TemplateError as exc:
        raise ValidationError(
            {"file": _("No se pudo llenar la plantilla: %(error)s.") % {"error": exc}}
        ) from exc
    out = io.BytesIO()
    docx.save(out)
    return out.getvalue()


# --- Sample template -------------------------------------------------------------------------


def sample_template() -> bytes:
    """Return a small DOCX that uses several placeholders: a starting point for a template."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    document.sections[0].footer.paragraphs[0].text = "{{ empresa.nombre }}"
    title = document.add_heading("PAGARÉ N.º {{ gestion.numero }}", level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    intro = document.add_paragraph()
    intro.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    intro.add_run(
        "En la ciudad de {{ cliente.ciudad }}, a los {{ fecha.dia_letras }} ({{ fecha.dia }}) "
        "días del mes de {{ fecha.mes_letras }} del año {{ fecha.anio }}, yo, "
    )
    intro.add_run("{{ cliente.nombre_completo }}").bold = True
    intro.add_run(
        ", identificado(a) con {{ cliente.tipo_documento }} N.º {{ cliente.documento }}, "
        "con domicilio en {{ cliente.direccion }}, en adelante LA PARTE DEUDORA, declaro que "
        "debo y pagaré incondicionalmente a la orden de "
    )
    intro.add_run("{{ empresa.nombre }}").bold = True
    intro.add_run(
        " la suma de {{ credito.moneda }} {{ credito.capital }} ({{ credito.capital_letras }}), "
        "en {{ credito.plazo }} cuotas de frecuencia {{ credito.frecuencia }} de "
        "{{ credito.moneda }} {{ credito.cuota }} cada una, con una tasa nominal anual de "
        "{{ credito.tasa }} %."
    )

    document.add_heading("Datos del crédito", level=2)
    rows = (
        ("Código de pago", "{{ credito.codigo }}"),
        ("Capital", "{{ credito.moneda }} {{ credito.capital }}"),
        ("Primer vencimiento", "{{ credito.primer_vencimiento }}"),
        ("Gestión", "{{ gestion.tipo }} ({{ gestion.estado }})"),
    )
    table = document.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for (label, value), row in zip(rows, table.rows, strict=True):
        row.cells[0].paragraphs[0].add_run(label).bold = True
        row.cells[1].text = value

    document.add_paragraph()
    vehicle = document.add_paragraph(
        "{% if credito.vehiculo_placa %}Garantía: vehículo {{ credito.vehiculo_marca }} "
        "{{ credito.vehiculo_modelo }}, placa {{ credito.vehiculo_placa }}."
        "{% endif %}"
    )
    vehicle.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    document.add_paragraph(
        "Firmado en {{ cliente.ciudad }}, el {{ fecha.hoy }}."
    ).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.add_paragraph()
    document.add_paragraph()
    signature = document.add_paragraph("________________________________")
    signature.alignment = WD_ALIGN_PARAGRAPH.CENTER
    name = document.add_paragraph()
    name.alignment = WD_ALIGN_PARAGRAPH.CENTER
    name.add_run("{{ cliente.nombre_completo }}").bold = True
    name.add_run("\n{{ cliente.tipo_documento }} {{ cliente.documento }}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- Reads ---------------------------------------------------------------------------------


def template_list(
    *, q: str = "", gestion_type: GestionType | None = None, is_active: bool | None = None
) -> QuerySet[DocumentTemplate]:
    """Return the templates matching the list's filters, by name, with their types and roles."""
    templates = DocumentTemplate.objects.prefetch_related("gestion_types", "roles").order_by(
        "name", "pk"
    )
    if q.strip():
        templates = templates.filter(name__icontains=q.strip())
    if gestion_type is not None:
        templates = templates.filter(gestion_types=gestion_type)
    if is_active is not None:
        templates = templates.filter(is_active=is_active)
    return templates


def template_for(pk: int) -> DocumentTemplate:
    return get_object_or_404(DocumentTemplate, pk=pk)


def may_generate(user: AbstractBaseUser, template: DocumentTemplate) -> bool:
    """Return whether `user`'s role may generate `template` (no roles: any role)."""
    if user.is_superuser:
        return True
    roles = template.roles.all()
    return not roles.exists() or roles.filter(pk__in=user.groups.values("pk")).exists()


def templates_for(user: AbstractBaseUser, gestion: Gestion) -> list[DocumentTemplate]:
    """Return the active templates of the gestión's type that `user` may generate on it."""
    if not user.has_perm("gestiones.add_followup"):
        return []
    templates = DocumentTemplate.objects.filter(
        is_active=True, gestion_types=gestion.gestion_type_id
    )
    if not user.is_superuser:
        templates = templates.filter(Q(roles__isnull=True) | Q(roles__in=user.groups.values("pk")))
    return list(templates.distinct().order_by("name"))


def attachment_for(user: AbstractBaseUser, pk: int) -> Attachment:
    """Return the attachment `pk` if `user` may see its gestión, else 404."""
    return get_object_or_404(
        Attachment.objects.filter(
            follow_up__gestion__in=selectors.visible_gestiones(user).values("pk")
        ),
        pk=pk,
    )


# --- Writes --------------------------------------------------------------------------------


def generate_document(
    *,
    gestion: Gestion,
    template: DocumentTemplate,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Fill `template` for `gestion` and file the DOCX and its PDF as a follow-up.

    Refused when the template is inactive, is not for the gestión's type, or the actor's
    role may not generate it. Rendering happens before the transaction: it is slow work
    that must not hold the database's write lock; the follow-up, its two files and the
    timeline entry are written in one transaction by `services.add_files_follow_up`.
    """
    now = now or timezone.now()
    if not template.is_active:
        raise ValidationError(_("La plantilla «%(t)s» está inactiva.") % {"t": template.name})
    if not template.gestion_types.filter(pk=gestion.gestion_type_id).exists():
        raise ValidationError(
            _("La plantilla «%(t)s» no es para gestiones de tipo «%(type)s».")
            % {"t": template.name, "type": gestion.gestion_type.name}
        )
    if not may_generate(actor, template):
        raise ValidationError(
            _("Su rol no puede generar la plantilla «%(t)s».") % {"t": template.name}
        )
    context = context_for(gestion, today=timezone.localtime(now).date())
    docx = render_docx(template, context)
    pdf = docx_pdf.docx_to_pdf(docx)
    base = f"{slugify(template.name) or 'documento'}-gestion-{gestion.pk}"
    return services.add_files_follow_up(
        gestion=gestion,
        actor=actor,
        kind=FollowUp.Kind.DOCUMENT,
        notes=_("Documento generado: %(name)s") % {"name": template.name},
        files=[ContentFile(docx, name=f"{base}.docx"), ContentFile(pdf, name=f"{base}.pdf")],
        now=now,
    )


@transaction.atomic
def create_template(
    *,
    name: str,
    file: File,
    gestion_types: Iterable[GestionType],
    roles: Iterable[Group] = (),
    description: str = "",
    is_active: bool = True,
) -> DocumentTemplate:
    """Store a new template once its DOCX opens and uses only known placeholders."""
    gestion_types = list(gestion_types)
    _validate(name=name, file=file, gestion_types=gestion_types)
    template = DocumentTemplate(
        name=name.strip(), description=(description or "").strip(), is_active=is_active
    )
    template.file.save(_file_name(file), file, save=False)
    template.save()
    template.gestion_types.set(gestion_types)
    template.roles.set(list(roles))
    return template


@transaction.atomic
def update_template(
    *,
    template: DocumentTemplate,
    name: str,
    gestion_types: Iterable[GestionType],
    roles: Iterable[Group],
    description: str = "",
    is_active: bool = True,
    file: File | None = None,
) -> DocumentTemplate:
    """Change a template; a new DOCX replaces the old one, which is deleted after commit."""
    gestion_types = list(gestion_types)
    _validate(name=name, file=file, gestion_types=gestion_types, template=template)
    template.name = name.strip()
    template.description = (description or "").strip()
    template.is_active = is_active
    if file is not None:
        old = template.file.name
        storage = template.file.storage
        template.file.save(_file_name(file), file, save=False)
        if old and old != template.file.name:
            transaction.on_commit(lambda: storage.delete(old))
    template.save()
    template.gestion_types.set(gestion_types)
    template.roles.set(list(roles))
    return template


def _validate(
    *,
    name: str,
    file: File | None,
    gestion_types: Sequence[GestionType],
    template: DocumentTemplate | None = None,
) -> None:
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Indique el nombre de la plantilla.")
    else:
        same = DocumentTemplate.objects.filter(name__iexact=name)
        if template is not None:
            same = same.exclude(pk=template.pk)
        if same.exists():
            errors["name"] = _("Ya existe una plantilla con ese nombre.")
    if not gestion_types:
        errors["gestion_types"] = _("Elija al menos un tipo de gestión.")
    data = _template_bytes(file, template, errors)
    if data is not None:
        data_keys = FormField.objects.filter(
            gestion_type__in=gestion_types, scope=FormField.Scope.GESTION
        ).values_list("name", flat=True)
        try:
            check_template(data, data_keys=list(data_keys))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def _template_bytes(
    file: File | None, template: DocumentTemplate | None, errors: dict[str, Any]
) -> bytes | None:
    if file is None:
        if template is None or not template.file:
            errors["file"] = _("Adjunte la plantilla en formato Word (.docx).")
            return None
        with template.file.open("rb") as handle:
            return handle.read()
    if not _file_name(file).lower().endswith(".docx"):
        errors["file"] = _("La plantilla debe ser un archivo Word (.docx).")
        return None
    if file.size is not None and file.size > MAX_TEMPLATE_BYTES:
        errors["file"] = _("La plantilla pesa más de %(mb)s MB.") % {
            "mb": MAX_TEMPLATE_BYTES // (1024 * 1024)
        }
        return None
    file.seek(0)
    data = file.read()
    file.seek(0)
    return data


def _file_name(file: File) -> str:
    return (file.name or "plantilla.docx").replace("\\", "/").rsplit("/", 1)[-1]
