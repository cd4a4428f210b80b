"""The gate every uploaded file passes before any parser opens it.

Rules, checked on the bytes, never trusting the file name alone:

* size: at most ``max_bytes`` (10 MB by default) and not empty;
* type: only ``.xlsx`` and ``.csv``. Macro-enabled (``.xlsm``, ``.xltm``, ``.xlam``), binary
  (``.xlsb``) and Excel 97-2003 (``.xls``) workbooks are refused by extension, and by content: an
  ``.xlsx`` must be a zip holding ``[Content_Types].xml`` and ``xl/workbook.xml``, with no
  ``vbaProject.bin`` entry and no macro-enabled content type (a renamed ``.xlsm`` fails here). An
  OLE2 file (``.xls``, or any password-protected workbook) is refused;
* zip bombs: refused from the central directory alone, before anything is decompressed: too many
  entries, a total uncompressed size over ``max_uncompressed`` (100 MB), or an entry over 1 MB whose
  compression ratio exceeds ``max_ratio`` (100:1). Python's ``zipfile`` never inflates an entry past
  its declared size, so the declared sizes are a real bound for the parser that follows;
* zip entries with absolute paths, drive letters or ``..`` components are refused;
* a ``.csv`` must be text: zip, OLE2, PDF or image signatures and NUL or control bytes are refused
  (UTF-16 text is recognised by its byte-order mark).
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

from dxw.errors import InputError

FileKind = Literal["xlsx", "csv"]

MAX_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
MAX_ENTRIES = 2000
# Small XML parts of a genuine workbook can compress very well; only large entries are judged by ratio.
RATIO_FLOOR_BYTES = 1024 * 1024
_CONTENT_TYPES_MAX = 1024 * 1024

_MACRO_EXTENSIONS = {".xlsm", ".xltm", ".xlam"}
_LEGACY_EXTENSIONS = {".xls", ".xlt", ".xlsb", ".ods"}
_SIGNATURES = {
    b"PK\x03\x04": "tệp nén (zip/xlsx)",
    b"PK\x05\x06": "tệp nén (zip)",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "tệp Excel 97-2003 hoặc tệp có mật khẩu",
    b"%PDF": "tệp PDF",
    b"\x89PNG": "tệp ảnh PNG",
    b"\xff\xd8\xff": "tệp ảnh JPEG",
    b"GIF8": "tệp ảnh GIF",
    b"MZ": "tệp chương trình",
    b"\x7fELF": "tệp chương trình",
}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 8192
# Tab, line feed, vertical tab (a line break inside a cell), form feed, carriage return, DOS end-of-file.
_TEXT_CONTROLS = frozenset({0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1A})


class UploadError(InputError):
    """A file the pipeline will not read; ``reason_vi`` goes back to the reporting unit."""

    def __init__(self, reason_vi: str, code: str) -> None:
        super().__init__(reason_vi)
        self.reason_vi = reason_vi
        self.code = code


class UnsafeUpload(UploadError):
    """A file refused before parsing: wrong type, too large, macro-enabled or a zip bomb."""


def check_file(
    path: str | Path,
    max_bytes: int = MAX_BYTES,
    *,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_ratio: int = MAX_RATIO,
    max_entries: int = MAX_ENTRIES,
) -> FileKind:
    """Return ``'xlsx'`` or ``'csv'`` for a file that is safe to parse; raise :class:`UnsafeUpload`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _MACRO_EXTENSIONS:
        raise UnsafeUpload(
            f"Tệp '{path.name}' là tệp Excel có macro ({suffix}); hãy lưu lại thành Excel Workbook (.xlsx).",
            "macro_enabled",
        )
    if suffix in _LEGACY_EXTENSIONS:
        raise UnsafeUpload(
            f"Định dạng {suffix} không được hỗ trợ; "
            "hãy lưu lại tệp thành Excel Workbook (.xlsx) hoặc CSV UTF-8.",
            "unsupported_type",
        )
    if suffix not in {".xlsx", ".csv"}:
        raise UnsafeUpload(
            f"Tệp '{path.name}' không phải .xlsx hoặc .csv; chỉ nhận hai định dạng này.", "unsupported_type"
        )
    if not path.is_file():
        raise UnsafeUpload(f"Không tìm thấy tệp '{path.name}'.", "not_found")
    size = path.stat().st_size
    if size == 0:
        raise UnsafeUpload(f"Tệp '{path.name}' rỗng.", "empty")
    if size > max_bytes:
        raise UnsafeUpload(
            f"Tệp '{path.name}' có dung lượng {_megabytes(size)} MB, "
            f"vượt giới hạn {_megabytes(max_bytes)} MB.",
            "too_large",
        )
    if suffix == ".xlsx":
        _check_xlsx(path, max_uncompressed=max_uncompressed, max_ratio=max_ratio, max_entries=max_entries)
        return "xlsx"
    _check_csv(path)
    return "csv"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".replace(".", ",")


