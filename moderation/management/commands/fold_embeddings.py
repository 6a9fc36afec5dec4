from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError

from dbops.locking import shared_memory_full
from moderation.services import evaluation_embeddings_fold
from moderation.vector_index import DEFAULT_LAG_SECONDS, DEFAULT_MAX_PARTS, FoldBusy, pending_rows


class Command(BaseCommand):
    help = (
        "Fold the evaluation embeddings not yet in a vector index (the recent tail) into a new HNSW part, built "
        "concurrently with the migration maintenance settings; merge parts beyond --max-parts. Run it from cron "
        "or a loop: searches see every row whether folded or not, folding only keeps them fast."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--lag", type=float, default=DEFAULT_LAG_SECONDS, help="leave rows younger than this many seconds"
        )
        parser.add_argument("--max-parts", type=int, default=DEFAULT_MAX_PARTS, help="merge down to this many parts")
        parser.add_argument("--pending", action="store_true", help="only print how many rows wait to be folded")

    def handle(self, *args, lag, max_parts, pending, **options):
        if pending:
            self.stdout.write(f"{pending_rows():,} rows with an embedding wait to be folded")
            return
        try:
            report = evaluation_embeddings_fold(lag_seconds=lag, max_parts=max_parts)
        except FoldBusy as exc:
            raise CommandError(str(exc)) from None
        except OperationalError as exc:
            if hint := shared_memory_full(exc):
                raise CommandError(f"{hint}; then fold again (a part that failed is built anew)") from None
            raise
        self.stdout.write(str(report))
