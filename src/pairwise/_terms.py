"""The encoding and term engine behind criteria and rules: column encodings, score and mask terms.

A criterion's score and a rule's mask are sums (resp. ANDs) of *terms*, each a
mentors x mentees matrix that can be evaluated by blocks or at given pairs:
low-rank products of one-hot / multi-hot encodings (:class:`LowRank`), tables
over the few distinct values of each side (:class:`Table`), sparse matrices
(:class:`SparseTerm`) and element-wise functions (:class:`Func`), and for rules
the mask terms (:class:`TableMask`, :class:`FuncMask`, :class:`ForbidPairs`,
:class:`Flags`, :class:`Restrict`). Column encodings (cell sets, multi-hot
matrices, set codes, numeric values, UTC offsets) are computed once per
(roster pair, column) in an :class:`EncodingCache` and shared by every
criterion and rule of one scoring run. Names here are the engine's, not the
users': :mod:`pairwise.criteria` and :mod:`pairwise.rules` are the catalogues.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .errors import InputError
from .roster import PROTECTED_COLUMNS

if TYPE_CHECKING:
    from .roster import Roster

#: Row/column selection accepted by ``score`` and ``mask``: all, a slice, or int positions.
Index = slice | Sequence[int] | np.ndarray | None

_T = TypeVar("_T")

#: Categories beyond this many (ordered by how many pairs they can match) are
#: multiplied as sparse matrices: a dense product costs n² per category.
_DENSE_VOCAB = 96
#: A function of (mentor value, mentee value) is tabulated when the table has at
#: most this many cells; otherwise it is evaluated element-wise per block.
_MAX_TABLE_CELLS = 1 << 22


def fits_table(n_left: int, n_right: int) -> bool:
    """Whether a table of ``n_left`` x ``n_right`` distinct values is small enough to build."""
    return n_left * n_right <= _MAX_TABLE_CELLS


# ---------------------------------------------------------------------------
# Index helpers
# ---------------------------------------------------------------------------


def as_index(idx: Index, n: int, what: str = "rows") -> slice | np.ndarray:
    """Normalise a row/column selection to a slice or an ``intp`` array.

    Parameters
    ----------
    idx : None, slice or sequence of int
        ``None`` selects everything.
    n : int
        Length of the axis.
    what : str
        Used in the error message.

    Returns
    -------
    slice or numpy.ndarray

    Raises
    ------
    InputError
        When a position is out of range or not an integer.
    """
    if idx is None:
        return slice(None)
    if isinstance(idx, slice):
        return idx
    arr = np.asarray(idx)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputError(
                f"`{what}` as a boolean mask must have length {n}; got shape {arr.shape}. "
                "Fix: pass a mask as long as the roster, or integer positions."
            )
        return np.flatnonzero(arr)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"`{what}` must be integer positions; got dtype {arr.dtype}. "
            "Fix: pass positions, e.g. roster.index_of(ids)."
        )
    arr = arr.astype(np.intp, copy=False).ravel()
    if arr.size and (arr.min() < -n or arr.max() >= n):
        raise InputError(
            f"`{what}` must be positions between 0 and {n - 1}; got {arr.min()}..{arr.max()}. "
            "Fix: use positions of the roster, e.g. roster.index_of(ids)."
        )
    return arr


def index_length(idx: slice | np.ndarray, n: int) -> int:
    """Number of positions an index selects on an axis of length ``n``."""
    if isinstance(idx, slice):
        return len(range(*idx.indices(n)))
    return int(idx.shape[0])


# ---------------------------------------------------------------------------
# Encoding cache
# ---------------------------------------------------------------------------


class EncodingCache:
    """Column encodings shared by every criterion and rule of one scoring run.

    Categories are encoded once per (roster pair, column) and reused by every
    criterion, rule and block that needs them. The cache keeps the rosters it
    has seen alive so that their ``id()`` keys stay unique.

    Parameters
    ----------
    at : datetime.date, optional
        The day on which time-zone offsets are taken (summer time); default today.

    Examples
    --------
    >>> cache = EncodingCache()
    >>> cache.get(("answer",), (), lambda: 42)
    42
    >>> cache.get(("answer",), (), lambda: 0)   # built once, then reused
    42
    """

    def __init__(self, *, at: _dt.date | None = None) -> None:
        self.at = at
        self._store: dict[tuple[Hashable, ...], Any] = {}
        self._keep: dict[int, object] = {}

    def get(
        self, key: tuple[Hashable, ...], rosters: Iterable[object], build: Callable[[], _T]
    ) -> _T:
        """Return the value stored under ``key`` for ``rosters``, building it on first use."""
        rosters = tuple(rosters)
        full = (*(id(r) for r in rosters), *key)
        try:
            return self._store[full]
        except KeyError:
            pass
        for r in rosters:
            self._keep[id(r)] = r
        value = build()
        self._store[full] = value
        return value


# ---------------------------------------------------------------------------
# Column access and encodings
# ---------------------------------------------------------------------------


def side_name(roster: Roster, side: str) -> str:
    """How messages name a side: the roster's role (plural) or "mentors"/"mentees"."""
    role = getattr(roster, "role", None)
    if role:
        return role if role.endswith("s") else f"{role}s"
    return side


