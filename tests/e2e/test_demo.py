"""The demo path as a newcomer runs it: the `dxw demo` command, through the real DAGs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DISTRICTS = [
    "Thành phố Hà Giang", "Huyện Đồng Văn", "Huyện Mèo Vạc", "Huyện Yên Minh", "Huyện Quản Bạ",
    "Huyện Vị Xuyên", "Huyện Bắc Mê", "Huyện Hoàng Su Phì", "Huyện Xín Mần", "Huyện Bắc Quang",
    "Huyện Quang Bình",
]  # fmt: skip


def test_demo_prints_province_and_district_attainment(empty_warehouse):
    dxw = Path(sys.executable).with_name("dxw")
    result = subprocess.run(
        [str(dxw), "demo", "--from", "2024S2", "--to", "2025S1", "--show", "2025S1"],
        capture_output=True, text=True, env=dict(os.environ), timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "ingest_public_service_portal: success" in out
    assert "ingest_document_management: success" in out
    assert "ingest_reporting_system: success" in out
    assert "ingest_unit_uploads: success" in out
    assert "transform_warehouse: success" in out
    # The shown half-year and the one before it are gated and published, each in its own run.
    assert "semiannual_marts (period=2024S2)" in out
    assert "semiannual_marts (period=2025S1)" in out
    assert out.count("semiannual_marts: success") == 2
    province = next(line for line in out.splitlines() if line.startswith("Tỉnh Hà Giang (province)"))
    figures = re.findall(r"(\d+\.\d)%", province)
    assert len(figures) == 2, province
    assert all(0 < float(f) <= 100 for f in figures), province
    assert re.search(r" [+-]\d+\.\d$", province), province  # on-time change since the published 2024S2
    for district in DISTRICTS:
        assert any(line.startswith(district) and "%" in line for line in out.splitlines()), district
    assert "Scorecard 2025S1" in out
    assert "Bằng khen của Thủ tướng Chính phủ - district:" in out
    assert "Bằng khen của Chủ tịch UBND tỉnh - commune:" in out
    # simulator.submissions: district 035 never sends its form; 031 sends it late.
    assert "Unit uploads 2025S1: 10 file(s)" in out
    assert re.search(r"district\s+late\s+1\s+031", out)
    assert re.search(r"district\s+missing\s+1\s+035", out)
    # accepted, rejected, "no data", warnings
    assert re.search(r"027\s+loaded\s+5\s+2\s+0\s+0\s+bao-cao-027-2025S1.xlsx", out)
    assert "Semi-annual report 2025S1 (Vietnamese, with charts)" in out
    assert "Where to look next" in out
    # Airflow's, dbt's and GX's own chatter goes to the log file, not the newcomer's terminal.
    assert "Running with dbt" not in out
