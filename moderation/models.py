from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.db.models.functions import Now, Trunc
from django.utils import timezone
from pgvector.django import VectorField

from gova.db import NextVal, uuid7_primary_key
from moderation.similar import FOLD_SEQUENCE, UnknownEvaluation, neighbours
from moderation.validators import validate_moderator_conf
from moderation.vectors import EMBEDDING_DIMENSIONS

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


# An author's behaviour score is the mean of their last BEHAVIOUR_WINDOW severity scores under one moderator, the
# newest included, rounded half up to 2 decimals. The database computes it with behaviour_window() and
# behaviour_score_mean() (moderation/sql/): this is the same number for Python, held equal by a test.
BEHAVIOUR_WINDOW = 100


class PartKind(models.TextChoices):
    STORED = "stored", "Rows stored before the insertion sequence"
    SEQUENCE = "sequence", "A range of the insertion sequence"


SCORE_RANGE = [MinValueValidator(0.0), MaxValueValidator(1.0)]  # forms name the field; CHECKs guard the rest


def validate_embedding_dimensions(value) -> None:
    if value is not None and len(value) != EMBEDDING_DIMENSIONS:
        raise ValidationError(
            f"embedding must have {EMBEDDING_DIMENSIONS} dimensions, not {len(value)}",
            code="embedding_dimensions",
        )


# -- querysets ---------------------------------------------------------------------------


# Event lists order by time, newest first. The key only breaks ties between rows of the same instant: the old
# service writes uuid4 keys (random bits), so a key's order says nothing about time (docs/architecture.md#keys).
NEWEST_FIRST = ("-created_at", "-pk")
ACTIVITY_PERIODS = ("day", "week", "month")
# The old service's /moderators/{id}/stats windows, each with the bucket it was charted in.
STATS_WINDOWS = {
    "week": (timedelta(days=7), "day"),
    "month": (timedelta(days=30), "day"),
    "year": (timedelta(days=365), "month"),
}

# generate_series makes every bucket of the window, so a quiet day is a 0, not a gap. COUNT(*) over
# (moderator_id, created_at) reads *_mod_created_key_idx only (index-only scan); COUNT(pk) would read every table row.
BUCKET_COUNTS_SQL = """
WITH buckets AS (
    SELECT generate_series(date_trunc(%(bucket)s, %(start)s::timestamptz), date_trunc(%(bucket)s, %(end)s::timestamptz),
                           ('1 ' || %(bucket)s)::interval) AS bucket
), counts AS (
    SELECT date_trunc(%(bucket)s, created_at) AS bucket, count(*) AS n FROM {table}
    WHERE moderator_id = %(moderator_id)s AND created_at >= %(start)s AND created_at < %(end)s
    GROUP BY 1
)
SELECT b.bucket, coalesce(c.n, 0) FROM buckets b LEFT JOIN counts c USING (bucket) ORDER BY b.bucket
"""


class ActivityQuerySet(models.QuerySet):
    def older_than(self, created_at, pk):
        """Rows after (created_at, pk) in NEWEST_FIRST order: the next keyset page, at any depth.

        PostgreSQL's row comparison `(created_at, pk) < (t, k)` is one range of *_created_key_idx (or, for one
        moderator, *_mod_created_key_idx), read backwards: no OFFSET, no sort.
        """
        # Django 5.2's composite-key lookups compile to a row comparison, one index range; the same condition
        # spelled `a < x OR (a = x AND b < y)` is not one.
        return self.filter(TupleLessThan(Tuple(F("created_at"), F("pk")), (created_at, pk)))

    def activity(self, moderator_id, period: str = "day"):
        """Event counts of one moderator per day, week or month, oldest first (index-only on *_mod_created_key_idx)."""
        if period not in ACTIVITY_PERIODS:
            raise ValueError(f"period must be one of {', '.join(ACTIVITY_PERIODS)}, not {period!r}")
        return (
            self.filter(moderator_id=moderator_id)
            .annotate(bucket=Trunc("created_at", period))
            .values("bucket")
            .annotate(count=Count("*"))  # Count("pk") reads the table: 163 ms vs 7.6 ms at 1M rows
            .order_by("bucket")
        )

    def bucket_counts(self, moderator_id, window: str = "month", *, end=None) -> list[tuple]:
        """[(bucket start, count)] over the last week/month/year up to `end` (now), empty buckets as 0, UTC."""
        if window not in STATS_WINDOWS:
            raise ValueError(f"window must be one of {', '.join(STATS_WINDOWS)}, not {window!r}")
        length, bucket = STATS_WINDOWS[window]
        end = end or timezone.now()
        params = {"bucket": bucket, "start": end - length, "end": end, "moderator_id": moderator_id}
        with connections[self.db].cursor() as cursor:
            cursor.execute(BUCKET_COUNTS_SQL.format(table=self.model._meta.db_table), params)
            return cursor.fetchall()


