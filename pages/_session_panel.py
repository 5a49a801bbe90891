"""Continuous calling on the calling page: Start session, the live state, Pause / Resume / End.

Renders core.dialing.session's state only: core rings the volunteer, claims and dials each
contact, deals with machines and logs busy / no answer. While a person is on the line the
calling page draws their card, script and survey as usual (the claim hands the page the same
contact, the volunteer's held lease), and saving the outcome is what moves the session on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.dialing import CallInfo, CallingMode, DialerError, RoomDialer, room_dialer_for
from core.dialing.session import (
    RESULT_LABELS,
    SessionError,
    SessionStatus,
    SessionView,
    advance,
    end,
    get_session,
    live_session,
    pause,
    resume,
    start_session,
)
from pages import _ui

POLL_SECONDS = 1.0  # the screen looks at the session this often (a database read)
LAST_REST_POLL = "calling_session_rest_polled"
SESSION = "calling_session_id"
SHOWN = "calling_session_shown"  # the status the full page was last drawn for
STATUS_TEXT = {
    SessionStatus.CONNECTING: "🔔 Ringing your phone: answer it to start.",
    SessionStatus.READY: "🟢 On the line: finding the next person…",
    SessionStatus.DIALING: "📞 Dialling…",
    SessionStatus.TALKING: "🗣️ Connected",
    SessionStatus.PAUSED: "⏸️ Paused",
    SessionStatus.ENDED: "Session ended",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _dialer(mode: CallingMode) -> RoomDialer:
    dialer = room_dialer_for(mode.kind, _ui.runtime().settings)
    assert dialer is not None, "continuous calling is offered only where a room dialer exists"
    return dialer


def current(volunteer_id: int) -> SessionView | None:
    """The volunteer's live session (found again after a reload), or None."""
    session_id = st.session_state.get(SESSION)
    with _ui.read_session() as session:
        view = (get_session(session=session, session_id=int(session_id))
                if session_id is not None else None)
        if view is None or not view.live:
            view = live_session(session=session, volunteer_id=volunteer_id)
    if view is not None and view.live:
        st.session_state[SESSION] = view.id
        return view
    st.session_state.pop(SESSION, None)
    return None


def end_live_session(mode: CallingMode, volunteer_id: int) -> None:
    """Stop calling ends a session too (its contact goes back to the queue)."""
    view = current(volunteer_id)
    if view is not None:
        end(database=_ui.runtime().database, dialer=_dialer(mode),
            session_id=view.id, volunteer_id=volunteer_id, now=_now())
    st.session_state.pop(SESSION, None)


def _start(mode: CallingMode, campaign_id: int, volunteer_id: int) -> None:
    rt = _ui.runtime()
    _ui.run_action(
        lambda database: start_session(database=database, dialer=_dialer(mode),
                                       settings=rt.settings, campaign_id=campaign_id,
                                       volunteer_id=volunteer_id, now=_now()),
        transaction="own", errors=(DialerError,), on_refusal=_keep_error,
        then=lambda view: st.session_state.__setitem__(SESSION, view.id))


def _keep_error(exc: Exception) -> None:
    """Shown at the top of the panel in the next run."""
    st.session_state["calling_session_error"] = str(exc)


def _controls(view: SessionView, mode: CallingMode, volunteer_id: int) -> None:
    rt = _ui.runtime()
    left, right = st.columns(2)
    if view.status == SessionStatus.PAUSED or view.pause_requested:
        if left.button("Resume", key="calling_session_resume", icon="▶️", type="primary"):
            _ui.run_action(
                lambda database: resume(database=database, dialer=_dialer(mode),
                                        settings=rt.settings, session_id=view.id,
                                        volunteer_id=volunteer_id, now=_now()),
                transaction="own", errors=(DialerError,), on_refusal=_keep_error,
                then=lambda resumed: st.session_state.__setitem__(SESSION, resumed.id))
            st.rerun()
    elif left.button("Pause", key="calling_session_pause", icon="⏸️"):
        pause(database=rt.database, session_id=view.id, volunteer_id=volunteer_id, now=_now())
        st.rerun()
    if right.button("End session", key="calling_session_end", icon="⏹️"):
        end(database=rt.database, dialer=_dialer(mode),
            session_id=view.id, volunteer_id=volunteer_id, now=_now())
        st.session_state.pop(SESSION, None)
        st.rerun()


def _summary(view: SessionView) -> str:
    parts = [f"{view.dialled} dialled", f"{view.talked} talked to"]
    parts += [f"{n} {RESULT_LABELS.get(result, result)}" for result, n in view.logged.items()]
    return " · ".join(parts)


def render_session(*, mode: CallingMode, campaign_id: int, volunteer_id: int
                   ) -> SessionView | None:
    """Draw the session; the view when a person is on the line (the page then draws their
    card and form), else None after stopping the page run (nobody to show yet) — or None at
    once when no session runs (the page calls one at a time, with Start session offered)."""
    if not mode.continuous:
        return None
    if error := st.session_state.pop("calling_session_error", None):
        st.error(error)
    view = current(volunteer_id)
    if view is None:
        with st.container(border=True, key="calling_session_offer"):
            st.markdown("**Continuous calling**")
            st.caption("Ringround rings your phone once and keeps you on the line; it dials each "
                       "person for you from the campaign's number, and logs machines, busy "
                       "lines and no answers by itself.")
            if st.button("Start session", key="calling_session_start", type="primary",
                         icon="🎧"):
                _start(mode, campaign_id, volunteer_id)
                st.rerun()
        return None

    rt = _ui.runtime()
    st.session_state[SHOWN] = view.status

    @st.fragment(run_every=POLL_SECONDS)
    def live() -> None:
        now = _now()
        last = st.session_state.get(LAST_REST_POLL)
        poll = last is None or (now - last).total_seconds() >= mode.poll_seconds
        if poll:
            st.session_state[LAST_REST_POLL] = now
        try:
            fresh = advance(database=rt.database, dialer=_dialer(mode),
                            settings=rt.settings, session_id=view.id, now=now, poll=poll)
        except SessionError:
            st.session_state.pop(SESSION, None)
            st.rerun(scope="app")
            return
        if fresh.status != st.session_state.get(SHOWN) or not fresh.live:
            st.rerun(scope="app")  # the whole page: the card appears or goes
        st.markdown(f"**{STATUS_TEXT.get(SessionStatus(fresh.status), fresh.status)}**")
        if fresh.notice:
            st.text(fresh.notice)  # names come from contacts: plain text
        st.caption(_summary(fresh))

    with st.container(border=True, key="calling_session"):
        st.markdown("**Continuous calling**")
        live()
        _controls(view, mode, volunteer_id)
    if view.status == SessionStatus.TALKING and view.line is not None:
        return view
    st.stop()
    return None


def line_call(view: SessionView) -> CallInfo:
    """The person on the line's call, as the save records it with the attempt."""
    assert view.line is not None
    return view.line.call
