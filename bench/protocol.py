"""Volunteers calling at once, spoken straight in Streamlit's websocket protocol (no browser).

    python -m bench.protocol --volunteers 50                    # one server, SQLite
    python -m bench.protocol --volunteers 100 --db postgres
    python -m bench.protocol --volunteers 200 --servers 2 --db postgres
    python -m bench.protocol --volunteers 30 --think 8 20 --no-dashboards   # as bench/load.py

Each simulated volunteer is one websocket to /_stcore/stream, as a browser tab is: it sends the
BackMsg a browser sends (`rerun_script` with its widget states) and reads the ForwardMsgs back
(the page's elements, `script_finished`), both the protobufs the `streamlit` package ships. It
signs in on the real login form, picks the campaign, presses Start calling, waits for the card,
answers the survey when the call was a conversation, picks an outcome and presses Save and
next, at a caller's pace. A volunteer costs the driver a few hundred kB and little CPU, so
hundreds fit beside the server, and the figures measure Ringround rather than Chromium.

Signing in is the browser's path: the form's Sign in, then the page's redirect to
/auth/session, where the server itself sets the login cookie (auth_routes.py) and sends the
browser back; the driver follows that hand-off over HTTP and reconnects its websocket with the
cookie, as the browser's reload does, so the returning-browser sign-in (app.py's
resume_from_cookie) runs for every volunteer.

Save -> next is the time from sending the Save click to receiving the next contact's card
(the escaped `<h3>` heading of the card). The driver then waits for that run to finish before
it touches the page again (each contact's widgets are keyed by the contact). Afterwards the
database is checked exactly as bench/load.py does: no contact called twice or by two
volunteers, every save the volunteer saw confirmed is a row. Also printed: saves per second,
server CPU seconds per save, server RSS and RSS per connected session, the most database
connections in use, and the servers' own per-run figures (RINGROUND_RUN_LOG).

An organiser watches each server's dashboard throughout (unless --no-dashboards), its live
fragment rerun on the browser's timer (the `auto_rerun` the server asks for): part of the load,
as on a campaign day, and a check: once the last save is in, every dashboard must show every
call made on any server within a refresh or two ("Dials (all time)" against the database).

What a browser does that this does not: the lease heartbeat (a fragment the browser's timer
reruns every minute; leases last 10 minutes, far longer than a contact takes here) and the
page's inline script that announces each new contact and moves focus to the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import http.cookiejar
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

from bench import _report as shared
from db.engine import Database, make_engine
from db.models import CallAttempt
from tests.e2e.harness import PASSWORD, tree_cpu_seconds

# How long after the last save a dashboard may take to show it: the 5 s refresh, the 3 s the
# figures are shared between viewers, and a margin for a loaded machine.
DASHBOARD_SETTLE_SECONDS = 20.0
# A realistic caller: a save every 60-120 s (think before the outcome, half again before Save).
REALISTIC_PACE = (40.0, 80.0)
QUESTION = "Will you join Saturday's action?"
FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
FRAGMENT_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class ProtocolError(RuntimeError):
    pass


CARD_HEADING = re.compile(r"<h3>(.*)</h3>", re.S)


def card_name_of(element: Any) -> str | None:
    """The contact's name, if this element is the calling card's heading: an escaped `<h3>` in
    st.html (pages/calling.py), or a Markdown `### ` heading on older pages."""
    kind = element.WhichOneof("type")
    if kind == "html":
        found = CARD_HEADING.fullmatch(element.html.body.strip())
        return html.unescape(found.group(1)).strip() if found else None
    if kind == "markdown" and element.markdown.body.startswith("### "):
        return element.markdown.body[4:].replace("\\", "").strip()
    return None


@dataclass
class Screen:
    """The elements of the last full page run, by delta path, as the browser would show them."""

    elements: dict[tuple[int, ...], Any] = field(default_factory=dict)
    fresh: set[tuple[int, ...]] = field(default_factory=set)

    def widgets(self, kind: str) -> list[Any]:
        return [getattr(e, kind) for e in self.elements.values() if e.WhichOneof("type") == kind]

    def widget(self, kind: str, label: str) -> Any:
        for widget in self.widgets(kind):
            if widget.label == label:
                return widget
        raise ProtocolError(f"no {kind} labelled {label!r} on screen")

    def has(self, kind: str, label: str) -> bool:
        return any(w.label == label for w in self.widgets(kind))

    def markdown(self) -> list[str]:
        return [m.body for m in self.widgets("markdown")]

    def alerts(self) -> list[str]:
        return [a.body for a in self.widgets("alert")]

    def metric(self, label: str) -> int | None:
        """The whole number an st.metric labelled `label` shows, or None if it is not shown."""
        for metric in self.widgets("metric"):
            if metric.label == label:
                digits = re.sub(r"[^0-9]", "", metric.body)
                return int(digits) if digits else None
        return None

    def card_name(self) -> str | None:
        for element in self.elements.values():
            name = card_name_of(element)
            if name is not None:
                return name
        return None


class StreamlitTab:
    """One browser tab's worth of Streamlit protocol: a websocket, its screen, its widgets."""

    def __init__(self, url: str, cookie: str = ""):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.cookie = cookie  # the login cookie, sent with the websocket handshake
        self.screen = Screen()
        self.page_hash = ""
        self.values: dict[str, WidgetState] = {}
        self.runs_finished = 0
        # A rerun was asked for and its run has not finished yet: the screen is half drawn
        # (the old run's widgets beside the new run's), so nothing may be read from it or
        # clicked on it until the run ends.
        self.pending = False
        self.card_seen: asyncio.Event = asyncio.Event()
        self.card_at: float | None = None
        self.last_card: str | None = None
        self.finished = asyncio.Event()
        # The page's live fragments ({fragment id: seconds}), which a browser reruns on a timer
        # (st.fragment(run_every=...) is the browser's timer, not the server's).
        self.auto_reruns: dict[str, float] = {}
        self.fragment_finished = asyncio.Event()
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.closed: BaseException | None = None

    async def open(self) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else None
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"],  # type: ignore[list-item]
                                           max_size=None, open_timeout=60,
                                           additional_headers=headers)
        self.reader = asyncio.create_task(self._read())
        await self.rerun()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                message = ForwardMsg()
                message.ParseFromString(data)
                self._handle(message)
        except BaseException as exc:  # recorded, and the waiter told
            self.closed = exc
            self.finished.set()

    def _handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = message.new_session.page_script_hash or self.page_hash
            self.screen.fresh = set()
        elif kind == "delta":
            delta = message.delta
            path = tuple(message.metadata.delta_path)
            if delta.WhichOneof("type") == "new_element":
                self.screen.elements[path] = delta.new_element
                self.screen.fresh.add(path)
                element = delta.new_element
                name = card_name_of(element)
                if name is not None:
                    if name != self.last_card:
                        self.last_card = name
                        self.card_at = time.perf_counter()
                        self.card_seen.set()
            else:
                self.screen.fresh.add(path)
        elif kind == "auto_rerun":
            self.auto_reruns[message.auto_rerun.fragment_id] = message.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.auto_reruns.clear()
        elif kind == "script_finished":
            if message.script_finished == FRAGMENT_FINISHED:
                self.fragment_finished.set()
            if message.script_finished == FINISHED:
                # Elements the run did not draw again are gone, as the browser clears them.
                self.screen.elements = {
                    path: element for path, element in self.screen.elements.items()
                    if path in self.screen.fresh
                }
                self.runs_finished += 1
                self.pending = False
                self.finished.set()

    def _client_state(self, states: list[WidgetState], **extra: Any) -> BackMsg:
        return BackMsg(rerun_script=ClientState(
            query_string="", page_script_hash=self.page_hash,
            widget_states=WidgetStates(widgets=states),
            context_info=ContextInfo(timezone="Europe/London", timezone_offset=0,
                                     locale="en-GB", url=self.url, is_embedded=False,
                                     color_scheme="light"),
            **extra,
        ))

    async def rerun(self, *, trigger: str | None = None) -> None:
        """Send a rerun with every widget value set so far (and a button's trigger, once)."""
        states = list(self.values.values())
        if trigger is not None:
            states.append(WidgetState(id=trigger, trigger_value=True))
        self.finished.clear()
        self.pending = True
        await self.ws.send(self._client_state(states).SerializeToString())

    async def refresh_fragments(self, timeout: float) -> None:
        """One tick of the browser's timer: rerun each live fragment and wait for it."""
        for fragment_id in list(self.auto_reruns):
            self.fragment_finished.clear()
            await self.ws.send(self._client_state(
                list(self.values.values()), fragment_id=fragment_id,
                is_auto_rerun=True).SerializeToString())
            try:
                await asyncio.wait_for(self.fragment_finished.wait(), timeout)
            except TimeoutError:
                raise ProtocolError(f"no fragment run finished within {timeout:.0f} s") from None

    async def wait_run(self, timeout: float) -> None:
        """Wait for the next full run to finish."""
        try:
            await asyncio.wait_for(self.finished.wait(), timeout)
        except TimeoutError:
            raise ProtocolError(f"no page run finished within {timeout:.0f} s") from None
        if self.closed is not None:
            raise ProtocolError(f"websocket closed: {self.closed!r}")
        self.finished.clear()

    async def settle(self, timeout: float, until: Any) -> None:
        """Wait for full runs until the last one has finished and `until(screen)` holds
        (server-side reruns come unasked).

        Never on a run still drawing: after Save the next contact's heading arrives before
        that contact's outcome buttons, and an outcome picked then would be the previous
        contact's widget (each is keyed by its contact): the save that follows would save
        nothing and the page would wait for a choice that never comes.
        """
        deadline = time.monotonic() + timeout
        while self.pending or not until(self.screen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("the page did not reach the expected state")
            await self.wait_run(remaining)

    def _settled(self) -> None:
        if self.pending:
            raise ProtocolError("a widget used while its page run was still drawing")

    def set_text(self, label: str, value: str) -> None:
        self._settled()
        widget = self.screen.widget("text_input", label)
        self.values[widget.id] = WidgetState(id=widget.id, string_value=value)

    def set_radio(self, label: str, option: str) -> None:
        self._settled()
        widget = self.screen.widget("radio", label)
        if option not in widget.options:
            raise ProtocolError(f"{option!r} is not an option of {label!r}")
        self.values[widget.id] = WidgetState(id=widget.id, string_value=option)

    async def click(self, label: str) -> None:
        self._settled()
        widget = self.screen.widget("button", label)
        await self.rerun(trigger=widget.id)

    def forget_widgets(self) -> None:
        """Drop the values of widgets no longer on screen (the browser forgets them too)."""
        on_screen = {getattr(e, e.WhichOneof("type")).id for e in self.screen.elements.values()
                     if hasattr(getattr(e, e.WhichOneof("type"), None), "id")}
        self.values = {k: v for k, v in self.values.items() if k in on_screen}


def confirmation(screen: Screen) -> tuple[str, str] | None:
    for body in screen.alerts():
        match = shared.CONFIRMED.search(body.replace("\\", "").replace("\n", " "))
        if match:
            return match["label"], match["name"]
    return None


def _collect_cookie(target: str) -> str:
    """Follow the sign-in hand-off as a browser would; return the Cookie header it ends with."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(target, timeout=60) as response:
        response.read()
    if not len(jar):
        raise ProtocolError("the sign-in hand-off set no cookie")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


async def signed_in(url: str, username: str, *, timeout: float,
                    landed: Any) -> StreamlitTab:
    """A tab signed in on the real form, the cookie hand-off followed, on the page where
    `landed(screen)` holds (the caller closes it)."""
    tab = StreamlitTab(url)
    try:
        await tab.open()
        await tab.settle(timeout, lambda s: s.has("text_input", "Username"))
        tab.set_text("Username", username)
        tab.set_text("Password", PASSWORD)
        await tab.click("Sign in")
        await tab.settle(timeout, lambda s: s.has("link_button", "Continue") or landed(s))
        if tab.screen.has("link_button", "Continue"):
            # The browser is sent to /auth/session to collect its login cookie from the server
            # (auth_routes.py), then reloads: do the same, and reconnect with the cookie.
            target = urllib.parse.urljoin(url + "/", tab.screen.widget("link_button",
                                                                       "Continue").url)
            cookie = await asyncio.to_thread(_collect_cookie, target)
            await tab.close()
            tab = StreamlitTab(url, cookie=cookie)
            await tab.open()
        await tab.settle(timeout, landed)
    except BaseException:
        await tab.close()
        raise
    return tab


async def volunteer(url: str, username: str, *, calls: int, seed: int,
                    think: tuple[float, float], timeout: float,
                    start_delay: float) -> shared.VolunteerRun:
    run = shared.VolunteerRun(username=username, server=url)
    tab: StreamlitTab | None = None
    try:
        await asyncio.sleep(start_delay)
        tab = await signed_in(url, username, timeout=timeout,
                              landed=lambda s: s.has("button", "Start calling"))
        tab.values.clear()
        tab.card_seen.clear()
        await tab.click("Start calling")
        await tab.settle(timeout, lambda s: s.card_name() is not None)
        name = tab.screen.card_name()
        assert name is not None
        run.shown.append(name)
        on_page = tab  # the tab the helpers below act on (no longer None from here)

        async def pick(group: str, option: str) -> None:
            started = time.perf_counter()
            on_page.set_radio(group, option)
            await on_page.rerun()
            await on_page.wait_run(timeout)
            run.rerun_seconds.append(time.perf_counter() - started)

        async def pick_outcome(label: str, answer: str | None) -> None:
            if answer is not None:
                await pick(QUESTION, answer)
            await pick("Outcome", label)

        async def save(name: str, label: str) -> str | None:
            on_page.card_seen.clear()
            clicked = time.perf_counter()
            await on_page.click("Save and next")
            await on_page.settle(timeout, lambda s: s.card_name() != name or any(
                "has been called" in b or "Nobody is waiting" in b
                for b in s.markdown() + s.alerts()))
            following = on_page.screen.card_name()
            seconds = (on_page.card_at - clicked
                       if on_page.card_seen.is_set() and on_page.card_at else None)
            run.saved(contact=name, label=label, seconds=seconds,
                      seen=confirmation(on_page.screen))
            on_page.forget_widgets()
            return None if following is None or following == name else following

        await shared.make_calls(run, calls=calls, seed=seed, think=think, pick=pick_outcome,
                                save=save)
    except Exception as exc:  # recorded; the other volunteers carry on
        run.errors.append(f"{username}: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        if tab is not None:
            await tab.close()
    return run


DIALS = "Dials (all time)"


@dataclass
class DashboardWatch:
    """An organiser's dashboard left open on one server through the run, refreshed by the
    browser's timer, and what it showed once the last save was in."""

    server: str
    refreshes: int = 0
    shown: int | None = None
    seconds_to_show: float | None = None  # from the volunteers' end to showing every call
    error: str = ""


async def watch_dashboard(url: str, username: str, *, timeout: float, ready: asyncio.Event,
                          done: asyncio.Event, expected: Any,
                          settle_seconds: float) -> DashboardWatch:
    """Sign in as an organiser and open the dashboard (then set `ready`), keep its live
    fragment ticking as a browser does until `done`, then tick on until it shows `expected()`
    calls or `settle_seconds` pass."""
    watch = DashboardWatch(server=url)
    tab: StreamlitTab | None = None
    try:
        try:
            tab = await signed_in(url, username, timeout=timeout,
                                  landed=lambda s: s.metric(DIALS) is not None)
        finally:
            ready.set()
        if not tab.auto_reruns:
            raise ProtocolError("the dashboard has no live refresh")
        interval = min(tab.auto_reruns.values())
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
            await tab.refresh_fragments(timeout)
            watch.refreshes += 1
        finished = time.perf_counter()
        target = await asyncio.to_thread(expected)
        while True:
            watch.shown = tab.screen.metric(DIALS)
            if watch.shown == target:
                watch.seconds_to_show = time.perf_counter() - finished
                break
            if time.perf_counter() - finished > settle_seconds:
                break
            await asyncio.sleep(interval)
            await tab.refresh_fragments(timeout)
            watch.refreshes += 1
    except Exception as exc:  # reported beside the volunteers' figures
        watch.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        if tab is not None:
            await tab.close()
    return watch


async def warm_up(urls: list[str], timeout: float) -> None:
    for url in urls:
        tab = StreamlitTab(url)
        try:
            await tab.open()
            await tab.settle(timeout, lambda s: s.has("text_input", "Username"))
        finally:
            await tab.close()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its live children."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) * 1024
    return total


def database_connections(url: str) -> int:
    """Connections open to the run's database (PostgreSQL), or -1 where not measurable."""
    if not url.startswith("postgresql"):
        return -1
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            name = sa.make_url(url).database
            return int(connection.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                "AND pid <> pg_backend_pid()"), {"name": name}).scalar() or 0)
    finally:
        engine.dispose()


