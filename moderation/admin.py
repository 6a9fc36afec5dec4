"""The operators' console: records readable, the review queue, insight per moderator.

Every changelist here is written against EXPLAIN at 1,000,000 evaluation events and 200,000 actions
(docs/admin.md, `make bench`): counts are estimated or capped and deep
pages use keyset links (moderation/paginators.py), searches are exact matches an index serves, filters never run
SELECT DISTINCT over an event table, and column sorting is limited to what an index orders.
"""

import json
from collections import Counter
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from moderation import charts
from moderation.models import (
    NEWEST_FIRST,
    ActionEvent,
    ActionReview,
    ActionStatus,
    ActionType,
    EvaluationEvent,
    Moderator,
    ModeratorStatus,
    ReviewQueueItem,
)
from moderation.paginators import OLDER_VAR, EstimatedCountPaginator, MalformedCursor, NewestFirstChangeList
from moderation.services import action_event_approve, action_event_reject
from moderation.stats import (
    PAGE_COUNT_CAP,
    SEVERITY_BANDS,
    SEVERITY_SAMPLE,
    capped_count,
    moderator_insight,
    severity_band,
)

DECIDE_PERMISSION = "moderation.decide_action"
LIST_COUNT_CAP = 1_000  # per moderator row: at most this many index entries read per count
CREATED_WITHIN = {"today": ("today", 0), "7d": ("past 7 days", 6), "30d": ("past 30 days", 29)}
STATUS_COLOURS = {
    ActionStatus.AWAITING_APPROVAL: "#b36b00", ActionStatus.COMPLETED: "#2e7d32", ActionStatus.FAILED: "#c62828",
    ActionStatus.REJECTED: "#555", ModeratorStatus.ONLINE: "#2e7d32", ModeratorStatus.PENDING: "#b36b00",
    ModeratorStatus.OFFLINE: "#555",
}  # fmt: skip


class PrettyJSONFormField(forms.JSONField):
    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


def pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def badge(status: str, label: str):
    return format_html(
        '<span class="gova-badge" style="background:{};color:#fff;padding:1px 7px;border-radius:9px;'
        'white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(status, "#555"),
        label,
    )


def message_field(context, key: str, default: str = "—") -> str:
    """A value of the message context JSON (content, channel_name, username), tolerant of odd shapes."""
    value = context.get(key) if isinstance(context, dict) else None
    return default if value in (None, "") else str(value)


def shown_count(value: int, cap: int) -> str:
    return f"{cap:,}+" if value > cap else f"{value:,}"


# -- list filters that never read the table to list their choices --------------------------------


class SeverityBandFilter(admin.SimpleListFilter):
    title = "severity"
    parameter_name = "severity"
    field = "severity_score"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in SEVERITY_BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() not in SEVERITY_BANDS:
            return queryset
        return queryset.filter(severity_band(self.value(), self.field))


class ActionSeverityBandFilter(SeverityBandFilter):
    field = "evaluation__severity_score"


class CreatedWithinFilter(admin.SimpleListFilter):
    """Fixed recent ranges: no SELECT DISTINCT date_trunc(...) to list them.

    Both the page and its capped count are a range of *_created_key_idx from the newest, the count index-only
    (EXPLAIN ANALYZE at 220,000 events: 0.5 ms for 1,001 rows of the last 7 days, 0.2 ms for the page).
    """

    title = "created"
    parameter_name = "created"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in CREATED_WITHIN.items()]

    def queryset(self, request, queryset):
        if self.value() not in CREATED_WITHIN:
            return queryset
        start_of_today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        return queryset.filter(created_at__gte=start_of_today - timedelta(days=CREATED_WITHIN[self.value()][1]))


# -- the event admins ------------------------------------------------------------------------------


