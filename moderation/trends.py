"""Content trends: flagged evaluations of one moderator grouped by embedding similarity, this window against the last.

Greedy leader clustering over unit vectors, in numpy: each event joins the first cluster whose leader it resembles
(cosine similarity >= `similarity`) or leads a new one. One pass, O(events x clusters) dot products done as matrix
products a chunk at a time; bounded by `max_events` (newest first) and `max_clusters` (past it, an event joins its
nearest cluster). Simple and predictable for the volumes a moderator sees in a day; not k-means: the number of
topics is not known in advance and a new topic must not be averaged into an old one.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import psycopg
from django.db import connection
from django.utils import timezone
from psycopg.adapt import Loader
from psycopg.pq import Format

from moderation.vectors import vector_info

DEFAULT_THRESHOLD = 0.7  # severity at or above which an evaluation counts as flagged
DEFAULT_SIMILARITY = 0.8  # cosine similarity to a cluster's leader to join it
CHUNK = 512

FLAGGED_SQL = """
SELECT event_id, platform_user_id, created_at, created_at >= %(split)s AS current, context->>'content', embedding
FROM evaluation_events
WHERE moderator_id = %(moderator_id)s AND created_at >= %(start)s AND created_at < %(end)s
  AND severity_score >= %(threshold)s AND embedding IS NOT NULL
ORDER BY created_at DESC, event_id DESC  -- by time; the key (uuid4 from the old service) only breaks ties
LIMIT %(limit)s
"""


@dataclass
class TrendCluster:
    size: int  # flagged events in the current window
    previous: int  # ... in the window before
    representative_event_id: str
    representative_message: str
    top_authors: list = field(default_factory=list)  # [(platform_user_id, events in the current window)]

    @property
    def growth(self) -> float | None:
        """size / previous; None for a cluster the previous window did not have (new)."""
        return self.size / self.previous if self.previous else None


@dataclass
class Trends:
    moderator_id: str
    window: timedelta
    end: datetime
    flagged: int  # flagged events with an embedding, both windows
    clusters: list

    def chart(self) -> dict:
        """What an admin chart needs: one label per cluster, the two windows as series."""
        return {
            "labels": [cluster.representative_message[:60] for cluster in self.clusters],
            "current": [cluster.size for cluster in self.clusters],
            "previous": [cluster.previous for cluster in self.clusters],
        }


def content_trends(
    *, moderator_id, window: timedelta = timedelta(hours=24), end: datetime | None = None,
    threshold: float = DEFAULT_THRESHOLD, similarity: float = DEFAULT_SIMILARITY, min_size: int = 3,
    top: int = 10, max_events: int = 20_000, max_clusters: int = 500,
) -> Trends:  # fmt: skip
    """Clusters of flagged content in [end - window, end), each with its count in the window before, largest first.

    Reads the moderator's flagged events of both windows newest first through evaluation_mod_created_key_idx.
    """
    end = end or timezone.now()
    rows = _flagged(moderator_id, end - 2 * window, end - window, end, threshold, max_events)
    if not rows:
        return Trends(str(moderator_id), window, end, 0, [])
    rows.reverse()  # oldest first: a topic's first message leads its cluster
    vectors = np.stack([row[5] for row in rows])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels, leaders = leader_clusters(vectors, similarity, max_clusters)
    current = np.array([row[3] for row in rows])
    clusters = []
    for label in range(len(leaders)):
        members = np.flatnonzero(labels == label)
        now_members = members[current[members]]
        if len(now_members) < min_size:
            continue
        centroid = vectors[now_members].mean(axis=0)
        representative = now_members[np.argmax(vectors[now_members] @ centroid)]
        authors = Counter(rows[i][1] for i in now_members).most_common(3)
        clusters.append(
            TrendCluster(
                size=len(now_members),
                previous=len(members) - len(now_members),
                representative_event_id=str(rows[representative][0]),
                representative_message=rows[representative][4] or "",
                top_authors=authors,
            )
        )
    clusters.sort(key=lambda cluster: (-cluster.size, cluster.representative_event_id))
    return Trends(str(moderator_id), window, end, len(rows), clusters[:top])


def leader_clusters(vectors: np.ndarray, similarity: float, max_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels per row and the leaders' vectors; rows must be unit vectors, in the order leaders are chosen.

    Per chunk, one matrix product against every earlier leader; only the rows left over loop in Python, and they
    compare with this chunk's new leaders alone. Once max_clusters leaders exist every row joins its nearest.
    """
    labels = np.full(len(vectors), -1)
    leaders = np.empty((max_clusters, vectors.shape[1]), dtype=vectors.dtype)
    count = 0
    for start in range(0, len(vectors), CHUNK):
        chunk = vectors[start : start + CHUNK]
        chunk_labels = labels[start : start + len(chunk)]  # a view: writes land in labels
        if count:
            scores = chunk @ leaders[:count].T
            best = scores.argmax(axis=1)
            joined = (scores[np.arange(len(chunk)), best] >= similarity) | (count >= max_clusters)
            chunk_labels[joined] = best[joined]
        first_new = count
        for offset in np.flatnonzero(chunk_labels == -1):
            vector = chunk[offset]
            if count > first_new:
                scores = leaders[first_new:count] @ vector
                best = int(scores.argmax())
                if scores[best] >= similarity:
                    chunk_labels[offset] = first_new + best
                    continue
            if count < max_clusters:
                leaders[count] = vector
                chunk_labels[offset] = count
                count += 1
            else:
                chunk_labels[offset] = int((leaders[:count] @ vector).argmax())
    return labels, leaders[:count]


def _flagged(moderator_id, start, split, end, threshold, limit) -> list:
    connection.ensure_connection()
    pg = connection.connection
    params = {
        "moderator_id": moderator_id, "start": start, "split": split, "end": end, "threshold": threshold,
        "limit": limit,
    }  # fmt: skip
    with psycopg.Cursor(pg) as cursor:
        # Straight to numpy: pgvector's own loader byteswaps each vector through a Python array (~20 us a row).
        cursor.adapters.register_loader(vector_info(pg).oid, _NumpyVectorLoader)
        return cursor.execute(FLAGGED_SQL, params, binary=True).fetchall()


class _NumpyVectorLoader(Loader):
    format = Format.BINARY

    def load(self, data):
        return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)  # 4 bytes of header: dim, unused
