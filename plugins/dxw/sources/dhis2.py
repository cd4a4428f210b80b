"""Reporting-system connector: DHIS2 ``dataValueSets`` in JSON and CSV, pulled or imported.

A data value set is read the way DHIS2 imports one: values inherit the set's ``period`` and
``orgUnit`` when they omit them; data elements and org units are looked up by UID or, with
``id_scheme="code"``, by code (DHIS2's ``idScheme``), through the ``dhis2_data_elements`` seed
and the reporting system's rows of the unit crosswalk. A value that cannot be placed is a
*conflict* (object and reason, as in DHIS2's import summary) and is not imported, among them a
value for an org unit that is closed for the period (DHIS2's ``E2019``: the unit opened after the
period or closed before it; the period's window is Decree 09's, as in the warehouse); the others
land as one batch per period, identifiers normalised to UIDs. Downstream, the latest value of a
(data element, period, org unit, option combos) wins, as in DHIS2; a value marked ``deleted``
(or an empty value, or any value under ``importStrategy=DELETE``) lands as a deletion, and a
deleted latest value means "no value" downstream.

The CSV layout is read by its header (DHIS2's current one, ``categoryoptioncombo,...,followup,
deleted``, its legacy one, ``catoptcombo,...,timestamp``, and ``created``), columns in any order;
an unknown column is ignored with a warning. A file without a header is read by position in
DHIS2's layout. Pulls ask only for what changed since a watermark (DHIS2's ``lastUpdated``),
deletions included (``includeDeleted=true``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

import msgspec

from dxw import catalogue
from dxw.periods import Period, PeriodError, parse
from dxw.settings import Settings, get_settings
from dxw.sources import http_session as http
from dxw.sources import registry
from dxw.sources.contract import (
    ColumnRecords,
    ContractError,
    Delivery,
    Document,
    Records,
    SourceError,
    column,
    key_ranks,
)

log = logging.getLogger(__name__)

SOURCE = "reporting_system"
DATASET = "dhis2_data_values"
PATH = "/api/dataValueSets.json"
DEFAULT_COMBO = "HllvX50cXC0"
DATA_SET_CODE = "DXW_SIXMONTHLY"
# The field contract of a value and its key, declared in the registry.
FIELDS = registry.dataset(DATASET).fields
KEY = registry.dataset(DATASET).key
# A pulled value carries every field but ``deleted``, which DHIS2 writes only on a deleted value
# (``includeDeleted=true``).
_OPTIONAL_FIELDS = frozenset({"deleted"})
# DHIS2's CSV columns by the names its exports have used (the current export, the legacy one, the
# abbreviations of its documentation's examples), mapped to the value fields.
CSV_NAMES = {
    "dataelement": "dataElement",
    "period": "period",
    "orgunit": "orgUnit",
    "categoryoptioncombo": "categoryOptionCombo",
    "catoptcombo": "categoryOptionCombo",
    "attributeoptioncombo": "attributeOptionCombo",
    "attroptcombo": "attributeOptionCombo",
    "value": "value",
    "storedby": "storedBy",
    "strby": "storedBy",
    "lastupdated": "lastUpdated",
    "timestamp": "lastUpdated",
    "lstupd": "lastUpdated",
    "comment": "comment",
    "cmt": "comment",
    "followup": "followup",
    "flwup": "followup",
    "created": "created",
    "deleted": "deleted",
}
# A header-less CSV, by position: DHIS2's reader takes the eleventh column as ``deleted``.
CSV_POSITIONS = (
    "dataElement",
    "period",
    "orgUnit",
    "categoryOptionCombo",
    "attributeOptionCombo",
    "value",
    "storedBy",
    "lastUpdated",
    "comment",
    "followup",
    "deleted",
)
_REQUIRED_CSV = ("dataElement", "period", "orgUnit")
_WHOLE = re.compile(r"\d+")
STRATEGIES = ("CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE")
ImportStrategy = Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"]
IdScheme = Literal["uid", "code"]


@dataclass(frozen=True)
class Conflict:
    """A value that was not imported: the object DHIS2 would name and why."""

    object: str
    value: str
    index: int  # 1-based position of the data value in the set


@dataclass
class ImportResult:
    """The values to land and the conflicts, as the import found them."""

    values: Records = field(default_factory=list)  # columns from the column-wise placement
    conflicts: list[Conflict] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # org-unit UID -> unit code


@dataclass
class Parsed:
    """A data value set as read: its values (set-level fields filled in) and what was ignored."""

    values: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Identifiers:
    """Where DHIS2 identifiers point in the warehouse."""

    elements_by_uid: Mapping[str, str]  # uid -> code
    element_uid_by_code: Mapping[str, str]
    unit_by_uid: Mapping[str, tuple[str, str]]  # uid -> (unit code, valid from)
    # (unit code, valid from) -> last day of validity, None while valid (the ``units`` seed)
    valid_to: Mapping[tuple[str, str], date | None] = field(default_factory=dict)


@cache
def mapping(seeds_dir: Path | None = None) -> Identifiers:
    """Data elements from the ``dhis2_data_elements`` seed, org units from the crosswalk seed."""
    elements = catalogue.rows("dhis2_data_elements", seeds_dir)
    units = {
        row["source_unit_id"]: (row["unit_code"], row["unit_valid_from"])
        for row in catalogue.rows("unit_crosswalk", seeds_dir)
        if row["source"] == SOURCE
    }
    valid_to = {
        (row["code"], row["valid_from"]): date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
        for row in catalogue.rows("units", seeds_dir)
    }
    return Identifiers(
        {e["data_element_uid"]: e["data_element_code"] for e in elements},
        {e["data_element_code"]: e["data_element_uid"] for e in elements},
        units,
        valid_to,
    )


def parse_document(content: bytes, media: Literal["json", "csv"]) -> list[dict[str, Any]]:
    """The data values of a JSON or CSV data value set, as delivered; a malformed file raises."""
    parsed = read_document(content, media)
    for warning in parsed.warnings:
        log.warning("%s", warning)
    return parsed.values


def read_document(content: bytes, media: Literal["json", "csv"]) -> Parsed:
    """:func:`parse_document` with the warnings (CSV columns ignored) kept for the summary."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContractError(f"the data value set is not UTF-8 text ({exc.reason})") from exc
    return Parsed(_parse_json(text)) if media == "json" else _parse_csv(text)


