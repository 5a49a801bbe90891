"""The TwiML of a bridge: tell the volunteer who is next, then dial the contact.

Sent inline with the call (calls.create(twiml=...)), so Twilio needs no public URL to fetch it.
VoiceResponse escapes text and attributes, so a name like `O'Brien & <Sons>` cannot break out of
<Say> or inject verbs.
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

SAY_LANGUAGE = "en-GB"
# How long the contact's phone rings before Twilio gives up (the no-answer outcome).
CONTACT_RING_SECONDS = 30
MAX_SPOKEN_NAME = 80


def bridge_twiml(
    *,
    contact_phone: str,
    caller_id: str,
    contact_name: str,
    contact_status_callback: str = "",
) -> str:
    """Say who the volunteer is about to speak to, then dial the contact from the caller ID."""
    name = " ".join(contact_name.split())[:MAX_SPOKEN_NAME]
    response = VoiceResponse()
    if name:
        response.say(f"Connecting you to {name}.", language=SAY_LANGUAGE)
    else:
        response.say("Connecting you to the next contact.", language=SAY_LANGUAGE)
    dial = response.dial(
        caller_id=caller_id, answer_on_bridge=True, timeout=CONTACT_RING_SECONDS
    )
    number_options: dict[str, str] = {}
    if contact_status_callback:
        number_options = {
            "status_callback": contact_status_callback,
            "status_callback_event": "completed",
            "status_callback_method": "POST",
        }
    dial.number(contact_phone, **number_options)
    return str(response)


def sms_reply(body: str = "") -> str:
    """TwiML answering an inbound text: a reply when body is given, else nothing."""
    response = MessagingResponse()
    if body:
        response.message(body)
    return str(response)


def room_twiml(*, room: str, status_callback: str = "") -> str:
    """Hold the volunteer in their session's conference: silent while nobody else is there, and
    ended when they hang up (so a contact is never left in it alone). With a callback URL, each
    join and leave is reported at once (participant-join is when someone is really there)."""
    response = VoiceResponse()
    response.say("You are connected. Ringround will put each person through to you.",
                 language=SAY_LANGUAGE)
    dial = response.dial()
    options: dict[str, str] = {}
    if status_callback:
        options = {"status_callback": status_callback, "status_callback_event": "join leave",
                   "status_callback_method": "POST"}
    dial.conference(
        room, start_conference_on_enter=True, end_conference_on_exit=True, beep=False,
        wait_url="", **options,
    )
    return str(response)


def voicemail_twiml(message: str) -> str:
    """Read the campaign's message to an answering machine, then hang up."""
    response = VoiceResponse()
    response.say(" ".join(message.split())[:500], language=SAY_LANGUAGE)
    response.hangup()
    return str(response)


def callback_twiml(campaign_name: str) -> str:
    """What someone hears when they ring back the number that called them (Ofcom: a caller ID
    that can be called back, saying who called and how to opt out)."""
    name = " ".join(campaign_name.split())[:MAX_SPOKEN_NAME]
    who = f"{name}, a volunteer phone bank" if name else "a volunteer phone bank"
    response = VoiceResponse()
    response.say(f"Thank you for calling back. You had a call from {who}. If you would rather "
                 "not be called again, send a text saying STOP to this number, and we will not "
                 "call or text you again. Goodbye.", language=SAY_LANGUAGE)
    response.hangup()
    return str(response)
