from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionsAppConfig(AppConfig):
    """Collections of the current portfolio.

    Named `collections_app` because `collections` is a standard-library module.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "collections_app"
    verbose_name = _("Cobranzas")
