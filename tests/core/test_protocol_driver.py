"""bench/protocol.py's driver: its event loop, and acting only on a finished page run (#19).

tests/e2e/test_protocol_load.py passed alone and failed in CI's full suite: there the browser
tests' session-wide Playwright (sync API) keeps an event loop running on pytest's thread, and
the driver's asyncio.run refused to start inside it. The driver now runs its loop on a thread
of its own, as bench/load.py did.

Found on the way: after Save the next contact's heading arrives before that contact's outcome
buttons, each keyed by its contact. A driver that picked the outcome then would pick the
previous contact's widget, the save after it would save nothing, and the volunteer would wait
for a page that never comes; on the sign-in form it could look for Sign in before it was
drawn. The tab now acts only once the run has finished.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench._report import run_in_own_thread
from bench.protocol import ProtocolError, StreamlitTab


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


def run_started() -> ForwardMsg:
    message = ForwardMsg()
    message.new_session.page_script_hash = "calling"
    return message


def card(name: str) -> ForwardMsg:
    message = ForwardMsg()
    message.metadata.delta_path[:] = [0, 1]
    message.delta.new_element.html.body = f"<h3>{name}</h3>"
    return message


def outcome_buttons(widget_id: str) -> ForwardMsg:
    message = ForwardMsg()
    message.metadata.delta_path[:] = [0, 2]
    radio = message.delta.new_element.radio
    radio.id, radio.label = widget_id, "Outcome"
    radio.options[:] = ["No answer", "Busy"]
    return message


def run_finished(status: Any = ForwardMsg.FINISHED_SUCCESSFULLY) -> ForwardMsg:
    message = ForwardMsg()
    message.script_finished = status
    return message


def tab_showing(name: str, widget_id: str) -> StreamlitTab:
    tab = StreamlitTab("http://127.0.0.1:1")
    tab.ws = FakeSocket()
    for message in (run_started(), card(name), outcome_buttons(widget_id), run_finished()):
        tab._handle(message)
    return tab


def test_after_save_the_tab_waits_for_the_run_to_finish_before_the_next_outcome() -> None:
    async def scenario() -> None:
        tab = tab_showing("Asha Patel", "outcome-asha")
        await tab.rerun()  # Save and next
        settled = asyncio.create_task(tab.settle(5, lambda s: s.card_name() != "Asha Patel"))
        tab._handle(run_started())
        tab._handle(card("Ben Jones"))  # the next heading, while the run is still drawing
        await asyncio.sleep(0.05)
        assert not settled.done()
        with pytest.raises(ProtocolError, match="still drawing"):
            tab.set_radio("Outcome", "Busy")  # would be Asha's buttons
        # st.rerun() inside the run: it stops early and runs again; still not finished.
        tab._handle(run_finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN))
        tab._handle(run_started())
        tab._handle(card("Ben Jones"))
        await asyncio.sleep(0.05)
        assert not settled.done()
        tab._handle(outcome_buttons("outcome-ben"))
        tab._handle(run_finished())
        await asyncio.wait_for(settled, 1)
        tab.set_radio("Outcome", "Busy")
        assert list(tab.values) == ["outcome-ben"]

    asyncio.run(scenario())


def test_a_run_that_never_finishes_is_a_clear_error_not_a_hang() -> None:
    async def scenario() -> None:
        tab = tab_showing("Asha Patel", "outcome-asha")
        await tab.rerun()
        tab._handle(run_started())
        tab._handle(card("Ben Jones"))
        with pytest.raises(ProtocolError, match="did not reach|no page run finished"):
            await tab.settle(0.2, lambda s: s.card_name() != "Asha Patel")

    asyncio.run(scenario())


def test_the_volunteers_loop_runs_even_where_an_event_loop_is_already_running() -> None:
    async def inside_a_running_loop() -> str:
        never_run = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="running event loop"):
            asyncio.run(never_run)  # what the driver used to do
        never_run.close()
        return run_in_own_thread(lambda: asyncio.sleep(0, result="ran"))

    assert asyncio.run(inside_a_running_loop()) == "ran"


def test_an_error_in_the_volunteers_loop_reaches_the_caller() -> None:
    async def fails() -> None:
        raise ProtocolError("no page run finished within 60 s")

    with pytest.raises(ProtocolError, match="within 60 s"):
        run_in_own_thread(fails)
