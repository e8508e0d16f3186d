from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """Tell the layout which areas the signed-in user may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "customers": user.has_perm("crm.view_customer"),
            "agenda": user.has_perm("crm.view_appointment"),
            "callcenter": user.has_perm("callcenter.view_lead"),
            "loans": user.has_perm("credits.view_loan"),
            "portfolio": user.has_perm("credits.view_portfolio"),
            "investors": user.has_perm("credits.view_investor"),
            "admin": user.is_staff,
        }
    }