class EvaluationEventQuerySet(ActivityQuerySet):
    def for_moderator(self, moderator_id):
        # evaluation_mod_created_key_idx; for a moderator with much of the table, the planner may walk
        # evaluation_created_key_idx instead (both in order, no sort).
        return self.filter(moderator_id=moderator_id).order_by(*NEWEST_FIRST)

    def for_platform_user(self, moderator_id, platform_user_id):
        # evaluation_mod_user_scores_idx orders by time (index-only); the key, included there, breaks ties as the
        # latest-scores row does (an incremental sort within one instant).
        return self.filter(moderator_id=moderator_id, platform_user_id=platform_user_id).order_by(*NEWEST_FIRST)

    def latest_behaviour_scores(self, moderator_id):
        """Each platform user's most recent evaluation for one moderator, highest behaviour score first.

        The latest rows are listed in evaluation_latest_scores (kept by triggers); embeddings are not loaded.
        """
        latest = LatestBehaviourScore.objects.filter(moderator_id=moderator_id).values("event_id")
        return self.filter(pk__in=latest).defer("embedding").order_by("-behaviour_score", "platform_user_id")

    def behaviour_leaderboard(self, moderator_id, *, descending: bool = True, limit: int = 50, offset: int = 0):
        """One page of the latest behaviour score per platform user of a moderator: dicts with platform_user_id,
        behaviour_score, created_at, event_id; highest (or lowest) first, ties by user id in the same direction.

        One scan of latest_scores_board_idx (forwards or backwards), however many users and events: evaluation_
        latest_scores holds one row per user, kept by triggers on evaluation_events.
        """
        order = "-" if descending else ""
        return list(
            LatestBehaviourScore.objects.filter(moderator_id=moderator_id)
            .order_by(f"{order}behaviour_score", f"{order}platform_user_id")
            .values("platform_user_id", "behaviour_score", "created_at", "event_id")[offset : offset + limit]
        )

    def behaviour_history(self, moderator_id, platform_user_id):
        """One user's scores under one moderator, newest first (evaluation_mod_user_scores_idx); [0] is the latest."""
        return self.for_platform_user(moderator_id, platform_user_id).values(
            "event_id", "severity_score", "behaviour_score", "created_at"
        )

    def similar(
        self, embedding=None, *, to_event=None, k=10, moderator_id=None, since=None, until=None, strategy=None
    ) -> list:
        """The k evaluations nearest by cosine distance to a vector or to an evaluation (itself excluded), as a
        list nearest first, each with `.distance` (embeddings deferred); optionally one moderator's, created in
        [since, until).

        Never fewer than k rows when k exist; the strategy (HNSW parts + exact tail, iterative scan, or exact)
        is chosen per query from the planner's row estimate and the pgvector version (`strategy` overrides it:
        "hnsw", "iterative" or "exact"): see moderation.similar. An unknown to_event raises DoesNotExist.
        """
        target = to_event.pk if isinstance(to_event, EvaluationEvent) else to_event
        try:
            found = neighbours(
                embedding, to_event_id=target, k=k, moderator_id=moderator_id, since=since, until=until,
                strategy=strategy,
            )  # fmt: skip
        except UnknownEvaluation as missing:
            raise EvaluationEvent.DoesNotExist(str(missing)) from None
        events = EvaluationEvent.objects.defer("embedding").in_bulk([event_id for event_id, _ in found])
        result = []
        for event_id, distance in found:
            event = events.get(event_id)
            if event is not None:  # deleted between the two statements
                event.distance = distance
                result.append(event)
        return result

    def nearest(self, embedding, limit=10):
        """similar(embedding, k=limit): a list of the closest events by cosine distance, each with `.distance`."""
        return self.similar(embedding, k=limit)


