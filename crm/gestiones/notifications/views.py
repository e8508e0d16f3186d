"""The notifications bell and list of the signed-in user."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.notifications import selectors
from crm.gestiones.notifications import services as notification_services
from lib.lookups import whole_number

NOTIFICATIONS_PAGE_SIZE = 30
# Notifications are about gestiones: who works none (a call-center agent) has no bell.
works_gestiones = permission_required("gestiones.view_gestion", raise_exception=True)


@works_gestiones
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for(request.user), NOTIFICATIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "gestiones/notifications.html", {"page": page})


@works_gestiones
@require_GET
def notifications_badge(request: HttpRequest) -> HttpResponse:
    """The nav bell's unread count (an HTMX fragment)."""
    return render(
        request,
        "gestiones/partials/notifications_badge.html",
        {"unread": selectors.unread_count(request.user)},
    )


@works_gestiones
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    ids = [n for i in request.POST.getlist("id") if (n := whole_number(i)) is not None] or None
    notification_services.mark_notifications_read(user=request.user, ids=ids)
    return redirect("gestiones:notifications")


@works_gestiones
@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to its gestión, or back to the list saying so when
    the gestión is no longer the user's to see (reassigned, or handed to another area)."""
    notification = get_object_or_404(selectors.notifications_for(request.user), pk=pk)
    notification_services.mark_notifications_read(user=request.user, ids=[notification.pk])
    if not notification.gestion_id:
        return redirect("gestiones:notifications")
    visible = gestion_selectors.visible_gestiones(request.user)
    if visible.filter(pk=notification.gestion_id).exists():
        return redirect("gestiones:detail", notification.gestion_id)
    messages.info(
        request,
        _("La gestión #%(id)s ya no está a su cargo.") % {"id": notification.gestion_id},
    )
    return redirect("gestiones:notifications")
