"""Unit uploads: a reporting unit's spreadsheet turned into accepted observations and rejected rows.

No database and no Airflow here. The flow is::

    kind = check_file(path)                         # safety: size, type, macros, zip bombs
    parsed = read_upload(path)                       # workbook: tables, merged cells, metadata
    result = validate(parsed, load_catalogue(), "2025S1", unit_code="024", previous=...)
    write_rejections("tu_choi.xlsx", result)         # report back to the unit, in Vietnamese:
                                                     # rejected, "no data" and warned rows
    summary_vi(result)                               # "Đã nhận 12 dòng, từ chối 3 dòng: ..."

``write_template`` produces the form units fill in.
"""

from dxw.intake.uploads.catalogue import Catalogue, CatalogueError, Indicator, UnitRef, load_catalogue
from dxw.intake.uploads.cells import CellError, parse_number
from dxw.intake.uploads.rejections import summary_vi, write_refusal, write_rejections
from dxw.intake.uploads.safety import UnsafeUpload, UploadError, check_file, safe_filename
from dxw.intake.uploads.template import write_template
from dxw.intake.uploads.validate import (
    NoData,
    Observation,
    Rejection,
    RowWarning,
    UploadValidation,
    period_from_rows,
    unit_from_rows,
    validate,
)
from dxw.intake.uploads.workbook import ParsedUpload, SheetTable, UploadRow, read_upload

__all__ = [
    "Catalogue",
    "CatalogueError",
    "CellError",
    "Indicator",
    "NoData",
    "Observation",
    "ParsedUpload",
    "Rejection",
    "RowWarning",
    "SheetTable",
    "UnitRef",
    "UnsafeUpload",
    "UploadError",
    "UploadRow",
    "UploadValidation",
    "check_file",
    "load_catalogue",
    "parse_number",
    "period_from_rows",
    "read_upload",
    "safe_filename",
    "summary_vi",
    "unit_from_rows",
    "validate",
    "write_refusal",
    "write_rejections",
    "write_template",
]
