from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Now, Trunc
from django.utils import timezone
from pgvector.django import CosineDistance, HnswIndex, VectorField

from gova.db import uuid7_primary_key
from moderation.validators import validate_moderator_conf

# -- choices (module level so Meta and querysets can see them) ---------------------------


class Platform(models.TextChoices):
    DISCORD = "discord", "Discord"


class ModeratorStatus(models.TextChoices):
    OFFLINE = "offline", "Offline"
    PENDING = "pending", "Pending"
    ONLINE = "online", "Online"


class ActionType(models.TextChoices):
    REPLY = "reply", "Reply"
    KICK = "kick", "Kick"
    TIMEOUT = "timeout", "Timeout"


class ActionStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


# Width of EvaluationEvent.embedding: Qwen3-Embedding-0.6B gives 1024. A constant, not a setting: the
# column's type is schema, so changing it is a migration (and a re-embedding of every stored row).
EMBEDDING_DIMENSIONS = 1024

SCORE_RANGE = [MinValueValidator(0.0), MaxValueValidator(1.0)]  # forms name the field; CHECKs guard the rest


def validate_embedding_dimensions(value) -> None:
    if value is not None and len(value) != EMBEDDING_DIMENSIONS:
        raise ValidationError(
            f"embedding must have {EMBEDDING_DIMENSIONS} dimensions, not {len(value)}",
            code="embedding_dimensions",
        )


# -- querysets ---------------------------------------------------------------------------


ACTIVITY_PERIODS = ("day", "week", "month")


class ActivityQuerySet(models.QuerySet):
    def activity(self, moderator_id, period: str = "day"):
        """Event counts of one moderator per day, week or month, oldest first (the *_mod_created_idx index)."""
        if period not in ACTIVITY_PERIODS:
            raise ValueError(f"period must be one of {', '.join(ACTIVITY_PERIODS)}, not {period!r}")
        return (
            self.filter(moderator_id=moderator_id)
            .annotate(bucket=Trunc("created_at", period))
            .values("bucket")
            .annotate(count=Count("pk"))
            .order_by("bucket")
        )


class EvaluationEventQuerySet(ActivityQuerySet):
    def for_moderator(self, moderator_id):
        return self.filter(moderator_id=moderator_id).order_by("-created_at")  # evaluation_mod_created_idx

    def for_platform_user(self, moderator_id, platform_user_id):
        # evaluation_mod_user_idx
        return self.filter(moderator_id=moderator_id, platform_user_id=platform_user_id).order_by("-created_at")

    def latest_behaviour_scores(self, moderator_id):
        """Each platform user's most recent evaluation for one moderator, highest behaviour score first.

        DISTINCT ON walks evaluation_mod_user_idx (moderator, user, created_at) backwards per user.
        """
        latest = (
            self.filter(moderator_id=moderator_id)
            .order_by("platform_user_id", "-created_at")
            .distinct("platform_user_id")
            .values("pk")
        )
        return self.filter(pk__in=latest).order_by("-behaviour_score", "platform_user_id")

    def nearest(self, embedding, limit=10):
        """The events whose embedding is closest by cosine distance (served by evaluation_embedding_hnsw)."""
        return (
            self.exclude(embedding=None)
            .annotate(distance=CosineDistance("embedding", embedding))
            .order_by("distance")[:limit]
        )


