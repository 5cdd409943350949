"""Task data: items from JSONL, CSV, SQuAD JSON, .xlsx, .parquet and `datasets` folders; corpora
from files or document folders; split checks, one-file splitting and the leakage check.

Every error names the file and the line (or row) so a user can fix their data without guessing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.data.documents import DocumentError, is_document_source, read_folder
from harness.data.labels import LabelError, as_label_choices, label_set
from harness.data.splitting import split_items
from harness.data.tables import file_sha256, hf_rows, parquet_rows, xlsx_rows
from harness.metrics.base import normalize_answer
from harness.spec.config import DataSpec, TaskSpec
from harness.spec.style import StyleReport, resolve_task_spec

SPLITS = ("train", "dev", "eval")


class DataError(ValueError):
    """Data that cannot be used; the message says which file and line."""


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...] = ()  # gold aliases; empty when unanswerable
    answerable: bool = True
    choices: tuple[str, ...] | None = None
    label: int | None = None  # index into choices
    context: str = ""
    doc_ids: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # gold values of structured output fields
    source: str = ""  # "file:line", for error messages and sample logs
    cluster: str = ""  # data.fields.cluster's value: a grouping for statistics, not content

    def template_fields(self) -> dict[str, str]:
        choices = ""
        if self.choices:
            choices = "\n".join(
                f"{string.ascii_uppercase[i]}. {c}" for i, c in enumerate(self.choices)
            )
        return {
            "id": self.id,
            "question": self.question,
            "context": self.context,
            "choices": choices,
        }


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""
    source: str = ""


@dataclass
class TaskData:
    spec: TaskSpec
    splits: dict[str, list[Item]]
    corpus: list[Document] | None = None
    leakage: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)  # files it was built from, with hashes
    split: dict[str, Any] | None = None  # how one items file was split, when it was
    style: StyleReport | None = None  # how the task's style-dependent defaults were resolved

    @property
    def train(self) -> list[Item]:
        return self.splits.get("train", [])

    @property
    def eval(self) -> list[Item]:
        return self.splits["eval"]


def load_task(spec: TaskSpec, strict_leakage: bool = False) -> TaskData:
    """Load every split of a task (and its corpus), check them, and measure train/eval leakage."""
    splits: dict[str, list[Item]] = {}
    sources: dict[str, Any] = {"items": []}
    split_info = None
    files = {s: getattr(spec.data, s) for s in ("items", *SPLITS)}
    over_labels = _choice_over_labels(spec, files)  # read as answers, then as label choices
    for split, path in files.items():
        if path is None:
            continue
        sheet = sheet_for(spec.data, split)
        scoring = "generate" if over_labels else spec.scoring
        items = load_items(Path(path), spec.data, scoring=scoring, sheet=sheet, split=split)
        if not items:
            raise DataError(f"{path}: split '{split}' of task '{spec.name}' has no items")
        sources["items"].append(_source_of(Path(path), split, sheet, len(items)))
        for item in items if spec.output_fields else []:
            missing = [f for f in spec.output_fields if f not in dict(item.labels)]
            if missing:
                raise DataError(
                    f"{item.source}: labels lack output field(s) {missing} (task output_fields)"
                )
        if spec.scoring == "generate":
            items = [_check_golds(item, spec.abstain_patterns) for item in items]
        if split == "items":
            assert spec.data.split is not None  # DataSpec gives `items` a default split
            sp = spec.data.split
            parts, split_info = split_items(
                items, sp.eval, sp.dev, sp.seed, spec.leakage_threshold, normalize_question
            )
            split_info["from"] = path
            for name in ("train", "eval"):
                if name not in parts:
                    raise DataError(
                        f"{path}: {len(items)} item(s) are too few to split into train and eval "
                        f"(data.split: eval {sp.eval}, dev {sp.dev})"
                    )
            splits.update(parts)
            continue
        splits[split] = items
    _check_clusters(spec, splits.get("eval", []))
    corpus = None
    if spec.corpus is not None:
        corpus, sources["corpus"] = load_corpus_with_sources(spec)
    if spec.label_set and spec.answer_style == "auto":
        spec = spec.model_copy(update={"answer_style": "label"})  # stated labels: a label task
    if over_labels:
        spec, splits = _label_choices(spec, splits)
    task = TaskData(spec=spec, splits=splits, corpus=corpus, sources=sources, split=split_info)
    task.spec, task.style = resolve_style(task)
    task.spec = _with_label_set(task)
    task.leakage = leakage_report(task, spec.leakage_threshold)
    if strict_leakage and task.leakage.get("total", 0):
        raise DataError(
            f"task '{spec.name}': {task.leakage['total']} eval/dev question(s) identical or near-identical "
            f"to train questions (threshold {spec.leakage_threshold}); examples: {task.leakage['examples'][:3]}"
        )
    return task


def _choice_over_labels(spec: TaskSpec, files: dict[str, Any]) -> bool:
    """`scoring: choice` on items without a choices column: every label is a choice."""
    if spec.scoring != "choice":
        return False
    split, path = next((s, p) for s, p in files.items() if p is not None)
    fmt = detect_format(Path(path), spec.data.format)
    if fmt == "squad" or not Path(path).exists():
        return False
    first = next(iter(table_rows(Path(path), fmt, sheet_for(spec.data, split))), None)
    return first is not None and spec.data.fields.choices not in first[1]


def _label_choices(
    spec: TaskSpec, splits: dict[str, list[Item]]
) -> tuple[TaskSpec, dict[str, list[Item]]]:
    """The task's label set, and its items as choices over it (harness.data.labels)."""
    every = [i for items in splits.values() for i in items]
    try:
        labels = label_set(every, spec.label_set)
        splits = {name: as_label_choices(items, labels) for name, items in splits.items()}
    except LabelError as exc:
        raise DataError(f"task '{spec.name}': {exc}") from None
    return spec.model_copy(update={"label_set": labels}), splits


