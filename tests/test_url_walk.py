"""Every URL answers each role as recorded: a layout change must not change what users get.

The walk seeds the demo (small), requests every URL pattern with GET as each demo role
(and again as an HTMX request where the page answered 200), and compares status codes,
redirect targets and the templates rendered with `tests/snapshots/url_walk.json`.

After an intended change of URLs, permissions or templates, record the walk again:

    UPDATE_URL_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_url_walk.py
"""

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.signals import template_rendered
from django.urls import URLPattern, URLResolver, get_resolver

from crm import unsubscribe

SNAPSHOT = Path(__file__).parent / "snapshots" / "url_walk.json"
ROLES = ("anonymous", "admin", "supervisor", "asesor", "cobranzas", "agente")


def _first(model_path: str, **filters) -> Callable[[], object]:
    def pick() -> object:
        app_label, model_name = model_path.split(".")
        from django.apps import apps

        model = apps.get_model(app_label, model_name)
        row = model.objects.filter(**filters).order_by("pk").first()
        return 0 if row is None else row.pk

    return pick


def _loan_payment() -> object:
    from django.apps import apps

    payment = apps.get_model("credits", "Payment").objects.order_by("pk").first()
    return (payment.loan_id, payment.pk) if payment else (0, 0)


# The model behind each URL's `pk`, by URL name (the part before the first "_" is enough
# where a family of names shares it).
PK_MODELS = {
    "crm:customer": "crm.Customer",
    "crm:import": "crm.ImportBatch",
    "callcenter:lead": "callcenter.Lead",
    "callcenter:catalog": "callcenter.Lead",
    "callcenter:cart": "callcenter.Lead",
    "callcenter:order": "callcenter.Lead",
    "credits:loan": "credits.Loan",
    "credits:payment": "credits.Loan",
    "credits:participation": "credits.Loan",
    "credits:contract": "credits.Loan",
    "credits:investor": "credits.Investor",
    "credits:liquidation": "credits.Liquidation",
    "credits:write_off_batch": "credits.WriteOffBatch",
    "credits:write_off_batch_progress": "credits.WriteOffBatch",
    "gestiones:detail": "gestiones.Gestion",
    "gestiones:follow": "gestiones.Gestion",
    "gestiones:data": "gestiones.Gestion",
    "gestiones:reassign": "gestiones.Gestion",
    "gestiones:correct_state": "gestiones.Gestion",
    "gestiones:notification": "gestiones.Notification",
    "gestiones:document": "gestiones.DocumentTemplate",
    "gestiones:attachment": "gestiones.Attachment",
    "gestiones:campaign": "gestiones.Campaign",
    "gestiones:survey": "gestiones.Survey",
    "gestiones:goal": "gestiones.Goal",
    "gestiones:credit": "gestiones.CreditLead",
    "gestiones:loan_link": "gestiones.Gestion",
    "gestiones:loan_unlink": "gestiones.Gestion",
    "recovery:campaign": "recovery.Campaign",
    "recovery:payment": "recovery.Campaign",
    # The namespace has an underscore: these go by their whole name.
    "collections_app:reported_detail": "collections_app.ReportedPayment",
    "collections_app:reported_receipt": "collections_app.ReportedPayment",
    "collections_app:reported_approve": "collections_app.ReportedPayment",
    "collections_app:reported_reject": "collections_app.ReportedPayment",
    "collections_app:reported_reopen": "collections_app.ReportedPayment",
    "collections_app:promise_cancel": "collections_app.PaymentPromise",
    "collections_app:link_cancel": "collections_app.PaymentLink",
    "collections_app:agreement_cancel": "collections_app.PaymentAgreement",
    "callcenter:order_annul": "callcenter.Order",
    "exports:download": "crm.ExportJob",
    "collections_app:callback_close": "collections_app.CallbackRequest",
    **{
        f"collections_app:{name}": "collections_app.Flow"
        for name in ("flow_detail", "flow_update", "flow_set_active", "flow_run", "flow_delete")
    },
    **{
        f"collections_app:{name}": "collections_app.Segment"
        for name in ("segment_update", "segment_count", "segment_delete")
    },
    **{
        f"collections_app:{name}": "collections_app.MessageTemplate"
        for name in ("template_update", "template_delete")
    },
}


def _pk_model(name: str) -> str:
    family = name.split("_")[0]
    return PK_MODELS.get(name) or PK_MODELS[family]


