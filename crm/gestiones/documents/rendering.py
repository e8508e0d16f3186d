"""DOCX templates with Jinja placeholders: checked when uploaded, filled when a document is made."""

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes

from crm.gestiones.documents import context, sandbox
from crm.gestiones.models import (
    DocumentTemplate,
)
from lib import office


def _environment() -> sandbox.BoundedEnvironment:
    # Sandboxed and bounded: templates are uploaded by users and must neither reach
    # Python internals nor run without end (see sandbox.py). The same environment
    # checks an upload, so nothing is computed while checking (Jinja folds constant
    # expressions it is allowed to).
    # Autoescaped: values land inside the document's XML ("&" must become "&amp;").
    return sandbox.BoundedEnvironment(undefined=StrictUndefined, autoescape=True)


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
    unknown = {name for name in roots if name not in context.KNOWN}
    allowed_data = None if data_keys is None else set(data_keys) | sandbox.DICT_METHODS
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _dotted_path(node)
        if not path or path[0] not in roots or path[0] not in context.KNOWN or len(path) < 2:
            continue
        group, key = path[0], path[1]
        if key not in context.KNOWN[group]:
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
    unknown = re.search(r"No (filter|test) named '(\w+)'", text)
    if unknown:
        kind = _("el filtro") if unknown.group(1) == "filter" else _("la prueba")
        return _("%(kind)s «%(name)s» no existe o no se permite en plantillas") % {
            "kind": kind,
            "name": unknown.group(2),
        }
    if re.match(r"unexpected end of template", text, re.IGNORECASE):
        return _("un marcador no se cierra antes del final del documento")
    char = re.match(r"""unexpected char (['"])(.)\1 at \d+""", text)
    if char:
        return _("el carácter «%(char)s» no se permite dentro de un marcador") % {
            "char": char.group(2)
        }
    extra = re.match(r"unexpected '(.+)'$", text)
    if extra and extra.group(1)[0] in "</>":
        # The document's own XML after a marker that was never closed.
        return _("un marcador no se cierra en su párrafo")
    if extra:
        return _("sobra «%(token)s»") % {"token": extra.group(1)}
    expected = re.match(r"expected token '(.+)', got '(.+)'$", text)
    if expected:
        return _("se esperaba %(expected)s y aparece %(got)s") % {
            "expected": _token_name(expected.group(1)),
            "got": _token_name(expected.group(2)),
        }
    missing = re.match(r"Expected an expression, got '(.+)'$", text)
    if missing:
        return _("falta un dato antes de %(got)s") % {"got": _token_name(missing.group(1))}
    return text


def _token_name(token: str) -> str:
    """Return how a Jinja token reads in an error message, in Spanish."""
    names = {
        "end of print statement": "«}}»",
        "end of statement block": "«%}»",
        "name": _("un nombre"),
        "end of template": _("el final del documento"),
    }
    return names.get(token, f"«{token}»")


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


def _check_self_contained(data: bytes) -> None:
    """Raise ValidationError when the DOCX brings in something from outside itself, which
    LibreOffice would fetch from the server when making the PDF (a URL of the internal
    network, a file of the server)."""
    try:
        outside = office.external_content(data)
    except ValueError as exc:
        raise ValidationError(
            {"file": _("El archivo no es un documento Word (.docx) válido.")}
        ) from exc
    if not outside:
        return
    item = outside[0]
    target = item.target if len(item.target) <= 120 else item.target[:119] + "…"
    if item.kind.lower() == "image":
        message = _(
            "La plantilla enlaza una imagen externa (%(target)s): insértela en el documento "
            "en vez de enlazarla."
        )
    elif item.kind == "field":
        message = _(
            "La plantilla tiene un campo que trae contenido de fuera del documento "
            "(%(target)s): quítelo (en Word, Alt+F9 muestra los códigos de campo)."
        )
    else:
        message = _(
            "La plantilla enlaza %(kind)s fuera del documento (%(target)s): quítelo; una "
            "plantilla solo puede usar lo que lleva dentro."
        )
    kinds = {
        "oleobject": _("un objeto (OLE) vinculado"),
        "attachedtemplate": _("una plantilla de Word adjunta"),
        "frame": _("un marco"),
        "subdocument": _("un subdocumento"),
        "afchunk": _("un archivo para combinar (altChunk)"),
    }
    kind = kinds.get(item.kind.lower(), _("un contenido"))
    raise ValidationError({"file": message % {"target": target, "kind": kind}})


