"""A published report as GitHub-flavoured Markdown; plots are linked PNG files beside it."""

from __future__ import annotations

from collections.abc import Mapping

from bench.report.publish import Plot, Report, Table


def cell(text: str) -> str:
    """A table cell: pipes escaped, one line."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def alt(text: str) -> str:
    """An image's alt text: brackets escaped so the link still parses."""
    return cell(text).replace("[", "\\[").replace("]", "\\]")


def table(t: Table) -> list[str]:
    align = ["---:" if i in t.numeric else "---" for i in range(len(t.headers))]
    lines = [f"### {cell(t.title)}", ""]
    lines.append("| " + " | ".join(cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join(align) + "|")
    for row in t.rows:
        shown = [f"`{cell(v)}`" if i in t.code and v != "-" else cell(v) for i, v in enumerate(row)]
        lines.append("| " + " | ".join(shown) + " |")
    if t.notes:
        lines += ["", *(f"> {n}" for n in t.notes)]
    return [*lines, ""]


def render(report: Report, images: Mapping[str, str]) -> str:
    """The report; `images` maps each plot's name to the path the Markdown links."""
    lines = [f"## {cell(report.title)}", "", *report.intro, ""]
    for block in report.blocks:
        if isinstance(block, Table):
            lines += table(block)
        elif isinstance(block, Plot):
            lines += [
                f"### {cell(block.title)}",
                "",
                f"![{alt(block.alt)}]({images[block.name]})",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