def _with_label_set(task: TaskData) -> TaskSpec:
    """A generated label task's spec with its label set (listed in prompts, matched in answers)."""
    spec = task.spec
    if spec.answer_style != "label" or spec.scoring != "generate":
        return spec
    every = [i for items in task.splits.values() for i in items]
    try:
        labels = label_set(every, spec.label_set)
    except LabelError as exc:
        raise DataError(f"task '{spec.name}': {exc}") from None
    return spec.model_copy(update={"label_set": labels})


def sheet_for(data: DataSpec, split: str) -> str | int | None:
    """The workbook sheet of one split's file (data.sheet, or its entry for that split)."""
    if isinstance(data.sheet, dict):
        return data.sheet.get(split)
    return data.sheet


def _source_of(path: Path, split: str, sheet: str | int | None, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"split": split, "path": str(path), "sha256": file_sha256(path)}
    if sheet is not None:
        out["sheet"] = sheet
    out["items"] = n
    return out


def resolve_style(task: TaskData) -> tuple[TaskSpec, StyleReport]:
    """The task spec with its answer-style defaults filled in (see harness.spec.style).

    Gold lengths come from train and dev when the task has them, else from eval.
    """
    fitted = [i for s in ("train", "dev") for i in task.splits.get(s, [])] or task.eval
    golds = [i.answers[0] for i in fitted if i.answerable and i.answers and i.choices is None]
    every = [i for items in task.splits.values() for i in items]
    unanswerable = any(not i.answerable and i.choices is None for i in every)
    return resolve_task_spec(task.spec, golds, unanswerable)


def _check_golds(item: Item, abstain_patterns: list[str]) -> Item:
    """Gold aliases as SQuAD scores them. Dropped with a warning: an alias empty after
    normalisation, and one that reads as an abstention (an arm that said it would be scored as
    abstaining) where the item has other aliases; an item left with none is an error."""

    def abstains(gold: str) -> str | None:
        flags = re.IGNORECASE | re.MULTILINE
        return next((p for p in abstain_patterns if re.search(p, gold, flags=flags)), None)

    reads_as_abstention = [g for g in item.answers if abstains(g)]
    if reads_as_abstention and len(reads_as_abstention) == len(item.answers):
        gold = reads_as_abstention[0]
        raise DataError(
            f"{item.source}: gold answer {gold!r} matches the abstention pattern "
            f"{abstains(gold)!r}: an arm giving it would be scored as abstaining. Mark the item "
            "unanswerable, or change the task's abstain_patterns"
        )
    kept = tuple(g for g in item.answers if normalize_answer(g) and g not in reads_as_abstention)
    if len(kept) == len(item.answers):
        return item
    dropped = [g for g in item.answers if g not in kept]
    if not kept:
        raise DataError(
            f"{item.source}: every gold answer {dropped} is empty after SQuAD normalisation "
            "(only punctuation, articles or spaces)"
        )
    print(
        f"[adaptbench] warning: {item.source}: gold answer(s) {dropped} are ignored: empty "
        "after SQuAD normalisation, or read as an abstention (the item keeps its other answers)",
        file=sys.stderr,
    )
    return replace(item, answers=kept)


