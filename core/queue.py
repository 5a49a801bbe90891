"""The call queue: who gets which contact next, leases, and recording what happened on a call.

The claim is one UPDATE statement (see `_claim_statement`): a scalar subquery picks the best
claimable row across every tier, each tier found by its own index seek with LIMIT 1, and the
UPDATE leases it in the same statement. Nothing is selected in Python and then updated, which is
how other phone banks hand one contact to two callers. On SQLite the statement runs inside
BEGIN IMMEDIATE (Database.write()), which serialises writers; on PostgreSQL each tier's seek
takes `FOR UPDATE SKIP LOCKED`, so concurrent claimers step past each other's rows instead of
queueing behind them.

Callers pass a write session (Database.write() / pages._ui.run_action()) and commit by leaving
the block; every function here only adds to that transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core import callbacks, calling_hours, events, rollups
from core.audit import record_event
from core.outcomes import (
    DUE_QUEUE_STATUSES,
    OPEN_QUEUE_STATUSES,
    Behaviour,
    CallbackTimeNeeded,
    EntryState,
    QueueStatus,
    do_not_call_reason,
    transition,
)
from core.phones import display_phone
from core.script import contact_fields_used, merge_values
from core.suppression import add_suppression
from core.survey import EVENT_SIGNUP, AnswerError, QuestionView, list_questions, validate_answers
from db.models import (
    CampaignMember,
    User,
    UTCDateTime,
)
from db.tables import ANSWER, ATTEMPT, CAMPAIGN, CONTACT, OUTCOME, QE, SUPPRESSION

__all__ = [
    "AnswerError",
    "CallbackLimitReached",
    "CallbackTimeNeeded",
    "CallingClosed",
    "CampaignNotActive",
    "ClaimTier",
    "ClaimedContact",
    "EarlierOutcome",
    "LeaseLost",
    "NotAllowedToCall",
    "QueueError",
    "QueueSummary",
    "RecordedOutcome",
    "RevealedNumber",
    "UnknownOutcome",
    "claim_next_contact",
    "earlier_outcomes",
    "number_to_dial",
    "queue_summary",
    "record_outcome",
    "release",
    "release_lapsed_leases",
    "renew_lease",
    "reveal_number",
    "saved_outcome",
    "stop",
]


# A suppressed or bad number found after a claim is excluded and the claim tried again; a
# bound keeps a freak run of them from spinning for ever.
MAX_RECLAIMS = 25


# --------------------------------------------------------------------------------------------
# What the UI gets back, and the exceptions it maps to messages
# --------------------------------------------------------------------------------------------


class QueueError(Exception):
    """Base of the queue's domain exceptions; str() is fit to show a volunteer."""


class LeaseLost(QueueError):
    def __init__(self) -> None:
        super().__init__(
            "This contact is no longer yours (your hold lapsed and someone else took them). "
            "Nothing was saved for them; carry on with the next contact."
        )


class CallingClosed(QueueError):
    def __init__(self, reopens_at: datetime | None, timezone: str):
        self.reopens_at = reopens_at
        self.timezone = timezone
        super().__init__("Calling is closed for this campaign right now.")


class CallbackLimitReached(QueueError):
    def __init__(self, held: int) -> None:
        self.held = held
        super().__init__(
            f"You already hold {held} callbacks in this campaign, the most one volunteer may. "
            "Release one you cannot make under My callbacks, or choose another outcome."
        )


class CampaignNotActive(QueueError):
    def __init__(self, status: str):
        self.status = status
        super().__init__(f"This campaign is {status}, so no one can call it now.")


class NotAllowedToCall(QueueError):
    def __init__(self) -> None:
        super().__init__("You are not on this campaign's calling team.")


class UnknownOutcome(QueueError):
    def __init__(self, code: str):
        self.code = code
        super().__init__(f"“{code}” is not an outcome of this campaign.")


@dataclass(frozen=True)
class EarlierOutcome:
    outcome_code: str
    label: str
    at: datetime
    notes: str = ""


class ClaimTier(StrEnum):
    """Why this contact came up next, in claim order (core/queue.py `_claim_statement`)."""

    HELD = "held"  # the lease this volunteer already had (a reload)
    CALLBACK = "callback"  # their own callback, now due
    RETRY = "retry"  # a retry now due
    RELEASED_CALLBACK = "released_callback"  # another volunteer's callback, past its grace
    FRESH = "fresh"  # never called in this campaign


@dataclass(frozen=True)
class ClaimedContact:
    """A contact leased to one volunteer: only what the card may show (no phone number)."""

    queue_entry_id: int
    contact_id: int
    campaign_id: int
    first_name: str
    last_name: str
    # The merge fields the campaign's script uses, and nothing else of the contact's data.
    fields: dict[str, str]
    history: tuple[EarlierOutcome, ...]
    lease_expires_at: datetime
    tier: ClaimTier
    attempts: int
    callback_at: datetime | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or "(no name)"


