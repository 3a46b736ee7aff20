"""Typed values between stages: statuses serialise exactly as the bare strings they replace."""

import json

import pytest

from streamocr.solve import solve
from streamocr.synth.builders import PUZZLE
from streamocr.types import PuzzleResult, Status


@pytest.mark.parametrize(
    "status, text",
    [
        (Status.NOT_FOUND, "not_found"),
        (Status.SOLVED, "solved"),
        (Status.INVALID, "invalid"),
        (Status.UNSOLVABLE, "unsolvable"),
        (Status.GAVE_UP, "gave_up"),
        (Status.PENDING, "pending"),
    ],
)
def test_a_status_reads_and_serialises_as_its_string(status, text):
    assert status == text and Status(text) is status
    assert json.dumps({"status": status}) == json.dumps({"status": text})
    assert f"{status}" == str(status) == text


def test_a_result_made_with_a_plain_string_holds_the_status():
    assert PuzzleResult(None, None, status="pending").status is Status.PENDING
    assert PuzzleResult(None, None).status is Status.NOT_FOUND


def test_an_unknown_status_is_refused_where_the_result_is_made():
    with pytest.raises(ValueError, match="'nonsense' is not a valid Status"):
        PuzzleResult(None, None, status="nonsense")


@pytest.mark.parametrize(
    "digits, status",
    [
        (PUZZLE, Status.SOLVED),
        ("11" + "0" * 79, Status.INVALID),
    ],
)
def test_the_solver_returns_statuses(digits, status):
    assert solve(digits).status is status
