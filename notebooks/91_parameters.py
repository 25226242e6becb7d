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
# # Parameters reference
#
# Every chapter is one notebook whose first code cell, tagged `parameters`, lists the knobs a
# reader may turn: `serbook run notebooks/<chapter>.py -p name=value` sets them (values are
# YAML: `-p seeds=[0,1]`, `-p lr=1e-4`, `-p gammas="[null, 2.5]"`), and `None` in the cell means
# "the profile's default". The tables below are generated from the same declarations the
# notebooks use (each chapter's `Config` class in `serlib.experiments`, and the notebook's
# `parameters` cell), so they cannot drift from the code.
#
# Columns: **set with -p** says whether the notebook's `parameters` cell exposes the parameter
# ("no": a setting fixed inside the chapter, listed for completeness); **smoke**, **book**
# and **paper** are the defaults of the three profiles; **paper's value** is what the paper
# states ("not stated" where it is silent, in which case the `paper` profile holds our choice);
# **meaning** explains it. Parameters common to every chapter: `profile`, `corpus`, `data_root`,
# `device` (`auto` takes a GPU when there is one) and `seeds` (results are mean ± std over them).

# %% tags=["parameters", "hide-input"]
profile = "book"  # smoke | book | paper: the profile the book was built with

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from serlib import overview, tables
from serlib.config import PROFILES, check_choice

check_choice("profile", profile, PROFILES)
pd.set_option("display.max_colwidth", 90)
pd.set_option("display.max_rows", 200)
tables.install()
display(Markdown(f"This book was built with the **{profile}** profile: the chapters show the `{profile}` column."))


def reference(stem: str) -> pd.DataFrame:
    """The chapter's parameters, with the command that runs it above the table."""
    display(Markdown(f"`{overview.run_command(stem, profile)}`"))
    return overview.parameters_reference(stem)


# %% [markdown]
# ## The embedded corpus and the yardstick
#
# Chapter: {doc}`00_corpora`.

# %% tags=["hide-input"]
reference("00_corpora")

# %% [markdown]
# ## Sahu et al. 2018
#
# Chapter: {doc}`01_sahu2018_gan`, after {cite:t}`sahu2018`.

# %% tags=["hide-input"]
reference("01_sahu2018_gan")

# %% [markdown]
# ## Latif et al. 2020
#
# Chapter: {doc}`02_latif2020_mixup_gan`, after {cite:t}`latif2020mixup`.

# %% tags=["hide-input"]
reference("02_latif2020_mixup_gan")

# %% [markdown]
# ## Ahn et al.
#
# Chapter: {doc}`03_ahn_infogan`, after {cite:t}`ahn2025infogan`.

# %% tags=["hide-input"]
reference("03_ahn_infogan")

# %% [markdown]
# ## Leow et al.
#
# Chapter: {doc}`04_leow_speaker_adversarial`, after {cite:t}`leow_sier`.

# %% tags=["hide-input"]
reference("04_leow_speaker_adversarial")

# %% [markdown]
# ## Pereira et al. 2018
#
# Chapter: {doc}`05_pereira2018_began`, after {cite:t}`pereira2018began`.

# %% tags=["hide-input"]
reference("05_pereira2018_began")
