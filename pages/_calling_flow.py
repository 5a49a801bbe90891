"""The calling page's flow: which campaign, which contact, its lease, and save / skip / stop.

Everything the flow remembers lives in one mapping (st.session_state on the page, a plain dict in
tests) as plain values, so it can be driven and tested without a browser. It never imports
streamlit: the page draws the screen and calls these methods; each method is one core.queue
action in its own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core import calling_hours, queue
from core.campaigns import CampaignView, OutcomeView
from core.outcomes import Behaviour
from core.runtime import Database, DatabaseUnavailable, database_answering
from core.script import escape_markdown
from core.survey import AnswerError

CAMPAIGN = "calling_campaign_id"
CONTACT = "calling_contact"  # a core.queue.ClaimedContact (a plain frozen dataclass)
ATTEMPT_KEY = "calling_attempt_key"  # made when a contact is shown; reused by every save retry
SHOWN_AT = "calling_shown_at"
RENEWED = "calling_lease_renewed_until"
REVEALED = "calling_revealed"  # the number the volunteer tapped Call for (audited)
DIAL = "calling_dial_link"  # the Call link's tel: address for the contact on screen
SKIPPED = "calling_skipped"
SESSION_START = "calling_session_started"
CONFIRMED = "calling_confirmed"
NOTICE = "calling_notice"
SUGGESTED = "calling_suggested_applied"
PROBLEMS = "calling_problems"  # what stopped the last Save: (level, [messages]), shown once
CALL_RESULT = "calling_call_result"  # the bridged call's final state, as the form last saw it
# Every form widget's key ends with the contact's queue entry id: a stale second click on
# "Save and next" then names widgets that do not exist for the next contact, so it can neither
# save nor pre-select anything against the wrong person.
FORM_PREFIXES = ("calling_outcome_", "calling_notes_", "calling_callback_date_",
                 "calling_callback_time_", "calling_q_", "calling_save_", "calling_skip_",
                 "calling_dial_", "calling_dnc_confirm_")
PER_CONTACT = (CONTACT, ATTEMPT_KEY, SHOWN_AT, REVEALED, DIAL, SUGGESTED, RENEWED, CALL_RESULT)
PER_CAMPAIGN = (CAMPAIGN, SKIPPED, SESSION_START, CONFIRMED)
# A lease is renewed once it is this old: every click is a rerun, and a write per click is what
# thirty volunteers queue on.
RENEW_AFTER = timedelta(seconds=30)
DNC_CONFIRM_NEEDED = ("“Do not call again” takes this number out of every campaign: tick "
                      "“Yes, never call this number again” first.")


def form_key(name: str, contact: queue.ClaimedContact) -> str:
    """The widget key for one form field of the contact on screen."""
    return f"{name}_{contact.queue_entry_id}"


@dataclass(frozen=True)
class Problems:
    """Why the last Save did not go through, shown once: level is "warning" or "error"."""

    level: str
    messages: tuple[str, ...]


class CallingFlow:
    """One volunteer's calling session, kept in `state` between page runs."""

    def __init__(
        self,
        state: MutableMapping[Any, Any],
        *,
        database: Database,
        volunteer_id: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        after_save: Callable[[queue.RecordedOutcome], str] | None = None,
    ) -> None:
        self.state = state
        self.database = database
        self.volunteer_id = volunteer_id
        self.clock = clock
        # Runs once a save that booked event places has committed (the confirmation texts);
        # what it returns is added to the volunteer's confirmation.
        self.after_save = after_save

    # ---- the campaign ------------------------------------------------------------------------

    @property
    def campaign_id(self) -> int | None:
        value = self.state.get(CAMPAIGN)
        return None if value is None else int(value)

    @property
    def session_started_at(self) -> datetime:
        return self.state.get(SESSION_START) or self.clock()

    @property
    def skipped(self) -> list[int]:
        return list(self.state.get(SKIPPED, []))

    def start(self, campaign_id: int) -> None:
        """Begin calling a campaign: a new session tally, nobody skipped yet."""
        self.state[CAMPAIGN] = campaign_id
        self.state[SESSION_START] = self.clock()
        self.state[SKIPPED] = []

    def forget_campaign(self) -> None:
        self.forget_contact()
        for name in PER_CAMPAIGN:
            self.state.pop(name, None)

    def stop(self) -> None:
        """Release whatever this volunteer holds in the campaign and go back to the choice."""
        campaign_id = self.campaign_id
        if campaign_id is not None:
            with self.database.write() as session:
                queue.stop(session=session, campaign_id=campaign_id,
                           volunteer_id=self.volunteer_id, now=self.clock())
        self.forget_campaign()

    def check_again(self) -> None:
        """Offer the contacts skipped this session once more."""
        self.state[SKIPPED] = []

    # ---- the contact on screen ---------------------------------------------------------------

    @property
    def contact(self) -> queue.ClaimedContact | None:
        return self.state.get(CONTACT)

    @property
    def attempt_key(self) -> str:
        return str(self.state[ATTEMPT_KEY])

    @property
    def lease_expires_at(self) -> datetime | None:
        contact = self.contact
        if contact is None:
            return None
        return self.state.get(RENEWED) or contact.lease_expires_at

    def key(self, name: str) -> str:
        """The widget key for a form field of the contact on screen."""
        contact = self.contact
        assert contact is not None, "no contact on screen"
        return form_key(name, contact)

    def forget_contact(self) -> None:
        for name in PER_CONTACT:
            self.state.pop(name, None)
        for name in list(self.state.keys()):
            if str(name).startswith(FORM_PREFIXES):
                del self.state[name]

    def lease_is_getting_old(self, expiry: datetime | None, lease_minutes: int) -> bool:
        """True once the lease is 30 s old. One rule for full runs and the heartbeat, so the
        two never disagree about whether the lease was checked."""
        lease = timedelta(minutes=lease_minutes)
        return expiry is None or expiry - self.clock() < lease - RENEW_AFTER

    def keep_lease(self, lease_minutes: int, outcome_labels: Mapping[str, str]) -> bool:
        """Renew the held contact's lease if it is getting old; False if it was lost.

        A lost contact is forgotten, with a notice (or, when its save had in fact committed
        before a reconnect, that save's confirmation): the page then starts a fresh run, so no
        click meant for this contact lands on the next one.
        """
        contact = self.contact
        if contact is None or not self.lease_is_getting_old(self.state.get(RENEWED),
                                                            lease_minutes):
            return True
        try:
            with self.database.write() as session:
                self.state[RENEWED] = queue.renew_lease(
                    session=session, queue_entry_id=contact.queue_entry_id,
                    volunteer_id=self.volunteer_id, now=self.clock())
            return True
        except queue.LeaseLost as exc:
            with self.database.session() as session:
                earlier = queue.saved_outcome(session=session,
                                              idempotency_key=self.state[ATTEMPT_KEY])
            if earlier is not None:
                label = outcome_labels.get(earlier.outcome_code, earlier.outcome_code)
                self._confirm(earlier, contact.name, label=label)
            else:
                self.state[NOTICE] = str(exc)
            self.forget_contact()
            return False

    def heartbeat(self, lease_minutes: int) -> datetime | None:
        """The timer's lease renewal: the expiry, or None when the lease was lost.

        On a loss only the renewal time is forgotten, so the full run re-checks the lease and
        drops the contact with a notice (forgetting more here made each run's heartbeat rerun
        the app again).
        """
        held = self.contact
        if held is None:
            return None
        expiry: datetime = self.state.get(RENEWED) or held.lease_expires_at
        if self.lease_is_getting_old(expiry, lease_minutes):
            try:
                with self.database.write() as session:
                    expiry = queue.renew_lease(session=session,
                                               queue_entry_id=held.queue_entry_id,
                                               volunteer_id=self.volunteer_id, now=self.clock())
            except queue.LeaseLost:
                self.state.pop(RENEWED, None)
                return None
            self.state[RENEWED] = expiry
        return expiry

    def next_contact(self) -> queue.ClaimedContact | None:
        """The contact to show: the one held, else the next one claimed (None: nobody waiting).

        Raises:
            queue.CallingClosed, queue.CampaignNotActive, queue.NotAllowedToCall
        """
        if self.contact is not None:
            return self.contact
        campaign_id = self.campaign_id
        assert campaign_id is not None, "no campaign started"
        # retrying(): a busy SQLite write lock is waited out instead of shown as an error.
        contact = self.database.retrying(lambda session: queue.claim_next_contact(
            session=session, campaign_id=campaign_id, volunteer_id=self.volunteer_id,
            now=self.clock(), exclude_entry_ids=self.skipped,
        ))
        if contact is None:
            return None
        self.forget_contact()
        self.state[CONTACT] = contact
        self.state[ATTEMPT_KEY] = uuid.uuid4().hex
        self.state[SHOWN_AT] = self.clock()
        self.state[RENEWED] = contact.lease_expires_at
        return contact

    @property
    def revealed(self) -> queue.RevealedNumber | None:
        return self.state.get(REVEALED)

    def dial_link(self) -> str:
        """The tel: address for the one-tap Call link (the number is shown nowhere until the
        tap, and the tap is audited by record_dial).

        Raises:
            queue.LeaseLost: the contact is forgotten; show the message and rerun.
        """
        contact = self.contact
        assert contact is not None, "no contact on screen"
        if DIAL not in self.state:
            try:
                with self.database.session() as session:
                    number = queue.number_to_dial(session=session,
                                                  queue_entry_id=contact.queue_entry_id,
                                                  volunteer_id=self.volunteer_id)
            except queue.LeaseLost:
                self.forget_contact()
                raise
            self.state[DIAL] = number.tel_uri
        return str(self.state[DIAL])

    def record_dial(self, contact: queue.ClaimedContact) -> None:
        """The Call link's on_click: audit the reveal and show the number being dialled.

        It runs at the start of the run the tap starts, before anything else on the page.
        """
        if self.contact is None or self.contact.queue_entry_id != contact.queue_entry_id:
            return
        try:
            self.reveal_number()
        except queue.LeaseLost as exc:
            self.state[NOTICE] = str(exc)

    def reveal_number(self) -> queue.RevealedNumber:
        """The held contact's number, audited; kept for this contact only.

        Raises:
            queue.LeaseLost: the contact is forgotten; show the message and rerun.
        """
        contact = self.contact
        assert contact is not None, "no contact on screen"
        try:
            with self.database.write() as session:
                revealed = queue.reveal_number(
                    session=session, queue_entry_id=contact.queue_entry_id,
                    volunteer_id=self.volunteer_id, now=self.clock())
        except queue.LeaseLost:
            self.forget_contact()
            raise
        self.state[REVEALED] = revealed
        return revealed

    def suggest_outcome(self, code: str | None, codes: Iterable[str]) -> None:
        """Pre-select the bridged call's suggested outcome once (the volunteer may change it)."""
        if code in set(codes) and not self.state.get(SUGGESTED):
            self.state[self.key("calling_outcome")] = code
            self.state[SUGGESTED] = True

    def remember_call_result(self, call_result: Any) -> None:
        self.state[CALL_RESULT] = call_result

    # ---- what the last action left to say ----------------------------------------------------

    @property
    def confirmation(self) -> str | None:
        """Kept (not popped) until the next save replaces it: a run interrupted by another
        rerun would otherwise swallow the only confirmation the volunteer gets."""
        return self.state.get(CONFIRMED)

    def take_notice(self) -> str | None:
        return self.state.pop(NOTICE, None)

    def take_problems(self) -> Problems | None:
        value = self.state.pop(PROBLEMS, None)
        if value is None:
            return None
        level, messages = value
        return Problems(level=level, messages=tuple(messages))

    def _problem(self, level: str, messages: Sequence[str]) -> None:
        self.state[PROBLEMS] = (level, list(messages))

    def _confirm(self, saved: queue.RecordedOutcome, name: str, *, label: str) -> None:
        already = " (it was already saved)" if saved.duplicate else ""
        self.state[CONFIRMED] = (
            f"Saved “{escape_markdown(label)}” for {escape_markdown(name)}{already}."
        )

    # ---- save, skip ---------------------------------------------------------------------------

    def callback_at(self, outcome: OutcomeView, zone_name: str) -> datetime | None:
        """The callback time picked on the form, in UTC (None unless the outcome asks one)."""
        if outcome.behaviour != Behaviour.CALLBACK:
            return None
        day: date | None = self.state.get(self.key("calling_callback_date"))
        at: time | None = self.state.get(self.key("calling_callback_time"))
        if day is None or at is None:
            return None
        return datetime.combine(day, at, tzinfo=calling_hours.zone(zone_name)).astimezone(UTC)

    def save_and_next(
        self,
        contact: queue.ClaimedContact,
        *,
        campaign: CampaignView,
        outcomes: Sequence[OutcomeView],
        question_ids: Sequence[int],
    ) -> None:
        """Record what the form holds for `contact`, then confirm it and forget the contact.

        Meant as the Save button's on_click: it runs before the page does, so the same run that
        saves also claims and draws the next contact (one run per save, not two), and no rerun
        request can interrupt it between the commit and the confirmation. What stopped a save
        is left for take_problems(); a lost lease leaves a notice and forgets the contact.
        """
        if self.contact is None or self.contact.queue_entry_id != contact.queue_entry_id:
            return  # a late click for a contact no longer on screen
        state = self.state
        outcome_code = state.get(self.key("calling_outcome"))
        outcome = next((o for o in outcomes if o.code == outcome_code), None)
        if outcome_code is None:
            self._problem("warning", ["Pick an outcome first."])
            return
        if outcome is not None and outcome.behaviour == Behaviour.DO_NOT_CALL and not state.get(
                self.key("calling_dnc_confirm")):
            # It takes the number out of every campaign, so a slip of the finger must not do it.
            self._problem("warning", [DNC_CONFIRM_NEEDED])
            return
        callback_at = self.callback_at(outcome, campaign.timezone) if outcome else None
        answers = {qid: state.get(self.key(f"calling_q_{qid}")) for qid in question_ids}
        call_result = state.get(CALL_RESULT)
        try:
            # Retried with the same idempotency key, so a retry can never record twice.
            with database_answering():
                saved = self.database.retrying(lambda session: queue.record_outcome(
                    session=session, queue_entry_id=contact.queue_entry_id,
                    volunteer_id=self.volunteer_id,
                    outcome_code=outcome_code, idempotency_key=state[ATTEMPT_KEY],
                    answers={qid: value for qid, value in answers.items()
                             if value not in (None, "", [])},
                    notes=state.get(self.key("calling_notes")) or "",
                    started_at=state.get(SHOWN_AT, self.clock()), now=self.clock(),
                    callback_at=callback_at,
                    provider=getattr(call_result, "provider", None) or campaign.dialer,
                    provider_call_id=getattr(call_result, "provider_call_id", None),
                    provider_status=getattr(call_result, "provider_status", None),
                    duration_seconds=getattr(call_result, "duration_seconds", None),
                ))
        except AnswerError as exc:
            self._problem("error", list(exc.problems.values()))
            return
        except (queue.CallbackTimeNeeded, queue.CallbackLimitReached,
                queue.UnknownOutcome) as exc:
            self._problem("error", [str(exc)])
            return
        except queue.LeaseLost as exc:
            state[NOTICE] = str(exc)
            self.forget_contact()
            return
        except DatabaseUnavailable:
            self._problem("error", [
                "The database did not answer, so this call is not confirmed yet. Press "
                "“Save and next” again: it can never be recorded twice."])
            return
        # Only now, with the transaction committed, does the volunteer see it confirmed.
        self._confirm(saved, contact.name, label=outcome.label if outcome else outcome_code)
        if saved.signup_ids and not saved.duplicate and self.after_save is not None:
            note = self.after_save(saved)
            if note:
                state[CONFIRMED] = f"{state[CONFIRMED]} {note}"
        self.forget_contact()

    def skip(self, contact: queue.ClaimedContact) -> None:
        """Hand the contact back untouched; the next page run shows the next one."""
        if self.contact is None or self.contact.queue_entry_id != contact.queue_entry_id:
            return
        with self.database.write() as session:
            queue.release(session=session, queue_entry_id=contact.queue_entry_id,
                          volunteer_id=self.volunteer_id, now=self.clock())
        self.state[SKIPPED] = [*self.skipped, contact.queue_entry_id]
        self.forget_contact()
