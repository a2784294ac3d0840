"""Read a review report back with the standard library's HTML parser (used by the report tests)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Section:
    """One ``<section data-section=...>`` of one part: its table rows, headers and text."""

    rows: list[list[str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


@dataclass
class Report:
    """Sections keyed by (part kind, section name); every tag with its attributes."""

    sections: dict[tuple[str, str], Section]
    tags: list[tuple[str, dict[str, str | None]]]
    chunks: list[tuple[str | None, str]]

    @property
    def text(self) -> str:
        return " ".join(c for _, c in self.chunks)

    def section(self, kind: str, name: str) -> Section:
        return self.sections[(kind, name)]

    def outside(self, name: str) -> str:
        """All text of the document except that of the sections called ``name``."""
        return " ".join(c for where, c in self.chunks if where != name)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[tuple[str, str], Section] = defaultdict(Section)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.kind = ""
        self.current: tuple[str, str] | None = None
        self.depth = 0  # <section> nesting inside the current one
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_head = False
        self.in_style = False
        self.chunks: list[tuple[str | None, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "style":
            self.in_style = True
        elif tag == "article" and a.get("data-kind"):
            self.kind = str(a["data-kind"])
        elif tag == "section":
            if self.current is None and a.get("data-section"):
                self.current, self.depth = (self.kind, str(a["data-section"])), 0
                self.sections[self.current]
            else:
                self.depth += 1
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr" and not self.in_head:
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False
        elif tag == "section":
            if self.depth:
                self.depth -= 1
            else:
                self.current = None
        elif tag == "thead":
            self.in_head = False
        elif tag in ("td", "th") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            if self.current is not None:
                if self.in_head:
                    self.sections[self.current].headers.append(text)
                elif self.row is not None and tag == "td":
                    self.row.append(text)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.current is not None and self.row:
                self.sections[self.current].rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.in_style:
            return
        self.chunks.append((None if self.current is None else self.current[1], data))
        if self.cell is not None:
            self.cell.append(data)
        if self.current is not None:
            self.sections[self.current].text.append(data)


def parse_report(html: str) -> Report:
    """Parse a report (or a DOM dump of one)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Report(dict(reader.sections), reader.tags, reader.chunks)
