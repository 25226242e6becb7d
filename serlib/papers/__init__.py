"""The papers' published numbers, as data, for side-by-side tables.

One module per paper (``serlib.papers.sahu2018`` ...) defines ``TABLES``: a dict from a table
name to a :class:`PaperTable`. Numbers are copied from the published papers
with the table they come from; nothing here is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["PaperTable", "beside"]


@dataclass(frozen=True)
class PaperTable:
    """A published table: rows -> value (percent unless ``unit`` says otherwise)."""

    paper: str
    table: str
    caption: str
    metric: str
    values: dict[str, float]
    unit: str = "%"
    notes: dict[str, str] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({f"paper {self.metric} ({self.unit})": pd.Series(self.values)})


def beside(ours: pd.DataFrame, paper: PaperTable, *, ours_column: str | None = None) -> pd.DataFrame:
    """Our results (indexed by the same row names) next to the paper's column.

    Rows the paper has and we lack (or the reverse) are kept, with an empty cell, so nothing is
    silently dropped.
    """
    p = paper.frame()
    o = ours if ours_column is None else ours[[ours_column]]
    return p.join(o, how="outer").reindex(list(dict.fromkeys(list(p.index) + list(o.index))))
