#!/usr/bin/env python3
"""Set up and run Ringround with only Python 3.11: `python3 dev.py start` | `dev.py test`.

Uses only the standard library: it makes `.venv`, installs the pinned requirements (again only
when they change), writes a random cookie key on first start, then runs the app or the tests.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
SECRETS = ROOT / ".streamlit" / "secrets.toml"


def ensure_venv(requirements: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("Ringround needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    req = ROOT / requirements
    text = req.read_text() + (ROOT / "requirements.txt").read_text()
    stamp = VENV / f".installed-{requirements}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing {requirements} …", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "-r", str(req)], check=True)
    stamp.write_text(digest)


def ensure_cookie_key() -> None:
    """A real secret on first start, kept in .streamlit/secrets.toml (git-ignored)."""
    if os.environ.get("RINGROUND_COOKIE_KEY"):
        return
    existing = SECRETS.read_text() if SECRETS.exists() else ""
    if "cookie_key" in existing:
        return
    SECRETS.parent.mkdir(exist_ok=True)
    with SECRETS.open("a") as fh:
        fh.write(f'cookie_key = "{secrets.token_urlsafe(48)}"\n')
    SECRETS.chmod(0o600)
    print(f"Wrote a new login cookie key to {SECRETS.relative_to(ROOT)}", flush=True)


def start(args: list[str]) -> int:
    ensure_venv("requirements.txt")
    ensure_cookie_key()
    port = os.environ.get("PORT", "8501")
    print(
        f"Ringround on http://localhost:{port}  (first run: create an organiser or load the demo)",
        flush=True,
    )
    command = [
        str(PYTHON),
        "-m",
        "streamlit",
        "run",
        str(ROOT / "server.py" if (ROOT / "server.py").exists() else ROOT / "app.py"),
        "--server.port",
        port,
        *args,
    ]
    return subprocess.call(command, cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    return subprocess.call([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"start", "test"}:
        print(__doc__.strip().splitlines()[0])
        print(
            "usage: python3 dev.py start [streamlit options] | python3 dev.py test [pytest options]"
        )
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return start(rest) if command == "start" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
