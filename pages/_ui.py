"""The few Streamlit helpers every page shares: the runtime, the signed-in user, role guards.

This is the only UI module that knows how the app is wired; pages call it and core/ functions.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import streamlit as st

from core.config import ConfigError, load_settings
from core.login_sessions import session_is_open
from core.runtime import (
    Database,
    RunCounts,
    Runtime,
    Session,
    begin_counting,
    end_counting,
    open_runtime,
)
from core.users import UserView, get_user

AUTH_USER_KEY = "auth_user"
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def _load_runtime() -> Runtime:
    return open_runtime(load_settings())


def _purge(database: Database) -> None:
    """Blank call notes past the retention period, and rejected import rows' raw text after
    30 days."""
    from core.contacts import purge_old_notes
    from core.importing import purge_old_rejections
    from core.login_sessions import purge_finished
    from core.login_throttle import purge_stale

    try:
        now = datetime.now(UTC)
        with database.write() as session:
            purge_old_notes(session=session)
            purge_old_rejections(session=session)
            purge_finished(session=session, now=now)
            purge_stale(session=session, now=now)
    except Exception:  # housekeeping must never take a page down
        logging.getLogger(__name__).exception("housekeeping failed")


@st.cache_resource(ttl=3600, show_spinner=False)
def _hourly_housekeeping() -> threading.Thread:
    """At most once an hour per app server, on a thread of its own: periodic work must not
    land inside one volunteer's page run (the purge is a write, and on SQLite every other
    writer would queue behind it while that volunteer waited)."""
    thread = threading.Thread(target=_purge, args=(_load_runtime().database,),
                              name="ringround-housekeeping", daemon=True)
    thread.start()
    return thread


EVENT_TEXTS_EVERY_SECONDS = 300


def _send_event_texts(runtime: Runtime) -> None:
    from core.event_texts import deliver_due_texts

    try:
        deliver_due_texts(database=runtime.database, settings=runtime.settings)
    except Exception:  # a failed run is retried at the next one
        logging.getLogger(__name__).exception("event texts job failed")


@st.cache_resource(ttl=EVENT_TEXTS_EVERY_SECONDS, show_spinner=False)
def _event_texts_job() -> threading.Thread:
    """Event reminders, cancellations and any confirmation still owed, every five minutes per
    app server, in a thread of its own so nobody's page waits on Twilio. Each text is claimed
    in the database first, so several servers never send one twice (core/event_texts.py)."""
    thread = threading.Thread(target=_send_event_texts, args=(_load_runtime(),),
                              name="ringround-event-texts", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _setup_done() -> threading.Event:
    """Set once an organiser exists: from then on it always does (the last organiser cannot
    be removed), so app.py stops asking the database on every run of every page."""
    return threading.Event()


def first_run() -> bool:
    """True until the first organiser exists (the setup screen is the only page then)."""
    done = _setup_done()
    if done.is_set():
        return False
    from core.users import organiser_exists

    with read_session() as session:
        if organiser_exists(session=session):
            done.set()
    return not done.is_set()


def housekeeping() -> None:
    try:
        _hourly_housekeeping()
        _event_texts_job()
    except Exception:  # housekeeping must never take a page down
        logging.getLogger(__name__).exception("housekeeping failed")


def runtime() -> Runtime:
    """Settings and database for this process; stops the page with a message if misconfigured."""
    try:
        return _load_runtime()
    except ConfigError as exc:
        st.error(f"Ringround cannot start: {exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


@contextmanager
def read_session() -> Iterator[Session]:
    with runtime().database.session() as session:
        yield session


@contextmanager
def _write_session() -> Iterator[Session]:
    with runtime().database.write() as session:
        yield session


@dataclass(frozen=True)
class ActionResult(Generic[T]):
    ok: bool
    value: T | None = None


FLASH_KEY = "ui_flash"
TOAST_KEY = "ui_flash_toast"
Shown = Literal["success", "text", "toast"]


def _say(shown: Shown, message: str) -> None:
    if shown == "text":
        st.text(f"✅ {message}")  # plain text: the message may carry someone's own words
    elif shown == "toast":
        st.toast(message)
    else:
        st.success(message)


def flash(message: str, shown: Shown = "success") -> None:
    """Keep a message for the next run: show_flash() shows it where the page calls it, and
    app.py shows a toast (a toast sent just before st.rerun() can be dropped with the
    interrupted run's messages)."""
    if shown == "toast":
        st.session_state[TOAST_KEY] = message
    else:
        st.session_state[FLASH_KEY] = (shown, message)


def show_flash() -> None:
    """Show what the action before this rerun did (run_action(..., rerun=True)), where the
    page calls this; a toast is shown by app.py on every page."""
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is not None:
        _say(*flash)


def show_flashed_toast() -> None:
    message = st.session_state.pop(TOAST_KEY, None)
    if message is not None:
        st.toast(message)


def run_action(
    action: Callable[[Any], T], *,
    errors: tuple[type[Exception], ...] = (),
    done: str | Callable[[T], str] | None = None,
    shown: Shown = "success",
    rerun: bool = False,
    then: Callable[[T], object] | None = None,
    on_refusal: Callable[[Exception], object] | None = None,
    transaction: Literal["write", "read", "own"] = "write",
) -> ActionResult[T]:
    """Run one core action in a transaction; say that it was done, or show why not.

    The page's one way to act: `_ui.run_action(lambda s: core.x(session=s, ...),
    errors=(core.XError,), done="Saved.")`. On success `done` (a message, or one made from
    the action's value) is shown as `shown` says; with `rerun` it is kept for show_flash()
    and the page reruns, so that what it draws is the state after the action; `then` runs
    first, after the commit (e.g. to keep what the action returned). On one of the
    domain `errors` the transaction is rolled back (nothing is half-written) and the error's
    message is shown (`on_refusal` to show it otherwise, e.g. from a callback). Other
    exceptions propagate: a bug, or the database not answering, which app.py shows.
    `transaction="read"` runs a read that may be refused; `"own"` hands the action the
    database instead, for one that opens its own transactions (to send a text outside one).
    """
    try:
        if transaction == "own":
            value = action(runtime().database)
        else:
            with _write_session() if transaction == "write" else read_session() as session:
                value = action(session)
    except errors as exc:
        if on_refusal is not None:
            on_refusal(exc)
        else:
            st.error(str(exc))
        return ActionResult(ok=False)
    if then is not None:
        then(value)
    message = done(value) if callable(done) else done
    if message is not None:
        if rerun:
            flash(message, shown)
        else:
            _say(shown, message)
    if rerun:
        st.rerun()
    return ActionResult(ok=True, value=value)


def app_base_url() -> str:
    """The address people reach Ringround at: RINGROUND_PUBLIC_URL, else the address this
    organiser is using (scheme, host and Streamlit's base path), else "" when unknown."""
    public = runtime().settings.public_url
    if public:
        return public.rstrip("/")
    url = getattr(st.context, "url", None) or ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    base_path = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}" + (f"/{base_path}" if base_path else "")