@dataclass(frozen=True)
class RecordedOutcome:
    attempt_id: int
    queue_entry_id: int | None
    contact_id: int | None
    campaign_id: int
    outcome_code: str
    queue_status: str
    is_conversation: bool
    is_completion: bool
    outside_window: bool
    # True when this key had already been saved: nothing new was written.
    duplicate: bool = False
    next_due_at: datetime | None = None
    # Event places booked by this save, for the confirmation texts (core/event_texts.py).
    signup_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class RevealedNumber:
    contact_id: int
    display: str
    tel_uri: str
    # Words the import read beside this number ("after 6pm", "Mum's"): untrusted text.
    note: str = ""


@dataclass(frozen=True)
class _CampaignRules:
    id: int
    status: str
    timezone: str
    calling_window: dict[str, list[str]]
    lease_minutes: int
    callback_grace_minutes: int
    max_attempts: int
    open_to_all: bool
    script: str
    name: str = ""
    updated_at: datetime | None = None


# --------------------------------------------------------------------------------------------
# Claiming
# --------------------------------------------------------------------------------------------

_P_ME = sa.bindparam("p_me", type_=sa.Integer())
_P_CAMPAIGN = sa.bindparam("p_campaign_id", type_=sa.Integer())
_P_NOW = sa.bindparam("p_now", type_=UTCDateTime())
_P_EXPIRY = sa.bindparam("p_expiry", type_=UTCDateTime())
_P_EXCLUDE = sa.bindparam("p_exclude", expanding=True, type_=sa.Integer())
_P_RULES_AT = sa.bindparam("p_rules_at", type_=UTCDateTime())

_statements: dict[tuple[str, bool], Any] = {}

# PostgreSQL: one volunteer's claims in a campaign take turns (two tabs, a script claiming
# in parallel). Without this, each parallel claim saw no lease of theirs yet, leased a row of
# its own, and all but the first tripped ux_queue_one_lease_per_volunteer. Waiting here, the
# second claim's UPDATE starts only once the first has committed, so its snapshot (READ
# COMMITTED: one per statement) finds the first claim's lease in tier 0 and hands it back.
# One round trip, where the savepoint that caught the unique violation cost two (SAVEPOINT and
# RELEASE) and a subtransaction on every claim (bench/claim.py). Transaction-scoped: released
# by the claim's commit or rollback. The two-int key space is apart from the single bigint
# one the migrations lock with (db/migrations/env.py), so the two never wait on each other.
# SQLite's writers never overlap (BEGIN IMMEDIATE), so it needs no lock.
# The same round trip has the rest of the claim's transaction use prepared statements'
# generic plans: psycopg prepares the claim after five runs on a connection, but PostgreSQL
# kept planning it afresh each time (the generic plan's estimate loses to a custom one's),
# and planning this UPDATE took 1.4-4.8 ms against its 0.8-1 ms of execution (more as dead
# index entries pile up at the ends the planner probes). Its generic plan is an index seek in
# every tier too (seen with auto_explain; bench/claim.py prints the custom plan), and what
# follows a claim in its transaction is key lookups.
_ONE_CLAIM_AT_A_TIME = sa.select(
    sa.func.pg_advisory_xact_lock(sa.cast(_P_CAMPAIGN, sa.Integer), sa.cast(_P_ME, sa.Integer)),
    sa.func.set_config("plan_cache_mode", "force_generic_plan", True),
)


