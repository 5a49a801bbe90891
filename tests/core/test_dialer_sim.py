"""bench/dialer_sim.py: one line per mode in the agreed form, power beats tel: by 2x, and it is
the cap that keeps predictive pacing under Ofcom's 3 %."""

from __future__ import annotations

import re

from bench.dialer_sim import Rates, _predictive_day, run

LINE = re.compile(r"^(?P<mode>.+): (?P<conv>\d+\.\d) conversations per volunteer-hour, "
                  r"(?P<idle>\d+)% idle, (?P<abandoned>\d+\.\d)% abandoned$")


def test_each_mode_prints_one_line_in_the_agreed_form_and_power_doubles_tel() -> None:
    lines = run(hours=1, volunteers=10, days=3, seed=1, rates=Rates(), max_ratio=2.0,
                margin=0.025)
    modes = {m["mode"]: m for m in (LINE.match(line) for line in lines) if m}
    assert list(modes) == ["tel", "click-to-call", "power 1:1", "power 1:1, AMD off",
                           "predictive (capped, up to 2:1)"]
    assert float(modes["power 1:1"]["conv"]) >= 2 * float(modes["tel"]["conv"])
    assert modes["power 1:1, AMD off"]["abandoned"] == "0.0"
    assert lines[-1].endswith("PASS")


def test_without_its_cap_predictive_pacing_abandons_more_than_ofcom_allows() -> None:
    import random

    rates = Rates()
    capped = _predictive_day(random.Random(3), rates, 20, 3 * 3600, 3.0, 0.025)
    uncapped = _predictive_day(random.Random(3), rates, 20, 3 * 3600, 3.0, 1.0)
    assert capped.abandoned <= 0.03 * capped.live_answers
    assert uncapped.abandoned > 0.03 * uncapped.live_answers
