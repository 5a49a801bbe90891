"""Demo data, so that a newcomer sees every page alive.

Made-up people in real marginal constituencies, an NHS campaign-day campaign with a script and
survey, a day of calls by eight demo volunteers, and a draft campaign. Deterministic for a seed.
Only loads into a database with no organiser (first run), so it can never mix with real data.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from core import calling_hours, events, rollups
from core.accounts import create_user, hash_password
from core.outcomes import (
    Behaviour,
    EntryState,
    QueueStatus,
    default_outcome_rows,
    do_not_call_reason,
    transition,
)
from core.phones import InvalidPhone, normalise_phone
from core.setup import SetupClosed
from core.users import organiser_exists
from db.models import (
    CallAttempt,
    Campaign,
    Contact,
    EventSignup,
    ImportBatch,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)

DEMO_PASSWORD = "ringround-demo"
DEMO_VOLUNTEERS = 8

CONSTITUENCIES: dict[str, tuple[str, list[str]]] = {
    # name: (landline area code, wards)
    "Crewe and Nantwich": (
        "1270",
        [
            "Crewe Central",
            "Crewe East",
            "Crewe North",
            "Nantwich North and West",
            "Nantwich South and Stapeley",
            "Wistaston",
            "Shavington",
        ],
    ),
    "Hastings and Rye": (
        "1424",
        [
            "Old Hastings",
            "Central St Leonards",
            "Braybrooke",
            "Ore",
            "Rye and Winchelsea",
            "Silverhill",
            "Tressell",
        ],
    ),
    "Bedford": (
        "1234",
        ["Castle", "Kingsbrook", "Harpur", "De Parys", "Cauldwell", "Goldington", "Queens Park"],
    ),
    "Stroud": ("1453", ["Stroud Central", "Nailsworth", "Cainscross", "Dursley"]),
    "Worthing West": ("1903", ["Heene", "Marine", "Goring", "Tarring"]),
}
MARGINALS = ("Crewe and Nantwich", "Hastings and Rye", "Bedford")

FIRST_NAMES = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Grace",
    "Freya",
    "Lily",
    "Sophia",
    "Ella",
    "Priya",
    "Aisha",
    "Fatima",
    "Zara",
    "Siobhan",
    "Megan",
    "Rhiannon",
    "Joanne",
    "Margaret",
    "Susan",
    "Oliver",
    "George",
    "Noah",
    "Arthur",
    "Muhammad",
    "Leo",
    "Harry",
    "Oscar",
    "Jack",
    "Jacob",
    "Thomas",
    "Ravi",
    "Tariq",
    "Kwame",
    "Declan",
    "Owen",
    "Gareth",
    "David",
    "Michael",
    "Peter",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Patel",
    "Khan",
    "Begum",
    "Ahmed",
    "Singh",
    "O'Brien",
    "Murphy",
    "Kowalski",
    "Nowak",
    "Okafor",
    "Mensah",
    "Campbell",
    "Stewart",
    "MacDonald",
    "Lewis",
    "Clarke",
    "Hill",
]
TAGS = ["member", "nhs_supporter", "volunteer", "donor", "union", "newsletter"]
BRANCHES = ["North", "South", "Town centre", "Villages"]

SCRIPT = """### Hi {first_name}, it's {volunteer_name} from the Ringround NHS campaign

I'm a volunteer calling members in **{constituency}** about this Saturday's NHS campaign day.
Have you got two minutes?

- Local waiting lists are among the longest in the region, and our MP's seat is on a knife edge.
- On Saturday we're out in {ward} and across {constituency}, talking to neighbours about the NHS.