def sign_in(user: UserView, login_session_id: int | None) -> None:
    st.session_state[AUTH_USER_KEY] = {"id": user.id, "epoch": user.session_epoch,
                                       "login_session": login_session_id}


def login_session_id() -> int | None:
    token = st.session_state.get(AUTH_USER_KEY) or {}
    value = token.get("login_session")
    return int(value) if value is not None else None


def sign_out() -> None:
    st.session_state.pop(AUTH_USER_KEY, None)
    _timing.user = None


def remember_user(user: UserView | None) -> None:
    """Keep the user app.py checked for the rest of this run (end_run forgets it)."""
    _timing.user = user


def current_user(session: Session | None = None) -> UserView | None:
    """The signed-in user, re-checked against the database on every run.

    A deactivated user, one whose sessions were ended (epoch bumped), or one whose browser
    signed out (its LoginSession ended, perhaps in another tab) is signed out here, so that
    the change takes effect at the next click.
    """
    token = st.session_state.get(AUTH_USER_KEY)
    if not token:
        return None
    checked = getattr(_timing, "user", None)
    if checked is not None and checked.id == int(token["id"]):
        return checked  # app.py checked this user earlier in this same run
    def check(session: Session) -> tuple[UserView | None, bool]:
        user = get_user(session=session, user_id=int(token["id"]))
        still_open = user is not None and token.get("login_session") is not None and (
            session_is_open(session=session, login_session_id=int(token["login_session"]),
                            epoch=int(token["epoch"])))
        return user, still_open

    if session is not None:
        user, still_open = check(session)
    else:
        with read_session() as own:
            user, still_open = check(own)
    if (user is None or not user.active or user.session_epoch != token["epoch"]
            or not still_open):
        sign_out()
        return None
    return user


