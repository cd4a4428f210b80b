"""Files brought to the warehouse: DHIS2 data value sets and the reporting units' spreadsheets.

Both go through the one loader and their raw gate like the pulled feeds; both answer with a
summary: an import summary in DHIS2's terms for a data value set, and for a unit's upload the
accepted and rejected rows, with a rejection report in Vietnamese for the unit.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dxw.errors import InputError
from dxw.intake import uploads
from dxw.intake.ingest import DHIS2_DATASET, UPLOAD_DATASET, land_gated
from dxw.landing import copy
from dxw.periods import Period, parse
from dxw.quality import QualityGateFailed
from dxw.settings import Settings, get_settings
from dxw.sources import dhis2
from dxw.sources.contract import SourceError
from dxw.warehouse import database

log = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- DHIS2 data value sets ---------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did, in the terms of DHIS2's import summary."""

    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: list[dhis2.Conflict] = field(default_factory=list)
    batches: dict[str, tuple[int, str]] = field(default_factory=dict)  # period -> (batch id, status)
    strategy: dhis2.ImportStrategy = "CREATE_AND_UPDATE"
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)  # what was read past (CSV columns ignored)

    @property
    def status(self) -> str:
        changed = self.imported or self.updated or self.deleted
        if self.conflicts and not (changed or self.ignored - len(self.conflicts)):
            return "ERROR"
        return "WARNING" if self.conflicts or self.warnings else "SUCCESS"

    def as_dict(self) -> dict[str, Any]:
        """The summary as DHIS2's ``/api/dataValueSets`` answers an import."""
        return {
            "responseType": "ImportSummary",
            "status": self.status,
            "importOptions": {"importStrategy": self.strategy, "dryRun": self.dry_run},
            "importCount": {
                "imported": self.imported,
                "updated": self.updated,
                "ignored": self.ignored,
                "deleted": self.deleted,
            },
            "conflicts": [
                {"object": c.object, "value": c.value, "indexes": [c.index]} for c in self.conflicts
            ],
            "warnings": list(self.warnings),
            "batches": {p: {"batch_id": b, "status": status} for p, (b, status) in self.batches.items()},
        }

    def text(self) -> str:
        lines = [
            f"Import summary: {self.status}"
            + (" (dry run: nothing landed)" if self.dry_run else "")
            + (f" [{self.strategy}]" if self.strategy != "CREATE_AND_UPDATE" else ""),
            f"  imported {self.imported}, updated {self.updated}, ignored {self.ignored}, "
            f"deleted {self.deleted}",
        ]
        lines += [f"  {p}: batch {b} {status}" for p, (b, status) in sorted(self.batches.items())]
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.conflicts:
            lines.append(f"  {len(self.conflicts)} conflicts:")
            lines += [f"    value {c.index}: {c.object}: {c.value}" for c in self.conflicts]
        return "\n".join(lines)


# The warehouse's current value of each key of a half-year: the latest loaded one; a deletion
# as latest means the key holds no value.
_CURRENT_VALUES = """
select distinct on (v.data_element, v.org_unit, v.category_option_combo, v.attribute_option_combo)
       v.data_element, v.org_unit, v.category_option_combo, v.attribute_option_combo,
       coalesce(v.deleted, 'false') = 'true', v.value, coalesce(v.comment, '')
from raw.dhis2_data_values as v
join raw.load_batch as b using (batch_id)
where b.dataset = 'dhis2_data_values' and b.status = 'loaded' and b.period_id = %s
order by v.data_element, v.org_unit, v.category_option_combo, v.attribute_option_combo, v.batch_id desc
"""


def _outcome(
    held: tuple[str, str] | None, value: Mapping[str, str], deletion: bool, strategy: dhis2.ImportStrategy
) -> str:
    """What DHIS2's import does with one placed value: imported, updated, deleted or ignored.

    DHIS2 (``DefaultDataValueSetService.importDataValue``): a value the system holds
    (``held``: its number and comment) is updated (``CREATE_AND_UPDATE``, ``UPDATE``; deleted when
    the value is empty or marked deleted), deleted (``DELETE``) or ignored (``CREATE``); a value it
    does not hold is imported (``CREATE_AND_UPDATE``, ``CREATE``) or ignored (``UPDATE``,
    ``DELETE``). A value sent with the number and comment the system holds changes nothing and is
    ignored (current DHIS2: dhis2-core #15900, DHIS2-15254, December 2023, backported; earlier
    versions counted it updated). dxw ignores a deletion of a value it does not hold (DHIS2
    would store a deleted value and count it imported).
    """
    if held is not None:
        if strategy in ("CREATE_AND_UPDATE", "UPDATE"):
            if deletion:
                return "deleted"
            return "ignored" if held == (value["value"], value["comment"]) else "updated"
        return "deleted" if strategy == "DELETE" else "ignored"
    if strategy in ("CREATE_AND_UPDATE", "CREATE") and not deletion:
        return "imported"
    return "ignored"