def _claim_statement(dialect: str, *, with_exclusions: bool) -> Any:
    """The single UPDATE that leases the best claimable row, built once per dialect."""
    key = (dialect, with_exclusions)
    if key in _statements:
        return _statements[key]
    lock = dialect == "postgresql"
    c = QE.c

    def seek(tier: int, where: list[Any], order: list[Any], *, exclusions: bool = True,
             skip_locked: bool = True) -> Any:
        conditions = [c.campaign_id == _P_CAMPAIGN, *where]
        if with_exclusions and exclusions:
            conditions.append(c.id.not_in(_P_EXCLUDE))
        query = sa.select(c.id).where(*conditions).order_by(*order).limit(1)
        if lock:
            # PostgreSQL: each tier is a scalar subquery (an InitPlan, run only when first
            # needed) inside COALESCE, which stops at the first tier that finds a row. So only
            # the tiers up to the winner run, and only the winner's row is locked: as one
            # UNION ALL every tier ran and locked its candidate (seven row locks, each a WAL
            # write), which made a claim cost twice the bare baseline (bench/claim.py).
            return query.with_for_update(skip_locked=skip_locked).scalar_subquery()
        inner = query.subquery(f"seek{tier}")
        return sa.select(sa.literal(tier, sa.Integer()).label("tier"), inner.c.id)

    top = QE.alias("top")
    top_priority = (
        sa.select(sa.func.max(top.c.priority))
        .where(top.c.campaign_id == _P_CAMPAIGN, top.c.status == QueueStatus.FRESH)
        .scalar_subquery()
    )
    tiers = [
        # 0: the lease this volunteer already holds here (a reload must not hoard a second).
        # (Read along ix_queue_claim_due: the campaign's leases are few, one per caller; the
        # claimed_by index looks useless to SQLite's planner when most rows have no claimer.)
        # Its row lock is waited for, not skipped: only this volunteer's own save holds it
        # (their parallel claims take turns, _ONE_CLAIM_AT_A_TIME), and skipping it would
        # take a second lease.
        seek(0, [c.status == QueueStatus.LEASED, c.claimed_by_id == _P_ME], [c.due_at],
             exclusions=False, skip_locked=False),
        # 1: their own callbacks that are due.
        seek(1, [c.callback_owner_id == _P_ME, c.status == QueueStatus.CALLBACK,
                 c.due_at <= _P_NOW], [c.due_at]),
        # 2-4: retries that are due, others' callbacks past their grace, lapsed leases.
        # Ordered by the index's own last column only: a tie-break on id would make
        # PostgreSQL sort every due row before taking one.
        seek(2, [c.status == QueueStatus.RETRY, c.due_at <= _P_NOW], [c.due_at]),
        seek(3, [c.status == QueueStatus.CALLBACK, c.release_at <= _P_NOW], [c.release_at]),
        seek(4, [c.status == QueueStatus.LEASED, c.due_at <= _P_NOW], [c.due_at]),
        # 5-6: fresh contacts, highest priority first, then in queue order. ix_queue_claim_fresh
        # is all ascending, which cannot serve "priority DESC, id" in one pass (both backends
        # would sort every fresh row), so seek the top priority first, then its lowest id.
        # ">=" the maximum is "=" it, but as a range it leaves (priority, id) to be read off
        # the index; with "=", PostgreSQL may walk the primary key past every finished row.
        seek(5, [c.status == QueueStatus.FRESH, c.priority >= top_priority], [c.priority, c.id]),
        # With SKIP LOCKED, every top-priority row may be locked by other claimers for a
        # moment: then take the next free row from the other end rather than nobody.
        seek(6, [c.status == QueueStatus.FRESH], [c.priority.desc(), c.id.desc()]),
    ]
    best: Any
    if lock:
        best = sa.func.coalesce(*tiers)
    else:
        # SQLite takes no row locks (its write lock is the whole database), and its planner
        # reads each tier off its index once: the first tier in order wins.
        candidates = sa.union_all(*tiers).subquery("candidates")
        best = (
            sa.select(candidates.c.id).order_by(candidates.c.tier).limit(1).scalar_subquery()
        )
    mine_already = sa.and_(c.status == QueueStatus.LEASED, c.claimed_by_id == _P_ME)
    unchanged_and_active = (
        sa.select(CAMPAIGN.c.id)
        .where(CAMPAIGN.c.id == _P_CAMPAIGN, CAMPAIGN.c.status == "active",
               CAMPAIGN.c.updated_at == _P_RULES_AT)
        .exists()
    )
    statement = (
        sa.update(QE)
        .where(c.id == best, unchanged_and_active)
        .values(
            status=QueueStatus.LEASED,
            claimed_by_id=_P_ME,
            due_at=_P_EXPIRY,
            # A lapsed lease keeps the status it had before it was first leased.
            leased_from=sa.case((c.status == QueueStatus.LEASED, c.leased_from), else_=c.status),
            # Unchanged for the volunteer's own lease, which is how "held" is told apart.
            claimed_at=sa.case((mine_already, c.claimed_at), else_=_P_NOW),
        )
        .returning(
            c.id, c.contact_id, c.leased_from, c.attempts, c.due_at, c.claimed_at,
            c.callback_owner_id, c.release_at,
            # The contact comes back in the same statement (a primary-key read each), so
            # the claim holds SQLite's write lock no longer than a bare UPDATE would.
            *(_of_contact(column) for column in _CARD_COLUMNS),
            sa.select(SUPPRESSION.c.id)
            .where(SUPPRESSION.c.phone == _of_contact(CONTACT.c.phone))
            .correlate(QE).exists().label("suppressed"),
        )
    )
    _statements[key] = statement
    return statement


def _conn(session: Session) -> sa.Connection:
    """The session's connection, for Core statements without the ORM's per-call overhead.

    Pending ORM changes are flushed first, so a caller's earlier session.add() is visible.
    """
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_CAMPAIGN_RULES = sa.select(
    CAMPAIGN.c.id, CAMPAIGN.c.status, CAMPAIGN.c.timezone, CAMPAIGN.c.calling_window,
    CAMPAIGN.c.lease_minutes, CAMPAIGN.c.callback_grace_minutes, CAMPAIGN.c.max_attempts,
    CAMPAIGN.c.open_to_all, CAMPAIGN.c.script, CAMPAIGN.c.name, CAMPAIGN.c.updated_at,
).where(CAMPAIGN.c.id == sa.bindparam("p_campaign_id", type_=sa.Integer()))

# Campaign rules as last read, per process. Safe because the claim itself re-checks, in the
# same statement, that the campaign is active and unchanged (same updated_at, which every edit
# in core/campaigns.py bumps); when it is not, the rules are read again and the claim retried.
# This saves the claim a round trip to the database without ever acting on stale rules.
# Keyed by the database too: campaign 1 of one database is not campaign 1 of another (tests,
# and a process that opens two).
_rules_cache: dict[tuple[sa.URL, int], _CampaignRules] = {}


def _campaign_rules(session: Session, campaign_id: int, *, cached: bool = False) -> _CampaignRules:
    key = (session.get_bind().engine.url, campaign_id)
    if cached and key in _rules_cache:
        return _rules_cache[key]
    row = _conn(session).execute(_CAMPAIGN_RULES, {"p_campaign_id": campaign_id}).first()
    if row is None:
        _rules_cache.pop(key, None)
        raise CampaignNotActive("gone")
    rules = _CampaignRules(*row)
    _rules_cache[key] = rules
    return rules


