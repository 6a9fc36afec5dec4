import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import gova.db

# The review log is evidence: no writer (the admin, QuerySet.update(), raw SQL) edits or deletes a row.
# TRUNCATE and DROP stay possible: they need table ownership, and the test runner's flush uses TRUNCATE.
APPEND_ONLY = """
CREATE FUNCTION action_reviews_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'action_reviews is append-only: % refused (review %)', TG_OP, OLD.review_id
        USING ERRCODE = 'check_violation', HINT = 'A decision is corrected by a new decision, never by editing the log.';
END
$fn$;
CREATE TRIGGER action_reviews_append_only
    BEFORE UPDATE OR DELETE ON action_reviews
    FOR EACH ROW EXECUTE FUNCTION action_reviews_refuse_change();
"""

UNDO_APPEND_ONLY = """
DROP TRIGGER IF EXISTS action_reviews_append_only ON action_reviews;
DROP FUNCTION IF EXISTS action_reviews_refuse_change();
"""


class Migration(migrations.Migration):
    """The append-only review log: every human decision on an action, refused UPDATE/DELETE in the database."""

    dependencies = [
        ("moderation", "0004_action_events_status_transitions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ActionReview",
            fields=[
                (
                    "review_id",
                    models.UUIDField(
                        db_default=gova.db.UUIDv7(),
                        default=gova.db.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "from_status",
                    models.CharField(
                        choices=[
                            ("awaiting_approval", "Awaiting approval"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("rejected", "Rejected"),
                        ]
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        choices=[
                            ("awaiting_approval", "Awaiting approval"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("rejected", "Rejected"),
                        ]
                    ),
                ),
                ("reason", models.CharField()),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        default=django.utils.timezone.now,
                        editable=False,
                    ),
                ),
                (
                    "action",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="reviews",
                        to="moderation.actionevent",
                    ),
                ),
                (
                    "reviewer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="action_reviews",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "action_reviews",
                "permissions": [("decide_action", "Can approve or reject actions awaiting approval")],
                "default_permissions": ("view",),
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("from_status__in", ["awaiting_approval", "completed", "failed", "rejected"])
                        ),
                        name="review_from_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("to_status__in", ["awaiting_approval", "completed", "failed", "rejected"])),
                        name="review_to_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("reason__regex", "^\\s*$"), _negated=True), name="review_reason_given"
                    ),
                ],
            },
        ),
        migrations.RunSQL(sql=APPEND_ONLY, reverse_sql=UNDO_APPEND_ONLY),
    ]
