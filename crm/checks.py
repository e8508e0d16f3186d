"""`manage.py check --deploy`: the public address every link to a customer starts with."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_site_url(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Payment links, survey links, the portal's address in messages, MercadoPago's return
    and notification URLs and Twilio's status callback start with SITE_URL: left at its
    local default, every debtor gets a link to http://127.0.0.1:8000."""
    parts = urlsplit(settings.SITE_URL or "")
    host = (parts.hostname or "").lower()
    if not host or _is_local(host):
        return [
            checks.Error(
                f"SITE_URL is {settings.SITE_URL!r}: every link sent to customers (payment "
                "links, the portal, surveys) and the payment gateways' callbacks would point "
                "to this machine, not to the app.",
                hint="Set SITE_URL to the app's public https address, e.g. "
                "https://cartera.example.com.",
                id="crm.E001",
            )
        ]
    if parts.scheme != "https":
        return [
            checks.Warning(
                f"SITE_URL is {settings.SITE_URL!r}, not https: links sent to customers would "
                "travel unencrypted, and the session cookies (secure) would not reach the app.",
                hint="Serve the app over https and set SITE_URL to its https address.",
                id="crm.W001",
            )
        ]
    return []


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith((".local", ".localhost")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
