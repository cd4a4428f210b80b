"""What every connector checks before anything lands: the shape of each record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dxw.errors import SourceError as SourceError  # raised by every connector


@dataclass(frozen=True)
class Document:
    """One document a source sent, kept verbatim beside the rows flattened from it."""

    name: str
    media_type: str
    content: bytes


class ContractError(SourceError):
    """The source answered with records whose shape differs from the contract."""


@dataclass
class Delivery:
    """What a connector fetched: contract-checked records and the documents they came from."""

    records: list[dict[str, Any]] = field(default_factory=list)
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
