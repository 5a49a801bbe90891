"""The container image, built from the real Containerfile and run as a self-hoster would.

`.ci/container-image` builds it with podman on a debootstrapped Debian bookworm base (no image
registry is reachable here). The image then runs against the test PostgreSQL with host
networking: it must migrate an empty database on start, answer /healthz (and its own
HEALTHCHECK), run as a non-root user, refuse to start without a safe cookie key, and take a
newcomer through first-run setup in Chromium. Skipped on a laptop without podman; a failure in
CI. Screenshots: artifacts/e2e/test_the_container_.../
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import PROJECT_ROOT
from tests.e2e import streamlit_ui as ui
from tests.e2e.conftest import unavailable
from tests.e2e.harness import PostgresUnavailable, free_port, scratch_postgres

pytestmark = pytest.mark.e2e

BUILD_SCRIPT = PROJECT_ROOT / ".ci" / "container-image"
RUNC = Path("/usr/sbin/runc")
PASSWORD = "a long container organiser password"


def _podman_args(tmp_path: Path) -> list[str]:
    # crun fails on rlimits in this sandbox; runc works once default ulimits are dropped.
    conf = tmp_path / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    os.environ["CONTAINERS_CONF"] = str(conf)
    args = ["podman"]
    if RUNC.exists():
        args += ["--runtime", str(RUNC)]
    return args


@pytest.fixture(scope="module")
def image() -> str:
    # In CI the build script installs podman, runc and debootstrap itself; a laptop without
    # podman skips.
    if shutil.which("podman") is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("podman is not installed (apt-get install podman runc debootstrap)")
    built = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1500
    )
    if built.returncode != 0:
        pytest.fail(f"the image did not build:\n{built.stderr[-4000:]}")
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """An empty PostgreSQL database (no schema: the container must migrate it), named with
    the driver the image's psycopg answers to."""
    try:
        with scratch_postgres(migrated=False) as url:
            yield sa.make_url(url).set(drivername="postgresql").render_as_string(
                hide_password=False)
    except PostgresUnavailable as exc:
        unavailable(f"PostgreSQL unavailable: {exc}")


class Container:
    def __init__(self, podman: list[str], image: str, env: dict[str, str]):
        self.podman, self.image, self.env = podman, image, env
        self.name = f"ringround-test-{uuid.uuid4().hex[:8]}"

    def run(self, *command: str, detach: bool = True) -> subprocess.CompletedProcess[str]:
        env_args = [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]
        return subprocess.run(
            [*self.podman, "run", *(["-d"] if detach else ["--rm"]), "--name", self.name,
             "--network=host", *env_args, self.image, *command],
            capture_output=True, text=True, timeout=90,
        )

    def podman_out(self, *args: str) -> str:
        done = subprocess.run([*self.podman, *args], capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr

    def logs(self) -> str:
        return self.podman_out("logs", self.name)

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run([*self.podman, "rm", "-f", "-t", "5", self.name],
                           capture_output=True, timeout=60)


def wait_healthy(url: str, container: Container, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
                if json.load(response).get("status") == "ok":
                    return
        time.sleep(1)
    raise AssertionError(f"/healthz never answered ok; container log:\n{container.logs()}")


def test_the_container_migrates_serves_and_takes_a_newcomer_through_first_run_setup(
    image, empty_postgres, tmp_path, new_context, screenshots
):
    podman = _podman_args(tmp_path)
    port = free_port()
    container = Container(podman, image, {
        "DATABASE_URL": empty_postgres,
        "RINGROUND_COOKIE_KEY": secrets.token_urlsafe(48),
        "PORT": str(port),
    })
    try:
        started = container.run()
        assert started.returncode == 0, started.stderr
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, container)
        log = container.logs()
        assert "schema migrated from empty to" in log, log
        # The image's own HEALTHCHECK passes, and the app runs as an unprivileged user.
        health = subprocess.run([*podman, "healthcheck", "run", container.name],
                                capture_output=True, text=True, timeout=60)
        assert health.returncode == 0, health.stdout + health.stderr
        assert container.podman_out("exec", container.name, "id", "-u").strip() == "10001"

        page = new_context().new_page()
        ui.open_app(page, url)
        ui.wait_for_text(page, "Create the first organiser", timeout=60)
        screenshots.take(page, "first run in the container")
        ui.set_up_first_organiser(page, name="Cora Container", email="cora@example.org",
                                  username="cora", password=PASSWORD)
        ui.wait_for_text(page, "Signed in as", timeout=60)
        screenshots.take(page, "signed in")
    finally:
        container.remove()


@pytest.mark.parametrize(
    "cookie_key",
    ["", "put at least 32 random characters here"],
    ids=["missing", "placeholder"],
)
def test_the_container_refuses_to_start_without_a_safe_cookie_key(
    image, empty_postgres, tmp_path, cookie_key
):
    env = {"DATABASE_URL": empty_postgres, "PORT": str(free_port())}
    if cookie_key:
        env["RINGROUND_COOKIE_KEY"] = cookie_key
    container = Container(_podman_args(tmp_path), image, env)
    try:
        done = container.run(detach=False)
        assert done.returncode != 0
        assert "RINGROUND_COOKIE_KEY" in done.stdout + done.stderr, done.stdout + done.stderr
    finally:
        container.remove()
