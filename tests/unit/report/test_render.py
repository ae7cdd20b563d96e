"""report.md and report.html carry the same tables, bold marks and one-line notes; the HTML
page carries its figures inside it."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from harness.report.document import Figure, Report, Section, Table
from harness.report.render import html, markdown


def _report() -> Report:
    cells = pd.DataFrame({"budget 25": ["1.050 ± 0.071", "0.650 ± 0.071"]},
                         index=["standard", "asteroid | xtb"])
    bold = pd.DataFrame({"budget 25": [False, True]}, index=cells.index)
    return Report("Title", ["ASTEROID beats standard training.", "detail <one>"], [
        Section("Accuracy", tables=[Table("Force MAE", cells, bold, "a note")],
                figures=[Figure("figures/a.png", "A figure")]),
        Section("Cost ratio", missing="No setting run at two or more cost ratios.")])


def test_markdown_has_the_headline_tables_bold_best_and_missing_notes() -> None:
    text = markdown(_report())
    assert "**ASTEROID beats standard training.**" in text and "- detail <one>" in text
    assert "| asteroid \\| xtb | **0.650 ± 0.071** |" in text
    assert "| standard | 1.050 ± 0.071 |" in text
    assert "![A figure](figures/a.png)" in text
    assert "## Cost ratio\n\n*No setting run at two or more cost ratios.*" in text


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"\x89PNG fake image")
    return tmp_path


def test_html_escapes_text_and_marks_the_best_bold(tmp_path: Path) -> None:
    page = html(_report(), _folder(tmp_path))
    assert "<td><b>0.650 ± 0.071</b></td>" in page and "<td>1.050 ± 0.071</td>" in page
    assert "<li>detail &lt;one&gt;</li>" in page
    assert '<p class="missing">No setting run at two or more cost ratios.</p>' in page


def test_html_embeds_its_figures_so_the_page_stands_alone(tmp_path: Path) -> None:
    page = html(_report(), _folder(tmp_path))
    encoded = base64.b64encode(b"\x89PNG fake image").decode("ascii")
    assert f'<img src="data:image/png;base64,{encoded}" alt="A figure">' in page
    assert "figures/a.png" not in page
