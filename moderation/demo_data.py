"""Realistic, reproducible demo data at any size: `python manage.py seed_demo --events N`.

Users, moderators with valid configurations, evaluation events of plausible Discord messages in time
order (a daily and weekly rhythm over --days), clustered 1024-d embeddings for a fraction of the events,
actions for the severe ones in every status, and the review log of the decided ones. The same --seed
gives the same rows (keys aside); times are relative to the start of the current UTC day. With legacy_events,
the oldest events and their actions are keyed as the old service keys them (uuid4, whole-second times): a
database taken over from it.

Evaluations go in through the ingest path (moderation.services.evaluation_events_record), a batch per
transaction, as any writer's do: behaviour scores and evaluation_latest_scores come from the database's
rule, never from a copy here. Their keys are new uuidv7 keys, above every vector index part (the tail), so
no graph is touched during the load; one fold_embeddings then builds a part over them in bulk (row-by-row
HNSW inserts are two orders of magnitude slower). Actions and reviews go in through COPY.
"""

import itertools
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group
from django.db import connection, transaction

from accounts.models import PricingTier, User
from moderation import vector_index
from moderation.ingest import DEFAULT_BATCH_SIZE, EvaluationInput
from moderation.models import EMBEDDING_DIMENSIONS, ActionStatus, ActionType, Moderator
from moderation.services import evaluation_events_record
from moderation.validators import validate_moderator_conf

Progress = Callable[[str, int, int | None, bool], None]

AWAITING_DAYS = 2  # approval-needing actions younger than this still wait in the queue
REVIEWERS = ("reviewer-ana", "reviewer-ben", "reviewer-chloe")

GAMES = ["Valorant", "Minecraft", "Elden Ring", "Rocket League", "Stardew Valley", "Apex", "Factorio"]
CHANNELS = ["general", "memes", "lfg", "off-topic", "help", "announcements", "clips"]
ROLES = [["member"], ["member", "verified"], ["member", "vip"], ["member", "moderator"], []]

# category: (share of messages, severity range, templates); the embedding cluster follows the category.
MESSAGES = {
    "chat": (0.70, (0.0, 0.2), [
        "anyone up for {game} tonight?", "gg everyone, that last round was close", "good morning {channel}!",
        "has anyone tried the new {game} update?", "lol that clip is amazing", "thanks for the help earlier",
        "what time is the tournament on saturday?", "just hit diamond in {game}", "brb dinner",
    ]),
    "heated": (0.18, (0.2, 0.55), [
        "this {game} patch is trash", "stop spamming the channel", "you clearly have no idea how to play",
        "why is everyone so bad today", "whoever made this rule is clueless", "ugh not this again",
    ]),
    "spam": (0.06, (0.5, 0.85), [
        "FREE NITRO here: discord-gift.example/{code}", "join my server for free skins discord.gg/{code}",
        "DM me for cheap {game} accounts!!!", "@everyone check my stream right now",
    ]),
    "abuse": (0.06, (0.65, 1.0), [
        "you are all idiots and should quit", "get out of this server, nobody wants you here",
        "I will find you and make you regret this", "shut up loser",
    ]),
}  # fmt: skip
ERRORS = [
    "403 Forbidden (error code: 50013): Missing Permissions",
    "404 Not Found (error code: 10007): Unknown Member",
]
REPLIES = [
    "Please keep it friendly, {name}.",
    "Links like this are not allowed here.",
    "Let's keep the channel on topic, thanks!",
]


@dataclass
class SeedResult:
    users: int = 0
    moderators: int = 0
    evaluations: int = 0
    embeddings: int = 0
    actions: dict = field(default_factory=dict)
    reviews: int = 0