def _is_member_or_organiser(session: Session, campaign_id: int, volunteer_id: int) -> bool:
    if session.get(CampaignMember, (campaign_id, volunteer_id)) is not None:
        return True
    user = session.get(User, volunteer_id)
    return user is not None and user.role == "organiser"


def claim_next_contact(
    *,
    session: Session,
    campaign_id: int,
    volunteer_id: int,
    now: datetime,
    exclude_entry_ids: Sequence[int] = (),
) -> ClaimedContact | None:
    """Lease the next contact to call, or None when nobody is left to call now.

    `exclude_entry_ids` are entries this volunteer just skipped, so that Skip moves on.

    Raises:
        CampaignNotActive: the campaign is paused, closed, a draft, or gone.
        NotAllowedToCall: the campaign is members-only and the volunteer is not a member.
        CallingClosed: outside the campaign's calling hours (carries the reopening time).
    """
    rules = _campaign_rules(session, campaign_id, cached=True)
    try:
        claimed, verified = _claim(session, rules, volunteer_id, now, exclude_entry_ids)
        refused = False
    except (CampaignNotActive, NotAllowedToCall, CallingClosed):
        claimed, verified, refused = None, False, True
    if verified:
        return claimed
    # Refused, or nothing came back: the cached rules may be stale, so read them again.
    fresh = _campaign_rules(session, campaign_id)
    if fresh == rules and not refused:
        return None  # the rules held: the queue really has nobody to call now
    claimed, _ = _claim(session, fresh, volunteer_id, now, exclude_entry_ids)
    return claimed


def _claim(
    session: Session,
    rules: _CampaignRules,
    volunteer_id: int,
    now: datetime,
    exclude_entry_ids: Sequence[int],
) -> tuple[ClaimedContact | None, bool]:
    """One claim under `rules`; the flag is False when nothing came back (rules unverified)."""
    campaign_id = rules.id
    if rules.status != "active":
        raise CampaignNotActive(rules.status)
    if not rules.open_to_all and not _is_member_or_organiser(session, campaign_id, volunteer_id):
        raise NotAllowedToCall()
    if not calling_hours.is_open(rules.calling_window, rules.timezone, now):
        raise CallingClosed(
            calling_hours.next_opening(rules.calling_window, rules.timezone, now), rules.timezone
        )
    expiry = now + timedelta(minutes=rules.lease_minutes)
    exclusions = list(exclude_entry_ids)[-200:]
    statement = _claim_statement(_dialect(session), with_exclusions=bool(exclusions))
    params: dict[str, Any] = {
        "p_me": volunteer_id, "p_campaign_id": campaign_id, "p_now": now, "p_expiry": expiry,
        "p_rules_at": rules.updated_at,
    }
    if exclusions:
        params["p_exclude"] = exclusions
    fields_used = contact_fields_used(rules.script)
    if _dialect(session) == "postgresql":
        _conn(session).execute(_ONE_CLAIM_AT_A_TIME, params)
    for _ in range(MAX_RECLAIMS):
        row = _conn(session).execute(statement, params).first()
        if row is None:
            return None, False
        if row.bad_number in (None, True) or row.suppressed:
            # Suppressed or marked wrong since it was queued: out of the queue for good.
            _conn(session).execute(_EXCLUDE, {"p_entry_id": row.id})
            continue
        return _claimed(session, rules, row, row, fields_used, volunteer_id, now), True
    return None, True


# What the contact card may draw on (never the phone: that is revealed, and audited, apart).
_CARD_COLUMNS = (
    CONTACT.c.first_name, CONTACT.c.last_name, CONTACT.c.constituency, CONTACT.c.ward,
    CONTACT.c.postcode, CONTACT.c.membership_number, CONTACT.c.custom, CONTACT.c.bad_number,
)


def _of_contact(column: Any) -> Any:
    """The claimed row's contact's `column`, as a subquery the claim can RETURN."""
    return (
        sa.select(column).where(CONTACT.c.id == QE.c.contact_id).correlate(QE)
        .scalar_subquery().label(column.name)
    )


_EXCLUDE = (
    sa.update(QE)
    .where(QE.c.id == sa.bindparam("p_entry_id", type_=sa.Integer()))
    .values(status=QueueStatus.EXCLUDED, claimed_by_id=None, due_at=None, release_at=None)
)


