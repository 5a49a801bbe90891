"""The dialer registry: every kind describes itself, and one rule picks who sends a text."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.dialing import (
    SPECS,
    DialerKind,
    FakeDialer,
    TelDialer,
    TwilioDialer,
    caller_id_choices,
    dialer_kind,
    reset_dialers,
    spec_for,
    text_spec,
    texting_mode,
)
from tests.conftest import TEST_COOKIE_KEY

SID = "AC" + "a" * 32
CALLER_ID = "+441270123456"


def settings(tmp_path: Path, *, twilio: bool, demo: bool, caller_ids: str = CALLER_ID
             ) -> Settings:
    env = {"RINGROUND_DATA_DIR": str(tmp_path), "TWILIO_CALLER_IDS": caller_ids,
           "RINGROUND_COOKIE_KEY": TEST_COOKIE_KEY}
    if demo:
        env["RINGROUND_DEMO"] = "1"
    if twilio:
        env |= {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t"}
    return load_settings(env=env, secrets_path=tmp_path / "none.toml")


@pytest.fixture(autouse=True)
def _fresh() -> None:
    reset_dialers()


def test_every_dialer_kind_has_one_spec_with_a_label_for_the_campaign_editor() -> None:
    assert set(SPECS) == set(DialerKind)
    assert [spec_for(kind).label for kind in DialerKind] == [
        "From their own phone (tel: link)", "Through Twilio", "Fake dialer (demo/testing)"]
    assert dialer_kind("carrier-pigeon") is DialerKind.TEL


@pytest.mark.parametrize(("kind", "cls", "bridges"), [
    ("tel", TelDialer, False), ("twilio", TwilioDialer, True), ("fake", FakeDialer, True)])
def test_each_spec_builds_its_own_dialer(tmp_path: Path, kind: str, cls: type, bridges: bool
                                         ) -> None:
    spec = spec_for(kind)
    dialer = spec.build(settings(tmp_path, twilio=True, demo=False))
    assert isinstance(dialer, cls) and spec.bridges is bridges and dialer.bridges is bridges


def test_twilio_says_what_is_missing_until_it_is_set_up(tmp_path: Path) -> None:
    assert "Twilio is not set up" in spec_for("twilio").unavailable(
        settings(tmp_path, twilio=False, demo=False))
    assert spec_for("twilio").unavailable(settings(tmp_path, twilio=True, demo=False)) == ""


# (campaign dialer or None for confirmation codes, Twilio set up, demo) -> who texts
TEXT_RULE = [
    ("tel", True, False, "twilio"),
    ("tel", False, False, None),
    ("tel", False, True, "fake"),
    ("twilio", True, False, "twilio"),
    ("twilio", False, True, "fake"),
    ("twilio", False, False, None),
    ("fake", False, False, "fake"),
    ("fake", True, False, "fake"),
    (None, True, False, "twilio"),
    (None, False, True, "fake"),
    (None, False, False, None),
]


@pytest.mark.parametrize(("campaign", "twilio", "demo", "expected"), TEXT_RULE)
def test_texts_go_through_the_campaigns_own_dialer_else_a_provider_set_up_else_the_demo(
    tmp_path: Path, campaign: str | None, twilio: bool, demo: bool, expected: str | None
) -> None:
    spec = text_spec(settings(tmp_path, twilio=twilio, demo=demo), campaign)
    assert (spec.kind if spec is not None else None) == expected


def test_confirmation_codes_say_why_they_cannot_go(tmp_path: Path) -> None:
    nothing = texting_mode(settings(tmp_path, twilio=False, demo=False))
    assert (nothing.can_text, nothing.problem) == (
        False, "Follow-up texts need Twilio, which is not set up here.")
    no_number = texting_mode(settings(tmp_path, twilio=True, demo=False, caller_ids=""))
    assert not no_number.can_text and "no number to text from" in no_number.problem
    real = texting_mode(settings(tmp_path, twilio=True, demo=False))
    assert (real.can_text, real.sender, real.real) == (True, CALLER_ID, True)
    demo = texting_mode(settings(tmp_path, twilio=False, demo=True, caller_ids=""))
    assert (demo.can_text, demo.real) == (True, False)


def test_a_campaign_calling_from_own_phones_still_texts_from_a_configured_number(
    tmp_path: Path,
) -> None:
    assert caller_id_choices(settings(tmp_path, twilio=True, demo=False), "tel") == (CALLER_ID,)
    assert caller_id_choices(settings(tmp_path, twilio=False, demo=False), "tel") == ()