class ActionEventQuerySet(ActivityQuerySet):
    def for_moderator(self, moderator_id, status=None):
        actions = self.filter(moderator_id=moderator_id)
        if status is not None:
            actions = actions.filter(status=status)  # action_mod_status_created_idx
        return actions.order_by("-created_at")  # action_mod_created_idx

    def awaiting_approval(self):
        return self.filter(status=ActionStatus.AWAITING_APPROVAL).order_by("created_at")  # action_awaiting_created_idx

    def review_queue(self):
        """Actions awaiting approval, most severe message first, then oldest.

        Severity lives on the evaluation: the partial index action_awaiting_created_idx finds the
        awaiting rows (a few thousand of 200,000) and each joins its evaluation by primary key; the
        sort is over the queue, not the table (EXPLAIN ANALYZE at 1M events / 200k actions in README).
        """
        return (
            self.filter(status=ActionStatus.AWAITING_APPROVAL)
            .select_related("evaluation", "moderator")
            .defer("evaluation__embedding")
            .order_by("-evaluation__severity_score", "created_at", "pk")
        )

    def with_author_history(self):
        """Annotate the author's latest behaviour score and their earlier actions (same moderator) by kind.

        One index descent per row each: evaluation_mod_user_idx for the score, action_user_idx for the counts.
        """
        latest = EvaluationEvent.objects.filter(
            moderator_id=OuterRef("moderator_id"), platform_user_id=OuterRef("platform_user_id")
        ).order_by("-created_at")
        earlier = {
            f"earlier_{kind}": Subquery(
                ActionEvent.objects.filter(
                    platform_user_id=OuterRef("platform_user_id"), moderator_id=OuterRef("moderator_id"),
                    created_at__lt=OuterRef("created_at"), action_type=kind,
                ).values("platform_user_id").annotate(n=Count("*")).values("n")
            )
            for kind in ActionType.values
        }  # fmt: skip
        return self.annotate(author_behaviour_score=Subquery(latest.values("behaviour_score")[:1]), **earlier)


# -- models ------------------------------------------------------------------------------
# Table and column names follow the original service's schema, so an existing database maps one to one.