def _parse_json(text: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"the data value set is not valid JSON: {exc}") from exc
    return values_of(document)


def values_of(document: Any) -> list[dict[str, Any]]:
    """The data values of a parsed JSON data value set, with the set's period, org unit and
    attribute option combo filled in where a value leaves them out."""
    if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
        raise ContractError("a JSON data value set is an object with a 'dataValues' list")
    inherited = {
        k: document[k]
        for k in ("period", "orgUnit", "attributeOptionCombo")
        if isinstance(document.get(k), str) and document[k]
    }
    values = []
    for index, value in enumerate(document["dataValues"], start=1):
        if not isinstance(value, dict):
            raise ContractError(f"data value {index} is {type(value).__name__}, expected an object")
        values.append({**inherited, **value} if inherited else value)
    return values


def _parse_csv(text: str) -> Parsed:
    # newline="": the reader takes "\n", "\r\n" and a lone "\r" (old Mac exports) as line ends and
    # keeps them inside quoted cells; a malformed file is a contract error, not a crash.
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ContractError(f"the CSV data value set cannot be read: {exc}") from exc
    if not rows:
        return Parsed([])
    names = [cell.strip().lower() for cell in rows[0]]
    warnings: list[str] = []
    if any(name in CSV_NAMES for name in names):
        columns: list[str | None] = []
        for position, name in enumerate(names, start=1):
            target = CSV_NAMES.get(name)
            if target is None:
                warnings.append(
                    f"CSV column {position} '{rows[0][position - 1].strip()}' is not one of DHIS2's: ignored"
                )
            elif target in columns:
                raise ContractError(f"CSV columns name {target} twice ('{name}')")
            columns.append(target)
        missing = [c for c in _REQUIRED_CSV if c not in columns]
        if missing:
            raise ContractError(
                f"the CSV header has no column for {missing}; DHIS2's columns are {list(CSV_NAMES)}"
            )
        body, first = rows[1:], 2
    else:
        columns, body, first = list(CSV_POSITIONS), rows, 1
    values = []
    for number, row in enumerate(body, start=first):
        if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
            raise ContractError(f"CSV line {number} has {len(row)} cells; the layout has {len(columns)}")
        values.append({c: cell for c, cell in zip(columns, row, strict=False) if c is not None})
    return Parsed(values, warnings)


