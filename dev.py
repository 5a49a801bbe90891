#!/usr/bin/env python3
"""Set up and run Ringround with only Python 3.11: `python3 dev.py start` | `dev.py test`.

Uses only the standard library: it makes `.venv`, installs the pinned requirements (again only
when they change), writes a random cookie key on first start (and over a placeholder or weak
one), then runs the app or the tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
import venv
from collections.abc import Mapping
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


def ensure_cookie_key(
    path: Path = SECRETS, env: Mapping[str, str] = os.environ
) -> None:
    """A real secret in .streamlit/secrets.toml (git-ignored): written on first start, and
    written again over a placeholder or weak key, which would let anyone sign an organiser's
    login cookie."""
    import tomllib  # here, so that an older python3 reaches ensure_venv's message

    sys.path.insert(0, str(ROOT))
    from core.config import MAKE_COOKIE_KEY, cookie_key_problem

    from_env = env.get("RINGROUND_COOKIE_KEY", "")
    if from_env:
        problem = cookie_key_problem(from_env)
        if problem:
            sys.exit(f"RINGROUND_COOKIE_KEY in your environment is unsafe: {problem}. "
                     f"Unset it (dev.py then writes one) or make one with {MAKE_COOKIE_KEY}")
        return
    existing = path.read_text() if path.exists() else ""
    try:
        current = tomllib.loads(existing).get("cookie_key")
    except tomllib.TOMLDecodeError:
        sys.exit(f"{path} is not valid TOML; fix or remove it and start again.")
    if isinstance(current, str) and not cookie_key_problem(current):
        return
    line = f'cookie_key = "{secrets.token_urlsafe(48)}"'
    lines = existing.splitlines()
    keyed = [i for i, text in enumerate(lines) if re.match(r"\s*cookie_key\s*=", text)]
    if keyed:
        lines[keyed[0]] = line
    else:
        # At the top: a key appended after a [table] header would belong to that table.
        lines.insert(0, line)
    path.parent.mkdir(exist_ok=True)
    # Created 0600, so the key is never readable by others, not even between write and chmod.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    what = "Replaced the unsafe" if keyed else "Wrote a new"
    print(f"{what} login cookie key in {path}", flush=True)


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
