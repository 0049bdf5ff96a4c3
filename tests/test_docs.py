"""The documentation stands alone: it cites no file outside the repository and no internal issue number,
and every relative link of README.md and docs/*.md reaches a file (and a heading) that exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import REPO_ROOT

SCANNED = ("README.md", "docs", "laftr_cl", "scripts", "configs")
"""What users read: the front door, the docs, and the docstrings and comments of code and configs."""

SUFFIXES = {".md", ".py", ".yaml", ".yml", ".sh", ".toml", ".txt"}

FORBIDDEN = {
    "a path outside the repository": re.compile(r"shared/(?!datasets\b)[\w.-]"),
    "an internal issue number": re.compile(r"\bissues? #?\d+|(?<![\w&/])#\d+\b", re.IGNORECASE),
    "a section of the developer brief": re.compile(r"\bspec §|§\s?\d"),
}
"""A data folder (``data.root=../shared/datasets/...``) is data on the project's machine, not a citation."""

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def scanned_files() -> list[Path]:
    files = []
    for entry in SCANNED:
        path = REPO_ROOT / entry
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES)
    return files


def markdown_pages() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}


def test_the_scan_sees_the_docs_and_the_code():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in scanned_files()}
    assert {"README.md", "docs/method.md", "laftr_cl/fsd/summary.py", "configs/regularizer/laftr.yaml"} <= names


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_nothing_cites_what_users_do_not_have(what):
    pattern = FORBIDDEN[what]
    hits = [f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()[:120]}"
            for path in scanned_files()
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
            if pattern.search(line)]
    assert not hits, f"{what} is cited in:\n" + "\n".join(hits)


def test_the_patterns_catch_citations_and_let_data_folders_through():
    path, issue, brief = (FORBIDDEN[k] for k in ("a path outside the repository", "an internal issue number",
                                                  "a section of the developer brief"))
    assert path.search("The maths follows `../shared/design/laftr.md`.") and path.search("see shared/tools/x.sh")
    assert not path.search("laftr-cl data.root=../shared/datasets/mnist-5k")
    assert issue.search("GPU work (issue 11)") and issue.search("issue 12's table") and issue.search("fixed in #14")
    assert not issue.search("colour #1f77b4") and not issue.search("&#8212;")
    assert brief.search("(spec §7)") and not brief.search("RegularizerSpec(name)")


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_reaches_a_file_and_heading(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        name = linked.relative_to(REPO_ROOT).as_posix() if linked.is_relative_to(REPO_ROOT) else str(linked)
        if not linked.exists():
            broken.append(f"{target} (no file {name})")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {name})")
    assert not broken, f"{page.relative_to(REPO_ROOT)} links to what does not exist: " + ", ".join(broken)


def test_the_link_check_sees_links():
    links = LINK.findall((REPO_ROOT / "README.md").read_text())
    assert "docs/method.md" in links and any(link.startswith("docs/method.md#") for link in links)


SECTION_CITATION = re.compile(r"\b(\w+\.md)(?:\]\([^)]*\))?`?,? \(?\"([^\"]+)\"")
"""``results.md, "Regularizer step time"`` or ``[method.md](method.md), "Choices made here"``: a page and a
section of it, quoted whole or its beginning (a quote that wraps onto a comment line is read as one line)."""


def test_every_cited_section_exists():
    pages = {p.name: [h.strip() for h in re.findall(r"^#+\s+(.*)$", p.read_text(), flags=re.M)]
             for p in markdown_pages()}
    citations = [(path, page, section) for path in scanned_files() + sorted((REPO_ROOT / "tests").rglob("*.py"))
                 if path.name != "test_docs.py"
                 for page, quoted in SECTION_CITATION.findall(path.read_text(errors="replace"))
                 for section in [re.sub(r"\s*\n\s*(#\s*)?", " ", quoted)]]
    missing = [f"{path.relative_to(REPO_ROOT)}: {page}, \"{section}\"" for path, page, section in citations
               if not any(h.startswith(section.rstrip(",. ")) for h in pages.get(page, []))]
    assert len(citations) >= 10 and not missing, "sections cited but not found:\n" + "\n".join(missing)
