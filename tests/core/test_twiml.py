"""The bridge TwiML: who the volunteer will speak to, then the contact from the caller ID."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from core.dialing.twiml import bridge_twiml, sms_reply

CONTACT = "+447400100002"
CALLER_ID = "+441270123456"


def parse(twiml: str) -> ET.Element:
    return ET.fromstring(twiml)


def test_the_bridge_says_the_name_then_dials_the_contact_from_the_campaign_caller_id() -> None:
    root = parse(bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID, contact_name="Ann Smith"))
    say, dial = list(root)
    assert (say.tag, say.text) == ("Say", "Connecting you to Ann Smith.")
    assert say.get("language") == "en-GB"
    assert dial.tag == "Dial"
    assert dial.get("callerId") == CALLER_ID
    assert dial.get("answerOnBridge") == "true"
    assert [(n.tag, n.text) for n in dial] == [("Number", CONTACT)]


@pytest.mark.parametrize(
    "name",
    ["O'Brien & <Sons>", '"></Say><Dial><Number>+449000000000</Number></Dial><Say>',
     "Zoë & Łukasz"],
)
def test_names_are_escaped_so_they_are_spoken_and_never_become_verbs(name: str) -> None:
    twiml = bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID, contact_name=name)
    root = parse(twiml)
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert root[0].text == f"Connecting you to {name}."
    assert [n.text for n in root.iter("Number")] == [CONTACT]


def test_the_raw_xml_carries_entities_for_a_name_with_markup() -> None:
    twiml = bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID,
                         contact_name="O'Brien & <Sons>")
    assert "O'Brien &amp; &lt;Sons&gt;" in twiml
    assert "<Sons>" not in twiml


def test_a_contact_without_a_name_is_announced_generically() -> None:
    root = parse(bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID, contact_name="  "))
    assert root[0].text == "Connecting you to the next contact."


def test_a_contact_status_callback_is_added_only_when_given() -> None:
    plain = parse(bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID, contact_name="A"))
    assert plain.find("Dial/Number").get("statusCallback") is None  # type: ignore[union-attr]
    called = parse(bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID, contact_name="A",
                                contact_status_callback="https://x.example.org/twilio/status"))
    number = called.find("Dial/Number")
    assert number is not None
    assert number.get("statusCallback") == "https://x.example.org/twilio/status"
    assert number.get("statusCallbackEvent") == "completed"


def test_an_sms_reply_is_a_message_or_nothing() -> None:
    assert [m.text for m in parse(sms_reply("Bye")).iter("Message")] == ["Bye"]
    assert list(parse(sms_reply())) == []


def test_the_volunteer_waits_in_a_silent_room_that_ends_when_they_hang_up() -> None:
    from core.dialing.twiml import room_twiml

    root = parse(room_twiml(room="ringround-abc", status_callback="https://x.org/twilio/session"))
    conference = root.find("./Dial/Conference")
    assert conference is not None and conference.text == "ringround-abc"
    assert (conference.get("endConferenceOnExit"), conference.get("beep"),
            conference.get("waitUrl")) == ("true", "false", "")
    assert conference.get("statusCallbackEvent") == "join leave"


def test_the_voicemail_message_is_read_as_text_then_the_call_hangs_up() -> None:
    from core.dialing.twiml import voicemail_twiml

    twiml = voicemail_twiml("Hi <Play>http://evil</Play> & bye")
    root = parse(twiml)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Hi <Play>http://evil</Play> & bye"  # text, not a verb
