"""Admin: where processes are configured. Gestiones themselves change only through services,
so their admin pages are read-only."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from crm import admin as crm_admin
from crm import display
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.documents import services as document_services
from crm.gestiones.goals import forms as goal_forms
from crm.gestiones.goals import services as goal_services
from crm.gestiones.models import (
    Action,
    ActionResult,
    Attachment,
    Campaign,
    CampaignTarget,
    CreditApplication,
    CreditLead,
    DocumentTemplate,
    FollowUp,
    FormField,
    Gestion,
    GestionState,
    GestionType,
    Goal,
    LifecycleEvent,
    LifecycleRun,
    Notification,
    Question,
    RejectionReason,
    StateAgent,
    Survey,
    SurveyInvitation,
)
from crm.gestiones.surveys import services as survey_services
from lib import admin_widgets
from lib import fields as lib_fields
from lib.admin_widgets import ReadOnlyAdmin, WholeNumberAutocompleteMixin

# Numbers typed in admin are read as on the app's screens (lib.fields), in text inputs.
NUMBER_FIELDS = lib_fields.admin_number_fields()


class GestionStateInline(admin.TabularInline):
    model = GestionState
    formfield_overrides = NUMBER_FIELDS
    extra = 0
    fields = (
        "name",
        "order",
        "is_initial",
        "outcome",
        "duration_days",
        "duration_hours",
        "duration_minutes",
        "color",
        "is_approval",
        "is_disbursement",
        "edit_link",
    )
    readonly_fields = ("edit_link",)
    show_change_link = True

    @admin.display(description=_("gestores y supervisores"))
    def edit_link(self, obj):
        if not obj.pk:
            return "—"
        agents = obj.state_agents.filter(is_active=True).count()
        return format_html(
            '<a href="{}">{} gestores · {} supervisores</a>',
            reverse("admin:gestiones_gestionstate_change", args=[obj.pk]),
            agents,
            obj.supervisors.count(),
        )


class ActionInline(admin.TabularInline):
    model = Action
    formfield_overrides = NUMBER_FIELDS
    extra = 0
    fields = ("name", "from_states", "order", "is_active")
    filter_horizontal = ()
    show_change_link = True

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "from_states":
            type_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = GestionState.objects.filter(gestion_type_id=type_id or 0)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class RejectionReasonInline(admin.TabularInline):
    model = RejectionReason
    extra = 0


class FormFieldInline(admin.TabularInline):
    model = FormField
    formfield_overrides = NUMBER_FIELDS
    extra = 0
    verbose_name_plural = _("formulario dinámico")
    fields = ("scope", "name", "label", "kind", "is_required", "choices", "order")


class MarksSupervisorsAdmin:
    """A type's or state's «supervisores» list marks who supervises nothing now: a person
    who left «(inactivo)», or whose role no longer supervises «(sin rol de supervisor)»
    (gestion_selectors.SUPERVISE_PERMISSION). They stay listed until someone takes them out."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "supervisors" and field is not None:
            field.label_from_instance = supervisor_label()
        return field


def supervisor_label():
    """Return a label for a user among the supervisors' choices, with its mark; who may
    supervise is read once, when the first choice is drawn."""
    able: set[int] = set()
    read = False

    def label(user) -> str:
        nonlocal read
        if not read:
            able.update(gestion_selectors.supervisors().order_by().values_list("pk", flat=True))
            read = True
        if not user.is_active:
            return _("%(user)s (inactivo)") % {"user": user}
        if user.pk not in able:
            return _("%(user)s (sin rol de supervisor)") % {"user": user}
        return str(user)

    return label


