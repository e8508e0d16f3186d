from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallcenterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "callcenter"
    verbose_name = _("Call center")