def _check_xlsx(path: Path, *, max_uncompressed: int, max_ratio: int, max_entries: int) -> None:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsafeUpload(
            f"Tệp '{path.name}' là tệp Excel 97-2003 hoặc có đặt mật khẩu; "
            "hãy bỏ mật khẩu và lưu thành .xlsx.",
            "not_xlsx",
        )
    # A zip appended to another file (a polyglot) passes is_zipfile; an xlsx starts with its first entry.
    if not head.startswith(b"PK\x03\x04") or not zipfile.is_zipfile(path):
        raise UnsafeUpload(f"Tệp '{path.name}' không phải tệp Excel .xlsx hợp lệ.", "not_xlsx")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_entries(path.name, entries, max_uncompressed, max_ratio, max_entries)
            names = {entry.filename for entry in entries}
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise UnsafeUpload(f"Tệp '{path.name}' không phải tệp Excel .xlsx hợp lệ.", "not_xlsx")
            if any(PurePosixPath(name).name.lower() == "vbaproject.bin" for name in names):
                raise UnsafeUpload(
                    f"Tệp '{path.name}' chứa macro (vbaProject.bin); "
                    "hãy lưu lại thành Excel Workbook (.xlsx).",
                    "macro_enabled",
                )
            with archive.open("[Content_Types].xml") as handle:
                content_types = handle.read(_CONTENT_TYPES_MAX).lower()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted entry; NotImplementedError: an unsupported compression method.
        raise UnsafeUpload(f"Tệp '{path.name}' bị hỏng hoặc không đọc được: {exc}.", "not_xlsx") from exc
    if b"macroenabled" in content_types or b"vbaproject" in content_types:
        raise UnsafeUpload(
            f"Tệp '{path.name}' là tệp Excel có macro; hãy lưu lại thành Excel Workbook (.xlsx).",
            "macro_enabled",
        )


def _check_entries(
    file_name: str, entries: list[zipfile.ZipInfo], max_uncompressed: int, max_ratio: int, max_entries: int
) -> None:
    if len(entries) > max_entries:
        raise UnsafeUpload(
            f"Tệp '{file_name}' chứa {len(entries)} phần, quá nhiều so với một tệp Excel bình thường.",
            "zip_bomb",
        )
    total = 0
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in name.split("/"):
            raise UnsafeUpload(
                f"Tệp '{file_name}' chứa đường dẫn không an toàn ('{entry.filename}').", "unsafe_zip_path"
            )
        if entry.flag_bits & 0x1:
            raise UnsafeUpload(f"Tệp '{file_name}' có đặt mật khẩu; hãy bỏ mật khẩu rồi nộp lại.", "not_xlsx")
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise UnsafeUpload(
                f"Tệp '{file_name}' có tỷ lệ nén bất thường ({ratio:.0f}:1); "
                "tệp bị từ chối vì lý do an toàn.",
                "zip_bomb",
            )
    if total > max_uncompressed:
        raise UnsafeUpload(
            f"Tệp '{file_name}' khi giải nén lớn {_megabytes(total)} MB, vượt giới hạn "
            f"{_megabytes(max_uncompressed)} MB.",
            "zip_bomb",
        )


def _check_csv(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    for signature, label in _SIGNATURES.items():
        if head.startswith(signature):
            raise UnsafeUpload(
                f"Tệp '{path.name}' có đuôi .csv nhưng thực chất là {label}; "
                "hãy xuất lại bảng dưới dạng CSV.",
                "not_csv",
            )
    if head.startswith(_UTF16_BOMS):
        return
    if _looks_utf16(head):
        raise UnsafeUpload(
            f"Không xác định được bảng mã (encoding) của tệp '{path.name}': tệp có vẻ là UTF-16 nhưng "
            "không có dấu BOM nên không biết thứ tự byte; hãy mở tệp bằng Excel và lưu lại với kiểu "
            "'CSV UTF-8 (Comma delimited) (*.csv)'.",
            "bad_encoding",
        )
    control = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if b"\x00" in head or control > len(head) // 100:
        raise UnsafeUpload(
            f"Tệp '{path.name}' có đuôi .csv nhưng không phải tệp văn bản; hãy xuất lại bảng dưới dạng CSV.",
            "not_csv",
        )


def _looks_utf16(head: bytes) -> bool:
    """True when every other byte is mostly NUL: UTF-16 text of Latin script, written without a BOM."""
    pairs = len(head) // 2
    return pairs >= 8 and max(head[0::2].count(0), head[1::2].count(0)) > pairs * 0.7


_RESERVED = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
DEFAULT_FILENAME = "tep_tai_len"


def safe_filename(name: str, max_length: int = 120) -> str:
    """A storable file name from an uploaded one: no directories, control characters or leading dots.

    Vietnamese letters are kept (NFC); the extension survives truncation; never empty, never a dotfile.
    """
    if max_length < 24:
        raise ValueError("max_length must leave room for a name and its extension (>= 24)")
    text = unicodedata.normalize("NFC", str(name))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    text = " ".join(_RESERVED.sub("_", text).split())
    text = text.strip(" .")
    stem, dot, ext = text.rpartition(".")
    if not dot or not re.fullmatch(r"[0-9A-Za-z]{1,10}", ext):
        stem, ext = text, ""
    suffix = f".{ext.lower()}" if ext else ""
    stem = stem.strip(" .")
    if stem.lower() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    stem = stem[: max_length - len(suffix)].rstrip(" .")
    return (stem or DEFAULT_FILENAME) + suffix