def seed(
    *, events: int, seed: int = 42, moderators: int | None = None, days: int = 90,
    embedded_fraction: float = 0.02, action_ratio: float = 0.2, legacy_events: int = 0,
    progress: Progress | None = None, say: Callable[[str], None] | None = None,
) -> SeedResult:  # fmt: skip
    """Add `events` evaluation events (and everything around them) to the database.

    Users and moderators go in one transaction, the evaluations a batch per transaction (the ingest path), the
    actions and reviews one more: an interrupted run keeps the batches recorded so far. The oldest
    `legacy_events` events, and their actions, get uuid4 keys and whole-second times, as the old service writes.
    """
    rng = random.Random(seed)
    result = SeedResult()
    until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = until - timedelta(days=days)
    moderator_count = moderators or max(3, min(200, events // 20_000))
    with transaction.atomic():
        owners, reviewers = _users(rng, moderator_count, result)
        mods = _moderators(rng, owners, moderator_count, start, result)
    generator = _Generator(rng, mods, start, until, events, embedded_fraction, action_ratio, legacy_events)
    actions = _record_evaluations(generator, result, progress)
    with transaction.atomic(), connection.cursor() as cursor:
        _copy_actions(cursor, rng, actions, until, reviewers, result, progress)
    if say:
        say("fold_embeddings: one vector index part over the seeded embeddings")
    vector_index.fold(lag_seconds=0)
    if say:
        say("VACUUM ANALYZE")
    with connection.cursor() as cursor:
        # Statistics and the visibility map now, as on a table autovacuum keeps up with: the admin's
        # estimates (pg_class.reltuples) and index-only scans depend on them.
        for table in ("evaluation_events", "action_events", "action_reviews", "moderators", "users"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return result


# -- users and moderators (few: through the ORM) --------------------------------------------------


def _users(rng, moderator_count, result):
    run = rng.getrandbits(32)
    owners = []
    for n in range(max(1, moderator_count // 2 + 1)):
        tier = PricingTier.PRO if rng.random() < 0.3 else PricingTier.FREE
        owners.append(
            User(
                username=f"owner-{run:08x}-{n}",
                email=f"owner-{run:08x}-{n}@example.com",
                pricing_tier=tier,
                stripe_customer_id=f"cus_{run:08x}{n:06d}" if tier == PricingTier.PRO else None,
                verified_at=datetime.now(UTC) - timedelta(days=rng.randint(1, 400)) if rng.random() < 0.7 else None,
                discord_oauth_payload={"access_token": f"demo-{rng.getrandbits(64):x}"} if rng.random() < 0.5 else None,
            )
        )
    # The same seed names the same owners: a second run into the same database reuses them.
    existing = {user.username: user for user in User.objects.filter(username__in=[o.username for o in owners])}
    new = [owner for owner in owners if owner.username not in existing]
    for owner in new:
        owner.set_unusable_password()
    User.objects.bulk_create(new)
    owners = [existing.get(owner.username, owner) for owner in owners]
    group = Group.objects.filter(name="reviewers").first()
    reviewers = []
    for username in REVIEWERS:
        reviewer, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", "is_staff": True}
        )
        if created:
            reviewer.set_unusable_password()
            reviewer.save(update_fields=["password"])
            result.users += 1
        if group:
            reviewer.groups.add(group)
        reviewers.append(reviewer)
    result.users += len(new)
    return owners, reviewers


def _moderators(rng, owners, count, start, result):
    mods = []
    for n in range(count):
        guild_id = rng.randrange(10**17, 10**18)
        conf = {
            "guild_id": guild_id,
            "channel_ids": [rng.randrange(10**17, 10**18) for _ in range(rng.randint(1, 4))],
            "guild_summary": f"A {rng.choice(GAMES)} community of about {rng.randint(50, 50_000):,} members",
            "guidelines": "Be kind. No slurs, no harassment, no spam or scam links. Keep channels on topic.",
            "instructions": "Prefer a friendly reply before a timeout." if rng.random() < 0.5 else None,
            "actions": [
                {"type": "reply", "requires_approval": False},
                {"type": "timeout", "requires_approval": True, "default_params": {"duration": 600}},
                {"type": "kick", "requires_approval": True},
            ],
        }
        validate_moderator_conf(conf)
        mods.append(
            Moderator(
                user=owners[n % len(owners)],
                name=f"{rng.choice(GAMES)} guard {n + 1}",
                description="Demo moderator (seed_demo)",
                platform_server_id=str(guild_id),
                conf=conf,
                status=rng.choice(["online", "online", "offline", "pending"]),
                created_at=start - timedelta(days=rng.randint(1, 30)),
            )
        )
    Moderator.objects.bulk_create(mods)
    result.moderators = len(mods)
    return mods


# -- evaluation events -----------------------------------------------------------------------------


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A version-7 UUID for `moment` (ms precision, like uuidv7()), so keys sort like created_at."""
    unix_ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=unix_ms << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62))


def uuid4_from(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID, as the old service's uuid.uuid4() makes them (random bits, nothing of the time)."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class _Generator:
    """Plausible events in time order, with authors, channels and severities."""

    def __init__(self, rng, mods, start, until, events, embedded_fraction, action_ratio, legacy_events=0):
        self.rng, self.mods, self.start, self.events = rng, mods, start, events
        self.legacy_events = legacy_events
        self.embedded_fraction = embedded_fraction
        # Severity above this makes an action; tuned so about action_ratio of the events get one.
        self.action_threshold = 0.45 - (action_ratio - 0.2)
        self.until = until
        weights = [1 / (n + 1) ** 0.8 for n in range(len(mods))]
        total = sum(weights)
        self.cumulative = list(_accumulate([w / total for w in weights]))
        self.authors = {
            mod.pk: [
                (str(rng.randrange(10**17, 10**18)), f"{rng.choice(['neo', 'kat', 'zed', 'mo', 'ivy'])}{n}",
                 rng.random() ** 3)  # a few authors are far more likely to misbehave
                for n in range(rng.randint(300, 3000))
            ]
            for mod in mods
        }  # fmt: skip
        self.channels = {mod.pk: [(rng.randrange(10**17, 10**18), name) for name in CHANNELS] for mod in mods}
        categories = list(MESSAGES)
        self.categories = categories
        self.category_cumulative = list(_accumulate([MESSAGES[c][0] for c in categories]))
        self.centres = {c: _unit([rng.gauss(0, 1) for _ in range(EMBEDDING_DIMENSIONS)]) for c in categories}

    def __iter__(self):
        rng = self.rng
        moments = _times(self.start, self.until, self.events, rng)
        for n, created_at in enumerate(moments):
            legacy = n < self.legacy_events
            if legacy:
                created_at = created_at.replace(microsecond=0)  # the old service's times are whole seconds
            mod = self.mods[_pick(self.cumulative, rng.random())]
            authors = self.authors[mod.pk]
            user_id, username, temper = authors[int(len(authors) * rng.random() ** 2)]
            category = self.categories[
                _pick(self.category_cumulative, rng.random() * (1 - temper * 0.5) + temper * 0.5)
            ]
            low, high = MESSAGES[category][1]
            severity = round(rng.uniform(low, high), 2)
            channel_id, channel_name = rng.choice(self.channels[mod.pk])
            content = rng.choice(MESSAGES[category][2]).format(
                game=rng.choice(GAMES), channel=channel_name, code=f"{rng.getrandbits(32):x}"
            )
            context = {
                "message_id": str(rng.randrange(10**17, 10**18)),
                "platform": "discord",
                "guild_id": mod.platform_server_id,
                "channel_id": str(channel_id),
                "channel_name": channel_name,
                "user_id": user_id,
                "username": username,
                "content": content,
                "roles": rng.choice(ROLES),
                "reply_to": None,
            }
            embedding = None
            if rng.random() < self.embedded_fraction:
                embedding = _vector(self.centres[category], rng)
            yield EvaluationInput(mod.pk, user_id, severity, context, embedding, created_at)


def _record_evaluations(generator, result, progress):
    """Record the events through the ingest path, a batch per transaction (a batch's authors' locks are held only
    that long); return the (evaluation, moderator, created_at, legacy, severity, context, author, username) of the
    events that get an action. The first `legacy_events` are re-keyed with uuid4 keys, as the old service's are."""
    actions = []
    recorded = 0
    events = iter(generator)
    while batch := list(itertools.islice(events, DEFAULT_BATCH_SIZE)):
        with transaction.atomic():
            keys = [event.event_id for event in evaluation_events_record(events=batch)]
            legacy = max(0, min(len(batch), generator.legacy_events - recorded))
            if legacy:
                keys[:legacy] = _rekey_as_legacy(keys[:legacy], generator.rng)
        for n, (item, key) in enumerate(zip(batch, keys, strict=True)):
            result.embeddings += item.embedding is not None
            if item.severity_score >= generator.action_threshold:
                text = json.dumps(item.context, separators=(",", ":"))
                actions.append(
                    (key, item.moderator_id, item.created_at, n < legacy, item.severity_score, text,
                     item.platform_user_id, item.context["username"])
                )  # fmt: skip
        recorded += len(batch)
        if progress and recorded % 10_000 < DEFAULT_BATCH_SIZE:
            progress("evaluation_events", recorded, generator.events, False)
    result.evaluations = generator.events
    if progress:
        progress("evaluation_events", result.evaluations, generator.events, True)
    return actions


def _rekey_as_legacy(keys: list, rng) -> list:
    """New uuid4 keys for just-recorded events (no action points at them yet): the old service's keys."""
    legacy_keys = [uuid4_from(rng) for _ in keys]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE evaluation_events e SET event_id = k.legacy FROM unnest(%s::uuid[], %s::uuid[]) AS k(made, legacy) "
            "WHERE e.event_id = k.made",
            [keys, legacy_keys],
        )
    return legacy_keys


# -- actions and their reviews ---------------------------------------------------------------------


def _copy_actions(cursor, rng, actions, until, reviewers, result, progress):
    awaiting_from = until - timedelta(days=AWAITING_DAYS)
    reviews = []
    columns = (
        "action_id, event_id, moderator_id, platform_user_id, evaluation_id, action_type, action_params, context, "
        "status, error_msg, reason, created_at, updated_at, executed_at"
    )
    counts = dict.fromkeys(ActionStatus.values, 0)
    with cursor.copy(f"COPY action_events ({columns}) FROM STDIN") as copy:
        for n, (event_id, moderator_id, created_at, legacy, severity, context, user_id, username) in enumerate(
            actions, 1
        ):
            acted_at = created_at + timedelta(seconds=rng.uniform(0.5, 5))
            if legacy:
                acted_at = acted_at.replace(microsecond=0)
            key = uuid4_from(rng) if legacy else uuid7_at(acted_at, rng)
            if severity < 0.6:
                action_type, params, reason = (
                    ActionType.REPLY,
                    {"content": rng.choice(REPLIES).format(name=username)},
                    "unfriendly tone",
                )
            elif severity < 0.85:
                duration = rng.choice([60, 600, 3600, 86400])
                if rng.random() < 0.02:
                    duration = 30 * 86400  # beyond Discord's 28 days: the queue refuses to approve it
                action_type, params, reason = (
                    ActionType.TIMEOUT,
                    {"duration": duration, "user_id": user_id},
                    "spam or harassment",
                )
            else:
                action_type, params, reason = ActionType.KICK, {"user_id": user_id}, "threats or abuse"
            status, error, executed_at = ActionStatus.COMPLETED, None, acted_at
            if action_type != ActionType.REPLY:  # needs a human (the demo configs say so)
                if created_at >= awaiting_from or rng.random() < 0.01:
                    status, executed_at = ActionStatus.AWAITING_APPROVAL, None
                else:
                    roll = rng.random()
                    status = ActionStatus.COMPLETED
                    if roll < 0.2:
                        status = ActionStatus.REJECTED if roll < 0.12 else ActionStatus.FAILED
                    decided_at = acted_at + timedelta(minutes=rng.uniform(1, 600))
                    executed_at = None if status == ActionStatus.REJECTED else decided_at
                    error = rng.choice(ERRORS) if status == ActionStatus.FAILED else None
                    reviews.append((key, decided_at, status))
            counts[status] += 1
            copy.write_row((
                key, event_id, moderator_id, user_id, event_id, action_type, json.dumps(params), context, status,
                error, reason, acted_at, executed_at or acted_at, executed_at,
            ))  # fmt: skip
            if progress and n % 10_000 == 0:
                progress("action_events", n, len(actions), False)
    if progress:
        progress("action_events", len(actions), len(actions), True)
    result.actions = counts
    with cursor.copy(
        "COPY action_reviews (review_id, action_id, reviewer_id, from_status, to_status, reason, created_at) FROM STDIN"
    ) as copy:
        for action_id, decided_at, status in reviews:
            reason = {"rejected": "false positive", "failed": "clear violation", "completed": "clear violation"}[status]
            reviewer = reviewers[action_id.int % len(reviewers)]
            copy.write_row(
                (uuid7_at(decided_at, rng), action_id, reviewer.pk, "awaiting_approval", status, reason, decided_at)
            )
    result.reviews = len(reviews)


# -- small helpers ---------------------------------------------------------------------------------


def _times(start: datetime, until: datetime, count: int, rng: random.Random):
    """`count` moments in [start, until), in order, denser in the evening and at weekends.

    Evenly spaced quantiles, jittered, mapped through the inverse of the rhythm's cumulative
    distribution (tabulated per 10 minutes): bounded by `until` whatever the count.
    """
    span = (until - start).total_seconds()
    steps = max(1, int(span // 600))
    cumulative = [0.0]
    for step in range(steps):
        day = (step + 0.5) * 600 / 86400
        rhythm = 1 + 0.35 * math.sin(2 * math.pi * day) + 0.25 * math.sin(2 * math.pi * day / 7)
        cumulative.append(cumulative[-1] + rhythm)
    total = cumulative[-1]
    step = 0
    for n in range(count):
        target = (n + rng.random()) / count * total
        while cumulative[step + 1] < target:
            step += 1
        within = (target - cumulative[step]) / (cumulative[step + 1] - cumulative[step])
        yield start + timedelta(seconds=(step + within) * span / steps)


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _pick(cumulative, roll):
    for index, bound in enumerate(cumulative):
        if roll < bound:
            return index
    return len(cumulative) - 1


def _unit(vector):
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _vector(centre, rng):
    # Same topic, same neighbourhood: the centre plus small noise (cosine ~0.9 within a cluster).
    gauss = rng.gauss
    return [x + gauss(0, 0.015) for x in centre]
