# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Results overview
#
# Each chapter ends with its own tables, set beside the paper's numbers. This page gathers the
# one or two tables of each chapter that make that comparison, and puts a sentence under each
# that says which side is ahead. Nothing here is typed in by hand: the page reads the tables
# each chapter saved in `book/chapters/<chapter>.results/` when the book was built
# (`serlib.overview` lists which tables), and the sentences are computed from those tables. A
# rebuilt book gets a rebuilt page.
#
# Under each chapter's tables follow its results on real corpora, where a run on one has been
# recorded with `serbook results add` (in `book/results/<chapter>/<corpus>/`, with the run's
# provenance), or one sentence saying how to add them.
#
# Keep the differences in mind when reading the comparisons. Unless a chapter was run with the
# `paper` profile on the real corpora, **our numbers come from the embedded corpus** (synthetic
# speech, four emotions, ten voices), and the paper's from IEMOCAP, MSP-IMPROV, Emo-DB, RAVDESS or
# SAVEE. Compare patterns (does the method help, does the ranking hold), not levels. Each chapter
# explains its own differences from the paper.

# %% tags=["parameters", "hide-input"]
profile = "book"  # smoke | book | paper: the profile the book was built with
chapters_dir = None  # folder of the executed chapters and their .results folders (None: book/chapters)

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from serlib import overview, recorded, tables
from serlib.results import save_table

pd.set_option("display.max_colwidth", 60)
tables.install()
results = overview.load_all(chapters_dir, profile)
by_stem = {r.entry.stem: r for r in results}
other = {r.entry.stem: r.profile for r in results if r.profile != profile}
display(Markdown(
    f"This book was built with the **{profile}** profile. "
    + ("These chapters' saved results come from another profile: "
       + ", ".join(f"`{s}` ({p})" for s, p in other.items())
       + f"; run `serbook run notebooks/<chapter>.py -p profile={profile}` for each to make the book consistent."
       if other else "Every chapter's saved results come from that profile.")))


def show(stem: str) -> None:
    """The chapter's headline tables, each with its computed sentence, below the data they come from; then
    those recorded on real corpora."""
    res = by_stem[stem]
    display(Markdown(f"*Data*: {overview.corpus_text(res.run)}."))
    for h in res.entry.headlines:
        display(Markdown(overview.headline_sentence(res, h.name)))
        if h.name in res.tables:
            display(overview.headline_table(res, h.name))
    recorded.show(stem)


# %% [markdown]
# ## Time per chapter
#
# From each chapter's `run.json`, written by `serbook run`: the profile, the wall-clock time of
# the execution, the peak memory it recorded and any parameter set besides the profile. The `smoke` profile takes seconds per chapter, `book` minutes on a laptop CPU, `paper`
# hours and is meant for a GPU; {doc}`../teaching` uses this table to plan a course.

# %% tags=["hide-input"]
timing = overview.timing_table(results, profile)
save_table("timing", timing, "90_results", profile=profile)
timing

# %% [markdown]
# ## Where the numbers come from
#
# From each chapter's `run.json`: every corpus the run loaded, with its coverage against the
# corpus's full release (a real corpus with files missing is marked, and the `paper` profile runs
# on one only with `allow_partial=true`), the git commit (`+dirty` when the working tree had
# uncommitted changes) and the device.

# %% tags=["hide-input"]
provenance = overview.provenance_table(results)
save_table("provenance", provenance, "90_results", profile=profile)
provenance

# %% [markdown]
# ## The corpora and the yardstick
#
# {doc}`00_corpora` measures how hard the embedded corpus is with the book's yardstick, the
# classical pipeline every later chapter must beat. It has no paper to compare with.

# %% tags=["hide-input"]
show("00_corpora")

# %% [markdown]
# ## Sahu et al. 2018: synthetic features from a GAN
#
# {doc}`01_sahu2018_gan` {cite}`sahu2018`: does adding GAN-generated feature vectors to the training set help
# an SVM, within IEMOCAP and across corpora?

# %% tags=["hide-input"]
show("01_sahu2018_gan")

# %% [markdown]
# ## Latif et al. 2020: a GAN trained with mixup
#
# {doc}`02_latif2020_mixup_gan` {cite}`latif2020mixup`: the same question with a generator trained on mixed-up
# examples; the rows "Sahu et al. 2018" hold chapter 1's conditional GAN on the same folds, and the
# paper's rows "Bao et al. 2019" the CycleGAN of {cite:t}`bao2019cyclegan`.

# %% tags=["hide-input"]
show("02_latif2020_mixup_gan")

# %% [markdown]
# ## Ahn et al.: InfoGAN with mutual information
#
# {doc}`03_ahn_infogan` {cite}`ahn2025infogan`: generated features that keep the mutual information with the emotion
# code, aligned with the transcript's text embedding. The paper's Table II also lists the methods of
# {cite:t}`sahu2022modeling`, {cite:t}`bao2019cyclegan`, {cite:t}`latif2022selfsupervised` and {cite:t}`malik2023diffusion`.

# %% tags=["hide-input"]
show("03_ahn_infogan")

# %% [markdown]
# ## Leow et al.: speaker-invariant features by adversarial learning
#
# {doc}`04_leow_speaker_adversarial` {cite}`leow_sier`: an encoder trained to fool a speaker classifier, tested on
# speakers it never heard.

# %% tags=["hide-input"]
show("04_leow_speaker_adversarial")

# %% [markdown]
# ## Pereira et al. 2018: BEGAN pretraining on unlabelled speech
#
# {doc}`05_pereira2018_began` {cite}`pereira2018began`: an encoder learned without labels, frozen, with a small
# supervised head on top.

# %% tags=["hide-input"]
show("05_pereira2018_began")

# %% [markdown]
# ## Claims across the book
#
# Every chapter ends its results with the paper's claims (chapter 0: the book's own, about the
# embedded corpus and the yardstick) beside this run's measurement — the mean, its standard
# deviation and the 95 % interval of the mean — and a verdict read from that interval: *held*
# when the whole interval agrees with the claim, *not held* when the whole interval contradicts
# it, *inconclusive* when it reaches both ways or there is no interval. Below, all of them: from
# this build's runs and from the runs recorded on real corpora.

# %% tags=["hide-input"]
claims_table, claims_notes = overview.claims_across_book(
    chapters_dir, {c.stem: recorded.load_recorded(c.stem) for c in overview.CHAPTERS})
save_table("claims", claims_table, "90_results", profile=profile)
if claims_notes:
    display(Markdown("\n".join(f"* {n}" for n in claims_notes)))
claims_table
