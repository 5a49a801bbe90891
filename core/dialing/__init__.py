"""How a call is placed and a text sent: the volunteer's own phone, Twilio, or a fake.

- `port`: the Dialer protocol, provider-neutral call states (`CallState`) and the errors.
- `own_phone`, `fake`, `twilio` (+ `twiml`): the providers.
- `registry`: kind → label, factory, configured? (`SPECS`), and the process's shared dialers.
- `calls`: the one question a page asks (`calling_mode`) and placing a campaign's bridge.

The port's names (`port.__all__`) and those below are the package's public face; import
them from `core.dialing`.
"""

from core.dialing import port
from core.dialing.calls import (
    BridgePlan,
    CallingMode,
    TextingMode,
    caller_id_choices,
    calling_mode,
    campaign_texting_mode,
    plan_bridge,
    start_campaign_call,
    texting_mode,
)
from core.dialing.fake import (
    DEFAULT_SCRIPT,
    CallLife,
    FakeCall,
    FakeDialer,
    FakeLeg,
    FakeRoomDialer,
    FakeSms,
    demo_life,
    demo_script,
)
from core.dialing.own_phone import TelDialer

# The port's names are the package's face as they stand: listed once, in port.__all__.
from core.dialing.port import *  # noqa: F403
from core.dialing.registry import (
    SPECS,
    DialerKind,
    DialerSpec,
    dialer_for,
    dialer_kind,
    reset_dialers,
    room_dialer_for,
    shared_fake_dialer,
    shared_fake_room_dialer,
    sms_dialer,
    spec_for,
    status_callback_url,
    text_spec,
    twilio_dialer,
)
from core.dialing.twilio import (
    TwilioCheck,
    TwilioDialer,
    check_twilio,
    map_twilio_error,
    rebased_http_client,
    signature_valid,
)

__all__ = [*port.__all__, "BridgePlan", "caller_id_choices", "calling_mode", "CallingMode",
           "CallLife", "campaign_texting_mode", "check_twilio", "DEFAULT_SCRIPT", "demo_life",
           "demo_script", "dialer_for", "dialer_kind", "DialerKind", "DialerSpec", "FakeCall",
           "FakeDialer", "FakeLeg", "FakeRoomDialer", "FakeSms", "map_twilio_error",
           "plan_bridge", "rebased_http_client", "reset_dialers", "room_dialer_for",
           "shared_fake_dialer", "shared_fake_room_dialer", "signature_valid", "sms_dialer",
           "spec_for", "SPECS", "start_campaign_call", "status_callback_url", "TelDialer",
           "text_spec", "texting_mode", "TextingMode", "twilio_dialer", "TwilioCheck",
           "TwilioDialer"]