def roster_display(roster: Roster) -> str:
    """The roster's name in messages (its file, or "the DataFrame")."""
    display = getattr(roster, "display", None)
    return str(display) if display else str(roster.source)


def require_column(roster: Roster, column: str, side: str, owner: str) -> None:
    """Raise :class:`InputError` when ``column`` is absent from ``roster``.

    Raises
    ------
    InputError
        Naming the column, the roster's source, the columns it has and the fix.
    """
    if column in roster.frame.columns:
        return
    have = ", ".join(map(str, roster.frame.columns[:12]))
    more = ", ..." if len(roster.frame.columns) > 12 else ""
    raise InputError(
        f"`{column}` column must be present in the {side_name(roster, side)} roster for "
        f"{owner}; got columns {have}{more} ({roster_display(roster)}). Fix: add a "
        f"`{column}` column, map yours under [columns] in the programme file (your_name = "
        f"\"{column}\"; in Python: load_roster(..., rename={{'your_name': '{column}'}})), "
        f"or remove {owner} from the programme."
    )


def check_protected(
    columns: Iterable[str],
    owner: str,
    allow_protected: bool,
    protected: Iterable[str] = PROTECTED_COLUMNS,
) -> None:
    """Refuse protected attributes (by default gender, ethnicity) unless explicitly allowed.

    Parameters
    ----------
    columns : iterable of str
        The columns a criterion or rule reads.
    owner : str
        What reads them, for the message (e.g. ``"criterion 'same_race'"``).
    allow_protected : bool
        When True nothing is refused.
    protected : iterable of str
        The protected columns: the programme's ``[program] protected`` list
        (default :data:`pairwise.roster.PROTECTED_COLUMNS`).

    Raises
    ------
    InputError
        When a protected column is used and ``allow_protected`` is False.
    """
    if allow_protected:
        return
    shielded = frozenset(protected)
    for column in columns:
        if column in shielded:
            raise InputError(
                f"`{column}` must not enter compatibility scores or pairing rules; got "
                f"{owner} using the protected column `{column}` (protected: "
                f"{', '.join(sorted(shielded))}). Fix: use it in group diversity rules "
                "instead, or set `allow_protected = true` under [program] (allow_protected=True "
                "in code) if your programme explicitly intends it."
            )


def _is_blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _cell_set(value: Any) -> tuple[str, ...]:
    """A cell as a tuple of distinct non-empty strings (order kept)."""
    if isinstance(value, tuple | list | set | frozenset | np.ndarray):
        items = [str(v).strip() for v in value if not _is_blank(v)]
    elif _is_blank(value):
        return ()
    else:
        items = [str(value).strip()]
    return tuple(dict.fromkeys(i for i in items if i))


def _cells(values: list[Any]) -> list[tuple[str, ...]]:
    # The roster already gives list cells as tuples of stripped strings and text
    # cells as stripped str or None: handle those inline, the rest one by one.
    out: list[tuple[str, ...]] = []
    append = out.append
    singles: dict[str, tuple[str, ...]] = {}  # one tuple per distinct text, not per cell
    for v in values:
        kind = type(v)
        if kind is tuple:
            append(v)  # already parsed by the roster (duplicates are harmless downstream)
        elif kind is str:
            one = singles.get(v)
            if one is None:
                one = singles[v] = (v,) if v and v.strip() == v else _cell_set(v)
            append(one)
        elif v is None:
            append(())
        else:
            append(_cell_set(v))
    return out


