"""`adaptbench init`: read a user's items (and documents) and write a commented suite that runs.

Every guess (which column is the question, what kind of answers, which arms apply) is printed
with the reason, and the uncertain ones name the suite key to change. The suite is validated
(load_suite and the data loaders) before it is put in place; an existing file is kept unless
the caller forces it.
"""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.arms import ARMS
from harness.arms.oracle_context import oracle_problem
from harness.cli.init_checks import data_warnings, out_problem, suite_name
from harness.cli.init_labels import (
    Budget,
    TrainingPlan,
    choose_label_scoring,
    plan_training,
)
from harness.data.documents import DocumentError, is_document_source, list_files
from harness.data.tables import sheet_names
from harness.data.tasks import DataError, TaskData, detect_format, load_task, table_rows
from harness.metrics import default_metrics
from harness.run.suite import load_suite
from harness.spec import config
from harness.spec.config import SpecError, SuiteSpec, TaskSpec

# Column names (lowercased, non-alphanumerics as `_`) for each field, best first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "qid", "question_id", "item_id", "uid", "key", "ref", "no", "number", "row_id"),
    "question": (
        "question",
        "questions",
        "query",
        "q",
        "prompt",
        "input",
        "ask",
        "narrative",
        "claim",
        "claim_text",
        "description",
        "text",
        "instruction",
        "user_question",
    ),
    "answers": (
        "answers",
        "answer",
        "gold",
        "gold_answer",
        "expected",
        "expected_answer",
        "reference",
        "reference_answer",
        "response",
        "output",
        "target",
        "a",
        "ground_truth",
        "solution",
        "reply",
    ),
    "label": ("label", "class", "category", "decision", "outcome", "verdict", "route", "intent"),
    "doc_id": (
        "doc_id",
        "source",
        "source_document",
        "source_doc",
        "document",
        "doc",
        "file",
        "source_file",
        "page",
        "url",
        "doc_ids",
        "reference_document",
        "policy_document",
    ),
    "context": ("context", "passage", "paragraph", "evidence", "document_text"),
    "answerable": ("answerable", "is_answerable", "has_answer"),
    "choices": ("choices", "options", "candidates"),
}
# Answer cells that mean "no answer" rather than a gold answer (compared in lower case).
NO_ANSWER_MARKERS = (
    "n/a",
    "na",
    "none",
    "unanswerable",
    "no answer",
    "not answerable",
    "i don't know",
    "unknown",
    "-",
    "--",
    "\u2014",
    "not in the documents",
)
MAX_LABELS = 30  # at most this many distinct answers, each repeated: a label task
# More labels still make a label task when the answers are short names (an intent set: many
# labels, few examples each): at most this many words, each label used 3 times on average.
LABEL_WORDS = 4
LONG_ANSWER_WORDS = 12  # median gold length above which answers are paragraphs, not short facts


class InitError(ValueError):
    """Input `init` cannot build a suite from; the message names the file and what to pass."""


@dataclass
class Guess:
    """What init inferred about one items file, with reasons and the uncertain parts."""

    fields: dict[str, str | None] = field(default_factory=dict)
    style: str = "short"  # short | long | label
    scoring: str = "generate"
    no_answer: list[str] = field(default_factory=list)
    answer_separator: str | None = None  # several accepted answers in one cell
    notes: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    n_items: int = 0
    unanswerable: int = 0
    labels: list[str] = field(default_factory=list)  # a label task's distinct answers
    fmt: str = "auto"
    sheet: str | int | None = None


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _pick(columns: list[str], key: str, taken: set[str]) -> tuple[str | None, bool]:
    """The column for `key`: an exact synonym (sure), else one containing a synonym (unsure)."""
    normed = {c: _norm(c) for c in columns if c not in taken}
    for syn in SYNONYMS[key]:
        for col, n in normed.items():
            if n == syn:
                return col, True
    for syn in SYNONYMS[key]:
        if len(syn) < 4:
            continue  # "q" or "a" inside a longer name says nothing
        for col, n in normed.items():
            # A short name holding the word ("Customer question"); not a sentence in a header.
            if len(n.split("_")) <= 4 and (syn in n.split("_") or n.startswith(syn)):
                return col, False
    return None, False