def _claimed(
    session: Session,
    rules: _CampaignRules,
    row: Any,
    contact: Any,
    fields_used: list[str],
    volunteer_id: int,
    now: datetime,
) -> ClaimedContact:
    if row.claimed_at is not None and row.claimed_at != now:
        tier = ClaimTier.HELD
    elif row.leased_from == QueueStatus.CALLBACK:
        tier = (ClaimTier.CALLBACK if row.callback_owner_id == volunteer_id
                else ClaimTier.RELEASED_CALLBACK)
    else:
        tier = ClaimTier(row.leased_from or QueueStatus.FRESH)
    callback_at = None
    if row.leased_from == QueueStatus.CALLBACK and row.release_at is not None:
        callback_at = row.release_at - timedelta(minutes=rules.callback_grace_minutes)
    # A fresh contact never attempted has no history: skip the query on the hot path.
    history: tuple[EarlierOutcome, ...] = ()
    if row.attempts or row.leased_from != QueueStatus.FRESH:
        history = earlier_outcomes(
            session=session, campaign_id=rules.id, contact_id=row.contact_id
        )
    return ClaimedContact(
        queue_entry_id=row.id,
        contact_id=row.contact_id,
        campaign_id=rules.id,
        first_name=contact.first_name or "",
        last_name=contact.last_name or "",
        fields=merge_values(fields_used, contact=contact._mapping, custom=contact.custom or {}),
        history=history,
        lease_expires_at=row.due_at,
        tier=tier,
        attempts=row.attempts,
        callback_at=callback_at,
    )


def earlier_outcomes(
    *, session: Session, campaign_id: int, contact_id: int
) -> tuple[EarlierOutcome, ...]:
    """This contact's earlier calls in this campaign, oldest first (and no other campaign's)."""
    rows = _conn(session).execute(
        sa.select(ATTEMPT.c.outcome_code, OUTCOME.c.label, ATTEMPT.c.started_at, ATTEMPT.c.notes)
        .select_from(ATTEMPT)
        .outerjoin(
            OUTCOME,
            sa.and_(OUTCOME.c.campaign_id == ATTEMPT.c.campaign_id,
                    OUTCOME.c.code == ATTEMPT.c.outcome_code),
        )
        .where(ATTEMPT.c.contact_id == contact_id, ATTEMPT.c.campaign_id == campaign_id)
        .order_by(ATTEMPT.c.started_at, ATTEMPT.c.id)
    ).all()
    return tuple(
        EarlierOutcome(outcome_code=code, label=label or code, at=at, notes=notes or "")
        for code, label, at, notes in rows
    )


# --------------------------------------------------------------------------------------------
# Leases
# --------------------------------------------------------------------------------------------


def _held(session: Session, queue_entry_id: int, volunteer_id: int) -> Any | None:
    row = _conn(session).execute(
        sa.select(
            QE.c.id, QE.c.campaign_id, QE.c.contact_id, QE.c.status, QE.c.claimed_by_id,
            QE.c.leased_from, QE.c.release_at, QE.c.claimed_at, QE.c.attempts,
        ).where(QE.c.id == queue_entry_id)
    ).first()
    if row is None or row.status != QueueStatus.LEASED or row.claimed_by_id != volunteer_id:
        return None
    return row