def cell_sets(cache: EncodingCache, roster: Roster, column: str) -> list[tuple[str, ...]]:
    """Every cell of ``column`` as a tuple of values (``()`` when blank); cached."""
    return cache.get(("sets", column), (roster,), lambda: _cells(roster.frame[column].tolist()))


@dataclass(frozen=True)
class MultiHot:
    """Multi-hot encodings of two columns over one shared vocabulary."""

    vocab: tuple[str, ...]
    left: sp.csr_matrix  # n_left x V, 0/1
    right: sp.csr_matrix  # n_right x V, 0/1
    left_size: np.ndarray  # values per row (float64)
    right_size: np.ndarray


def _csr_from_sets(
    sets: list[tuple[str, ...]], lookup: dict[str, int], width: int
) -> sp.csr_matrix:
    lengths = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    flat = [v for values in sets for v in values]
    indices = np.fromiter(map(lookup.__getitem__, flat), dtype=np.int64, count=len(flat))
    data = np.ones(len(flat), dtype=np.float64)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(sets), width))
    matrix.sum_duplicates()  # sorts indices; a value listed twice in a cell still counts once
    matrix.data[:] = 1.0
    return matrix


def multi_hot(
    cache: EncodingCache, left: Roster, right: Roster, left_col: str, right_col: str
) -> MultiHot:
    """Multi-hot encode ``left[left_col]`` and ``right[right_col]`` on a shared vocabulary."""

    def build() -> MultiHot:
        ls = cell_sets(cache, left, left_col)
        rs = cell_sets(cache, right, right_col)
        vocab = tuple(sorted({v for s in ls for v in s} | {v for s in rs for v in s}))
        lookup = {v: k for k, v in enumerate(vocab)}
        lm = _csr_from_sets(ls, lookup, len(vocab))
        rm = _csr_from_sets(rs, lookup, len(vocab))
        return MultiHot(
            vocab,
            lm,
            rm,
            np.diff(lm.indptr).astype(np.float64),
            np.diff(rm.indptr).astype(np.float64),
        )

    return cache.get(("multihot", left_col, right_col), (left, right), build)


@dataclass(frozen=True)
class SetCodes:
    """Each row's set of values as a code into a list of distinct sets (per side)."""

    left: np.ndarray  # intp codes into left_sets
    right: np.ndarray
    left_sets: sp.csr_matrix  # U_left x V multi-hot of the distinct sets
    right_sets: sp.csr_matrix


def _distinct_rows(matrix: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """Codes of the distinct rows of a 0/1 matrix, and those rows (in order of first use)."""
    n, width = matrix.shape
    if width == 0 or n == 0:  # no values at all: every row is the empty set
        return np.zeros(n, dtype=np.intp), matrix[:1]
    n_bytes = (width + 7) // 8
    if n * n_bytes <= 1 << 26:
        # pack each row's bits into bytes and let numpy find the distinct byte strings
        packed = np.zeros((n, n_bytes), dtype=np.uint8)
        rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
        cols = matrix.indices.astype(np.intp)
        np.bitwise_or.at(packed, (rows, cols >> 3), (128 >> (cols & 7)).astype(np.uint8))
        keys = packed.view(np.dtype((np.void, n_bytes))).ravel()
        _, firsts, codes = np.unique(keys, return_index=True, return_inverse=True)
    else:
        seen: dict[bytes, int] = {}
        codes = np.empty(n, dtype=np.intp)
        first_list: list[int] = []
        for i in range(n):
            key = matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]].tobytes()
            code = seen.setdefault(key, len(first_list))
            if code == len(first_list):
                first_list.append(i)
            codes[i] = code
        firsts = np.asarray(first_list, dtype=np.intp)
    codes = np.asarray(codes, dtype=np.intp).ravel()
    return codes, matrix[np.asarray(firsts, dtype=np.intp)]


def set_codes(
    cache: EncodingCache, left: Roster, right: Roster, left_col: str, right_col: str
) -> SetCodes:
    """Codes of the distinct value sets on each side (for set functions tabulated once)."""

    def build() -> SetCodes:
        mh = multi_hot(cache, left, right, left_col, right_col)
        lc, ls = _distinct_rows(mh.left)
        rc, rs = _distinct_rows(mh.right)
        return SetCodes(lc, rc, ls, rs)

    return cache.get(("setcodes", left_col, right_col), (left, right), build)


