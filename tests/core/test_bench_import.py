"""bench/import.py's verdicts come from each measurement's fastest round, and a run whose rounds
account for the rows differently fails (issue #14)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

bench = importlib.import_module("bench.import")


def result(seconds: float, rows: int = 1000, rejected: int = 10) -> Any:
    return SimpleNamespace(seconds=seconds, total_rows=rows, inserted=rows - rejected, updated=0,
                           unchanged=0, merged=0, rejected=rejected, balanced=True)


def round_of(wide: float, narrow: float, raw: float, *, rejected: int = 10,
             peak: int = 200 << 20) -> Any:
    return bench.Round(imports={"wide": result(wide, rejected=rejected),
                                "narrow": result(narrow)},
                       cpu={"wide": (wide, wide / 2), "narrow": (narrow, narrow / 2)},
                       wide_baseline=1.0, raw_insert=raw, raw_insert_cpu=raw, peak=peak)


def test_the_ratios_come_from_each_measurements_fastest_round(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Round 1 was slowed while the narrow file went in, round 2 while the raw insert ran.
    # Round 2's high-water mark holds round 1's baseline rows: the peak is round 1's.
    rounds = [round_of(wide=12.0, narrow=20.0, raw=4.0),
              round_of(wide=13.0, narrow=9.0, raw=8.0, peak=900 << 20)]
    assert bench.summarise(rounds, ["wide", "narrow"], 0) == 0
    out = capsys.readouterr().out
    assert "200 MiB during the first round's imports" in out
    assert "ratio 2.25x the raw insert, target <= 3x OK (each round: 5.00x, 1.12x)" in out
    assert "0.75 of the narrow file's rows/s, target >= 0.67 OK (each round: 1.67, 0.69)" in out


def test_a_run_missing_a_target_in_its_fastest_rounds_fails(
        capsys: pytest.CaptureFixture[str]) -> None:
    rounds = [round_of(wide=16.0, narrow=9.0, raw=2.0), round_of(wide=15.0, narrow=10.0, raw=3.0)]
    assert bench.summarise(rounds, ["wide", "narrow"], 0) == 1
    out = capsys.readouterr().out
    assert "4.50x the raw insert, target <= 3x MISSED" in out
    assert "0.60 of the narrow file's rows/s, target >= 0.67 MISSED" in out


def test_rounds_that_account_for_the_rows_differently_fail_the_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    rounds = [round_of(wide=10.0, narrow=9.0, raw=4.0),
              round_of(wide=10.0, narrow=9.0, raw=4.0, rejected=11)]
    assert bench.summarise(rounds, ["wide", "narrow"], 0) == 1
    assert "NOT REPEATABLE" in capsys.readouterr().out