# Separators of several accepted answers in one cell, tried in order. A cell holding one of
# them by chance (an amount written "$1; $2") is rare, so most cells must hold it.
ANSWER_SEPARATORS = ("; ", " | ")


def _separator(answers: list[str]) -> str | None:
    """The separator most answer cells hold (at least half of the non-empty ones, and 5)."""
    cells = [a for a in answers if a and not a.startswith("[")]
    for sep in ANSWER_SEPARATORS:
        hits = sum(sep in a for a in cells)
        if hits >= 5 and hits * 2 >= len(cells):
            return sep
    return None


def _texts(rows: list[dict], col: str | None) -> list[str]:
    if col is None:
        return []
    out = []
    for row in rows:
        v = row.get(col)
        if isinstance(v, (list, tuple)):
            v = v[0] if v else ""
        if isinstance(v, dict):
            v = v.get("text", "")
        out.append("" if v is None else str(v).strip())
    return out


def read_rows(path: Path, sheet: str | int | None) -> tuple[str, list[dict], str | int | None]:
    """Format, rows and chosen sheet of an items file (xlsx: the named sheet, else the first)."""
    try:
        fmt = detect_format(path, "auto")
    except DataError as exc:
        raise InitError(str(exc)) from None
    if sheet is not None and fmt != "xlsx":
        raise InitError(f"{path}: --sheet is for .xlsx workbooks; this is a {fmt} file")
    if fmt == "squad":
        return fmt, [], None
    if fmt == "xlsx" and sheet is None:
        try:
            names = sheet_names(path)
        except DocumentError as exc:
            raise InitError(str(exc)) from None
        sheet = names[0] if len(names) == 1 else _question_sheet(path, names)
    try:
        rows = [row for _, row in table_rows(path, fmt, sheet)]
    except DataError as exc:
        raise InitError(str(exc)) from None
    if not rows:
        raise InitError(f"{path}: no rows under the header")
    return fmt, rows, sheet


def _question_sheet(path: Path, names: list[str]) -> str:
    """The first sheet with a question-like column (a workbook of notes and questions)."""
    for name in names:
        try:
            first = next(iter(table_rows(path, "xlsx", name)), None)
        except DataError:
            continue
        cols = list(first[1]) if first else []
        if _pick(cols, "question", set())[0] and (
            _pick(cols, "answers", set())[0] or _pick(cols, "label", set())[0]
        ):
            return name
    return names[0]


