"""HTTP front of the source simulator (standard library only, loopback by default).

Public-service portal API (shape of the national portal's dashboard endpoints)::

    POST /api/v1/reporting/evaluation/dvc-progress-tree
    POST /api/v1/reporting/evaluation/provide-online-tree
    body: {"timeType": "month" | "quarter" | "year", "year": 2025, "month": 3 (timeType month),
           "quarter": 1 (timeType quarter), "rootDepartmentId": "<id of H02>",
           "currentPage": 1, "pageSize": 50}
    200:  {"success": true, "data": {"content": [...], "currentPage": 1, "pageSize": 50,
                                     "totalElements": 226, "totalPages": 5}}
    400:  {"success": false, "message": "..."}  (e.g. timeType "halfyear": the portal has none)
    GET  /api/dms/v1/work-dossier-stats?period=2025S1&page=1&size=100
    200:  {"period": "2025S1", "page": 1, "size": 100, "total": 234, "pageCount": 3,
           "items": [{"orgCode": "HGG-024", "orgName": ..., "dossiersTotal": ..., ...}]}
    GET  /api/dataValueSets.json?dataSet=<uid>&period=2025S1&orgUnit=<uid>&children=true
         [&lastUpdated=<time>|&lastUpdatedDuration=10d][&includeDeleted=true]
    GET  /api/dataValueSets.csv?...   (the same values in DHIS2's CSV layout)
    200:  {"dataSet": ..., "period": "2025S1", "dataValues": [{"dataElement", "period", "orgUnit",
           "categoryOptionCombo", "attributeOptionCombo", "value", "storedBy", "created",
           "lastUpdated", "comment", "followup"[, "deleted": true]}]}
    DELETE /api/dataValues?de=<uid>&pe=2025S1&ou=<uid>[&co=<uid>]    (204; 409 when none)
    POST   /api/dataValues?de=&pe=&ou=[&co=]&value=12                 (201)
    POST   /api/dataValueSets[?importStrategy=...&dryRun=true]  {"dataValues": [...]}
    200:  {"status": "SUCCESS", "importCount": {"imported", "updated", "ignored", "deleted"}}
    (writes change the province's system, stamped with the time they happen; not the national one)
    GET  /health

Faults for tests and drills are queued on a running server with :meth:`SimulatorServer.inject`,
or over HTTP with ``POST /_simulator/faults {"fault": "429", "times": 2}`` (``dxw simulator
serve --fault 429:2`` queues them at start); each answers the next source request: ``500``,
``429`` (with ``Retry-After``), ``timeout`` (no answer before the client gives up), ``truncate``
(cut JSON), ``rename:<field>`` (a field renamed in every record), ``duplicate-page`` (the
previous page served again) and
``inflate:<field>`` (the first record's numeric field multiplied by 10: plausible shape,
impossible figures).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dxw.periods import Period, PeriodError, parse
from dxw.simulator import dhis2_data, dms_data, portal_data
from dxw.simulator.national import NationalWorld

log = logging.getLogger(__name__)

PORTAL_PREFIX = "/api/v1/reporting/evaluation/"
DMS_PATH = "/api/dms/v1/work-dossier-stats"
FAULTS_PATH = "/_simulator/faults"
DHIS2_PATHS = {
    "/api/dataValueSets": "json",
    "/api/dataValueSets.json": "json",
    "/api/dataValueSets.csv": "csv",
}
DHIS2_VALUE_PATH = "/api/dataValues"
MAX_PAGE_SIZE = 200


class BadRequest(ValueError):
    pass


# The national portal's reporting API offers calendar months, quarters and years, nothing else:
# a half-year (timeType "halfyear") is refused like any other unknown type. Which body field
# carries the month or quarter is not in any public capture; the simulator and dxw's connector
# agree on "month" and "quarter" (README, public-service portal).
_PORTAL_TIME_TYPES = {
    "year": ("year", None, 1),
    "quarter": ("quarter", "quarter", 4),
    "month": ("month", "month", 12),
}


def _period_from_body(body: dict[str, Any]) -> Period:
    time_type = body.get("timeType")
    if time_type not in _PORTAL_TIME_TYPES:
        raise BadRequest(f"timeType {time_type!r} is not supported: use one of 'month', 'quarter', 'year'")
    year = body.get("year")
    if not isinstance(year, int) or year < portal_data.FIRST_YEAR:
        raise BadRequest(f"year must be an integer from {portal_data.FIRST_YEAR}")
    kind, field_name, count = _PORTAL_TIME_TYPES[time_type]
    if field_name is None:
        return Period(year, kind, 1)
    number = body.get(field_name)
    if not isinstance(number, int) or not 1 <= number <= count:
        raise BadRequest(f"{field_name} must be an integer in 1..{count} when timeType is {time_type!r}")
    return Period(year, kind, number)


def portal_page(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """One page of a portal endpoint's answer, as the JSON document it returns."""
    period = _period_from_body(body)
    root = body.get("rootDepartmentId")
    if root not in (None, *portal_data.roots()):
        raise BadRequest(f"unknown rootDepartmentId {root!r}")
    page = body.get("currentPage", 1)
    size = body.get("pageSize", 50)
    if not isinstance(page, int) or page < 1:
        raise BadRequest("currentPage must be an integer >= 1")
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"pageSize must be an integer in 1..{MAX_PAGE_SIZE}")
    # A period that has not begun is answered like one nobody has reported: no records.
    rows = portal_data.rows(endpoint, period) if portal_data.holds(period) else []
    if root is not None:
        rows = [row for row in rows if _under(row, root)]
    return {
        "success": True,
        "data": {
            "content": rows[(page - 1) * size : page * size],
            "currentPage": page,
            "pageSize": size,
            "totalElements": len(rows),
            "totalPages": math.ceil(len(rows) / size),
        },
    }


