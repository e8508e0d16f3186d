"""The benchmark's anchors: the least a page, a table and a webhook can cost here.

Each runs through the same middleware, session and user as the app's pages, so a page's
ratio to them shows what the page itself costs.
"""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crm.models import Customer

# Created by the bench command; one row per POST, as a webhook's durable receipt is.
INSERT_TABLE = "bench_anchor_receipt"


@require_GET
def bare(request: HttpRequest) -> HttpResponse:
    """A signed-in page that does nothing: the request floor."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def table(request: HttpRequest) -> HttpResponse:
    """A minimal signed-in page: 50 customers in a plain Django-template table."""
    customers = Customer.objects.only(
        "pk", "first_name", "last_name", "document_number", "email", "created_at"
    ).order_by("-pk")[:50]
    return render(request, "bench/table.html", {"customers": customers})


@csrf_exempt
@login_not_required
@require_POST
def insert(request: HttpRequest) -> HttpResponse:
    """A bare POST that stores its body in one row: the least a durable receipt costs."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {INSERT_TABLE} (body) VALUES (%s)",  # noqa: S608 - a constant
            [request.body.decode("utf-8", errors="replace")],
        )
    return JsonResponse({"status": "stored"})
