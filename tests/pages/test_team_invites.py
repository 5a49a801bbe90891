"""Invite links an organiser can hand out in a room: absolute, copyable, and as a QR code."""

from __future__ import annotations

import pytest

from core.qr import qr_png
from tests.pages.conftest import create_invite


def test_an_invite_link_is_absolute_with_a_qr_code_from_the_public_url(
    make_app, organiser, monkeypatch
) -> None:
    monkeypatch.setenv("RINGROUND_PUBLIC_URL", "https://calls.example.org/")
    at, link = create_invite(make_app, organiser, "Saturday")
    assert link.startswith("https://calls.example.org/join?invite=")
    [image] = at.get("image")
    assert image.captions == ["Scan to join Ringround"]
    assert "copy button" in "\n".join(c.value for c in at.caption)


def test_without_any_known_address_the_page_says_how_to_get_a_full_link(
    make_app, organiser
) -> None:
    at, link = create_invite(make_app, organiser)
    assert link.startswith("/join?invite=")  # AppTest has no browser address to read
    assert not at.get("image")
    assert "RINGROUND_PUBLIC_URL" in "\n".join(c.value for c in at.caption)


def test_a_qr_code_is_a_png_that_differs_for_each_link() -> None:
    first, second = qr_png("https://a.example/join?invite=1"), qr_png("https://a.example/j?2")
    assert first.startswith(b"\x89PNG\r\n\x1a\n") and second.startswith(b"\x89PNG")
    assert first != second


@pytest.mark.parametrize(("public_url", "shown"), [
    # Not "relative": without a public URL they start with the address the browser is using.
    ("", "not set: invite and reset links start with the address your browser is using"),
    ("https://calls.example.org", "https://calls.example.org\n"),
])
def test_the_settings_page_says_where_invite_links_start(
    public_url, shown, make_app, organiser, monkeypatch
) -> None:
    if public_url:
        monkeypatch.setenv("RINGROUND_PUBLIC_URL", public_url)
    at = make_app(user=organiser, page="pages/settings.py")
    assert not at.exception
    assert f"**Public address:** {shown}" in "\n".join(m.value for m in at.markdown)
