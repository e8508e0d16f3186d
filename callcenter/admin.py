"""Admin: the catalog (stock adjustments, imports), queue settings and loss reasons.

Leads, orders, calls and stock movements are read-only here: they change only through
the queue screens, the Kommo sync and the catalog services.
"""

from pathlib import PurePath
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from callcenter.catalog import forms as catalog_forms
from callcenter.catalog import imports as catalog_imports
from callcenter.catalog import selectors as catalog_selectors
from callcenter.catalog import services as catalog_services
from callcenter.models import (
    CallRecord,
    CatalogImport,
    CatalogProduct,
    Lead,
    LossReason,
    Order,
    OrderLine,
    QueueSettings,
    StockMovement,
)
from callcenter.services import leads as lead_services
from crm import display
from lib import audit, files, people, search
from lib import fields as lib_fields
from lib.admin_widgets import ReadOnlyAdmin

# Numbers typed as people type them, in a text input (lib.fields).
NUMBER_FIELDS = lib_fields.admin_number_fields()

# How much of an import's file name its page's heading shows (a phone's width).
TITLE_FILE_NAME_CHARS = 28


def _person_column(field: str, label: str):
    """Return an admin column showing a user field by full name (`lib.people`), not username."""

    @admin.display(description=label, ordering=f"{field}__first_name")
    def column(self, obj: Any) -> str:
        return people.display_name(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_name"
    return column


@admin.register(CatalogProduct)
class CatalogProductAdmin(admin.ModelAdmin):
    form = catalog_forms.CatalogProductForm
    formfield_overrides = NUMBER_FIELDS
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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A product that was sold or whose stock moved keeps that history (PROTECT), so it
        # cannot be deleted: say so by hiding «Eliminar», before Django's confirmation loads
        # every order line and movement only to refuse (2.6 s, 32 MB for 10,000 lines).
        # Unticking «Activo» takes it out of the catalog instead.
        if obj is not None and (
            OrderLine.objects.filter(product=obj).exists() or obj.movements.exists()
        ):
            return False
        return super().has_delete_permission(request, obj)

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
                "importar/<int:import_id>/",
                self.admin_site.admin_view(self.import_detail_view),
                name="{}_{}_import_detail".format(*info),
            ),
            path(
                "importar/<int:import_id>/progreso/",
                self.admin_site.admin_view(self.import_progress_view),
                name="{}_{}_import_progress".format(*info),
            ),
            path(
                "importar/<int:import_id>/errores.csv",
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
        """Upload a catalog file: it is stored and imported in the background."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = catalog_forms.CatalogImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            catalog_import = catalog_imports.start_catalog_import(
                upload=form.cleaned_data["file"],
                actor=request.user,
                skip_invalid=form.cleaned_data["skip_invalid"],
            )
            return redirect(catalog_import)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importar catálogo"),
            "form": form,
            "recent_imports": catalog_selectors.recent_catalog_imports(request.user),
        }
        return TemplateResponse(request, "admin/callcenter/catalogproduct/import.html", context)

    def import_detail_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        """An import's page: where it is (reload at will), then what it did."""
        catalog_import = catalog_selectors.catalog_import_for(request.user, import_id)
        context = {
            **self.admin_site.each_context(request),
            **self._import_status_context(catalog_import),
            "opts": self.opts,
            # Shortened: a long file name is one unbreakable word, which in the heading
            # and the breadcrumbs widened the page on a phone. Its table shows it whole.
            "title": _("Importación de %(file)s")
            % {"file": Truncator(catalog_import.file_name).chars(TITLE_FILE_NAME_CHARS)},
        }
        return TemplateResponse(
            request, "admin/callcenter/catalogproduct/import_detail.html", context
        )

    def import_progress_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        """The import's status alone, which its page polls while the import is not finished."""
        catalog_import = catalog_selectors.catalog_import_for(request.user, import_id)
        return TemplateResponse(
            request,
            "admin/callcenter/catalogproduct/partials/import_status.html",
            self._import_status_context(catalog_import),
        )

    def _import_status_context(self, catalog_import: CatalogImport) -> dict[str, Any]:
        return {
            "state": catalog_selectors.import_state(catalog_import),
            "catalog_import": catalog_import,
            "error_preview": catalog_import.preview_errors(),
        }

    def import_errors_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        """Every bad row of an import, as .csv: for whoever imported it, or a superuser."""
        catalog_import = catalog_selectors.catalog_import_for(request.user, import_id)
        if not catalog_import.errors_file:
            raise Http404(_("Esta importación no tiene filas con errores."))
        stem = PurePath(catalog_import.file_name).stem or "catalogo"
        return files.serve(
            catalog_import.errors_file,
            filename=f"errores-{stem}.csv",
            content_type="text/csv; charset=utf-8",
        )

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
                    % {"product": product, "stock": display.whole(product.stock)},
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
class QueueSettingsAdmin(audit.AuditedAdminMixin, admin.ModelAdmin):
    """One row: created on first read from the KOMMO_* variables, then edited here."""

    formfield_overrides = NUMBER_FIELDS

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

    def save_model(self, request: HttpRequest, obj: QueueSettings, form: Any, change: bool):
        super().save_model(request, obj, form, change)
        # The leads Kommo sent before the «Para Llamar» stage was known waited for it.
        replayed = lead_services.replay_waiting_events()
        if replayed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d evento de Kommo recibido antes de configurar la cola se "
                    "procesa ahora: sus leads de la etapa «Para Llamar» entran en la cola.",
                    "%(count)d eventos de Kommo recibidos antes de configurar la cola se "
                    "procesan ahora: sus leads de la etapa «Para Llamar» entran en la cola.",
                    replayed,
                )
                % {"count": replayed},
            )


@admin.register(LossReason)
class LossReasonAdmin(admin.ModelAdmin):
    formfield_overrides = NUMBER_FIELDS
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
    readonly_fields = ["annul_link"]

    @admin.display(description=_("anular"))
    def annul_link(self, obj: Order) -> str:
        # Annulled on the call center's page, which asks the reason and checks who may.
        if obj.status != Order.Status.CONFIRMED:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("callcenter:order_annul", args=[obj.pk]),
            _("Anular pedido (pide el motivo y confirmación)"),
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search.normalize(search_term))


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "lead",
        "agent_name",
        "outcome",
        "loss_reason",
        "order",
        "order_status",
    ]
    agent_name = _person_column("agent", _("agente"))

    @admin.display(description=_("estado del pedido"), ordering="order__status")
    def order_status(self, obj: CallRecord) -> str:
        # A sale whose order was annulled is no sale: the list says so next to it.
        return obj.order.get_status_display() if obj.order_id else "—"

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
