import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from integrations import api_clients, outbox, services
from integrations.models import ApiClient, OutboxMessage, WebhookEvent
from lib import fields as lib_fields
from lib.admin_widgets import blanked_by_deleting

ERROR_PREVIEW_CHARS = 80


def _say_what_was_done(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    done: int,
    skipped: int,
    done_text: tuple[str, str],
    skipped_text: tuple[str, str],
) -> None:
    """Tell how many rows an action acted on, and how many it left, and why: selecting a
    row it does not act on said "0 … vuelven" before, as if nothing had been chosen."""
    if done:
        model_admin.message_user(
            request, ngettext(*done_text, done) % {"count": done}, messages.SUCCESS
        )
    if skipped:
        model_admin.message_user(
            request, ngettext(*skipped_text, skipped) % {"count": skipped}, messages.WARNING
        )


def _pretty_json(data: Any) -> SafeString:
    return format_html(
        "<pre>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
    )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The inbox, read-only: what each provider sent, and what processing made of it."""

    list_display = [
        "event_id",
        "provider",
        "status",
        "attempts",
        "error_preview",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "provider"]
    search_fields = ["event_id", "last_error"]
    date_hierarchy = "received_at"
    ordering = ["-received_at"]
    actions = ["replay_events"]
    fields = [
        "provider",
        "event_id",
        "status",
        "attempts",
        "received_at",
        "last_attempt_at",
        "processed_at",
        "last_error",
        "pretty_headers",
        "pretty_body",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Events are evidence of what a provider sent: shown, never edited.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nor deleted: the row is also what makes a provider's replay of the event a no-op.
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_webhookevent")

    @admin.display(description=_("último error"))
    def error_preview(self, event: WebhookEvent) -> str:
        return Truncator(event.last_error).chars(ERROR_PREVIEW_CHARS)

    @admin.display(description=_("cabeceras"))
    def pretty_headers(self, event: WebhookEvent) -> SafeString:
        return _pretty_json(event.headers)

    @admin.display(description=_("cuerpo"))
    def pretty_body(self, event: WebhookEvent) -> SafeString:
        try:
            return _pretty_json(json.loads(event.raw_body))
        except ValueError:
            return format_html("<pre>{}</pre>", event.raw_body)

    @admin.action(description=_("Reprocesar eventos seleccionados"), permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        selected = list(queryset)
        replayed = sum(services.replay_event(event=event) for event in selected)
        _say_what_was_done(
            self,
            request,
            done=replayed,
            skipped=len(selected) - replayed,
            done_text=(
                "%(count)d evento vuelve a procesarse.",
                "%(count)d eventos vuelven a procesarse.",
            ),
            skipped_text=(
                "%(count)d evento no se reprocesó: solo se reprocesan los fallidos o ignorados.",
                "%(count)d eventos no se reprocesaron: solo se reprocesan los fallidos o "
                "ignorados.",
            ),
        )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The outbox, read-only: what is waiting to be sent, what was sent, and what failed."""

    list_display = [
        "destination",
        "status",
        "attempts",
        "error_preview",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "destination"]
    search_fields = ["destination", "dedupe_key", "last_error"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["retry_messages"]
    fields = [
        "destination",
        "dedupe_key",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "pretty_payload",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Messages change only through the outbox services (send, retry).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # What was sent to whom, and what failed, stays on record.
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_outboxmessage")

    @admin.display(description=_("último error"))
    def error_preview(self, message: OutboxMessage) -> str:
        return Truncator(message.last_error).chars(ERROR_PREVIEW_CHARS)

    @admin.display(description=_("contenido"))
    def pretty_payload(self, message: OutboxMessage) -> SafeString:
        return _pretty_json(message.payload)

    @admin.action(description=_("Reintentar mensajes seleccionados"), permissions=["retry"])
    def retry_messages(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        selected = list(queryset)
        retried = sum(outbox.retry_message(message=message) for message in selected)
        _say_what_was_done(
            self,
            request,
            done=retried,
            skipped=len(selected) - retried,
            done_text=(
                "%(count)d mensaje vuelve a la cola.",
                "%(count)d mensajes vuelven a la cola.",
            ),
            skipped_text=(
                "%(count)d mensaje no se reintentó: solo se reintentan los fallidos.",
                "%(count)d mensajes no se reintentaron: solo se reintentan los fallidos.",
            ),
        )


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """The programs that call the JSON API: a token each, shown once, rotated by an action."""

    # Its rate limit typed as the app's other numbers (lib.fields): "1.000" is not 1.
    formfield_overrides = lib_fields.admin_number_fields()
    list_display = [
        "name",
        "token_prefix",
        "is_active",
        "scopes",
        "rate_limit_per_minute",
        "last_used_at",
        "created_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "token_prefix"]
    ordering = ["name"]
    actions = ["rotate_tokens"]
    fields = [
        "name",
        "scopes",
        "rate_limit_per_minute",
        "is_active",
        "token_prefix",
        "created_at",
        "last_used_at",
    ]
    readonly_fields = ["token_prefix", "created_at", "last_used_at"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"scopes": "collections", **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        token = None if change else api_clients.assign_token(obj)
        super().save_model(request, obj, form, change)
        api_clients.forget(obj)
        if token:
            self._show_token(request, obj, token)

    def get_deleted_objects(self, objs, request):
        # A client's payments reported, call-backs asked for and imports name it: deleted,
        # they would read as sent by nobody. It is switched off instead.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for client in objs:
            traces = blanked_by_deleting(client)
            if traces:
                protected = [
                    *protected,
                    _(
                        "%(client)s figura en %(traces)s: desactívelo (desmarque «Activo») en "
                        "lugar de borrarlo; su token deja de valer y su historial queda."
                    )
                    % {"client": client.name, "traces": ", ".join(traces)},
                ]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: ApiClient) -> None:
        api_clients.forget(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            api_clients.forget(client)
        super().delete_queryset(request, queryset)

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_apiclient")

    @admin.action(
        description=_("Generar un token nuevo (el anterior deja de valer)"), permissions=["rotate"]
    )
    def rotate_tokens(
        self, request: HttpRequest, queryset: QuerySet[ApiClient]
    ) -> TemplateResponse | None:
        # Asked first, the way Django's "delete selected" asks: the programs using the old
        # token stop working the moment it is replaced.
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/integrations/apiclient/rotate_tokens_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("¿Generar tokens nuevos?"),
                    "opts": self.model._meta,
                    "clients": list(queryset),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for client in queryset:
            token = api_clients.rotate_token(client=client)
            self.log_change(request, client, "Token rotado; el anterior dejó de valer.")
            self._show_token(request, client, token)
        return None

    def _show_token(self, request: HttpRequest, client: ApiClient, token: str) -> None:
        # The only time the token is shown: it is not stored, only its hash.
        self.message_user(
            request,
            format_html(
                str(_("Token de «{}»: <code>{}</code> — cópielo ahora, no se volverá a mostrar.")),
                client.name,
                token,
            ),
            messages.WARNING,
        )
