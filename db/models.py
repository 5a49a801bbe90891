"""Every table Ringround stores, in one module.

Conventions:
- Times are timezone-aware UTC (`UTCDateTime`); convert to a campaign's zone only for display
  and calling-hours rules (core/calling_hours.py).
- Phones are E.164 strings (`+447400123456`). Never log them.
- Enumerations are short strings, so that the schema stays identical on SQLite and PostgreSQL
  and migrations stay trivial. Their values are named in `*_VALUES` tuples here, or, where
  core gives them meaning, in a StrEnum in core (named in the column's comment).
- Indexes are chosen for the two hot paths: claiming the next contact (queueentry) and the
  dashboard aggregates (callattempt, surveyanswer). See the comments beside each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as naive UTC; hand back aware UTC on both backends.

    SQLite has no time zone type, and comparing naive with aware datetimes raises, so the
    conversion lives in one place instead of at every call site.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite can hand back the stored text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _json(default: Any) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else (lambda: list(default))
    return Field(default_factory=factory, sa_type=sa.JSON, nullable=False)


# --------------------------------------------------------------------------------------------
# People who use Ringround
# --------------------------------------------------------------------------------------------

ROLE_VALUES = ("organiser", "volunteer")


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(default="volunteer", max_length=16)  # ROLE_VALUES
    # The volunteer's own phone, for Twilio to ring them; never shown to contacts.
    phone: str | None = Field(default=None, max_length=20)
    phone_verified: bool = Field(default=False)
    active: bool = Field(default=True)
    # The user's token generation: bumped to end every open session and every saved login
    # (sign out everywhere, deactivation, a password change or reset). Each LoginSession keeps
    # the generation it was opened under and is honoured only while the two agree.
    session_epoch: int = Field(default=0)
    sessions_ended_at: datetime | None = _ts()
    created_at: datetime = _created()
    last_login_at: datetime | None = _ts()


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # sha256 of the token in the link; the token itself is shown once and never stored.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    label: str = Field(default="", max_length=200)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    # A recruit's own invite, texted after their call: the volunteer who registers with it is
    # credited to this campaign (core/recruits.py).
    recruited_by_campaign_id: int | None = Field(default=None, foreign_key="campaign.id",
                                                 ondelete="SET NULL")
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    max_uses: int = Field(default=50)
    uses: int = Field(default=0)
    revoked: bool = Field(default=False)


class RecruitedVolunteer(SQLModel, table=True):
    """A volunteer who registered with a recruit's invite, credited to the campaign that
    recruited them (a table of its own: a column on user would make user and campaign point
    at each other)."""

    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", index=True)
    created_at: datetime = _created()


class PasswordReset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _ts()


class LoginSession(SQLModel, table=True):
    """One signed-in browser. Its login cookie names this row (by the hash of a random id), so
    one browser can be signed out alone and a copied cookie dies with it."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    # sha256 of the random id inside the cookie; set when the browser collects its cookie.
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    # sha256 of the one-time code the browser trades for its cookie at /auth/session, within
    # a minute; cleared when used.
    handoff_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    handoff_expires_at: datetime | None = _ts()
    epoch: int = Field(default=0)  # the user's session_epoch when this session began
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    ended_at: datetime | None = _ts()


LOGIN_THROTTLE_SCOPES = ("account", "pair", "address")


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per typed username, per username from one address, and per
    address, whether or not the username exists (so that refusals never tell them apart).
    Keys are sha256 hashes: a password typed into the username box is never stored."""

    __table_args__ = (sa.UniqueConstraint("scope", "key_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)  # LOGIN_THROTTLE_SCOPES
    key_hash: str = Field(max_length=64)
    # The hashed username for "account" and "pair" rows, so that an unlock clears both.
    username_hash: str | None = Field(default=None, max_length=64, index=True)
    failures: int = Field(default=0)
    last_failure_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    blocked_until: datetime | None = _ts()


class PhoneVerification(SQLModel, table=True):
    """An SMS code that proves a volunteer owns the phone Twilio will ring."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    phone: str = Field(max_length=20)
    code_hash: str = Field(max_length=64)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    attempts: int = Field(default=0)
    verified_at: datetime | None = _ts()


