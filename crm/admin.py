from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm import deletions, display, identity, references, roles, services, validators
from crm.forms import ConfirmsIdentityMixin, identity_key_field, refuse_control_characters_in
from crm.models import (
    OPT_OUT_TAG,
    Appointment,
    Branch,
    Channel,
    Customer,
    DeletionRecord,
    Interaction,
    Message,
    Product,
    Tag,
)
from integrations.channels import LOG_PROVIDER
from lib import audit
from lib.admin_widgets import ReadOnlyAdmin, WholeNumberAutocompleteMixin, blanked_by_deleting
from lib.stale import KeepsOthersChanges, KeepsOthersChangesAdmin


class ServiceDeletionAdmin(admin.ModelAdmin):
    """Delete through a service that may refuse, and say only what happened.

    Django logs a deletion before it deletes, and says «… eliminado correctamente» after
    `delete_model` / `delete_queryset` return, whatever they did. Here each deletion is
    logged with it (a refused one leaves no entry in the admin's history), a refused one is
    the only message of its page, and a deletion of several says how many went and which
    stayed, instead of Django's count of the selected ones.
    """

    def delete_service(self, obj, actor) -> None:
        """Delete `obj` through its topic's service (each admin says which)."""
        raise NotImplementedError

    def log_deletions(self, request, queryset):
        return []  # logged by delete_model, in the deletion's own transaction

    def delete_model(self, request, obj):
        """Delete `obj`; on a refusal, say why and return False."""
        try:
            with transaction.atomic():
                super().log_deletions(request, [obj])
                self.delete_service(obj, request.user)
        except ValidationError as exc:
            setattr(request, _DELETION_REFUSED, True)
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            return False
        return True

    def delete_queryset(self, request, queryset):
        objs = list(queryset)
        refused = [f"«{obj}»" for obj in objs if not self.delete_model(request, obj)]
        if not refused:
            return  # Django's «eliminados correctamente» is then true
        deleted = len(objs) - len(refused)
        text = ngettext(
            "Se eliminó %(deleted)s de %(selected)s %(items)s; no se eliminaron: %(refused)s.",
            "Se eliminaron %(deleted)s de %(selected)s %(items)s; no se eliminaron: %(refused)s.",
            deleted,
        ) % {
            "deleted": display.whole(deleted),
            "selected": display.whole(len(objs)),
            "items": model_ngettext(self.opts, len(objs)),
            "refused": ", ".join(refused),
        }
        self.message_user(request, text, level=messages.WARNING if deleted else messages.ERROR)
        setattr(request, _DELETIONS_SAID, True)

    def response_delete(self, request, obj_display, obj_id):
        if not getattr(request, _DELETION_REFUSED, False):
            return super().response_delete(request, obj_display, obj_id)
        # Still there: back to its page, under the refusal, with no «eliminado correctamente».
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[obj_id],
                current_app=self.admin_site.name,
            )
        )

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        # Django's delete_selected says «eliminados correctamente» of every selected row once
        # delete_queryset returns; delete_queryset said already which ones were not.
        if level == messages.SUCCESS and getattr(request, _DELETIONS_SAID, False):
            return
        super().message_user(request, message, level, *args, **kwargs)


# Marks ServiceDeletionAdmin sets on the request: a deletion was refused; a deletion of
# several said what it deleted and what it did not.
_DELETION_REFUSED = "_admin_deletion_refused"
_DELETIONS_SAID = "_admin_deletions_said"


