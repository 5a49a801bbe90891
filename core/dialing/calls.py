"""How a campaign calls and texts, in one answer for the page; and placing a campaign's bridge.

`calling_mode` is the one question a page asks: does Ringround place this campaign's calls,
can it right now (and if not, why), must the volunteer confirm a phone first, can a text go,
from which number. Pages render it; they never test a dialer's kind or class.

The numbers stay inside core: `start_campaign_call` looks both up and dials them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from core import calling_hours
from core.audit import record_event
from core.config import Settings
from core.dialing.port import (
    BridgeRefused,
    CallerIdNotVerified,
    CallInfo,
    Dialer,
    DialerError,
    NoVerifiedPhone,
)
from core.dialing.registry import DialerSpec, spec_for, text_spec
from core.outcomes import QueueStatus
from core.phones import InvalidPhone, display_phone, normalise_phone
from core.suppression import is_suppressed
from db.engine import Database
from db.models import Campaign, Contact, QueueEntry, User

NEEDS_PHONE = ("Ringround calls your phone first, then connects you, so neither of you sees the "
               "other's number. Add and confirm your phone number to start (here, or any time "
               "in My account).")
NO_TEXTS = "Follow-up texts need Twilio, which is not set up here."


@dataclass(frozen=True)
class TextingMode:
    """Whether texts can go from this server (for a campaign, or for confirmation codes)."""

    can_text: bool
    # The number texts come from, in E.164 ("" when the provider needs none, as the fake).
    sender: str
    # Why no text can go ("" when one can).
    problem: str
    # False for the demo's fake: nothing is really sent, so the page may show what would be.
    real: bool


@dataclass(frozen=True)
class CallingMode:
    """How one campaign calls, for one volunteer, on this server."""

    kind: str
    label: str
    # Ringround places the call (a bridge); False means a tel: link from the volunteer's phone.
    bridged: bool
    # A bridged call can be placed now; when False, `problem` says why.
    ready: bool
    problem: str
    # The volunteer must confirm a phone for Ringround to ring before calling.
    needs_phone: bool
    # The number contacts see, for display ("" for a tel: link).
    caller_id: str
    texting: TextingMode
    # Continuous calling (a session that dials for the volunteer) is offered here.
    continuous: bool = False
    # How often a session asks the provider about its lines (each ask is a request per leg):
    # every 2 s by polling alone, every 10 s as a safety net once signed callbacks report each
    # change the moment it happens; the in-memory fake is asked on every look.
    poll_seconds: float = 2.0


def caller_id_choices(settings: Settings, kind: str) -> tuple[str, ...]:
    """The numbers a campaign with this dialer may call or text from (first is the default).

    A campaign calling from volunteers' own phones still texts from its number.
    """
    own = spec_for(kind).caller_ids(settings)
    texts = text_spec(settings, kind)
    return own or (texts.caller_ids(settings) if texts is not None else ())


def campaign_caller_id(campaign: Campaign, spec: DialerSpec, settings: Settings) -> str:
    """The campaign's caller ID in E.164, or "" when it has none (or it is not a number).

    Raises:
        CallerIdNotVerified: a real provider would present a missing or invalid number.
    """
    choices = spec.caller_ids(settings)
    caller_id = campaign.caller_id or (choices[0] if choices else "")
    if not spec.real:
        return caller_id
    try:
        return normalise_phone(caller_id, region=settings.default_region).e164
    except InvalidPhone:
        raise CallerIdNotVerified(
            "The campaign's caller ID is missing or not a valid number: an organiser needs "
            "to choose one of the Twilio numbers for it."
        ) from None


def _texting(settings: Settings, campaign: Campaign | None) -> TextingMode:
    spec = text_spec(settings, campaign.dialer if campaign is not None else None)
    if spec is None:
        return TextingMode(can_text=False, sender="", problem=NO_TEXTS, real=True)
    choices = spec.caller_ids(settings)
    sender = (campaign.caller_id if campaign is not None else "") or (
        choices[0] if choices else "")
    if not sender and spec.real:
        return TextingMode(
            can_text=False, sender="", real=True,
            problem="Ringround has no number to text from yet: an organiser can add one in "
                    "Settings.")
    return TextingMode(can_text=True, sender=sender, problem="", real=spec.real)


def texting_mode(settings: Settings) -> TextingMode:
    """Whether this server can text (confirmation codes), from which number, or why not."""
    return _texting(settings, None)


def campaign_texting_mode(*, session: Session, campaign_id: int, settings: Settings
                          ) -> TextingMode:
    """Whether a campaign's follow-up texts can go, from which number, or why not."""
    return _texting(settings, session.get(Campaign, campaign_id))