def guess_fields(path: Path, sheet: str | int | None = None) -> Guess:
    """Field mapping, answer style and scoring of an items file, from column names and content."""
    fmt, rows, chosen = read_rows(path, sheet)
    g = Guess(fmt=fmt, sheet=chosen)
    if fmt == "xlsx" and sheet is None and len(sheet_names(path)) > 1:
        g.uncertain.append(
            f"sheet: {chosen!r} is the first sheet with question and answer columns; "
            "change data.sheet (name or 0-based index) if the items are on another"
        )
    sheet = chosen
    if fmt == "squad":
        g.fields = {}
        g.notes.append("SQuAD-format JSON: questions, answers, unanswerable flags and paragraphs")
        return g
    columns = list(dict.fromkeys(c for row in rows for c in row))
    where = f"{path}" + (f" [sheet {sheet!r}]" if sheet is not None else "")
    taken: set[str] = set()
    sure: dict[str, bool] = {}
    for key in ("question", "answers", "label", "choices", "id", "doc_id", "context", "answerable"):
        col, ok = _pick(columns, key, taken)
        if col is not None:
            g.fields[key] = col
            sure[key] = ok
            taken.add(col)
    if "question" not in g.fields:
        # No question-like name: the longest text column that most often ends with "?".
        scores = {
            c: (
                sum(t.endswith("?") for t in _texts(rows, c)),
                statistics.mean(map(len, _texts(rows, c))),
            )
            for c in columns
            if c not in taken and all(isinstance(r.get(c, ""), str) for r in rows)
        }
        if not scores:
            raise InitError(
                f"{where}: no usable column for the questions; columns: {columns}. "
                "Name one of them 'question' (or pass --sheet if another sheet holds the items)"
            )
        g.fields["question"] = max(scores, key=lambda c: scores[c])
        sure["question"] = False
    if "answers" not in g.fields and "label" in g.fields:
        g.fields["answers"] = g.fields.pop("label")
        g.style = "label"
    if "choices" in g.fields and "label" in g.fields:
        g.scoring = "choice"
    elif "answers" not in g.fields:
        raise InitError(
            f"{where}: no usable column for the answers; columns: {columns}. "
            "Name one of them 'answer' (or pass --sheet if another sheet holds the items)"
        )
    if g.scoring == "generate":
        g.fields.pop("label", None)  # answers are the gold; a label column beside them is unused
    for key, ok in sure.items():
        if not ok and key in g.fields:
            g.uncertain.append(
                f"{key}: column {g.fields[key]!r} chosen by its name/content; "
                f"change data.fields.{key} if another column holds it"
            )
    if "id" not in g.fields:
        g.fields["id"] = None
        g.notes.append(
            "no id column: items are numbered by split and row (train-<n>, eval-<n>; "
            "row-<n> in one file split for you)"
        )
    g.n_items = len(rows)
    answers = _texts(rows, g.fields.get("answers")) if g.scoring == "generate" else []
    g.answer_separator = _separator(answers)
    if g.answer_separator:
        answers = [a.split(g.answer_separator)[0].strip() for a in answers]
        g.notes.append(
            f"answer cells list several answers separated by {g.answer_separator!r}: each one "
            "is accepted (data.answer_separator)"
        )
    markers = sorted({a for a in answers if a.lower() in NO_ANSWER_MARKERS})
    g.no_answer = markers
    real = [a for a in answers if a and a.lower() not in NO_ANSWER_MARKERS]
    g.unanswerable = len(answers) - len(real)
    if g.scoring == "generate" and real:
        counts = Counter(a.lower() for a in real)
        words = statistics.median(len(a.split()) for a in real)
        few = 1 < len(counts) <= MAX_LABELS or (len(counts) > 1 and words <= LABEL_WORDS)
        if g.style == "label" or (few and len(counts) * 3 <= len(real)):
            g.style = "label"
            g.labels = sorted(set(real))
            g.notes.append(
                f"answers take {len(counts)} values: a label task (accuracy = exact match; "
                "every prompt lists the labels)"
            )
        elif words > LONG_ANSWER_WORDS:
            g.style = "long"
            g.notes.append(f"answers are paragraphs (median {words:g} words): long-answer metrics")
        else:
            g.notes.append(f"answers are short (median {words:g} words): exact match and F1")
    if g.unanswerable:
        g.notes.append(
            f"{g.unanswerable} of {len(answers)} answers are empty or say there is no answer "
            f"({markers or 'empty cells'}): unanswerable items, scored on abstaining"
        )
    return g


# --------------------------------------------------------------------------------------------
# keys of the verdict issue (answer styles, long-answer metrics, oracle_context, prompt
# variants): emitted only where this version of the suite schema knows them, so that a suite
# written here always validates.


def verdict_keys(g: Guess, oracle: bool) -> dict[str, Any]:
    """Optional keys for long answers and oracle runs that the installed schema accepts.
    `oracle`: the items name documents that the suite's corpus holds."""
    out: dict[str, Any] = {"task": {}, "arms": [], "rag_train_params": {}}
    out["styled"] = "answer_style" in TaskSpec.model_fields  # style sets wording and lengths
    if out["styled"] and g.style in ("short", "long", "label"):
        out["task"]["answer_style"] = g.style
    if oracle and "oracle_context" in ARMS:
        out["arms"].append({"arm": "oracle_context"})
    lora_params = getattr(ARMS["lora"], "Params", None)
    if lora_params is not None and "train_with_retrieval" in lora_params.model_fields:
        out["rag_train_params"]["train_with_retrieval"] = True  # RAFT-style for lora+rag
        # Its prompts hold three 128-token passages: at the default 256 tokens they would be
        # cut before their answers and left out of training.
        out["rag_train_params"]["max_seq_len"] = 640
    out["prompt_variants"] = (
        getattr(config, "DEFAULT_PROMPT_VARIANTS", None)
        if "prompt_variants" in SuiteSpec.model_fields
        else None
    )
    return out


# Metrics that read the retrieved passages or the gold documents: written only with documents.
DOCUMENT_METRICS = ("recall@k", "mrr", "unsupported_share", "unsupported_by_context")


