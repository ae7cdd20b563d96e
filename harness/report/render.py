"""report.md and report.html from one ``Report``: the same words, tables and figures.

Markdown is GitHub's (pipe tables, ``**bold**``, figures by relative path); the HTML is a
single self-contained page (inline style, figures embedded as base64 data URIs) so that
report.html alone can be mailed, attached or opened anywhere.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from harness.report.document import Report, Section, Table

STYLE = """
body { font-family: sans-serif; max-width: 72em; margin: 2em auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note, .missing { color: #555; font-size: 0.9em; }
.headline { font-size: 1.1em; }
img { max-width: 48em; display: block; }
"""


def _markdown_cell(text: str, bold: bool) -> str:
    text = str(text).replace("|", "\\|")
    return f"**{text}**" if bold and text != "–" else text


def markdown_table(table: Table) -> list[str]:
    lines = [f"**{table.title}**", "",
             "| | " + " | ".join(_markdown_cell(column, False) for column in table.cells.columns)
             + " |",
             "|---|" + "---|" * len(table.cells.columns)]
    for label, row in table.cells.iterrows():
        cells = [_markdown_cell(row[column], bool(table.bold.at[label, column]))
                 for column in table.cells.columns]
        lines.append(f"| {_markdown_cell(str(label), False)} | " + " | ".join(cells) + " |")
    lines.append("")
    if table.note:
        lines += [f"*{table.note}*", ""]
    return lines


def _markdown_section(section: Section) -> list[str]:
    lines = [f"## {section.heading}", ""]
    if section.missing:
        return [*lines, f"*{section.missing}*", ""]
    for paragraph in section.paragraphs:
        lines += [paragraph, ""]
    for table in section.tables:
        lines += markdown_table(table)
    for figure in section.figures:
        lines += [f"![{figure.caption}]({figure.path})", ""]
    return lines


def markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    for index, paragraph in enumerate(report.headline):
        lines += [f"**{paragraph}**" if index == 0 else f"- {paragraph}", ""]
    for section in report.sections:
        lines += _markdown_section(section)
    return "\n".join(lines).rstrip() + "\n"


def html_table(table: Table) -> str:
    header = "".join(f"<th>{escape(str(column))}</th>" for column in table.cells.columns)
    rows = []
    for label, row in table.cells.iterrows():
        cells = []
        for column in table.cells.columns:
            text = escape(str(row[column]))
            cells.append(f"<td><b>{text}</b></td>" if table.bold.at[label, column]
                         else f"<td>{text}</td>")
        rows.append(f"<tr><th>{escape(str(label))}</th>{''.join(cells)}</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (f"<h3>{escape(table.title)}</h3>\n<table><thead><tr><th></th>{header}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{note}")


def data_uri(png: Path) -> str:
    """A PNG as a ``data:`` URI, so the page needs no file beside it."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _html_section(section: Section, folder: Path) -> list[str]:
    parts = [f"<h2>{escape(section.heading)}</h2>"]
    if section.missing:
        return [*parts, f'<p class="missing">{escape(section.missing)}</p>']
    parts += [f"<p>{escape(paragraph)}</p>" for paragraph in section.paragraphs]
    parts += [html_table(table) for table in section.tables]
    parts += [f'<figure><img src="{data_uri(folder / figure.path)}" '
              f'alt="{escape(figure.caption)}"><figcaption>{escape(figure.caption)}'
              "</figcaption></figure>" for figure in section.figures]
    return parts


def html(report: Report, folder: Path) -> str:
    """The page; ``folder`` is the report folder that figure paths are relative to."""
    headline = [f'<p class="headline"><strong>{escape(report.headline[0])}</strong></p>']
    if len(report.headline) > 1:
        headline.append("<ul>" + "".join(f"<li>{escape(paragraph)}</li>"
                                         for paragraph in report.headline[1:]) + "</ul>")
    body = [f"<h1>{escape(report.title)}</h1>", *headline]
    for section in report.sections:
        body += _html_section(section, folder)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(report.title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
