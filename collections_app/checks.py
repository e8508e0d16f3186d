"""`manage.py check --deploy`: production must not take payments through the fake gateway."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_real_gateways(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if settings.PAYMENT_GATEWAYS_FAKE:
        return [
            checks.Error(
                "PAYMENT_GATEWAYS_FAKE is on: payment links would point to an in-memory "
                "gateway and no payment would ever be collected.",
                hint="Unset PAYMENT_GATEWAYS_FAKE and set MERCADOPAGO_ACCESS_TOKEN.",
                id="collections_app.E001",
            )
        ]
    return []
