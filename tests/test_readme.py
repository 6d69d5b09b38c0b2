"""The README's quickstart runs as written, and every relative link in the docs leads somewhere."""

from __future__ import annotations

import ast
import pathlib
import re

import numpy as np
import pytest

import nnviz_widgets as nv

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").glob("*.md")])

# [text](target) and ![alt](target); a target ends at the first space or closing parenthesis
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def quickstart_source() -> str:
    """The first ```python block under the README's "## Quickstart" heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)
    assert len(section) == 2, "README.md has no '## Quickstart' section"
    block = re.search(r"^```python\n(.*?)^```", section[1], re.MULTILINE | re.DOTALL)
    assert block is not None, "the Quickstart section has no ```python block"
    return block.group(1)


def run_as_in_a_notebook(source: str) -> tuple[dict, dict[str, object]]:
    """Run ``source`` statement by statement; keep the value of each bare expression.

    Returns the namespace and, for every expression statement, its source text mapped to its
    value: what a notebook would show for a last line, and what the README says each line gives.
    """
    namespace: dict = {"__name__": "__readme__"}
    values: dict[str, object] = {}
    for statement in ast.parse(source).body:
        code = ast.get_source_segment(source, statement)
        if isinstance(statement, ast.Expr):
            expression = compile(ast.Expression(statement.value), "README.md", "eval")
            values[code] = eval(expression, namespace)
        else:
            exec(compile(ast.Module([statement], []), "README.md", "exec"), namespace)
    return namespace, values


def test_readme_keeps_its_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text


@pytest.mark.slow
def test_quickstart_runs_as_written():
    namespace, values = run_as_in_a_notebook(quickstart_source())
    model, rec = namespace["model"], namespace["rec"]

    frame = values['rec.recording.frame("conv1", "weight", -1)']
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.float32
    assert frame.shape == tuple(model.conv1.weight.shape)
    assert len(rec.recording) == 5  # the five epochs the comment promises to scrub through

    explorer = values["nv.TrainingExplorer(rec.recording)"]
    try:
        assert isinstance(explorer, nv.TrainingExplorer)
        assert explorer.recording is rec.recording
    finally:
        explorer.close(widget=True)


def relative_links(path: pathlib.Path) -> list[str]:
    """Every link and picture target in a Markdown file that is not a URL or a bare #anchor."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))  # code blocks hold no links
    targets = [match.group(1) for match in LINK.finditer(text)]
    return [
        target
        for target in targets
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)
        and not target.startswith("#")
    ]


def heading_anchors(path: pathlib.Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", DOCS, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_lead_to_files_that_exist(page):
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve()
        if not destination.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in heading_anchors(destination):
            broken.append(f"{target} (no heading with that anchor)")
    assert not broken, f"{page.relative_to(ROOT)} links to: {', '.join(broken)}"


def test_the_link_finder_sees_links_and_pictures(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "![a picture](img/a.png) and [a page](other.md#a-heading), [web](https://x.org),\n"
        "[anchor](#here)\n```python\nx = [1](2)\n```\n## A heading, with `code`\n",
        encoding="utf-8",
    )
    assert relative_links(page) == ["img/a.png", "other.md#a-heading"]
    assert heading_anchors(page) == {"a-heading-with-code"}
