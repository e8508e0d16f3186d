"""Google reCAPTCHA v3: ask Google, server side, whether a form's token came from a person.

The form never sees an exception: every failure, a network one included, becomes a
RecaptchaResult with ok=False and a reason to log (the user only needs to be told to
try again).

Why by hand and not django-recaptcha: its widget writes an inline <script> that runs
grecaptcha.execute, which our Content-Security-Policy (django-csp, no 'unsafe-inline')
blocks unless every page carrying a form gets a nonce threaded into the package's
template; and it adds a form field with its own error wording. Here the page loads
Google's script plus our static/js/recaptcha.js (allowed by CSP below, on those views
only), the token travels in a plain hidden field, and this module is the one server-side
check: one POST to Google's siteverify, the action, the site and the score checked, every
outcome logged. The HTTP layer is tested with `responses` like every other provider.
"""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.translation import gettext

from integrations import http
from integrations.errors import ProviderError

logger = logging.getLogger(__name__)

# Google's own default: 1.0 is very likely a person, 0.0 very likely a bot.
# https://developers.google.com/recaptcha/docs/v3#interpreting_the_score
DEFAULT_MIN_SCORE = 0.5
# (connect, read) seconds: a person is waiting on the form; Google answers in well under one.
TIMEOUT = (3, 5)
# Google's script and its iframe, for the views whose page carries a protected form.
# https://developers.google.com/recaptcha/docs/faq#im-using-content-security-policy-csp-on-my-website.-how-can-i-configure-it-to-work-with-recaptcha
CSP = {
    "script-src": ["https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"],
    "frame-src": [
        "https://www.google.com/recaptcha/",
        "https://www.gstatic.com/recaptcha/",
        "https://recaptcha.google.com/recaptcha/",
    ],
}


@dataclass(frozen=True)
class RecaptchaResult:
    """Google's verdict on a token: whether to accept the form, its score, and why not."""

    ok: bool
    score: float | None
    reason: str
    # The form came with no token: Google's script never ran in the browser (blocked, too
    # slow, JavaScript off), which the visitor is told apart from a refused token.
    missing: bool = False


