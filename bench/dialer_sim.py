"""Conversations per volunteer-hour by way of calling: a discrete-event model of calling sessions.

    python -m bench.dialer_sim                  # every mode, then the predictive cap check
    python -m bench.dialer_sim --days 1000 --volunteers 20 --hours 3

Modes, all at the same line rates:

- tel: the volunteer reads the card, dials from their own phone, listens to every ring, busy
  tone and voicemail greeting, and types the outcome.
- click-to-call: Ringround rings the volunteer's phone for every contact (they answer it), then
  bridges; busy/no-answer are pre-selected, the rest is as tel.
- power 1:1 (what Ringround offers): the volunteer stays on the line; the next contact is
  dialled the moment they are ready; answering-machine detection (AMD) deals with machines, and
  busy/no-answer are logged without them. AMD delays a person by its decision time, sometimes
  takes a machine for a person (the volunteer hangs up on it) and sometimes a person for a
  machine: Ofcom counts those as abandoned calls (a reasoned estimate of AMD false positives
  must be included), so 1:1 with AMD is not quite 0 %.
- power 1:1, AMD off: every answer is put through; nothing is ever abandoned.
- predictive: a pool of volunteers, more lines than free volunteers; a person who answers when
  nobody is free within 2 s is abandoned (and hears the information message). The pacing here is
  capped: it over-dials only while the campaign's abandoned calls (AMD false positives included)
  stay under a margin below 3 % of live answers, so it cannot pass Ofcom's 3 % per campaign per
  24 h. The last line checks that across --days simulated campaign days.

Ringround offers 1:1 only; predictive is modelled to show what the cap leaves of its gain.

Rates are parameters (defaults are typical published figures for UK volunteer phone banks and
Twilio's AMD: about a quarter of dials reach a person, a third a machine; AMD decides in about
3.5 s; conversations of about two minutes). Every run is seeded, so figures repeat exactly.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

OFCOM_ABANDONED_CAP = 0.03


@dataclass(frozen=True)
class Rates:
    human: float = 0.25  # a dial reaches a person
    machine: float = 0.33  # ... an answering machine or voicemail
    busy: float = 0.05
    failed: float = 0.03  # (the rest ring out unanswered)
    ring_human: tuple[float, float] = (4.0, 18.0)  # seconds before a person answers (uniform)
    ring_machine: tuple[float, float] = (12.0, 25.0)
    ring_timeout: float = 25.0  # Ringround rings 25 s (Ofcom: at least 15 s)
    busy_seconds: float = 4.0
    failed_seconds: float = 3.0
    talk_mean: float = 120.0  # conversation, log-normal
    talk_sigma: float = 0.6
    wrap_up: float = 25.0  # finishing the survey and notes after hanging up
    amd_seconds: float = 3.5  # AMD's decision time after the line is answered
    amd_human_right: float = 0.985  # people recognised as people (the rest: abandoned)
    amd_machine_right: float = 0.90  # machines recognised (the rest reach the volunteer)
    # Manual dialling, calibrated to the published 12-35 dials per volunteer-hour (about 25):
    # reading the card, finding and dialling the number on one's own phone, waiting for the
    # network to connect, and going back to the page to type the outcome.
    manual_dial_overhead: float = 45.0
    manual_log_non_answer: float = 20.0
    manual_switch_back: float = 15.0  # from the phone back to the page after a conversation
    manual_machine_listen: float = 12.0  # listening to a greeting before hanging up
    bridge_answer: float = 7.0  # click-to-call: answering one's own phone for every contact
    bridge_dial_overhead: float = 12.0
    bridge_log_non_answer: float = 5.0
    power_next: float = 1.5  # claim and place the next call (power and predictive)
    machine_hangup: float = 5.0  # the volunteer realises it is a machine and hangs up


@dataclass
class Tally:
    seconds: float = 0.0  # volunteer-seconds on shift
    idle: float = 0.0  # volunteer-seconds waiting, not talking or writing
    conversations: int = 0
    live_answers: int = 0
    abandoned: int = 0
    dials: int = 0

    def add(self, other: Tally) -> None:
        for name in ("seconds", "idle", "conversations", "live_answers", "abandoned", "dials"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self, label: str) -> str:
        hours = self.seconds / 3600
        rate = self.abandoned / self.live_answers if self.live_answers else 0.0
        return (f"{label}: {self.conversations / hours:.1f} conversations per volunteer-hour, "
                f"{100 * self.idle / self.seconds:.0f}% idle, {100 * rate:.1f}% abandoned")


def _line(rng: random.Random, rates: Rates) -> str:
    draw = rng.random()
    for kind, p in (("human", rates.human), ("machine", rates.machine), ("busy", rates.busy),
                    ("failed", rates.failed)):
        if draw < p:
            return kind
        draw -= p
    return "no_answer"


def _ring(rng: random.Random, rates: Rates, kind: str) -> float:
    if kind == "human":
        return rng.uniform(*rates.ring_human)
    if kind == "machine":
        return rng.uniform(*rates.ring_machine)
    if kind == "busy":
        return rates.busy_seconds
    if kind == "failed":
        return rates.failed_seconds
    return rates.ring_timeout


def _talk(rng: random.Random, rates: Rates) -> float:
    mu = math.log(rates.talk_mean) - rates.talk_sigma ** 2 / 2
    return rng.lognormvariate(mu, rates.talk_sigma)


# --------------------------------------------------------------------------------------------
# One volunteer alone: tel, click-to-call, power 1:1
# --------------------------------------------------------------------------------------------


def _one_by_one(rng: random.Random, rates: Rates, mode: str, shift: float) -> Tally:
    tally = Tally()
    clock = 0.0
    while clock < shift:
        kind = _line(rng, rates)
        ring = _ring(rng, rates, kind)
        tally.dials += 1
        busy_time = 0.0  # talking or writing
        wait = 0.0  # waiting on the line
        if mode == "tel":
            busy_time += rates.manual_dial_overhead
            wait += ring
        elif mode == "click":
            busy_time += rates.bridge_dial_overhead + rates.bridge_answer
            wait += ring
        else:
            wait += rates.power_next + ring
        if kind == "human":
            tally.live_answers += 1
            amd = mode == "power"
            if amd and rng.random() > rates.amd_human_right:
                tally.abandoned += 1  # taken for a machine: hung up on (an abandoned call)
                wait += rates.amd_seconds
            else:
                wait += rates.amd_seconds if amd else 0.0
                busy_time += _talk(rng, rates) + rates.wrap_up
                if mode == "tel":
                    busy_time += rates.manual_switch_back
                tally.conversations += 1
        elif kind == "machine":
            if mode in ("tel", "click"):
                busy_time += rates.manual_machine_listen + rates.manual_log_non_answer * (
                    1.0 if mode == "tel" else 0.5)
            elif mode == "power" and rng.random() <= rates.amd_machine_right:
                wait += rates.amd_seconds  # dealt with by Ringround
            else:
                busy_time += rates.machine_hangup + 3.0  # put through: hang up, one click
        else:
            if mode == "tel":
                busy_time += rates.manual_log_non_answer
            elif mode == "click":
                busy_time += rates.bridge_log_non_answer
        clock += busy_time + wait
        tally.idle += wait
    tally.seconds = clock
    return tally


# --------------------------------------------------------------------------------------------
# A pool of volunteers with paced over-dialling: predictive
# --------------------------------------------------------------------------------------------


@dataclass(order=True)
class _Event:
    at: float
    order: int
    action: Callable[[], None] = field(compare=False)


def _predictive_day(rng: random.Random, rates: Rates, volunteers: int, shift: float,
                    max_ratio: float, margin: float) -> Tally:
    """One campaign day: `volunteers` on shift, lines paced up to max_ratio per free volunteer,
    over-dialling only while abandoned (with AMD's false positives) stays under the margin."""
    tally = Tally(seconds=volunteers * shift)
    events: list[_Event] = []
    order = iter(range(10**9))
    now = 0.0
    free = volunteers
    free_since: list[float] = [0.0] * volunteers
    free_ids = list(range(volunteers))
    in_flight = 0

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, _Event(when, next(order), action))

    def rate_allows_overdial() -> bool:
        # One more abandon must keep the running rate under the margin (counted as if it
        # happened), so the campaign's 24 h figure cannot pass the cap.
        return (tally.abandoned + 1) <= margin * (tally.live_answers + 1)

    def take_volunteer() -> int:
        nonlocal free
        vid = free_ids.pop()
        free -= 1
        tally.idle += now - free_since[vid]
        return vid

    def release(vid: int, when: float) -> None:
        def done() -> None:
            nonlocal free
            free_ids.append(vid)
            free_since[vid] = now
            free += 1
            pace()
        at(when, done)

    def answered(kind: str) -> None:
        nonlocal in_flight
        in_flight -= 1
        if kind == "human":
            tally.live_answers += 1
            if rng.random() > rates.amd_human_right:
                tally.abandoned += 1  # AMD false positive
            elif free:
                vid = take_volunteer()
                tally.conversations += 1
                release(vid, now + rates.amd_seconds + _talk(rng, rates) + rates.wrap_up)
            else:
                tally.abandoned += 1  # nobody free within 2 s: the information message plays
        elif kind == "machine" and rng.random() > rates.amd_machine_right and free:
            vid = take_volunteer()
            release(vid, now + rates.amd_seconds + rates.machine_hangup + 3.0)
        pace()

    def dial() -> None:
        nonlocal in_flight
        kind = _line(rng, rates)
        tally.dials += 1
        in_flight += 1
        at(now + rates.power_next + _ring(rng, rates, kind) +
           (rates.amd_seconds if kind in ("machine",) else 0.0), lambda: answered(kind))

    def pace() -> None:
        if now >= shift:
            return
        # Expected people among the lines in flight; dial while it is below the free volunteers
        # (1:1 never dials more lines than free volunteers).
        target = free * (max_ratio if rate_allows_overdial() else 1.0)
        while in_flight < math.floor(target + 1e-9) and in_flight < free * max_ratio:
            dial()

    at(0.0, pace)
    while events:
        event = heapq.heappop(events)
        now = event.at
        if now > shift + 3600:
            break
        event.action()
    for vid in free_ids:
        tally.idle += max(0.0, shift - free_since[vid])
    return tally


