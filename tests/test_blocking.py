"""Blocking on hard rules before scoring: the sparse top-k keeps the same candidates."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest

from pairwise import _topk
from pairwise.config import default_model
from pairwise.datasets import make_organisation
from pairwise.roster import load_roster


def _rosters(n: int, seed: int):
    org = make_organisation(n, seed=seed)
    mentors = load_roster(org[(org["level"] >= 4) & (org["capacity"] > 0)], role="mentor")
    mentees = load_roster(org[org["level"] <= 3], role="mentee")
    return mentors, mentees


@pytest.mark.parametrize(("n", "k"), [(400, 5), (1500, 20), (1500, 500)])
def test_blocked_top_k_keeps_the_best_allowed_candidates(n: int, k: int, seed: int) -> None:
    mentors, mentees = _rosters(n, seed)
    model = default_model()
    groups: list = []
    real = _topk._rule_blocks

    def spy(tplan):
        found = real(tplan)
        groups.append(found)
        return found

    with patch.object(_topk, "_rule_blocks", spy):
        sparse = model.score(mentors, mentees, top_k=k).scores.tocsc()
    assert groups and groups[0] is not None, "the default rules should block"
    # every mentee appears in exactly one blocking group
    covered = np.concatenate([g[0] for g in groups[0]])
    assert len(covered) == len(np.unique(covered))
    dense = model.score(mentors, mentees)
    scores, allowed = np.asarray(dense.scores), np.asarray(dense.allowed)
    for j in range(len(mentees)):
        rows = sparse.indices[sparse.indptr[j] : sparse.indptr[j + 1]]
        kept = sparse.data[sparse.indptr[j] : sparse.indptr[j + 1]]
        assert allowed[rows, j].all()
        best = np.sort(scores[allowed[:, j], j])[::-1][:k]
        assert len(kept) == len(best)
        np.testing.assert_allclose(np.sort(kept)[::-1], best, atol=1e-6)


def test_blocking_is_skipped_when_rules_exclude_little(seed: int) -> None:
    mentors, mentees = _rosters(300, seed)
    model = default_model()
    with patch.object(_topk, "_BLOCKING_SHARE", 0.0):
        a = model.score(mentors, mentees, top_k=10).scores
    b = model.score(mentors, mentees, top_k=10).scores
    assert a.nnz == b.nnz
    np.testing.assert_allclose(np.sort(a.data), np.sort(b.data), atol=1e-6)


def test_threads_do_not_change_the_candidates(seed: int) -> None:
    mentors, mentees = _rosters(800, seed)
    model = default_model()
    with patch.object(_topk, "_THREADS", 1):
        one = model.score(mentors, mentees, top_k=10, block_size=16).scores
    two = model.score(mentors, mentees, top_k=10, block_size=16).scores
    assert (one != two).nnz == 0
