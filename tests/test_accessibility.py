"""Accessibility rules (WCAG 2.1 A/AA) the layouts, the shared partials and app.css keep,
checked on the HTML the server writes, for many screens at once.

What needs a browser (contrast as drawn, focus kept across an htmx refresh, scrolling boxes
taking the focus) was checked with axe-core by hand; the contrast of the colours app.css
sets is recomputed here from the stylesheets themselves.
"""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from lxml import html

STATIC = Path(settings.BASE_DIR) / "static"
BACKGROUND = "#f8f9fa"  # the layouts' page background (bg-body-tertiary)
CONTROLS = "self::input or self::select or self::textarea"
FOCUSABLE = f"self::a[@href] or self::button or (({CONTROLS}) and not(@type='hidden'))"


def _first(label: str, **filters) -> int:
    return (
        apps.get_model(label)
        .objects.filter(**filters)
        .order_by("pk")
        .values_list("pk", flat=True)[0]
    )


def _staff_urls() -> list[str]:
    customer = _first("crm.Customer")
    loan = _first("credits.Loan")
    # The conversation's address names its customer, not the conversation's own id (on
    # SQLite the two happened to match).
    conversation = (
        apps.get_model("collections_app.Conversation")
        .objects.filter(customer__isnull=False)
        .order_by("pk")
        .values_list("customer_id", flat=True)[0]
    )
    return [
        "/clientes/",
        f"/clientes/{customer}/",
        "/clientes/nuevo/",
        "/creditos/",
        f"/creditos/{loan}/",
        "/creditos/cartera/",
        "/gestiones/todas/",
        f"/gestiones/{_first('gestiones.Gestion')}/",
        f"/gestiones/nueva/{customer}/",
        "/gestiones/tableros/",
        "/call-center-queue/",
        "/cobranzas/pagos-a-verificar/",
        "/cobranzas/conversaciones/",
        f"/cobranzas/conversaciones/{conversation}/",
        "/cobranzas/estrategias/segmentos/",
        "/cobranzas/cartera-castigada/",
        "/importaciones/",
        "/inversionistas/",
    ]


def _public_urls() -> list[str]:
    return [
        "/ingresar/",
        "/calculadora/",
        "/portal/",
        "/recovery/",
        f"/campana/{apps.get_model('gestiones.Campaign').objects.filter(kind='inbound').first().slug}/",
    ]


def _admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def _page(client: Client, url: str, data: dict | None = None) -> html.HtmlElement:
    response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.fromstring(response.content)


def _pages(demo) -> dict[str, html.HtmlElement]:
    admin = _admin_client()
    pages = {url: _page(admin, url) for url in _staff_urls()}
    pages.update({url: _page(Client(), url) for url in _public_urls()})
    return pages


def _text(element: html.HtmlElement) -> str:
    """The element's text a screen reader reads: without what is aria-hidden."""
    parts = [element.text or ""]
    for child in element:
        if child.get("aria-hidden") != "true":
            parts.append(_text(child))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def test_every_layout_says_spanish_and_offers_a_skip_link_to_the_main_content(demo):
    for url, doc in _pages(demo).items():
        assert doc.get("lang") == "es", url
        first = doc.xpath(f"(//body//*[{FOCUSABLE}])[1]")
        assert first, url
        link = first[0]
        assert link.tag == "a" and link.get("href") == "#main", (url, html.tostring(link)[:200])
        assert _text(link) == "Saltar al contenido", url
        main = doc.xpath("//main")
        assert len(main) == 1 and main[0].get("id") == "main", url


def test_the_menus_icons_are_hidden_and_every_link_and_button_has_a_name_of_its_own(demo):
    """Bootstrap Icons draw a private-use character a screen reader may read out; a link
    or button must be named by its words or aria-label, not by a title (a tooltip)."""
    for url, doc in _pages(demo).items():
        navs = doc.xpath("//nav[contains(@class, 'navbar')]")
        for nav in navs:
            assert nav.get("aria-label"), url
        for region in doc.xpath("//nav[contains(@class, 'navbar')] | /html/body/header"):
            for icon in region.xpath(".//i[contains(@class, 'bi')]"):
                hidden = icon.get("aria-hidden") == "true" or icon.get("aria-label")
                assert hidden, (url, html.tostring(icon))
            for control in region.xpath(".//a | .//button"):
                name = control.get("aria-label") or control.get("aria-labelledby") or _text(control)
                assert name, (url, html.tostring(control)[:200])


def _assert_errors_tied(url: str, doc: html.HtmlElement) -> int:
    """Each control marked invalid says so (aria-invalid) and names its message."""
    invalid = doc.xpath(f"//*[contains(concat(' ', @class, ' '), ' is-invalid ')][{CONTROLS}]")
    for control in invalid:
        assert control.get("aria-invalid") == "true", (url, html.tostring(control)[:200])
        described = (control.get("aria-describedby") or "").split()
        assert described, (url, html.tostring(control)[:200])
        for ref in described:
            assert doc.get_element_by_id(ref, None) is not None, (url, ref)
        messages = [_text(doc.get_element_by_id(ref)) for ref in described]
        assert any(messages), (url, described)
    return len(invalid)


