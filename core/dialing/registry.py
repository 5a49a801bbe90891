"""Every way a campaign can call, described once: kind → label, factory, configured?

A page never tests a dialer's kind or class: it asks `core.dialing.calling_mode` (which reads
this table) how a campaign calls and whether it can text, and renders the answer. Adding a
provider means its module, one row here, and its settings in core/config.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.config import Settings
from core.dialing.fake import FakeDialer, FakeRoomDialer, demo_script
from core.dialing.own_phone import TelDialer
from core.dialing.port import Dialer, RoomDialer
from core.dialing.twilio import TwilioDialer


class DialerKind(StrEnum):
    """A campaign's `dialer` column."""

    TEL = "tel"
    TWILIO = "twilio"
    FAKE = "fake"


@dataclass(frozen=True)
class DialerSpec:
    kind: DialerKind
    # How the campaign editor names it.
    label: str
    # True when Ringround places the call (ringing the volunteer first); False for a tel: link.
    bridges: bool
    # True when it can also send texts (follow-ups, confirmation codes).
    texts: bool
    # False for the in-memory fake: nothing really rings or arrives, so the page may show it.
    real: bool
    build: Callable[[Settings], Dialer]
    # "" when the server is set up for it, else a sentence saying what is missing.
    unavailable: Callable[[Settings], str]
    # The numbers campaigns may present as caller ID (and text from), first is the default.
    caller_ids: Callable[[Settings], tuple[str, ...]]
    # Continuous calling: the dialer that holds a volunteer in a room (None: not offered).
    rooms: Callable[[Settings], RoomDialer] | None = None


_lock = threading.Lock()
_fakes: dict[str, FakeDialer] = {}
_fake_rooms: dict[str, FakeRoomDialer] = {}
_twilio: dict[tuple[object, str], TwilioDialer] = {}


def shared_fake_dialer(name: str = "demo") -> FakeDialer:
    """One FakeDialer per process (per name), so its calls survive Streamlit reruns."""
    with _lock:
        if name not in _fakes:
            _fakes[name] = FakeDialer(script_for=demo_script)
        return _fakes[name]


def shared_fake_room_dialer(name: str = "demo") -> FakeRoomDialer:
    """One FakeRoomDialer per process (per name), so sessions survive Streamlit reruns."""
    with _lock:
        if name not in _fake_rooms:
            _fake_rooms[name] = FakeRoomDialer()
        return _fake_rooms[name]


def status_callback_url(settings: Settings) -> str:
    return f"{settings.public_url}/twilio/status" if settings.public_url else ""


def twilio_dialer(settings: Settings) -> TwilioDialer:
    """The process's TwilioDialer for these settings (its client is built on first use)."""
    key = (settings.twilio, status_callback_url(settings))
    with _lock:
        if key not in _twilio:
            _twilio[key] = TwilioDialer(settings.twilio, status_callback_url=key[1])
        return _twilio[key]


def reset_dialers() -> None:
    """Forget the process's dialers; for tests."""
    with _lock:
        _fakes.clear()
        _fake_rooms.clear()
        _twilio.clear()


def _twilio_unavailable(settings: Settings) -> str:
    if settings.twilio.configured:
        return ""
    return ("Twilio is not set up on this server: an organiser can see what is missing under "
            "Settings → Telephony.")


SPECS: dict[DialerKind, DialerSpec] = {
    DialerKind.TEL: DialerSpec(
        kind=DialerKind.TEL, label="From their own phone (tel: link)", bridges=False,
        texts=False, real=True, build=lambda settings: TelDialer(),
        unavailable=lambda settings: "", caller_ids=lambda settings: (),
    ),
    DialerKind.TWILIO: DialerSpec(
        kind=DialerKind.TWILIO, label="Through Twilio", bridges=True, texts=True, real=True,
        build=twilio_dialer, unavailable=_twilio_unavailable,
        caller_ids=lambda settings: settings.twilio.caller_ids, rooms=twilio_dialer,
    ),
    DialerKind.FAKE: DialerSpec(
        kind=DialerKind.FAKE, label="Fake dialer (demo/testing)", bridges=True, texts=True,
        real=False, build=lambda settings: shared_fake_dialer(),
        unavailable=lambda settings: "",
        # The demo presents whatever numbers are configured, so it looks like the real thing.
        caller_ids=lambda settings: settings.twilio.caller_ids,
        rooms=lambda settings: shared_fake_room_dialer(),
    ),
}
# The providers that really deliver texts, in order of preference when a campaign's own dialer
# cannot (a campaign calling from volunteers' own phones still texts from its number).
TEXT_PROVIDERS = (DialerKind.TWILIO,)


def dialer_kind(kind: str) -> DialerKind:
    """The kind a campaign's setting names; an unknown value calls from the volunteer's phone."""
    try:
        return DialerKind(kind)
    except ValueError:
        return DialerKind.TEL


def spec_for(kind: str) -> DialerSpec:
    return SPECS[dialer_kind(kind)]


def dialer_for(kind: str, settings: Settings) -> Dialer:
    """The dialer a campaign's `dialer` setting names."""
    return spec_for(kind).build(settings)


def room_dialer_for(kind: str, settings: Settings) -> RoomDialer | None:
    """The dialer a continuous session of this campaign uses (None: not offered)."""
    rooms = spec_for(kind).rooms
    return rooms(settings) if rooms is not None else None


def text_spec(settings: Settings, campaign_kind: str | None = None) -> DialerSpec | None:
    """Who sends a text: the campaign's own dialer when it can, else the first provider set up,
    else (demo mode only) the fake; None when no text can go."""
    if campaign_kind is not None:
        own = spec_for(campaign_kind)
        if own.texts and not own.unavailable(settings):
            return own
    for kind in TEXT_PROVIDERS:
        if not SPECS[kind].unavailable(settings):
            return SPECS[kind]
    if settings.demo:
        return SPECS[DialerKind.FAKE]
    return None


def sms_dialer(settings: Settings, campaign_dialer: str | None = None) -> Dialer:
    """The dialer that sends texts (see text_spec); Twilio, which says it is not set up, if none.
    """
    spec = text_spec(settings, campaign_dialer) or SPECS[DialerKind.TWILIO]
    return spec.build(settings)