def resolve(
    values: Iterable[Mapping[str, Any]],
    id_scheme: IdScheme = "uid",
    period: Period | None = None,
    where: Identifiers | None = None,
    strategy: ImportStrategy = "CREATE_AND_UPDATE",
) -> ImportResult:
    """Place each value (data element, org unit, period, combos, number) or record its conflict.

    A value that asks for a deletion (``deleted`` true, an empty value, or ``strategy`` DELETE)
    is placed without checking its number; it keeps the number when it is one, else none.
    """
    where = where or mapping()
    unit_uid_by_code = {code: uid for uid, (code, _) in where.unit_by_uid.items()}
    values = values if isinstance(values, list) else list(values)
    columns = _columns(values)
    placed = (
        None
        if columns is None
        else _place(columns, len(values), id_scheme, period, where, unit_uid_by_code, strategy)
    )
    if placed is not None:
        # An import's caller reads and amends values one by one: records, not columns.
        return ImportResult(list(placed.values), placed.conflicts, placed.units)
    result = ImportResult()
    seen: dict[tuple[str, ...], int] = {}
    for index, raw in enumerate(values, start=1):
        value = {name: _text(raw.get(name)) for name in FIELDS}
        problem = _flags(value) or _check(value, id_scheme, period, where, unit_uid_by_code, strategy)
        if problem:
            result.conflicts.append(Conflict(problem[0], problem[1], index))
            continue
        key = tuple(value[k] for k in KEY)
        if key in seen:
            result.conflicts.append(
                Conflict(value["dataElement"], f"Duplicate data value: same as data value {seen[key]}", index)
            )
            continue
        seen[key] = index
        result.values.append(value)
        result.units[value["orgUnit"]] = where.unit_by_uid[value["orgUnit"]][0]
    return result


def _columns(values: list[Mapping[str, Any]]) -> dict[str, list[Any]] | None:
    """The values' fields as columns (a missing field None); None when a value is not a mapping."""
    try:
        return {name: [value.get(name) for value in values] for name in FIELDS}
    except AttributeError:
        return None


# What a cell may be for the columnar placement: text (a flag also a JSON boolean), or absent.
# Other kinds (numbers, lists) take the row-wise path, whose messages name them.
_CELL_KINDS = frozenset({str, type(None)})
_FLAG_KINDS = frozenset({str, bool, type(None)})