class Moderator(models.Model):
    """A bot watching one community (a Discord guild) on behalf of a user."""

    moderator_id = uuid7_primary_key()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderators")
    name = models.CharField(max_length=None)
    description = models.CharField(max_length=200, null=True, blank=True)
    platform = models.CharField(max_length=None, choices=Platform, default=Platform.DISCORD)
    platform_server_id = models.CharField(max_length=None, help_text="The Discord guild id.")
    conf = models.JSONField(validators=[validate_moderator_conf], help_text="Bot configuration.")
    status = models.CharField(
        max_length=None, choices=ModeratorStatus, default=ModeratorStatus.OFFLINE, db_default=ModeratorStatus.OFFLINE
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "moderators"
        constraints = [
            models.CheckConstraint(condition=Q(platform__in=Platform.values), name="moderator_platform_valid"),
            models.CheckConstraint(condition=Q(status__in=ModeratorStatus.values), name="moderator_status_valid"),
        ]
        indexes = [
            # The admin's search by guild id and the bot's start-up lookup.
            models.Index(fields=["platform", "platform_server_id"], name="moderator_platform_server_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform} {self.platform_server_id})"


class EvaluationEvent(models.Model):
    """One scored chat message."""

    event_id = uuid7_primary_key()
    # db_index=False: evaluation_mod_created_idx leads with moderator_id and serves the FK.
    moderator = models.ForeignKey(Moderator, on_delete=models.CASCADE, related_name="evaluations", db_index=False)
    platform_user_id = models.CharField(max_length=None, help_text="The message author's platform id.")
    severity_score = models.FloatField(validators=SCORE_RANGE)
    behaviour_score = models.FloatField(
        default=0.0,
        db_default=0.0,
        validators=SCORE_RANGE,
        help_text="Mean severity of the author's last 100 messages.",
    )
    context = models.JSONField(help_text="The message: ids, author, content, roles, reply_to.")
    embedding = VectorField(
        dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True, validators=[validate_embedding_dimensions]
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    objects = EvaluationEventQuerySet.as_manager()

    class Meta:
        db_table = "evaluation_events"
        constraints = [
            models.CheckConstraint(condition=Q(severity_score__range=(0, 1)), name="evaluation_severity_range"),
            models.CheckConstraint(condition=Q(behaviour_score__range=(0, 1)), name="evaluation_behaviour_range"),
        ]
        indexes = [
            # A moderator's evaluations by time: counts per day/week/month, newest first.
            models.Index(fields=["moderator", "created_at"], name="evaluation_mod_created_idx"),
            # The latest behaviour score per platform user of a moderator.
            models.Index(fields=["moderator", "platform_user_id", "created_at"], name="evaluation_mod_user_idx"),
            # Similar content: nearest neighbours by cosine distance, the distance nearest() orders by.
            HnswIndex(fields=["embedding"], name="evaluation_embedding_hnsw", opclasses=["vector_cosine_ops"]),
            # The admin's search by platform user id across moderators (an exact match, not UPPER()).
            models.Index(fields=["platform_user_id"], name="evaluation_user_idx"),
        ]

    def __str__(self) -> str:
        # Rendered once per admin row: *_id never costs a query.
        return f"{self.platform_user_id} severity={self.severity_score:.2f} moderator={self.moderator_id}"


class ActionEvent(models.Model):
    """One action a moderator took or proposed; awaiting_approval ones wait for a human."""

    action_id = uuid7_primary_key()
    event_id = models.UUIDField(help_text="Id of the triggering message event.")
    # db_index=False: action_mod_created_idx leads with moderator_id and serves the FK.
    moderator = models.ForeignKey(Moderator, on_delete=models.CASCADE, related_name="actions", db_index=False)
    platform_user_id = models.CharField(max_length=None, null=True, blank=True, help_text="The target user.")
    # The original database has no ON DELETE rule here, and neither has Django: deleting an evaluation
    # that still has actions fails in the database (NO ACTION). Deleting a moderator or a user works:
    # its actions go with it through the moderator key. (PROTECT would refuse even that.)
    evaluation = models.ForeignKey(EvaluationEvent, on_delete=models.DO_NOTHING, related_name="actions")
    action_type = models.CharField(max_length=None, choices=ActionType)
    action_params = models.JSONField(null=True, blank=True)
    context = models.JSONField(help_text="The message the action answers.")
    status = models.CharField(max_length=None, choices=ActionStatus)
    error_msg = models.CharField(max_length=None, null=True, blank=True)
    reason = models.CharField(max_length=None, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    executed_at = models.DateTimeField(null=True, blank=True)

    objects = ActionEventQuerySet.as_manager()

    class Meta:
        db_table = "action_events"
        constraints = [
            # choices= only guards forms; the database guards every other writer.
            models.CheckConstraint(condition=Q(action_type__in=ActionType.values), name="action_type_valid"),
            models.CheckConstraint(condition=Q(status__in=ActionStatus.values), name="action_status_valid"),
        ]
        indexes = [
            # A moderator's actions, newest first.
            models.Index(fields=["moderator", "created_at"], name="action_mod_created_idx"),
            # ... filtered by status (the approval queue of one moderator).
            models.Index(fields=["moderator", "status", "created_at"], name="action_mod_status_created_idx"),
            # The original schema indexes action_type.
            models.Index(fields=["action_type"], name="action_type_idx"),
            # The review queue: only the awaiting rows, oldest first (a few thousand of 200,000).
            models.Index(
                fields=["created_at"],
                name="action_awaiting_created_idx",
                condition=Q(status=ActionStatus.AWAITING_APPROVAL),
            ),
            # The admin's search by target platform user id.
            models.Index(fields=["platform_user_id"], name="action_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action_type} [{self.status}] moderator={self.moderator_id}"


class ActionReview(models.Model):
    """One human decision on an awaiting action: who, when, from which status to which, and why.

    Append-only: a trigger refuses UPDATE and DELETE for every writer (migration 0005). The log
    outlives what it describes: no foreign key constraint to the action, so deleting a moderator
    (whose actions go with it) keeps the record of who decided what; a reviewer who decided
    anything cannot be deleted (PROTECT; deactivate the account instead).
    """

    review_id = uuid7_primary_key()
    action = models.ForeignKey(
        ActionEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="reviews"
    )  # indexed: the action page lists its reviews
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_reviews")
    from_status = models.CharField(max_length=None, choices=ActionStatus)
    to_status = models.CharField(max_length=None, choices=ActionStatus)
    reason = models.CharField(max_length=None)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "action_reviews"
        # Nobody changes or deletes a review, so no such permissions exist.
        default_permissions = ("view",)
        permissions = [("decide_action", "Can approve or reject actions awaiting approval")]
        constraints = [
            models.CheckConstraint(condition=Q(from_status__in=ActionStatus.values), name="review_from_status_valid"),
            models.CheckConstraint(condition=Q(to_status__in=ActionStatus.values), name="review_to_status_valid"),
            models.CheckConstraint(condition=~Q(reason__regex=r"^\s*$"), name="review_reason_given"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} by {self.reviewer_id} on action {self.action_id}"


class ReviewQueueItem(ActionEvent):
    """The admin's review queue: the same rows as ActionEvent, on a page of their own."""

    class Meta:
        proxy = True
        verbose_name = "action awaiting review"
        verbose_name_plural = "review queue"
        # Seeing and working the queue is the decide_action permission; no separate ones.
        default_permissions = ()