def require_user() -> UserView:
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    assert user is not None
    return user


def require_organiser() -> UserView:
    """Defence in depth: navigation already hides organiser pages from volunteers."""
    user = require_user()
    if not user.is_organiser:
        st.error("This page is for organisers.")
        st.stop()
    return user


def organiser_page(title: str, caption: str = "") -> tuple[UserView, Runtime]:
    """An organiser screen's head: only organisers get past it, then its title and the caption
    under it; gives the organiser and the runtime."""
    organiser = require_organiser()
    rt = runtime()
    st.title(title)
    if caption:
        st.caption(caption)
    return organiser, rt


# --------------------------------------------------------------------------------------------
# Per-run timing and database counts (RINGROUND_RUN_LOG), read by bench/load.py
# --------------------------------------------------------------------------------------------

_timing = threading.local()
_log_lock = threading.Lock()
_gc_ms = [0.0]  # process-wide time in the garbage collector, for runs to take deltas of
_gc_started = [0.0]
_gc_watching = [False]


def _gc_callback(phase: str, _info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _gc_ms[0] += (time.perf_counter() - _gc_started[0]) * 1000


@dataclass
class _RunTiming:
    kind: str
    started: float = field(default_factory=time.perf_counter)
    gc_ms_at_start: float = field(default_factory=lambda: _gc_ms[0])
    marks: dict[str, float] = field(default_factory=dict)
    counts: RunCounts = field(default_factory=RunCounts)


def begin_run(kind: str = "run") -> None:
    """Start timing and counting this run. A callback that runs before the page (Save and
    next) calls it first with its own kind, and app.py's call then keeps that start."""
    current: _RunTiming | None = getattr(_timing, "run", None)
    if current is not None and kind == "run" and time.perf_counter() - current.started < 60:
        return  # begun by this run's callback
    _timing.run = _RunTiming(kind=kind)
    begin_counting(_timing.run.counts)


def name_run(kind: str) -> None:
    """Say what this run turned out to be (e.g. "sign-in": a browser signed in from its
    cookie, which writes the login), so that it is not counted as a bare redraw."""
    current: _RunTiming | None = getattr(_timing, "run", None)
    if current is not None:
        current.kind = kind


def mark_run(name: str) -> None:
    """Note how long into this run something was handed to the browser (e.g. the card)."""
    current: _RunTiming | None = getattr(_timing, "run", None)
    if current is not None and name not in current.marks:
        current.marks[name] = (time.perf_counter() - current.started) * 1000


_freeze_heap = threading.Event()


def freeze_heap_after_first_run() -> None:
    """Ask for gc.freeze() once the first page run has imported the pages' modules.

    Python's full collection walks every tracked object while holding the GIL, so it stops
    every session at once: with Streamlit, SQLAlchemy, pandas and altair loaded that is
    ~180,000 objects and 250-600 ms on this 2-core machine (the run log's gc_ms showed one
    rerun in a hundred waiting that long). Objects alive after start-up live as long as the
    process; frozen, the collector skips them and a full collection takes a few ms. server.py
    (the production entry) asks for this; tests running pages in-process do not.
    """
    _freeze_heap.set()


def end_run(page: str) -> dict[str, Any] | None:
    """Finish this run's timing; append it to RINGROUND_RUN_LOG when that is set."""
    if _freeze_heap.is_set():
        _freeze_heap.clear()
        gc.freeze()
    current: _RunTiming | None = getattr(_timing, "run", None)
    _timing.run = None
    _timing.user = None
    end_counting()
    if current is None:
        return None
    path = runtime().settings.run_log
    if not path:
        return None
    if not _gc_watching[0]:
        _gc_watching[0] = True
        gc.callbacks.append(_gc_callback)
    record = {
        "at": time.time(), "kind": current.kind, "page": page,
        "thread": threading.get_ident(),
        "run_ms": round((time.perf_counter() - current.started) * 1000, 2),
        **{f"{name}_ms": round(ms, 2) for name, ms in current.marks.items()},
        "gc_ms": round(_gc_ms[0] - current.gc_ms_at_start, 2),
        "gc_frozen": gc.get_freeze_count(),
        **current.counts.as_dict(),
    }
    with _log_lock, open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    return record
