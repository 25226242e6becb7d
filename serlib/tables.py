"""Tables as a reader sees them: headers in words, a dash for a number the table does not have.

The chapters compute their tables with short programming names for columns and rows (``uar_aug``,
``cgan_improved``), and save them under those names, which the results overview, the recorded
real-corpus runs and the tests read. What the *page* shows is another matter: :func:`install`
registers an HTML formatter with IPython so that every DataFrame a chapter displays is shown

* with its code-name headers replaced by the words of :data:`HEADERS` (the saved tables keep their
  names); a table of parameters (its index named "parameter") keeps the names a reader types after
  ``-p``, set as code,
* with "—" in every cell that holds no number (NaN, None, or text left empty), and a line under
  the table saying what a dash means (:data:`DASH_NOTE`),
* in full (no ``...`` rows or columns, no text cut short) and inside a box that scrolls sideways
  when the table is wider than the page.

The page check (:mod:`serlib.pagecheck`) fails the book build on a code-name header, so a new
table's names are added to :data:`HEADERS` when the table is written.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

__all__ = ["DASH", "DASH_NOTE", "DASH_NOTE_PARAMETERS", "HEADERS", "install", "readable", "to_html"]

DASH = "—"
"""What a table shows where it has no number."""

DASH_NOTE = ("A dash (—) marks a cell without a number: one the paper does not report, or one this "
             "run does not compute in its profile.")
"""The line under a table of results that shows a dash."""

DASH_NOTE_PARAMETERS = ("A dash (—) marks a parameter left unset, where the chapter's default for the profile "
                        "applies, or, under the paper's value, a parameter the paper has no value for.")
"""The line under a table of parameters that shows a dash."""

HEADERS: dict[str, str] = {
    # metrics and their spreads
    "uar_mean": "UAR, mean over folds",
    "uar_std": "UAR, std over folds",
    "auc_mean": "two-sample AUC, mean",
    "ks_median_mean": "median KS statistic, mean",
    "n_per_class": "generated samples per class",
    "uar_no_aug": "UAR without augmentation (%)",
    "uar_control": "UAR, classifier re-trained without generated samples (%)",
    "uar_aug": "UAR with augmentation (%)",
    "acc_y_fake": "emotion accuracy on generated samples",
    # GAN training observables
    "d_loss": "discriminator loss",
    "d_loss_plain": "discriminator loss (without mixup)",
    "g_loss": "generator loss",
    "g_adv": "generator's adversarial loss",
    "d_real": "D(real)",
    "d_fake": "D(generated)",
    "val_d_loss": "discriminator loss, validation",
    "val_g_loss": "generator loss, validation",
    "norm_ratio": "norm ratio",
    "mi_y_fake": "MI loss, emotion code (generated)",
    "mi_t_fake": "MI loss, text code (generated)",
    "mi_y_real": "MI loss, emotion code (real)",
    "mi_t_real": "MI loss, text code (real)",
    # chapter 1's models
    "gan_2d": "GAN on 2-d codes",
    "gan_1582": "GAN on 1582-d features",
    "svm_2d": "SVM on 2-d codes",
    "cgan_baseline": "cGAN, baseline",
    "svm_baseline": "SVM on baseline-cGAN samples",
    "cgan_decoder_init": "cGAN, decoder-initialised",
    "cgan_improved": "cGAN, improved",
    "svm_improved": "SVM on improved-cGAN samples",
    "similarity_ref": "similarity reference",
    # chapter 2's table of the summary's results
    "dnn_real": "DNN on real data",
    "mixup_gan": "mixup GAN",
    "dnn_mixup": "DNN on mixup-GAN samples",
    "chapter1_gans": "chapter 1's GANs",
    "dnn_chapter1": "DNN on chapter 1's samples",
    "ablation_cell": "ablation setting",
    # chapter 5
    "speaker_dependent": "speaker-dependent",
    "chosen_by": "training length chosen by",
    "feature_map": "feature map",
    # corpora and utterances
    "utt_id": "utterance",
    "msp_improv": "MSP-IMPROV",
    "msp_podcast": "MSP-Podcast",
    # the results overview
    "allow_partial": "partial corpus allowed",
    "00_corpora": "0 · The embedded corpus and the yardstick",
    "01_sahu2018_gan": "1 · Sahu et al. 2018",
    "02_latif2020_mixup_gan": "2 · Latif et al. 2020",
    "03_ahn_infogan": "3 · Ahn et al.",
    "04_leow_speaker_adversarial": "4 · Leow et al.",
    "05_pereira2018_began": "5 · Pereira et al. 2018",
}
"""Words for the code names that the chapters' tables use as column or row headers."""


def _word(label: Any) -> Any:
    if isinstance(label, str):
        return HEADERS.get(label, label)
    if isinstance(label, tuple):
        return tuple(_word(part) for part in label)
    return label


def _relabel(index: pd.Index, parameters: bool) -> pd.Index:
    if parameters:  # a parameter's name is what a reader types after -p: it stays as it is
        return index
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([level.map(_word) for level in index.levels]).set_names(
            [_word(n) for n in index.names])
    return index.map(_word).rename(_word(index.name))


def _is_parameter_table(df: pd.DataFrame) -> bool:
    return df.index.name == "parameter" or "parameter" in (df.index.names or [])


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its code-name headers in words (:data:`HEADERS`); values unchanged."""
    out = df.copy()
    out.index = _relabel(out.index, _is_parameter_table(df))
    out.columns = _relabel(out.columns, False)
    return out


def _blank(column: pd.Series) -> pd.Series:
    """Where a column holds no value: NaN or None, or (text columns) a string of only spaces."""
    missing = column.isna()
    if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
        missing |= column.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    return missing


def _has_missing(df: pd.DataFrame) -> bool:
    return any(_blank(df.iloc[:, j]).any() for j in range(df.shape[1]))


def to_html(df: pd.DataFrame) -> str:
    """The HTML a chapter page shows for ``df``: words for headers, "—" for missing numbers (NaN,
    None, or an empty text cell), every row and column and the whole of every cell's text, in a box
    that scrolls sideways."""
    shown = readable(df)
    for j in range(shown.shape[1]):  # pandas writes na_rep for NaN but "None" for None in text columns
        column = shown.iloc[:, j]
        blank = _blank(column)
        if blank.any() and (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            shown.isetitem(j, column.astype(object).where(~blank, DASH))
    escape = True
    if _is_parameter_table(df):  # the names a reader types after -p, set as code
        shown = shown.map(lambda v: html.escape(v, quote=False) if isinstance(v, str) else v)
        shown.columns = [html.escape(str(c), quote=False) for c in shown.columns]
        shown.index = pd.Index([f"<code>{html.escape(str(i), quote=False)}</code>" for i in shown.index],
                               name=shown.index.name)
        escape = False
    with pd.option_context("display.max_colwidth", None):  # pandas would cut long text with "..."
        table = shown.to_html(na_rep=DASH, max_rows=None, max_cols=None, notebook=True, border=0, escape=escape)
    text = DASH_NOTE_PARAMETERS if _is_parameter_table(df) else DASH_NOTE
    note = f'<p class="serbook-table-note">{html.escape(text, quote=False)}</p>' if _has_missing(df) else ""
    return f'<div class="serbook-table">{table}{note}</div>'


def install(shell: Any = None) -> bool:
    """Show every DataFrame of this IPython session through :func:`to_html`.

    Returns False (and does nothing) outside IPython, e.g. when a script imports a chapter's code.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the book's extra
            return False
        shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, to_html)
    return True