def numeric_values(cache: EncodingCache, roster: Roster, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for blanks; ``timezone`` gives UTC offset hours.

    Raises
    ------
    InputError
        When a cell is not a number (from :meth:`Roster.numeric`).
    """
    if column == "timezone":
        return offset_minutes(cache, roster, cache.at) / 60.0

    def build() -> np.ndarray:
        series = roster.frame[column]
        if series.dtype.kind in "fiub":
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(roster.numeric(column), dtype=np.float64)

    return cache.get(("numeric", column), (roster,), build)


def offset_minutes(cache: EncodingCache, roster: Roster, at: _dt.date | None) -> np.ndarray:
    """UTC offsets in minutes on day ``at`` (NaN where no time zone); cached per roster and day."""
    return cache.get(
        ("offset_minutes", at),
        (roster,),
        lambda: np.asarray(roster.utc_offset_minutes(at), dtype=np.float64),
    )


def value_codes(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of numeric values into their sorted distinct values; NaN gets code ``len(values)``."""
    both = np.concatenate([left, right])
    values = np.unique(both[~np.isnan(both)])
    missing = len(values)

    def codes(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(values, np.nan_to_num(x, nan=0.0)).astype(np.intp)
        out[np.isnan(x)] = missing
        return out

    return codes(left), codes(right), values


# ---------------------------------------------------------------------------
# Terms: the pieces a score or mask is made of
# ---------------------------------------------------------------------------


def block_entries(
    matrix: sp.csr_matrix, rows: slice | np.ndarray, cols: slice | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored entries of ``matrix[rows][:, cols]`` as ``(row, column, value)`` in the block.

    Read straight from the CSR arrays (no intermediate sparse matrix): the cost
    is that of the entries of ``rows`` plus a binary search per entry when
    ``cols`` is an ascending index array (the blocks of the top-k pass), which
    is what keeps the many small blocks of a blocked top-k cheap.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]]))
    >>> [x.tolist() for x in block_entries(m, np.array([1]), np.array([0, 2]))]
    [[0, 0], [0, 1], [3.0, 4.0]]
    """
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    if isinstance(rows, slice) and rows.step in (None, 1):
        start, stop, _ = rows.indices(matrix.shape[0])
        stop = max(stop, start)
        lo, hi = indptr[start], indptr[stop]
        c, d = indices[lo:hi], data[lo:hi]
        r = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
    else:
        at = np.arange(matrix.shape[0])[rows] if isinstance(rows, slice) else np.asarray(rows)
        lo = indptr[at]
        n = indptr[at + 1] - lo
        r = np.repeat(np.arange(len(at)), n)
        pos = np.arange(len(r)) + np.repeat(lo - (np.cumsum(n) - n), n)
        c, d = indices[pos], data[pos]
    if isinstance(cols, slice) and cols == slice(None):
        return r, np.asarray(c, dtype=np.intp), d
    if isinstance(cols, slice) and cols.step in (None, 1):
        c0, c1, _ = cols.indices(matrix.shape[1])
        keep = (c >= c0) & (c < c1)
        return r[keep], np.asarray(c[keep], dtype=np.intp) - c0, d[keep]
    want = np.arange(matrix.shape[1])[cols] if isinstance(cols, slice) else np.asarray(cols)
    if len(want) > 1 and not bool(np.all(want[1:] > want[:-1])):
        sub = matrix[rows][:, want].tocsr()  # repeated or unordered columns: scipy does it
        return np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr)), sub.indices, sub.data
    p = np.minimum(np.searchsorted(want, c), max(len(want) - 1, 0))
    keep = want[p] == c if len(want) else np.zeros(len(c), dtype=bool)
    return r[keep], p[keep], d[keep]


class Term:
    """A matrix (mentors x mentees) that can be evaluated by blocks or at given pairs."""

    shape: tuple[int, int]

    def block(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
        """The sub-matrix ``[rows][:, cols]`` as a fresh array."""
        raise NotImplementedError

    def pairs(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Values at the pairs ``(r[k], c[k])``."""
        raise NotImplementedError

    def transpose(self) -> Term:
        """The same term with mentors and mentees swapped."""
        raise NotImplementedError

    def add_into(
        self, out: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray, coef: float
    ) -> None:
        """``out += coef * block(rows, cols)`` (overridden where a cheaper way exists)."""
        blk = self.block(rows, cols)
        if coef != 1.0:
            blk *= coef
        out += blk