def read_text(path: Path) -> str:
    """A UTF-8 file's text without a byte-order mark; bad bytes are an error naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None


def detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".json":
        return "squad"
    raise DataError(
        f"{path}: cannot tell the format from the extension; set data.format "
        "(jsonl, csv, squad, xlsx, parquet, hf)"
    )


def table_rows(path: Path, fmt: str, sheet: str | int | None = None) -> Iterator[tuple[str, dict]]:
    """`(file:row, row)` pairs of a JSONL, CSV, .xlsx, .parquet file or `datasets` folder."""
    readers = {
        "jsonl": lambda: _jsonl_rows(path),
        "csv": lambda: _csv_rows(path),
        "xlsx": lambda: xlsx_rows(path, sheet),
        "parquet": lambda: parquet_rows(path),
        "hf": lambda: hf_rows(path),
    }
    if fmt not in readers:
        raise DataError(f"{path}: format {fmt!r} has no rows")
    try:
        yield from readers[fmt]()
    except DocumentError as exc:
        raise DataError(str(exc)) from None


def load_items(
    path: Path,
    data: DataSpec,
    scoring: str = "generate",
    sheet: str | int | None = None,
    split: str | None = None,
) -> list[Item]:
    """The items of one file. Without an id column (`fields.id: null`) an item's id is its
    split's name and its row (`train-5`, `eval-5`; `row-5` in a file split for you), so that
    train item 5 and eval item 5 of two files never share an id."""
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    fmt = detect_format(path, data.format)
    if sheet is not None and fmt != "xlsx":
        raise DataError(
            f"{path}: data.sheet is {sheet!r}, but this is a {fmt} file, not an .xlsx workbook; "
            "remove data.sheet (or give it per split, for the workbooks only)"
        )
    if fmt == "squad":
        items = list(_squad_items(path))
    else:
        rows = table_rows(path, fmt, sheet)
        prefix = split if split in SPLITS else "row"
        ignored: list[str] = []  # gold answers of items marked answerable: false
        items = [_item_from_row(row, where, data, scoring, prefix, ignored) for where, row in rows]
        if ignored:
            print(
                f"[adaptbench] warning: {path}: {len(ignored)} item(s) marked answerable: false "
                f"have gold answers, which are ignored (they are scored as unanswerable), e.g. "
                f"{ignored[0]}; drop the answers or the answerable flag",
                file=sys.stderr,
            )
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DataError(
                f"{item.source}: duplicate id {item.id!r} (first seen at {seen[item.id]})"
            )
        seen[item.id] = item.source
    return items


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict]]:
    with io.StringIO(read_text(path)) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def _csv_delimiter(path: Path, header: str) -> str:
    """Tab for .tsv; else `,` or `;` (spreadsheets in many locales export `;`), read off the header."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(path: Path) -> Iterator[tuple[str, dict]]:
    text = read_text(path)
    delimiter = _csv_delimiter(path, text.split("\n", 1)[0])
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not reader.fieldnames:
            raise DataError(f"{path}: empty CSV (no header row)")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(
                    f"{where}: more values than header columns ({len(reader.fieldnames)})"
                )
            yield where, row


def _check_clusters(spec: TaskSpec, items: list[Item]) -> None:
    """A stated cluster column must be filled on every eval item: the statistics group by it."""
    column = spec.data.fields.cluster
    missing = [i for i in items if column is not None and not i.cluster]
    if missing:
        raise DataError(
            f"{missing[0].source}: missing field {column!r} (cluster, data.fields.cluster) on "
            f"{len(missing)} of {len(items)} eval item(s); every eval item needs one"
        )


def _get(row: dict, key: str | None, where: str, required: bool, hint: str) -> Any:
    if key is None or key not in row or row[key] is None:
        if required:
            raise DataError(
                f"{where}: missing field {key!r} ({hint}); fields present: {sorted(row)}. "
                f"Map another column with data.fields.{hint}"
            )
        return None
    return row[key]