def calling_mode(
    *, session: Session, campaign_id: int, volunteer_id: int, settings: Settings
) -> CallingMode:
    """How this campaign calls for this volunteer: the one answer the calling page renders."""
    campaign = session.get(Campaign, campaign_id)
    user = session.get(User, volunteer_id)
    kind = campaign.dialer if campaign is not None else "tel"
    spec = spec_for(kind)
    texting = _texting(settings, campaign)
    if not spec.bridges or campaign is None:
        return CallingMode(kind=spec.kind, label=spec.label, bridged=False, ready=False,
                           problem="", needs_phone=False, caller_id="", texting=texting)
    problem = spec.unavailable(settings)
    caller_id = ""
    if not problem:
        try:
            caller_id = campaign_caller_id(campaign, spec, settings)
        except CallerIdNotVerified as exc:
            problem = str(exc)
    has_phone = bool(user and user.phone and user.phone_verified)
    return CallingMode(
        kind=spec.kind, label=spec.label, bridged=True,
        ready=not problem and has_phone, problem=problem,
        needs_phone=not has_phone,
        caller_id=display_phone(caller_id) if caller_id.startswith("+") else caller_id,
        texting=texting, continuous=spec.rooms is not None and not problem,
        poll_seconds=(0.0 if not spec.real else 10.0 if settings.public_url else 2.0),
    )


@dataclass(frozen=True)
class BridgePlan:
    """Everything a bridge needs. Holds both numbers: use it at once, never keep it in the UI."""

    campaign_id: int
    contact_id: int
    dialer: str
    caller_id: str
    volunteer_phone: str
    contact_phone: str
    contact_name: str


def plan_bridge(
    *,
    session: Session,
    queue_entry_id: int,
    volunteer_id: int,
    settings: Settings,
    now: datetime,
) -> BridgePlan:
    """Look up who rings whom, from which number, for the volunteer holding this lease.

    Raises:
        BridgeRefused: the lease is not this volunteer's, the campaign is not active, or
            calling hours are over (a bridge is a call, under the same rules as any other).
        NoVerifiedPhone: the volunteer has no confirmed phone.
        CallerIdNotVerified: the campaign has no usable caller ID.
        DialerError: the contact is gone or asked not to be called.
    """
    entry = session.get(QueueEntry, queue_entry_id)
    if entry is None or entry.status != QueueStatus.LEASED or entry.claimed_by_id != volunteer_id:
        raise BridgeRefused("This contact is no longer yours to call: carry on with the next.")
    campaign_id, contact_id = entry.campaign_id, entry.contact_id
    campaign = session.get(Campaign, campaign_id)
    contact = session.get(Contact, contact_id)
    user = session.get(User, volunteer_id)
    if campaign is None or contact is None or user is None:
        raise DialerError("That contact is no longer available.")
    if campaign.status != "active":
        raise BridgeRefused(f"This campaign is {campaign.status}, so no one can call it now.")
    if not calling_hours.is_open(campaign.calling_window, campaign.timezone, now):
        raise BridgeRefused("Calling hours are over for this campaign: no call was placed.")
    if not (user.phone and user.phone_verified):
        raise NoVerifiedPhone(
            "Ringround rings your own phone first: add and confirm your number in My account."
        )
    caller_id = campaign_caller_id(campaign, spec_for(campaign.dialer), settings)
    if is_suppressed(session=session, phone=contact.phone):
        raise DialerError("This person has asked not to be called.")
    return BridgePlan(
        campaign_id=campaign_id,
        contact_id=contact_id,
        dialer=campaign.dialer,
        caller_id=caller_id,
        volunteer_phone=user.phone,
        contact_phone=contact.phone,
        contact_name=" ".join(p for p in (contact.first_name, contact.last_name) if p),
    )


def start_campaign_call(
    *,
    database: Database,
    dialer: Dialer,
    queue_entry_id: int,
    volunteer_id: int,
    settings: Settings,
    now: datetime,
) -> CallInfo:
    """Start the bridge for the contact this volunteer holds; the numbers stay inside core.

    Takes the Database, as core/sms.py does: the check is a read, the provider's request sits
    outside any transaction, and the audit event (who called which contact, never a number)
    is written once the provider has accepted the call.

    Raises:
        DialerError: see plan_bridge and Dialer.start_bridge.
    """
    with database.session() as session:
        plan = plan_bridge(session=session, queue_entry_id=queue_entry_id,
                           volunteer_id=volunteer_id, settings=settings, now=now)
    sid = dialer.start_bridge(plan.volunteer_phone, plan.contact_phone, plan.caller_id,
                              plan.contact_name)
    with database.write() as session:
        record_event(session=session, action="bridge_started", actor_id=volunteer_id,
                     target=f"contact:{plan.contact_id}",
                     details={"campaign_id": plan.campaign_id, "queue_entry_id": queue_entry_id,
                              "provider": dialer.name, "provider_call_id": sid})
    return CallInfo(provider=dialer.name, provider_call_id=sid, provider_status="queued",
                    detail="Ringing your phone: answer it to be connected.")