# --------------------------------------------------------------------------------------------


def run(*, hours: float, volunteers: int, days: int, seed: int, rates: Rates,
        max_ratio: float, margin: float) -> list[str]:
    rng = random.Random(seed)
    shift = hours * 3600
    lines: list[str] = []
    results: dict[str, Tally] = {}
    for mode, label in (("tel", "tel"), ("click", "click-to-call"), ("power", "power 1:1"),
                        ("power_no_amd", "power 1:1, AMD off")):
        tally = Tally()
        for _ in range(volunteers):
            tally.add(_one_by_one(rng, rates, mode, shift))
        results[label] = tally
        lines.append(tally.line(label))
    day = Tally()
    worst = 0.0
    over = 0
    for _ in range(days):
        one = _predictive_day(rng, rates, volunteers, shift, max_ratio, margin)
        day.add(one)
        rate = one.abandoned / one.live_answers if one.live_answers else 0.0
        worst = max(worst, rate)
        over += rate > OFCOM_ABANDONED_CAP
    lines.append(day.line(f"predictive (capped, up to {max_ratio:g}:1)"))
    tel = results["tel"].conversations / results["tel"].seconds
    power = results["power 1:1"].conversations / results["power 1:1"].seconds
    dials = ", ".join(f"{label} {t.dials / (t.seconds / 3600):.0f}"
                      for label, t in results.items())
    lines.append(f"dials per volunteer-hour: {dials} (published manual range 12-35)")
    lines.append(f"power 1:1 vs tel: {power / tel:.2f}x (target >= 2x): "
                 f"{'PASS' if power / tel >= 2 else 'FAIL'}")
    lines.append(f"predictive over {days} campaign days of {volunteers} volunteers x {hours:g} h: "
                 f"worst day {100 * worst:.2f}% abandoned, {over} days above 3%: "
                 f"{'PASS' if over == 0 else 'FAIL'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="shift length")
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument("--days", type=int, default=1000,
                        help="simulated campaign days for the predictive cap check")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--max-ratio", type=float, default=2.0,
                        help="most lines per free volunteer predictive may dial")
    parser.add_argument("--margin", type=float, default=0.025,
                        help="abandoned share under which predictive may over-dial")
    for name, value in Rates().__dict__.items():
        if isinstance(value, float):
            parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=value)
    args = parser.parse_args()
    rates = Rates(**{name: getattr(args, name) for name, value in Rates().__dict__.items()
                     if isinstance(value, float)},
                  ring_human=Rates().ring_human, ring_machine=Rates().ring_machine)
    for line in run(hours=args.hours, volunteers=args.volunteers, days=args.days, seed=args.seed,
                    rates=rates, max_ratio=args.max_ratio, margin=args.margin):
        print(line)


if __name__ == "__main__":
    main()