class EventAdmin(admin.ModelAdmin):
    """Event logs are evidence: viewable, never added, edited or deleted here."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False  # skips a second COUNT(*) over the whole table
    list_per_page = 50  # rendering is most of a page's time: 100 rows cost ~2x as much as 50
    # Newest first by time, the key breaking ties (*_created_key_idx), never by key alone: the old service's keys
    # are uuid4. Sorting by another column would sort the whole table.
    ordering = NEWEST_FIRST
    sortable_by = ()
    # No date_hierarchy: its drill-down runs SELECT DISTINCT date_trunc(...) over the whole table.
    # No facet counts: one COUNT per filter choice over the table.
    show_facets = admin.ShowFacets.NEVER
    search_help_text = "An exact platform user id or server (guild) id."

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return NewestFirstChangeList

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except MalformedCursor as error:
            # A hand-edited or truncated link: say so, rather than Django's "?e=1" or a server error.
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "This “older” link is malformed",
                "error": str(error),
                "newest_url": _without(request, OLDER_VAR),
            }
            return TemplateResponse(request, "admin/moderation/malformed_cursor.html", context, status=400)

    def get_search_results(self, request, queryset, search_term):
        """An id is a server id when a moderator has it, else a platform user id: one index per query.

        Django's `=field` search compares UPPER(column) = UPPER(term), which no index serves, and ORs
        every field across a join (229 ms at 1M events). Discord ids are numeric, so case never matters.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        moderator_ids = list(Moderator.objects.filter(platform_server_id=term).values_list("pk", flat=True))
        if moderator_ids:
            return queryset.filter(moderator_id__in=moderator_ids), False
        return queryset.filter(platform_user_id=term), False

    @admin.display(description="moderator")
    def moderator_name(self, obj):
        return obj.moderator.name  # list_select_related: no query per row

    @admin.display(description="context")
    def context_pretty(self, obj):
        return pretty_json(obj.context)

    @admin.display(description="author")
    def author(self, obj):
        return format_html("{} <small>({})</small>", message_field(obj.context, "username"), obj.platform_user_id)

    @admin.display(description="channel")
    def channel(self, obj):
        return message_field(obj.context, "channel_name", message_field(obj.context, "channel_id"))

    @admin.display(description="message")
    def message_excerpt(self, obj):
        content = message_field(obj.context, "content")
        return content if len(content) <= 80 else content[:79] + "…"

    @admin.display(description="message")
    def message_content(self, obj):
        return format_html('<div class="gova-message">{}</div>', message_field(obj.context, "content"))