def _as_list(value: Any, where: str, what: str) -> list[str]:
    """A JSON list, a JSON-encoded list in a CSV cell, or a single value -> list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{where}: {what} looks like a JSON list but does not parse: {exc.msg}"
                ) from None
        else:
            return [text] if text else []
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, dict) and "text" in v:  # SQuAD-style answer objects
                v = v["text"]
            if not isinstance(v, (str, int, float)):
                raise DataError(f"{where}: {what} must hold strings, found {type(v).__name__}")
            if str(v).strip():
                out.append(str(v).strip())
        return out
    if isinstance(value, (int, float)):
        return [str(value)]
    raise DataError(f"{where}: {what} must be a string or a list, got {type(value).__name__}")


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise DataError(f"{where}: 'answerable' must be true or false, got {value!r}")


def _item_from_row(
    row: dict,
    where: str,
    data: DataSpec,
    scoring: str,
    id_prefix: str = "row",
    ignored: list[str] | None = None,
) -> Item:
    """One item of a row; `ignored` collects where answers were given to an unanswerable item."""
    f = data.fields
    if f.id is None:  # a file without an id column: its row number (in its split) is the id
        item_id = f"{id_prefix}-" + where.rsplit(":", 1)[-1].removeprefix("row ")
    else:
        item_id = str(_get(row, f.id, where, True, "id")).strip()
    if not item_id:
        raise DataError(f"{where}: empty id")
    question = _get(row, f.question, where, True, "question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: field {f.question!r} (question) must be a non-empty string")
    context = _get(row, f.context, where, False, "context")
    if context is None:
        context = ""
    if not isinstance(context, (str, int, float)) or isinstance(context, bool):
        raise DataError(
            f"{where}: field {f.context!r} (context) must be text, got a "
            f"{type(context).__name__}; put the passage's text there (map another column with "
            "data.fields.context)"
        )
    doc_ids = tuple(_as_list(_get(row, f.doc_id, where, False, "doc_id"), where, "doc_id"))
    raw_labels = _get(row, f.labels, where, False, "labels") or {}
    if not isinstance(raw_labels, dict) or not all(
        isinstance(v, (str, int)) for v in raw_labels.values()
    ):
        raise DataError(f"{where}: field {f.labels!r} (labels) must be an object of field -> value")
    cluster = _get(row, f.cluster, where, False, "cluster")  # needed on eval items only
    if cluster is not None and (isinstance(cluster, (dict, list)) or not str(cluster).strip()):
        raise DataError(f"{where}: field {f.cluster!r} (cluster) must be a non-empty value")
    common = dict(
        id=item_id,
        question=question.strip(),
        context=str(context),
        doc_ids=doc_ids,
        labels=tuple((str(k), str(v)) for k, v in raw_labels.items()),
        source=where,
        cluster="" if cluster is None else str(cluster).strip(),
    )
    if scoring == "choice":
        choices = _as_list(_get(row, f.choices, where, True, "choices"), where, "choices")
        if len(choices) < 2:
            raise DataError(
                f"{where}: a choice item needs at least 2 choices, found {len(choices)}"
            )
        repeated = sorted({c for c in choices if choices.count(c) > 1})
        if repeated:
            raise DataError(
                f"{where}: choice(s) {repeated} appear more than once; each choice must differ"
            )
        label = _resolve_label(_get(row, f.label, where, True, "label"), choices, where)
        return Item(choices=tuple(choices), label=label, answers=(choices[label],), **common)
    raw = _get(row, f.answers, where, f.answerable not in row, "answers")
    if data.answer_separator and isinstance(raw, str) and not raw.strip().startswith("["):
        raw = [a for a in raw.split(data.answer_separator) if a.strip()]
    answers = _as_list(raw, where, "answers")
    if data.no_answer:  # cells such as "N/A" that mean "no answer", not a gold answer
        markers = {m.strip().lower() for m in data.no_answer}
        answers = [a for a in answers if a.lower() not in markers]
    answerable_raw = _get(row, f.answerable, where, False, "answerable") if f.answerable else None
    if isinstance(answerable_raw, str) and not answerable_raw.strip():
        answerable_raw = None  # a blank spreadsheet cell: not given
    answerable = _as_bool(answerable_raw, where) if answerable_raw is not None else bool(answers)
    if answerable and not answers:
        raise DataError(f"{where}: item is marked answerable but has no gold answers")
    if not answerable:
        if answers and ignored is not None:
            ignored.append(f"{where} {answers}")
        answers = []
    return Item(answers=tuple(dict.fromkeys(answers)), answerable=answerable, **common)


def _resolve_label(value: Any, choices: list[str], where: str) -> int:
    """A label may be a 0-based index, a letter (A, B, ...) or the text of the right choice."""
    if isinstance(value, bool):
        raise DataError(
            f"{where}: label must be an index, a letter or a choice text, got {value!r}"
        )
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        idx = int(value)
        if 0 <= idx < len(choices):
            return idx
        raise DataError(
            f"{where}: label index {idx} is out of range for {len(choices)} choices (0-based)"
        )
    text = str(value).strip()
    if text in choices:
        return choices.index(text)
    if len(text) == 1 and text.upper() in string.ascii_uppercase[: len(choices)]:
        return string.ascii_uppercase.index(text.upper())
    raise DataError(
        f"{where}: label {value!r} is not an index, a letter or one of the choices {choices}"
    )


def _load_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def _squad_paragraphs(path: Path, payload: Any) -> Iterator[tuple[str, str, int, dict]]:
    """(where, title, paragraph index, paragraph) of SQuAD JSON, checking its shape on the way."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise DataError(
            f"{path}: not SQuAD format (expected a top-level object with a 'data' list)"
        )
    for a, article in enumerate(payload["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs", []), list):
            raise DataError(
                f"{path}: data[{a}]: a SQuAD article must be an object with a 'paragraphs' list"
            )
        title = str(article.get("title", f"article{a}"))
        for p, para in enumerate(article.get("paragraphs", [])):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            if not isinstance(para, dict) or "context" not in para or "qas" not in para:
                raise DataError(
                    f"{where}: a SQuAD paragraph must be an object with 'context' and 'qas'"
                )
            if not isinstance(para["context"], str) or not isinstance(para["qas"], list):
                raise DataError(f"{where}: 'context' must be a string and 'qas' a list")
            yield where, title, p, para


