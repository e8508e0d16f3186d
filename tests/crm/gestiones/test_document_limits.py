"""An uploaded template cannot run for hours or fill the memory: it stops with a clear error."""

import pytest
from django.core.exceptions import ValidationError

from crm.gestiones.documents import rendering, sandbox
from tests.crm.gestiones.test_documents import docx_text, docx_with

CONTEXT = {"cliente": {"nombre_completo": "Rosa Huamán", "documento": "45678912"}}


def fill(*paragraphs: str) -> str:
    return docx_text(rendering.render_document(docx_with(*paragraphs), CONTEXT).docx)


def refusal(*paragraphs: str) -> str:
    with pytest.raises(ValidationError) as caught:
        rendering.render_document(docx_with(*paragraphs), CONTEXT)
    return " ".join(caught.value.message_dict["file"])


def test_a_normal_template_with_a_360_row_loop_fills():
    text = fill(
        "{{ cliente.nombre_completo|upper }}",
        "{% for n in range(1, 361) %}{{ n }}:{{ cliente.documento[-4:] }} {% endfor %}",
        "{{ range(360)|list|length }} cuotas; {{ '%.2f'|format(1234.5) }}; "
        "{{ 'a, b'.split(', ')|join('-') }}",
    )

    assert "ROSA HUAMÁN" in text
    assert "360:8912" in text
    assert "360 cuotas; 1234.50; a-b" in text


@pytest.mark.parametrize(
    ("source", "says"),
    [
        # The 100,000,000 turns of two nested loops.
        (
            "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
            "repite sus bucles más de 100.000 veces",
        ),
        (
            "{% set x = [1] * 10000 %}{% for a in x %}{% for b in x %}{% endfor %}{% endfor %}",
            "repite sus bucles",
        ),
        ("{% for a in range(1000000000) %}{% endfor %}", "rango de más de 100.000"),
        ('{{ "x" * 100000000 }}', "más de 1.000.000"),
        ('{{ 100000000 * "x" }}', "más de 1.000.000"),
        ("{{ 2 ** (10 ** 10) }}", "número demasiado grande"),
        (
            "{% set ns = namespace(x=10) %}{% for i in range(40) %}"
            "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x }}",
            "número demasiado grande",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "más de 1.000.000",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "más de 1.000.000",
        ),
        ('{{ range(90000)|join("x" * 1000) }}', "más de 1.000.000"),
        ('{{ ("x" * 100000)|replace("x", "yyyyyyyyyyyyyyyyyyyy") }}', "más de 1.000.000"),
        ('{{ "%0999999999d"|format(1) }}', "formato de más de 1.000"),
        ('{{ "%.999999999f" % 1 }}', "formato de más de 1.000"),
        ('{{ "{:>999999999}".format(1) }}', "formato de más de 1.000"),
        (
            "{% for a in range(99000) %}{{ cliente.nombre_completo * 90 }}{% endfor %}",
            "escribe más de",
        ),
    ],
)
def test_a_runaway_template_stops_with_the_limit_it_crossed(source, says):
    message = refusal(source)

    assert says in message, message
    assert message.startswith("No se pudo llenar la plantilla")


@pytest.mark.parametrize(
    "source",
    [
        '{{ "x".ljust(999999999) }}',
        '{{ "x".center(999999999) }}',
        '{{ "x".zfill(999999999) }}',
        "{{ lipsum(999999999) }}",
        "{{ cliente.items.__self__ }}",
        "{% set x = [1] %}{{ x.append(2) }}",
    ],
)
def test_methods_and_filters_that_can_widen_text_are_not_there(source):
    message = refusal(source)

    assert message.startswith("No se pudo llenar la plantilla") or "no existe" in message


@pytest.mark.parametrize("name", ["center", "indent", "wordwrap"])
def test_filters_that_widen_text_are_refused_on_upload(name):
    with pytest.raises(ValidationError) as caught:
        rendering.check_template(docx_with(f'{{{{ "x"|{name}(999999999) }}}}'))

    assert f"el filtro «{name}» no existe o no se permite en plantillas" in str(caught.value)