# --------------------------------------------------------------------------------------------
# The people we call
# --------------------------------------------------------------------------------------------

PHONE_TYPE_VALUES = ("mobile", "landline", "other")


class Contact(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_contact_constituency_ward", "constituency", "ward"),
        sa.Index("ix_contact_last_name_first_name", "last_name", "first_name"),
        # The dashboard's compliance panel counts TPS-registered non-members (core/stats.py).
        sa.Index("ix_contact_tps", "tps", "consenting_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # E.164; the natural key. Two people on one landline are one contact, called once.
    phone: str = Field(max_length=20, unique=True)
    phone_type: str = Field(default="other", max_length=10)  # PHONE_TYPE_VALUES
    # Further numbers for the same person (E.164), the preferred one being `phone`.
    other_phones: list[str] = _json([])
    # Words an import read beside a number ("after 6pm", "Mum's"), by E.164 number: shown to
    # the volunteer with the number they dial, exported, and erased with the contact.
    phone_notes: dict[str, str] = _json({})
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    postcode: str = Field(default="", max_length=16)
    constituency: str = Field(default="", max_length=120)
    ward: str = Field(default="", max_length=120)
    membership_number: str = Field(default="", max_length=64)
    # Comma-wrapped (",nhs,member,") so that `LIKE '%,nhs,%'` matches whole tags on both backends.
    tags: str = Field(default="", max_length=2000)
    # Registered with the Telephone Preference Service: not called unless a consenting member.
    tps: bool = Field(default=False)
    consenting_member: bool = Field(default=False)
    # A volunteer reported the number as wrong; it is not queued again.
    bad_number: bool = Field(default=False)
    # Columns from imports that map to no field above, kept for targeting and script merge.
    custom: dict[str, Any] = _json({})
    import_batch_id: int | None = Field(
        default=None, foreign_key="importbatch.id", ondelete="SET NULL", index=True
    )
    last_contacted_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()


SUPPRESSION_SOURCE_VALUES = ("outcome", "organiser", "import", "sms_stop", "erasure")


class SavedSegment(SQLModel, table=True):
    """A named targeting segment (core.targeting.Segment.to_dict), built before any campaign
    needs it and attached to campaigns later."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    filters: dict[str, Any] = _json({})
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Suppression(SQLModel, table=True):
    """The do-not-call list. Keyed by number, so it outlives every contact and re-import."""

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, unique=True)
    reason: str = Field(default="", max_length=500)
    source: str = Field(default="organiser", max_length=16)  # SUPPRESSION_SOURCE_VALUES
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    # Set when the number came from an import whose file said "do not call" (source "import");
    # undoing that import keeps the entry: the person's objection outlives the batch.
    import_batch_id: int | None = Field(default=None, foreign_key="importbatch.id",
                                        ondelete="SET NULL")


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------

IMPORT_STATUS_VALUES = ("running", "done", "failed", "undone")
DUPLICATE_POLICY_VALUES = ("update_empty", "overwrite", "skip")


class ImportBatch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=300)
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    finished_at: datetime | None = _ts()
    status: str = Field(default="running", max_length=16)  # IMPORT_STATUS_VALUES
    encoding: str = Field(default="", max_length=32)
    delimiter: str = Field(default="", max_length=4)
    mapping: dict[str, Any] = _json({})
    # How the file was read beyond the mapping: sheet, header row, do-not-call flag values.
    options: dict[str, Any] = _json({})
    duplicate_policy: str = Field(default="update_empty", max_length=16)
    # The accounting: inserted + updated + unchanged + merged + rejected == total_rows, always.
    total_rows: int = Field(default=0)
    inserted: int = Field(default=0)
    updated: int = Field(default=0)
    unchanged: int = Field(default=0)  # matched a stored contact that the row would not change
    merged: int = Field(default=0)
    rejected: int = Field(default=0)
    suppressed: int = Field(default=0)  # of the accepted rows, how many are on the do-not-call list
    do_not_call: int = Field(default=0)  # of those, how many the file itself flagged
    warnings: int = Field(default=0)  # kept rows with a cell that could not be used
    seconds: float = Field(default=0.0)
    error: str = Field(default="", max_length=2000)
    undone_at: datetime | None = _ts()


class ImportRejection(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="importbatch.id", ondelete="CASCADE", index=True)
    row_number: int
    reason: str = Field(max_length=500)
    raw: dict[str, Any] = _json({})


class ImportWarning(SQLModel, table=True):
    """A kept row with a cell that could not be used ("Telephone: not a phone number, kept the
    Mobile"). The message names the column and the problem, never the cell's number."""

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="importbatch.id", ondelete="CASCADE", index=True)
    row_number: int
    message: str = Field(max_length=500)


class ImportChange(SQLModel, table=True):
    """What an import overwrote on an existing contact, so undoing the batch can put it back."""

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="importbatch.id", ondelete="CASCADE", index=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    before: dict[str, Any] = _json({})


# --------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------

CAMPAIGN_STATUS_VALUES = ("draft", "active", "paused", "closed")


def default_calling_window() -> dict[str, list[str]]:
    """09:00-21:00 every day; keys are ISO weekdays 0=Monday..6=Sunday."""
    return {str(day): ["09:00", "21:00"] for day in range(7)}


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    # Markdown with {merge_fields}; rendered escaped (core/script.py).
    script: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default="draft", max_length=16)  # CAMPAIGN_STATUS_VALUES
    timezone: str = Field(default="Europe/London", max_length=64)
    calling_window: dict[str, list[str]] = Field(
        default_factory=default_calling_window, sa_type=sa.JSON, nullable=False
    )
    caller_id: str = Field(default="", max_length=20)
    dialer: str = Field(default="tel", max_length=16)  # core.dialing.DialerKind
    max_attempts: int = Field(default=3)
    lease_minutes: int = Field(default=10)
    # How long a volunteer's callback stays theirs after its time before others may take it.
    callback_grace_minutes: int = Field(default=60)
    # Bounds on "Call back later", so that no volunteer can park the queue (core/callbacks.py):
    # at most this many days ahead, never after ends_at, and this many held at once each.
    callback_max_days: int = Field(default=14, sa_column_kwargs={"server_default": "14"})
    max_callbacks_per_volunteer: int = Field(default=30,
                                             sa_column_kwargs={"server_default": "30"})
    # When the campaign ends (optional): no callback is booked after it.
    ends_at: datetime | None = _ts()
    # When false, only members (CampaignMember) may call it.
    open_to_all: bool = Field(default=True)
    leaderboard_visible: bool = Field(default=True)
    # The answer that makes a contact a recruit, e.g. {"question_id": 3, "value": "Yes"}.
    recruit_rule: dict[str, Any] = _json({})
    sms_template: str = Field(default="", max_length=1600)
    # Continuous calling: read to an answering machine, then hang up; empty hangs up at once.
    voicemail_message: str = Field(default="", max_length=500,
                                   sa_column_kwargs={"server_default": ""})
    # Continuous calling: listen for answering machines (off puts every answer through).
    machine_detection: bool = Field(default=True,
                                    sa_column_kwargs={"server_default": sa.text("true")})
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class CampaignMember(SQLModel, table=True):
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", primary_key=True)


class Outcome(SQLModel, table=True):
    """One button on the calling page, with what it does to the queue."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", index=True)
    code: str = Field(max_length=40)
    label: str = Field(max_length=100)
    behaviour: str = Field(default="final", max_length=16)  # core.outcomes.Behaviour
    retry_after_hours: float = Field(default=0)
    is_conversation: bool = Field(default=False)
    is_completion: bool = Field(default=False)
    position: int = Field(default=0)
    active: bool = Field(default=True)


class SurveyQuestion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", index=True)
    position: int = Field(default=0)
    text: str = Field(max_length=500)
    kind: str = Field(default="single", max_length=16)  # core.survey.QuestionKind
    options: list[str] = _json([])
    required: bool = Field(default=False)
    active: bool = Field(default=True)


# --------------------------------------------------------------------------------------------
# The call queue and what happened on each call
# --------------------------------------------------------------------------------------------

# QueueEntry.progress bits, set by every recorded call and never cleared.
PROGRESS_CALLED = 1  # at least one call recorded
PROGRESS_REACHED = 2  # at least one conversation
PROGRESS_COMPLETED = 4  # at least one completion


def progress_bits(*, is_conversation: bool, is_completion: bool) -> int:
    """The QueueEntry.progress bits a call with this outcome sets."""
    return (PROGRESS_CALLED | (PROGRESS_REACHED if is_conversation else 0)
            | (PROGRESS_COMPLETED if is_completion else 0))


class QueueEntry(SQLModel, table=True):
    """One contact in one campaign's queue.

    Claimable rows, each found by its own index seek (core/queue.py):
    - status='callback' with callback_owner_id = me and due_at <= now (mine first);
    - status='retry' and due_at <= now; status='callback' and release_at <= now (owner gone);
      status='leased' and due_at (= lease expiry) <= now (a tab closed, a laptop asleep);
    - status='fresh', by priority.
    """

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "contact_id"),
        sa.Index("ix_queue_claim_due", "campaign_id", "status", "due_at"),
        sa.Index("ix_queue_claim_fresh", "campaign_id", "status", "priority", "id"),
        sa.Index("ix_queue_callback_owner", "campaign_id", "callback_owner_id", "status", "due_at"),
        sa.Index("ix_queue_release", "campaign_id", "status", "release_at"),
        sa.Index("ix_queue_claimed_by", "claimed_by_id", "status"),
        # One lease per volunteer per campaign, on both backends. SQLite's single writer makes
        # the claim's own "the lease I already hold" tier enough there; on PostgreSQL fifteen
        # claims at once each saw no lease yet and took fifteen. There one volunteer's claims
        # now take turns (core/queue.py _ONE_CLAIM_AT_A_TIME) and find the first one's lease;
        # this index is the rule itself, so a lease taken any other way fails loudly.
        sa.Index("ux_queue_one_lease_per_volunteer", "campaign_id", "claimed_by_id",
                 unique=True, sqlite_where=sa.text("status = 'leased'"),
                 postgresql_where=sa.text("status = 'leased'")),
        # Dashboard progress per ward (core/stats.py::progress_by_ward): one GROUP BY in the
        # order of this covering index, no join to contact and none to callattempt. Joining
        # them cost a second at 550,000 contacts on SQLite (bench/dashboard.py), hence the
        # area and progress copied onto each entry.
        sa.Index("ix_queue_area_progress", "campaign_id", "constituency", "ward", "status",
                 "progress"),
        # The headline's queue tally (core/stats.py::queue_tally): entries per status and
        # progress bits in one covering GROUP BY, in this index's order.
        sa.Index("ix_queue_status_progress", "campaign_id", "status", "progress"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    status: str = Field(default="fresh", max_length=16)  # core.outcomes.QueueStatus
    # Higher is called sooner.
    priority: int = Field(default=0)
    attempts: int = Field(default=0)
    # Retry time, callback time, or lease expiry, depending on status.
    due_at: datetime | None = _ts()
    # A callback is its owner's until then; afterwards anyone may take it.
    release_at: datetime | None = _ts()
    claimed_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    claimed_at: datetime | None = _ts()
    # The status the row had before it was leased, restored on Skip or lease lapse.
    leased_from: str | None = Field(default=None, max_length=16)
    callback_owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    last_outcome: str | None = Field(default=None, max_length=40)
    last_attempt_at: datetime | None = _ts()
    # The contact's area, copied when queued and whenever the contact's area changes
    # (core/queue_areas.py), and PROGRESS_* bits set by each recorded call: for the dashboard.
    # Server defaults keep raw INSERTs that name neither (bench/claim.py) working.
    constituency: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
    ward: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
    progress: int = Field(default=0, sa_type=sa.SmallInteger,
                          sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _created()


class CallAttempt(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_attempt_campaign_started", "campaign_id", "started_at"),
        sa.Index("ix_attempt_campaign_outcome", "campaign_id", "outcome_code"),
        sa.Index("ix_attempt_volunteer_started", "volunteer_id", "started_at"),
        sa.Index("ix_attempt_contact", "contact_id", "campaign_id"),
        # Dashboard (core/stats.py): each index below lets one aggregate read an index range
        # alone, never the table, so it stays within 200 ms at a million attempts
        # (bench/dashboard.py). Reached / completed: distinct contacts, in index order.
        sa.Index("ix_attempt_campaign_conversation",
                 "campaign_id", "is_conversation", "contact_id", "duration_seconds"),
        sa.Index("ix_attempt_campaign_completion", "campaign_id", "is_completion", "contact_id"),
        # The leaderboard, grouped in index order.
        sa.Index("ix_attempt_campaign_volunteer",
                 "campaign_id", "volunteer_id", "is_conversation", "is_completion"),
        # Compliance: calls outside the window (should be none), over any period.
        sa.Index("ix_attempt_campaign_outside", "campaign_id", "outside_window", "started_at"),
        # Today's figures (per 15 minutes, outcomes, leaderboard) from one covering range.
        sa.Index("ix_attempt_campaign_day", "campaign_id", "started_at", "is_conversation",
                 "is_completion", "volunteer_id", "outcome_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Made by the page when the contact is shown; a double click, rerun or reconnect reuses it,
    # and the unique constraint turns a second save into a no-op.
    idempotency_key: str = Field(max_length=64, unique=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    queue_entry_id: int | None = Field(
        default=None, foreign_key="queueentry.id", ondelete="SET NULL"
    )
    volunteer_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    outcome_code: str = Field(max_length=40)
    # Copied from the outcome at save time so the dashboard aggregates without a join.
    is_conversation: bool = Field(default=False)
    is_completion: bool = Field(default=False)
    notes: str = Field(default="", max_length=5000)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = _ts()
    duration_seconds: int | None = Field(default=None)
    provider: str = Field(default="tel", max_length=16)  # core.dialing.DialerKind
    provider_call_id: str | None = Field(default=None, max_length=64, index=True)
    provider_status: str | None = Field(default=None, max_length=32)
    # Saved outside the campaign's calling window: shown on the compliance panel (should be 0).
    outside_window: bool = Field(default=False)
    created_at: datetime = _created()


# CallRollup.bucket for a campaign's all-time rows; any other value is the epoch second at which
# a 15-minute period starts (UTC). Every zone's offset is a whole number of quarter hours, so
# these periods are also the local quarter hours of every campaign's day.
ROLLUP_ALL_TIME = -1
ROLLUP_BUCKET_SECONDS = 15 * 60


class RollupCounts(SQLModel):
    """What both rollup tables count for a campaign's bucket (core/rollups.py)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    bucket: int  # ROLLUP_ALL_TIME, or the UTC epoch second a 15-minute period starts
    is_conversation: bool
    is_completion: bool
    calls: int = Field(default=0)
    talk_seconds: int = Field(default=0)  # sum of duration_seconds
    timed_calls: int = Field(default=0)  # calls with a duration


class CallRollup(RollupCounts, table=True):
    """Call attempts counted as each is saved, per volunteer: the leaderboard and a volunteer's
    own figures read at most three rows per volunteer and quarter hour (no conversation, a
    conversation, a completion) instead of every attempt of the day, so their cost stays the
    same however many calls a campaign has made (bench/dashboard.py)."""

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "bucket", "volunteer_id", "is_conversation",
                            "is_completion", name="uq_callrollup_key"),
        # A volunteer's own figures (My calls), over every campaign: their all-time rows and
        # today's quarter hours. Neither column changes when a save adds to a row.
        sa.Index("ix_callrollup_volunteer", "volunteer_id", "bucket"),
    )

    # 0 for an attempt whose volunteer is gone; no foreign key, so a deleted account's calls
    # still add up in the campaign's totals.
    volunteer_id: int = Field(default=0)


