"""The portal's own period types: calendar months, quarters and years, never a half-year.

Two portals answer here. A fixture portal (a small HTTP server in this module) replays the
hand-written answers of tests/fixtures/portal/, written from the answer shape the national
portal's dashboards receive (``data.content``, ``totalPages``, ``totalElements`` and the record
fields of ../shared/DOMAIN.md), pages of 2 for January..June 2025; the expected half-year
figures are worked out by hand in the comments. The bundled simulator is checked against its
own month answers: a quarter or a year is what its months add up to.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from dxw.periods import Period, parse
from dxw.settings import get_settings
from dxw.sources import portal
from dxw.sources.contract import ContractError, SourceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "portal"
EVALUATION = "/api/v1/reporting/evaluation/"
PROGRESS = next(e for e in portal.ENDPOINTS if e.name == "dvc-progress-tree")
ONLINE = next(e for e in portal.ENDPOINTS if e.name == "provide-online-tree")


def _answers(endpoint: str) -> dict[str, list[dict]]:
    return json.loads((FIXTURES / f"{endpoint}_2025-01_2025-06.json").read_text(encoding="utf-8"))["answers"]


class FixturePortal:
    """Replays the fixture pages: POST <evaluation>/<endpoint> {timeType: month, year, month, currentPage}."""

    def __init__(self) -> None:
        self.answers = {name: _answers(name) for name in ("dvc-progress-tree", "provide-online-tree")}
        self.bodies: list[dict] = []
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fixture.bodies.append({"endpoint": self.path.removeprefix(EVALUATION), **body})
                pages = fixture.answers.get(self.path.removeprefix(EVALUATION), {}).get(
                    f"{body.get('year')}-{body.get('month', 0):02d}"
                )
                if body.get("timeType") != "month" or pages is None or body.get("pageSize") != 2:
                    self._send(400, {"success": False, "message": "not in the fixtures"})
                else:
                    self._send(200, pages[body["currentPage"] - 1])

            def _send(self, status: int, document: dict) -> None:
                payload = json.dumps(document, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fixture_portal() -> Iterator[FixturePortal]:
    server = FixturePortal()
    yield server
    server.stop()


@pytest.fixture
def settings():
    return replace(get_settings(), http_timeout_read=2.0, http_retries=0, portal_page_size=2)


def test_a_half_year_is_asked_for_as_its_six_calendar_months(settings, fixture_portal):
    delivery = portal.fetch(settings, fixture_portal.url, PROGRESS, parse("2025S1"))
    # Fixture pages: January and February hold 3 agencies (2 pages of 2), March..June 2 (1 page).
    assert [(b["timeType"], b["year"], b["month"], b["currentPage"]) for b in fixture_portal.bodies] == [
        ("month", 2025, 1, 1), ("month", 2025, 1, 2), ("month", 2025, 2, 1), ("month", 2025, 2, 2),
        ("month", 2025, 3, 1), ("month", 2025, 4, 1), ("month", 2025, 5, 1), ("month", 2025, 6, 1),
    ]  # fmt: skip
    assert all("half" not in b and b["pageSize"] == 2 for b in fixture_portal.bodies)
    # 3 + 3 + 2 + 2 + 2 + 2 records, each the portal's record plus the month it answers.
    assert len(delivery.records) == 14
    january = [r for r in delivery.records if r["requestMonth"] == 1]
    assert [r["departmentCode"] for r in january] == ["H02.024", "H02.SKHDT", "H02.SNV"]
    first = _answers("dvc-progress-tree")["2025-01"][0]["data"]["content"][0]
    assert delivery.records[0] == {
        **first,
        "requestTimeType": "month",
        "requestYear": 2025,
        "requestMonth": 1,
    }
    assert len(delivery.documents) == 8
    assert "(202502)" in delivery.documents[3].name


def test_the_contract_is_checked_on_every_page_of_every_month(settings, fixture_portal):
    # May's page carries a renamed field: the months before it were fine, the fetch still fails.
    may = fixture_portal.answers["provide-online-tree"]["2025-05"][0]["data"]["content"][1]
    may["fullCountV2"] = may.pop("fullCount")
    with pytest.raises(ContractError) as caught:
        portal.fetch(settings, fixture_portal.url, ONLINE, parse("2025S1"))
    message = str(caught.value)
    assert "202505 page 1 record 1" in message
    assert "missing fields ['fullCount']" in message
    assert "unexpected fields ['fullCountV2']" in message


def test_a_month_that_announces_more_records_than_it_sends_is_refused(settings, fixture_portal):
    march = fixture_portal.answers["dvc-progress-tree"]["2025-03"][0]["data"]
    march["totalElements"] = 3
    with pytest.raises(ContractError, match="for 202503 the portal announced 3 records but sent 2"):
        portal.fetch(settings, fixture_portal.url, PROGRESS, parse("2025S1"))


def test_the_connector_never_builds_a_half_year_request():
    with pytest.raises(SourceError, match="calendar month, quarter or year"):
        portal.request_body(Period(2025, "halfyear", 1), 1, 50, None)
    assert portal.request_body(Period(2025, "quarter", 2), 1, 50, None) == {
        "timeType": "quarter", "year": 2025, "quarter": 2, "currentPage": 1, "pageSize": 50,
    }  # fmt: skip
    assert portal.request_body(Period(2025, "year", 1), 3, 20, "root") == {
        "timeType": "year", "year": 2025, "currentPage": 3, "pageSize": 20, "rootDepartmentId": "root",
    }  # fmt: skip


# --- the simulator behaves like the real API ---------------------------------------------------


def _post(sim, endpoint: str, body: dict) -> requests.Response:
    return requests.post(sim.url + EVALUATION + endpoint, json=body, timeout=10)


def _all(sim, endpoint: str, body: dict) -> dict[str, dict]:
    records, page = [], 1
    while True:
        data = _post(sim, endpoint, {**body, "currentPage": page, "pageSize": 200}).json()["data"]
        records += data["content"]
        if page >= data["totalPages"]:
            return {r["departmentCode"]: r for r in records}
        page += 1


def test_the_simulator_refuses_a_half_year_like_the_portal(simulator):
    answer = _post(simulator, "dvc-progress-tree", {"timeType": "halfyear", "year": 2025, "half": 1})
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "halfyear" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "months"),
    [({"timeType": "quarter", "year": 2024, "quarter": 3}, [7, 8, 9]),
     ({"timeType": "year", "year": 2025}, list(range(1, 13)))],
)  # fmt: skip
def test_the_simulators_quarter_and_year_are_its_months_assembled(simulator, body, months):
    """Flows add up over the months, a state is the last month the agency answered in, and the
    derived figures are computed from the sums (never summed or averaged)."""
    year = body["year"]
    per_month = {
        m: {
            endpoint: _all(simulator, endpoint, {"timeType": "month", "year": year, "month": m})
            for endpoint in ("dvc-progress-tree", "provide-online-tree")
        }
        for m in months
    }
    progress = _all(simulator, "dvc-progress-tree", body)
    online = _all(simulator, "provide-online-tree", body)
    answered = {code for m in months for code in per_month[m]["dvc-progress-tree"]}
    assert set(progress) == set(online) == answered
    for code in answered:
        rows = [
            per_month[m]["dvc-progress-tree"][code]
            for m in months
            if code in per_month[m]["dvc-progress-tree"]
        ]
        received = sum(r["totalReceived"] for r in rows)
        completed = sum(r["totalCompleted"] for r in rows)
        on_time = sum(r["totalOnTime"] for r in rows)
        assert progress[code]["totalReceived"] == received
        assert progress[code]["totalCompleted"] == completed
        assert progress[code]["totalOnTime"] == on_time
        assert progress[code]["totalOverdue"] == sum(r["totalOverdue"] for r in rows)
        assert progress[code]["ratio"] == round(100 * on_time / completed, 2)
        assert progress[code]["score"] == round(20 * on_time / received, 2)
        # The month's averages are rounded to 0.01 day: weighted by completed, they give the
        # period's average to within that rounding.
        weighted = sum(r["avgProcessingDays"] * r["totalCompleted"] for r in rows) / completed
        assert abs(progress[code]["avgProcessingDays"] - weighted) <= 0.01
        states = [
            per_month[m]["provide-online-tree"][code]
            for m in months
            if code in per_month[m]["provide-online-tree"]
        ]
        for state in ("onlineServiceTotal", "fullCount", "partialCount"):
            assert online[code][state] == states[-1][state]
        for flow in ("onlineDossierCount", "onlineOnTimeSum", "onlineOverdueSum"):
            assert online[code][flow] == sum(r[flow] for r in states)


def test_the_simulator_reports_each_month_by_the_units_that_exist_then(simulator):
    """Hà Giang's tree until June 2025, the new Tuyên Quang's from July (H08, no districts); the
    bodies merged on 1 March 2025 (Decree 45/2025) answer January and February only."""
    codes = {
        m: set(_all(simulator, "dvc-progress-tree", {"timeType": "month", "year": 2025, "month": m}))
        for m in (2, 3, 6, 7)
    }
    assert all(code.startswith("H02.") for m in (2, 3, 6) for code in codes[m])
    assert all(code.startswith("H08.") for code in codes[7])
    # Sở Kế hoạch và Đầu tư (merged into Tài chính) and Sở TT&TT (into KH&CN) until February.
    assert {"H02.SKHDT", "H02.STTTT"} <= codes[2]
    assert not {"H02.SKHDT", "H02.STTTT"} & codes[3]
    # Sở Nông nghiệp và Môi trường, created on 1 March 2025, from March; 11 districts until June.
    assert "H02.SNNMT" in codes[3]
    assert "H02.SNNMT" not in codes[2]
    districts = {m: {c for c in codes[m] if len(c) == 7 and c[4:].isdigit()} for m in codes}  # H02.024
    assert len(districts[6]) == 11
    assert districts[7] == set()


# --- assembled in staging ----------------------------------------------------------------------


@pytest.mark.integration
def test_a_half_year_is_assembled_from_the_months_in_staging(settings, fixture_portal, conn, empty_warehouse):
    from dxw.intake.ingest import ensure_raw_tables, ingest
    from dxw.transform import dbt
    from tests.conftest import URLS

    for dataset in ("portal_dvc_progress", "portal_provide_online"):
        assert ingest(dataset, "2025S1", fixture_portal.url, settings).rows == 14
    ensure_raw_tables(settings)
    models = ["stg_raw__load_batch", "stg_portal__dvc_progress", "stg_portal__provide_online"]
    assert dbt.run(["run", "--select", *models], URLS.warehouse, get_settings(), check=False) == 0

    progress = conn.execute(
        "select source_unit_id, dossiers_received, dossiers_completed, dossiers_on_time, dossiers_overdue, "
        "avg_processing_days, progress_score, months_reported, window_start::text, window_end::text, "
        "window_basis from staging.stg_portal__dvc_progress where period_id = '2025S1' order by 1"
    ).fetchall()
    # By hand from the fixture pages, January..June (SKHDT: January and February):
    #   H02.024   received 300+250+320+310+330+340 = 1850, completed 280+240+300+305+320+330 = 1775,
    #             on time 266+232+291+300+318+325 = 1732, overdue 14+8+9+5+2+5 = 43;
    #             days (6.0x280 + 5.5x240 + 5.0x300 + 4.8x305 + 4.5x320 + 4.2x330) / 1775
    #                = (1680 + 1320 + 1500 + 1464 + 1440 + 1386) / 1775 = 8790 / 1775 = 4.952 -> 4.95;
    #             score 20 x 1732 / 1850 = 18.724 -> 18.72 (the months' scores would sum to 112.22).
    #   H02.SKHDT received 12+8 = 20, completed 10+8 = 18, on time 9+8 = 17, overdue 1;
    #             days (5.0x10 + 4.0x8) / 18 = 82 / 18 = 4.556 -> 4.56; score 20 x 17 / 20 = 17.00.
    #   H02.SNV   received 40+30+50+44+46+52 = 262, completed 36+28+45+40+44+50 = 243,
    #             on time 34+28+40+38+44+47 = 231, overdue 2+0+5+2+0+3 = 12;
    #             days (126 + 56 + 180 + 120 + 110 + 160) / 243 = 752 / 243 = 3.095 -> 3.09;
    #             score 20 x 231 / 262 = 17.634 -> 17.63.
    whole, two = (
        ("2025-01-01", "2025-06-30", "calendar_months"),
        ("2025-01-01", "2025-02-28", "calendar_months"),
    )
    assert progress == [
        ("H02.024", 1850, 1775, 1732, 43, Decimal("4.95"), Decimal("18.72"), 6, *whole),
        ("H02.SKHDT", 20, 18, 17, 1, Decimal("4.56"), Decimal("17.00"), 2, *two),
        ("H02.SNV", 262, 243, 231, 12, Decimal("3.09"), Decimal("17.63"), 6, *whole),
    ]
    online = conn.execute(
        "select source_unit_id, services_online, services_fully_online, services_partly_online, "
        "dossiers_online, dossiers_online_on_time, dossiers_online_overdue, months_reported "
        "from staging.stg_portal__provide_online where period_id = '2025S1' order by 1"
    ).fetchall()
    # States from the last month answered (June; SKHDT: February), online dossiers summed:
    #   H02.024   June 130 / 80 / 50; dossiers 150+130+160+170+180+190 = 980,
    #             on time 140+125+155+168+178+186 = 952, overdue 10+5+5+2+2+4 = 28.
    #   H02.SKHDT February 30 / 13 / 17; dossiers 6+4 = 10, on time 5+4 = 9, overdue 1.
    #   H02.SNV   June 64 / 40 / 24; dossiers 20+15+25+22+24+28 = 134, on time 19+15+22+21+24+26 = 127,
    #             overdue 1+0+3+1+0+2 = 7.
    assert online == [
        ("H02.024", 130, 80, 50, 980, 952, 28, 6),
        ("H02.SKHDT", 30, 13, 17, 10, 9, 1, 2),
        ("H02.SNV", 64, 40, 24, 134, 127, 7, 6),
    ]
    # The raw layer keeps what the portal answered: one row per agency and month.
    assert conn.execute(
        "select count(*), count(distinct (request_year, request_month)) from raw.portal_dvc_progress"
    ).fetchone() == (14, 6)