def check_template(data: bytes, *, data_keys: Iterable[str] | None = None) -> DocxTemplate:
    """Return the DOCX template in `data`, or raise ValidationError saying what is wrong."""
    template = _open_docx(data)
    _check_self_contained(data)
    source = _jinja_source(template)
    try:
        unknown = unknown_placeholders(source, data_keys=data_keys)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, source) from exc
    if unknown:
        raise _unknown_error(unknown)
    return template


class _Blank(str):
    """An empty value that notes its placeholder's name when the document prints it.

    It is "" to every test (`{% if credito.vehiculo_placa %}` stays false, so a guarded
    paragraph does not count); only being written into the document counts as a blank.
    """

    def __new__(cls, name: str, printed: list[str]) -> "_Blank":
        blank = super().__new__(cls, "")
        blank.name, blank.printed = name, printed
        return blank

    def __html__(self) -> str:  # how the autoescaping environment writes a value
        if self.name not in self.printed:
            self.printed.append(self.name)
        return ""

    def __str__(self) -> str:
        return self.__html__()


class _BlankData(dict):
    """The gestión's form data, where a missing key is a blank too."""

    def __init__(self, data: Mapping[str, Any], printed: list[str]) -> None:
        super().__init__(data)
        self.printed = printed

    def __missing__(self, key: str) -> _Blank:
        return _Blank(f"gestion.datos.{key}", self.printed)


def _tracked(context: Mapping[str, Any], printed: list[str]) -> dict[str, Any]:
    """Return the context with each empty value replaced by a `_Blank` of its name."""
    tracked: dict[str, Any] = {}
    for group, values in context.items():
        if not isinstance(values, Mapping):
            tracked[group] = values
            continue
        inner: dict[str, Any] = {}
        for key, value in values.items():
            name = f"{group}.{key}"
            if isinstance(value, Mapping):
                inner[key] = _BlankData(
                    {
                        k: _Blank(f"{name}.{k}", printed) if v in (None, "") else v
                        for k, v in value.items()
                    },
                    printed,
                )
            else:
                inner[key] = _Blank(name, printed) if value in (None, "") else value
        tracked[group] = inner
    return tracked


@dataclass(frozen=True)
class Rendered:
    """A filled DOCX, and the placeholders it printed empty (their names, in order)."""

    docx: bytes
    blanks: list[str]


def render_docx(template: DocumentTemplate | bytes, context: Mapping[str, Any]) -> bytes:
    """Fill a DOCX template (a DocumentTemplate or its bytes) and return the new DOCX."""
    return render_document(template, context).docx


def render_document(template: DocumentTemplate | bytes, context: Mapping[str, Any]) -> Rendered:
    """Fill a DOCX template and say which placeholders it printed with nothing to print."""
    if isinstance(template, DocumentTemplate):
        with template.file.open("rb") as handle:
            data = handle.read()
    else:
        data = template
    docx = check_template(data)
    printed: list[str] = []
    try:
        docx.render(
            _tracked(context, printed),
            jinja_env=_environment(),
        )
    except UndefinedError as exc:
        raise ValidationError(
            {"file": _("La plantilla usa un dato que no existe: %(error)s.") % {"error": exc}}
        ) from exc
    except TemplateError as exc:
        raise ValidationError(
            {"file": _("No se pudo llenar la plantilla: %(error)s.") % {"error": exc}}
        ) from exc
    except RecursionError as exc:
        raise ValidationError(
            {"file": _("No se pudo llenar la plantilla: una macro se llama a sí misma sin fin.")}
        ) from exc
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        # The template's own arithmetic or conversions ({{ a / 0 }}, {{ "x" - 1 }}).
        raise ValidationError(
            {
                "file": _("No se pudo llenar la plantilla: una operación no es válida (%(error)s).")
                % {"error": exc}
            }
        ) from exc
    out = io.BytesIO()
    docx.save(out)
    # Again on what the placeholders wrote: a field code can be written as text marked safe.
    _check_self_contained(out.getvalue())
    return Rendered(docx=out.getvalue(), blanks=printed)


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
