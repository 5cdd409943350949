"""Retrieval speed and quality: FAISS flat / HNSW / IVF / IVF-PQ on embeddings of real text.

What is measured
----------------
For each corpus size (`--sizes`, default 1k, 10k and 100k chunks) and index kind (`--kinds`):

* build time (s) of `harness.engine.retrieval.build_index` (training + adding + search settings) and the
  index size in bytes (`len(faiss.serialize_index(index))`);
* single-query search latency, p50 and p95 in ms: the `--queries` query vectors are searched one
  at a time for the top `--k`, with `faiss.omp_set_num_threads(1)` set around the loop (what
  `Retriever.search` does: one query's search is too little work to share between threads).
  Search only: the queries are embedded once, up front. At `--threads-demo-size`
  chunks a second flat row searches on faiss' default thread count, to show why;
* recall@k against flat: the mean fraction of flat's top-k ids found in the index's top-k.

HNSW and IVF use the project's defaults (`RetrievalParams()`). Where a default's recall@k is below
`--target-recall` (0.95), search-time settings (HNSW efSearch, IVF nprobe) and then, for IVF-PQ,
the number of sub-quantizers are raised step by step, and the first setting that reaches the
target is reported as an extra "tuned" row (every setting tried is in the JSON), so the defaults
can be revisited. IVF-PQ is skipped below 39 * 2**pq_nbits chunks (too few to train its codebooks).
The query embedding latency (all-MiniLM-L6-v2 via `harness.engine.retrieval.Embedder`, one query at a
time: what a user waits for before the search) is reported once.

The text
--------
Random vectors are a misleading worst case for approximate search, so the vectors are embeddings
of real English prose already on this machine (no network), harvested once, in this order:

1. `.md`, `.rst` and `.txt` files of the venv's site-packages;
2. Python docstrings (triple-quoted strings) of site-packages and the standard library;
3. manual pages, `/usr/share/man/man[1-8]` (English only; groff markup removed);
4. GNU info manuals, `/usr/share/info`;
5. `/usr/share/doc` (READMEs, NEWS, changelogs, copyright files; no code, HTML or PDF) and
   `/usr/share/common-licenses`;
6. gcloud's alpha/beta man pages, last, so that only what they add to the GA pages is kept.

Files are read in sorted order; code-looking lines (doctests, shell prompts, code blocks,
symbol-dense lines) and paragraphs that are not English prose are dropped; the remaining
paragraphs are packed into passages of 40-120 words (never across a dropped paragraph) and
deduplicated (exact text, and first 16 words), in that order. On the development machine this
gives 100.9k passages (~102k chunks once chunked). They are shuffled with `--seed`; the first
`--queries` passages whose first sentence (8-40 words) occurs verbatim in no other passage are
held out: that sentence is a query and the passage is not indexed, so the queries are real text
distinct from every indexed chunk. The remaining passages are documents for the project's
`harness.engine.retrieval.chunk_documents` (default chunking: 200 tokens, 32 overlap) and the first n
chunks are the corpus of size n (smaller corpora are prefixes of larger ones). Where a machine
has too little text, sentence windows with stride over adjacent passages top the corpus up (the
JSON says how many). The passages and the chunk embeddings (shards of 1000 chunks, keyed by a
hash of their text and of the embedder's weights) are cached under
`$ADAPTBENCH_CACHE/bench_retrieval` (default `~/.cache/adaptbench/bench_retrieval`): the first run
harvests (~5 min) and embeds (100k chunks: about an hour on 2 cores); reruns skip both.

Run it::

    .venv/bin/python benchmarks/bench_retrieval.py
    .venv/bin/python benchmarks/bench_retrieval.py --sizes 1000  # smoke test

Results go to `benchmarks/results/bench_retrieval.json` (`--out` to change).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import inspect
import json
import os
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import machine_info as common_machine_info  # noqa: E402
from _common import write_json

from harness.common.measure import Timer
from harness.data.tasks import Document
from harness.engine.retrieval import (
    Embedder,
    RetrievalParams,
    build_index,
    chunk_documents,
    configure_search,
    ivf_nprobe,
)
from harness.models.resolve import cache_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_retrieval.json"
HARVEST_VERSION = 1  # bump when the text extraction changes: invalidates cached passages
SHARD = 1000  # chunks per cached embedding file
MIN_WORDS, TARGET_WORDS, MAX_WORDS = 40, 60, 120  # a passage ends once it has TARGET_WORDS
KINDS = ("flat", "hnsw", "ivf", "ivfpq")
NOT_TEXT = frozenset(  # /usr/share/doc files that are not prose
    (
        ".c .h .cc .cpp .py .pl .pm .sh .js .json .html .htm .css .xml .svg .png .gif .jpg .jpeg "
        ".pdf .ps .dvi .tar .tgz .el .patch .diff .log .conf .cfg .ini .yaml .yml .mk .in .am .m4 "
        ".awk .sed .tcl .rb .java .go .rs .lua .vim .csv .tsv .zip"
    ).split()
)

# --------------------------------------------------------------------------------------------
# text sources


@dataclass
class Source:
    name: str
    files: list[Path]
    kind: str  # "doc" (md/rst/txt), "python", "man", "plain"


def text_sources() -> list[Source]:
    """The tiers of text files, best prose first, each in sorted order."""
    site = Path(sysconfig.get_paths()["purelib"])
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs = sorted(p for ext in ("md", "rst", "txt") for p in site.rglob(f"*.{ext}") if p.is_file())
    python = sorted(p for p in site.rglob("*.py") if p.is_file())
    python += sorted(
        p for p in stdlib.rglob("*.py") if p.is_file() and "site-packages" not in p.parts
    )
    man = sorted(p for p in Path("/usr/share/man").glob("man[1-8]/*") if p.is_file())
    gcloud_copies = ("gcloud_alpha_", "gcloud_beta_")  # pre-release copies of the GA pages
    info = sorted(p for p in Path("/usr/share/info").glob("*.gz") if p.is_file())
    doc_share = sorted(
        p
        for p in Path("/usr/share/doc").rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and Path(p.name.removesuffix(".gz")).suffix.lower() not in NOT_TEXT
    )
    doc_share += sorted(p for p in Path("/usr/share/common-licenses").glob("*") if p.is_file())
    return [
        Source("site-packages .md/.rst/.txt", docs, "doc"),
        Source("Python docstrings (site-packages + stdlib)", python, "python"),
        Source(
            "man pages (/usr/share/man/man[1-8])",
            [p for p in man if not p.name.startswith(gcloud_copies)],
            "man",
        ),
        Source("GNU info manuals (/usr/share/info)", info, "plain"),
        Source("/usr/share/doc + /usr/share/common-licenses", doc_share, "plain"),
        Source(
            "gcloud alpha/beta man pages (after dedup against the GA pages)",
            [p for p in man if p.name.startswith(gcloud_copies)],
            "man",
        ),
    ]


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return ""
    if b"\0" in raw[:4096]:
        return ""  # binary
    return raw.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# text -> prose paragraphs

_TRIPLE_QUOTED = re.compile(r"(?s)(?<![\w\"'])[rRuU]?(\"\"\"|''')(.*?)\1")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>\n]{1,200}>")
_RST_ROLE = re.compile(r":[\w:.-]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
_BACKTICKS = re.compile(r"`{1,2}([^`]*)`{1,2}_{0,2}")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|\(?[a-z]\))\s+")
_UNDERLINE = re.compile(r"^\s*([-=~^*#+`'\".:_])\1{2,}\s*$")
_FIELD = re.compile(
    r"^\s*\*{0,2}[\w.]+\*{0,2}(?:\s+:\s|\s*\([^)]*\)\s*:)"
)  # "x : int", "x (int): "
_CODE_LINE = re.compile(  # doctest, prompt, comment, decorator, import, def, class
    r"^(?:>>>|\.\.\.|\$|# |#!|//|@\w|%"
    r"|from [\w.]+ import |import [\w., ]+$|def \w+\(|class \w+[(:])"
)
_GROFF_ESCAPES = [
    (re.compile(r"\\\"(.*)$"), ""),  # comment to end of line
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d+"), ""),  # size changes
    (re.compile(r"\\\((?:aq|cq)"), "'"),
    (re.compile(r"\\\((?:lq|rq|dq)"), '"'),
    (re.compile(r"\\\((?:em|en)"), "-"),
    (re.compile(r"\\\*(?:\[[^\]]*\]|\(..|.)"), ""),  # strings
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other special characters
    (re.compile(r"\\[-e]"), lambda m: "-" if m.group(0) == "\\-" else "\\"),
    (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\[&|^c%:]"), ""),
]
_GROFF_INLINE = {".B", ".I", ".BR", ".RB", ".IR", ".RI", ".BI", ".IB", ".SM", ".SB"}
_STOPWORDS = frozenset(
    "the a an of to and in is are was be been it its this that these those for with as on by or "
    "not can from if will you your which when then than there their they we our us he she his her "
    "at all any each more most other some such no nor only own same so too very just but also may "
    "should would could must into over under about between through during before after above "
    "below up down out off again further once here where why how what who whom do does did has "
    "have had having use used using returns return given one two".split()
)
_WORD = re.compile(r"^[(\"'“‘]?[A-Za-z][a-z]*(?:['’-][A-Za-z]+)*[)\"'”’.,;:!?]*$")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"'”’][.!?])\s+(?=[A-Z\"'“(])")


def is_code_line(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    if _CODE_LINE.match(s) or s.endswith((";", "{", "}", "[", "(", ",\\", "\\")):
        return True
    symbols = sum(ch in "{}[]=<>;\\|_/*~^$#@%&+" for ch in s)
    return symbols > max(2, 0.06 * len(s))


def is_prose(paragraph: str) -> bool:
    """English sentences: mostly plain words, enough function words, few symbols, a full stop."""
    words = paragraph.split()
    if len(words) < 8 or "." not in paragraph:
        return False
    plain = sum(bool(_WORD.match(w)) for w in words)
    stop = sum(w.lower().strip(".,;:!?()\"'") in _STOPWORDS for w in words)
    symbols = sum(ch in "{}[]=<>;\\|_/*~^$#@%&+" for ch in paragraph)
    return (
        plain >= 0.8 * len(words) and stop >= 0.2 * len(words) and symbols <= 0.02 * len(paragraph)
    )


def paragraphs(lines: Iterator[str] | list[str]) -> list[str]:
    """Blank-line separated blocks, each joined into one line; code-looking lines end a block."""
    out, current = [], []
    for line in lines:
        if not line.strip() or is_code_line(line) or _UNDERLINE.match(line):
            if current:
                out.append(" ".join(current))
            current = []
            continue
        current.append(line.strip())
    if current:
        out.append(" ".join(current))
    return [re.sub(r"\s+", " ", p).strip() for p in out]


def _inline_markup(line: str) -> str:
    line = _MD_LINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    line = _RST_ROLE.sub(r"\1", line)
    line = _BACKTICKS.sub(r"\1", line)
    line = _LIST_MARKER.sub("", line)
    return line.replace("**", "").replace("__", "")


def markup_lines(text: str) -> list[str]:
    """Markdown / reStructuredText / docstring text without code blocks, tables and headings."""
    out: list[str] = []
    fence = False
    literal_indent: int | None = None  # inside an indented literal block (rst "::", directives)
    for raw in text.splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if stripped.startswith(("```", "~~~")):
            fence = not fence
            out.append("")
            continue
        if fence:
            continue
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith(".. ") or stripped.endswith("::"):
            literal_indent = indent
            if stripped.endswith("::") and not stripped.startswith(".. "):
                out.append(_inline_markup(stripped[:-1]))  # "as follows::" keeps its sentence
            out.append("")
            continue
        if stripped.startswith(("#", "|", "+-", "=", ">")) or _FIELD.match(raw):
            out.append("")  # headings, tables, quotes, "name : type" fields
            continue
        if stripped.endswith(":") and len(stripped.split()) <= 3:
            out.append("")  # "Parameters:", "Args:", "Example:"
            continue
        out.append(_inline_markup(raw))
    return out


def groff_lines(text: str) -> list[str]:
    """Manual-page source as text lines: requests dropped (paragraph breaks), escapes removed."""
    out: list[str] = []
    nofill = False
    for raw in text.splitlines():
        line = raw
        if line.startswith((".", "'")):
            request = line.split(None, 1)
            name = request[0] if request else "."
            if name in (".nf", ".EX"):
                nofill = True
            elif name in (".fi", ".EE"):
                nofill = False
            if name in _GROFF_INLINE and len(request) > 1 and not nofill:
                line = request[1].replace('"', "")
            else:
                out.append("")
                continue
        if nofill:
            continue
        for pattern, repl in _GROFF_ESCAPES:
            line = pattern.sub(repl, line)
        out.append(line)
    return out


def docstrings(source: str) -> list[str]:
    """Every triple-quoted string of a Python file (docstrings, mostly), dedented."""
    return [inspect.cleandoc(m.group(2)) for m in _TRIPLE_QUOTED.finditer(source)]


def file_blocks(path: Path, kind: str) -> list[list[str]]:
    """The text of one file as blocks of lines (a block: one document, e.g. one docstring)."""
    text = read_text(path)
    if kind == "python":
        return [markup_lines(d) for d in docstrings(text) if len(d) > 200]
    if kind == "man":
        return [groff_lines(text)]
    return [markup_lines(text)]


# --------------------------------------------------------------------------------------------
# prose paragraphs -> passages


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def pack_passages(paras: list[str]) -> list[str]:
    """Consecutive prose paragraphs of one document packed into passages of 40-120 words."""
    pieces: list[str] = []  # prose units of at most MAX_WORDS words
    for p in paras:
        if not is_prose(p):
            pieces.append("")  # a break: passages never span a dropped paragraph
            continue
        unit: list[str] = []
        for s in sentences(p):
            if unit and len(" ".join([*unit, s]).split()) > MAX_WORDS:
                pieces.append(" ".join(unit))
                unit = []
            if len(s.split()) <= MAX_WORDS:
                unit.append(s)
        if unit:
            pieces.append(" ".join(unit))
    passages: list[str] = []
    current: list[str] = []
    for piece in [*pieces, ""]:
        n = len(" ".join(current).split())
        if not piece or n + len(piece.split()) > MAX_WORDS:
            if n >= MIN_WORDS:
                passages.append(" ".join(current))
            current = [piece] if piece else []
        else:
            current.append(piece)
        if len(" ".join(current).split()) >= TARGET_WORDS:
            passages.append(" ".join(current))
            current = []
    return passages


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def harvest(sources: list[Source]) -> tuple[list[str], list[dict]]:
    """Deduplicated passages from the sources in order (a passage seen before is skipped)."""
    passages: list[str] = []
    seen_text: set[str] = set()
    seen_start: set[str] = set()
    seen_files: set[str] = set()
    used = []
    for src in sources:
        before = len(passages)
        with Timer() as t:
            for i, path in enumerate(src.files):
                try:
                    blocks = file_blocks(path, src.kind)
                except OSError:
                    continue
                digest = hashlib.sha256(repr(blocks).encode()).hexdigest()
                if digest in seen_files:
                    continue  # the same file installed twice (vendored copies, changelogs)
                seen_files.add(digest)
                for block in blocks:
                    for p in pack_passages(paragraphs(block)):
                        norm = _normal(p)
                        start = " ".join(norm.split()[:16])
                        if norm in seen_text or start in seen_start:
                            continue
                        seen_text.add(norm)
                        seen_start.add(start)
                        passages.append(p)
                if (i + 1) % 5000 == 0:
                    print(
                        f"  {src.name}: {i + 1}/{len(src.files)} files, {len(passages)} passages",
                        flush=True,
                    )
        used.append(
            {
                "source": src.name,
                "files": len(src.files),
                "passages": len(passages) - before,
                "seconds": round(t.seconds, 1),
            }
        )
        print(
            f"  {src.name}: {len(passages) - before} passages "
            f"from {len(src.files)} files ({t.seconds:.0f} s)"
        )
    return passages, used


def load_passages() -> tuple[list[str], list[dict]]:
    """Harvested passages, from the cache when the source files have not changed."""
    sources = text_sources()
    h = hashlib.sha256(f"v{HARVEST_VERSION} {MIN_WORDS} {TARGET_WORDS} {MAX_WORDS}".encode())
    for src in sources:
        for p in src.files:
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    path = bench_cache() / f"passages-{h.hexdigest()[:20]}.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        print(f"passages: {len(data['passages'])} from the cache ({path})")
        return data["passages"], data["sources"]
    print("harvesting passages (once; cached) ...")
    passages, used = harvest(sources)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"passages": passages, "sources": used}), encoding="utf-8")
    tmp.replace(path)
    return passages, used


def split_queries(
    passages: list[str], n_queries: int, seed: int
) -> tuple[list[str], list[str], set[int]]:
    """Shuffle; hold out passages whose first sentence occurs nowhere else in the text: that
    sentence is a query. Returns the queries, the other passages (shuffled), the held-out ids."""
    everything = "\n".join(passages)
    order = np.random.default_rng(seed).permutation(len(passages))
    queries, pool, held_out = [], [], set()
    for i in order.tolist():
        first = sentences(passages[i])[0]
        if (
            len(queries) < n_queries
            and 8 <= len(first.split()) <= 40
            and everything.count(first) == 1  # only in its own passage
        ):
            queries.append(first)
            held_out.add(i)
        else:
            pool.append(passages[i])
    return queries, pool, held_out


def stride_windows(passages: list[str], seed: int) -> list[str]:
    """Extra passages where the text runs short: the second half of each passage's sentences
    followed by the first half of the next one's (harvest order, so mostly the same document)."""
    out = []
    for a, b in zip(passages, passages[1:]):
        sa, sb = sentences(a), sentences(b)
        window = " ".join(sa[len(sa) // 2 :] + sb[: (len(sb) + 1) // 2])
        if MIN_WORDS <= len(window.split()) <= MAX_WORDS:
            out.append(window)
    return [out[i] for i in np.random.default_rng(seed).permutation(len(out)).tolist()]


def bench_cache() -> Path:
    return cache_dir() / "bench_retrieval"


# --------------------------------------------------------------------------------------------
# chunks and embeddings


def corpus_chunks(pool: list[str], embedder: Embedder, n: int) -> list[str]:
    """The first n chunks (or all, if fewer) of the passages, by the project's `chunk_documents`."""
    params = RetrievalParams()
    texts: list[str] = []
    for start in range(0, len(pool), SHARD):
        docs = [
            Document(id=f"p{i}", text=t) for i, t in enumerate(pool[start : start + SHARD], start)
        ]
        chunks, _ = chunk_documents(docs, embedder.tokenizer, params, embedder.max_tokens)
        texts += [c.text for c in chunks]
        if len(texts) >= n:
            break
    return texts[:n]


def embed_cached(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors of the texts, shard by shard from the cache, and the seconds spent embedding."""
    folder = bench_cache() / "vectors"
    folder.mkdir(parents=True, exist_ok=True)
    parts, embedded, seconds = [], 0, 0.0
    for start in range(0, len(texts), SHARD):
        shard = texts[start : start + SHARD]
        h = hashlib.sha256(f"{embedder.fingerprint}\0{embedder.max_tokens}\0".encode())
        h.update("\0".join(shard).encode())
        path = folder / f"{h.hexdigest()[:24]}.npy"
        if path.is_file():
            parts.append(np.load(path, allow_pickle=False))
            continue
        with Timer() as t:
            vectors = embedder.encode(shard)
        seconds += t.seconds
        embedded += len(shard)
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npy")
        np.save(tmp, vectors, allow_pickle=False)
        tmp.replace(path)
        parts.append(vectors)
        left = len(texts) - start - len(shard)
        rate = embedded / seconds
        print(
            f"  embedded {start + len(shard)}/{len(texts)} chunks "
            f"({rate:.0f}/s, ~{left / rate / 60:.1f} min left)",
            flush=True,
        )
    print(
        f"embeddings: {len(texts)} chunks, {len(texts) - embedded} from the cache, "
        f"{embedded} embedded in {seconds:.0f} s"
    )
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32), seconds


def embed_queries(embedder: Embedder, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each query embedded on its own (what a user waits for): the vectors and the latencies (s)."""
    for q in queries[:5]:
        embedder.encode([q])  # warm-up
    vectors, latencies = [], []
    for q in queries:
        with Timer() as t:
            vectors.append(embedder.encode([q]))
        latencies.append(t.seconds)
    return np.ascontiguousarray(np.concatenate(vectors)), np.asarray(latencies)


def corpus_text(args, embedder: Embedder) -> tuple[list[str], list[str], dict]:
    """The held-out queries, the chunks of the largest corpus, and where the text came from."""
    largest = max(args.sizes)
    passages, sources = load_passages()
    queries, pool, held_out = split_queries(passages, args.queries, args.seed)
    if len(queries) < args.queries:
        raise SystemExit(f"only {len(queries)} usable queries among {len(passages)} passages")
    chunks = corpus_chunks(pool, embedder, largest)
    windows = 0
    if len(chunks) < largest:  # not enough text on this machine: sentence windows with stride
        kept = [p for i, p in enumerate(passages) if i not in held_out]
        extra = corpus_chunks(stride_windows(kept, args.seed), embedder, largest - len(chunks))
        print(f"{len(chunks)} chunks of harvested text: {len(extra)} stride-window chunks added")
        chunks, windows = chunks + extra, len(extra)
        if len(chunks) < largest:
            raise SystemExit(f"only {len(chunks)} chunks; lower --sizes (largest {largest})")
    print(f"text: {len(passages)} passages, {len(queries)} queries, {len(chunks)} chunks indexed")
    info = {
        "sources": sources,
        "passages": len(passages),
        "queries": len(queries),
        "corpus_pool_passages": len(pool),
        "chunks": len(chunks),
        "stride_window_chunks": windows,
        "chunks_sha256": hashlib.sha256("\0".join(chunks).encode()).hexdigest(),
        "example_queries": queries[:5],
        "example_chunks": chunks[:3],
    }
    return queries, chunks, info


# --------------------------------------------------------------------------------------------
# indexes


@dataclass
class Row:
    size: int
    kind: str
    label: str  # "default", "tuned", "default threads", "skipped"
    setting: dict
    threads: int | None = None
    build_s: float | None = None
    index_bytes: int | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    recall: float | None = None
    note: str = ""
    tried: list[dict] = field(default_factory=list)  # tuning: every setting tried, with its recall


def search_one_at_a_time(
    index, queries: np.ndarray, k: int, threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ids per query and each search's latency (s); faiss threads set around the loop only."""
    import faiss

    previous = faiss.omp_get_max_threads()
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    try:
        for i in range(min(10, len(queries))):
            index.search(queries[i : i + 1], k)  # warm-up
        ids = np.empty((len(queries), k), dtype=np.int64)
        latencies = np.empty(len(queries))
        for i in range(len(queries)):
            with Timer() as t:
                _, found = index.search(queries[i : i + 1], k)
            latencies[i] = t.seconds
            ids[i] = found[0]
    finally:
        faiss.omp_set_num_threads(previous)
    return ids, latencies


def recall_at_k(ids: np.ndarray, reference: np.ndarray) -> float:
    """Mean fraction of the reference's top-k ids that are in ids' top-k."""
    hits = [len(set(a) & set(r)) / len(set(r)) for a, r in zip(ids.tolist(), reference.tolist())]
    return float(np.mean(hits))


def index_setting(index, params: RetrievalParams) -> dict:
    import faiss

    if params.index == "hnsw":
        return {
            "M": params.hnsw_m,
            "efConstruction": params.hnsw_ef_construction,
            "efSearch": params.hnsw_ef_search,
        }
    if params.index in ("ivf", "ivfpq"):
        setting = {
            "nlist": int(faiss.extract_index_ivf(index).nlist),
            "nprobe": int(faiss.extract_index_ivf(index).nprobe),
        }
        if params.index == "ivfpq":
            setting |= {"pq_m": params.pq_m, "pq_nbits": params.pq_nbits}
        return setting
    return {}


def with_params(params: RetrievalParams, **update) -> RetrievalParams:
    return RetrievalParams(**(params.model_dump() | update))


def time_search(
    index,
    params: RetrievalParams,
    n: int,
    label: str,
    queries: np.ndarray,
    reference: np.ndarray | None,
    args,
    threads: int | None = 1,
) -> tuple[Row, np.ndarray]:
    ids, latencies = search_one_at_a_time(index, queries, args.k, threads)
    ms = latencies * 1000
    row = Row(
        size=n,
        kind=params.index,
        label=label,
        setting=index_setting(index, params),
        threads=threads,
        p50_ms=float(np.percentile(ms, 50)),
        p95_ms=float(np.percentile(ms, 95)),
        recall=1.0 if reference is None else recall_at_k(ids, reference),
    )
    return row, ids


def built(vectors: np.ndarray, params: RetrievalParams) -> tuple[object, float, int]:
    import faiss

    with Timer() as t:
        index = build_index(vectors, params)
    return index, t.seconds, int(faiss.serialize_index(index).size)


def tuning_ladder(params: RetrievalParams, nlist: int) -> list[tuple[bool, RetrievalParams]]:
    """Settings to try, in order, when a default misses the target: (needs a rebuild, params)."""
    if params.index == "hnsw":
        return [
            (False, with_params(params, hnsw_ef_search=ef)) for ef in (128, 256, 512, 1024, 2048)
        ]
    probes = [p for p in (32, 64, 128, 256, 512) if p > ivf_nprobe(params, nlist) and p < nlist] + [
        nlist
    ]
    if params.index == "ivf":
        return [(False, with_params(params, ivf_nprobe=p)) for p in probes]
    ladder = [(False, with_params(params, ivf_nprobe=p)) for p in probes[:3]]
    for m in (32, 64, 96, 192):  # more sub-quantizers: finer codes (more bytes per vector)
        ladder += [
            (i == 0, with_params(params, pq_m=m, ivf_nprobe=p)) for i, p in enumerate(probes[:3])
        ]
    return ladder


def tune(
    vectors: np.ndarray, params: RetrievalParams, default: tuple, n: int, queries, reference, args
) -> Row:
    """The first setting of the ladder that reaches the recall target (else the best one tried)."""
    import faiss

    index, build_s, size = default  # the default index, its build seconds and bytes
    nlist = int(faiss.extract_index_ivf(index).nlist) if params.index != "hnsw" else 0
    tried, best, rebuilt = [], None, False
    for rebuild, p in tuning_ladder(params, nlist):
        if rebuild:
            index, build_s, size = built(vectors, p)
            rebuilt = True
        configure_search(index, p)
        _, found = index.search(queries, args.k)  # batched: recall only, quick
        recall = recall_at_k(found, reference)
        tried.append({**index_setting(index, p), "recall": round(recall, 4)})
        if best is None or recall > best[0]:
            best = (recall, p, index, build_s, size, rebuilt)
        if recall >= args.target_recall:
            break
    recall, p, index, build_s, size, rebuilt = best
    configure_search(index, p)
    row, _ = time_search(index, p, n, "tuned", queries, reference, args)
    row.build_s, row.index_bytes, row.tried = build_s, size, tried
    if row.recall >= args.target_recall:
        row.note = (
            f"default recall@{args.k} < {args.target_recall}; first setting tried reaching it"
        )
    else:
        row.note = f"no setting tried reaches recall@{args.k} >= {args.target_recall}; the best one"
    if not rebuilt:
        row.note += " (the default row's index, search setting only)"
    return row


def bench_size(vectors: np.ndarray, queries: np.ndarray, n: int, args) -> list[Row]:
    import faiss

    corpus = vectors[:n]
    print(f"\n== {n} chunks ==", flush=True)
    flat, flat_s, flat_bytes = built(corpus, RetrievalParams(index="flat"))
    row, reference = time_search(
        flat, RetrievalParams(index="flat"), n, "default", queries, None, args
    )
    row.build_s, row.index_bytes = flat_s, flat_bytes
    rows = [row] if "flat" in args.kinds else []
    if "flat" in args.kinds and n == args.threads_demo_size:
        flat_params = RetrievalParams(index="flat")
        label = "default threads"
        demo, _ = time_search(flat, flat_params, n, label, queries, reference, args, threads=None)
        demo.threads = faiss.omp_get_max_threads()
        demo.build_s, demo.index_bytes = flat_s, flat_bytes
        demo.note = "faiss' default thread count, for comparison"
        rows.append(demo)
    for kind in args.kinds:
        if kind == "flat":
            continue
        params = RetrievalParams(index=kind)
        if kind == "ivfpq" and n < 39 * 2**params.pq_nbits:
            need = 39 * 2**params.pq_nbits
            note = f"skipped: IVF-PQ needs >= {need} chunks (39 * 2**pq_nbits) to train"
            rows.append(Row(n, kind, "skipped", {}, note=note))
            continue
        index, build_s, size = built(corpus, params)
        row, _ = time_search(index, params, n, "default", queries, reference, args)
        row.build_s, row.index_bytes = build_s, size
        rows.append(row)
        if row.recall < args.target_recall:
            rows.append(tune(corpus, params, (index, build_s, size), n, queries, reference, args))
    for r in rows:
        print(f"  {format_row(r)}", flush=True)
    return rows


# --------------------------------------------------------------------------------------------
# output


def setting_text(setting: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "-"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_row(r: Row) -> str:
    mib = None if r.index_bytes is None else r.index_bytes / 2**20
    return (
        f"| {r.size} | {r.kind} | {r.label} | {setting_text(r.setting)} | {r.threads or '-'} "
        f"| {_num(r.build_s, '.2f')} | {_num(mib, '.1f')} "
        f"| {_num(r.p50_ms, '.3f')} | {_num(r.p95_ms, '.3f')} | {_num(r.recall, '.3f')} | {r.note} |"
    )


def print_table(
    rows: list[Row], k: int, target: float, query_embed_ms: tuple[float, float]
) -> None:
    print(
        "\n| chunks | index | row | setting | threads | build s | index MiB | p50 ms | p95 ms "
        f"| recall@{k} | note |"
    )
    print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(format_row(r))
    print(
        "\nSearch latency: one query at a time, search only. "
        "Query embedding (one query at a time): "
        f"p50 {query_embed_ms[0]:.2f} ms, p95 {query_embed_ms[1]:.2f} ms."
    )
    tuned = [r for r in rows if r.label == "tuned"]
    for r in tuned:
        default = next(
            d for d in rows if d.size == r.size and d.kind == r.kind and d.label == "default"
        )
        print(
            f"- {r.kind} at {r.size}: default recall@{k} {default.recall:.3f}; "
            f"tuned {setting_text(r.setting)} -> {r.recall:.3f}"
            + ("" if r.recall >= target else f" (target {target} not reached)")
        )


def machine_info() -> dict:
    import faiss
    import sentence_transformers
    import torch

    return common_machine_info(
        faiss=faiss.__version__,
        faiss_default_threads=faiss.omp_get_max_threads(),
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        sentence_transformers=sentence_transformers.__version__,
        numpy=np.__version__,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000],
        help="corpus sizes (chunks)",
    )
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="index kinds")
    p.add_argument("--queries", type=int, default=500, help="held-out queries")
    p.add_argument("--k", type=int, default=5, help="top-k searched; recall@k against flat")
    p.add_argument(
        "--target-recall", type=float, default=0.95, help="below it, a tuned row is added"
    )
    p.add_argument(
        "--threads-demo-size", type=int, default=10_000, help="size with a default-threads flat row"
    )
    p.add_argument("--seed", type=int, default=0, help="passage shuffle")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    args = p.parse_args(argv)
    args.sizes = sorted(set(args.sizes))
    if min(args.sizes) <= args.k or args.queries < 1:
        p.error("--sizes must exceed --k and --queries must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    machine = machine_info()
    print(
        f"cpu={machine['cpu']} ({machine['cpu_count']} cores), "
        f"faiss {machine['faiss']}, torch {machine['torch']}"
    )
    embedder = Embedder()
    queries, chunks, text = corpus_text(args, embedder)
    vectors, embed_s = embed_cached(embedder, chunks)
    query_vectors, query_latency = embed_queries(embedder, queries)
    query_ms = tuple(float(np.percentile(query_latency * 1000, q)) for q in (50, 95))
    print(f"query embedding, one at a time: p50 {query_ms[0]:.2f} ms, p95 {query_ms[1]:.2f} ms")
    rows = [r for n in args.sizes for r in bench_size(vectors, query_vectors, n, args)]
    print_table(rows, args.k, args.target_recall, query_ms)
    record = {
        "benchmark": "bench_retrieval",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "text": text,
        "embedder": {
            "name": embedder.name,
            "dimension": int(vectors.shape[1]),
            "fingerprint": embedder.fingerprint,
        },
        "corpus_embedding_seconds": round(embed_s, 2),
        "query_embedding_ms": {"p50": query_ms[0], "p95": query_ms[1]},
        "timing": "harness.common.measure.Timer around each single-query index.search "
        "(faiss threads: the row's)",
        "rows": [asdict(r) for r in rows],
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
