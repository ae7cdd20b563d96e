"""The report as data: sections of paragraphs, tables and figures, rendered by ``render``.

Keeping the content apart from its markup lets report.md and report.html say the same thing
and lets tests check a table's cells and its bold marks without parsing either format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Table:
    """Display text by row and column label; ``bold`` marks the best value of each column."""

    title: str
    cells: pd.DataFrame
    bold: pd.DataFrame
    note: str = ""

    @classmethod
    def plain(cls, title: str, cells: pd.DataFrame, note: str = "") -> Table:
        """A table with nothing marked (its columns are different quantities)."""
        return cls(title, cells, pd.DataFrame(False, index=cells.index, columns=cells.columns),
                   note)


@dataclass(frozen=True)
class Figure:
    """A PNG, by its path relative to the report folder."""

    path: str
    caption: str


@dataclass
class Section:
    """A heading and its content; ``missing`` (one line) replaces the content without data."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    missing: str = ""


@dataclass
class Report:
    title: str
    headline: list[str]
    sections: list[Section]
