"""How a call is placed and a text sent: the volunteer's own phone, Twilio, or a fake.

- `port`: the Dialer protocol, provider-neutral call states (`CallState`) and the errors.
- `own_phone`, `fake`, `twilio` (+ `twiml`): the providers.
- `registry`: kind → label, factory, configured? (`SPECS`), and the process's shared dialers.
- `calls`: the one question a page asks (`calling_mode`) and placing a campaign's bridge.

The names below are the package's public face; import them from `core.dialing`.
"""

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
from core.dialing.port import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    STATUS_LABELS,
    SUGGESTED_OUTCOMES,
    AnsweredBy,
    BadCredentials,
    BridgeRefused,
    CallerIdNotVerified,
    CallInfo,
    CallState,
    Dialer,
    DialerError,
    DialerNotConfigured,
    DialerUnreachable,
    InvalidNumber,
    LegInfo,
    MachineDetection,
    NoGeoPermission,
    NotABridge,
    NoVerifiedPhone,
    RateLimited,
    RoomDial,
    RoomDialer,
    SmsReceipt,
    SmsRecipientOptedOut,
    suggested_outcome,
    tel_link,
)
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

__all__ = [
    "AnsweredBy", "CallLife", "FakeLeg", "FakeRoomDialer", "LegInfo", "MachineDetection",
    "RoomDial", "RoomDialer", "demo_life", "room_dialer_for", "shared_fake_room_dialer",
    "DEFAULT_SCRIPT", "FINAL_STATUSES", "LIVE_STATUSES", "SPECS", "STATUS_LABELS",
    "SUGGESTED_OUTCOMES", "BadCredentials", "BridgePlan", "BridgeRefused", "CallInfo", "CallState",
    "CallerIdNotVerified", "CallingMode", "Dialer", "DialerError", "DialerKind",
    "DialerNotConfigured", "DialerSpec", "DialerUnreachable", "FakeCall", "FakeDialer",
    "FakeSms", "InvalidNumber", "NoGeoPermission", "NoVerifiedPhone", "NotABridge",
    "RateLimited", "SmsReceipt", "SmsRecipientOptedOut", "TelDialer", "TextingMode",
    "TwilioCheck", "TwilioDialer", "caller_id_choices", "calling_mode", "check_twilio",
    "campaign_texting_mode",
    "demo_script", "dialer_for", "dialer_kind", "map_twilio_error", "plan_bridge",
    "rebased_http_client", "reset_dialers", "shared_fake_dialer", "signature_valid",
    "sms_dialer", "spec_for", "start_campaign_call", "status_callback_url", "suggested_outcome",
    "tel_link", "text_spec", "texting_mode", "twilio_dialer",
]