def _squad_items(path: Path) -> Iterator[Item]:
    """SQuAD v1.1 / v2.0 JSON: questions with their paragraph as context and doc id `title#n`."""
    for where, title, p, para in _squad_paragraphs(path, _load_json(path)):
        for q, qa in enumerate(para["qas"]):
            qwhere = f"{where}.qas[{q}]"
            if not isinstance(qa, dict) or "id" not in qa or "question" not in qa:
                raise DataError(
                    f"{qwhere}: a SQuAD question must be an object with 'id' and 'question'"
                )
            impossible = qa.get("is_impossible", False)
            if not isinstance(impossible, bool):
                raise DataError(
                    f"{qwhere}: 'is_impossible' must be true or false (JSON booleans), "
                    f"got {impossible!r}"
                )
            answers = [] if impossible else _as_list(qa.get("answers", []), qwhere, "answers")
            if not impossible and not answers:
                raise DataError(f"{qwhere}: answerable question without answers")
            yield Item(
                id=str(qa["id"]),
                question=str(qa["question"]).strip(),
                answers=tuple(dict.fromkeys(answers)),
                answerable=not impossible,
                context=para["context"],
                doc_ids=(f"{title}#{p}",),
                source=qwhere,
            )


def squad_documents(path: Path) -> list[Document]:
    return [
        Document(id=f"{title}#{p}", text=para["context"], title=title, source=str(path))
        for _, title, p, para in _squad_paragraphs(path, _load_json(path))
    ]


def _json_corpus_rows(path: Path, payload: Any) -> Iterator[tuple[str, dict]]:
    """A `.json` corpus: a list of document objects (or SQuAD, handled by the caller)."""
    if not isinstance(payload, list):
        raise DataError(
            f"{path}: a .json corpus must be a list of documents (objects with id and text) "
            f"or SQuAD format (an object with a 'data' list); got {type(payload).__name__}"
        )
    for i, row in enumerate(payload):
        if not isinstance(row, dict):
            raise DataError(
                f"{path}: [{i}]: a corpus document must be an object, got {type(row).__name__}"
            )
        yield f"{path}: [{i}]", row