class ActionEventQuerySet(ActivityQuerySet):
    def for_moderator(self, moderator_id, status=None):
        actions = self.filter(moderator_id=moderator_id)
        if status is not None:
            actions = actions.filter(status=status)  # action_mod_status_created_idx
        return actions.order_by(*NEWEST_FIRST)  # action_mod_created_key_idx

    def awaiting_approval(self):
        # action_awaiting_created_idx; the key only breaks ties of the same instant.
        return self.filter(status=ActionStatus.AWAITING_APPROVAL).order_by("created_at", "pk")

    def review_queue(self):
        """Actions awaiting approval, most severe message first, then oldest (the key only breaks ties of the same
        instant: an old-service key is uuid4, not a time).

        Severity lives on the evaluation: the partial index action_awaiting_created_idx finds the
        awaiting rows (a few thousand of 200,000) and each joins its evaluation by primary key; the
        sort is over the queue, not the table (EXPLAIN ANALYZE at 1M events / 200k actions: bench/results/).
        """
        return (
            self.filter(status=ActionStatus.AWAITING_APPROVAL)
            .select_related("evaluation", "moderator")
            .defer("evaluation__embedding")
            .order_by("-evaluation__severity_score", "created_at", "pk")
        )

    def with_author_history(self):
        """Annotate the author's latest behaviour score and their earlier actions (same moderator) by kind.

        One key lookup per row for the score (evaluation_latest_scores, which the leaderboard reads too) and one
        descent of action_user_idx for the counts.
        """
        latest = LatestBehaviourScore.objects.filter(
            moderator_id=OuterRef("moderator_id"), platform_user_id=OuterRef("platform_user_id")
        )
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
    # db_index=False: evaluation_mod_created_key_idx leads with moderator_id and serves the FK.
    moderator = models.ForeignKey(Moderator, on_delete=models.CASCADE, related_name="evaluations", db_index=False)
    platform_user_id = models.CharField(max_length=None, help_text="The message author's platform id.")
    severity_score = models.FloatField(validators=SCORE_RANGE)
    behaviour_score = models.FloatField(
        default=0.0,
        db_default=0.0,
        validators=SCORE_RANGE,
        help_text=f"Mean severity of the author's last {BEHAVIOUR_WINDOW} messages.",
    )
    context = models.JSONField(help_text="The message: ids, author, content, roles, reply_to.")
    embedding = VectorField(
        dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True, validators=[validate_embedding_dimensions]
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    # The order rows reach the table in, whoever writes them and whatever their key: vector index parts are ranges
    # of it (moderation.vector_index). NULL on the rows stored before it existed (migration 0029).
    fold_seq = models.BigIntegerField(
        null=True,
        editable=False,
        db_default=NextVal(FOLD_SEQUENCE),
        help_text="Insertion sequence number; a new embedding written by UPDATE takes a new one.",
    )

    objects = EvaluationEventQuerySet.as_manager()

    class Meta:
        db_table = "evaluation_events"
        constraints = [
            models.CheckConstraint(condition=Q(severity_score__range=(0, 1)), name="evaluation_severity_range"),
            models.CheckConstraint(condition=Q(behaviour_score__range=(0, 1)), name="evaluation_behaviour_range"),
        ]
        indexes = [
            # Every list is by time, the key breaking ties (NEWEST_FIRST): keys are uuidv7 or the old service's uuid4.
            # The admin's list, newest first and "older" keyset pages: a backward range scan, however deep.
            models.Index(fields=["created_at", "event_id"], name="evaluation_created_key_idx"),
            # One moderator's evaluations by time: its admin list and keyset pages, for_moderator(), counts per
            # day/week/month (index-only), trends.
            models.Index(fields=["moderator", "created_at", "event_id"], name="evaluation_mod_created_key_idx"),
            # The latest behaviour score per platform user of a moderator.
            # Covering: the behaviour-score window at ingest (an author's last 99 severities) and the leaderboard's
            # latest score per user are read from the index alone, no heap page per row.
            models.Index(
                fields=["moderator", "platform_user_id", "created_at"],
                include=["severity_score", "behaviour_score", "event_id"],
                name="evaluation_mod_user_scores_idx",
            ),
            # No vector index here: similar content is served by HNSW indexes over ranges of fold_seq, built in
            # bulk by fold_embeddings and listed in VectorIndexPart, so no insert pays for graph maintenance.
            # The admin's search by platform user id across moderators (an exact match, not UPPER()).
            models.Index(fields=["platform_user_id"], name="evaluation_user_idx"),
            # The unfolded tail of similar-content search (its exact scan, fold_embeddings' bound and --pending):
            # only rows that have an embedding and a number.
            models.Index(
                fields=["fold_seq"],
                condition=Q(embedding__isnull=False, fold_seq__isnull=False),
                name="evaluation_fold_seq_idx",
            ),
        ]

    def __str__(self) -> str:
        # Rendered once per admin row: *_id never costs a query.
        return f"{self.platform_user_id} severity={self.severity_score:.2f} moderator={self.moderator_id}"


class ActionEvent(models.Model):
    """One action a moderator took or proposed; awaiting_approval ones wait for a human."""

    action_id = uuid7_primary_key()
    event_id = models.UUIDField(help_text="Id of the triggering message event.")
    # db_index=False: action_mod_created_key_idx leads with moderator_id and serves the FK.
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
            # The admin's list, newest first and "older" keyset pages (by time, the key breaking ties).
            models.Index(fields=["created_at", "action_id"], name="action_created_key_idx"),
            # A moderator's actions, newest first: its admin list, keyset pages, for_moderator(), counts.
            models.Index(fields=["moderator", "created_at", "action_id"], name="action_mod_created_key_idx"),
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


class LatestBehaviourScore(models.Model):
    """Per platform user of a moderator: the latest evaluation (the behaviour leaderboard's row) and the last
    BEHAVIOUR_WINDOW severity scores (the behaviour-score window, so recording an event reads one row, not 99).

    Kept by statement-level triggers on evaluation_events (moderation/sql/evaluation_latest_scores_*/) for every
    writer, the ORM, raw SQL, COPY and the old service alike: an INSERT appends each author's new severities in time
    order, adjusts their total and keeps the newest row; a first-time author's rows are its window; rows older than
    the stored latest (a backfill, a late writer) or older events with no stored row (loaded with triggers off) are
    read again from evaluation_mod_user_scores_idx; a DELETE or UPDATE re-reads the affected authors; a TRUNCATE
    empties it. The batch ingest statement and the one-event function (moderation/sql/evaluation_event_insert/) do
    the INSERT's part themselves and mark the statement, so that the trigger returns at once (moderation.ingest).
    The latest row is always the newest by (created_at, event_id), whatever the commit order. The window is exact
    for every writer: a re-read locks the author's stored row before it reads (migration 0026), so a writer
    appending at the same moment is waited for and counted. No foreign keys: the
    triggers are its integrity, and a moderator's deletion reaches it through its evaluations.
    """

    pk = models.CompositePrimaryKey("moderator", "platform_user_id")
    # No index of its own: the primary key and the board index both lead with it (migration 0024).
    moderator = models.ForeignKey(
        Moderator, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    platform_user_id = models.CharField(max_length=None)
    event_id = models.UUIDField(help_text="The latest evaluation of this author under this moderator.")
    behaviour_score = models.FloatField()
    created_at = models.DateTimeField()
    # Hundredths (severities are stored to 2 decimals): sums are exact integers, so a behaviour score rounds
    # half up exactly as its definition says, whatever order the values were added in.
    recent_severities = ArrayField(
        models.SmallIntegerField(),
        help_text=f"The last {BEHAVIOUR_WINDOW} severity scores in hundredths, oldest first.",
    )
    # Their sum, kept beside them: scoring a new event subtracts the one or two severities that leave the window
    # instead of adding up to 99 (a batch of 1,000 events read 1,000 arrays element by element).
    recent_total = models.IntegerField(db_default=0, help_text="The sum of recent_severities.")

    class Meta:
        db_table = "evaluation_latest_scores"
        indexes = [
            models.Index(fields=["moderator", "behaviour_score", "platform_user_id"], name="latest_scores_board_idx")
        ]

    def __str__(self) -> str:
        return f"{self.platform_user_id} behaviour={self.behaviour_score:.2f} moderator={self.moderator_id}"


class VectorIndexPart(models.Model):
    """One HNSW index (cosine) over part of evaluation_events, built by `fold_embeddings`: a range [seq_low, seq_high)
    of the insertion sequence (fold_seq), or the rows stored before the sequence existed (fold_seq IS NULL).

    Sequence parts are contiguous, the first unbounded below; rows at or above the last one's `seq_high` (the recent
    tail) are searched exactly. Every insert draws a number above every built part, so it lands in the tail,
    outside every graph. The indexes themselves are made and dropped by moderation.vector_index, not by migrations:
    each covers a range known only when it is built.
    """

    part_id = uuid7_primary_key()
    index_name = models.CharField(max_length=63, unique=True)
    kind = models.CharField(max_length=None, choices=PartKind)
    seq_low = models.BigIntegerField(null=True, blank=True, help_text="Lowest fold_seq; none: unbounded below.")
    seq_high = models.BigIntegerField(null=True, blank=True, help_text="The fold_seq above the part.")
    rows = models.BigIntegerField(help_text="Rows with an embedding when the index was built.")
    build_seconds = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "evaluation_vector_index_parts"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PartKind.values), name="vector_index_part_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=PartKind.STORED, seq_low=None, seq_high=None)
                | Q(kind=PartKind.SEQUENCE, seq_high__isnull=False)
                & (Q(seq_low=None) | Q(seq_low__lt=models.F("seq_high"))),
                name="vector_index_part_bounds",
            ),
            # One stored part, and one sequence part per lower bound (one of them unbounded).
            models.UniqueConstraint(
                fields=["kind", "seq_low"], nulls_distinct=False, name="vector_index_part_seq_low_unique"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == PartKind.STORED:
            return f"{self.index_name} [stored before fold_seq] {self.rows} rows"
        low = "" if self.seq_low is None else self.seq_low
        return f"{self.index_name} [{low}, {self.seq_high}) {self.rows} rows"