def metrics_for(g: Guess, has_docs: bool) -> list[str]:
    if g.scoring == "choice":
        labels = ["invalid_label_rate"] if g.labels else []  # over the label set: 0, stated
        return ["choice_accuracy", *labels] + (["recall@k", "mrr"] if has_docs else [])
    if g.style == "long":
        # The long style's own graded metrics (README, answer styles): exact-match-based
        # false_answer_rate and the whole-answer unsupported_by_context would call nearly every
        # paragraph false, even a copy of the right passage.
        long = default_metrics("generate", None, "long")
        return [m for m in long if has_docs or m not in DOCUMENT_METRICS]
    out = ["exact_match", "token_f1"] + (["invalid_label_rate"] if g.style == "label" else [])
    if g.unanswerable or g.style != "label":
        out += ["false_answer_rate", "unanswerable_answered", "abstention_rate"]
    if has_docs:
        out += ["recall@k", "mrr", "unsupported_by_context"]
    return out


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.removesuffix("...\n").strip()  # a bare scalar ends its document with `...`


def _rel(path: Path, out: Path) -> str:
    """Relative to the suite when the data sits beside or below it, else absolute."""
    rel = Path(os.path.relpath(path.resolve(), out.resolve().parent)).as_posix()
    return str(path.resolve()) if rel.startswith("..") else rel


def build_suite(
    out: Path,
    items: Path | None,
    train: Path | None,
    eval_: Path | None,
    dev: Path | None,
    docs: str | None,
    sheet: str | None,
    name: str | None,
    gpu: bool,
    oracle: bool = True,
    budget: Budget | None = None,
) -> tuple[str, Guess, list[str]]:
    """The suite's YAML text, the guess it rests on, and the lines `init` prints. `oracle`:
    add `oracle_context` where the items name their documents and documents are given;
    `budget`: the time per trained arm and the rate to size it by (default: for the machine)."""
    primary = items or eval_
    assert primary is not None
    g = guess_fields(primary, sheet)
    choose_label_scoring(g)
    if g.fmt == "squad" and docs is None:
        docs = str(primary)  # the paragraphs of a SQuAD file are its corpus
    has_train = items is not None or train is not None
    has_docs = docs is not None
    names_documents = "doc_id" in g.fields or g.fmt == "squad"
    vk = verdict_keys(g, oracle and names_documents and has_docs)
    task_name = suite_name(name, out, primary)
    lines: list[str] = []
    say = lines.append
    say(f"# Written by `adaptbench init` from {primary.name}; edit freely, then validate with")
    say(f"# `adaptbench validate {out.name}`. Keys: README.md 'Writing a suite'.")
    say(f"name: {task_name}")
    say("seed: 1234")
    say("model:")
    say(
        "  name: smollm2-135m-instruct   # the embedded default; a local folder or an HF id works too"
    )
    say(f"  batch_size: {32 if gpu else 16}")
    say("tasks:")
    _task_yaml(say, out, task_name, g, vk, items, train, eval_, dev, docs, has_docs)
    plan = plan_training(g, items or train, items is not None, gpu, budget) if has_train else None
    _arms_yaml(say, g, vk, has_train, has_docs, gpu, plan)
    report = _init_report(primary, g, docs, has_docs, names_documents, gpu)
    if plan is not None:
        report += [f"  training: {line}" for line in plan.lines]
    return "\n".join(lines) + "\n", g, report