@admin.register(GestionType)
class GestionTypeAdmin(MarksSupervisorsAdmin, admin.ModelAdmin):
    formfield_overrides = NUMBER_FIELDS
    list_display = ("name", "code", "product", "is_time_controlled", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    filter_horizontal = ("supervisors",)
    readonly_fields = ("follow_up_table",)
    inlines = [GestionStateInline, ActionInline, RejectionReasonInline, FormFieldInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "code",
                    "description",
                    "product",
                    "is_credit_application",
                    "is_active",
                )
            },
        ),
        (
            _("Control de tiempo y alertas"),
            {"fields": ("is_time_controlled", "warn_before_minutes", "default_currency")},
        ),
        (_("Supervisión y encuesta"), {"fields": ("supervisors", "survey")}),
        (_("Tabla de seguimiento"), {"fields": ("follow_up_table",)}),
    )

    @admin.display(description=_("Acción / Resultado / Estado / Cambia estado / Alerta cliente"))
    def follow_up_table(self, obj):
        """Show the configured table the way the process was mapped (the seed's layout)."""
        if not obj.pk:
            return _("Guarde el tipo y sus estados para configurar la tabla.")
        rows = ActionResult.objects.filter(action__gestion_type=obj).select_related(
            "action", "to_state"
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            '<td><a href="{}">editar</a></td></tr>',
            (
                (
                    r.action.name,
                    r.name,
                    r.to_state.name if r.to_state else "—",
                    "S" if r.changes_state else "N",
                    "S" if r.alerts_customer else "N",
                    reverse("admin:gestiones_action_change", args=[r.action_id]),
                )
                for r in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>Acción</th><th>Resultado</th><th>Estado</th>"
            "<th>Cambia estado</th><th>Alerta cliente</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body or format_html('<tr><td colspan="6">{}</td></tr>', _("Sin acciones aún.")),
        )


class StateAgentInline(WholeNumberAutocompleteMixin, admin.TabularInline):
    model = StateAgent
    extra = 0
    autocomplete_fields = ("agent",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "agent":
            kwargs.setdefault("label", _("gestor"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(GestionState)
class GestionStateAdmin(MarksSupervisorsAdmin, admin.ModelAdmin):
    formfield_overrides = NUMBER_FIELDS
    list_display = ("name", "gestion_type", "order", "is_initial", "outcome", "duration_column")
    list_filter = ("gestion_type", "outcome")
    search_fields = ("name", "gestion_type__name")
    filter_horizontal = ("supervisors",)
    inlines = [StateAgentInline]
    fields = (
        "gestion_type",
        "name",
        "order",
        "is_initial",
        "outcome",
        ("duration_days", "duration_hours", "duration_minutes"),
        "color",
        ("is_approval", "is_disbursement"),
        "supervisors",
    )

    @admin.display(description=_("duración"))
    def duration_column(self, obj: GestionState) -> str:
        parts = [
            (obj.duration_days, "d"),
            (obj.duration_hours, "h"),
            (obj.duration_minutes, "min"),
        ]
        return " ".join(f"{value} {unit}" for value, unit in parts if value) or "—"


class ActionResultInline(admin.TabularInline):
    model = ActionResult
    formfield_overrides = NUMBER_FIELDS
    fk_name = "action"
    extra = 1
    verbose_name_plural = _("tabla de seguimiento")
    fields = (
        "name",
        "to_state",
        "changes_state",
        "alerts_customer",
        "customer_message",
        "order",
    )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "to_state":
            action_id = request.resolver_match.kwargs.get("object_id")
            action = Action.objects.filter(pk=action_id or 0).first()
            kwargs["queryset"] = GestionState.objects.filter(
                gestion_type_id=action.gestion_type_id if action else 0
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    formfield_overrides = NUMBER_FIELDS
    list_display = ("name", "gestion_type", "allowed_in", "order", "is_active")
    list_filter = ("gestion_type", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("from_states",)
    inlines = [ActionResultInline]

    @admin.display(description=_("permitida en"))
    def allowed_in(self, obj):
        return ", ".join(s.name for s in obj.from_states.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("from_states")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "from_states":
            action = Action.objects.filter(
                pk=request.resolver_match.kwargs.get("object_id") or 0
            ).first()
            if action:
                kwargs["queryset"] = GestionState.objects.filter(
                    gestion_type_id=action.gestion_type_id
                )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# How many follow-ups a gestión's admin page shows; the rest are one link away, in the
# follow-ups' list, which pages them (listing all 1,000 of one gestión made a 2 MB page).
FOLLOW_UPS_SHOWN = 20
FOLLOW_UP_COLUMNS = (
    "created_at",
    "kind",
    "action",
    "result",
    "from_state",
    "state",
    "actor",
    "notes",
)


@admin.register(Gestion)
class GestionAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer", "gestion_type", "state", "agent", "due_at", "created_at")
    list_filter = ("gestion_type", "outcome", "branch", "channel")
    search_fields = ("id", "customer__document_number", "customer__last_name", "subject")
    list_select_related = ("customer", "gestion_type", "state", "agent")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # For whoever may see follow-ups, as the inline this replaces was.
        if obj is not None and self.admin_site.get_model_admin(FollowUp).has_view_permission(
            request
        ):
            return (*fields, "recent_follow_ups")
        return fields

    @admin.display(description=_("seguimientos"))
    def recent_follow_ups(self, gestion: Gestion) -> str:
        """Show the latest follow-ups and link to the list of all of them."""
        total = gestion.follow_ups.count()
        if not total:
            return _("Sin seguimientos.")
        follow_ups = gestion.follow_ups.select_related(
            "action", "result", "from_state", "state", "actor"
        )[:FOLLOW_UPS_SHOWN]
        link = ngettext("Ver el seguimiento", "Ver los %(count)s seguimientos", total) % {
            "count": display.whole(total)
        }
        caption = (
            _("Los %(shown)s más recientes.") % {"shown": FOLLOW_UPS_SHOWN}
            if total > FOLLOW_UPS_SHOWN
            else ""
        )
        return admin_widgets.some_rows(
            FollowUp,
            follow_ups,
            FOLLOW_UP_COLUMNS,
            empty=self.get_empty_value_display(),
            caption=caption,
            changelist="admin:gestiones_followup_changelist",
            query={"gestion__id__exact": gestion.pk},
            link=link,
        )


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ("download", "uploaded_by", "created_at")
    readonly_fields = ("download", "uploaded_by", "created_at")
    can_delete = False

    @admin.display(description=_("archivo"))
    def download(self, obj: Attachment) -> str:
        # Files are private: the link goes through the view that checks who asks.
        return format_html(
            '<a href="{}">{}</a>', reverse("gestiones:attachment_download", args=[obj.pk]), obj.name
        )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("id", "gestion", "kind", "action", "result", "state", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = (
        "gestion__customer",
        "gestion__gestion_type",
        "action",
        "result",
        "state",
        "actor",
    )
    search_fields = ("gestion__id",)
    inlines = [AttachmentInline]
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "kind", "message", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("recipient__username", "message")


class GoalAdminForm(forms.ModelForm):
    """The goal screens' bounds in admin too: targets and year, one target at least."""

    class Meta:
        model = Goal
        fields = goal_services.GOAL_FIELDS
        # The screens' year and its one message («Elija un año entre 2000 y …»), not the
        # model field's «mayor o igual a 2000».
        field_classes = {"year": goal_forms.YearField}

    def _post_clean(self) -> None:
        super()._post_clean()
        if any(name in self.errors for name in goal_services.TARGETS):
            return  # a value refused on its own is not also "negative" or "missing"
        # A year the field refused is left out of the instance (None here): the targets
        # are still checked, and said beside the year's own message.
        try:
            goal_services.check_targets(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Goal)
class GoalAdmin(WholeNumberAutocompleteMixin, crm_admin.ServiceDeletionAdmin):
    formfield_overrides = NUMBER_FIELDS
    form = GoalAdminForm
    list_display = (
        "agent",
        "month",
        "year",
        "product",
        "target_local",
        "target_usd",
        "target_prospects",
        "target_customers",
        "success_state",
    )
    list_filter = ("year", "month", "product")
    autocomplete_fields = ("agent",)

    def delete_service(self, obj, actor) -> None:
        goal_services.delete_goal(goal=obj, actor=actor)


@admin.register(DocumentTemplate)
class DocumentTemplateAdmin(crm_admin.ServiceDeletionAdmin):
    list_display = ("name", "description", "is_active")
    list_filter = ("is_active", "gestion_types")
    search_fields = ("name",)
    filter_horizontal = ("gestion_types", "roles")
    # The DOCX is uploaded on the app's own screen, which checks its placeholders; here
    # it is only downloaded, through the view that checks who asks.
    readonly_fields = ("template_file",)
    exclude = ("file",)

    @admin.display(description=_("plantilla DOCX"))
    def template_file(self, obj: DocumentTemplate) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("gestiones:document_template_file", args=[obj.pk]),
            _("Descargar"),
            reverse("gestiones:document_template_update", args=[obj.pk]),
            _("Cambiar el archivo"),
        )

    def has_add_permission(self, request) -> bool:
        return False  # a template starts with its checked file, on the app's screen

    def delete_service(self, obj, actor) -> None:
        document_services.delete_template(template=obj, actor=actor)


class CampaignAdminForm(forms.ModelForm):
    """A campaign as the screens check it (`campaign_services.check_rules`): admin saved
    one starting in 9999, or an inbound one without the gestión type it opens."""

    class Meta:
        model = Campaign
        fields = "__all__"  # noqa: DJ007 (the admin lists its own fields)

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            campaign_services.check_rules(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Campaign)
class CampaignAdmin(crm_admin.ServiceDeletionAdmin):
    form = CampaignAdminForm
    list_display = ("name", "kind", "status", "gestion_type", "channel", "launched_at")
    list_filter = ("kind", "status")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = (
        "segment_branches",
        "segment_channels",
        "segment_tags",
        "segment_products",
        "agents",
    )

    def delete_service(self, obj, actor) -> None:
        campaign_services.delete_campaign(campaign=obj, actor=actor)


@admin.register(CampaignTarget)
class CampaignTargetAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "customer", "gestion", "message_status", "sent_at")
    fields = (*list_display, "message_error")
    readonly_fields = fields
    list_filter = ("campaign", "message_status")
    list_select_related = ("campaign", "customer", "gestion")


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(admin.ModelAdmin):
    formfield_overrides = NUMBER_FIELDS
    list_display = (
        "name",
        "kind",
        "loan_product",
        "anchor",
        "offset_days",
        "gestion_type",
        "is_active",
    )
    list_filter = ("kind", "loan_product", "is_active")


@admin.register(LifecycleRun)
class LifecycleRunAdmin(ReadOnlyAdmin):
    list_display = ("event", "loan", "gestion", "is_message_sent", "ran_at")
    fields = readonly_fields = list_display
    list_filter = ("event",)
    list_select_related = ("event", "loan", "gestion")


class QuestionInline(admin.TabularInline):
    model = Question
    formfield_overrides = NUMBER_FIELDS
    extra = 1


@admin.register(Survey)
class SurveyAdmin(crm_admin.ServiceDeletionAdmin):
    list_display = ("name", "is_active")
    inlines = [QuestionInline]

    def delete_service(self, obj, actor) -> None:
        survey_services.delete_survey(survey=obj, actor=actor)


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(ReadOnlyAdmin):
    list_display = ("survey", "gestion", "sent_at", "answered_at")
    # The token is the survey's link: not shown.
    fields = readonly_fields = (*list_display, "created_at")
    list_filter = ("survey",)
    list_select_related = ("survey", "gestion")


@admin.register(CreditApplication)
class CreditApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "gestion",
        "loan_product",
        "amount",
        "term",
        "source",
        "lead_received_at",
        "approved_at",
        "loan",
    )
    list_filter = ("source", "loan_product")
    search_fields = ("gestion__id", "gestion__customer__document_number", "loan__payment_code")
    list_select_related = ("gestion__customer", "gestion__gestion_type", "loan_product", "loan")
    date_hierarchy = "lead_received_at"


@admin.register(CreditLead)
class CreditLeadAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "received_at", "customer", "application", "decided_by")
    list_filter = ("status", "source")
    search_fields = ("customer__document_number",)
    list_select_related = ("customer", "decided_by")
    date_hierarchy = "received_at"