def import_dhis2_file(
    path: Path,
    id_scheme: dhis2.IdScheme = "uid",
    period_id: str | None = None,
    settings: Settings | None = None,
    import_strategy: dhis2.ImportStrategy = "CREATE_AND_UPDATE",
    dry_run: bool = False,
) -> ImportSummary:
    """Import a ``dataValueSets`` file (``.json`` / ``.csv``): place, land and gate its values.

    Each value is imported, updated, deleted or ignored as DHIS2's ``importStrategy`` says
    (:func:`_outcome`); the values that change something land as one staged batch per period
    that its raw gate promotes (a deletion lands as a value marked deleted). With ``dry_run``
    the summary is the same and nothing lands. The set's ``completeDate``, when it has one, is
    recorded as when the set's own org unit submitted its period (values of other org units in
    the file land in a batch of their own, without it).
    """
    if import_strategy not in dhis2.STRATEGIES:
        raise InputError(f"importStrategy {import_strategy!r}: one of {list(dhis2.STRATEGIES)}")
    settings = settings or get_settings()
    parsed, document = dhis2.read_file(Path(path))
    completion = dhis2.completion(document, id_scheme)
    completed = completion.at if completion else None
    completes = completion.unit_period if completion else None
    period = parse(period_id) if period_id else None
    result = dhis2.resolve(parsed.values, id_scheme, period, strategy=import_strategy)
    summary = ImportSummary(
        conflicts=result.conflicts,
        ignored=len(result.conflicts),
        strategy=import_strategy,
        dry_run=dry_run,
        warnings=parsed.warnings,
    )
    by_period: dict[str, list[dict[str, str]]] = {}
    for value in result.values:
        by_period.setdefault(value["period"], []).append(value)
    with database.connect(settings, autocommit=True) as conn:
        copy.ensure_tables(conn, [DHIS2_DATASET])
        for pid, period_values in sorted(by_period.items()):
            held = {
                tuple(row[:4]): (row[5], row[6])
                for row in conn.execute(_CURRENT_VALUES, (pid,))
                if not row[4]
            }
            landing = []
            for value in period_values:
                key = (
                    value["dataElement"],
                    value["orgUnit"],
                    value["categoryOptionCombo"],
                    value["attributeOptionCombo"],
                )
                deletion = dhis2.is_deletion(value, import_strategy)
                outcome = _outcome(held.get(key), value, deletion, import_strategy)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                if outcome != "ignored":
                    landing.append({**value, "deleted": "true" if outcome == "deleted" else "false"})
            if dry_run or not landing:
                continue
            landing.sort(key=lambda v: tuple(v[k] for k in dhis2.KEY))
            # completeDate is the submission of the set's own org unit and period only: their
            # values land in a batch that records it, any other org unit's in one that does not.
            own = [v for v in landing if completed and completes == (v["orgUnit"], pid)]
            others = [v for v in landing if not (completed and completes == (v["orgUnit"], pid))]
            for part, submitted in ((own, completed), (others, None)):
                if not part:
                    continue
                landed = land_gated(
                    conn,
                    DHIS2_DATASET,
                    pid,
                    part,
                    [document],
                    {
                        "file": document.name,
                        "id_scheme": id_scheme,
                        "import_strategy": import_strategy,
                        "conflicts": len(result.conflicts),
                        **({"submitted_at_basis": "completeDate"} if submitted else {}),
                    },
                    settings,
                    submitted_at=submitted,
                )
                summary.batches[pid] = (landed.batch_id, landed.status)
    for warning in parsed.warnings:
        log.warning("%s: %s", document.name, warning)
    log.info("%s: %s", document.name, summary.text().replace("\n", " | "))
    return summary


# -- Unit uploads ------------------------------------------------------------------------------


@dataclass
class UploadOutcome:
    """What became of an uploaded file."""

    file_name: str
    status: str  # accepted | partial | rejected
    period_id: str | None
    unit_code: str | None
    accepted: int
    rejected: int
    summary_vi: str
    batch_id: int | None = None
    load_status: str | None = None  # loaded | unchanged, when rows landed
    report: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # rejection code -> rows
    no_data: int = 0  # rows answering "no data": submitted, not measured
    warnings: int = 0  # accepted rows with a warning for the unit (landed all the same)