def _under(row: dict[str, Any], root: str) -> bool:
    """Whether a portal record is in the tree of ``root`` (its code starts with the root's)."""
    return row["departmentCode"].startswith(portal_data.roots()[root].portal_code + ".")


FAULTS = ("500", "429", "timeout", "truncate", "rename", "duplicate-page", "inflate")


class _FaultQueue:
    """Faults waiting for the next requests, shared by the server's handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self.served: list[str] = []

    def push(self, fault: str, times: int) -> None:
        if fault.split(":", 1)[0] not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._queue.extend([fault] * times)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.served.clear()

    def pop(self) -> str | None:
        with self._lock:
            fault = self._queue.popleft() if self._queue else None
            if fault:
                self.served.append(fault)
            return fault


class _Answers:
    """The national answers last rendered, by (period, org unit, media), at most ``size`` of them.

    A province's answer is 13,200 data values, 4 MB of JSON, that the simulator renders in Python:
    rendering a country's half-year takes seconds of the simulator's own. The country never
    changes, so a repeated request (``bench/national.py`` asks each once to time the simulator
    alone, then again through the connector) is answered with the same bytes, rendered once.
    """

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[str, str | None, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str | None, str], render: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = render()
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)
        return answer


def _rendered(national: NationalWorld, key: tuple[str, str | None, str]) -> bytes:
    period_id, org_unit, _ = key
    return json.dumps(national.as_json(parse(period_id), org_unit), ensure_ascii=False).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    faults: _FaultQueue
    timeout_seconds: float = 3.0
    # The reporting system of the whole country instead of the province's (dxw.simulator.national).
    national: NationalWorld | None = None
    # What was written to the province's reporting system through its API.
    dhis2_changes: dhis2_data.Changes
    # The national world's latest answers, rendered (see _national_answer).
    national_answers: _Answers
    # The latest portal request bodies received, in order (tests assert what a connector asked for).
    portal_requests: deque[dict[str, Any]]


@dataclass(frozen=True)
class Dhis2Query:
    """A checked ``dataValueSets`` query: what it selects."""

    period: Period
    org_unit: str | None
    since: datetime | None
    include_deleted: bool


def dhis2_data_value_set(query: dict[str, list[str]], national: NationalWorld | None = None) -> Dhis2Query:
    """Check a ``dataValueSets`` query the way DHIS2 does; return what it selects."""
    if query.get("dataSet", [""])[0] != dhis2_data.data_set_uid():
        raise BadRequest(f"dataSet must be {dhis2_data.data_set_uid()} (the only data set served)")
    try:
        period = parse(query.get("period", [""])[0])
    except PeriodError as exc:
        raise BadRequest(f"period is required (SixMonthly, e.g. 2025S1): {exc}") from exc
    holds = (
        national.holds(period)
        if national
        else period.kind == "halfyear" and period.year >= portal_data.FIRST_YEAR
    )
    if not holds:
        raise BadRequest("period must be a SixMonthly period the system holds (e.g. 2025S1)")
    if national and query.get("orgUnit", [""])[0] not in ("", *national.province_uids):
        raise BadRequest("orgUnit must be a province (with children=true) or left out")
    if not national and query.get("orgUnit", [""])[0] not in ("", *dhis2_data.roots()):
        raise BadRequest("orgUnit must be a province (with children=true) or left out")
    try:
        since = dhis2_data.since_of(
            query.get("lastUpdated", [""])[0] or None, query.get("lastUpdatedDuration", [""])[0] or None
        )
    except ValueError as exc:
        raise BadRequest(f"lastUpdated must be a time stamp, lastUpdatedDuration like 10d: {exc}") from exc
    include_deleted = query.get("includeDeleted", ["false"])[0].lower() == "true"
    return Dhis2Query(period, query.get("orgUnit", [""])[0] or None, since, include_deleted)


def _value_key(query: dict[str, list[str]]) -> dict[str, str]:
    """The data value a ``/api/dataValues`` request names (de, pe, ou, co; default combos)."""
    names = {"de": "dataElement", "pe": "period", "ou": "orgUnit", "co": "categoryOptionCombo"}
    value = {field: query.get(name, [""])[0] for name, field in names.items()}
    missing = [name for name, field in names.items() if name != "co" and not value[field]]
    if missing:
        raise BadRequest(f"parameters {missing} are required")
    if value["dataElement"] not in {e.uid for e in dhis2_data.data_elements()}:
        raise BadRequest(f"Data element not found or not accessible: {value['dataElement']}")
    try:
        period = parse(value["period"])
    except PeriodError as exc:
        raise BadRequest(f"Period not valid: {value['period']}") from exc
    if period.kind != "halfyear" or period.year < portal_data.FIRST_YEAR:
        raise BadRequest(f"Period not valid: {value['period']}")
    if not portal_data.holds(period):
        # DHIS2 refuses writes to a period after the data set's latest open period.
        raise BadRequest(f"Period: {value['period']} is after latest open future period")
    return {**value, "attributeOptionCombo": dhis2_data.DEFAULT_COMBO}


def dms_page(query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of the document-management system's work-dossier statistics."""
    try:
        period = parse(query.get("period", [""])[0])
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("size", ["100"])[0])
    except (PeriodError, ValueError) as exc:
        raise BadRequest(f"period (e.g. 2025S1), page and size are required: {exc}") from exc
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"page must be >= 1 and size in 1..{MAX_PAGE_SIZE}")
    try:
        rows = dms_data.work_dossier_rows(period)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    items = rows[(page - 1) * size : page * size]
    return {
        "period": period.id,
        "page": page,
        "size": size,
        "total": len(rows),
        "pageCount": math.ceil(len(rows) / size),
        "items": items,
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "dxw-simulator/1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, document: dict[str, Any]) -> None:
        self._send_payload(json.dumps(document, ensure_ascii=False).encode(), status)

    def _send_payload(self, payload: bytes, status: int = HTTPStatus.OK) -> None:
        """A JSON answer already rendered."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self._send(HTTPStatus.OK, {"status": "ok"})
        elif url.path == DMS_PATH:
            try:
                page = dms_page(parse_qs(url.query))
            except BadRequest as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            self._answer_dms_with_fault(self.server.faults.pop(), page)
        elif url.path in DHIS2_PATHS:
            query = parse_qs(url.query)
            try:
                selection = dhis2_data_value_set(query, self.server.national)
            except BadRequest as exc:
                self._send(HTTPStatus.CONFLICT, {"httpStatus": "Conflict", "message": str(exc)})
                return
            self._answer_dhis2_with_fault(self.server.faults.pop(), DHIS2_PATHS[url.path], selection)
        else:
            self._send(HTTPStatus.NOT_FOUND, {"success": False, "message": f"no route {self.path}"})

    def do_DELETE(self) -> None:
        """DHIS2's ``DELETE /api/dataValues?de=&pe=&ou=[&co=]``: soft-delete one value."""
        url = urlsplit(self.path)
        if url.path != DHIS2_VALUE_PATH or self.server.national:
            self._send(HTTPStatus.NOT_FOUND, {"success": False, "message": f"no route {self.path}"})
            return
        try:
            key = _value_key(parse_qs(url.query))
        except BadRequest as exc:
            self._send(HTTPStatus.CONFLICT, {"httpStatus": "Conflict", "message": str(exc)})
            return
        changes = self.server.dhis2_changes
        current = changes.current(changes.key(key))
        if current is None or current.get("deleted"):
            message = "Data value cannot be deleted because it does not exist"
            self._send(HTTPStatus.CONFLICT, {"httpStatus": "Conflict", "message": message})
            return
        changes.write({**current, "deleted": True})
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        if self.path == FAULTS_PATH:
            self._queue_faults()
            return
        url = urlsplit(self.path)
        if url.path in (DHIS2_VALUE_PATH, "/api/dataValueSets", "/api/dataValueSets.json"):
            if self.server.national:
                self._send(HTTPStatus.NOT_FOUND, {"success": False, "message": f"no route {self.path}"})
            else:
                self._write_dhis2(url.path, parse_qs(url.query))
            return
        endpoint = self.path.removeprefix(PORTAL_PREFIX)
        if not self.path.startswith(PORTAL_PREFIX) or endpoint not in portal_data.ENDPOINTS:
            self._send(HTTPStatus.NOT_FOUND, {"success": False, "message": f"no route {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            self.server.portal_requests.append({"endpoint": endpoint, **body})
            page = portal_page(endpoint, body)
        except (BadRequest, json.JSONDecodeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"success": False, "message": str(exc)})
            return
        self._answer_with_fault(self.server.faults.pop(), endpoint, body, page)

    def _answer_dms_with_fault(self, fault: str | None, page: dict) -> None:
        kind, _, arg = (fault or "").partition(":")
        if kind in ("rename", "inflate"):
            for record in page["items"][: None if kind == "rename" else 1]:
                if kind == "rename":
                    record[f"{arg}V2"] = record.pop(arg)
                else:
                    record[arg] *= 10
            self._send(HTTPStatus.OK, page)
        elif kind in ("500", "429", "timeout", "truncate"):
            self._answer_with_fault(fault, "", {}, page)
        elif kind == "duplicate-page":
            query = {
                "period": [page["period"]],
                "page": [str(max(1, page["page"] - 1))],
                "size": [str(page["size"])],
            }
            self._send(HTTPStatus.OK, {**page, "items": dms_page(query)["items"]})
        else:
            self._send(HTTPStatus.OK, page)

    def _queue_faults(self) -> None:
        """``POST /_simulator/faults {"fault": "429", "times": 2}``: drills against a running simulator."""
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            self.server.faults.push(str(body["fault"]), int(body.get("times", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            self._send(
                HTTPStatus.BAD_REQUEST, {"error": f"expected {{fault, times}} with a known fault: {exc}"}
            )
            return
        self._send(HTTPStatus.OK, {"queued": body["fault"], "times": int(body.get("times", 1))})

    def _write_dhis2(self, path: str, query: dict[str, list[str]]) -> None:
        """DHIS2's write API: one value (``POST /api/dataValues``) or a set (``/api/dataValueSets``)."""
        changes = self.server.dhis2_changes
        try:
            if path == DHIS2_VALUE_PATH:
                value = _value_key(query)
                number = query.get("value", [""])[0]
                stored = {"storedBy": "admin", "comment": query.get("comment", [""])[0], "followup": False}
                changes.write({**stored, **value, "value": number, "deleted": not number})
                self._send(HTTPStatus.CREATED, {"httpStatus": "Created", "status": "OK"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            strategy = query.get("importStrategy", ["CREATE_AND_UPDATE"])[0].upper()
            dry_run = query.get("dryRun", ["false"])[0].lower() == "true"
            summary = dhis2_data.import_values(changes, body, strategy, dry_run)
        except (BadRequest, ValueError) as exc:
            self._send(HTTPStatus.CONFLICT, {"httpStatus": "Conflict", "message": str(exc)})
            return
        self._send(HTTPStatus.OK, summary)

    def _answer_dhis2_with_fault(self, fault: str | None, media: str, selection: Dhis2Query) -> None:
        kind, _, arg = (fault or "").partition(":")
        national = self.server.national
        period, org_unit = selection.period, selection.org_unit
        if national:
            document = national.as_json(period, org_unit) if fault else None
            # The country's values were all entered at one time: a later lastUpdated selects none.
            entered = dhis2_data.moment(national.entered(period))
            stale = selection.since is not None and selection.since > entered
            if not fault:
                # The country's answers are large: no per-value dicts unless a fault edits them.
                if media == "csv":
                    self._send_csv(dhis2_data.csv_text([]) if stale else national.as_csv(period, org_unit))
                elif stale:
                    self._send(HTTPStatus.OK, {**national.as_json(period, org_unit), "dataValues": []})
                else:
                    key = (period.id, org_unit, media)
                    answers = self.server.national_answers
                    self._send_payload(answers.get(key, partial(_rendered, national, key)))
                return
        else:
            document = dhis2_data.as_json(
                period,
                org_unit,
                changes=self.server.dhis2_changes,
                since=selection.since,
                include_deleted=selection.include_deleted,
            )
        if kind in ("500", "429", "timeout") or (kind == "truncate" and media == "json"):
            self._answer_with_fault(fault, "", {}, document)
            return
        values = document["dataValues"]
        if kind == "rename" and media == "json":
            for value in values:
                value[f"{arg}V2"] = value.pop(arg)
        elif kind == "inflate" and values:
            values[0][arg] = str(int(values[0][arg]) * 10)
        elif kind == "duplicate-page" and values:
            values.append(dict(values[0]))
        if media == "json":
            self._send(HTTPStatus.OK, document)
            return
        text = dhis2_data.csv_text(values)
        if kind == "rename":
            header, _, rest = text.partition("\n")
            column = arg.lower()
            text = header.replace(column, f"{column}v2", 1) + "\n" + rest
        self._send_csv(text, truncate=kind == "truncate")

    def _send_csv(self, text: str, truncate: bool = False) -> None:
        payload = text.encode()
        if truncate:
            payload = payload[: len(payload) // 2]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer_with_fault(self, fault: str | None, endpoint: str, body: dict, page: dict) -> None:
        kind, _, arg = (fault or "").partition(":")
        if kind == "500":
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"success": False, "message": "simulated failure"})
        elif kind == "429":
            self.send_response(HTTPStatus.TOO_MANY_REQUESTS)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "timeout":
            time.sleep(self.server.timeout_seconds)
            self._send(HTTPStatus.OK, page)
        elif kind == "truncate":
            payload = json.dumps(page, ensure_ascii=False).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload) // 2))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
        elif kind == "rename":
            for record in page["data"]["content"]:
                record[f"{arg}V2"] = record.pop(arg)
            self._send(HTTPStatus.OK, page)
        elif kind == "inflate":
            page["data"]["content"][0][arg] *= 10
            self._send(HTTPStatus.OK, page)
        elif kind == "duplicate-page":
            previous = {**body, "currentPage": max(1, body.get("currentPage", 1) - 1)}
            repeated = portal_page(endpoint, previous)
            repeated["data"]["currentPage"] = page["data"]["currentPage"]
            self._send(HTTPStatus.OK, repeated)
        else:
            self._send(HTTPStatus.OK, page)


@dataclass
class SimulatorServer:
    """A running simulator; ``url`` is its base address."""

    httpd: _Server
    thread: threading.Thread | None = None
    _faults: _FaultQueue = field(init=False)

    def __post_init__(self) -> None:
        self._faults = self.httpd.faults

    def inject(self, fault: str, times: int = 1) -> None:
        """Answer the next ``times`` portal requests with ``fault`` (see the module doc)."""
        self._faults.push(fault, times)

    def clear_faults(self) -> None:
        """Drop queued faults and forget the ones served."""
        self._faults.clear()

    @property
    def faults_served(self) -> list[str]:
        return list(self._faults.served)

    @property
    def portal_requests(self) -> list[dict[str, Any]]:
        """The portal request bodies received so far (with ``endpoint``), oldest first."""
        return list(self.httpd.portal_requests)

    def clear_portal_requests(self) -> None:
        self.httpd.portal_requests.clear()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_server(host: str, port: int, national: NationalWorld | None = None) -> _Server:
    httpd = _Server((host, port), _Handler)
    httpd.faults = _FaultQueue()
    httpd.portal_requests = deque(maxlen=10_000)
    httpd.national = national
    httpd.dhis2_changes = dhis2_data.Changes()
    httpd.national_answers = _Answers()
    return httpd


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, national: NationalWorld | None = None
) -> SimulatorServer:
    """Start the simulator in a background thread (port 0 picks a free port).

    With ``national``, its reporting system serves that country-sized world instead of the province.
    """
    httpd = _make_server(host, port, national)
    thread = threading.Thread(target=httpd.serve_forever, name="dxw-simulator", daemon=True)
    thread.start()
    return SimulatorServer(httpd, thread)


def fault_spec(spec: str) -> tuple[str, int]:
    """``429:2`` -> (``429``, 2); ``500`` and ``rename:fullCount`` answer one request."""
    fault, colon, times = spec.rpartition(":")
    return (fault, int(times)) if colon and times.isdigit() else (spec, 1)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: tuple[str, ...] = (),
    national: NationalWorld | None = None,
) -> None:
    """Serve in the foreground until interrupted (``dxw simulator serve``); ``faults`` as ``429:2``."""
    server = SimulatorServer(_make_server(host, port, national))
    for spec in faults:
        server.inject(*fault_spec(spec))
    log.info("source simulator listening on %s", server.url)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
