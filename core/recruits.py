"""Recruits who will call: a volunteer invite by text, credited back to the recruiting campaign.

The invite is for one person (one use, seven days) and remembers the campaign whose call found
them (Invite.recruited_by_campaign_id); registering with it records a RecruitedVolunteer
(core/auth.register_with_invite), so the dashboard can say "recruited 12 callers who made 340
calls" (core/event_funnel.recruited_callers). The text obeys the follow-up's rules: never to a
do-not-call number, only within the campaign's calling hours, and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from core.auth import create_invite, invite_link
from core.calling_hours import is_open
from core.config import Settings
from core.dialing import DialerError, campaign_texting_mode, sms_dialer
from core.suppression import is_suppressed
from db.engine import Database
from db.models import Campaign, Contact, Invite, SmsMessage

INVITE_DAYS = 7


class InviteNotSent(ValueError):
    """The invite could not go; str() says why, for the organiser."""


@dataclass(frozen=True)
class RecruitInvite:
    invite_id: int
    link: str
    body: str


def invite_body(first_name: str, campaign_name: str, link: str) -> str:
    hello = f"Hi {first_name}! " if first_name else "Hi! "
    return (f"{hello}Thanks for saying you'd help {campaign_name}. Join our phone bank and call "
            f"members from home: {link} (the link works once, for 7 days). Reply STOP to opt "
            "out.")


def send_recruit_invite(*, database: Database, settings: Settings, campaign_id: int,
                        contact_id: int, actor_id: int | None,
                        now: datetime | None = None) -> RecruitInvite:
    """Make a one-person invite credited to the campaign and text it to the recruit.

    Raises:
        InviteNotSent: no public address for the link, texting not set up, the contact asked
            not to be contacted, or calling hours are over; or the provider refused (recorded).
    """
    now = now or datetime.now(UTC)
    if not settings.public_url:
        raise InviteNotSent("Set RINGROUND_PUBLIC_URL first: a texted link must be absolute.")
    with database.write() as session:
        campaign = session.get(Campaign, campaign_id)
        contact = session.get(Contact, contact_id)
        if campaign is None or contact is None:
            raise InviteNotSent("That contact or campaign no longer exists.")
        if is_suppressed(session=session, phone=contact.phone):
            raise InviteNotSent("This person asked not to be contacted.")
        if not is_open(campaign.calling_window, campaign.timezone, now):
            raise InviteNotSent("Texts go only within the campaign's calling hours.")
        mode = campaign_texting_mode(session=session, campaign_id=campaign_id,
                                     settings=settings)
        if not mode.can_text:
            raise InviteNotSent(mode.problem)
        made = create_invite(session=session, actor_id=actor_id, expires_in_hours=INVITE_DAYS * 24,
                             max_uses=1, label=f"Recruit from {campaign.name}"[:200],
                             campaign_id=campaign_id, now=now)
        session.execute(sa.update(Invite).where(Invite.id == made.invite.id)  # type: ignore
                        .values(recruited_by_campaign_id=campaign_id))
        link = invite_link(made.token, settings.public_url)
        body = invite_body(contact.first_name, campaign.name, link)
        to, dialer_kind, sender = contact.phone, campaign.dialer, mode.sender
        invite_id = int(made.invite.id)
    try:
        receipt = sms_dialer(settings, dialer_kind).send_sms(to, sender, body)
        status, provider_id, error = receipt.status, receipt.provider_id, ""
    except DialerError as exc:
        status, provider_id, error = "failed", None, str(exc)
    with database.write() as session:
        session.add(SmsMessage(campaign_id=campaign_id, contact_id=contact_id, direction="out",
                               purpose="invite", phone=to, body=body, status=status[:32],
                               provider_id=provider_id, error=error[:500]))
    if error:
        raise InviteNotSent(f"The text did not go: {error}")
    return RecruitInvite(invite_id=invite_id, link=link, body=body)
