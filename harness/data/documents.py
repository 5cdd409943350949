"""A corpus from a folder (or glob) of documents: Markdown, text, HTML, PDF and Word files.

Each file becomes one document (a PDF one per page, id `<relative path>#p<page>`) whose id is its
path relative to the folder, so an item can name its source document the way a person would.
Parsing uses the libraries of the `docs` extra (pypdf, python-docx, beautifulsoup4); the text of
every file is cached by the hash of its bytes, so a rerun parses nothing again.
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common.cache_entry import read_json_entry
from harness.common.files import write_text_atomic
from harness.models.resolve import cache_dir

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
# Bump when an extractor's output changes: cached texts of the old version are not reused.
EXTRACTOR_VERSION = "1"
# HTML elements that hold navigation, scripts or page furniture rather than the document's text.
HTML_NOISE = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "button",
)
PROGRESS_EVERY = 50  # files between progress lines on large folders


class DocumentError(ValueError):
    """A document file that cannot be read; the message names the file and why."""


class MissingExtra(DocumentError):
    """A parser library of the `docs` extra is not installed."""


@dataclass(frozen=True)
class Page:
    """One document of the corpus: a whole file, or one page of a PDF."""

    id: str
    title: str
    text: str
    source: str  # the file it came from


@dataclass
class FolderReport:
    """What a folder read: files used (with content hashes) and files skipped with the reason."""

    root: str
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    cached: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files": self.files,
            "skipped": self.skipped,
            "cached_extractions": self.cached,
        }


def need(module: str, package: str) -> Any:
    """Import a parser of the `docs` extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"reading these files needs the Python package {package!r} of the `docs` extra: "
            "pip install 'adaptbench[docs]' (scripts/install.sh installs it)"
        ) from None


def is_document_source(path: str) -> bool:
    """A folder or a glob pattern is read as documents; a single .jsonl/.csv/.json file is not."""
    return Path(path).is_dir() or glob.has_magic(path)


def list_files(path: str) -> tuple[Path, list[Path]]:
    """The root folder (ids are relative to it) and the files under a folder or glob, sorted."""
    if Path(path).is_dir():
        root = Path(path)
        files = [p for p in root.rglob("*") if p.is_file()]
    else:
        # The root of a glob is its part before the first wildcard.
        parts = Path(path).parts
        fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
        root = Path(*fixed) if fixed else Path(".")
        files = [Path(p) for p in glob.glob(path, recursive=True) if Path(p).is_file()]
    hidden = re.compile(r"(^|/)\.")  # dot-files and dot-folders (.git, .DS_Store) are not documents
    files = [f for f in files if not hidden.search(f.relative_to(root).as_posix())]
    return root, sorted(files, key=lambda f: f.relative_to(root).as_posix())


def read_folder(
    path: str, skip_unreadable: bool = False, progress: bool = True
) -> tuple[list[Page], FolderReport]:
    """Every supported document under a folder or glob, as pages; unsupported files are skipped.

    A file that cannot be read (encrypted, empty, corrupt, binary) is an error naming it, or
    with `skip_unreadable` a warning, and is listed in the report with the reason either way.
    """
    root, files = list_files(path)
    report = FolderReport(root=str(root))
    if not files:
        raise DocumentError(f"{path}: no files found (expected {', '.join(SUFFIXES)} documents)")
    pages: list[Page] = []
    for n, file in enumerate(files, 1):
        rel = file.relative_to(root).as_posix()
        if progress and len(files) > PROGRESS_EVERY and n % PROGRESS_EVERY == 0:
            print(f"[adaptbench] documents: {n}/{len(files)} files read", file=sys.stderr)
        if file.suffix.lower() not in SUFFIXES:
            report.skipped.append({"file": rel, "reason": f"unsupported type {file.suffix!r}"})
            continue
        data = file.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            extracted, from_cache = _extract_cached(file, data, digest)
        except MissingExtra:
            raise
        except DocumentError as exc:
            if not skip_unreadable:
                raise DocumentError(
                    f"{file}: {exc} (set corpus.skip_unreadable: true to skip such files)"
                ) from None
            print(f"[adaptbench] warning: skipping {file}: {exc}", file=sys.stderr)
            report.skipped.append({"file": rel, "reason": str(exc)})
            continue
        report.cached += from_cache
        file_pages = _pages_of(rel, file, extracted)
        report.files.append({"file": rel, "sha256": digest, "documents": len(file_pages)})
        pages.extend(file_pages)
    if not pages:
        reasons = "; ".join(f"{s['file']}: {s['reason']}" for s in report.skipped[:5])
        raise DocumentError(f"{path}: no readable documents among {len(files)} file(s) ({reasons})")
    return pages, report


