"""One generic test over every public solver: the shared options are validated alike.

The constraints live in :mod:`pairwise.solvers._validation`; its table
``COMMON`` holds a bad value and the message it must produce for each shared
option, and every public solver must give exactly that message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pairwise.errors import InputError
from pairwise.solvers import (
    diverse_grouping,
    learning_groups,
    one_to_many,
    one_to_one,
    peer_pairs,
    stable_matching,
)
from pairwise.solvers._validation import COMMON, check_per_row

_SYM = np.ones((4, 4)) - np.eye(4)

SOLVERS: dict[str, Callable[..., Any]] = {
    "one_to_one": lambda **kw: one_to_one(np.ones((2, 2)), **kw),
    "one_to_many": lambda **kw: one_to_many(np.ones((2, 2)), 1, **kw),
    "peer_pairs": lambda **kw: peer_pairs(_SYM, **kw),
    "learning_groups": lambda **kw: learning_groups(np.ones((1, 5)), **kw),
    "diverse_grouping": lambda **kw: diverse_grouping(_SYM, 2, min_size=2, max_size=2, **kw),
    "stable_matching": lambda **kw: stable_matching(np.ones((2, 2)), **kw),
}

CASES = [
    (solver, option, bad, message)
    for solver in SOLVERS
    for option, rows in COMMON.items()
    for bad, message in rows
]


@pytest.mark.parametrize(("solver", "option", "bad", "message"), CASES)
def test_shared_option_has_one_message(solver, option, bad, message):
    with pytest.raises(InputError, match=re.escape(message)) as info:
        SOLVERS[solver](**{option: bad})
    text = str(info.value)
    assert f"({solver})" in text and "Fix:" in text


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_shared_options_accept_good_values(solver):
    SOLVERS[solver](time_limit=5, seed=np.int64(3))


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ([1, 2, 3], r"one integer per leader \(2\); got shape \(3,\)"),
        ([1.5, 1], r"whole numbers; got 1.5 for leader 0"),
        ([0, 1], r"`size` must be >= 1; got 0 for leader 0"),
        (True, r"got dtype bool"),
        ("x", r"got dtype <U1"),
    ],
)
def test_per_row_messages(value, pattern):
    with pytest.raises(InputError, match=pattern):
        check_per_row(value, 2, "size", "here", unit="leader", minimum=1)


def test_per_row_broadcasts_a_scalar():
    assert check_per_row(3, 4, "capacity", "here").tolist() == [3, 3, 3, 3]