class NamedByRulesAdmin(ServiceDeletionAdmin):
    """Refuse deleting a row that rules name (crm.references: a segment, a campaign),
    which without it would reach more customers: the deletion page lists those rules as
    what protects it, in place of Django's «Relaciones segment-tag: 1»."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        reasons = [reason for obj in objs if (reason := references.refusal(obj))]
        if reasons:
            protected = [*protected, *reasons]
            # Refused whatever the account may delete: the page says why, not which
            # permission is missing.
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    def delete_service(self, obj, actor) -> None:
        references.delete_unless_named(obj=obj)


@admin.register(Branch)
class BranchAdmin(audit.AuditedAdminMixin, NamedByRulesAdmin):
    list_display = ["name", "code", "city", "is_active"]
    list_filter = ["is_active", "city"]
    search_fields = ["name", "code", "city"]


@admin.register(Channel)
class ChannelAdmin(audit.AuditedAdminMixin, NamedByRulesAdmin):
    list_display = ["name", "code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


@admin.register(Product)
class ProductAdmin(audit.AuditedAdminMixin, NamedByRulesAdmin):
    list_display = ["name", "code", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code", "description"]


@admin.register(Tag)
class TagAdmin(audit.AuditedAdminMixin, NamedByRulesAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]

    @staticmethod
    def _is_kept(tag: Tag) -> bool:
        # The consent tag, and the tags an app puts on and takes off itself («Cartera
        # castigada» while a campaign is active): the services find them by their names.
        return tag.name == OPT_OUT_TAG or tag.name in services.managed_tag_names()

    def get_readonly_fields(self, request, obj=None):
        # Renamed, the consent tag would be a plain tag, its customers' consent no longer
        # filterable by it, and the next opt-out would make another; a managed one would
        # split in two, the old name never taken off.
        if obj is not None and self._is_kept(obj):
            return ["name"]
        return []

    def has_delete_permission(self, request, obj=None):
        # Deleting it would take the mark off every customer who carries it (who asked not
        # to be contacted, whose debt is in a written-off campaign), with nothing on their
        # timelines.
        if obj is not None and self._is_kept(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_service(self, obj, actor) -> None:
        # Through the service: the customers who carried it are told on their timelines.
        services.delete_tags(tags=Tag.objects.filter(pk=obj.pk), actor=actor)


class CustomerAdminForm(KeepsOthersChanges, ConfirmsIdentityMixin, forms.ModelForm):
    """The customer's admin form, with the confirmation a protected identity asks for.
    What another person saved while the page was open stays (`lib.stale`): a stale page
    does not put back an old name or phone."""

    confirm_identity = forms.BooleanField(
        label=_("Confirmo el cambio de documento o nombres"),
        required=False,
        help_text=_(
            "Necesario para corregir la identidad de un cliente con créditos, una vez que "
            "la página le muestre cada dato anterior y nuevo."
        ),
    )
    # The key of the changes the refusal listed (`crm.forms.ConfirmsIdentityMixin`).
    identity_key = identity_key_field()
    # Declared, as `KeepsOthersChangesAdmin` declares it: the admin's fieldset (CustomerAdmin
    # has none of its own) lists the form's declared fields, so the page sends it back.
    seen_values = forms.CharField(widget=forms.HiddenInput, required=False)
    # Set by CustomerAdmin.get_form: who is editing.
    user = None

    class Meta:
        model = Customer
        fields = [*services.CUSTOMER_FIELDS, "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        refuse_control_characters_in(self)
        if "tags" in self.fields:
            # The tags an app keeps are not offered; the service keeps them as they are.
            tags = self.fields["tags"]
            tags.queryset = Tag.objects.exclude(name__in=services.managed_tag_names())
            tags.help_text = services.managed_tags_note(self.instance)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        data = {f: cleaned[f] for f in identity.IDENTITY_FIELDS if f in cleaned}
        if "document_number" in data:
            data["document_number"] = validators.normalize_document_number(data["document_number"])
        try:
            identity.check_change(
                customer=Customer.objects.get(pk=self.instance.pk),
                data=data,
                actor=self.user,
                confirmed=self.confirms_identity(),
            )
        except ValidationError as exc:
            self.add_service_error(exc)
        return cleaned


def _protected(obj) -> bool:
    """Return whether a row points at `obj` through a PROTECT (one EXISTS per relation).

    Hidden relations too (related_name="+": a payment link, a promise, an agreement),
    which `_meta.related_objects` leaves out."""
    for relation in obj._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and relation.is_relation):
            continue
        if getattr(relation, "on_delete", None) is not models.PROTECT:
            continue
        related = relation.related_model._base_manager
        if related.filter(**{relation.field.name: obj}).exists():
            return True
    return False


@admin.register(Customer)
class CustomerAdmin(WholeNumberAutocompleteMixin, admin.ModelAdmin):
    form = CustomerAdminForm
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
    readonly_fields = ["opted_out_at", "last_interaction_at", "created_at", "updated_at"]
    show_full_result_count = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user
        return form

    def has_change_permission(self, request, obj=None) -> bool:
        # A record merged into another one (crm.merge) is history: shown, never saved
        # (Django shows every field read-only and refuses a POST).
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.merged_into_id is not None:
            # Its history («Fusionado en …») stays, as the merge left it.
            return False
        # A customer something protects (a loan, a gestión...) cannot be deleted: say so by
        # hiding the button, before Django's confirmation walks the whole history to list
        # it (28 s for a customer with 20,000 timeline entries).
        if obj is not None and _protected(obj):
            return False
        return super().has_delete_permission(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.merged_into_id is not None:
            kept_url = reverse("admin:crm_customer_change", args=[obj.merged_into_id])
            messages.warning(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    services.merged_refusal(obj),
                    kept_url,
                    _("Abrir el registro que quedó"),
                ),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        # Through the services, so admin edits reach the timeline like any other.
        data = {f: form.cleaned_data[f] for f in services.CUSTOMER_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.update_customer(
                customer=obj,
                actor=request.user,
                data=data,
                confirm_identity=form.confirms_identity(),
            )
        else:
            saved = services.create_customer(actor=request.user, data=data)
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        tags = list(form.cleaned_data.get("tags", []))
        # The consent field decides over the `No contactar` tag in the list.
        consent = {"has_opted_out": bool(form.cleaned_data.get("has_opted_out"))}
        services.update_customer(
            customer=form.instance, actor=request.user, data=consent, tags=tags
        )
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
        "text",
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

    def has_delete_permission(self, request, obj=None):
        # The timeline is the record of what happened to the customer: kept whole.
        return False

    @admin.display(description=_("resumen"))
    def short_summary(self, obj):
        return obj.summary[:80]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Every message in and out, read-only: the customer-message service writes them."""

    list_display = [
        "created_at",
        "customer",
        "channel",
        "direction",
        "status_shown",
        "provider",
        "actor",
    ]
    list_filter = ["channel", "direction", "status", "provider"]
    search_fields = ["customer__document_number", "customer__last_name", "provider_message_id"]
    list_select_related = ["customer", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    raw_id_fields = ["customer", "interaction"]

    @admin.display(description=_("estado"), ordering="status")
    def status_shown(self, obj):
        # A message its channel's provider never got (none configured) was recorded, not
        # sent: «Enviado» would say it reached the customer.
        if obj.provider == LOG_PROVIDER and obj.status != Message.Status.FAILED:
            return _("Registrado, no enviado (canal no configurado)")
        return obj.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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

    def has_delete_permission(self, request, obj=None):
        # The booking stands at Cal.com: deleted here, it left the advisor's agenda while
        # the customer still came, and Cal.com's later cancellation found nothing.
        return False


class DeletionKindFilter(admin.SimpleListFilter):
    """The kinds by the label their app registered (crm.deletions)."""

    title = _("qué")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return deletions.kinds()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(DeletionRecord)
class DeletionRecordAdmin(ReadOnlyAdmin):
    """The deletions audit: written by the deleting services, never edited by hand."""

    list_display = ("deleted_at", "kind_label", "name", "deleted_by_name")
    list_filter = (DeletionKindFilter,)
    search_fields = ("name", "deleted_by_name")
    date_hierarchy = "deleted_at"

    @admin.display(description=_("qué"), ordering="kind")
    def kind_label(self, obj: DeletionRecord) -> str:
        return deletions.kind_label(obj.kind)


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    """Django's groups, where the app's roles (crm.roles) keep their names: the code and
    the migrations find a role by its name, and deleting one took every permission from
    each of its people at once, the page listing them as "User_groups object (n)"."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.name in roles.ROLES:
            fields.append("name")
        return fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.name in roles.ROLES:
            return False
        return super().has_delete_permission(request, obj)


# Staff accounts: Django's own admin, whose change form keeps what another administrator
# saved while it was open (a revoked role or a deactivation, undone by a stale tab's save).
User = get_user_model()
admin.site.unregister(User)


class StaffUserChangeForm(UserChangeForm):
    """A person's e-mail is theirs alone, any case: Cal.com's bookings go to the advisor
    whose e-mail is the organizer's (`crm.services._advisor_for`), and two people sharing
    one gave every booking to the older account."""

    def clean_email(self):
        email = self.cleaned_data.get("email", "")
        if not email or "email" not in self.changed_data:
            return email
        other = (
            User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).order_by("pk")
        ).first()
        if other is not None:
            raise ValidationError(
                _(
                    "Ese correo ya es de %(user)s: las citas de Cal.com se asignan por correo, "
                    "así que cada persona necesita el suyo."
                )
                % {"user": other.get_full_name() or other.get_username()}
            )
        return email


@admin.register(User)
class StaffUserAdmin(KeepsOthersChangesAdmin, UserAdmin):
    """Only a superuser makes superusers, grants permissions one by one, or edits a
    superuser's account: a staff role given `change_user` could otherwise make itself
    superuser, or take over one by its password."""

    form = StaffUserChangeForm
    ESCALATING_FIELDS = ("is_superuser", "user_permissions")
    # The role that works in Administración (crm.roles), which only `is_staff` opens.
    ADMIN_ROLE = "Administrador"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in self.ESCALATING_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # Deleting a person who worked here would blank them out of history: the customers
        # and loans they advise lose their advisor, and every timeline entry they wrote
        # its author, with nothing said. Such a person is deactivated instead.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for user in objs:
            traces = blanked_by_deleting(user)
            if traces:
                protected = [
                    *protected,
                    _(
                        "%(user)s figura en %(traces)s: desactívelo (desmarque «Activo») en "
                        "lugar de borrarlo, así ya no entra y su historial queda."
                    )
                    % {"user": user.get_username(), "traces": ", ".join(traces)},
                ]
        if protected:
            # Refused whatever the account may delete, and Django's page names the missing
            # permissions first (the read-only gestiones, entries and notifications), in
            # place of the reason and its advice: «su cuenta no tiene permiso», even to a
            # superuser.
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        # An «Administrador» without «Es staff» saw no Administración and could not open
        # it, and nothing said why: the role implies it, so it is ticked, and said.
        groups = form.cleaned_data.get("groups") or ()
        if not obj.is_staff and any(group.name == self.ADMIN_ROLE for group in groups):
            obj.is_staff = True
            self.message_user(
                request,
                _(
                    "Se marcó «Es staff» en %(user)s: el rol «Administrador» trabaja en "
                    "Administración, y sin «Es staff» no podría entrar."
                )
                % {"user": obj.get_username()},
                messages.WARNING,
            )
        super().save_model(request, obj, form, change)
