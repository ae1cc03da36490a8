"""Tables that fit a width: columns drop by priority instead of shrinking to nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table

# A rich table with the default box spends one separator per column plus padding 1 each side.
_PER_COLUMN = 3


@dataclass(frozen=True)
class Column:
    """A column's header, plain-text cells and how it behaves when space runs out.

    priority: lower numbers are kept longer; wrap: the cells may fold onto several lines
    (only then can the column be narrower than its widest cell); styles: rich styles per cell.
    """

    header: str
    cells: Sequence[str]
    priority: int
    justify: Literal["left", "right"] = "left"
    wrap: bool = False
    min_width: int = 12
    styles: Sequence[str] = field(default_factory=tuple)

    def natural(self) -> int:
        return max([cell_len(self.header), *(cell_len(c) for c in self.cells)])

    def narrowest(self) -> int:
        """The least this column can take without cutting a cell or its header."""
        if not self.wrap:
            return self.natural()
        # rich never breaks a word to make a column narrower, so the longest word is the floor
        words = [cell_len(w) for c in (self.header, *self.cells) for w in c.split()]
        return min(self.natural(), max([self.min_width, *words]))

    def empty(self) -> bool:
        return all(c in ("", "-") for c in self.cells)


def width_of(columns: Sequence[Column]) -> int:
    return sum(c.narrowest() for c in columns) + _PER_COLUMN * len(columns) + 1


def fit(columns: Sequence[Column], width: int) -> tuple[list[Column], list[Column]]:
    """(kept, dropped): empty columns go first, then the highest priority numbers, until
    the rest fits `width`; the lowest-priority-number column is always kept."""
    kept = [c for c in columns if not c.empty()]
    dropped = [c for c in columns if c.empty()]
    while len(kept) > 1 and width_of(kept) > width:
        worst = max(kept, key=lambda c: c.priority)
        kept.remove(worst)
        dropped.append(worst)
    return kept, dropped


def allocate(columns: Sequence[Column], width: int | None) -> list[int | None]:
    """Explicit widths for the wrapping columns: their floor, then the spare room handed out
    in priority order (rich's own shrinking can overrun the page when words are long)."""
    if width is None:
        return [None] * len(columns)
    widths = [c.narrowest() for c in columns]
    spare = width - width_of(columns)
    for i in sorted(range(len(columns)), key=lambda i: columns[i].priority):
        if columns[i].wrap and spare > 0:
            extra = min(spare, columns[i].natural() - widths[i])
            widths[i] += extra
            spare -= extra
    return [w if c.wrap else None for c, w in zip(columns, widths, strict=True)]


def render(
    title: str, columns: Sequence[Column], width: int | None, caption_dropped: bool = True
) -> Table:
    """The fitted table; the dropped columns are named under it, so nothing vanishes silently."""
    kept, dropped = fit(columns, width) if width else (list(columns), [])
    hidden = [c.header for c in dropped if not c.empty()]
    caption = None
    if hidden and caption_dropped:
        caption = f"not shown at {width} columns: {', '.join(hidden)}"
    table = Table(
        title=escape(title), title_justify="left", caption=escape(caption) if caption else None,
        caption_justify="left",
    )  # fmt: skip
    for c, w in zip(kept, allocate(kept, width), strict=True):
        table.add_column(escape(c.header), justify=c.justify, no_wrap=not c.wrap, width=w)
    rows = len(kept[0].cells) if kept else 0
    for i in range(rows):
        table.add_row(*(_cell(c, i) for c in kept))
    return table


def _cell(c: Column, i: int) -> str:
    style = c.styles[i] if i < len(c.styles) else ""
    text = escape(c.cells[i])
    return f"[{style}]{text}[/]" if style else text