def _value(name: str, kwarg: str) -> object:
    from django.apps import apps

    if name == "gestiones:notification_open":
        return _first("gestiones.Notification", recipient__username="asesor")()
    if name == "gestiones:application_edit":
        # A gestión with a credit application that still waits for its approval.
        application = (
            apps.get_model("gestiones", "CreditApplication")
            .objects.filter(loan__isnull=True)
            .order_by("pk")
            .first()
        )
        return application.gestion_id if application else 0
    if name == "recovery:image":
        return "logo"
    if name in ("recovery:payment_annul", "recovery:payment_receipt"):
        payment = _first("recovery.CampaignPayment")()
        if kwarg == "payment_pk":
            return payment
        found = apps.get_model("recovery", "CampaignPayment").objects.filter(pk=payment).first()
        return found.campaign_id if found else 0
    if name == "collections_app:portal_account":  # one account of the portal's debtor
        return "loan" if kwarg == "kind" else _first("credits.Loan")()
    if name == "gestiones:loan_gestiones":
        return _first("credits.Loan", application__isnull=False)()
    if kwarg == "pk":
        return _first(_pk_model(name))()
    if kwarg == "batch_id":
        return _first("crm.ImportBatch")()
    if kwarg == "campaign_id":
        return _first("recovery.Campaign")()
    if kwarg == "record_pk":
        return _first("crm.ImportRecord")()
    if kwarg == "payment_pk":
        return _loan_payment()[1]
    if kwarg == "message_pk":
        return _first("crm.Message")()
    if kwarg == "contract_pk":
        return _first("credits.LoanContract")()
    if kwarg == "loan_pk":
        return _first("credits.Loan")()
    if kwarg in ("customer_id", "customer_pk"):
        return _first("crm.Customer")()
    if kwarg == "other_pk":  # the other record of a merge: the second customer
        other = apps.get_model("crm", "Customer").objects.order_by("pk").values_list("pk")[1:2]
        return other[0][0] if other else 0
    if kwarg == "product_id":
        return _first("callcenter.CatalogProduct")()
    if kwarg == "gestion_id":
        return _first("gestiones.Gestion")()
    if kwarg == "template_id":
        return _first("gestiones.DocumentTemplate")()
    if kwarg == "key":
        return "states"
    if kwarg == "slug":
        campaign = apps.get_model("gestiones", "Campaign").objects.filter(kind="inbound").first()
        return campaign.slug if campaign else "none"
    if kwarg == "token":
        # One still to answer, the same on every database (the demo answers some).
        invitation = (
            apps.get_model("gestiones", "SurveyInvitation")
            .objects.filter(answered_at__isnull=True)
            .order_by("pk")
            .first()
        )
        return invitation.token if invitation else "none"
    if kwarg == "firma":  # the unsubscribe link of the first e-mail to a customer
        message = (
            apps.get_model("crm", "Message").objects.filter(channel="email").order_by("pk").first()
        )
        return unsubscribe.url_for(message.pk).rstrip("/").rsplit("/", 1)[1] if message else "x"
    if kwarg == "tipo":  # the book API's kinds of import
        return "clientes"
    if kwarg == "tipo_documento":
        return "dni"
    if kwarg == "numero_documento":
        customer = apps.get_model("crm", "Customer").objects.order_by("pk").first()
        return customer.document_number if customer else "00000000"
    if kwarg == "codigo_pago":
        loan = apps.get_model("credits", "Loan").objects.order_by("pk").first()
        return loan.payment_code if loan else "none"
    if kwarg == "secret":
        return settings.KOMMO_WEBHOOK_SECRET or "none"
    if kwarg == "reference":
        # A payment link's back page (the portal): public, by the link's reference.
        link = apps.get_model("collections_app", "PaymentLink").objects.order_by("pk").first()
        return link.reference if link else "PL-" + "0" * 20
    raise AssertionError(f"No value for {name}'s {kwarg}: add it to the walk.")


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _patterns(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern), pattern


def _admin_list_names() -> set[str]:
    """Admin's index and each registered model's list and add page (no per-object pages)."""
    from django.contrib import admin

    names = {"admin:index"}
    for model in admin.site._registry:
        meta = model._meta
        names.add(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return names


def _urls() -> dict[str, str]:
    """Return every URL name with a concrete path to request."""
    from django.urls import reverse

    admin_names = _admin_list_names()
    urls = {}
    for name, _route, pattern in _patterns(get_resolver()):
        if name.startswith("admin:") and name not in admin_names:
            continue
        kwargs = {k: _value(name, k) for k in pattern.pattern.regex.groupindex}
        if name == "credits:payment_annul":
            kwargs["pk"], kwargs["payment_pk"] = _loan_payment()
        urls[name] = reverse(name, kwargs=kwargs)
    return urls


def _answer(client: Client, url: str, **headers) -> dict:
    templates: list[str] = []

    def record(sender, template, context, **kwargs):
        if template.name:
            templates.append(template.name)

    template_rendered.connect(record, dispatch_uid="url-walk")
    try:
        response = client.get(url, headers=headers)
    finally:
        template_rendered.disconnect(dispatch_uid="url-walk")
    answer: dict = {"status": response.status_code}
    if response.has_header("Location"):
        # Ids differ between databases (PostgreSQL does not reuse them): keep the shape.
        path = urlsplit(response["Location"]).path
        answer["location"] = re.sub(r"/\d+/", "/<id>/", path)
    if templates:
        answer["templates"] = sorted(set(templates))
    return answer


def walk() -> dict:
    User = get_user_model()
    result: dict = {}
    for name, url in sorted(_urls().items()):
        result[name] = {}
        for role in ROLES:
            client = Client(raise_request_exception=False)
            if role != "anonymous":
                client.force_login(User.objects.get(username=role))
            answer = _answer(client, url)
            if answer["status"] == 200 and not name.startswith("admin:"):
                answer["htmx"] = _answer(client, url, HX_Request="true")
            result[name][role] = answer
    return result


def test_every_url_answers_every_role_as_recorded(demo):
    walked = walk()

    if os.environ.get("UPDATE_URL_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(walked, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    assert sorted(walked) == sorted(recorded), "URL names differ from the recorded walk"
    differences = [
        f"{name} as {role}: {recorded[name][role]} -> {walked[name][role]}"
        for name in recorded
        for role in ROLES
        if walked[name][role] != recorded[name][role]
    ]
    assert not differences, "\n".join(differences)
