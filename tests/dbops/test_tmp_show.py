from tests.dbops.test_adopt_alembic_db import legacy_db  # noqa: F401


def test_show(legacy_db):
    with legacy_db.connect() as db:
        db.execute("UPDATE evaluation_events SET severity_score = 1.7 WHERE platform_user_id = 'u1'")
    r = legacy_db.manage("adopt_alembic_db")
    print("DIRTY", r.returncode, r.stdout, r.stderr)
    with legacy_db.connect() as db:
        db.execute("UPDATE evaluation_events SET severity_score = 0.7 WHERE platform_user_id = 'u1'")
    r = legacy_db.manage("adopt_alembic_db")
    print("ADOPT", r.returncode, r.stdout, r.stderr)
    r = legacy_db.manage("adopt_alembic_db", "--revert", "--dry-run")
    print("REVERT DRY", r.returncode, r.stdout, r.stderr)
    r = legacy_db.manage("adopt_alembic_db", "--revert")
    print("REVERT", r.returncode, r.stdout, r.stderr)
    r = legacy_db.manage("adopt_alembic_db", "--revert")
    print("REVERT2", r.returncode, r.stdout, r.stderr)