def load_corpus_with_sources(spec: TaskSpec) -> tuple[list[Document], dict[str, Any]]:
    """The task's documents and the files they came from (with content hashes)."""
    assert spec.corpus is not None
    cs = spec.corpus
    if is_document_source(cs.path):
        try:
            pages, report = read_folder(cs.path, skip_unreadable=cs.skip_unreadable)
        except DocumentError as exc:
            raise DataError(f"corpus of task '{spec.name}': {exc}") from None
        docs = [Document(id=p.id, text=p.text, title=p.title, source=p.source) for p in pages]
        return docs, report.as_dict()
    path = Path(cs.path)
    if not path.is_file():
        raise DataError(f"{path}: corpus file of task '{spec.name}' not found")
    fmt = detect_format(path, "auto")
    payload = _load_json(path) if fmt == "squad" else None
    if isinstance(payload, dict):
        docs = squad_documents(path)
    else:
        rows = _json_corpus_rows(path, payload) if fmt == "squad" else table_rows(path, fmt)
        docs = []
        for where, row in rows:
            doc_id = _get(row, cs.id_field, where, True, "id")
            text = _get(row, cs.text_field, where, True, "text")
            if not str(doc_id).strip():
                raise DataError(f"{where}: corpus document has an empty id")
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: corpus document {doc_id!r} has no text")
            title = str(row.get(cs.title_field) or "") if cs.title_field else ""
            docs.append(Document(id=str(doc_id), text=text.strip(), title=title, source=where))
    if not docs:
        raise DataError(f"{path}: corpus of task '{spec.name}' is empty")
    seen: dict[str, str] = {}
    for d in docs:
        if d.id in seen:
            raise DataError(f"{d.source}: duplicate corpus id {d.id!r} (first at {seen[d.id]})")
        seen[d.id] = d.source
    return docs, {"files": [{"file": str(path), "sha256": file_sha256(path)}], "skipped": []}


# --------------------------------------------------------------------------------------------
# leakage


def leakage_warning(task_name: str, leakage: dict[str, Any]) -> str:
    """The warning `run` and `validate` print when eval/dev questions repeat train ones."""
    examples = ", ".join(
        f"{e['split']} {e['id']!r} ~ train {e['train_id']!r}" for e in leakage["examples"][:3]
    )
    return (
        f"warning: task '{task_name}': {leakage['total']} dev/eval question(s) identical or "
        f"near-identical to train questions (TF-IDF cosine >= {leakage['threshold']}; "
        f"e.g. {examples})"
    )


def normalize_question(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def leakage_report(task: TaskData, threshold: float) -> dict[str, Any]:
    """Count eval/dev questions that are identical or near-identical (TF-IDF cosine) to train ones."""
    train = task.splits.get("train")
    report: dict[str, Any] = {"threshold": threshold, "total": 0, "examples": []}
    if not train:
        return report
    from sklearn.feature_extraction.text import TfidfVectorizer

    train_q = [normalize_question(i.question) for i in train]
    train_exact = {q: i for i, q in enumerate(train_q)}
    for split in ("dev", "eval"):
        items = task.splits.get(split)
        if not items:
            continue
        qs = [normalize_question(i.question) for i in items]
        try:
            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train_q + qs)
            sims = (vec.transform(qs) @ vec.transform(train_q).T).tocsr()
        except ValueError:
            # No word of two or more characters in any question: nothing to compare but
            # identical text, which the exact check below still counts.
            sims = None
        exact = near = 0
        for row, (item, q) in enumerate(zip(items, qs)):
            if q in train_exact:
                exact += 1
                match, score = train_exact[q], 1.0
            elif sims is None:
                continue
            else:
                r = sims.getrow(row)
                if r.nnz == 0 or r.data.max() < threshold:
                    continue
                near += 1
                match, score = int(r.indices[r.data.argmax()]), float(r.data.max())
            if len(report["examples"]) < 10:
                report["examples"].append(
                    {
                        "split": split,
                        "id": item.id,
                        "train_id": train[match].id,
                        "similarity": round(score, 3),
                    }
                )
        report[split] = {"identical": exact, "near_identical": near, "n": len(items)}
        report["total"] += exact + near
    return report