def _task_yaml(
    say: Callable[[str], None],
    out: Path,
    task_name: str,
    g: Guess,
    vk: dict[str, Any],
    items: Path | None,
    train: Path | None,
    eval_: Path | None,
    dev: Path | None,
    docs: str | None,
    has_docs: bool,
) -> None:
    """The suite's one task: data files, fields, corpus, scoring, instruction and metrics."""
    say(f"  - name: {task_name}")
    say("    data:")
    if items is not None:
        say(f"      items: {_flow(_rel(items, out))}")
        say("      # One file, split for you: near-duplicate questions stay on one side, labels or")
        say("      # answerable/unanswerable stratified; the split is recorded in results.json.")
        say("      split: {eval: 0.3, dev: 0.1, seed: 1}")
    else:
        for key, p in (("train", train), ("dev", dev), ("eval", eval_)):
            if p is not None:
                say(f"      {key}: {_flow(_rel(p, out))}")
    if g.sheet is not None:
        say(f"      sheet: {_flow(g.sheet)}   # the workbook sheet of every file; or one per split")
    if g.fields:
        fields = {k: v for k, v in g.fields.items() if v is not None or k == "id"}
        say(f"      fields: {_flow(fields)}")
    if g.no_answer:
        say(f"      no_answer: {_flow(g.no_answer)}   # answer cells that mean: unanswerable")
    if g.answer_separator:
        say(
            f"      answer_separator: {_flow(g.answer_separator)}   # several accepted answers a cell"
        )
    if has_docs:
        say("    corpus:")
        say(f"      path: {_flow(_rel(Path(docs), out) + ('/' if Path(docs).is_dir() else ''))}")
        if is_document_source(docs):
            say(
                "      skip_unreadable: false   # true: skip encrypted/empty/corrupt files with a warning"
            )
    say(f"    scoring: {g.scoring}")
    for key, value in vk["task"].items():
        say(f"    {key}: {value}")
    if g.style == "long":
        instruction = "Answer the question in one or two sentences."
        max_new = 96
    elif g.style == "label":
        instruction = "Reply with the label only."
        max_new = 16
    else:
        instruction = "Reply with the short answer only."
        max_new = 32
    if vk["styled"]:
        instruction = ""  # the answer style supplies the style sentence, lengths and stop
    if g.unanswerable or g.fmt == "squad":
        instruction += " If you do not know, reply: I don't know."
    if instruction.strip():
        say(f"    instruction: {_flow(instruction.strip())}")
    template = (
        "Context: {context}\nQuestion: {question}"
        if "context" in g.fields
        else "Question: {question}"
    )
    say(f"    template: {_flow(template)}")
    if not vk["styled"]:
        say(f'    generation: {{max_new_tokens: {max_new}, stop: ["\\n"]}}')
    say(f"    metrics: {_flow(metrics_for(g, has_docs))}")


def _arms_yaml(
    say: Callable[[str], None],
    g: Guess,
    vk: dict[str, Any],
    has_train: bool,
    has_docs: bool,
    gpu: bool,
    plan: TrainingPlan | None = None,
) -> None:
    """The arms the data allows (few-shot and trained arms need train items, rag needs text)."""
    say("arms:")
    say("  - arm: base")
    if has_train:
        say("  - arm: few_shot")
        say("    params: {k: 3, selection: similar}")
    if g.style == "label" and has_train and not has_docs:
        say("  # The nearest train item's label (1-nearest-neighbour by embedding), no generator:")
        say("  # the reference a fine-tune of a label task must beat to be worth its cost.")
        say("  - arm: retrieval_only")
        say("    params: {k: 1}")
    if has_docs or has_train:
        src = "the documents" if has_docs else "the train items"
        rag_params: dict[str, Any] = {"k": 3}
        if has_docs:
            rag_params |= {"chunk_tokens": 128, "chunk_overlap": 16}
        if g.style == "long" and not vk["styled"]:
            rag_params["instruction"] = (
                "Use only the passages above. Answer in one or two sentences. If the passages "
                "do not contain the answer, reply: {abstain_answer}"
            )
        say(f"  # Top-3 chunks of {src} from a FAISS index, plus solved examples as format shots.")
        say("  - arm: rag")
        say(f"    params: {_flow(rag_params)}")
        if not (g.style == "label" and not has_docs):
            say("  - arm: retrieval_only   # no generator: what retrieval alone gets you")
            say(f"    params: {_flow({k: v for k, v in rag_params.items() if k != 'instruction'})}")
    for arm in vk["arms"]:
        say(f"  - arm: {arm['arm']}   # the item's own source document as the passages")
    if has_train:
        assert plan is not None
        for line in plan.comment:
            say(f"  # {line}")
        lp = plan.params["lora"] | {"learning_rate": 0.0005, "rows_per_step": 2, "grad_accum": 2}
        fp = plan.params["full"] | {"learning_rate": 0.0001, "rows_per_step": 2, "grad_accum": 2}
        say("  - arm: lora")
        say(f"    params: {_flow(lp)}")
        say("  - arm: full")
        say(f"    params: {_flow(fp)}")
        if gpu:
            say("  - arm: qlora   # LoRA over a 4-bit base")
            say(f"    params: {_flow(lp)}")
        else:
            say("  # qlora (LoRA over a 4-bit base) is left out on a CPU, where 4-bit runs slowly.")
        if has_docs:
            say("  - arm: lora")
            say("    name: lora+rag   # the LoRA model given the same passages as rag")
            say(f"    params: {_flow(lp | vk['rag_train_params'])}")
            say("    retrieval: {k: 3, chunk_tokens: 128, chunk_overlap: 16}")
    if vk["prompt_variants"]:
        say("# Each arm runs once per wording: the verdict should not hang on one phrasing.")
        say("# On a CPU keep one (delete the others) to run in a third of the time.")
        say("prompt_variants:")
        for v in vk["prompt_variants"]:
            say(f"  - {_flow(v)}")


