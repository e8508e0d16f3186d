"""The staff roles (Django groups) and the permissions each one has.

One place for the whole table: the data migration applies it, `seed_demo` re-applies it,
and a later app adds its permissions here together with a migration that calls
`sync_roles` again.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

from lib import auth

ALL = "__all__"

# What collections agents and supervisors both do: the payment events, the conversations
# and the strategies (segments, templates, events settings, flows).
COLLECTIONS_WORK = [
    "collections_app.view_paymentlink",
    "collections_app.add_paymentlink",
    "collections_app.view_reportedpayment",
    "collections_app.add_reportedpayment",
    "collections_app.change_reportedpayment",
    "collections_app.view_paymentpromise",
    "collections_app.add_paymentpromise",
    "collections_app.change_paymentpromise",
    "collections_app.view_paymentagreement",
    "collections_app.add_paymentagreement",
    "collections_app.view_callbackrequest",
    "collections_app.change_callbackrequest",
    # Written-off campaigns (recovery): the list, their payments, the funnel.
    "recovery.view_campaign",
    "recovery.add_campaign",
    "recovery.change_campaign",
    "recovery.view_campaignpayment",
    "recovery.view_visit",
    # Conversations and strategies (segments, templates, events settings, flows).
    "crm.view_message",
    "collections_app.view_conversation",
    "collections_app.change_conversation",
    "collections_app.view_conversationlabel",
    "collections_app.view_segment",
    "collections_app.add_segment",
    "collections_app.change_segment",
    "collections_app.delete_segment",
    "collections_app.view_messagetemplate",
    "collections_app.add_messagetemplate",
    "collections_app.change_messagetemplate",
    "collections_app.delete_messagetemplate",
    "collections_app.view_eventsetting",
    "collections_app.change_eventsetting",
    "collections_app.view_flow",
    "collections_app.add_flow",
    "collections_app.change_flow",
    "collections_app.delete_flow",
    "crm.view_messagepolicy",
]

ROLES: dict[str, str | list[str]] = {
    "Administrador": ALL,
    "Supervisor": [
        "crm.view_customer",
        "crm.add_customer",
        "crm.change_customer",
        "crm.change_customer_identity",
        "crm.merge_customer",
        "crm.run_import",
        "crm.view_interaction",
        "crm.add_interaction",
        "crm.view_branch",
        "crm.view_channel",
        "crm.view_product",
        "crm.view_tag",
        "crm.view_appointment",
        "crm.view_all_appointments",
        "credits.view_loan",
        "credits.add_loan",
        "credits.change_loan",
        "credits.cancel_loan",
        "credits.disburse_loan",
        "credits.write_off_loan",
        "credits.view_portfolio",
        "credits.view_loanproduct",
        "credits.view_payment",
        "credits.add_payment",
        "credits.annul_payment",
        "credits.view_investor",
        "credits.add_investor",
        "credits.change_investor",
        "credits.view_participation",
        "credits.add_participation",
        "credits.view_liquidation",
        "credits.add_liquidation",
        "credits.change_liquidation",
        "gestiones.view_gestion",
        "gestiones.add_gestion",
        "gestiones.change_gestion",
        "gestiones.view_followup",
        "gestiones.add_followup",
        "gestiones.view_gestiontype",
        "gestiones.view_documenttemplate",
        "gestiones.view_goal",
        "gestiones.view_all_gestiones",
        "gestiones.reassign_gestion",
        "gestiones.view_gestion_reports",
        "gestiones.add_goal",
        "gestiones.change_goal",
        "gestiones.delete_goal",
        "gestiones.add_documenttemplate",
        "gestiones.change_documenttemplate",
        "gestiones.view_campaign",
        "gestiones.add_campaign",
        "gestiones.change_campaign",
        "gestiones.view_survey",
        "gestiones.add_survey",
        "gestiones.change_survey",
        "gestiones.view_lifecycleevent",
        "crm.view_deletionrecord",
        # The settings history (crm.config_history): who changed which setting, old → new.
        "admin.view_logentry",
        "gestiones.view_creditlead",
        "gestiones.change_creditlead",
        "gestiones.view_creditapplication",
        "gestiones.add_creditapplication",
        "gestiones.change_creditapplication",
        *COLLECTIONS_WORK,
        "crm.change_messagepolicy",
        "collections_app.add_conversationlabel",
        "collections_app.change_conversationlabel",
        "callcenter.view_lead",
        "callcenter.release_lead",
        "callcenter.requeue_lead",
        "callcenter.view_order",
        "callcenter.annul_order",
        "callcenter.view_callrecord",
        "callcenter.view_catalogproduct",
    ],
    "Asesor": [
        "crm.view_customer",
        "crm.add_customer",
        "crm.change_customer",
        "crm.view_interaction",
        "crm.add_interaction",
        "crm.view_appointment",
        "credits.view_loan",
        "credits.add_loan",
        "credits.change_loan",
        "credits.view_loanproduct",
        "credits.view_payment",
        "gestiones.view_gestion",
        "gestiones.add_gestion",
        "gestiones.change_gestion",
        "gestiones.view_followup",
        "gestiones.add_followup",
        "gestiones.view_gestiontype",
        "gestiones.view_documenttemplate",
        "gestiones.view_goal",
        "gestiones.view_creditlead",
        "gestiones.change_creditlead",
        "gestiones.view_creditapplication",
        "gestiones.add_creditapplication",
        "gestiones.change_creditapplication",
    ],
    "Cobranzas": [
        "crm.view_customer",
        "crm.view_interaction",
        "crm.add_interaction",
        "credits.view_loan",
        "credits.view_payment",
        "credits.add_payment",
        "gestiones.view_gestion",
        "gestiones.add_gestion",
        "gestiones.change_gestion",
        "gestiones.view_followup",
        "gestiones.add_followup",
        "gestiones.view_documenttemplate",
        "credits.annul_payment",
        *COLLECTIONS_WORK,
    ],
    # The queue and nothing else: agents see no customer list.
    "Agente call center": [
        "callcenter.view_lead",
        "callcenter.take_lead",
        "callcenter.view_catalogproduct",
        "callcenter.add_order",
        "callcenter.view_order",
        "callcenter.add_callrecord",
    ],
}


def sync_roles(apps=global_apps) -> None:
    """Create the groups and give each exactly the permissions of the table above.

    Works with a migration's historical `apps` too: permissions are normally created only
    after all migrations, so they are created here first.
    """
    for app_config in apps.get_app_configs():
        has_models = getattr(app_config, "models_module", None)
        app_config.models_module = has_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = has_models

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if perms == ALL:
            group.permissions.set(Permission.objects.all())
            continue
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            if not _has_models(apps, app_label):
                # An earlier migration: that app's tables (and permissions) come later, with
                # its own migration that calls sync_roles again.
                continue
            try:
                wanted.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            except Permission.DoesNotExist:
                if apps is global_apps:
                    # With the real apps, a missing permission is a typo in the table.
                    raise
                # An earlier migration of an app whose model comes later (crm.Appointment
                # after crm.Customer); the migration that adds it syncs again.
        group.permissions.set(wanted)
    # Historical models send no signal: the cached sets would keep what was taken away.
    auth.forget_permissions()


def _has_models(apps, app_label: str) -> bool:
    try:
        return bool(list(apps.get_app_config(app_label).get_models()))
    except LookupError:
        return False
