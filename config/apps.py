"""App configurations the project gives third-party apps (their names in admin)."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    """django-axes, titled in Spanish in admin (its texts are in locale/es)."""

    verbose_name = _("Intentos de ingreso")