**Ask the survey questions below**, then thank them. If they'd like to help, tell them we'll text
the details for Saturday. If they ask not to be called again, choose *Do not call again*.
"""

ISSUES = ["Waiting lists", "GP appointments", "Staffing", "Mental health", "A&E"]
# (text, kind, options, required)
QUESTIONS: list[tuple[str, str, list[str], bool]] = [
    ("Will you join Saturday's NHS action?", "yes_no", ["Yes", "No"], True),
    (
        "How much will the NHS decide your vote? (1 = not at all, 5 = completely)",
        "scale",
        ["1", "2", "3", "4", "5"],
        False,
    ),
    ("Which NHS issues matter most to you?", "multi", ISSUES, False),
    ("Which of our events can you come to?", "event_signup", [], False),
    ("Anything they want the organisers to know?", "text", [], False),
]

# Outcome mix for the day of history (weights).
OUTCOME_WEIGHTS = {
    "completed": 22,
    "refused": 9,
    "no_answer": 34,
    "voicemail": 14,
    "busy": 5,
    "wrong_number": 3,
    "call_back": 6,
    "do_not_call": 2,
    "moved_deceased": 1,
}


def _phone(rng: random.Random, kind: str, area: str, used: set[str]) -> str:
    while True:
        if kind == "mobile":
            prefix = rng.choice(["400", "401", "402", "403", "404", "405"])
            raw = f"07{prefix}{rng.randint(0, 999999):06d}"
        else:
            raw = f"0{area}{rng.randint(200000, 899999):06d}"
        try:
            e164 = normalise_phone(raw).e164
        except InvalidPhone:
            continue
        if e164 not in used:
            used.add(e164)
            return e164


def _make_contacts(rng: random.Random, count: int, batch_id: int, now: datetime) -> list[dict]:
    used: set[str] = set()
    rows = []
    names = list(CONSTITUENCIES)
    weights = [30, 25, 25, 10, 10]
    for _ in range(count):
        constituency = rng.choices(names, weights)[0]
        area, wards = CONSTITUENCIES[constituency]
        kind = "mobile" if rng.random() < 0.8 else "landline"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tags = sorted(set(rng.sample(TAGS, rng.randint(1, 3))) | {"member"})
        rows.append(
            {
                "phone": _phone(rng, kind, area, used),
                "phone_type": kind,
                "other_phones": [],
                "phone_notes": {},
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{rng.randint(1, 999)}@example.org".lower().replace(
                    "'", ""
                ),
                "postcode": "",
                "constituency": constituency,
                "ward": rng.choice(wards),
                "membership_number": f"M{rng.randint(100000, 999999)}",
                "tags": "," + ",".join(tags) + ",",
                "tps": rng.random() < 0.06,
                "consenting_member": rng.random() < 0.5,
                "bad_number": False,
                "custom": {"branch": rng.choice(BRANCHES), "joined": str(rng.randint(2012, 2026))},
                "import_batch_id": batch_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def demo_calling_span(window: calling_hours.Window, now: datetime,
                      zone_name: str = calling_hours.DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """When the demo's calls happened: today, up to five minutes ago, inside today's calling
    window when it has been open for half an hour; otherwise the last two hours of today (so a
    newcomer's dashboard is live whatever the hour, and honest about calls outside hours)."""
    zone = calling_hours.zone(zone_name)
    local_now = now.astimezone(zone)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    end = now - timedelta(minutes=5)
    span = window.get(str(local_now.weekday())) or []
    if span:
        opens = datetime.combine(local_now.date(), time.fromisoformat(span[0]), tzinfo=zone)
        closes = calling_hours.closes_at(window, zone, now)
        if now - opens.astimezone(UTC) >= timedelta(minutes=30):
            start = opens.astimezone(UTC)
            if closes is None:  # after today's close: the whole of today's window
                day_end = ("00:00" if span[1] == "24:00" else span[1])
                closing = datetime.combine(local_now.date(), time.fromisoformat(day_end),
                                           tzinfo=zone).astimezone(UTC)
                end = min(end, closing - timedelta(minutes=1))
            return start, max(end, start + timedelta(minutes=1))
    return max(midnight, now - timedelta(hours=2)), max(end, midnight + timedelta(minutes=1))


def load_demo(
    *, session: Session, contacts: int = 3000, seed: int = 2026, now: datetime | None = None
) -> dict[str, int]:
    """Fill an empty Ringround with demo data and return what was made.

    Raises:
        SetupClosed: an organiser already exists (demo data never mixes with real data).
    """
    if organiser_exists(session=session):
        raise SetupClosed("Ringround already has an organiser; the demo only loads on first run.")
    if contacts < 50:
        raise ValueError("the demo needs at least 50 contacts")
    rng = random.Random(seed)
    now = now or datetime.now(UTC)

    organiser = create_user(
        session=session,
        username="organiser",
        name="Dana Organiser",
        email="organiser@demo.ringround.invalid",
        password=DEMO_PASSWORD,
        role="organiser",
    )
    # One hash for all volunteers: bcrypt is slow by design and these share a password.
    volunteer_hash = hash_password(DEMO_PASSWORD)
    volunteer_names = [
        "Sam Okoro",
        "Priya Shah",
        "Tom Hughes",
        "Ellie Wright",
        "Jamal Ahmed",
        "Ruth Campbell",
        "Ben Kowalski",
        "Carys Evans",
    ]
    volunteers = []
    for i, name in enumerate(volunteer_names[:DEMO_VOLUNTEERS], start=1):
        user = User(
            username=f"volunteer{i}",
            name=name,
            email=f"volunteer{i}@demo.ringround.invalid",
            password_hash=volunteer_hash,
            role="volunteer",
        )
        session.add(user)
        volunteers.append(user)
    session.flush()

    batch = ImportBatch(
        filename="demo-members.csv",
        created_by_id=organiser.id,
        status="done",
        encoding="utf-8",
        delimiter=",",
        total_rows=contacts,
        inserted=contacts,
        finished_at=now,
        seconds=0.4,
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    rows = _make_contacts(rng, contacts, batch.id, now)
    session.execute(sa.insert(Contact), rows)
    contact_rows = session.execute(
        sa.select(
            col(Contact.id),
            col(Contact.phone),
            col(Contact.constituency),
            col(Contact.ward),
            col(Contact.tps),
            col(Contact.consenting_member),
        ).order_by(col(Contact.id))
    ).all()

    suppressed = {row.phone for row in rng.sample(contact_rows, max(3, contacts // 200))}
    session.execute(
        sa.insert(Suppression),
        [
            {
                "phone": phone,
                "reason": "Asked not to be contacted (demo)",
                "source": "organiser",
                "created_by_id": organiser.id,
                "created_at": now - timedelta(days=30),
            }
            for phone in sorted(suppressed)
        ],
    )

    campaign = Campaign(
        name="NHS campaign day – Saturday",
        status="active",
        description="Ring members in our three marginal seats and recruit for Saturday's action.",
        script=SCRIPT,
        created_by_id=organiser.id,
        sms_template=(
            "Thanks {first_name}! Saturday's NHS action in {constituency}: meet 10am. "
            "Details: https://example.org/nhs-day Reply STOP to opt out."
        ),
    )
    draft = Campaign(
        name="Bedford GP access survey",
        status="draft",
        created_by_id=organiser.id,
        script="Hello {first_name}, we're asking Bedford members about GP access.",
    )
    session.add_all([campaign, draft])
    session.flush()
    assert campaign.id is not None and draft.id is not None
    outcomes = {outcome.code: outcome for outcome in default_outcome_rows(campaign.id)}
    session.add_all([*outcomes.values(), *default_outcome_rows(draft.id)])
    questions = []
    for position, (text, kind, options, required) in enumerate(QUESTIONS):
        question = SurveyQuestion(
            campaign_id=campaign.id,
            position=position,
            text=text,
            kind=kind,
            options=list(options),
            required=required,
        )
        session.add(question)
        questions.append(question)
    session.flush()
    campaign.recruit_rule = {"question_id": questions[0].id, "value": "Yes"}
    session.add(campaign)

    eligible = [
        r
        for r in contact_rows
        if r.constituency in MARGINALS
        and r.phone not in suppressed
        and (not r.tps or r.consenting_member)
    ]
    queue_rows = [
        {
            "campaign_id": campaign.id,
            "contact_id": r.id,
            "status": QueueStatus.FRESH,
            "priority": 0,
            "attempts": 0,
            "constituency": r.constituency,
            "ward": r.ward,
            "created_at": now - timedelta(days=1),
        }
        for r in eligible
    ]
    session.execute(sa.insert(QueueEntry), queue_rows)
    entry_ids: dict[int, int] = dict(
        session.execute(
            sa.select(col(QueueEntry.contact_id), col(QueueEntry.id)).where(
                col(QueueEntry.campaign_id) == campaign.id
            )
        ).all()
    )

    start, end = demo_calling_span(campaign.calling_window or calling_hours.default_window(),
                                   now)
    span = (end - start).total_seconds()
    called = rng.sample(eligible, min(len(eligible), max(40, len(eligible) // 4)))
    codes, weights = zip(*OUTCOME_WEIGHTS.items(), strict=True)
    attempts, answers, queue_updates, contact_updates = [], [], [], []
    for contact in called:
        volunteer = rng.choice(volunteers)
        started = start + timedelta(seconds=rng.uniform(0, span))
        code = rng.choices(codes, weights)[0]
        outcome = outcomes[code]
        duration = rng.randint(90, 420) if outcome.is_conversation else rng.randint(8, 40)
        key = uuid.UUID(int=rng.getrandbits(128)).hex
        attempts.append(
            {
                "idempotency_key": key,
                "campaign_id": campaign.id,
                "contact_id": contact.id,
                "queue_entry_id": entry_ids[contact.id],
                "volunteer_id": volunteer.id,
                "outcome_code": code,
                "is_conversation": outcome.is_conversation,
                "is_completion": outcome.is_completion,
                "notes": "",
                "started_at": started,
                "ended_at": started + timedelta(seconds=duration),
                "duration_seconds": duration,
                "provider": "tel",
                "outside_window": not calling_hours.is_open(
                    campaign.calling_window or calling_hours.default_window(),
                    campaign.timezone or calling_hours.DEFAULT_TIMEZONE, started),
                "created_at": started + timedelta(seconds=duration),
            }
        )
        # A volunteer picks a time only for a callback (and the demo draws one only then, so a
        # seed's data stays as it was).
        callback_at = (now + timedelta(hours=rng.randint(1, 20))
                       if outcome.behaviour == Behaviour.CALLBACK else None)
        # Each demo contact is called once, and the call does exactly what a real save does.
        change = transition(
            outcome,
            EntryState(attempts=0, max_attempts=campaign.max_attempts,
                       callback_grace_minutes=campaign.callback_grace_minutes),
            started,
            callback_at,
        )
        queue_updates.append(
            {
                "b_id": entry_ids[contact.id],
                "b_status": change.status,
                "b_due": change.due_at,
                "b_release": change.release_at,
                "b_owner": volunteer.id if change.owns_callback else None,
                "b_outcome": code,
                "b_at": started,
                "b_attempts": change.attempts,
                "b_progress": change.progress,
            }
        )
        contact_updates.append(
            {"b_cid": contact.id, "b_at": started, "b_bad": change.bad_number}
        )
        if change.suppress:
            session.add(
                Suppression(
                    phone=contact.phone,
                    reason=do_not_call_reason(campaign.name),
                    source="outcome",
                    created_by_id=volunteer.id,
                    created_at=started,
                )
            )
        if outcome.is_completion:
            answers.append(
                (key, contact.id, questions[0].id, rng.choices(["Yes", "No"], [45, 55])[0])
            )
            answers.append(
                (
                    key,
                    contact.id,
                    questions[1].id,
                    str(rng.choices(range(1, 6), [5, 10, 20, 30, 35])[0]),
                )
            )
            for issue in rng.sample(ISSUES, rng.randint(1, 2)):
                answers.append((key, contact.id, questions[2].id, issue))
    session.execute(sa.insert(CallAttempt), attempts)
    # Written in bulk, so counted for the dashboard in bulk too.
    rollups.rebuild(session=session, campaign_id=campaign.id)
    attempt_ids: dict[str, int] = dict(
        session.execute(
            sa.select(col(CallAttempt.idempotency_key), col(CallAttempt.id)).where(
                col(CallAttempt.campaign_id) == campaign.id
            )
        ).all()
    )
    if answers:
        session.execute(
            sa.insert(SurveyAnswer),
            [
                {
                    "attempt_id": attempt_ids[key],
                    "campaign_id": campaign.id,
                    "question_id": qid,
                    "contact_id": cid,
                    "value": value,
                }
                for key, cid, qid, value in answers
            ],
        )
        rollups.rebuild_survey(session=session, campaign_ids=[campaign.id])
    q = SQLModel.metadata.tables["queueentry"]
    session.execute(
        q.update()
        .where(q.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            due_at=sa.bindparam("b_due"),
            release_at=sa.bindparam("b_release"),
            callback_owner_id=sa.bindparam("b_owner"),
            last_outcome=sa.bindparam("b_outcome"),
            last_attempt_at=sa.bindparam("b_at"),
            attempts=sa.bindparam("b_attempts"),
            progress=sa.bindparam("b_progress"),
        ),
        queue_updates,
    )
    contact_table = SQLModel.metadata.tables["contact"]
    session.execute(
        contact_table.update()
        .where(contact_table.c.id == sa.bindparam("b_cid"))
        .values(last_contacted_at=sa.bindparam("b_at"), bad_number=sa.bindparam("b_bad")),
        contact_updates,
    )
    signups = _demo_events(session, rng=rng, campaign=campaign, organiser_id=organiser.id,
                           question_id=int(questions[3].id or 0), volunteers=volunteers, now=now,
                           yes_calls=[(cid, attempt_ids[key]) for key, cid, qid, value in answers
                                      if qid == questions[0].id and value == "Yes"])
    session.flush()
    return {
        "contacts": contacts,
        "queued": len(queue_rows),
        "calls": len(attempts),
        "signups": signups,
        "volunteers": len(volunteers),
        "suppressed": len(suppressed),
    }


def _demo_events(session: Session, *, rng: random.Random, campaign: Campaign, organiser_id: int,
                 question_id: int, volunteers: list[User], now: datetime,
                 yes_calls: list[tuple[int, int]]) -> int:
    """Saturday canvasses in each marginal seat and an online phone bank; today's yeses booked
    on the one in their seat; yesterday's stall with its check-ins, so the funnel is alive."""
    assert campaign.id is not None
    tz = calling_hours.zone(campaign.timezone)
    today = now.astimezone(tz).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    seat_events: dict[str, int] = {}
    for seat, place in (("Crewe and Nantwich", "Crewe Library, Prince Albert St, CW1 2DH"),
                        ("Hastings and Rye", "Hastings Town Hall, Queens Rd, TN34 1QR"),
                        ("Bedford", "Bedford Corn Exchange, St Paul's Sq, MK40 1SL")):
        seat_events[seat] = events.create_event(session=session, actor_id=organiser_id, now=now,
                                                draft=events.EventDraft(
            title=f"NHS day canvass, {seat}", day=saturday, start=time(10, 0), end=time(13, 0),
            place=place, constituency=seat, capacity=25, campaign_ids=(campaign.id,),
            description="Door knocking on the NHS in pairs; training at 10:00, tea after."))
    events.create_event(session=session, actor_id=organiser_id, now=now, draft=events.EventDraft(
        title="Evening phone bank (online)", kind=events.EventKind.PHONE_BANK,
        day=saturday - timedelta(days=3), start=time(18, 30), end=time(20, 30),
        online_url="https://meet.example.org/nhs-phone-bank", capacity=40,
        campaign_ids=(campaign.id,), description="Call members from home with Ringround."))
    seats = dict(session.execute(sa.select(col(Contact.id), col(Contact.constituency))
                                 .where(col(Contact.id).in_([c for c, _ in yes_calls]))).all())
    booked = 0
    for contact_id, attempt_id in yes_calls:
        event_id = seat_events.get(seats.get(contact_id, ""))
        if event_id is None or rng.random() > 0.7:
            continue
        try:
            result = events.sign_up(session=session, event_ids=[event_id], contact_id=contact_id,
                                    campaign_id=campaign.id, attempt_id=attempt_id,
                                    question_id=question_id,
                                    volunteer_id=rng.choice(volunteers).id, now=now)
        except events.SignupRefused:
            continue  # full: as a caller would find it
        booked += len(result.signup_ids)
        if rng.random() < 0.8:
            session.execute(sa.update(EventSignup).where(
                col(EventSignup.id).in_(result.signup_ids)).values(
                confirmed_at=now, confirmed_via="manual"))
    # Yesterday's stall: booked a week ago from earlier calls, checked in at the table.
    yesterday = today - timedelta(days=1)
    stall = events.create_event(session=session, actor_id=organiser_id,
                                now=now - timedelta(days=8), draft=events.EventDraft(
        title="Hastings street stall", kind=events.EventKind.STALL, day=yesterday,
        start=time(11, 0), end=time(14, 0), place="Robertson St, Hastings TN34 1HL",
        constituency="Hastings and Rye", capacity=12, campaign_ids=(campaign.id,)))
    week_ago = now - timedelta(days=7)
    earlier = session.execute(
        sa.select(col(Contact.id)).where(col(Contact.constituency) == "Hastings and Rye",
                                         col(Contact.id).not_in(list(seats)))
        .order_by(col(Contact.id)).limit(10)).scalars().all()
    for n, contact_id in enumerate(earlier):
        result = events.sign_up(session=session, event_ids=[stall], contact_id=contact_id,
                                campaign_id=campaign.id, volunteer_id=volunteers[n % 3].id,
                                now=week_ago)
        booked += 1
        values: dict[str, Any] = {"confirmed_at": week_ago, "confirmed_via": "manual"}
        if n < 7:  # seven came, three did not
            values.update(attended_at=week_ago + timedelta(days=6, hours=13),
                          checked_in_by_id=organiser_id)
        session.execute(sa.update(EventSignup).where(
            col(EventSignup.id) == result.signup_ids[0]).values(**values))
    session.add(EventSignup(event_id=stall, walk_in=True, name="Walk-in at the stall",
                            status="booked", attended_at=now - timedelta(hours=20),
                            checked_in_by_id=organiser_id, created_at=now - timedelta(hours=20)))
    return booked


__all__ = ["DEMO_PASSWORD", "SetupClosed", "load_demo"]