def _pages_of(rel: str, file: Path, extracted: dict[str, Any]) -> list[Page]:
    title = extracted["title"] or file.stem
    if extracted["kind"] != "pdf":
        return [Page(id=rel, title=title, text=extracted["pages"][0], source=str(file))]
    return [
        Page(id=f"{rel}#p{i}", title=title, text=text, source=f"{file} page {i}")
        for i, text in enumerate(extracted["pages"], 1)
        if text.strip()  # a page without text (a figure, a blank page) is no document
    ]


def _extract_cached(file: Path, data: bytes, digest: str) -> tuple[dict[str, Any], bool]:
    """The file's text, from the cache when these bytes were parsed before."""
    suffix = file.suffix.lower()
    folder = cache_dir() / "extract"
    cached = folder / f"{digest}-{suffix.lstrip('.')}-v{EXTRACTOR_VERSION}.json"
    # A damaged entry is parsed again and rewritten, silently: the file's text is the same.
    entry = read_json_entry(cached, lambda problem: None)
    if entry is not None:
        return entry, True
    extracted = extract(file, data)
    write_text_atomic(cached, json.dumps(extracted))
    return extracted, False


def extract(file: Path, data: bytes) -> dict[str, Any]:
    """`{"kind", "title", "pages"}` of one file; DocumentError says why it cannot be read."""
    suffix = file.suffix.lower()
    if not data.strip():
        raise DocumentError("empty file")
    if suffix == ".pdf":
        title, pages = _pdf(file, data)
        kind = "pdf"
    elif suffix == ".docx":
        title, text = _docx(data)
        pages, kind = [text], "docx"
    elif suffix in (".html", ".htm"):
        title, text = _html(_decode(data))
        pages, kind = [text], "html"
    else:
        text = _decode(data)
        heading = re.search(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)
        title = heading.group(1) if heading and suffix != ".txt" else ""
        pages, kind = [text.strip()], "text"
    if not any(p.strip() for p in pages):
        raise DocumentError("no text could be extracted (a scanned PDF needs OCR first)")
    return {"kind": kind, "title": title.strip(), "pages": pages}


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError("binary content (NUL bytes), not a text document")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _pdf(file: Path, data: bytes) -> tuple[str, list[str]]:
    import io

    pypdf = need("pypdf", "pypdf")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password only restricts editing; anything else we cannot open.
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # missing crypto backend or an unsupported cipher
                raise DocumentError(f"encrypted PDF that cannot be opened ({exc})") from None
            if not opened:
                raise DocumentError("encrypted PDF (password-protected); decrypt it first")
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
        meta = reader.metadata
        title = str(meta.title) if meta is not None and meta.title else ""
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds for damaged files
        raise DocumentError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    if not pages:
        raise DocumentError("PDF has no pages")
    return title, pages


def _docx(data: bytes) -> tuple[str, str]:
    import io

    docx = need("docx", "python-docx")
    try:
        doc = docx.Document(io.BytesIO(data))
    except Exception as exc:  # not a zip, or a zip without a Word document in it
        raise DocumentError(f"not a readable .docx ({type(exc).__name__}: {exc})") from None
    title, lines = "", []
    for para in doc.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if not title and (style.startswith("Heading") or style == "Title"):
            title = text
        lines.append(text)
    for table in doc.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append(" | ".join(dict.fromkeys(cells)))  # merged cells repeat their text
    return title, "\n".join(lines)


def _html(markup: str) -> tuple[str, str]:
    bs4 = need("bs4", "beautifulsoup4")
    soup = bs4.BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(HTML_NOISE):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": ["navigation", "banner", "contentinfo"]}):
        tag.decompose()
    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article")
    body = main or soup.body or soup
    heading = body.find(["h1", "h2", "h3"])
    title = heading.get_text(" ", strip=True) if heading else ""
    if not title and soup.title is not None:
        title = soup.title.get_text(" ", strip=True)
    return title, _clean(body.get_text("\n"))


def _clean(text: str) -> str:
    """Collapse runs of spaces within lines and drop empty lines."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