def _place(
    columns: Mapping[str, list[Any]],
    count: int,
    id_scheme: IdScheme,
    period: Period | None,
    where: Identifiers,
    unit_uid_by_code: Mapping[str, str],
    strategy: ImportStrategy,
    typed: bool = False,
    key_order: bool = False,
) -> ImportResult | None:
    """:func:`resolve`'s result computed column by column, or None when the row-wise path must
    say what is wrong (a conflict, a duplicate, a cell that is not text).

    ``typed``: the cells are known to be text, null or (a flag) a boolean, as the typed reader of
    the API's pages delivers them. ``key_order``: the values in the order of their key (``KEY``).

    A national half-year is 831,600 values naming 80 data elements, 10,395 org units and one
    period: each column's distinct cells are normalised and looked up once, and a value is only
    its cells' lookups. Every check of :func:`_check` is made on the distinct cells, so a delivery
    this accepts is one the row-wise path accepts, value for value. The values come as
    :class:`ColumnRecords`, in the order delivered unless ``key_order``.
    """
    texts: dict[str, list[str]] = {}
    for name in FIELDS:
        cells = columns[name]
        if not typed:
            kinds = set(map(type, cells))
            if not kinds <= (_FLAG_KINDS if name in ("followup", "deleted") else _CELL_KINDS):
                return None
        memo = {cell: _text(cell) for cell in set(cells)}
        if name in ("followup", "deleted"):
            for cell, text in memo.items():
                flag = text.lower()
                if flag in ("true", "false"):
                    memo[cell] = flag
                elif flag in ("", "null"):
                    memo[cell] = "false"
                else:
                    return None
        # Text already as it should be (stripped, a flag spelt out) is kept, not copied.
        same = all(text is cell for cell, text in memo.items())
        texts[name] = cells if same and isinstance(cells, list) else list(map(memo.__getitem__, cells))

    element_of: dict[str, str] = {}
    for text in set(texts["dataElement"]):
        element = where.element_uid_by_code.get(text, "") if id_scheme == "code" else text
        if element not in where.elements_by_uid:
            return None
        element_of[text] = element
    unit_of: dict[str, str] = {}
    for text in set(texts["orgUnit"]):
        unit = unit_uid_by_code.get(text, "") if id_scheme == "code" else text
        if unit not in where.unit_by_uid:
            return None
        unit_of[text] = unit
    period_of: dict[str, Period] = {}
    for text in set(texts["period"]):
        try:
            value_period = _period(text)
        except PeriodError:
            return None
        if value_period.kind != "halfyear" or (period is not None and value_period != period):
            return None
        period_of[text] = value_period
    if len(period_of) == 1:  # one period (a pull): each org unit is checked once
        (only,) = period_of.values()
        pairs: Iterable[tuple[str, Period]] = zip(unit_of, repeat(only))
    else:
        pairs = ((u, period_of[p]) for u, p in set(zip(texts["orgUnit"], texts["period"], strict=True)))
    for unit_text, value_period in pairs:
        if _closed_for(where, where.unit_by_uid[unit_of[unit_text]], value_period):
            return None
    for combo in ("categoryOptionCombo", "attributeOptionCombo"):
        if not set(texts[combo]) <= {"", "default", DEFAULT_COMBO}:
            return None
        texts[combo] = [DEFAULT_COMBO] * count

    number_of = {text: str(int(text)) if _WHOLE.fullmatch(text) else None for text in set(texts["value"])}
    numbers = list(map(number_of.__getitem__, texts["value"]))
    if None in numbers:
        deleted = texts["deleted"]
        for index, number in enumerate(numbers):
            if number is None:
                # A deletion names the value it deletes; its number does not matter.
                if strategy == "DELETE" or deleted[index] == "true" or texts["value"][index] == "":
                    numbers[index] = ""
                else:
                    return None
    texts["value"] = numbers
    texts["dataElement"] = list(map(element_of.__getitem__, texts["dataElement"]))
    texts["orgUnit"] = list(map(unit_of.__getitem__, texts["orgUnit"]))
    period_ids = {text: value_period.id for text, value_period in period_of.items()}
    texts["period"] = list(map(period_ids.__getitem__, texts["period"]))
    # Duplicates: one integer per key (key_ranks), equal for equal keys.
    ranks = key_ranks([texts[k] for k in KEY], count)
    if len(set(ranks)) != count:
        return None  # duplicates: the row-wise path names each and the value it repeats
    units = {uid: where.unit_by_uid[uid][0] for uid in dict.fromkeys(texts["orgUnit"])}
    values = ColumnRecords({name: texts[name] for name in FIELDS})
    return ImportResult(values.ordered_by(KEY, ranks) if key_order else values, [], units)


def is_deletion(value: Mapping[str, str], strategy: ImportStrategy = "CREATE_AND_UPDATE") -> bool:
    """Whether a placed value asks DHIS2 to delete the value it names (not to store a number)."""
    return strategy == "DELETE" or value["deleted"] == "true" or value["value"] == ""


def _flags(value: dict[str, str]) -> tuple[str, str] | None:
    """``followup`` and ``deleted`` as ``true``/``false`` (JSON booleans or CSV text), in place."""
    for name in ("followup", "deleted"):
        flag = value[name].lower()
        if flag in ("true", "false"):
            value[name] = flag
        elif flag in ("", "null"):  # not given; DHIS2's CSV export writes "null" for a live value
            value[name] = "false"
        else:
            return value[name], f"{name} must be true or false"
    return None


