"""Write the policy handbook as a folder of mixed documents and its questions as a spreadsheet.

The same content as handbook.jsonl and train/dev/eval.jsonl (written by generate.py), in the
shape a team's material has: Markdown and plain-text pages, intranet HTML with navigation,
scripts and footers around the text, one PDF per product (a section per page), Word files, and
an .xlsx workbook of questions with the source document of each. `adaptbench init` reads them
(README: "Your own material"). Needs the `dev` and `docs` extras (fpdf2, python-docx, openpyxl).

    python suites/data/insurance-policy-qa/generate_documents.py
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from pathlib import Path

import docx
import openpyxl
from fpdf import FPDF

HERE = Path(__file__).resolve().parent
OUT_DOCS = HERE / "documents"
OUT_XLSX = HERE / "questions.xlsx"
FIXED_TIME = dt.datetime(
    2026, 1, 1, tzinfo=dt.timezone.utc
)  # file metadata: no clock in the output
FORMATS = ("pdf", "html", "docx", "md")  # products take these in turn
SECTIONS = ("overview", "cover", "exclusions", "claims", "premiums")

NAV = """<nav class="top"><a href="/">Intranet home</a> | <a href="/policies">All policies</a> |
<a href="/people">People finder</a> | <a href="/canteen">Canteen menu</a></nav>
<header><div class="banner">Brindlecombe Mutual staff intranet - internal use only</div></header>"""
SCRIPT = """<script>window.analytics = {page: "policy", user: "staff"};
document.addEventListener("DOMContentLoaded", function () { track("view"); });</script>
<style>.banner {background: #036; color: white} nav a {margin: 0 4px}</style>"""
FOOTER = """<aside class="related"><h3>Related links</h3><ul><li><a href="/forms">Forms library</a></li>
<li><a href="/training">Claims training</a></li></ul></aside>
<footer>&copy; Brindlecombe Mutual. Page owner: Policy Office. Last reviewed by the web team.</footer>"""


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def product_of(doc_id: str, slugs: list[str]) -> tuple[str, str] | None:
    for slug in slugs:
        for section in SECTIONS:
            if doc_id == f"bm-{slug}-{section}":
                return slug, section
    return None


def write_html(path: Path, title: str, text: str) -> None:
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    path.write_text(
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)} | "
        f"Intranet</title>\n{SCRIPT}</head>\n<body>\n{NAV}\n<main><article>\n"
        f"<h1>{html.escape(title)}</h1>\n{paragraphs}\n</article></main>\n{FOOTER}\n</body></html>\n",
        encoding="utf-8",
    )


def write_pdf(path: Path, title: str, pages: list[tuple[str, str]]) -> None:
    pdf = FPDF()
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_title(title)
    for heading, text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", style="B", size=13)
        pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=10)
        pdf.multi_cell(
            0, 5, text.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT"
        )
    pdf.output(str(path))


def write_docx(path: Path, title: str, sections: list[tuple[str, str]]) -> None:
    d = docx.Document()
    d.core_properties.created = d.core_properties.modified = FIXED_TIME.replace(tzinfo=None)
    d.add_heading(title, level=0)
    for heading, text in sections:
        d.add_heading(heading, level=1)
        for para in text.split("\n"):
            if para.strip():
                d.add_paragraph(para)
    d.save(str(path))


def main() -> None:
    handbook = read_jsonl(HERE / "handbook.jsonl")
    slugs = sorted(
        {d["id"][3 : -len("-overview")] for d in handbook if d["id"].endswith("-overview")},
        key=lambda s: [d["id"] for d in handbook].index(f"bm-{s}-overview"),
    )
    if OUT_DOCS.exists():
        shutil.rmtree(OUT_DOCS)
    (OUT_DOCS / "general").mkdir(parents=True)
    (OUT_DOCS / "products").mkdir()
    where: dict[str, str] = {}  # handbook id -> the relative path of the file that holds it
    by_slug: dict[str, list[dict]] = {s: [] for s in slugs}
    for d in handbook:
        found = product_of(d["id"], slugs)
        if found is None:
            # General pages: Markdown, the glossary as plain text.
            ext = "txt" if d["id"] == "bm-glossary" else "md"
            rel = f"general/{d['id'][3:]}.{ext}"
            body = d["text"] if ext == "txt" else f"# {d['title']}\n\n{d['text']}\n"
            (OUT_DOCS / rel).write_text(body, encoding="utf-8")
            where[d["id"]] = rel
        else:
            by_slug[found[0]].append(d)
    for n, slug in enumerate(slugs):
        fmt = FORMATS[n % len(FORMATS)]
        docs = by_slug[slug]
        product = docs[0]["title"].split(":")[0].strip()
        sections = [(d["title"], d["text"]) for d in docs]
        if fmt in ("pdf", "docx"):
            rel = f"products/{slug}.{fmt}"  # one file per product; a PDF page per section
            (write_pdf if fmt == "pdf" else write_docx)(OUT_DOCS / rel, product, sections)
            where.update({d["id"]: rel for d in docs})
            continue
        (OUT_DOCS / "products" / slug).mkdir()
        for d in docs:
            section = d["id"].rsplit("-", 1)[1]
            rel = f"products/{slug}/{section}.{fmt}"
            if fmt == "html":
                write_html(OUT_DOCS / rel, d["title"], d["text"])
            else:
                (OUT_DOCS / rel).write_text(f"# {d['title']}\n\n{d['text']}\n", encoding="utf-8")
            where[d["id"]] = rel

    wb = openpyxl.Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME.replace(tzinfo=None)
    about = wb.active
    about.title = "About"
    about.append(["Questions members asked Member Care, with the answer and the handbook page."])
    about.append(["N/A in the Answer column: the handbook does not answer it."])
    ws = wb.create_sheet("Questions")
    ws.append(["Question ID", "Question", "Answer", "Source document"])
    rows = 0
    for split in ("train", "dev", "eval"):
        for item in read_jsonl(HERE / f"{split}.jsonl"):
            answer = item["answers"][0] if item["answerable"] else "N/A"
            source = where[item["doc_id"]] if item.get("doc_id") else ""
            ws.append([item["id"], item["question"], answer, source])
            rows += 1
    wb.save(OUT_XLSX)
    files = sorted(p for p in OUT_DOCS.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files) + OUT_XLSX.stat().st_size
    print(
        f"{len(files)} documents in {OUT_DOCS.relative_to(HERE.parent.parent.parent)}, "
        f"{rows} questions in {OUT_XLSX.name}; {size / 1024:.0f} KiB in all"
    )


if __name__ == "__main__":
    main()