# The denominators each unit version had in a period's current submissions (what staging reads);
# a unit reported by two submitters (itself and its parent) takes the later submission's.
_PREVIOUS_DENOMINATORS = """
select o.unit_code, o.unit_valid_from, o.indicator_code, o.denominator
from raw.unit_upload_observations as o
where o.denominator is not null and o.unit_valid_from is not null and o.batch_id in (
    select distinct on (scope) batch_id from raw.load_batch
    where dataset = %s and period_id = %s and status = 'loaded'
    order by scope, batch_id desc
)
order by o.batch_id
"""


def import_upload(
    path: Path,
    unit_code: str | None = None,
    period_id: str | None = None,
    report_dir: Path | None = None,
    settings: Settings | None = None,
    submitted_at: datetime | None = None,
    submitted_basis: str = "given",
) -> UploadOutcome:
    """Check, validate and land one unit's spreadsheet; write the rejection report when rows fail.

    A file that cannot be read safely, or whose unit or period cannot be told, is refused as a
    whole (recorded in the ledger, nothing landed). Otherwise the accepted rows land as the
    unit's submission for the half-year, replacing its previous one (kept for history), and the
    rejected rows go back to the unit with a reason in Vietnamese. Rows answering "no data" land
    with ``no_data`` true and null figures: the unit submitted, the indicator is not measured
    (never 0/0); they and the warnings (a denominator far from the previous half-year's) are
    listed in the batch's ledger details and in the report to the unit (``<file>.bien-nhan.xlsx``,
    a receipt, when no row was rejected). ``submitted_at`` is when the unit submitted the file
    (``submitted_basis`` says how that is known); by default, now.
    """
    settings = settings or get_settings()
    if submitted_at is None:
        submitted_at, submitted_basis = datetime.now(UTC), "intake"
    path = Path(path)
    started = time.monotonic()
    name = uploads.safe_filename(path.name)
    try:
        parsed = uploads.read_upload(path, max_bytes=settings.upload_max_bytes)
        period = _upload_period(parsed, period_id)
        catalogue = uploads.load_catalogue()
        unit = unit_code or _upload_unit(parsed, catalogue, period)
        validation = uploads.validate(
            parsed,
            catalogue,
            period.id,
            unit,
            previous=_previous_denominators(settings, period.previous()),
            band=settings.upload_denominator_band,
        )
    except uploads.UploadError as exc:
        with database.connect(settings, autocommit=True) as conn:
            copy.record_source_failure(
                conn,
                UPLOAD_DATASET,
                period_id or "unknown",
                exc,
                time.monotonic() - started,
                details={"file": name, "code": exc.code},
                scope=unit_code or "",
            )
        report = _refusal_report(report_dir, name, exc.reason_vi)
        return UploadOutcome(name, "rejected", period_id, unit_code, 0, 0, exc.reason_vi, report=report)

    report = None
    if (validation.rejected or validation.no_data or validation.warnings) and report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        kind = "tu-choi" if validation.rejected else "bien-nhan"
        report = uploads.write_rejections(report_dir / f"{Path(name).stem}.{kind}.xlsx", validation)
    for warning in validation.warnings:
        log.warning("%s row %s: %s (%s)", name, warning.row_no, warning.code, warning.reason_vi)
    outcome = UploadOutcome(
        name,
        "accepted" if not validation.rejected else ("partial" if validation.accepted else "rejected"),
        period.id,
        unit,
        len(validation.accepted),
        len(validation.rejected),
        uploads.summary_vi(validation),
        report=report,
        reasons=dict(Counter(r.reason_code for r in validation.rejected)),
        no_data=len(validation.no_data),
        warnings=len(validation.warnings),
    )
    records = [
        _upload_record(o, unit, name, catalogue.unit(o.unit_code, period))
        for o in [*validation.accepted, *validation.no_data]
    ]
    details = {
        "file": name,
        "accepted": outcome.accepted,
        "rejected": outcome.rejected,
        "no_data": [
            {"unitCode": n.unit_code, "indicatorCode": n.indicator_code, "sheet": n.sheet, "rowNo": n.row_no}
            for n in validation.no_data
        ],
        "warnings": [
            {
                "unitCode": w.unit_code,
                "indicatorCode": w.indicator_code,
                "code": w.code,
                "denominator": _number(w.denominator),
                "previous": _number(w.previous),
                "previousPeriod": w.previous_period_id,
                "reason": w.reason_vi,
            }
            for w in validation.warnings
        ],
        "submitted_at_basis": submitted_basis,
    }
    document = copy.Document(name, _media_type(path), path.read_bytes())
    with database.connect(settings, autocommit=True) as conn:
        copy.ensure_tables(conn, [UPLOAD_DATASET])
        if not records and not validation.no_data:
            copy.record_source_failure(
                conn,
                UPLOAD_DATASET,
                period.id,
                SourceError(f"{name}: no row accepted"),
                time.monotonic() - started,
                details=details,
                scope=unit,
            )
            return outcome
        try:
            landed = land_gated(
                conn, UPLOAD_DATASET, period.id, records, [document], details, settings, unit, submitted_at
            )
        except QualityGateFailed as exc:
            # The row checks should have caught it: the batch stays rejected for the engineers.
            log.error("%s: accepted rows failed the raw gate: %s", name, exc)
            outcome.status, outcome.accepted = "rejected", 0
            outcome.summary_vi = (
                f"Tệp '{name}' không qua bước kiểm tra chất lượng dữ liệu nên chưa được ghi nhận; "
                "bộ phận quản lý dữ liệu sẽ liên hệ với đơn vị."
            )
            return outcome
    outcome.batch_id, outcome.load_status = landed.batch_id, landed.status
    return outcome