def _check(
    value: dict[str, str],
    id_scheme: IdScheme,
    period: Period | None,
    where: Identifiers,
    unit_uid_by_code: Mapping[str, str],
    strategy: ImportStrategy = "CREATE_AND_UPDATE",
) -> tuple[str, str] | None:
    """Normalise ``value`` in place; the (object, reason) of its conflict, if any."""
    element = value["dataElement"]
    if id_scheme == "code":
        element = where.element_uid_by_code.get(element, f"code:{element}")
    if element not in where.elements_by_uid:
        return value["dataElement"], "Data element not found or not accessible"
    unit = value["orgUnit"]
    if id_scheme == "code":
        unit = unit_uid_by_code.get(unit, f"code:{unit}")
    if unit not in where.unit_by_uid:
        return value["orgUnit"], "Organisation unit not found or not accessible"
    try:
        value_period = _period(value["period"])
    except PeriodError:
        return value["period"] or "(none)", "Period not valid"
    if value_period.kind != "halfyear":
        return value[
            "period"
        ], f"Period type of period {value['period']} is not valid for data set (SixMonthly)"
    if period is not None and value_period != period:
        return value["period"], f"Period {value_period.id} is outside the import's period {period.id}"
    closed = _closed_for(where, where.unit_by_uid[unit], value_period)
    if closed:
        return value["orgUnit"], closed
    for combo in ("categoryOptionCombo", "attributeOptionCombo"):
        if value[combo] in ("", "default", DEFAULT_COMBO):
            value[combo] = DEFAULT_COMBO
        else:
            return value[combo], "Category option combo not found or not accessible"
    number = value["value"]
    if _WHOLE.fullmatch(number):
        number = str(int(number))
    elif is_deletion(value, strategy):
        number = ""  # a deletion names the value it deletes; its number does not matter
    else:
        return value["value"], "Value must be zero or a positive integer"
    value.update(dataElement=element, orgUnit=unit, period=value_period.id, value=number)
    return None


def _closed_for(where: Identifiers, unit: tuple[str, str], period: Period) -> str | None:
    """DHIS2's E2019 when the org unit opened after the period or closed before it, else None.

    The window is the period's Decree 09 window, as in the warehouse: a unit that existed on
    one day of it (Hà Giang's units on 15-30 June 2025 in 2025S2) is open for the period.
    """
    code, valid_from = unit
    start, end = period.window("decree09")
    opening, closing = date.fromisoformat(valid_from), where.valid_to.get(unit)
    if opening > end:
        reason = f"opening date {opening} is after the period's end {end}"
    elif closing is not None and closing < start:
        reason = f"closed date {closing} is before the period's start {start}"
    else:
        return None
    return f"Organisation unit is closed for the selected period: {period.id} ({code}: {reason})"


def _text(cell: Any) -> str:
    if cell.__class__ is str:
        return cell.strip()
    return "" if cell is None else str(cell).strip()


# A data value set names a handful of periods over and over: parse each once.
_period = lru_cache(maxsize=256)(parse)


def data_set_uid() -> str:
    from dxw.units import dhis2_uid

    return dhis2_uid(f"ds:{DATA_SET_CODE}")


def fetch(settings: Settings, base_url: str, period: Period, since: str | None = None) -> Delivery:
    """The data set's values for a half-year from the reporting system's API, every one placed.

    Deleted values come too (``includeDeleted=true``) and land as deletions. With ``since`` (a
    watermark: the latest ``lastUpdated`` an earlier pull saw) only the values changed after it
    are asked for (DHIS2's ``lastUpdated``, which is inclusive: the watermark plus a millisecond).
    A system feed must be clean: a value the warehouse cannot place fails the delivery, naming it.
    One request per configured org unit and its children, ``DXW_DHIS2_CONCURRENCY`` at a time;
    the answers are read in the order of the setting whatever order they arrive in.
    """
    if period.kind != "halfyear":
        raise SourceError(f"the reporting system's data set is SixMonthly, not {period.kind}")
    params = {
        "dataSet": data_set_uid(),
        "period": period.id,
        "children": "true",
        "includeDeleted": "true",
    }
    if since:
        params["lastUpdated"] = after(since)
    # A country's data set in one answer would be hundreds of megabytes: one subtree per request.
    org_units = settings.reporting_org_units or _root_uids(period)
    pages = _pull(settings, base_url.rstrip("/") + PATH, params, org_units)
    documents = [raw for _, raw in pages]
    result = _placed_pages([document for document, _ in pages], documents, period)
    deleted = column(result.values, "deleted").count("true")
    log.info(
        "%s %s: %d values (%d deleted)%s",
        DATASET,
        period,
        len(result.values),
        deleted,
        f" changed after {since}" if since else "",
    )
    return Delivery(result.values, documents)