class ActionInline(admin.TabularInline):
    model = ActionEvent
    fk_name = "evaluation"
    fields = ("action_link", "action_type", "status_badge", "action_params", "reason", "created_at", "executed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="action")
    def action_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:moderation_actionevent_change", args=[obj.pk]), obj.pk)

    @admin.display(description="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())


@admin.register(EvaluationEvent)
class EvaluationEventAdmin(EventAdmin):
    list_display = (
        "created_at", "moderator_name", "author", "channel", "message_excerpt", "severity_score", "behaviour_score",
    )  # fmt: skip
    list_display_links = ("created_at",)
    list_filter = ("moderator__platform", SeverityBandFilter, CreatedWithinFilter)
    list_select_related = ("moderator",)
    search_fields = ("platform_user_id",)  # shows the box; get_search_results decides how to match
    fields = (
        "event_id", "moderator", "author", "channel", "message_content", "severity_score", "behaviour_score",
        "created_at", "context_pretty",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [ActionInline]

    def get_queryset(self, request):
        # Read-only vectors break the admin (pgvector-python #99), and 4 kB a row is not worth reading.
        return super().get_queryset(request).defer("embedding")


class ReviewInline(admin.TabularInline):
    model = ActionReview
    fields = ("created_at", "reviewer", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "review log (append-only)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reviewer").order_by("created_at")


@admin.register(ActionEvent)
class ActionEventAdmin(EventAdmin):
    list_display = (
        "created_at", "moderator_name", "action_type", "status_badge", "platform_user_id", "reason",
        "evaluation_link", "executed_at",
    )  # fmt: skip
    list_display_links = ("created_at",)
    list_filter = ("status", "action_type", "moderator__platform", ActionSeverityBandFilter, CreatedWithinFilter)
    list_select_related = ("moderator",)
    search_fields = ("platform_user_id",)
    fields = (
        "action_id", "moderator", "evaluation", "platform_user_id", "action_type", "status_badge", "reason",
        "action_params_pretty", "error_msg", "message_content", "created_at", "updated_at", "executed_at",
        "context_pretty",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [ReviewInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # An awaiting action is decided here too, by the queue's handler (a form after the page's own).
        extra_context = {**(extra_context or {}), "can_decide": request.user.has_perm(DECIDE_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="action params")
    def action_params_pretty(self, obj):
        return pretty_json(obj.action_params)

    @admin.display(description="evaluation")
    def evaluation_link(self, obj):
        url = reverse("admin:moderation_evaluationevent_change", args=[obj.evaluation_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.evaluation_id)[:13] + "…")


# -- the review queue ----------------------------------------------------------------------------


class ReasonActionForm(ActionForm):
    reason = forms.CharField(
        required=False, label="Reason", widget=forms.TextInput(attrs={"size": 40, "placeholder": "reason (required)"})
    )


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(EventAdmin):
    """Actions awaiting approval, most severe first, then oldest; approve or reject each or in bulk, with a reason."""

    list_display = (
        "proposed_action", "message", "severity", "author_history", "decide",
    )  # fmt: skip
    list_display_links = None
    list_filter = ("action_type", "moderator__platform")
    search_fields = ("platform_user_id",)
    action_form = ReasonActionForm
    actions = ["approve_selected", "reject_selected"]
    change_list_template = "admin/moderation/reviewqueueitem/change_list.html"

    def get_queryset(self, request):
        return ReviewQueueItem.objects.review_queue().with_author_history()

    def get_ordering(self, request):
        # The key only breaks ties of the same instant: old-service keys are uuid4, not a time.
        return ("-evaluation__severity_score", "created_at", "pk")

    def get_changelist(self, request, **kwargs):
        # Ordered by severity first, so no keyset by time: numbered pages of the (short) queue.
        return ChangeList

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(DECIDE_PERMISSION)

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        # One row's Approve / Reject button posts `_decide=approve:<pk>` with that row's `reason-<pk>`.
        if request.method == "POST" and "_decide" in request.POST:
            if not self.has_decide_permission(request):
                return HttpResponseRedirect(request.get_full_path())
            verdict, _, pk = request.POST["_decide"].partition(":")
            action = ActionEvent.objects.filter(pk=pk).first() if verdict in ("approve", "reject") else None
            if action is None:
                self.message_user(request, "no such action: nothing was done", messages.ERROR)
            else:
                self._decide(request, [action], verdict, request.POST.get(f"reason-{pk}", ""))
            # The action's own page posts here too and asks to come back to itself.
            back = request.POST.get("_next", "")
            if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                back = request.get_full_path()
            return HttpResponseRedirect(back)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Approve selected actions (with the reason given)", permissions=["decide"])
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, "approve", request.POST.get("reason", ""))

    @admin.action(description="Reject selected actions (with the reason given)", permissions=["decide"])
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, "reject", request.POST.get("reason", ""))

    def _decide(self, request, actions, verdict: str, reason: str) -> None:
        if not reason.strip():
            self.message_user(request, "give a reason to approve or reject: nothing was done", messages.ERROR)
            return
        decided = []
        for action in actions:
            try:
                if verdict == "approve":
                    decided.append(action_event_approve(action=action, reviewer=request.user, reason=reason))
                else:
                    decided.append(action_event_reject(action=action, reviewer=request.user, reason=reason))
            except ValidationError as error:
                self.message_user(request, f"{action.pk}: {'; '.join(error.messages)}", messages.ERROR)
        if decided:
            outcome = ", ".join(
                f"{count} {status}" for status, count in sorted(Counter(a.status for a in decided).items())
            )
            self.message_user(request, f"{len(decided)} action(s) decided: {outcome}.", messages.SUCCESS)

    @admin.display(description="action")
    def proposed_action(self, obj):
        params = ", ".join(f"{key}={value}" for key, value in (obj.action_params or {}).items())
        return format_html(
            '<strong>{}</strong> <small>{}</small><br><small>bot: {}</small><br><small><a href="{}">{}</a></small>',
            obj.get_action_type_display(),
            params,
            obj.reason or "—",
            reverse("admin:moderation_actionevent_change", args=[obj.pk]),
            timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M"),
        )

    @admin.display(description="message it answers")
    def message(self, obj):
        context = obj.context
        return format_html(
            '<div class="gova-message">{}</div><small>#{} · {} · {}</small>',
            message_field(context, "content"),
            message_field(context, "channel_name"),
            message_field(context, "username"),
            obj.moderator.name,
        )

    @admin.display(description="severity")
    def severity(self, obj):
        return f"{obj.evaluation.severity_score:.2f}"

    @admin.display(description="author: latest behaviour · earlier actions")
    def author_history(self, obj):
        score = obj.author_behaviour_score
        earlier = [(kind, getattr(obj, f"earlier_{kind}") or 0) for kind in ActionType.values]
        return format_html(
            "{} <small>({})</small><br>behaviour {}<br><small>{}</small>",
            message_field(obj.context, "username"),
            obj.platform_user_id,
            "—" if score is None else f"{score:.2f}",
            format_html_join(" · ", "{} {}", earlier),
        )

    @admin.display(description="decide")
    def decide(self, obj):
        return format_html(
            '<input type="text" name="reason-{0}" size="16" placeholder="reason" aria-label="reason for {0}"><br>'
            '<button type="submit" name="_decide" value="approve:{0}" class="button">Approve</button> '
            '<button type="submit" name="_decide" value="reject:{0}" class="button">Reject</button>',
            obj.pk,
        )


# -- moderators ----------------------------------------------------------------------------------


@admin.register(Moderator)
class ModeratorAdmin(admin.ModelAdmin):
    list_display = (
        "name", "status_badge", "platform", "platform_server_id", "user", "evaluation_total", "action_total",
        "created_at",
    )  # fmt: skip
    list_filter = ("status", "platform")
    list_select_related = ("user",)
    search_fields = ("name", "=platform_server_id", "=user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("moderator_id", "created_at")
    ordering = NEWEST_FIRST  # a few hundred rows; by time like every list, not by key
    formfield_overrides = {
        models.JSONField: {"form_class": PrettyJSONFormField, "widget": forms.Textarea(attrs={"rows": 20, "cols": 80})}
    }
    change_form_template = "admin/moderation/moderator/change_form.html"

    def get_queryset(self, request):
        # Capped per row (index-only on *_mod_created_key_idx): never a COUNT over a whole event table per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                evaluation_count=capped_count("evaluation_events", LIST_COUNT_CAP),
                action_count=capped_count("action_events", LIST_COUNT_CAP),
            )
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="evaluations")
    def evaluation_total(self, obj):
        url = reverse("admin:moderation_evaluationevent_changelist") + f"?moderator__moderator_id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, shown_count(obj.evaluation_count, LIST_COUNT_CAP))

    @admin.display(description="actions")
    def action_total(self, obj):
        url = reverse("admin:moderation_actionevent_changelist") + f"?moderator__moderator_id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, shown_count(obj.action_count, LIST_COUNT_CAP))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        moderator = Moderator.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
        if moderator is not None:
            extra_context = {**(extra_context or {}), **insight_context(moderator_insight(moderator.pk))}
        return super().change_view(request, object_id, form_url, extra_context)


def insight_context(insight: dict) -> dict:
    """The moderator page's insight (moderation.stats.moderator_insight) as template context: capped counts
    shown as such, charts drawn."""
    days = insight["days"]
    return {
        "insight_days": days,
        "insight_severity_sample": f"{SEVERITY_SAMPLE:,}",
        "insight_totals": {name: shown_count(count, PAGE_COUNT_CAP) for name, count in insight["totals"].items()},
        "insight_activity_chart": charts.daily_bars(
            insight["dates"], insight["per_day"], f"Evaluations and actions per day, last {days} days"
        ),
        "insight_severity_chart": charts.horizontal_bars(
            [(label, insight["severity"][key]) for key, (label, _, _) in SEVERITY_BANDS.items()],
            f"Severity of the latest {SEVERITY_SAMPLE:,} evaluations of the last {days} days",
        ),
        "insight_leaders": [{**leader, "username": leader["username"] or "—"} for leader in insight["leaders"]],
    }


def _without(request, name: str) -> str:
    """The request's path and query string without the parameter `name`."""
    query = request.GET.copy()
    query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _is_uuid(value) -> bool:
    try:
        Moderator._meta.pk.to_python(value)
    except ValidationError:
        return False
    return True