@dataclass
class Capacity:
    saves_per_second: float = 0.0
    server_cpu_per_save: float = 0.0
    rss_before: int = 0
    rss_peak: int = 0
    rss_per_session: float = 0.0
    db_connections_peak: int = -1
    dashboards: list[DashboardWatch] = field(default_factory=list)
    calls_stored: int = 0

    @property
    def dashboards_saw_every_call(self) -> bool:
        return bool(self.dashboards) and all(
            not d.error and d.shown == self.calls_stored for d in self.dashboards)


def run_protocol_load(
    *, database_url: str, workdir: Path, volunteers: int, calls: int, servers: int = 1,
    think: tuple[float, float] = REALISTIC_PACE, timeout: float = 120.0,
    ramp_seconds: float | None = None, dashboards: bool = True,
) -> tuple[shared.LoadReport, Capacity]:
    """Seed, start the servers, drive the volunteers over websockets, stop, check; with
    `dashboards`, an organiser watches each server's dashboard throughout."""
    database = Database(make_engine(database_url, pool_size=4, max_overflow=4))
    capacity = Capacity()
    try:
        stage = shared.set_stage(database, database_url=database_url, workdir=workdir,
                                 volunteers=volunteers, calls=calls, servers=servers)
        apps, usernames = stage.apps, stage.usernames
        ramp = ramp_seconds if ramp_seconds is not None else min(60.0, think[0])
        try:
            for app in apps:
                app.start()
            # One tab per server first: the first page run imports the pages' modules, which
            # is the server's own footprint, not any session's.
            shared.run_in_own_thread(lambda: warm_up([app.url for app in apps], timeout))
            pids = [app.process.pid for app in apps if app.process]
            cpu_before: list[float] = []
            peaks = {"rss": 0, "connections": -1}
            stop = threading.Event()

            def baseline() -> None:
                cpu_before[:] = [tree_cpu_seconds(pid) for pid in pids]
                capacity.rss_before = peaks["rss"] = sum(rss_bytes(pid) for pid in pids)

            def sample() -> None:
                while not stop.wait(2.0):
                    with contextlib.suppress(Exception):
                        peaks["rss"] = max(peaks["rss"], sum(rss_bytes(pid) for pid in pids))
                        peaks["connections"] = max(peaks["connections"],
                                                   database_connections(database_url))

            def calls_stored() -> int:
                with database.session() as s:
                    return int(s.execute(sa.select(sa.func.count()).select_from(
                        CallAttempt).where(CallAttempt.campaign_id == stage.campaign_id)  # type: ignore[arg-type]
                    ).scalar_one())

            async def drive() -> list[shared.VolunteerRun]:
                # An organiser watches each server's dashboard through the run, as on a
                # campaign day: its live refresh is part of the load, and once the last save
                # is in, each must show every call made on either server within a refresh or
                # two (the refresh interval plus the shared figures' few seconds).
                done = asyncio.Event()
                watched = apps if dashboards else []
                ready = [asyncio.Event() for _ in watched]
                watchers = [asyncio.create_task(watch_dashboard(
                    app.url, stage.organiser, timeout=timeout, ready=ready[n], done=done,
                    expected=calls_stored, settle_seconds=DASHBOARD_SETTLE_SECONDS))
                    for n, app in enumerate(watched)]
                for event in ready:
                    await event.wait()
                # The dashboards' first runs import the charting modules, the server's own
                # footprint: CPU and memory are counted from here, volunteers' sessions only.
                baseline()
                sampler.start()
                span["start"] = time.perf_counter()
                runs = list(await asyncio.gather(*(
                    volunteer(apps[i % servers].url, username, calls=calls, seed=i, think=think,
                              timeout=timeout, start_delay=ramp * i / max(1, len(usernames)))
                    for i, username in enumerate(usernames))))
                span["end"] = time.perf_counter()
                done.set()
                capacity.dashboards = list(await asyncio.gather(*watchers))
                return runs

            sampler = threading.Thread(target=sample, daemon=True)
            span: dict[str, float] = {}
            try:
                runs = shared.run_in_own_thread(drive)
            finally:
                stop.set()
                if sampler.ident is not None:
                    sampler.join()
            # The volunteers' own span: the saves per second are theirs, the dashboards'
            # sign-in and last refreshes are outside it (their CPU, during it, is not).
            seconds = span["end"] - span["start"]
            server_cpu = sum(tree_cpu_seconds(pid) - before
                             for pid, before in zip(pids, cpu_before, strict=True))
            capacity.calls_stored = calls_stored()
        finally:
            for app in apps:
                app.stop()
        report = shared.final_report(database, stage, runs, seconds, calls=calls, think=think)
        report.server_cpu_seconds = server_cpu
        capacity.saves_per_second = report.saves / seconds if seconds else 0.0
        capacity.server_cpu_per_save = server_cpu / report.saves if report.saves else 0.0
        capacity.rss_peak = peaks["rss"]
        capacity.rss_per_session = (peaks["rss"] - capacity.rss_before) / max(1, volunteers)
        capacity.db_connections_peak = peaks["connections"]
        return report, capacity
    finally:
        database.dispose()


