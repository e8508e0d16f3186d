"""Admin: the catalog (stock adjustments, imports), queue settings and loss reasons.

Leads, orders, calls and stock movements are read-only here: they change only through
the queue screens, the Kommo sync and the catalog services.
"""

import secrets
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from callcenter.catalog import forms as catalog_forms
from callcenter.catalog import imports as catalog_imports
from callcenter.catalog import services as catalog_services
from callcenter.models import (
    CallRecord,
    CatalogProduct,
    Lead,
    LossReason,
    Order,
    OrderLine,
    QueueSettings,
    StockMovement,
)
from lib import people, search, spreadsheets

# How long an import's errors report can be downloaded. It lives in the cache (Redis in
# production), so any web process can serve it.
IMPORT_ERRORS_SECONDS = 60 * 60
IMPORT_ERRORS_PREVIEW = 20


def _import_errors_key(token: str) -> str:
    return f"callcenter:catalog-import-errors:{token}"


def _person_column(field: str, label: str):
    """Return an admin column showing a user field by full name (`lib.people`), not username."""

    @admin.display(description=label, ordering=f"{field}__first_name")
    def column(self, obj: Any) -> str:
        return people.display_name(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_name"
    return column


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the call center's services: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CatalogProduct)
class CatalogProductAdmin(admin.ModelAdmin):
    form = catalog_forms.CatalogProductForm
    list_display = ["sku", "name", "price", "currency", "stock", "is_active"]
    list_filter = ["is_active", "currency"]
    search_fields = ["sku", "name", "search_text"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["sku", "name", "description", "price", "currency", "stock", "is_active"]
        return fields if obj is None else [*fields, "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Once created, stock changes only through «Ajustar stock», imports and sales,
        # each of which writes its movement.
        return [] if obj is None else ["stock", "created_at", "updated_at"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["help_texts"] = {
                "stock": _("Stock inicial. Después cambia con «Ajustar stock» o importando."),
            }
        return super().get_form(request, obj, change, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search.normalize(search_term))

    def save_model(self, request: HttpRequest, obj: CatalogProduct, form, change: bool) -> None:
        # Through the catalog services: the initial stock enters the ledger, and an edit
        # never writes back a stock a sale may have changed since the form was loaded.
        data = {
            f: form.cleaned_data[f]
            for f in catalog_services.PRODUCT_FIELDS
            if f in form.cleaned_data
        }
        if change:
            catalog_services.update_product(product=obj, data=data)
        else:
            data["stock"] = form.cleaned_data.get("stock") or 0
            saved = catalog_services.create_product(actor=request.user, data=data)
            obj.pk = saved.pk

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "importar/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "importar/errores/<str:token>/",
                self.admin_site.admin_view(self.import_errors_view),
                name="{}_{}_import_errors".format(*info),
            ),
            path(
                "<path:object_id>/ajustar-stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name="{}_{}_adjust_stock".format(*info),
            ),
        ]
        # Before the defaults, whose "<path:object_id>/" would take "importar/".
        return own + super().get_urls()

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = catalog_forms.CatalogImportForm(request.POST or None, request.FILES or None)
        result = None
        errors_url = ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = catalog_imports.import_catalog(
                    rows_source=spreadsheets.read_rows(upload, upload.name),
                    actor=request.user,
                    skip_invalid=form.cleaned_data["skip_invalid"],
                    file_name=upload.name,
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                if result.errors:
                    token = secrets.token_urlsafe(16)
                    cache.set(
                        _import_errors_key(token),
                        {
                            "user_id": request.user.pk,
                            "content": catalog_imports.errors_csv(result.errors),
                        },
                        IMPORT_ERRORS_SECONDS,
                    )
                    errors_url = reverse(
                        "admin:callcenter_catalogproduct_import_errors", args=[token]
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importar catálogo"),
            "form": form,
            "result": result,
            "errors_url": errors_url,
            "error_preview": result.errors[:IMPORT_ERRORS_PREVIEW] if result else [],
        }
        return TemplateResponse(request, "admin/callcenter/catalogproduct/import.html", context)

    def import_errors_view(self, request: HttpRequest, token: str) -> HttpResponse:
        report = cache.get(_import_errors_key(token))
        # Only whoever ran the import gets its report.
        if report is None or report["user_id"] != request.user.pk:
            raise Http404(_("El informe ya no está disponible: vuelva a importar el archivo."))
        response = HttpResponse(report["content"], content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="errores-catalogo.csv"'
        return response

    def adjust_stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        product = self.get_object(request, unquote(object_id))
        if product is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, product):
            raise PermissionDenied
        form = catalog_forms.StockAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                product = catalog_services.adjust_stock(
                    product=product,
                    delta=form.cleaned_data["delta"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Stock de %(product)s ajustado: ahora hay %(stock)s unidad.",
                        "Stock de %(product)s ajustado: ahora hay %(stock)s unidades.",
                        product.stock,
                    )
                    % {"product": product, "stock": product.stock},
                )
                return redirect("admin:callcenter_catalogproduct_change", product.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Ajustar stock"),
            "original": product,
            "form": form,
            "movements": product.movements.select_related("actor")[:10],
        }
        return TemplateResponse(
            request, "admin/callcenter/catalogproduct/adjust_stock.html", context
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "product", "delta", "reason", "order", "actor_name", "note"]
    actor_name = _person_column("actor", _("registrado por"))
    list_filter = ["reason", "created_at"]
    search_fields = ["product__sku", "product__name", "note"]
    list_select_related = ["product", "order", "actor"]
    date_hierarchy = "created_at"


@admin.register(QueueSettings)
class QueueSettingsAdmin(admin.ModelAdmin):
    """One row: created on first read from the KOMMO_* variables, then edited here."""

    list_display = [
        "__str__",
        "pipeline_id",
        "queue_status_id",
        "sold_status_id",
        "take_timeout_minutes",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not QueueSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LossReason)
class LossReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "kommo_loss_reason_id", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["sku", "name", "quantity", "unit_price", "line_total"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "created_at",
        "lead",
        "customer",
        "agent_name",
        "status",
        "total",
        "currency",
    ]
    agent_name = _person_column("agent", _("agente"))
    list_filter = ["status", "created_at"]
    search_fields = [
        "lead__search_text",
        "lead__kommo_id__exact",
        "customer__document_number",
        "customer__search_text",
    ]
    list_select_related = ["lead", "customer", "agent"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search.normalize(search_term))


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "agent_name", "outcome", "loss_reason", "order"]
    agent_name = _person_column("agent", _("agente"))
    list_filter = ["outcome", "created_at"]
    search_fields = ["lead__search_text", "lead__kommo_id__exact"]
    list_select_related = ["lead", "agent", "loss_reason", "order"]
    date_hierarchy = "created_at"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search.normalize(search_term))


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    list_display = [
        "kommo_id",
        "__str__",
        "phone",
        "state",
        "in_queue",
        "source",
        "attempts",
        "due_at",
        "taken_by_name",
        "customer",
        "suggested_customer",
    ]
    taken_by_name = _person_column("taken_by", _("atendido por"))
    list_filter = ["state", "in_queue", "source"]
    # search_text is normalized (no accents, lower case): so is the term, below.
    search_fields = ["search_text", "kommo_id__exact"]
    list_select_related = ["taken_by", "customer", "suggested_customer"]
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search.normalize(search_term))