class CampaignRollup(RollupCounts, table=True):
    """The same counts per outcome, without the volunteer, for the figures that read a whole
    campaign's period (calls per quarter hour, outcomes, the headline's totals, calls outside
    the window): a day's rows are then bounded by its quarter hours and outcomes, not
    multiplied by the volunteers calling (bench/dashboard.py at 1M and 5M)."""

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "bucket", "outcome_code", "is_conversation",
                            "is_completion", "outside_window", name="uq_campaignrollup_key"),
    )

    outcome_code: str = Field(max_length=40)
    outside_window: bool


class SurveyAnswer(SQLModel, table=True):
    """One answer (one row per chosen option for multiple choice), so results aggregate in SQL."""

    __table_args__ = (
        sa.Index("ix_answer_campaign_question_value", "campaign_id", "question_id", "value"),
        # Dashboard (core/stats.py): people who answered each question, and recruits (people
        # who gave one answer), both as DISTINCT contact_id over an index in contact order.
        sa.Index("ix_answer_campaign_question_contact", "campaign_id", "question_id",
                 "contact_id"),
        sa.Index("ix_answer_campaign_question_value_contact", "campaign_id", "question_id",
                 "value", "contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="callattempt.id", ondelete="CASCADE", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    question_id: int = Field(foreign_key="surveyquestion.id", ondelete="CASCADE")
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="CASCADE", index=True
    )
    value: str = Field(max_length=2000)


class AnswerTally(SQLModel, table=True):
    """Survey answers counted as each call is saved (core/rollups.py): the dashboard's survey
    results read these few rows instead of every answer. Free-text answers are counted under
    the value "" (never listed). `respondents`, summed over a question's rows, is how many
    people answered it: each person is counted once, on one of their first answer's rows."""

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "question_id", "value", name="uq_answertally_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    question_id: int = Field(foreign_key="surveyquestion.id", ondelete="CASCADE")
    value: str = Field(max_length=500)
    answers: int = Field(default=0)
    respondents: int = Field(default=0)


# --------------------------------------------------------------------------------------------
# Continuous calling (core/dialing/session.py)
# --------------------------------------------------------------------------------------------


class CallingSession(SQLModel, table=True):
    """One volunteer's continuous session: their phone held in a conference, contacts dialled
    into it one at a time."""

    __table_args__ = (sa.Index("ix_callingsession_volunteer_status", "volunteer_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", index=True)
    volunteer_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    status: str = Field(default="connecting", max_length=16)  # core.dialing.session.SessionStatus
    # Bumped by every transition; a transition whose version moved on underneath it (a webhook
    # and a poll at once) writes nothing, so a contact is never dialled twice.
    version: int = Field(default=0)
    provider: str = Field(default="twilio", max_length=16)
    room: str = Field(max_length=64)
    volunteer_call_sid: str | None = Field(default=None, max_length=64, index=True)
    volunteer_status: str | None = Field(default=None, max_length=32)
    # The contact being dialled or talked to (a SessionCall), if any.
    current_call_id: int | None = Field(default=None)
    pause_requested: bool = Field(default=False)
    # The last thing that happened, in words, for the volunteer's screen (never a number).
    notice: str = Field(default="", max_length=300)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = _ts()


class SessionCall(SQLModel, table=True):
    """One contact dialled by a continuous session: what the line did and what was logged.

    The compliance panel counts these: live-answered and abandoned calls per campaign per 24 h.
    """

    __table_args__ = (sa.Index("ix_sessioncall_campaign_dialled", "campaign_id", "dialled_at"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="callingsession.id", ondelete="CASCADE", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    queue_entry_id: int | None = Field(
        default=None, foreign_key="queueentry.id", ondelete="SET NULL"
    )
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    call_sid: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="queued", max_length=32)  # core.dialing.CallState
    answered_by: str = Field(default="", max_length=32)  # core.dialing.AnsweredBy, "" unknown
    # A live person answered and no volunteer was there to speak (never, at 1:1).
    abandoned: bool = Field(default=False)
    # What the session did with it: talked, voicemail_left, hung_up_machine, busy, ...
    result: str = Field(default="", max_length=32)
    outcome_code: str = Field(default="", max_length=40)
    idempotency_key: str = Field(max_length=64, unique=True)
    dialled_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    answered_at: datetime | None = _ts()
    ended_at: datetime | None = _ts()


SMS_DIRECTION_VALUES = ("out", "in")
SMS_PURPOSE_VALUES = ("followup", "event_confirm", "event_remind", "event_cancel",
                      "event_reply", "invite", "reply")


_ONE_FOLLOWUP = "direction = 'out' AND purpose = 'followup' AND status <> 'failed'"


class SmsMessage(SQLModel, table=True):
    __table_args__ = (
        # One follow-up per contact and campaign, taken (as status "sending") before the text
        # goes: four clicks at once used to pass a check-then-send and text three times. A
        # failed send frees the place for another try.
        sa.Index("ux_sms_one_followup", "campaign_id", "contact_id", unique=True,
                 sqlite_where=sa.text(_ONE_FOLLOWUP), postgresql_where=sa.text(_ONE_FOLLOWUP)),
        # Twilio retries and an attacker replays signed webhooks: each inbound text once.
        sa.Index("ux_sms_inbound_provider_id", "provider_id", unique=True,
                 sqlite_where=sa.text("direction = 'in'"),
                 postgresql_where=sa.text("direction = 'in'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="CASCADE", index=True
    )
    volunteer_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    direction: str = Field(default="out", max_length=4)  # SMS_DIRECTION_VALUES
    # What the text was for (SMS_PURPOSE_VALUES): a follow-up goes once per contact and
    # campaign, which event confirmations and reminders must not count against.
    purpose: str = Field(default="followup", max_length=16,
                         sa_column_kwargs={"server_default": "followup"})
    event_signup_id: int | None = Field(default=None, foreign_key="eventsignup.id",
                                        ondelete="SET NULL", index=True)
    # The other end's number (E.164): a reply can come from a number that is not the contact's
    # main one, or from nobody we know, and erasure must find it by number all the same.
    phone: str | None = Field(default=None, max_length=20, index=True)
    body: str = Field(max_length=1600)
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="queued", max_length=32)
    error: str = Field(default="", max_length=500)
    created_at: datetime = _created()


# --------------------------------------------------------------------------------------------
# Events: what a "yes" on the phone signs someone up for (core/events.py)
# --------------------------------------------------------------------------------------------

EVENT_KIND_VALUES = ("canvass", "stall", "phone_bank", "meeting", "other")
EVENT_STATUS_VALUES = ("scheduled", "cancelled")


class Event(SQLModel, table=True):
    """A canvassing session, stall, phone bank or meeting people can be signed up for."""

    __table_args__ = (sa.Index("ix_event_status_starts", "status", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    kind: str = Field(default="canvass", max_length=16)  # EVENT_KIND_VALUES
    description: str = Field(default="", max_length=2000)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Wall-clock times are shown, duplicated and reminded in this zone.
    timezone: str = Field(default="Europe/London", max_length=64)
    place: str = Field(default="", max_length=500)  # an address; empty when online only
    online_url: str = Field(default="", max_length=500)
    constituency: str = Field(default="", max_length=120)
    ward: str = Field(default="", max_length=120)
    capacity: int | None = Field(default=None)  # None: no limit
    # Booked places, moved only by guarded UPDATEs in core/events.py (never read-then-write),
    # so two volunteers can never both take the last place.
    places_taken: int = Field(default=0)
    status: str = Field(default="scheduled", max_length=16)  # EVENT_STATUS_VALUES
    # The calendar link in texts (/events/<token>.ics) is unguessable, not the event id.
    ics_token: str = Field(max_length=32, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    cancelled_at: datetime | None = _ts()


class EventCampaign(SQLModel, table=True):
    """A campaign whose callers may offer the event."""

    event_id: int = Field(foreign_key="event.id", ondelete="CASCADE", primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", primary_key=True,
                             index=True)


class EventHelper(SQLModel, table=True):
    """A trusted volunteer an organiser chose to run the event's check-in list."""

    event_id: int = Field(foreign_key="event.id", ondelete="CASCADE", primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", primary_key=True,
                         index=True)


SIGNUP_STATUS_VALUES = ("booked", "declined", "withdrawn", "event_cancelled")


class EventSignup(SQLModel, table=True):
    """One person's place at one event: booked on a call, or a walk-in added at check-in.

    Personal data about political activity: erased with the contact (core/contacts.py).
    """

    __table_args__ = (
        sa.UniqueConstraint("event_id", "contact_id"),
        # The funnel (core/event_funnel.py): one pass per campaign over this covering range.
        sa.Index("ix_signup_campaign_funnel", "campaign_id", "contact_id", "status",
                 "confirmed_at", "attended_at", "event_id"),
        sa.Index("ix_signup_event_status", "event_id", "status"),
        sa.Index("ix_signup_volunteer", "volunteer_id", "campaign_id"),
        # Reminders: booked places not yet reminded.
        sa.Index("ix_signup_reminder", "status", "reminded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", ondelete="CASCADE")
    # None only for a walk-in who is not a contact.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE",
                                   index=True)
    # The campaign whose call signed them up, and the call itself.
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id",
                                    ondelete="SET NULL")
    attempt_id: int | None = Field(default=None, foreign_key="callattempt.id",
                                   ondelete="SET NULL")
    question_id: int | None = Field(default=None, foreign_key="surveyquestion.id",
                                    ondelete="SET NULL")
    volunteer_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    status: str = Field(default="booked", max_length=16)  # SIGNUP_STATUS_VALUES
    walk_in: bool = Field(default=False)
    # Walk-ins who are not contacts: the name (and number, if they gave one) taken at the door.
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=20)
    confirmed_at: datetime | None = _ts()
    confirmed_via: str = Field(default="", max_length=8)  # "sms" or "manual"
    reminded_at: datetime | None = _ts()
    # When they were told the event was cancelled (by text, or by the organiser by hand).
    told_cancelled_at: datetime | None = _ts()
    attended_at: datetime | None = _ts()
    checked_in_by_id: int | None = Field(default=None, foreign_key="user.id",
                                         ondelete="SET NULL")
    created_at: datetime = _created()
    cancelled_at: datetime | None = _ts()


# --------------------------------------------------------------------------------------------
# Settings and the audit trail
# --------------------------------------------------------------------------------------------


class Setting(SQLModel, table=True):
    """Organiser-editable settings that live in the database (e.g. note retention)."""

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = _created()


class AuditEvent(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_audit_action_at", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    # e.g. login, login_failed, lockout, unlock, role_change, invite_used, export, number_revealed
    action: str = Field(max_length=40)
    target: str = Field(default="", max_length=200)
    details: dict[str, Any] = _json({})