def _assert_labelled(url: str, doc: html.HtmlElement) -> None:
    """Every visible form control has a label (for=, wrapping, aria-label or aria-labelledby)."""
    labels = set(doc.xpath("//label/@for"))
    controls = doc.xpath(
        f"//*[{CONTROLS}][not(@type='hidden' or @type='submit' or @type='button')]"
    )
    for control in controls:
        named = (
            control.get("id") in labels
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or control.xpath("ancestor::label")
        )
        assert named, (url, html.tostring(control)[:200])


def test_form_controls_are_labelled_and_their_errors_tied_to_them(demo):
    admin = _admin_client()
    for url, doc in _pages(demo).items():
        _assert_labelled(url, doc)
    # A list filter the address gives a value it cannot use (a select, the "Sucursal" of
    # two lists); a staff form sent empty; the portals' identification sent empty.
    cases = [
        (admin, "/gestiones/todas/?state=999999", None),
        (admin, "/clientes/?branch=999999", None),
        (admin, "/clientes/nuevo/", {"document_type": "dni"}),
        (Client(), "/portal/", {"document_type": "dni", "document_number": ""}),
        (Client(), "/recovery/", {"document_type": "dni", "document_number": ""}),
    ]
    for client, url, data in cases:
        assert _assert_errors_tied(url, _page(client, url, data)), url


# --- Contrast of the colours app.css sets ----------------------------------------------------


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(color: str, background: tuple[int, int, int]) -> tuple[float, float, float]:
    color = color.strip()
    if color.startswith("#"):
        return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b, a = (float(v) for v in re.findall(r"[\d.]+", color)[:4])
    return tuple(c * a + bg * (1 - a) for c, bg in zip((r, g, b), background, strict=True))


def _contrast(color: str, background: str = BACKGROUND) -> float:
    bg = _rgb(background, (255, 255, 255))
    lighter, darker = sorted((_luminance(_rgb(color, bg)), _luminance(bg)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _declared(selector: str, prop: str) -> str:
    """The value the last rule for `selector` gives `prop`: Bootstrap's, then app.css's."""
    css = (STATIC / "vendor/bootstrap/css/bootstrap.min.css").read_text() + (
        STATIC / "css/app.css"
    ).read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found = None
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        names = {s.strip().replace('"', "") for s in selectors.split(",")}
        if selector not in names:
            continue
        for declaration in body.split(";"):
            name, _, value = declaration.partition(":")
            if name.strip() == prop:
                found = value.replace("!important", "").strip()
    assert found, (selector, prop)
    return found


@pytest.mark.parametrize(
    ("selector", "prop"),
    [
        (":root", "--bs-link-color"),  # links, breadcrumbs, tabs (.nav-link), .btn-link
        (":root", "--bs-tertiary-color"),  # .text-body-tertiary
        (".btn-outline-primary", "--bs-btn-color"),
        (".btn-outline-secondary", "--bs-btn-color"),
        (".btn-outline-success", "--bs-btn-color"),
        (".btn-outline-danger", "--bs-btn-color"),
        (".btn-outline-warning", "--bs-btn-color"),
        (".btn-outline-info", "--bs-btn-color"),
        (".text-primary", "color"),
    ],
)
def test_text_colours_reach_4_5_to_1_on_the_page_background(selector, prop):
    value = _declared(selector, prop)
    if (
        value.startswith("rgba(") and "var(" in value
    ):  # .text-primary: rgba(r, g, b, var(--bs-text-opacity))
        value = "rgb(" + ",".join(re.findall(r"\d+", value)[:3]) + ")"
        value = "#" + "".join(f"{int(v):02x}" for v in re.findall(r"\d+", value))
    assert _contrast(value) >= 4.5, (selector, prop, value, round(_contrast(value), 2))


# Pages without app.js (the portals, the calculator, a campaign's form, the sign-in): their
# icons are hidden in the template itself.
PUBLIC_TEMPLATES = [
    "templates/collections_app/portal",
    "templates/recovery/portal",
    "templates/credits/calculator.html",
    "templates/credits/calculator_credit.html",
    "templates/gestiones/public_campaign.html",
    "templates/registration/login.html",
]


def test_the_public_pages_icons_are_hidden_from_screen_readers():
    root = Path(settings.BASE_DIR)
    files = []
    for name in PUBLIC_TEMPLATES:
        path = root / name
        files += sorted(path.rglob("*.html")) if path.is_dir() else [path]
    bare = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in files
        for match in re.finditer(r"<i class=\"bi [^\"]*\"(?![^>]*aria-)[^>]*>", path.read_text())
    ]

    assert bare == []