def print_capacity(capacity: Capacity) -> None:
    mib = 1024 * 1024
    connections = (str(capacity.db_connections_peak) if capacity.db_connections_peak >= 0
                   else "n/a (SQLite: one file)")
    print(f"  saves/s {capacity.saves_per_second:.2f}; server CPU per save "
          f"{capacity.server_cpu_per_save * 1000:.0f} ms; server RSS "
          f"{capacity.rss_before / mib:.0f} MiB at start, "
          f"{capacity.rss_peak / mib:.0f} MiB at peak, "
          f"{capacity.rss_per_session / mib:.1f} MiB per connected session; "
          f"database connections at most {connections}")
    for number, watch in enumerate(capacity.dashboards, start=1):
        seen = (f"showed all {watch.shown:,} calls "
                f"{watch.seconds_to_show:.1f} s after the last save" if watch.seconds_to_show
                is not None else f"showed {watch.shown} of {capacity.calls_stored:,} calls")
        print(f"  organiser's dashboard on server {number}: {watch.refreshes} live refreshes; "
              f"{seen}{'; ERROR ' + watch.error if watch.error else ''}")
    if capacity.dashboards:
        print(f"  every dashboard saw every call: "
              f"{'yes' if capacity.dashboards_saw_every_call else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    parser = shared.command_line(__doc__.split("\n\n")[0], volunteers=50, calls=3,
                                 think=REALISTIC_PACE)
    parser.add_argument("--no-dashboards", action="store_true",
                        help="no organiser watching a dashboard (as bench/load.py's browsers)")
    args = parser.parse_args(argv)
    if shared.refused(args):
        return 2
    with tempfile.TemporaryDirectory(prefix="ringround-protocol-") as tmp, \
            shared.database_url(args.db, Path(tmp)) as url:
        report, capacity = run_protocol_load(
            database_url=url, workdir=Path(tmp), volunteers=args.volunteers, calls=args.calls,
            servers=args.servers, think=tuple(args.think), dashboards=not args.no_dashboards)
    shared.print_report(report, client="over websockets (bench/protocol.py, no browser)")
    print_capacity(capacity)
    dashboards_ok = args.no_dashboards or capacity.dashboards_saw_every_call
    return 0 if report.clean and dashboards_ok else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["StreamlitTab", "print_capacity", "run_protocol_load"]