def test_checking_an_upload_computes_nothing():
    # Jinja folds constant expressions while compiling; a check must not run them.
    rendering.check_template(docx_with("{{ 2 ** (10 ** 10) }} {{ '%0999999999d'|format(1) }}"))


def test_the_body_text_of_a_long_loop_counts_as_written(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 50_000)

    message = refusal("{% for a in range(90000) %}texto fijo del contrato{% endfor %}")

    assert "escribe más de" in message


def test_a_slow_template_stops_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.0)

    message = refusal("{% for n in range(3) %}{{ n }}{% endfor %}")

    assert "tarda más de 0 segundos" in message


@pytest.mark.parametrize(
    "source",
    [
        "{{ 1 / 0 }}",
        '{{ "x" - 1 }}',
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ [1][1000] }}",
    ],
)
def test_the_templates_own_errors_are_form_errors_not_500s(source):
    message = refusal(source)

    assert message.startswith("No se pudo llenar la plantilla") or "no existe" in message


@pytest.mark.parametrize(
    "source",
    [
        # A list repeating a long text, made text by a filter: 1,000 times the text.
        '{% set a = "x" * 1000 %}{{ ([a] * 1000)|string|length }}',
        '{% set a = "x" * 1000 %}{{ ([a] * 1000)|map("upper")|list|length }}',
        '{% set a = "x" * 1000 %}{{ ([a] * 1000)|sort|length }}',
        # The same through a literal list, and through dict() and namespace().
        '{% set a = "x" * 1000 %}{{ [a, a, a, a]|string|length }}',
        '{% set a = "x" * 1000 %}{{ dict(b=a, c=a)|string|length }}',
        '{% set a = "x" * 1000 %}{{ namespace(b=a, c=a)|string|length }}',
        # Each item within the limit, all of them over it.
        '{% set a = "x" * 999 %}{{ ((a|list)[:500])|map("replace", "x", a)|list|length }}',
    ],
)
def test_a_list_weighs_what_it_holds(monkeypatch, source):
    monkeypatch.setattr(sandbox, "MAX_VALUE_LENGTH", 1000)

    message = refusal(source)

    assert "más de 1.000 elementos" in message, message


def test_a_list_written_out_counts_as_its_text(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 50_000)

    message = refusal("{% set b = range(1000)|list %}{% for i in range(100) %}{{ b }}{% endfor %}")

    assert "escribe más de 50.000 caracteres" in message, message


def test_lists_and_tuples_a_document_uses_still_fill():
    text = fill(
        "{% for a, b in [(1, 2), (3, 4)] %}{{ a }}-{{ b }} {% endfor %}",
        "{{ range(360)|map('string')|join(',')|length }} {{ {'k': 1}['k'] }} "
        "{{ cliente.nombre_completo.split()|list|length }} {{ dict(a=1)['a'] }}",
    )

    assert "1-2 3-4" in text
    assert "1329 1 2 1" in text


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("{{ cliente.documento }", "sobra «}»"),
        ("{{ cliente.documento", "un marcador no se cierra en su párrafo"),
        ("{% if cliente.documento %}x", "falta cerrar el bloque «if» con «endif»"),
        ("{{ cliente.documento cliente }}", "se esperaba «}}» y aparece «cliente»"),
        ("{{ cliente.documento ! }}", "el carácter «!» no se permite dentro de un marcador"),
        ("{{ }}", "falta un dato antes de «}}»"),
        ("{{ cliente.documento|  }}", "se esperaba un nombre y aparece «}}»"),
    ],
)
def test_a_syntax_error_is_explained_in_spanish(source, says):
    with pytest.raises(ValidationError) as caught:
        rendering.check_template(docx_with(source))

    message = " ".join(caught.value.message_dict["file"])
    assert says in message, message
    assert "unexpected" not in message and "expected" not in message