def _previous_denominators(settings: Settings, period: Period) -> dict[tuple[str, date, str], Decimal]:
    """(unit code, unit valid_from, indicator) -> accepted denominator in ``period``'s uploads."""
    with database.connect(settings, autocommit=True) as conn:
        if conn.execute("select to_regclass('raw.unit_upload_observations')").fetchone()[0] is None:
            return {}
        rows = conn.execute(_PREVIOUS_DENOMINATORS, (UPLOAD_DATASET.name, period.id)).fetchall()
    return {
        (code, date.fromisoformat(valid_from), indicator): Decimal(repr(denominator))
        for code, valid_from, indicator, denominator in rows
    }


def _upload_period(parsed: uploads.ParsedUpload, period_id: str | None) -> Period:
    """The period given, else the form's ``Kỳ báo cáo:`` line, else the rows' period column."""
    chosen = period_id or parsed.period_id or uploads.period_from_rows(parsed)
    if not chosen:
        raise uploads.UploadError(
            "Không xác định được kỳ báo cáo của tệp: hãy ghi 'Kỳ báo cáo: 2025S1' ở đầu biểu mẫu "
            "hoặc điền cột 'Kỳ báo cáo'.",
            "no_period",
        )
    return parse(chosen)


def _upload_unit(parsed: uploads.ParsedUpload, catalogue: uploads.Catalogue, period: Period) -> str:
    """The form's ``Đơn vị:`` line, else the unit the rows' unit column gives."""
    codes = {table.unit_code for table in parsed.tables if table.unit_code}
    if len(codes) == 1:
        return codes.pop()
    found = uploads.unit_from_rows(parsed, catalogue, period.id) if not codes else None
    if found is None:
        raise uploads.UploadError(
            "Không xác định được đơn vị nộp báo cáo: hãy dùng biểu mẫu của đơn vị (dòng 'Đơn vị: ...'), "
            "điền cột 'Mã đơn vị' hoặc ghi rõ mã đơn vị khi nộp.",
            "unknown_uploader",
        )
    return found


def _upload_record(
    obs: uploads.Observation | uploads.NoData,
    submitter: str,
    file_name: str,
    version: uploads.UnitRef | None,
) -> dict:
    """An accepted row as it lands; a "no data" answer (never 0/0) lands flagged, without figures."""
    no_data = isinstance(obs, uploads.NoData)
    return {
        "submittedBy": submitter,
        "unitCode": obs.unit_code,
        "unitValidFrom": version.valid_from.isoformat() if version else None,
        "indicatorCode": obs.indicator_code,
        "numerator": None if no_data else _number(obs.numerator),
        "denominator": None if no_data else _number(obs.denominator),
        "value": None if no_data else _number(obs.value),
        "comment": obs.comment,
        "sheet": obs.sheet,
        "rowNo": obs.row_no,
        "fileName": file_name,
        "noData": no_data,
    }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _media_type(path: Path) -> str:
    return XLSX_TYPE if path.suffix.lower() == ".xlsx" else "text/csv"


def _refusal_report(report_dir: Path | None, name: str, reason_vi: str) -> Path | None:
    """A one-line CSV telling the unit why its whole file was refused."""
    if report_dir is None:
        return None
    report_dir.mkdir(parents=True, exist_ok=True)
    return uploads.write_refusal(report_dir / f"{Path(name).stem}.tu-choi.csv", name, reason_vi)
