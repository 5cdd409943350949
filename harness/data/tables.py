"""Rows of spreadsheets and columnar files: .xlsx sheets, .parquet, and `datasets` save_to_disk folders.

Each reader yields `(where, row)` like the JSONL and CSV readers, where `where` is `file:row`
(`file[sheet]:row` for a workbook), so the item loader gives the same errors for every format.
A `datasets` folder is read from its Arrow files with pyarrow: nothing in it is unpickled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.data.documents import DocumentError, need

Row = tuple[str, dict[str, Any]]


class TableError(DocumentError):
    """A table that cannot be read; the message names the file (and sheet)."""


def file_sha256(path: Path) -> str:
    """Content hash of a file, or of a `datasets` folder's Arrow and metadata files."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.relative_to(path).as_posix().encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _cell(value: Any) -> Any:
    """Spreadsheet cells as the loaders expect: empty cells are empty text, dates ISO text."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an id typed as 12 is stored as 12.0 by some writers
    return value


def sheet_names(path: Path) -> list[str]:
    return list(_workbook(path).sheetnames)


def _workbook(path: Path) -> Any:
    openpyxl = need("openpyxl", "openpyxl")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a zip, not a workbook, damaged parts
        raise TableError(
            f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})"
        ) from None


def xlsx_rows(path: Path, sheet: str | int | None = None) -> Iterator[Row]:
    """Rows of one sheet (by name or 0-based index; default the first), keyed by the header row."""
    wb = _workbook(path)
    names = list(wb.sheetnames)
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise TableError(
                f"{path}: sheet index {sheet} out of range; the workbook has {len(names)} "
                f"sheet(s): {names} (data.sheet is 0-based)"
            )
        name = names[sheet]
    elif sheet in names:
        name = sheet
    else:
        raise TableError(f"{path}: no sheet named {sheet!r}; sheets: {names} (set data.sheet)")
    ws = wb[name]
    rows = ws.iter_rows(values_only=True)
    header: list[str] | None = None
    for rownum, values in enumerate(rows, 1):
        cells = [_cell(v) for v in values]
        if header is None:
            if not any(str(c).strip() for c in cells):
                continue  # blank rows above the header
            header = [str(c).strip() for c in cells]
            if not any(header):
                raise TableError(f"{path}[{name}]:{rownum}: header row has no column names")
            continue
        if not any(str(c).strip() for c in cells):
            continue
        row = {h: c for h, c in zip(header, cells) if h}
        yield f"{path}[{name}]:{rownum}", row
    if header is None:
        raise TableError(f"{path}[{name}]: empty sheet (no header row)")


def parquet_rows(path: Path) -> Iterator[Row]:
    pq = need("pyarrow.parquet", "pyarrow")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise TableError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})"
        ) from None
    for i, row in enumerate(table.to_pylist(), 1):
        yield f"{path}:row {i}", row


def hf_rows(path: Path) -> Iterator[Row]:
    """A `Dataset.save_to_disk` folder: its Arrow stream files, in the order state.json lists."""
    pa = need("pyarrow", "pyarrow")
    if (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
        raise TableError(
            f"{path}: a DatasetDict folder; point data.train/dev/eval at its split folders: "
            + ", ".join(str(path / s) for s in splits)
        )
    state_file = path / "state.json"
    if not state_file.is_file():
        raise TableError(f"{path}: not a `datasets` save_to_disk folder (no state.json)")
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        files = [path / f["filename"] for f in state["_data_files"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TableError(f"{state_file}: unreadable state.json ({exc})") from None
    names = _class_label_names(path)
    n = 0
    for f in files:
        try:
            with pa.memory_map(str(f), "r") as source:
                table = pa.ipc.open_stream(source).read_all()
        except Exception as exc:
            raise TableError(
                f"{f}: not a readable Arrow file ({type(exc).__name__}: {exc})"
            ) from None
        for row in table.to_pylist():
            n += 1
            for col, labels in names.items():
                if isinstance(row.get(col), int) and 0 <= row[col] < len(labels):
                    row[col] = labels[row[col]]  # ClassLabel ids to their names
            yield f"{path}:row {n}", row


def _class_label_names(path: Path) -> dict[str, list[str]]:
    info = path / "dataset_info.json"
    if not info.is_file():
        return {}
    try:
        features = json.loads(info.read_text(encoding="utf-8")).get("features") or {}
    except json.JSONDecodeError:
        return {}
    return {
        col: list(feat["names"])
        for col, feat in features.items()
        if isinstance(feat, dict) and feat.get("_type") == "ClassLabel" and feat.get("names")
    }
