"""The volunteer's own phone: a tel: link, no account, nothing for Ringround to track."""

from __future__ import annotations

from core.dialing.port import (
    CallInfo,
    DialerNotConfigured,
    NotABridge,
    SmsReceipt,
    tel_link,
)


class TelDialer:
    """The volunteer dials from their own phone with a tel: link; no account, nothing to track."""

    name = "tel"
    bridges = False

    def link(self, contact_phone: str) -> str:
        return tel_link(contact_phone)

    def start_bridge(
        self, volunteer_phone: str, contact_phone: str, caller_id: str, contact_name: str
    ) -> str:
        raise NotABridge("This campaign uses your own phone: use the Call link instead.")

    def status(self, sid: str) -> CallInfo:
        raise NotABridge("Calls from your own phone are not tracked by Ringround.")

    def hang_up(self, sid: str) -> CallInfo:
        raise NotABridge("Calls from your own phone are not tracked by Ringround.")

    def send_sms(self, to: str, from_: str, body: str) -> SmsReceipt:
        raise DialerNotConfigured(
            "Texts need Twilio: an organiser can set it up under Settings."
        )