class LowRank(Term):
    """``const + a @ b.T``: products of (scaled) one-hot / multi-hot encodings."""

    def __init__(self, a: np.ndarray, b: np.ndarray, const: float = 0.0) -> None:
        self.a = np.ascontiguousarray(a)
        self.b = np.ascontiguousarray(b)
        self.const = float(const)
        self.shape = (self.a.shape[0], self.b.shape[0])

    def block(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
        out = np.matmul(self.a[rows], self.b[cols].T)
        if out.dtype != np.float64:
            out = out.astype(np.float64)
        if self.const:
            out += self.const
        return out

    def pairs(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        a = self.a[r].astype(np.float64, copy=False)
        b = self.b[c].astype(np.float64, copy=False)
        return np.einsum("ij,ij->i", a, b) + self.const

    def transpose(self) -> LowRank:
        return LowRank(self.b, self.a, self.const)


class Table(Term):
    """``table[left_code, right_code]``: any function of a few distinct values per side."""

    def __init__(self, left: np.ndarray, right: np.ndarray, table: np.ndarray) -> None:
        self.left = np.asarray(left, dtype=np.intp)
        self.right = np.asarray(right, dtype=np.intp)
        self.table = np.ascontiguousarray(table)
        self.shape = (self.left.shape[0], self.right.shape[0])

    @property
    def rank(self) -> int:
        """Columns a low-rank form needs (the smaller side of the table)."""
        return int(min(self.table.shape))

    def block(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
        return np.take(self.table[self.left[rows]], self.right[cols], axis=1)

    def pairs(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self.table[self.left[r], self.right[c]]

    def transpose(self) -> Table:
        return Table(self.right, self.left, self.table.T)

    def to_lowrank(self, dtype: npt.DTypeLike = np.float64) -> LowRank:
        """The matrix ``onehot(left) @ table @ onehot(right).T`` as two factors."""
        table = self.table.astype(dtype)
        u_left, u_right = table.shape
        if u_right <= u_left:
            a = table[self.left]
            b = np.zeros((self.shape[1], u_right), dtype=dtype)
            b[np.arange(self.shape[1]), self.right] = 1
        else:
            a = np.zeros((self.shape[0], u_left), dtype=dtype)
            a[np.arange(self.shape[0]), self.left] = 1
            b = table.T[self.right]
        return LowRank(a, b)


class SparseTerm(Term):
    """A sparse matrix (zeros elsewhere): ranked preferences, rare categories."""

    def __init__(self, matrix: sp.spmatrix | sp.sparray) -> None:
        self.matrix = sp.csr_matrix(matrix, dtype=np.float64)
        self.matrix.sum_duplicates()
        self.shape = self.matrix.shape

    def _rows(self, rows: slice | np.ndarray) -> sp.csr_matrix:
        if isinstance(rows, slice) and rows == slice(None):
            return self.matrix
        return self.matrix[rows]

    def block(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
        sub = self._rows(rows)
        if not (isinstance(cols, slice) and cols == slice(None)):
            sub = sub[:, cols]
        return sub.toarray()

    def add_into(
        self, out: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray, coef: float
    ) -> None:
        r, c, data = block_entries(self.matrix, rows, cols)
        if len(r):
            # duplicates were summed, so each (r, c) appears once and += is safe
            out[r, c] += coef * data

    def pairs(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        if len(r) == 0:
            return np.zeros(0)
        return np.asarray(self.matrix[r, c]).ravel().astype(np.float64)

    def transpose(self) -> SparseTerm:
        return SparseTerm(self.matrix.T.tocsr())


class Func(Term):
    """``fn(inner, left_values, right_values)`` evaluated element-wise per block.

    ``inner`` is the sum of ``coef * term`` over ``inputs`` (None when
    ``inputs`` is None); ``left`` and ``right`` are tuples of per-person arrays which
    ``fn`` receives broadcast as column / row vectors (it must only use
    element-wise operations, so that swapping the sides transposes it).
    """

    def __init__(
        self,
        fn: Callable[..., np.ndarray],
        left: tuple[np.ndarray, ...],
        right: tuple[np.ndarray, ...],
        inputs: Sequence[tuple[float, Term]] | None = None,
        *,
        swapped: bool = False,
    ) -> None:
        self.fn = fn
        self.left = left
        self.right = right
        self.inputs = None if inputs is None else tuple(inputs)
        self.swapped = swapped
        self.shape = (len(left[0]), len(right[0]))

    def _inner(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray | None:
        if self.inputs is None:
            return None
        out = np.zeros((index_length(rows, self.shape[0]), index_length(cols, self.shape[1])))
        for coef, term in self.inputs:
            term.add_into(out, rows, cols, coef)
        return out

    def _call(self, inner: np.ndarray | None, lv: tuple, rv: tuple) -> np.ndarray:
        if self.swapped:
            return self.fn(inner, rv, lv)
        return self.fn(inner, lv, rv)

    def block(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
        lv = tuple(x[rows][:, None] for x in self.left)
        rv = tuple(x[cols][None, :] for x in self.right)
        out = self._call(self._inner(rows, cols), lv, rv)
        return np.broadcast_to(
            out, (index_length(rows, self.shape[0]), index_length(cols, self.shape[1]))
        ).copy()

    def pairs(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        inner = None
        if self.inputs is not None:
            inner = np.zeros(len(r))
            for coef, term in self.inputs:
                inner += coef * term.pairs(r, c)
        lv = tuple(x[r] for x in self.left)
        rv = tuple(x[c] for x in self.right)
        return np.broadcast_to(self._call(inner, lv, rv), (len(r),)).copy()

    def transpose(self) -> Func:
        return Func(
            self.fn,
            self.right,
            self.left,
            None if self.inputs is None else [(coef, t.transpose()) for coef, t in self.inputs],
            swapped=not self.swapped,
        )


def overlap_terms(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    left_weight: np.ndarray | None = None,
    right_weight: np.ndarray | None = None,
) -> list[tuple[float, Term]]:
    """``diag(lw) @ left @ right.T @ diag(rw)`` as dense low-rank plus sparse rare part.

    The categories that can match the most pairs go into a dense product (BLAS);
    the long tail of rare categories into a sparse product, whose cost is the
    number of pairs that actually share one.
    """
    n_left, n_right = left.shape[0], right.shape[0]
    counts = left.getnnz(axis=0).astype(np.int64) * right.getnnz(axis=0).astype(np.int64)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    terms: list[tuple[float, Term]] = []
    dense, rare = order[:_DENSE_VOCAB], order[_DENSE_VOCAB:]
    lw = np.ones(n_left) if left_weight is None else left_weight
    rw = np.ones(n_right) if right_weight is None else right_weight
    if dense.size:
        a = left[:, dense].toarray() * lw[:, None]
        b = right[:, dense].toarray() * rw[:, None]
        terms.append((1.0, LowRank(a, b)))
    if rare.size:
        product = (left[:, rare] @ right[:, rare].T).tocsr()
        product = sp.diags(lw) @ product @ sp.diags(rw)
        terms.append((1.0, SparseTerm(product)))
    return terms


def safe_inverse(x: np.ndarray) -> np.ndarray:
    """``1 / x`` where ``x > 0``, else 0 (e.g. one over a set size, 0 for an empty set)."""
    out = np.zeros_like(x, dtype=np.float64)
    np.divide(1.0, x, out=out, where=x > 0)
    return out


def set_table_or_func(
    cache: EncodingCache,
    left: Roster,
    right: Roster,
    left_col: str,
    right_col: str,
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Table | Func:
    """A function of (overlap count, left size, right size) of two set columns.

    Tabulated over the distinct sets of each side when that table is small
    (the usual case for languages or goal lists), otherwise computed per
    block from the overlap counts.
    """
    codes = set_codes(cache, left, right, left_col, right_col)
    ul, ur = codes.left_sets.shape[0], codes.right_sets.shape[0]
    if fits_table(ul, ur):
        inter = (codes.left_sets @ codes.right_sets.T).toarray()
        ls = np.diff(codes.left_sets.indptr).astype(np.float64)[:, None]
        rs = np.diff(codes.right_sets.indptr).astype(np.float64)[None, :]
        table = np.asarray(fn(inter, ls, rs), dtype=np.float64)
        return Table(codes.left, codes.right, table)
    mh = multi_hot(cache, left, right, left_col, right_col)

    def apply(inner: np.ndarray, lv: tuple, rv: tuple) -> np.ndarray:
        return fn(inner, lv[0], rv[0])

    return Func(apply, (mh.left_size,), (mh.right_size,), overlap_terms(mh.left, mh.right))


def numeric_table_or_func(
    xl: np.ndarray,
    xr: np.ndarray,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    missing: float | bool = 0.0,
) -> Table | Func:
    """``fn(x_mentor, x_mentee)`` of two numeric vectors; ``missing`` where either is NaN.

    ``fn`` must be element-wise. Tabulated over distinct values when they are
    few (levels, UTC offsets), element-wise per block otherwise.
    """
    lc, rc, values = value_codes(xl, xr)
    u = len(values)
    if fits_table(u + 1, u + 1):
        table = np.full((u + 1, u + 1), missing, dtype=np.asarray(missing).dtype)
        if u:
            table[:u, :u] = fn(values[:, None], values[None, :])
        return Table(lc, rc, table)

    def apply(_inner: None, lv: tuple, rv: tuple) -> np.ndarray:
        a, b = lv[0], rv[0]
        known = ~(np.isnan(a) | np.isnan(b))
        with np.errstate(invalid="ignore"):
            value = fn(a, b)
        return np.where(known, value, missing)

    return Func(apply, (xl,), (xr,))


def evaluate(
    terms: Sequence[tuple[float, Term]], shape: tuple[int, int], rows: Index, cols: Index
) -> np.ndarray:
    """Sum ``coef * term`` over a block, clipped to [0, 1] (rounding never leaves the range)."""
    r = as_index(rows, shape[0], "rows")
    c = as_index(cols, shape[1], "cols")
    out = np.zeros((index_length(r, shape[0]), index_length(c, shape[1])))
    for coef, term in terms:
        term.add_into(out, r, c, coef)
    return np.clip(out, 0.0, 1.0, out=out)


def evaluate_pairs(
    terms: Sequence[tuple[float, Term]], r: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Sum ``coef * term`` at pairs ``(r[k], c[k])``, clipped to [0, 1]."""
    out = np.zeros(len(r))
    for coef, term in terms:
        out += coef * term.pairs(r, c)
    return np.clip(out, 0.0, 1.0, out=out)


# ---------------------------------------------------------------------------
# Column checks shared by criteria and rules
# ---------------------------------------------------------------------------


class ColumnChecks:
    """Column checks shared by criteria and rules, which both declare :meth:`columns`."""

    name: str
    #: "criterion" or "rule", for messages
    _kind = "criterion"

    def columns(self) -> tuple[tuple[str, str], ...]:
        """The ``(side, column)`` pairs read, side being ``"mentors"`` or ``"mentees"``."""
        raise NotImplementedError

    def check_columns(self, mentors: Roster, mentees: Roster, *, allow_protected: bool) -> None:
        """Raise :class:`InputError` for an absent or protected column."""
        owner = f"{self._kind} {self.name!r}"
        check_protected((c for _, c in self.columns()), owner, allow_protected)
        for side, column in self.columns():
            require_column(mentors if side == "mentors" else mentees, column, side, owner)

    def missing_columns(self, mentors: Roster, mentees: Roster) -> list[str]:
        """Columns that are absent or entirely blank (``side: column (source)``)."""
        out = []
        for side, column in self.columns():
            roster = mentors if side == "mentors" else mentees
            if not roster.has(column):
                out.append(
                    f"`{column}` in the {side_name(roster, side)} roster "
                    f"({roster_display(roster)})"
                )
        return out


# ---------------------------------------------------------------------------
# Mask terms
# ---------------------------------------------------------------------------


class MaskTerm:
    """A bool matrix (mentors x mentees, True = allowed) applied block by block."""

    shape: tuple[int, int]

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        """``mask &= self[rows][:, cols]`` in place."""
        raise NotImplementedError

    def transpose(self) -> MaskTerm:
        """The same term with mentors and mentees swapped."""
        raise NotImplementedError


class TableMask(MaskTerm):
    """Allowed where ``table[left_code, right_code]`` is True."""

    def __init__(self, table: Table) -> None:
        self.table = Table(table.left, table.right, np.asarray(table.table, dtype=bool))
        self.shape = self.table.shape

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        mask &= self.table.block(rows, cols)

    def transpose(self) -> TableMask:
        return TableMask(self.table.transpose())

    def violations(self) -> Table:
        """The table of forbidden combinations as 0/1 (for a fused product of violations)."""
        return Table(self.table.left, self.table.right, ~self.table.table)


class FuncMask(MaskTerm):
    """Allowed where an element-wise function (a :class:`Func`) is > 0.5."""

    def __init__(self, func: Func) -> None:
        self.func = func
        self.shape = func.shape

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        mask &= self.func.block(rows, cols) > 0.5

    def transpose(self) -> FuncMask:
        return FuncMask(self.func.transpose())


class ForbidPairs(MaskTerm):
    """Forbidden where a sparse matrix has a stored entry."""

    def __init__(self, matrix: sp.spmatrix | sp.sparray) -> None:
        m = sp.csr_matrix(matrix, dtype=np.float64)
        m.sum_duplicates()
        m.data[:] = 1.0
        self.matrix = m
        self.shape = m.shape

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        r, c = self.entries(rows, cols)
        mask[r, c] = False

    def entries(
        self, rows: slice | np.ndarray, cols: slice | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``(row, column)`` of the forbidden pairs within the block ``rows x cols``."""
        r, c, _ = block_entries(self.matrix, rows, cols)
        return r, c

    def transpose(self) -> ForbidPairs:
        return ForbidPairs(self.matrix.T.tocsr())


class Flags(MaskTerm):
    """Allowed only for rows with ``left`` True and columns with ``right`` True."""

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self.left = np.asarray(left, dtype=bool)
        self.right = np.asarray(right, dtype=bool)
        self.shape = (len(self.left), len(self.right))

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        bad_rows = ~self.left[rows]
        if bad_rows.any():
            mask[bad_rows, :] = False
        bad_cols = ~self.right[cols]
        if bad_cols.any():
            mask[:, bad_cols] = False

    def transpose(self) -> Flags:
        return Flags(self.right, self.left)


class Restrict(MaskTerm):
    """Column ``j`` only at row ``col_row[j]``, row ``i`` only at ``row_col[i]`` (-1: free)."""

    def __init__(self, col_row: np.ndarray, row_col: np.ndarray) -> None:
        self.col_row = np.asarray(col_row, dtype=np.intp)
        self.row_col = np.asarray(row_col, dtype=np.intp)
        self.shape = (len(self.row_col), len(self.col_row))

    def apply(self, mask: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
        row_pos = np.arange(self.shape[0])[rows]
        col_pos = np.arange(self.shape[1])[cols]
        need = self.col_row[col_pos]
        for k in np.flatnonzero(need >= 0):
            mask[:, k] &= row_pos == need[k]
        need = self.row_col[row_pos]
        for k in np.flatnonzero(need >= 0):
            mask[k, :] &= col_pos == need[k]

    def transpose(self) -> Restrict:
        return Restrict(self.row_col, self.col_row)


def bool_mask_term(term: Table | Func) -> MaskTerm:
    """A 0/1 score term as a mask term: allowed where the value is above 0.5."""
    if isinstance(term, Table):
        return TableMask(Table(term.left, term.right, np.asarray(term.table) > 0.5))
    return FuncMask(term)


def apply_terms(
    terms: Sequence[MaskTerm], shape: tuple[int, int], rows: Index, cols: Index
) -> np.ndarray:
    """AND of mask terms over a block (all True when there are none)."""
    r = as_index(rows, shape[0], "rows")
    c = as_index(cols, shape[1], "cols")
    mask = np.ones((index_length(r, shape[0]), index_length(c, shape[1])), dtype=bool)
    for term in terms:
        term.apply(mask, r, c)
    return mask


def same_pool(mentors: Roster, mentees: Roster) -> bool:
    """True when both sides are one pool of people (peers): pairs apply both ways."""
    if mentors is mentees:
        return True
    return len(mentors) == len(mentees) and bool(np.array_equal(mentors.ids, mentees.ids))
