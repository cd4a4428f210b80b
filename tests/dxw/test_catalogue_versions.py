"""The version of a catalogue key that judges a period (dxw.catalogue_versions)."""

from datetime import date

from dxw.catalogue_versions import cutoff, in_force

# (key, version, valid_from) as in the seeds: A restated by a 2026 plan, B only in Plan 86,
# C only in the 2026 plan. The 2026 row of A comes last in the file, as appended by hand.
ROWS = [
    ("A", "KH86", date(2022, 3, 18)),
    ("B", "KH86", date(2022, 3, 18)),
    ("C", "TQ26", date(2026, 1, 1)),
    ("A", "TQ26", date(2026, 1, 1)),
]


def versions(period_id: str) -> list[tuple[str, str]]:
    chosen = in_force(ROWS, lambda r: r[0], lambda r: r[2], cutoff(period_id))
    return [(key, version) for key, version, _ in chosen]


def test_a_period_reads_the_version_valid_at_its_decree09_cut_off():
    # 2025S2 ends on 14 Dec 2025, before the 2026 plan; 2026S1 (15 Dec 2025 - 14 Jun 2026) after.
    assert cutoff("2025S2") == date(2025, 12, 14)
    assert versions("2025S2") == [("A", "KH86"), ("B", "KH86")]
    # Keys keep the order of their first row; B, not restated, stays in force.
    assert versions("2026S1") == [("A", "TQ26"), ("B", "KH86"), ("C", "TQ26")]


def test_before_its_first_version_a_key_does_not_exist():
    # 2021S2 ends on 14 Dec 2021, before Plan 86 (18 March 2022).
    assert versions("2021S2") == []
    assert versions("2022S1") == [("A", "KH86"), ("B", "KH86")]
