"""A published report as one self-contained HTML file: styles inline, plots as PNG data URIs."""

from __future__ import annotations

import base64
from html import escape

from bench.report.publish import Plot, Report, Table

# Inline so the file needs nothing from the network (a CI artifact opens as it is).
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #1b1b1b; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafa; }
code { font-size: 0.92em; }
p.note { color: #555; font-size: 0.92em; margin: 0.2em 0; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #ddd; }
"""


def table(t: Table) -> str:
    heads = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = []
    for row in t.rows:
        cells = []
        for i, value in enumerate(row):
            text = (
                f"<code>{escape(value)}</code>" if i in t.code and value != "-" else escape(value)
            )
            cells.append(f'<td class="num">{text}</td>' if i in t.numeric else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in t.notes)
    return (
        f"<h2>{escape(t.title)}</h2>\n<table><thead><tr>{heads}</tr></thead><tbody>\n"
        + "\n".join(body)
        + f"\n</tbody></table>\n{notes}\n"
    )


def plot(p: Plot) -> str:
    data = base64.b64encode(p.png).decode("ascii")
    return (
        f'<h2>{escape(p.title)}</h2>\n<figure><img alt="{escape(p.alt)}" '
        f'src="data:image/png;base64,{data}"></figure>\n'
    )


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        *(f"<p>{escape(line)}</p>" for line in report.intro),
    ]
    for block in report.blocks:
        parts.append(table(block) if isinstance(block, Table) else plot(block))
    return "\n".join([*parts, "</body></html>\n"])