def verify(
    *,
    token: str,
    action: str,
    remote_ip: str = "",
    hostname: str = "",
    min_score: float | None = None,
) -> RecaptchaResult:
    """Check a v3 token with Google: valid, made for `action` on our site, scoring at least
    min_score.

    `hostname` is the host the form was posted to (`request.get_host()`): the token must have
    been solved there. Without it, on any host of ALLOWED_HOSTS.
    """
    secret = settings.RECAPTCHA_SECRET_KEY
    if not secret:
        if settings.DEBUG:
            # The demo and local development run without Google keys.
            return RecaptchaResult(
                ok=True, score=None, reason=gettext("reCAPTCHA desactivado (sin clave)")
            )
        # Without a key in production, accepting everything would switch the check off.
        return _refused(gettext("reCAPTCHA no está configurado (falta la clave secreta)."))
    if not token:
        return RecaptchaResult(
            ok=False,
            score=None,
            reason=gettext("Falta la verificación reCAPTCHA del formulario."),
            missing=True,
        )
    if min_score is None:
        min_score = getattr(settings, "RECAPTCHA_MIN_SCORE", DEFAULT_MIN_SCORE)

    form = {"secret": secret, "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        # https://developers.google.com/recaptcha/docs/verify#api_request
        with http.session() as client:
            response = http.request(
                client, "POST", settings.RECAPTCHA_VERIFY_URL, data=form, timeout=TIMEOUT
            )
        answer = http.answer_json(response)
    except ProviderError as exc:
        logger.warning("reCAPTCHA verification failed: %s", exc)
        return _refused(gettext("No se pudo verificar reCAPTCHA: %(error)s") % {"error": exc})
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return _refused(gettext("reCAPTCHA respondió algo inesperado."))

    # https://developers.google.com/recaptcha/docs/verify#api-response
    score = answer.get("score")
    score = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
    if answer.get("success") is not True:
        codes = answer.get("error-codes") or []
        return _refused(
            gettext("reCAPTCHA rechazó el token: %(codes)s")
            % {"codes": ", ".join(str(code) for code in codes) or gettext("sin detalle")},
            score=score,
        )
    # A token made for another form (say, sign-in) must not unlock this one.
    if answer.get("action") != action:
        return _refused(
            gettext("El token de reCAPTCHA es de otra acción (%(received)s, no %(expected)s).")
            % {"received": answer.get("action") or "-", "expected": action},
            score=score,
        )
    # A token solved on another site must not unlock ours: Google checks the key's domains
    # only while "Domain/Package Name Validation" is ticked in its console.
    # https://developers.google.com/recaptcha/docs/domain_validation
    solved_on = answer.get("hostname")
    solved_on = solved_on.strip().lower().rstrip(".") if isinstance(solved_on, str) else ""
    if not _is_our_host(solved_on, expected=hostname):
        return _refused(
            gettext("El token de reCAPTCHA se resolvió en otro sitio (%(received)s).")
            % {"received": solved_on or "-"},
            score=score,
        )
    if score is None or score < min_score:
        return _refused(
            gettext("Puntaje de reCAPTCHA demasiado bajo (%(score)s; mínimo %(min_score)s).")
            % {"score": "-" if score is None else score, "min_score": min_score},
            score=score,
        )
    return RecaptchaResult(ok=True, score=score, reason="")


def _is_our_host(solved_on: str, *, expected: str) -> bool:
    if expected:
        domain, _port = split_domain_port(expected)
        return bool(domain) and solved_on == domain
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        # What Django itself serves then (HttpRequest.get_host).
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(solved_on, allowed)


def _refused(reason: str, *, score: float | None = None) -> RecaptchaResult:
    return RecaptchaResult(ok=False, score=score, reason=reason)


def way_out(*, whatsapp: str = "", address: str = "") -> str:
    """The sentence that offers another way in to a visitor whose browser cannot run the
    check: the WhatsApp number (digits, with country code) or else the office's address;
    empty when the caller has neither."""
    digits = re.sub(r"\D", "", whatsapp)
    if digits:
        return gettext("Si sigue igual, escríbanos por WhatsApp al +%(number)s.") % {
            "number": digits
        }
    if address.strip():
        return gettext("Si sigue igual, acérquese a nuestra oficina: %(address)s.") % {
            "address": address.strip()
        }
    return ""


def not_loaded_message(*, way_out: str = "") -> str:
    """What a visitor is told when the form came without Google's check (its script blocked,
    too slow, or JavaScript off): retrying the same way fails the same way, so what to do."""
    message = gettext(
        "No se pudo cargar la verificación de seguridad de Google (reCAPTCHA) en su "
        "navegador, y sin ella no podemos recibir el formulario. Revise su conexión y vuelva a "
        "intentarlo en unos segundos. Si usa un bloqueador de anuncios o tiene JavaScript "
        "desactivado, permita esta página, o pruebe con otro navegador o con otra conexión "
        "(datos móviles o wifi)."
    )
    return f"{message} {way_out}" if way_out else message


def form_is_from_a_person(
    form, *, action: str, remote_ip: str, hostname: str = "", way_out: str = ""
) -> bool:
    """Verify a valid public form's `recaptcha_token`; when refused, say so on the form.

    The one check every public form runs (calculator lead, campaign registration, the
    portals). Pass `hostname=request.get_host()` so a token solved on another site is refused.
    A form that came without a token is told the check did not load, with `way_out` (a
    sentence from way_out()) when the caller has one.
    """
    check = verify(
        token=form.cleaned_data["recaptcha_token"],
        action=action,
        remote_ip=remote_ip,
        hostname=hostname,
    )
    if check.ok:
        return True
    logger.info("Form %r refused by reCAPTCHA: %s", action, check.reason)
    if check.missing:
        form.add_error(None, not_loaded_message(way_out=way_out))
        return False
    form.add_error(
        None,
        gettext(
            "No pudimos verificar que la solicitud la envía una persona. "
            "Vuelva a intentarlo en unos segundos."
        ),
    )
    return False
