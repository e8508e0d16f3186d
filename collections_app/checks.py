"""`manage.py check --deploy`: production must not take payments through the fake gateway,
nor send messages whose delivery callbacks it would refuse."""

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


@checks.register(checks.Tags.security, deploy=True)
def check_message_webhooks(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """WhatsApp sends without its app secret, but every status and reply it posts back
    would be refused (403): messages would stay "sent" and answers would be lost."""
    found = []
    if settings.WHATSAPP_ACCESS_TOKEN and not settings.WHATSAPP_APP_SECRET:
        found.append(
            checks.Warning(
                "WHATSAPP_ACCESS_TOKEN is set but WHATSAPP_APP_SECRET is not: WhatsApp's "
                "delivery statuses and customers' replies would be refused.",
                hint="Set WHATSAPP_APP_SECRET (the app's secret in Meta's dashboard) and "
                "WHATSAPP_VERIFY_TOKEN.",
                id="collections_app.W001",
            )
        )
    return found
