"""Rewrite the single initial migration from db/models.py (`python -m db.regen`).

Only while nothing is deployed: once a release is out, add revisions with
`db.migrate.autogenerate` instead of rewriting history.
"""

from __future__ import annotations

import fcntl
import tempfile
from pathlib import Path

from db.engine import make_engine
from db.migrate import MIGRATIONS_DIR, autogenerate


def main() -> None:
    versions = MIGRATIONS_DIR / "versions"
    with open(MIGRATIONS_DIR / ".regen.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several developers may regenerate at once
        for old in versions.glob("*.py"):
            old.unlink()
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'regen.sqlite3'}")
            autogenerate(engine, "initial schema", rev_id="0001")
            engine.dispose()
    print("regenerated:", ", ".join(p.name for p in versions.glob("*.py")))


if __name__ == "__main__":
    main()
