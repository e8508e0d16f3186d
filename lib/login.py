"""Sign-in forms that check one attempt at a time per user name and address.

django-axes locks a user out from an address after AXES_FAILURE_LIMIT wrong passwords,
but it reads the failures before checking a password and counts them after: guesses
sent at the same moment all passed its check, so the limit could be overshot. Here an
attempt for a user name and address is checked only while no other one is (an atomic
hold, `lib.ratelimit.one_at_a_time`); one sent meanwhile is refused before its password
is read, and axes always counts what came before.
"""

import hashlib
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.messages.views import SuccessMessageMixin
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from lib import ratelimit

BUSY = _(
    "Hay otro intento de ingreso en curso con este usuario desde su conexión. "
    "Espere un momento e intente de nuevo."
)


class OneAttemptAtATime:
    """Mixin for an AuthenticationForm: its clean() runs for one attempt at a time."""

    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "").casefold()
        who = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        address = ratelimit.client_ip(self.request) if self.request else ""
        with ratelimit.one_at_a_time(f"login:{who}:{address}") as held:
            if not held:
                raise forms.ValidationError(BUSY, code="busy")
            return super().clean()


class LoginForm(OneAttemptAtATime, AuthenticationForm):
    """The staff sign-in at /ingresar/."""


class AdminLoginForm(OneAttemptAtATime, AdminAuthenticationForm):
    """The Django admin's sign-in."""


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """A signed-in person changes their own password (/cuenta/contrasena/): the old one,
    then the new one twice, held to AUTH_PASSWORD_VALIDATORS. This session stays signed
    in; the person's other sessions end, since each carries the old password's hash."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("home")
    success_message = _("Su contraseña se cambió. Sus otras sesiones abiertas se cerraron.")
