"""The Call button for campaigns whose calls Ringround places: ring the volunteer, show the live
state, hang up, and hand the final CallInfo back to the calling page.

The contact's number never reaches this module: core looks it up and dials it. Per-attempt state
lives in st.session_state under the attempt key, as plain values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from core.dialing import (
    FINAL_STATUSES,
    CallInfo,
    DialerError,
    calling_mode,
    dialer_for,
    start_campaign_call,
)
from core.dialing.calls import NEEDS_PHONE
from core.users import get_user
from pages import _ui
from pages._phone import render_phone_section

POLL_SECONDS = 2
# After this many failed polls in a row, stop polling and let the volunteer carry on by hand.
MAX_POLL_ERRORS = 5
STATE_PREFIX = "twilio_call:"


def _state_key(attempt_key: str) -> str:
    return STATE_PREFIX + attempt_key


def _store(attempt_key: str, info: CallInfo, *, kind: str) -> None:
    st.session_state[_state_key(attempt_key)] = {
        "kind": kind,
        "provider": info.provider,
        "sid": info.provider_call_id,
        "status": info.provider_status,
        "duration": info.duration_seconds,
        "suggested": info.suggested_outcome,
        "detail": info.detail,
        "errors": 0,
        "error": "",
        "lost": False,
    }


def _info(state: dict[str, Any]) -> CallInfo:
    return CallInfo(
        provider=state["provider"],
        provider_call_id=state["sid"],
        provider_status=state["status"],
        duration_seconds=state["duration"],
        suggested_outcome=state["suggested"],
        detail=state["detail"],
    )


def _is_live(state: dict[str, Any] | None) -> bool:
    return bool(state) and state["status"] not in FINAL_STATUSES and not state["lost"]


def _show_status(info: CallInfo) -> None:
    icon = "🔔" if info.provider_status in ("queued", "ringing") else "📞"
    text = f"{icon} **{info.label}**"
    if info.duration_seconds:
        text += f" · {info.duration_seconds // 60}:{info.duration_seconds % 60:02d}"
    st.markdown(text)
    if info.detail:
        st.caption(info.detail)


def _poll(attempt_key: str, action: str = "status") -> None:
    """Ask the dialer for the call's state (or hang it up) and store the answer."""
    key = _state_key(attempt_key)
    state = dict(st.session_state[key])
    dialer = dialer_for(state["kind"], _ui.runtime().settings)
    try:
        info = dialer.hang_up(state["sid"]) if action == "hang_up" else dialer.status(state["sid"])
    except DialerError as exc:
        state["errors"] += 1
        state["error"] = str(exc)
        state["lost"] = state["errors"] >= MAX_POLL_ERRORS
        st.session_state[key] = state
        return
    _store(attempt_key, info, kind=state["kind"])


def _live_call(attempt_key: str) -> None:
    key = _state_key(attempt_key)

    @st.fragment(run_every=POLL_SECONDS)
    def live() -> None:
        state = st.session_state.get(key)
        if not _is_live(state):
            return
        _poll(attempt_key)
        state = st.session_state[key]
        if state["status"] in FINAL_STATUSES or state["lost"]:
            st.rerun()  # the whole page, so the calling page gets the final CallInfo
        _show_status(_info(state))
        if state["error"]:
            st.warning(f"{state['error']} Still trying…")
        if st.button("Hang up", key=f"hang_up_{attempt_key}", icon="📵"):
            _poll(attempt_key, action="hang_up")
            st.rerun()

    live()


def twilio_call_controls(
    *, campaign_id: int, queue_entry_id: int, volunteer_id: int, attempt_key: str
) -> CallInfo | None:
    """Render the Call / live state / Hang up controls; the CallInfo once the call has ended."""
    rt = _ui.runtime()
    key = _state_key(attempt_key)
    with _ui.read_session() as session:
        mode = calling_mode(session=session, campaign_id=campaign_id, volunteer_id=volunteer_id,
                            settings=rt.settings)
    kind = mode.kind
    if not mode.bridged:
        st.caption("This campaign uses your own phone.")
        return None
    if mode.problem:
        st.warning(mode.problem)
        return None
    if mode.needs_phone:
        st.info(NEEDS_PHONE)
        with _ui.read_session() as session:
            volunteer = get_user(session=session, user_id=volunteer_id)
        if volunteer is not None:
            with st.expander("Add your phone", expanded=True):
                render_phone_section(volunteer)
        return None

    state = st.session_state.get(key)
    if _is_live(state):
        _live_call(attempt_key)
        return None

    if state is not None:
        info = _info(state)
        if state["lost"]:
            st.warning(
                f"Ringround lost track of this call ({state['error']}). Hang up on your phone "
                "if it is still going, and choose the outcome yourself."
            )
        else:
            _show_status(info)

    label = "Call again" if state is not None else "Call"
    if st.button(label, key=f"call_{attempt_key}", type="primary", icon="📞"):
        info = _ui.run_action(
            lambda database: start_campaign_call(
                database=database, dialer=dialer_for(kind, rt.settings),
                queue_entry_id=queue_entry_id, volunteer_id=volunteer_id,
                settings=rt.settings, now=datetime.now(UTC)),
            transaction="own", errors=(DialerError,)).value
        if info is None:
            return _info(state) if state is not None and not state["lost"] else None
        _store(attempt_key, info, kind=kind)
        st.rerun()

    if state is None or state["lost"]:
        return None
    return _info(state)
