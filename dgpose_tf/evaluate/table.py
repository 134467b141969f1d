"""The row every evaluation table prints: ``figure | model | trivial answer | reference / anchor``,
with ✗ where the model loses to the trivial answer or to the anchor (what users pick today).

A *trivial answer* needs no model (the mean pose, a flat colour, linear interpolation); a
*reference* is printed for scale and never judged against (the input blurred, the true photos);
an *anchor* is a method users have today (BlazePose, PCHIP) and is judged against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Row", "format_rows", "losses"]


@dataclass(frozen=True)
class Row:
    """One figure. ``higher``: whether larger is better. ``anchor_name`` / ``reference_name``
    say what the two optional columns hold (e.g. ``"BlazePose heavy"``)."""

    figure: str
    model: float
    trivial: float | None = None
    anchor: float | None = None
    higher: bool = True
    trivial_name: str = ""
    anchor_name: str = ""
    reference: float | None = None
    reference_name: str = ""

    def _worse(self, other):
        if other is None or not math.isfinite(other) or not math.isfinite(self.model):
            return False
        return self.model < other if self.higher else self.model > other

    @property
    def below_trivial(self) -> bool:
        return self._worse(self.trivial)

    @property
    def below_anchor(self) -> bool:
        return self._worse(self.anchor)

    @property
    def mark(self) -> str:
        """``✗`` below the trivial answer, ``✗a`` below the anchor only, else blank."""
        return "✗" if self.below_trivial else "✗a" if self.below_anchor else ""


def _fmt(v, digits):
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan"
    return f"{v:.{digits}f}"


def format_rows(rows, title="", digits=3):
    """A Markdown table of rows; the column heads name the trivial answer, the anchor and the
    reference when every row shares one."""
    rows = list(rows)
    def one(attr, value, default):
        """The column's name when the rows that fill it agree on one."""
        names = {getattr(r, attr) for r in rows if getattr(r, value) is not None}
        return names.pop() if len(names) == 1 and "" not in names else default

    triv = one("trivial_name", "trivial", "trivial answer")
    anch = one("anchor_name", "anchor", "anchor")
    ref = one("reference_name", "reference", "reference")
    has_anchor = any(r.anchor is not None for r in rows)
    has_ref = any(r.reference is not None for r in rows)
    head = ["figure", "model", triv] + ([anch] if has_anchor else []) + \
        ([f"{ref} (reference)"] if has_ref else []) + [""]
    lines = ([f"{title}", ""] if title else []) + ["| " + " | ".join(head) + " |",
                                                   "|" + " --- |" * len(head)]
    for r in rows:
        arrow = "↑" if r.higher else "↓"
        named = lambda v, name, shared: _fmt(v, digits) + (
            f" ({name})" if v is not None and name and name != shared else "")
        cells = [f"{r.figure} {arrow}", _fmt(r.model, digits),
                 named(r.trivial, r.trivial_name, triv)]
        if has_anchor:
            cells.append(named(r.anchor, r.anchor_name, anch))
        if has_ref:
            cells.append(named(r.reference, r.reference_name, ref))
        cells.append(r.mark)
        lines.append("| " + " | ".join(cells) + " |")
    if any(r.mark for r in rows):
        lines.append("")
        lines.append("✗ below the trivial answer; ✗a below the anchor (what users pick today)")
    return "\n".join(lines)


def losses(rows):
    """``(below_trivial, below_anchor)``: the figure names of each kind of loss."""
    rows = list(rows)
    return ([r.figure for r in rows if r.below_trivial],
            [r.figure for r in rows if r.below_anchor and not r.below_trivial])
