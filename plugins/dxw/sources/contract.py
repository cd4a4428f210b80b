"""What every connector checks before anything lands: the shape of each record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import is_, itemgetter
from typing import Any, overload

from dxw.errors import SourceError as SourceError  # raised by every connector


@dataclass(frozen=True)
class Document:
    """One document a source sent, kept verbatim beside the rows flattened from it."""

    name: str
    media_type: str
    content: bytes


class ContractError(SourceError):
    """The source answered with records whose shape differs from the contract."""


class ColumnRecords(Sequence[dict[str, Any]]):
    """Records held as columns: one sequence of cells per field, all of one length.

    A national half-year of the reporting system is 831,600 values of 12 fields: as columns they
    are 12 lists, where as records they would be 831,600 dicts to build, sort and read back. It
    is a read-only sequence of records all the same: an item is a dict built when it is read, and
    a slice is columns again. The loader writes the columns without making a record. The columns
    are held, not copied: the caller hands them over and does not change them afterwards.
    """

    __slots__ = ("_columns", "_count", "_sorted_by")

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        lengths = {len(cells) for cells in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self._columns = dict(columns)
        self._count = lengths.pop() if lengths else 0
        self._sorted_by: tuple[str, ...] | None = None  # the key :meth:`ordered_by` put them in

    def column(self, name: str) -> Sequence[Any]:
        """The cells of one field, in record order."""
        return self._columns[name]

    def rows(self, fields: Sequence[str] | None = None) -> Iterator[tuple[Any, ...]]:
        """The records as tuples of their cells (of ``fields``, in that order; all by default)."""
        names = self._columns if fields is None else fields
        return zip(*(self._columns[name] for name in names), strict=True)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> ColumnRecords: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | ColumnRecords:
        if isinstance(index, slice):
            return ColumnRecords({name: cells[index] for name, cells in self._columns.items()})
        if not -self._count <= index < self._count:
            raise IndexError("record index out of range")
        return {name: cells[index] for name, cells in self._columns.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(map(_same, self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ColumnRecords({len(self)} records of {list(self._columns)})"

    def ordered_by(self, key: Sequence[str], ranks: Sequence[int] | None = None) -> ColumnRecords:
        """The records sorted by the cells of the ``key`` fields (stable; self when already so).

        ``ranks`` are :func:`key_ranks` of those fields when the caller has them already. A
        column whose cells are all one object (the reporting system's period and option combos)
        is kept as it is rather than copied in the new order. Key cells are compared as a sort of
        the records would compare them: text with text (None among text raises TypeError).
        """
        if self._sorted_by == tuple(key):
            return self
        if ranks is None:
            ranks = key_ranks([self._columns[name] for name in key], self._count)
        order = sorted(range(self._count), key=ranks.__getitem__)
        if all(map(int.__eq__, order, range(self._count))):
            ordered = self
        else:
            take = itemgetter(*order)  # at least two positions here: a tuple
            ordered = ColumnRecords(
                {
                    name: cells if all(map(is_, cells, repeat(cells[0]))) else list(take(cells))
                    for name, cells in self._columns.items()
                }
            )
        ordered._sorted_by = tuple(key)
        return ordered


def key_ranks(columns: Sequence[Sequence[Any]], count: int) -> list[int]:
    """One integer per record that orders the records as the tuples of their cells in
    ``columns`` would, and is equal for two records exactly when their tuples are.

    Each column's cells are replaced by their ranks among the column's distinct cells and the
    ranks are combined (mixed radix, the number of distinct cells the base): sorting 831,600
    integers, or putting them in a set, instead of as many tuples. A column with one distinct
    cell tells no two records apart and is left out.
    """
    combined: list[int] | None = None
    for cells in columns:
        distinct = sorted(set(cells))
        if len(distinct) < 2:
            continue
        rank = {cell: position for position, cell in enumerate(distinct)}
        if combined is None:
            combined = list(map(rank.__getitem__, cells))
        else:
            width = len(distinct)
            combined = [number * width + rank[cell] for number, cell in zip(combined, cells, strict=True)]
    return combined if combined is not None else [0] * count


def _same(left: Any, right: Any) -> bool:
    return bool(left == right)


Records = list[dict[str, Any]] | ColumnRecords


def in_key_order(records: Records, key: Sequence[str]) -> Records:
    """``records`` in the order of their ``key`` fields: a list sorted in place, columns reordered."""
    if isinstance(records, ColumnRecords):
        return records.ordered_by(key)
    records.sort(key=itemgetter(*key))
    return records


def column(records: Sequence[Mapping[str, Any]], name: str) -> Sequence[Any]:
    """One field of every record, in record order (``None`` where a record has no such field)."""
    if isinstance(records, ColumnRecords):
        return records.column(name)
    return [record.get(name) for record in records]


@dataclass
class Delivery:
    """What a connector fetched: contract-checked records and the documents they came from.

    ``records`` is a list of dicts or, from a connector that reads its source column-wise,
    :class:`ColumnRecords`; both are sequences of records.
    """

    records: Records = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


def check_record(source: str, fields: Mapping[str, type], record: Any, where: str) -> None:
    """Raise :class:`ContractError` naming the difference when ``record`` breaks the field contract."""
    if not isinstance(record, dict):
        raise ContractError(f"{source}: {where} is {type(record).__name__}, expected an object")
    expected, got = set(fields), set(record)
    if expected != got:
        missing = sorted(expected - got)
        extra = sorted(got - expected)
        raise ContractError(
            f"{source}: the record shape changed at {where}: "
            f"missing fields {missing or 'none'}, unexpected fields {extra or 'none'}"
        )
    for name, kind in fields.items():
        value = record[name]
        ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
        if not ok or isinstance(value, bool):
            got_type = type(value).__name__
            raise ContractError(
                f"{source}: field {name} at {where} is {value!r} ({got_type}), expected {kind.__name__}"
            )


def check_unique(source: str, records: Sequence[Mapping[str, Any]], key: str) -> None:
    """Overlapping pages deliver a record twice: refuse the delivery rather than double-count."""
    seen: set[Any] = set()
    for record in records:
        if record[key] in seen:
            raise ContractError(f"{source}: {key} {record[key]} appears twice; the pages overlap")
        seen.add(record[key])
