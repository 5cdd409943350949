"""Corpora from folders of documents (md, txt, html, pdf, docx): ids, titles, noise, bad files, cache."""

from __future__ import annotations

import pytest

from harness.data.documents import DocumentError, read_folder
from harness.data.tasks import DataError, load_task
from harness.metrics.base import Prediction
from harness.metrics.retrieval import mrr, recall_at_k
from harness.spec.config import CorpusSpec, DataSpec, TaskSpec

from .conftest import write_jsonl

pytest.importorskip("pypdf")
pytest.importorskip("docx")
pytest.importorskip("bs4")
fpdf = pytest.importorskip("fpdf")

HTML = """<!doctype html><html><head><title>Intranet | Pet cover</title>
<script>var tracking = "SECRET_SCRIPT_TEXT";</script><style>body {color: red}</style></head>
<body><nav><a href="/">Home</a> <a href="/claims">NAVIGATION_LINK</a></nav>
<header>Intranet banner</header>
<main><h1>Pet cover</h1><p>Dental illness is covered up to $1,120 per year.</p></main>
<footer>Copyright FOOTER_TEXT</footer></body></html>"""


def write_pdf(path, pages: list[str], title: str | None = None) -> None:
    doc = fpdf.FPDF()
    doc.set_font("helvetica", size=11)
    if title:
        doc.set_title(title)
    for text in pages:
        doc.add_page()
        if text:
            doc.multi_cell(0, 6, text)
    doc.output(str(path))


def write_docx(path, heading: str, paragraphs: list[str]) -> None:
    import docx

    d = docx.Document()
    d.add_heading(heading, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(str(path))


def encrypted_pdf(path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "docs"
    (root / "motor").mkdir(parents=True)
    (root / "motor" / "overview.md").write_text(
        "Intro line\n\n# Motor overview\n\nThe excess is $250."
    )
    (root / "notes.txt").write_text("Claims are answered within 19 days.")
    (root / "pet.html").write_text(HTML)
    write_pdf(
        root / "home.pdf",
        ["Home cover: storm damage up to $9,000.", "", "Home exclusions: wear and tear."],
    )
    write_docx(root / "travel.docx", "Travel cover", ["Lost luggage is covered up to $700."])
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / ".hidden.md").write_text("# not a document")
    return root


def test_folder_of_mixed_documents(folder):
    pages, report = read_folder(str(folder))
    by_id = {p.id: p for p in pages}
    # PDF pages keep their numbers; the blank page 2 is no document.
    assert sorted(by_id) == [
        "home.pdf#p1",
        "home.pdf#p3",
        "motor/overview.md",
        "notes.txt",
        "pet.html",
        "travel.docx",
    ]
    assert by_id["motor/overview.md"].title == "Motor overview"
    assert by_id["notes.txt"].title == "notes"  # no heading: the file name
    assert by_id["travel.docx"].title == "Travel cover"
    assert "Lost luggage is covered up to $700." in by_id["travel.docx"].text
    assert "storm damage up to $9,000" in by_id["home.pdf#p1"].text
    assert "wear and tear" in by_id["home.pdf#p3"].text
    pet = by_id["pet.html"]
    assert pet.title == "Pet cover"
    assert "Dental illness is covered up to $1,120 per year." in pet.text
    for noise in ("SECRET_SCRIPT_TEXT", "NAVIGATION_LINK", "FOOTER_TEXT", "color: red", "<"):
        assert noise not in pet.text
    assert report.skipped == [{"file": "logo.png", "reason": "unsupported type '.png'"}]
    hashes = {f["file"]: f["sha256"] for f in report.files}
    assert set(hashes) == {"home.pdf", "motor/overview.md", "notes.txt", "pet.html", "travel.docx"}
    assert all(len(h) == 64 for h in hashes.values())
    assert report.cached == 0
    again, report2 = read_folder(str(folder))
    assert report2.cached == 5 and again == pages  # parsed once, read back from the cache


def test_glob_selects_files_relative_to_its_root(folder):
    pages, _ = read_folder(str(folder / "**" / "*.md"))
    assert [p.id for p in pages] == ["motor/overview.md"]


@pytest.mark.parametrize(
    "name, make, reason",
    [
        (
            "broken.pdf",
            lambda p: p.write_bytes(b"%PDF-1.4\nthis is not a pdf"),
            "not a readable PDF",
        ),
        ("locked.pdf", encrypted_pdf, "encrypted PDF"),
        ("empty.md", lambda p: p.write_text("  \n"), "empty file"),
        ("blob.txt", lambda p: p.write_bytes(b"\x00\x01\x02binary"), "binary content"),
        ("bad.docx", lambda p: p.write_bytes(b"PK not a zip"), "not a readable .docx"),
        ("scan.pdf", lambda p: write_pdf(p, [""]), "no text could be extracted"),
    ],
)
def test_unreadable_file_is_named_or_skipped(tmp_path, folder, name, make, reason, capsys):
    make(folder / name)
    with pytest.raises(DocumentError, match=rf"{name}: {reason}.*corpus.skip_unreadable"):
        read_folder(str(folder))
    pages, report = read_folder(str(folder), skip_unreadable=True)
    assert len(pages) == 6
    assert any(s["file"] == name and reason in s["reason"] for s in report.skipped)
    assert f"warning: skipping {folder / name}: {reason}" in capsys.readouterr().err


def test_empty_folder_and_folder_without_documents(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DocumentError, match=rf"{empty}: no files found"):
        read_folder(str(empty))
    (empty / "a.png").write_bytes(b"x")
    with pytest.raises(DocumentError, match=r"no readable documents among 1 file\(s\) \(a.png"):
        read_folder(str(empty))


def test_task_with_document_folder_credits_pdf_pages(tmp_path, folder):
    items = write_jsonl(
        tmp_path / "eval.jsonl",
        [{"id": "q1", "question": "Storm limit?", "answers": ["$9,000"], "doc_id": "home.pdf"}],
    )
    spec = TaskSpec(
        name="t",
        data=DataSpec(eval=str(items)),
        corpus=CorpusSpec(path=str(folder)),
    )
    task = load_task(spec)
    assert {d.id for d in task.corpus} >= {"home.pdf#p1", "pet.html"}
    assert task.sources["corpus"]["skipped"][0]["file"] == "logo.png"
    assert task.sources["items"][0]["split"] == "eval"
    item = task.eval[0]
    hits = [{"doc_id": "pet.html"}, {"doc_id": "home.pdf#p3"}, {"doc_id": "home.pdf#p1"}]
    pred = Prediction(output="$9,000", extra={"retrieved": hits})
    assert recall_at_k.fn(item, pred).value == 1.0
    assert mrr.fn(item, pred).value == 0.5  # first page of home.pdf at rank 2
    other = Prediction(output="x", extra={"retrieved": [{"doc_id": "home.pdfx#p1"}]})
    assert recall_at_k.fn(item, other).value == 0.0  # a longer name is another file


def test_corpus_folder_errors_name_the_task(tmp_path):
    items = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    empty = tmp_path / "docs"
    empty.mkdir()
    spec = TaskSpec(name="t", data=DataSpec(eval=str(items)), corpus=CorpusSpec(path=str(empty)))
    with pytest.raises(DataError, match=rf"corpus of task 't': {empty}: no files found"):
        load_task(spec)
