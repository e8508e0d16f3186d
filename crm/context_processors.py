from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """Tell the layout which areas the signed-in user may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    nav = {
        "customers": user.has_perm("crm.view_customer"),
        "imports": user.has_perm("crm.run_import"),
        "agenda": user.has_perm("crm.view_appointment"),
        "callcenter": user.has_perm("callcenter.view_lead"),
        "loans": user.has_perm("credits.view_loan"),
        "portfolio": user.has_perm("credits.view_portfolio"),
        "investors": user.has_perm("credits.view_investor"),
        # The gestiones app's screens, by permission name: the CRM imports none of its code.
        "gestiones": user.has_perm("gestiones.view_gestion"),
        "workload": user.has_perm("gestiones.reassign_gestion"),
        "gestion_reports": user.has_perm("gestiones.view_gestion_reports"),
        "credit_leads": user.has_perm("gestiones.view_creditlead"),
        "goals": user.has_perm("gestiones.view_goal"),
        "campaigns": user.has_perm("gestiones.view_campaign"),
        "surveys": user.has_perm("gestiones.view_survey"),
        "document_templates": user.has_perm("gestiones.view_documenttemplate"),
        "liquidations": user.has_perm("credits.view_liquidation"),
        # The collections agents' lists, by permission name: the CRM imports none of its code.
        "collections": user.has_perm("collections_app.view_reportedpayment"),
        "promises": user.has_perm("collections_app.view_paymentpromise"),
        "payment_links": user.has_perm("collections_app.view_paymentlink"),
        "callbacks": user.has_perm("collections_app.view_callbackrequest"),
        "recovery": user.has_perm("recovery.view_campaign"),
        "conversations": user.has_perm("collections_app.view_conversation"),
        "strategies": user.has_perm("collections_app.view_segment"),
        "admin": user.is_staff,
    }
    match = getattr(request, "resolver_match", None)
    return {
        "nav": nav,
        # What the cached menu depends on: the areas this person may open, and the one open.
        "nav_key": "".join("1" if allowed else "0" for allowed in nav.values()),
        "nav_here": f"{match.app_name}:{match.url_name}" if match else "",
    }