def _init_report(
    primary: Path, g: Guess, docs: str | None, has_docs: bool, names_documents: bool, gpu: bool
) -> list[str]:
    """The lines `init` prints: what it read, how it mapped the fields, what it is unsure of."""
    report = [f"read {primary}" + (f" (sheet {g.sheet!r})" if g.sheet is not None else "")]
    report += [f"  {k} <- {v!r}" for k, v in g.fields.items()]
    report += [f"  {n}" for n in g.notes]
    if has_docs:
        report.append(f"  documents: {docs}")
    if not names_documents and has_docs:
        report.append(
            "  no column names the source document: recall@k and mrr will not be scored "
            "(map one with data.fields.doc_id)"
        )
    if names_documents and not has_docs:
        report.append(
            "  warning: the items name their source document but no --docs were given: "
            "oracle_context (which reads those documents) is left out"
        )
    report += [f"  uncertain: {u}" for u in g.uncertain]
    report.append(f"  hardware: {'CUDA GPU' if gpu else 'CPU'}")
    return report


def write_suite(
    out: Path,
    *,
    items: Path | None = None,
    train: Path | None = None,
    eval_: Path | None = None,
    dev: Path | None = None,
    docs: str | None = None,
    sheet: str | None = None,
    name: str | None = None,
    force: bool = False,
    gpu: bool | None = None,
    budget: Budget | None = None,
) -> tuple[SuiteSpec, list[str]]:
    """Write the suite after validating it (schema and data); returns it and the report lines."""
    if (items is None) == (eval_ is None):
        raise InitError("give --items FILE (split for you) or --train FILE --eval FILE")
    if items is None and train is None:
        raise InitError("--eval needs --train (or use --items FILE to split one file)")
    for p in (items, train, eval_, dev):
        if p is not None and not p.exists():
            raise InitError(f"{p}: file not found")
    if docs is not None:
        if not Path(docs).exists() and not is_document_source(docs):
            raise InitError(f"{docs}: no such folder or file")
        if is_document_source(docs) and not list_files(docs)[1]:
            raise InitError(f"{docs}: no files found")
    if out.exists() and not force:
        raise InitError(f"{out} exists; pass --force to overwrite it")
    problem = out_problem(out)
    if problem:
        raise InitError(problem)
    args = (out, items, train, eval_, dev, docs, sheet, name, on_gpu() if gpu is None else gpu)
    text, _, report = build_suite(*args, budget=budget)
    tmp, spec, task = _load_candidate(out, text)
    has_oracle = any(a.arm == "oracle_context" for a in spec.arms)
    oracle = oracle_problem(task) if has_oracle else None
    if oracle:  # a row that would be `rag` under another name: leave it out, say why
        tmp.unlink(missing_ok=True)
        text, _, report = build_suite(*args, oracle=False, budget=budget)
        tmp, spec, task = _load_candidate(out, text)
        report.append(f"  warning: oracle_context is left out: {oracle}")
    report += [f"  warning: {w}" for w in data_warnings(task)]
    os.replace(tmp, out)
    return load_suite(out), report


def _load_candidate(out: Path, text: str) -> tuple[Path, SuiteSpec, TaskData]:
    """The suite written beside `out` (its paths are relative to that folder) and its loaded
    task; an error when it does not load or cannot be written there."""
    tmp = out.with_name(f".{out.name}.init-{os.getpid()}.yaml")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InitError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    try:
        spec = load_suite(tmp)
        tasks = [load_task(task) for task in spec.tasks]
    except (SpecError, DataError) as exc:
        tmp.unlink(missing_ok=True)
        raise InitError(f"the suite guessed from your files does not load: {exc}") from None
    return tmp, spec, tasks[0]
