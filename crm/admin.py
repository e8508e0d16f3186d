from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm import services
from crm.models import Appointment, Branch, Channel, Customer, Interaction, Product, Tag


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "city", "is_active"]
    list_filter = ["is_active", "city"]
    search_fields = ["name", "code", "city"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code", "description"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "document_number",
        "document_type",
        "last_name",
        "first_name",
        "phone",
        "branch",
        "channel",
        "advisor",
        "created_at",
    ]
    list_filter = ["document_type", "branch", "channel", "tags", "advisor"]
    search_fields = ["document_number", "first_name", "last_name", "phone", "email"]
    list_select_related = ["branch", "channel", "advisor"]
    autocomplete_fields = ["advisor"]
    filter_horizontal = ["tags"]
    date_hierarchy = "created_at"
    readonly_fields = ["last_interaction_at", "created_at", "updated_at"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        # Through the services, so admin edits reach the timeline like any other.
        data = {f: form.cleaned_data[f] for f in services.CUSTOMER_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.update_customer(customer=obj, actor=request.user, data=data)
        else:
            saved = services.create_customer(actor=request.user, data=data)
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        tags = list(form.cleaned_data.get("tags", []))
        services.update_customer(customer=form.instance, actor=request.user, data={}, tags=tags)
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "customer",
        "kind",
        "direction",
        "channel",
        "short_summary",
        "actor",
    ]
    list_filter = ["kind", "direction", "channel"]
    search_fields = ["summary", "customer__document_number", "customer__last_name"]
    list_select_related = ["customer", "channel", "actor"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    readonly_fields = [
        "customer",
        "kind",
        "channel",
        "direction",
        "summary",
        "payload",
        "actor",
        "occurred_at",
        "created_at",
    ]

    def has_add_permission(self, request):
        # The timeline is written by the services only; admin reads it.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("resumen"))
    def short_summary(self, obj):
        return obj.summary[:80]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "title", "customer", "attendee_name", "advisor", "status"]
    list_filter = ["status", "advisor"]
    search_fields = [
        "calcom_uid",
        "title",
        "attendee_name",
        "attendee_email",
        "customer__document_number",
        "customer__last_name",
    ]
    list_select_related = ["customer", "advisor"]
    date_hierarchy = "starts_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        # Written by the Cal.com webhook only; admin reads it.
        return False

    def has_change_permission(self, request, obj=None):
        return False
