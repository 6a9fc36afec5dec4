"""Moderator stats as the old service served them (`/moderators/{id}/stats`)."""

from django.utils import timezone

from moderation.models import STATS_WINDOWS, ActionEvent, EvaluationEvent


def moderator_stats(moderator_id, window: str = "week", *, end=None) -> dict:
    """Evaluation and action counts of one moderator over the last week (by day), month (by day) or year (by
    month), every bucket present (0 when quiet), plus totals; buckets are UTC. A dict ready for JSON or a chart."""
    end = end or timezone.now()
    evaluations = EvaluationEvent.objects.bucket_counts(moderator_id, window, end=end)
    actions = ActionEvent.objects.bucket_counts(moderator_id, window, end=end)
    return {
        "window": window,
        "bucket": STATS_WINDOWS[window][1],
        "buckets": [bucket for bucket, _ in evaluations],
        "evaluations": [count for _, count in evaluations],
        "actions": [count for _, count in actions],
        "totals": {"evaluations": sum(c for _, c in evaluations), "actions": sum(c for _, c in actions)},
    }
