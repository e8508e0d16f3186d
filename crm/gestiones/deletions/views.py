"""The deletions audit screen, and the confirmation step every configuration deletion takes."""

from collections.abc import Callable, Sequence

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm import deletions
from crm.gestiones.deletions import selectors
from lib.confirmation import CONFIRM_FIELD, is_confirmed

PAGE_SIZE = 25


@require_GET
@permission_required("crm.view_deletionrecord", raise_exception=True)
def deletion_list(request: HttpRequest) -> HttpResponse:
    """Who deleted which configuration row (a goal, a survey, a segment, a flow...), and
    when: every app's deletions, as their kinds are registered in `crm.deletions`."""
    kinds = deletions.kinds()
    kind = request.GET.get("tipo", "")
    if kind not in dict(kinds):
        kind = ""
    # A name is at most 255 characters; a NUL cannot be stored, so it finds nothing.
    q = " ".join(request.GET.get("q", "").replace("\x00", "").split())[:255]
    page = Paginator(selectors.deletion_list(kind=kind, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in (("tipo", kind), ("q", q)) if v})
    return render(
        request,
        "gestiones/deletion_list.html",
        {
            "page": page,
            "rows": [(record, deletions.kind_label(record.kind)) for record in page],
            "kind": kind,
            "q": q,
            "query": query.urlencode(),
            "kinds": kinds,
        },
    )


def confirm_deletion(
    request: HttpRequest,
    *,
    what: str,
    name: str,
    details: Sequence[tuple[str, str]],
    consequences: Sequence[str],
    problem: str,
    delete: Callable[[], None],
    cancel_url: str,
    done_url: str,
    done_message: str,
) -> HttpResponse:
    """Show what is about to be deleted; delete it only when the page's form confirms.

    `problem` says why it cannot be deleted (nothing is offered then); `delete` calls the
    topic's service, which records the deletion in the audit.
    """
    if request.method == "POST" and is_confirmed(request.POST) and not problem:
        try:
            delete()
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            messages.success(request, done_message)
            return redirect(done_url)
    return render(
        request,
        "gestiones/confirm_delete.html",
        {
            "what": what,
            "name": name,
            "details": details,
            "consequences": consequences,
            "problem": problem,
            "cancel_url": cancel_url,
            "confirm_field": CONFIRM_FIELD,
        },
    )


def deleted_a_moment_ago(
    request: HttpRequest, *, kind: str, object_id: int, done_url: str
) -> HttpResponse:
    """Answer a confirmation whose row is gone: sent twice (a double click, the back button
    and send), the first deleted it, so say so and go where the first went; else 404."""
    record = None
    if request.method == "POST":
        record = selectors.just_deleted(kind=kind, object_id=object_id, user=request.user)
    if record is None:
        raise Http404
    messages.info(
        request,
        _("%(what)s «%(name)s» ya se eliminó hace un momento.")
        % {"what": deletions.kind_label(record.kind), "name": record.name},
    )
    return redirect(done_url)
