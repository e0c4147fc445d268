"""Progress where stderr is a log, not a terminal: plain lines instead of a bar that would show
nothing until it ends."""

from __future__ import annotations

import re

import pytest

from hplists import progress as progress_mod
from hplists.progress import StageBar, TrialProgress


def test_a_stage_in_a_log_prints_a_line_per_interval_and_one_when_it_stops(capsys, monkeypatch):
    monkeypatch.setattr(progress_mod, "LOG_EVERY_S", 0.0)  # every tick is an interval
    bar = StageBar(True)
    tick = bar.start("calibration", 4000)
    tick(1000)
    tick(1000)
    bar.stop()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("calibration: 1,000/4,000 steps (25%), 0:00:00 elapsed, ETA 0:00:")
    assert lines[1].startswith("calibration: 2,000/4,000 steps (50%)")
    assert lines[-1].startswith("calibration: 2,000/4,000 steps (50%)")  # where it stopped
    assert len(lines) == 3 and not any("\x1b" in line for line in lines)  # no bar drawing


def test_a_log_gets_no_more_than_a_line_per_interval(capsys, monkeypatch):
    monkeypatch.setattr(progress_mod, "LOG_EVERY_S", 3600.0)
    bar = StageBar(True)
    tick = bar.start("search", 10)
    for _ in range(10):
        tick(1)
    bar.stop()
    assert capsys.readouterr().err.splitlines() == [
        "search: 10/10 steps (100%), 0:00:00 elapsed, ETA 0:00:00"]


def test_trials_found_finished_count_as_done_but_not_towards_the_eta(capsys, monkeypatch):
    monkeypatch.setattr(progress_mod, "LOG_EVERY_S", 0.0)
    clock = iter([100.0])  # the bar starts; then everything happens a minute later
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock, 160.0))
    p = TrialProgress(True, total=12)
    p.start("w adamw", trials=12, already_done=8)  # found finished: no line, no speed
    p.add(1)
    p.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "all (w adamw): 9/12 trials (75%), 0:01:00 elapsed, ETA 0:03:00"
    assert lines[-1].startswith("all (w adamw): 9/12 trials (75%)")


@pytest.mark.parametrize("bad", ["yes", 1.5])
def test_progress_other_than_a_bool_or_a_callable_is_refused(bad):
    with pytest.raises(ValueError, match=r"progress must be True, False, None or a callable"):
        StageBar(bad)
    with pytest.raises(ValueError, match=re.escape("progress must be True")):
        TrialProgress(bad, total=1)


def test_a_stage_with_nothing_to_do_prints_nothing_in_a_log(capsys):
    """A resumed study walks through its finished searches: no line for each."""
    bar = StageBar(True)
    bar.start("calibration", 0)
    bar.stop()
    p = TrialProgress(True, total=3)
    p.start("w adamw", trials=3, already_done=3)
    p.close()
    assert capsys.readouterr().err == ""
