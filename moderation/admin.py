import json

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.html import format_html

from moderation.models import ActionEvent, EvaluationEvent, Moderator


class PrettyJSONFormField(forms.JSONField):
    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


def pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class EventAdmin(admin.ModelAdmin):
    """Event logs are evidence: viewable, never edited here."""

    list_select_related = ("moderator",)  # the default follows every FK
    show_full_result_count = False  # skips a second COUNT(*) over the whole table
    # No date_hierarchy: its drill-down runs SELECT DISTINCT date_trunc(...) over the whole table.

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="context")
    def context_pretty(self, obj):
        return pretty_json(obj.context)


@admin.register(Moderator)
class ModeratorAdmin(admin.ModelAdmin):
    list_display = ("name", "platform", "platform_server_id", "status", "user", "created_at")
    list_filter = ("status", "platform")
    list_select_related = ("user",)
    search_fields = ("name", "=platform_server_id", "=user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("moderator_id", "created_at")
    formfield_overrides = {
        models.JSONField: {"form_class": PrettyJSONFormField, "widget": forms.Textarea(attrs={"rows": 20, "cols": 80})}
    }


@admin.register(EvaluationEvent)
class EvaluationEventAdmin(EventAdmin):
    list_display = ("event_id", "moderator", "platform_user_id", "severity_score", "behaviour_score", "created_at")
    search_fields = ("=platform_user_id", "=moderator__platform_server_id")
    exclude = ("embedding",)  # read-only vectors break the admin (pgvector-python #99)
    readonly_fields = (
        "event_id",
        "moderator",
        "platform_user_id",
        "severity_score",
        "behaviour_score",
        "context_pretty",
        "created_at",
    )
    fields = readonly_fields


@admin.register(ActionEvent)
class ActionEventAdmin(EventAdmin):
    list_display = ("action_id", "moderator", "action_type", "status", "platform_user_id", "created_at", "executed_at")
    list_filter = ("status", "action_type")
    search_fields = ("=platform_user_id", "=moderator__platform_server_id")
    readonly_fields = (
        "action_id", "event_id", "moderator", "evaluation", "platform_user_id", "action_type", "action_params_pretty",
        "context_pretty", "status", "error_msg", "reason", "created_at", "updated_at", "executed_at",
    )  # fmt: skip
    fields = readonly_fields

    @admin.display(description="action params")
    def action_params_pretty(self, obj):
        return pretty_json(obj.action_params)