def _placed_pages(parsed: list[Any], documents: list[Document], period: Period) -> ImportResult:
    """Every value of the answers (as :func:`http.fetch_page` read them, and verbatim) placed,
    column-wise when it can be and in key order; else row-wise, naming what is wrong. A value
    that cannot be placed fails the delivery."""
    typed = all(isinstance(document, _ApiValueSet) for document in parsed)
    if not typed:
        # A page of another shape: every page as plain JSON, and the checks below name the difference.
        parsed = _plain_pages(parsed, documents)
    columns, count = _typed_columns(parsed) if typed else _value_columns(parsed)
    result = None
    if columns is not None:
        # In key order: the loader lands a feed's records in that order (same content, same checksum).
        result = _place(
            columns, count, "uid", period, mapping(), {}, "CREATE_AND_UPDATE", typed=typed, key_order=True
        )
    if result is None:
        # Something to say: the row-wise path names the value and the reason.
        values: list[dict[str, Any]] = []
        for document in _plain_pages(parsed, documents):
            try:
                values.extend(values_of(document))
            except ContractError as exc:
                raise ContractError(f"{DATASET}: {exc}") from exc
        _check_shape(values)
        result = resolve(values, period=period)
    if result.conflicts:
        shown = "; ".join(f"{c.object}: {c.value}" for c in result.conflicts[:5])
        raise ContractError(f"{DATASET}: {len(result.conflicts)} values cannot be placed ({shown})")
    return result


def _pull(
    settings: Settings, url: str, params: Mapping[str, str], org_units: Sequence[str]
) -> list[tuple[Any, Document]]:
    """Each org unit's answer (parsed and verbatim), in the order of ``org_units``; the first
    failure in that order raises, and the requests not started yet are cancelled."""
    local = threading.local()
    sessions: list[Any] = []
    lock = threading.Lock()

    def page(number: int, org_unit: str) -> tuple[Any, Document]:
        session = getattr(local, "session", None)
        if session is None:
            # requests' sessions are not shared between threads: one per worker.
            session = local.session = http.session(settings)
            with lock:
                sessions.append(session)
        return http.fetch_page(
            session,
            settings,
            DATASET,
            number,
            "GET",
            url,
            decode=_decode_value_set,
            params={**params, "orgUnit": org_unit},
        )

    workers = max(1, min(settings.dhis2_concurrency, len(org_units)))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="dxw-dhis2") as pool:
            futures = [pool.submit(page, number, unit) for number, unit in enumerate(org_units, start=1)]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        for session in sessions:
            session.close()


# Fields a value inherits from its data value set when it leaves them out.
_INHERITED = frozenset({"period", "orgUnit", "attributeOptionCombo"})
_MISSING = object()


def _inherited(name: str, set_value: Any) -> Any:
    """What a value that leaves ``name`` out takes from its set: the set's text for a field it
    inherits (DHIS2 fills in only a non-empty one), else ``_MISSING``."""
    return set_value if name in _INHERITED and isinstance(set_value, str) and set_value else _MISSING


