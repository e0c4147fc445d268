"""``hplists.exceptions``: bad input is an InvalidParameterError, and only hplists' own errors
are printed as one line; a bug keeps its traceback (in the CLI and in the report)."""

from __future__ import annotations

import numpy as np
import pytest

from hplists._check import check_choice, check_int, check_real
from hplists.cli import lists as cli_lists
from hplists.cli.main import main
from hplists.exceptions import DataError, HplistsError, InvalidParameterError
from hplists.report.analysis import Missing, _part
from hplists.store import EmptyStoreError


def test_invalid_parameter_error_is_an_hplists_value_and_type_error():
    assert issubclass(InvalidParameterError, HplistsError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
    assert issubclass(EmptyStoreError, HplistsError) and issubclass(EmptyStoreError, ValueError)
    assert issubclass(DataError, HplistsError) and issubclass(DataError, ValueError)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_real("beta2", 1.0, 0.0, 1.0, high_open=True), "beta2 must be in [0, 1)"),
        (lambda: check_real("lr", "0.1"), "lr must be a real number"),
        (lambda: check_real("lr", 10**400), "lr must be in (-inf, inf)"),  # was OverflowError
        (lambda: check_real("lr", np.array([0.1, 0.2])), "lr must be a real number"),
        (lambda: check_real("lr", True), "lr must be a real number"),
        (lambda: check_int("k", 0, low=1), "k must be an integer in [1, inf]"),
        (lambda: check_int("k", np.array([1, 2])), "k must be an integer"),
        (lambda: check_int("k", 1.0), "k must be an integer"),
        (lambda: check_choice("scale", ["log"], ["log", "linear"]), "scale must be one of"),
        (lambda: check_choice("scale", np.array(["log", "x"]), ["log"]), "scale must be one of"),
    ],
)  # fmt: skip
def test_check_helpers_raise_invalid_parameter_error_naming_the_field(call, message):
    with pytest.raises(InvalidParameterError) as e:
        call()
    assert message in str(e.value)


def test_check_real_keeps_numpy_scalars():
    assert check_real("lr", np.float32(0.5)) == 0.5
    assert check_int("k", np.int64(3)) == 3


def _run(capsys, monkeypatch, exc: BaseException) -> tuple[int, str]:
    def boom(args):
        raise exc

    monkeypatch.setattr(cli_lists, "_lists", boom)
    code = main(["lists"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "exc",
    [InvalidParameterError("k must be an integer"), EmptyStoreError("store 'x' holds no trials"),
     DataError("damaged")],
)  # fmt: skip
def test_cli_prints_hplists_errors_as_one_line(capsys, monkeypatch, exc):
    code, err = _run(capsys, monkeypatch, exc)
    assert code == 2 and str(exc) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_names_the_file_of_an_os_error(capsys, monkeypatch, tmp_path):
    code, err = _run(capsys, monkeypatch, FileNotFoundError(2, "No such file or directory",
                                                            str(tmp_path / "gone.json")))
    assert code == 2 and "gone.json" in err and "No such file" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "exc",
    [ValueError("internal"), TypeError("internal"), KeyError("internal"),
     AttributeError("internal"), RuntimeError("internal"), OSError("no file named")],
)  # fmt: skip
def test_cli_lets_bugs_surface_with_their_traceback(capsys, monkeypatch, exc):
    with pytest.raises(type(exc)):
        _run(capsys, monkeypatch, exc)


class _Parts:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    @_part
    def part(self):
        raise self.exc


@pytest.mark.parametrize(
    "exc", [Missing("no study"), DataError("evaluated beyond the budget"),
            EmptyStoreError("no trials"), InvalidParameterError("k must be")],
)  # fmt: skip
def test_report_part_turns_only_missing_data_into_a_note(exc):
    parts = _Parts(exc)
    with pytest.raises(Missing) as e:
        parts.part  # noqa: B018
    assert str(exc) in str(e.value)


@pytest.mark.parametrize("exc", [ValueError("a bug"), TypeError("a bug"), KeyError("a bug")])
def test_report_part_lets_other_errors_through(exc):
    with pytest.raises(type(exc)):
        _Parts(exc).part  # noqa: B018
