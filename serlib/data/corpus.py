"""The corpus table: one row per utterance, the same columns for every corpus.

Every loader (real corpora and the embedded generator) returns a :class:`Corpus`. Downstream
code (features, splits, models) reads only this table, never a corpus's own files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["REQUIRED_COLUMNS", "Corpus", "CorpusError", "LayoutProblem"]

REQUIRED_COLUMNS: tuple[str, ...] = (
    "utt_id",
    "path",
    "corpus",
    "speaker",
    "gender",
    "session",
    "emotion",
    "transcript",
    "duration",
    "sample_rate",
)
"""Columns every corpus table carries. ``emotion`` is ``None`` for unlabelled utterances;
``gender`` is ``"F"``/``"M"`` (``"U"`` where the corpus does not say); ``session`` is a string (the speaker's id where a corpus has no
sessions); ``duration`` is in seconds. Corpus-specific extras (``arousal``, ``valence``,
``split``, ``intensity`` ...) follow."""


class CorpusError(RuntimeError):
    """A corpus cannot be loaded as asked: the message names the file or folder and the fix."""


@dataclass(frozen=True)
class LayoutProblem:
    """One finding of :func:`serlib.data.validate_layout`: what is wrong, where, and the fix."""

    path: str
    problem: str
    fix: str
    severity: str = "error"  # "error" stops loading; "warning" is a counted skip

    def __str__(self) -> str:
        return f"{self.severity.upper():7s} {self.path}: {self.problem} -> {self.fix}"


@dataclass
class Corpus:
    """A speech-emotion corpus as a table.

    Parameters
    ----------
    name
        Registry name (``embedded``, ``iemocap``, ``emodb`` ...).
    table
        One row per utterance with at least :data:`REQUIRED_COLUMNS`, indexed 0..n-1.
    labels
        The ordered emotion label set; integer class ``k`` is ``labels[k]``.
    root
        The folder the audio paths are relative to (``path`` is stored absolute).
    meta
        Free-form facts: label map, skipped files, variant, licence ...
    """

    name: str
    table: pd.DataFrame
    labels: tuple[str, ...]
    root: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.table.columns]
        if missing:
            raise CorpusError(f"corpus {self.name!r}: table lacks columns {missing}")
        self.table = self.table.reset_index(drop=True)
        self.labels = tuple(self.labels)
        bad = set(self.table["emotion"].dropna()) - set(self.labels)
        if bad:
            raise CorpusError(
                f"corpus {self.name!r}: emotions {sorted(bad)} are not in the label set {self.labels}"
            )
        if self.table["utt_id"].duplicated().any():
            dup = self.table.loc[self.table["utt_id"].duplicated(), "utt_id"].tolist()[:5]
            raise CorpusError(f"corpus {self.name!r}: duplicate utterance ids, e.g. {dup}")

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        n_lab = int(self.table["emotion"].notna().sum())
        return (
            f"Corpus({self.name!r}, {len(self)} utterances, {n_lab} labelled, "
            f"{self.table['speaker'].nunique()} speakers, labels={list(self.labels)})"
        )

    def describe(self) -> str:
        """The corpus in one line for a reader: name, utterances, speakers and emotions."""
        n_lab = int(self.table["emotion"].notna().sum())
        title = self.meta.get("title") or f"{self.name} corpus"
        labelled = "" if n_lab == len(self) else f" ({n_lab} labelled)"
        return (f"{title}: {len(self)} utterances{labelled} by {self.table['speaker'].nunique()} speakers; "
                f"emotions {', '.join(self.labels)}")

    @property
    def y(self) -> np.ndarray:
        """Integer emotion codes (index into :attr:`labels`); -1 for unlabelled rows."""
        mapping = {lab: i for i, lab in enumerate(self.labels)}
        return self.table["emotion"].map(mapping).fillna(-1).astype(int).to_numpy()

    @property
    def speakers(self) -> np.ndarray:
        return self.table["speaker"].astype(str).to_numpy()

    @property
    def sessions(self) -> np.ndarray:
        return self.table["session"].astype(str).to_numpy()

    # ------------------------------------------------------------------ views
    def subset(self, rows: Sequence[int] | np.ndarray | pd.Series, name: str | None = None) -> Corpus:
        """A new corpus with the selected rows (integer positions or a boolean mask)."""
        rows = np.asarray(rows)
        table = self.table[rows] if rows.dtype == bool else self.table.iloc[rows]
        return Corpus(name or self.name, table.copy(), self.labels, self.root, dict(self.meta))

    def labelled(self) -> Corpus:
        """Only the rows that carry an emotion label."""
        return self.subset(self.table["emotion"].notna().to_numpy())

    def counts(self, by: str = "emotion") -> pd.DataFrame:
        """Utterance counts: rows = ``by`` values, columns = emotions (plus a total)."""
        t = self.table.assign(emotion=self.table["emotion"].fillna("(unlabelled)"))
        cols = [c for c in self.labels if c in set(t["emotion"])]
        if (t["emotion"] == "(unlabelled)").any():
            cols.append("(unlabelled)")
        if by == "emotion":
            out = t["emotion"].value_counts().reindex(cols).to_frame("count")
            return out
        out = pd.crosstab(t[by], t["emotion"]).reindex(columns=cols, fill_value=0)
        out["total"] = out.sum(axis=1)
        return out

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> str:
        """A short hash that changes whenever the utterances, their labels or their audio files do.

        Built from each row's id, label, speaker and the audio file's size and modification
        time, so a re-generated or edited file invalidates every cache keyed on it.
        """
        h = hashlib.sha1()
        h.update(self.name.encode())
        h.update("|".join(self.labels).encode())
        for row in self.table[["utt_id", "path", "emotion", "speaker"]].itertuples(index=False):
            try:
                st = os.stat(row.path)
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                stamp = "missing"
            h.update(f"{row.utt_id}|{row.emotion}|{row.speaker}|{stamp}\n".encode())
        return h.hexdigest()[:16]