# A data value set as the API sends it, read straight into typed values (msgspec). A value holds
# the contract's fields and no other; a cell is text or null (a flag also a JSON boolean); a
# field a value may leave out (``deleted``, and what it inherits from its set) is UNSET then.
# Any other page is read as plain JSON, and the contract's checks say what differs.
_CELL_TYPE = {
    name: (str | bool | None) if name in ("followup", "deleted") else (str | None) for name in FIELDS
}
_ApiValue = msgspec.defstruct(
    "_ApiValue",
    [
        (name, kind | msgspec.UnsetType, msgspec.UNSET)
        if name in _OPTIONAL_FIELDS or name in _INHERITED
        else (name, kind)
        for name, kind in _CELL_TYPE.items()
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
_ApiValueSet = msgspec.defstruct(
    "_ApiValueSet",
    [
        ("dataValues", list[_ApiValue]),
        *((name, Any, None) for name in sorted(_INHERITED)),
    ],
)
_VALUE_SET = msgspec.json.Decoder(_ApiValueSet)


def _decode_value_set(content: bytes) -> Any:
    """A page as a typed value set; ``ValueError`` (msgspec's) when it has another shape or is not
    UTF-8 JSON, and :func:`dxw.sources.http_session.fetch_page` then reads it as plain JSON.
    msgspec reads the 263 MB of a national half-year's pages in 0.52 s where ``json.loads`` takes
    1.68 s (one process, medians of 3)."""
    return _VALUE_SET.decode(content)


def _plain_pages(pages: Sequence[Any], documents: Sequence[Document]) -> list[Any]:
    """The pages as plain JSON (objects as dicts): a typed page is read again from its bytes."""
    return [
        json.loads(document.content) if isinstance(page, _ApiValueSet) else page
        for page, document in zip(pages, documents, strict=True)
    ]


def _typed_columns(documents: Sequence[Any]) -> tuple[dict[str, list[Any]] | None, int]:
    """The values of typed value sets as columns, with what a value inherits from its set filled
    in (``None`` for a ``deleted`` left out); a required field left out makes the columns None."""
    columns: dict[str, list[Any]] = {name: [] for name in FIELDS}
    count = 0
    for document in documents:
        values = document.dataValues
        for name in FIELDS:
            cells = list(map(attrgetter(name), values))
            if msgspec.UNSET in cells:
                default = _inherited(name, getattr(document, name, None))
                if default is _MISSING:
                    if name not in _OPTIONAL_FIELDS:
                        return None, 0  # a value without a field it must carry: the row-wise path says so
                    default = None
                cells = [default if cell is msgspec.UNSET else cell for cell in cells]
            columns[name].extend(cells)
        count += len(values)
    return columns, count


def _value_columns(documents: list[Any]) -> tuple[dict[str, list[Any]] | None, int]:
    """The data values of JSON data value sets as columns (a set's period, org unit and
    attribute option combo filled in where a value leaves them out), and how many there are.

    None when a set or a value is not what the API sends (not an object, a field missing or one
    more than the contract's): the row-wise path then says which value, with
    :func:`values_of` and :func:`_check_shape`.
    """
    columns: dict[str, list[Any]] = {name: [] for name in FIELDS}
    count = 0
    for document in documents:
        if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
            return None, 0
        values = document["dataValues"]
        if not all(value.__class__ is dict for value in values):
            return None, 0
        present = 0
        for name in FIELDS:
            default = _inherited(name, document.get(name))
            cells = list(map(dict.get, values, repeat(name), repeat(default)))
            missing = cells.count(_MISSING)
            if missing and name not in _OPTIONAL_FIELDS:
                return None, 0
            present += len(values) - missing - (0 if default is _MISSING else _absent(values, name))
            columns[name].extend(cells if not missing else [None if c is _MISSING else c for c in cells])
        if sum(map(len, values)) != present:
            return None, 0  # a field the contract does not have
        count += len(values)
    return columns, count


def _absent(values: list[dict[str, Any]], name: str) -> int:
    """How many of ``values`` leave ``name`` out (and inherit it from their set)."""
    return sum(name not in value for value in values)


def _check_shape(values: list[dict[str, Any]]) -> None:
    """The API's value objects carry every field of the contract, and nothing else."""
    required = set(FIELDS) - _OPTIONAL_FIELDS
    for index, value in enumerate(values, start=1):
        missing, extra = sorted(required - set(value)), sorted(set(value) - set(FIELDS))
        if missing or extra:
            raise ContractError(
                f"{DATASET}: the data value shape changed at value {index}: "
                f"missing fields {missing or 'none'}, unexpected fields {extra or 'none'}"
            )


def _stamp(text: str) -> datetime | None:
    """A DHIS2 time stamp (``2025-06-20T08:15:00.000``, with or without an offset), or None."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")) if text.strip() else None
    except ValueError:
        return None


def watermark(values: Sequence[Mapping[str, str]], previous: str | None = None) -> str | None:
    """The latest ``lastUpdated`` among ``values`` and ``previous``, as DHIS2 wrote it.

    Stamps are compared as DHIS2 writes them: all in the server's time (without an offset) or
    all with one; a pull never mixes the two.
    """
    best, best_text = (_stamp(previous), previous) if previous else (None, None)
    # A pull of a national half-year holds a few distinct stamps among 831,600 values: each is
    # read once, in order of first appearance (of equal moments, the first written wins).
    for text in dict.fromkeys(column(values, "lastUpdated")):
        moment = _stamp(text or "")
        if moment is not None and (best is None or moment > best):
            best, best_text = moment, text
    return best_text


def after(stamp: str) -> str:
    """The ``lastUpdated`` parameter asking for what changed after ``stamp`` (a millisecond later)."""
    moment = _stamp(stamp)
    if moment is None:
        raise ValueError(f"{stamp!r} is not a DHIS2 time stamp")
    later = moment + timedelta(milliseconds=1)
    text = f"{later:%Y-%m-%dT%H:%M:%S}.{later.microsecond // 1000:03d}"
    return text + (later.strftime("%z")[:3] + ":" + later.strftime("%z")[3:] if later.tzinfo else "")


def _root_uids(period: Period) -> tuple[str, ...]:
    """The province org units whose children report ``period``: Hà Giang for what falls before 1
    July 2025, the new Tuyên Quang for what falls from that day (2025S2 straddles: both)."""
    from dxw.units import REORGANISATION_DATE, current_units, legacy_units

    start, end = period.window("decree09")
    change = date.fromisoformat(REORGANISATION_DATE)
    return tuple(
        generation[0].dhis2_uid()
        for generation, used in ((legacy_units(), start < change), (current_units(), end >= change))
        if used
    )


@dataclass(frozen=True)
class Completion:
    """A JSON set's ``completeDate`` and the (org-unit UID, period id) it completes."""

    at: datetime
    unit_period: tuple[str, str] | None  # None when the set does not name both


def completion(document: Document, id_scheme: IdScheme = "uid") -> Completion | None:
    """When a JSON data value set was completed (``completeDate``), and for which org unit.

    DHIS2 registers the completion of the set's data set for the set's own ``orgUnit`` and
    ``period`` only: values of other org units or periods in the same file are not completed by
    it. A time without a zone is the server's, a Vietnamese reporting system's local time
    (``DXW_TIMEZONE``). A CSV set carries none.
    """
    if document.media_type != "application/json":
        return None
    body = json.loads(document.content.decode("utf-8-sig"))
    stamp = body.get("completeDate")
    if not isinstance(stamp, str) or not stamp.strip():
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip())
    except ValueError as exc:
        raise ContractError(f"{document.name}: completeDate {stamp!r} is not a date") from exc
    at = moment if moment.tzinfo else moment.replace(tzinfo=get_settings().zone)
    unit, period = body.get("orgUnit"), body.get("period")
    if not (isinstance(unit, str) and unit.strip() and isinstance(period, str) and period.strip()):
        return Completion(at, None)
    unit = unit.strip()
    if id_scheme == "code":
        unit = next((uid for uid, (code, _) in mapping().unit_by_uid.items() if code == unit), unit)
    try:
        return Completion(at, (unit, _period(period.strip()).id))
    except PeriodError:
        return Completion(at, None)


def read_file(path: Path) -> tuple[Parsed, Document]:
    """The data values of a ``.json`` or ``.csv`` data value set file, and the file kept verbatim."""
    media: Literal["json", "csv"]
    suffix = path.suffix.lower()
    if suffix == ".json":
        media = "json"
    elif suffix == ".csv":
        media = "csv"
    else:
        raise ContractError(
            f"{path.name}: a data value set is a .json or .csv file, not {suffix or 'no suffix'}"
        )
    content = path.read_bytes()
    document = Document(path.name, "application/json" if media == "json" else "text/csv", content)
    return read_document(content, media), document