def renew_lease(
    *, session: Session, queue_entry_id: int, volunteer_id: int, now: datetime
) -> datetime:
    """Push the lease's expiry to now + the campaign's lease minutes; returns the new expiry.

    A lapsed lease nobody else has taken is renewed too: the volunteer is still on the call.

    Raises:
        LeaseLost: the entry is no longer leased to this volunteer.
    """
    minutes = _conn(session).execute(
        sa.select(CAMPAIGN.c.lease_minutes)
        .select_from(QE.join(CAMPAIGN, CAMPAIGN.c.id == QE.c.campaign_id))
        .where(QE.c.id == queue_entry_id)
    ).scalar()
    if minutes is None:
        raise LeaseLost()
    expiry = now + timedelta(minutes=minutes)
    result = _conn(session).execute(
        sa.update(QE)
        .where(QE.c.id == queue_entry_id, QE.c.status == QueueStatus.LEASED,
               QE.c.claimed_by_id == volunteer_id)
        .values(due_at=expiry)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    return expiry


def _restore_values(row: Any, grace_minutes: int, now: datetime) -> dict[str, Any]:
    status = row.leased_from or QueueStatus.FRESH
    if status == QueueStatus.FRESH:
        due_at = None
    elif status == QueueStatus.CALLBACK and row.release_at is not None:
        due_at = min(row.release_at - timedelta(minutes=grace_minutes), now)
    else:
        due_at = now  # it was due when it was claimed, and still is
    return {"status": status, "due_at": due_at, "claimed_by_id": None, "leased_from": None}


def release(
    *, session: Session, queue_entry_id: int, volunteer_id: int, now: datetime
) -> bool:
    """Skip: hand the contact back exactly as it was before the claim (attempts unchanged).

    Returns False (and changes nothing) if the lease was no longer this volunteer's.
    """
    row = _held(session, queue_entry_id, volunteer_id)
    if row is None:
        return False
    grace = _conn(session).execute(
        sa.select(CAMPAIGN.c.callback_grace_minutes).where(CAMPAIGN.c.id == row.campaign_id)
    ).scalar_one()
    result = _conn(session).execute(
        sa.update(QE)
        .where(QE.c.id == queue_entry_id, QE.c.status == QueueStatus.LEASED,
               QE.c.claimed_by_id == volunteer_id)
        .values(**_restore_values(row, grace, now))
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def stop(*, session: Session, campaign_id: int, volunteer_id: int, now: datetime) -> int:
    """Stop calling: release every lease the volunteer holds in the campaign; returns how many."""
    ids = _conn(session).execute(
        sa.select(QE.c.id).where(
            QE.c.claimed_by_id == volunteer_id, QE.c.status == QueueStatus.LEASED,
            QE.c.campaign_id == campaign_id,
        )
    ).scalars().all()
    return sum(
        release(session=session, queue_entry_id=entry_id, volunteer_id=volunteer_id, now=now)
        for entry_id in ids
    )


def release_lapsed_leases(
    *, session: Session, now: datetime, campaign_id: int | None = None
) -> int:
    """Give back every lease past its expiry (claims take them anyway; this tidies counts)."""
    conditions = [QE.c.status == QueueStatus.LEASED, QE.c.due_at <= now]
    if campaign_id is not None:
        conditions.insert(0, QE.c.campaign_id == campaign_id)
    result = _conn(session).execute(
        sa.update(QE)
        .where(*conditions)
        .values(
            status=sa.func.coalesce(QE.c.leased_from, QueueStatus.FRESH),
            due_at=sa.case(
                (QE.c.leased_from.in_(DUE_QUEUE_STATUSES), sa.literal(now, UTCDateTime())),
                else_=None,
            ),
            claimed_by_id=None,
            leased_from=None,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _held_number(session: Session, queue_entry_id: int, volunteer_id: int
                 ) -> tuple[Any, RevealedNumber]:
    row = _held(session, queue_entry_id, volunteer_id)
    if row is None:
        raise LeaseLost()
    phone, notes = _conn(session).execute(
        sa.select(CONTACT.c.phone, CONTACT.c.phone_notes).where(CONTACT.c.id == row.contact_id)
    ).one()
    return row, RevealedNumber(contact_id=row.contact_id, display=display_phone(phone),
                               tel_uri=f"tel:{phone}", note=(notes or {}).get(phone, ""))


def number_to_dial(
    *, session: Session, queue_entry_id: int, volunteer_id: int
) -> RevealedNumber:
    """The held contact's number for the one-tap Call link's address, not audited.

    The calling page puts only its tel: address in the link (the number is shown nowhere) and
    records the tap itself with reveal_number(), so that one tap both dials and audits.

    Raises:
        LeaseLost: the entry is not leased to this volunteer.
    """
    return _held_number(session, queue_entry_id, volunteer_id)[1]


def reveal_number(
    *, session: Session, queue_entry_id: int, volunteer_id: int, now: datetime
) -> RevealedNumber:
    """The number to dial, for the volunteer holding the lease; the reveal is audited.

    Raises:
        LeaseLost: the entry is not leased to this volunteer.
    """
    row, number = _held_number(session, queue_entry_id, volunteer_id)
    # Who saw which contact's number, never the number itself.
    record_event(
        session=session, action="number_revealed", actor_id=volunteer_id,
        target=f"contact:{row.contact_id}",
        details={"campaign_id": row.campaign_id, "queue_entry_id": queue_entry_id},
    )
    return number


# --------------------------------------------------------------------------------------------
# Recording an outcome
# --------------------------------------------------------------------------------------------


def _existing(session: Session, idempotency_key: str) -> RecordedOutcome | None:
    row = _conn(session).execute(
        sa.select(
            ATTEMPT.c.id, ATTEMPT.c.queue_entry_id, ATTEMPT.c.contact_id, ATTEMPT.c.campaign_id,
            ATTEMPT.c.outcome_code, ATTEMPT.c.is_conversation, ATTEMPT.c.is_completion,
            ATTEMPT.c.outside_window, QE.c.status, QE.c.due_at,
        )
        .select_from(ATTEMPT.outerjoin(QE, QE.c.id == ATTEMPT.c.queue_entry_id))
        .where(ATTEMPT.c.idempotency_key == idempotency_key)
    ).first()
    if row is None:
        return None
    return RecordedOutcome(
        attempt_id=row.id, queue_entry_id=row.queue_entry_id, contact_id=row.contact_id,
        campaign_id=row.campaign_id, outcome_code=row.outcome_code,
        queue_status=row.status or "", is_conversation=row.is_conversation,
        is_completion=row.is_completion, outside_window=row.outside_window, duplicate=True,
        next_due_at=row.due_at,
    )


def saved_outcome(*, session: Session, idempotency_key: str) -> RecordedOutcome | None:
    """The outcome already saved under this key (e.g. before a reconnect), or None."""
    return _existing(session, idempotency_key)


def _insert_attempt(session: Session, values: dict[str, Any]) -> int | None:
    """Insert the attempt unless its idempotency key exists; returns its id or None."""
    insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
    statement = (
        insert(ATTEMPT)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(ATTEMPT.c.id)
    )
    return _conn(session).execute(statement).scalar()


_SAVE_CONTEXT = (
    sa.select(
        QE.c.id, QE.c.campaign_id, QE.c.contact_id, QE.c.status, QE.c.claimed_by_id,
        QE.c.attempts, CAMPAIGN.c.max_attempts, CAMPAIGN.c.timezone,
        CAMPAIGN.c.calling_window, CAMPAIGN.c.callback_grace_minutes, CAMPAIGN.c.name,
        CAMPAIGN.c.callback_max_days, CAMPAIGN.c.max_callbacks_per_volunteer,
        CAMPAIGN.c.ends_at,
        # NULL when the code is not an active outcome of the entry's campaign.
        OUTCOME.c.code, OUTCOME.c.behaviour, OUTCOME.c.retry_after_hours,
        OUTCOME.c.is_conversation, OUTCOME.c.is_completion,
        sa.select(ATTEMPT.c.id)
        .where(ATTEMPT.c.idempotency_key == sa.bindparam("p_key", type_=sa.String()))
        .exists().label("saved_before"),
    )
    .select_from(
        QE.join(CAMPAIGN, CAMPAIGN.c.id == QE.c.campaign_id)
        .outerjoin(OUTCOME, sa.and_(
            OUTCOME.c.campaign_id == QE.c.campaign_id,
            OUTCOME.c.code == sa.bindparam("p_code", type_=sa.String()),
            OUTCOME.c.active.is_(True)))
    )
    .where(QE.c.id == sa.bindparam("p_entry_id", type_=sa.Integer()))
)


def record_outcome(
    *,
    session: Session,
    queue_entry_id: int,
    volunteer_id: int,
    outcome_code: str,
    idempotency_key: str,
    answers: Mapping[int, str | list[str] | int],
    notes: str,
    started_at: datetime,
    now: datetime,
    callback_at: datetime | None = None,
    provider: str = "tel",
    provider_call_id: str | None = None,
    provider_status: str | None = None,
    duration_seconds: int | None = None,
) -> RecordedOutcome:
    """Save a call's outcome, answers and notes, and move the contact on in the queue.

    Idempotent by `idempotency_key`: a second call with the same key returns the first result
    and writes nothing. Answers are kept only for outcomes that were conversations; required
    questions are enforced only for outcomes that complete the survey.

    Raises:
        LeaseLost: the entry is not leased to this volunteer any more.
        UnknownOutcome: the code is not an active outcome of the campaign.
        AnswerError: an answer is missing or not allowed (`.problems` says which).
        CallbackTimeNeeded: a callback outcome without a future callback time.
    """
    # One round trip reads the entry, its campaign's rules, the outcome and whether this key
    # was saved already (each was a statement of its own: three round trips on every save).
    entry: Any = _conn(session).execute(
        _SAVE_CONTEXT, {"p_entry_id": queue_entry_id, "p_code": outcome_code,
                        "p_key": idempotency_key},
    ).first()
    held = (entry is not None and entry.status == QueueStatus.LEASED
            and entry.claimed_by_id == volunteer_id)
    if not held or entry.saved_before:
        # Saved under this key already; or, with the lease gone, the same save may have
        # committed on another connection since the look above.
        earlier = _existing(session, idempotency_key)
        if earlier is not None:
            return earlier
        if not held:
            raise LeaseLost()
    outcome = entry  # the outcome's columns ride on the entry's row
    if outcome.code is None:
        raise UnknownOutcome(outcome_code)
    stored: dict[int, list[str]] = {}
    questions: list[QuestionView] = []
    if outcome.is_conversation and answers:
        questions = list_questions(session=session, campaign_id=entry.campaign_id)
        stored = validate_answers(questions, dict(answers),
                                  enforce_required=outcome.is_completion)
    elif outcome.is_completion:
        questions = list_questions(session=session, campaign_id=entry.campaign_id)
        validate_answers(questions, {}, enforce_required=True)
    if outcome.behaviour == Behaviour.CALLBACK:
        held = callbacks.count_held(session=session, campaign_id=entry.campaign_id,
                                    volunteer_id=volunteer_id)
        if held >= entry.max_callbacks_per_volunteer:
            raise CallbackLimitReached(held)
    change = transition(
        outcome,
        EntryState(attempts=entry.attempts, max_attempts=entry.max_attempts,
                   callback_grace_minutes=entry.callback_grace_minutes,
                   latest_callback_at=callbacks.callback_deadline(
                       now, entry.callback_max_days, entry.ends_at),
                   timezone=entry.timezone),
        now, callback_at,
    )

    outside_window = not calling_hours.is_open(entry.calling_window, entry.timezone, now)
    attempt_id = _insert_attempt(session, {
        "idempotency_key": idempotency_key,
        "campaign_id": entry.campaign_id,
        "contact_id": entry.contact_id,
        "queue_entry_id": entry.id,
        "volunteer_id": volunteer_id,
        "outcome_code": outcome.code,
        "is_conversation": outcome.is_conversation,
        "is_completion": outcome.is_completion,
        "notes": (notes or "")[:5000],
        "started_at": started_at,
        "ended_at": now,
        "duration_seconds": duration_seconds,
        "provider": provider,
        "provider_call_id": provider_call_id,
        "provider_status": provider_status,
        "outside_window": outside_window,
        "created_at": now,
    })
    if attempt_id is None:
        # The same save raced us on another connection and won: report its result.
        earlier = _existing(session, idempotency_key)
        assert earlier is not None
        return earlier
    # Counted for the dashboard in this same transaction: only a save that commits counts.
    rollups.count_attempt(
        session=session, campaign_id=entry.campaign_id, volunteer_id=volunteer_id,
        outcome_code=outcome.code, is_conversation=outcome.is_conversation,
        is_completion=outcome.is_completion, outside_window=outside_window,
        started_at=started_at, duration_seconds=duration_seconds,
    )
    # Event sign-up answers are bookings, taken under the capacity guard in this same
    # transaction: a full event refuses the whole save, so the caller can offer another.
    signup_ids = _book_events(session, stored, questions, entry,
                              attempt_id=attempt_id, volunteer_id=volunteer_id, now=now)
    stored = {qid: values for qid, values in stored.items() if qid not in signup_ids}
    if stored:
        rollups.count_answers(
            session=session, campaign_id=entry.campaign_id, contact_id=entry.contact_id,
            answers=stored, counted_only={q.id for q in questions if not q.spec.tallied})
        _conn(session).execute(sa.insert(ANSWER), [
            {"attempt_id": attempt_id, "campaign_id": entry.campaign_id,
             "question_id": question_id, "contact_id": entry.contact_id, "value": value}
            for question_id, values in stored.items() for value in values
        ])

    values: dict[str, Any] = {
        "attempts": change.attempts, "last_outcome": outcome.code, "last_attempt_at": now,
        "claimed_by_id": None, "leased_from": None,
        "status": change.status, "due_at": change.due_at, "release_at": change.release_at,
        # OR-ed in SQL: the dashboard's per-ward progress reads these bits (core/stats.py).
        "progress": QE.c.progress.bitwise_or(change.progress),
    }
    if change.owns_callback:
        values["callback_owner_id"] = volunteer_id
    result = _conn(session).execute(
        sa.update(QE)
        .where(QE.c.id == entry.id, QE.c.status == QueueStatus.LEASED,
               QE.c.claimed_by_id == volunteer_id)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()  # rolls the attempt back with the caller's transaction

    contact_values: dict[str, Any] = {"last_contacted_at": now}
    if change.bad_number:
        contact_values["bad_number"] = True
    _conn(session).execute(sa.update(CONTACT).where(CONTACT.c.id == entry.contact_id)
                    .values(**contact_values))
    if change.bad_number:
        # A wrong number is wrong in every campaign: take it out of every open queue.
        _conn(session).execute(
            sa.update(QE)
            .where(QE.c.contact_id == entry.contact_id, QE.c.status.in_(OPEN_QUEUE_STATUSES))
            .values(status=QueueStatus.EXCLUDED, claimed_by_id=None, due_at=None,
                    release_at=None)
        )
    if change.suppress:
        phone = _conn(session).execute(
            sa.select(CONTACT.c.phone).where(CONTACT.c.id == entry.contact_id)
        ).scalar_one()
        add_suppression(session=session, phone=phone, source="outcome", actor_id=volunteer_id,
                        reason=do_not_call_reason(entry.name))
    return RecordedOutcome(
        attempt_id=attempt_id, queue_entry_id=entry.id, contact_id=entry.contact_id,
        campaign_id=entry.campaign_id, outcome_code=outcome.code,
        queue_status=change.status, is_conversation=outcome.is_conversation,
        is_completion=outcome.is_completion, outside_window=outside_window,
        next_due_at=change.due_at,
        signup_ids=tuple(i for ids in signup_ids.values() for i in ids),
    )


def _book_events(session: Session, stored: dict[int, list[str]],
                 questions: Sequence[QuestionView], entry: Any, *, attempt_id: int,
                 volunteer_id: int, now: datetime) -> dict[int, tuple[int, ...]]:
    """Book the events chosen in event sign-up questions; the new sign-up ids per question.

    Raises:
        AnswerError: an event is full, cancelled or started (naming the question).
    """
    booked: dict[int, tuple[int, ...]] = {}
    for question in questions:
        if question.kind != EVENT_SIGNUP or question.id not in stored:
            continue
        try:
            result = events.sign_up(
                session=session, event_ids=[int(v) for v in stored[question.id]],
                contact_id=entry.contact_id, campaign_id=entry.campaign_id,
                volunteer_id=volunteer_id, now=now, attempt_id=attempt_id,
                question_id=question.id)
        except events.SignupRefused as exc:
            raise AnswerError({question.id: str(exc)}) from None
        booked[question.id] = result.signup_ids
    return booked


@dataclass(frozen=True)
class QueueSummary:
    fresh: int = 0
    retry: int = 0
    callback: int = 0
    leased: int = 0
    done: int = 0
    excluded: int = 0
    next_due_at: datetime | None = None

    @property
    def waiting(self) -> int:
        return sum(getattr(self, status) for status in OPEN_QUEUE_STATUSES)

    @property
    def total(self) -> int:
        return sum(getattr(self, status) for status in QueueStatus)


def queue_summary(*, session: Session, campaign_id: int) -> QueueSummary:
    """Counts by status and when the next retry or callback falls due (for empty states)."""
    counts: dict[str, int] = dict(
        _conn(session).execute(
            sa.select(QE.c.status, sa.func.count())
            .where(QE.c.campaign_id == campaign_id)
            .group_by(QE.c.status)
        ).all()
    )
    next_due = _conn(session).execute(
        sa.select(sa.func.min(QE.c.due_at))
        .where(QE.c.campaign_id == campaign_id, QE.c.status.in_(DUE_QUEUE_STATUSES))
    ).scalar()
    known = {status.value: int(counts.get(status, 0)) for status in QueueStatus}
    return QueueSummary(**known, next_due_at=next_due)
