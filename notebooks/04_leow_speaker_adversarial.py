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
# # Speaker-invariant emotion recognition with adversarial learning
#
# *Reproducing* B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn and J. C. Rajapakse,
# **Speaker-Invariant Emotion Recognition with Adversarial Learning** {cite}`leow_sier`.
#
# An emotion recogniser that is tested on speakers it never heard does much worse than one
# tested on familiar voices: part of what it learned is *who* is speaking. The paper trains an
# encoder whose output should carry the emotion and not the speaker, by pitting it against a
# speaker classifier — {term}`domain-adversarial training <adversarial learning>` {cite}`ganin2016dann` with speakers as the
# domains, after {cite:t}`tu2019adversarial` and {cite:t}`li2020speaker` — and proposes a new encoder for it: a 2D
# CNN over the {term}`MFCC` "image" followed by a bidirectional GRU.
#
# **The network.** Input: the MFCC matrix $x \in \mathbb R^{T\times n}$ of a recording (20
# coefficients). The **encoder** has 1 to 4 CNN blocks, each a convolution (stride 2), batch
# normalisation, dropout, an ELU and 2×2 max pooling:
#
# $$h^1_k = x \otimes w^1_k, \qquad
# h^2_k = \mathrm{eLU}\big(\mathrm{dropout}(w^2_k\cdot \mathrm{BN}(h^1_k) + b^2_k)\big), \qquad
# h^3_k = \mathrm{pool}(h^2_k).$$
#
# The $K$ feature maps are reshaped into a time sequence $h^3(t) \in \mathbb R^{K\cdot n^3}$, read by
# one bidirectional GRU layer, $h^4(t) = \mathrm{biGRU}(h^3(t), h^4(t-1))$, and **{term}`statistics pooling`**
# concatenates the mean and standard deviation over time, $h^5 = [\mu_t(h^4), \sigma_t(h^4)]$.
# An **emotion classifier** and a **speaker classifier**, each two fully connected layers with
# batch normalisation, dropout and ReLU and a softmax output, read $h^5$.
#
# **Adversarial learning.** With $J_e$ and $J_s$ the cross-entropies of the emotion and speaker
# classifiers, the encoder minimises
#
# $$J = J_e - \lambda J_s, \qquad \lambda = \frac{2}{1+\exp(-\gamma p)} - 1,$$
#
# where $p$ is the fraction of training done and $\gamma$ an annealing parameter (1.25, 2.5 or
# 3.33 in the paper): the encoder learns to *help* the emotion classifier and to *fool* the
# speaker classifier, which itself keeps minimising $J_s$. A **{term}`gradient-reversal layer <GRL>`** between
# the encoder and the speaker classifier does both in one backward pass: it is the identity going
# forward and multiplies the gradient by $-\lambda$ going back. $\lambda$ starts at 0 (a random
# speaker classifier's gradient would only disturb the first updates) and rises towards 1.
# "Without AL" is the same network without the speaker branch.
#
# **The paper's protocol.** Emo-DB {cite}`burkhardt2005emodb` (10 speakers, 7 emotions) and RAVDESS
# {cite}`livingstone2018ravdess` (24 actors, 8 emotions);
# recordings trimmed, zero-padded to the longest recording of the corpus, 20 MFCCs (frame 2048,
# hop 512, Hann). {term}`Leave-two-speakers-out <leave-two-speakers-out>`: in each fold one male and one female speaker are tested,
# another pair validates and the rest train (Emo-DB 5 folds of 6/2/2 speakers, RAVDESS 12 of
# 20/2/2). Hyper-parameters by grid search: $\gamma$, 1-4 CNN layers, 5×5 or 2×2 filters, 128 or
# 64 of them, 256 or 128 GRU units, 128 or 64 fully connected units. Metric: accuracy ({term}`WA`). The paper
# reports that one CNN layer is best, that AL adds 3-6 points over the same encoder without it,
# and that its encoder beats a {term}`TDNN` + biLSTM and a 1D CNN + GRU trained the same way.
#
# **What this chapter does.** The same network, losses, schedule and protocol on the embedded
# corpus (10 speakers, 5 female and 5 male, 4 emotions, hence 5 folds of 6/2/2 like Emo-DB), with
# the epoch kept and the grid points chosen **on the validation pair only**. We
# add what the paper does not show: the book's {term}`yardstick` (openSMILE functionals + {term}`SVM`) on the same folds, and a direct test of
# the claim behind the method — a fresh *speaker probe* trained on each frozen encoder's output
# tells how much speaker identity the representation still carries with and without AL.

# %% [markdown]
# :::{admonition} Run this chapter yourself
# :class: tip
#
# Download the source,
# {download}`04_leow_speaker_adversarial.py <../../notebooks/04_leow_speaker_adversarial.py>` (a
# jupytext notebook), or run it from the project folder, one command per {term}`profile`:
#
# ```bash
# # smoke: the tiny corpus, one depth; seconds
# serbook run notebooks/04_leow_speaker_adversarial.py -p profile=smoke
# # book: what this page shows (a documented sub-grid)
# serbook run notebooks/04_leow_speaker_adversarial.py -p profile=book
# # paper: the full grid on Emo-DB (or corpus=ravdess); for a GPU
# serbook run notebooks/04_leow_speaker_adversarial.py -p profile=paper \
#     -p corpus=emodb -p data_root=/path/to/emodb
# ```
#
# The `paper` profile trains the paper's full grid (use `corpus=ravdess` for the other corpus) and is
# meant for a GPU. Main parameters: `gammas` (e.g. `-p "gammas=[null, 1.25, 2.5, 3.33]"`),
# `cnn_layers`, `encoders`, `max_epochs`, `patience` and `probe`. Every parameter of the `parameters` cell below can be
# set with `-p name=value`.
# :::

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from serlib.frame import chapter_frame

display(Markdown(chapter_frame(
    "04_leow_speaker_adversarial",
    objectives=[
        "Build the paper's encoder: 2D CNN blocks over the MFCC matrix, a bidirectional GRU and statistics pooling",
        "Explain domain-adversarial training with speakers as the domains, $J = J_e - \\lambda J_s$, and the annealing schedule of $\\lambda$",
        "Implement it with a gradient-reversal layer, and say what the network would learn without the reversal",
        "Test the claim behind the method with a speaker probe trained on the frozen representation",
        "Run leave-two-speakers-out evaluation with every choice made on the validation pair only",
    ],
    prerequisites=[
        "{doc}`00_corpora` (the yardstick) and {doc}`../protocols` (speaker-independent evaluation); no GAN chapter is needed, the adversary here is a speaker classifier",
        "Convolutional and recurrent (GRU) networks, batch normalisation",
        "Cross-entropy and backpropagation: how a gradient reaches the encoder from two heads",
    ],
)))

# %% mystnb={"figure": {"caption": "Leow et al.'s network: 2D CNN blocks and a biGRU with statistics pooling encode the MFCC matrix; an emotion classifier reads the encoding directly and a speaker classifier through a gradient-reversal layer, whose reversed, λ-weighted gradient (dashed) trains the encoder to hide the speaker.", "name": "fig-leow-diagram"}}
import matplotlib.pyplot as plt

from serlib import diagrams

diagrams.draw("04_leow_speaker_adversarial")
plt.show()

# %% tags=["parameters"]
profile = "book"  # smoke | book | paper
corpus = None  # "embedded" (default), "emodb" or "ravdess"
data_root = None  # folder of a real corpus (None: $SERLIB_DATA/<corpus>)
allow_partial = False  # true: accept a real corpus that is not the full release (paper refuses it)
size = None  # embedded corpus size: tiny (smoke) | default (book) | large
device = None  # auto | cpu | cuda | cuda:N
seeds = None  # list of seeds, e.g. [0, 1]
workers = None  # CPU processes running the trainings (0: one per core; 1: this process)
threads = None  # torch CPU threads of each training (book: torch's default)
fold_seed = None  # seed of the male/female speaker pairing of the folds
encoders = None  # subset of ["cnn_bigru", "tdnn_bilstm", "cnn1d_gru"]
gammas = None  # Table 1 gammas for the 2D CNN biGRU, null for without AL, e.g. [null, 1.25, 2.5, 3.33]
compare_gammas = None  # gammas tried for Table 2's comparison encoders
cnn_layers = None  # numbers of 2D CNN blocks, e.g. [1, 2, 3, 4]
kernel_sizes = None  # grid: convolution sizes (5 -> 5x5, 2 -> 2x2)
filters = None  # grid: convolution filters, e.g. [128, 64]
gru_units = None  # grid: recurrent units per direction, e.g. [256, 128]
fc_units = None  # grid: classifier hidden units, e.g. [128, 64]
max_epochs = None  # most training epochs (the epoch kept is chosen on the validation pair)
patience = None  # early stopping: epochs without a validation improvement before stopping (0: off)
min_delta = None  # smallest rise of the validation score that counts as an improvement
batch_size = None  # mini-batch size
lr = None  # Adam learning rate
lr_schedule = None  # learning rate over training: constant | cosine
dropout = None  # dropout rate
select = None  # validation score that picks epochs and grid points: accuracy | uar
sample_rate = None  # Hz
n_mfcc = None  # MFCC coefficients kept
trim_top_db = None  # silence trimming threshold (dB below the peak)
input_norm = None  # speaker (each speaker with their own statistics) | train (the training speakers') | none
norm_frames = None  # frames the standardisation pools: all (padding included) | speech
mask_padding = None  # the encoder skips each utterance's padded frames (true/false)
n_mels = None  # log mel bands of the 1D CNN GRU's input
probe = None  # train speaker probes on the frozen encoders (true/false)
probe_fraction = None  # share of each speaker's utterances that trains the probe
ablation = None  # train the 2D CNN biGRU with each step of the real-speech ablation (true/false)
ablation_folds = None  # folds of that ablation: the first k (None: every fold)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from serlib import claims, plots, tables
from serlib.experiments import leow
from serlib.papers.leow import gamma_label
from serlib.parallel import apply_threads
from serlib.results import TableSaver

plots.set_style()
tables.install()
cfg = leow.Config.from_notebook(globals())
save = TableSaver(leow.CHAPTER, **leow.run_meta(cfg))
apply_threads(cfg.threads)
display(Markdown(cfg.summary()))

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show every parameter of this chapter", "code_prompt_hide": "Hide the parameters"}
leow.Config.reference().drop(index=["data_root", "probe_fraction"])

# %% [markdown]
# The `book` profile cannot train the paper's grid on a laptop CPU in minutes: the full grid is
# 4 depths × 4 settings of $\gamma$ × 16 architecture points per fold, 256 networks per fold
# before the comparison encoders. It trains a documented **sub-grid**: CNN depth 1 and 2, each
# without AL and with $\gamma = 2.5$, the two comparison encoders with $\gamma = 2.5$, one
# architecture point (5×5 filters, 64 fully connected units, and 32 filters and 64 GRU units per
# direction — half the smallest widths of the paper's grid, the one departure from the paper's
# values made only for CPU time) and one seed (the ± is over the folds, as in the paper). Each
# network trains for `max_epochs` epochs while its learning rate falls to zero along half a cosine,
# reads only the frames of its utterance (the padding masked), sees each speaker's MFCCs
# standardised with that speaker's own statistics, and keeps the epoch with the best validation
# accuracy; the section "On real speech" below shows what these choices change against the
# zero-padded input read as speech, standardised with the training speakers' statistics, with
# early stopping. The `paper` profile restores every
# value in the "paper" column. Parameters the paper does not state (epochs, stopping rule,
# optimiser, learning rate and its schedule, batch size, dropout, input standardisation, masking)
# are marked "not stated" with our choice beside them. This run:

# %% tags=["remove-input"]
display(Markdown(
    f"**corpus** `{cfg.corpus}`" + (f" (size `{cfg.size}`)" if cfg.corpus == "embedded" else "")
    + f" · **seeds** {cfg.seeds} · **CNN layers** {cfg.cnn_layers} · **γ** {[gamma_label(g) for g in cfg.gammas]}"
    + f" · **comparison γ** {cfg.compare_gammas} · **grid** kernel {cfg.kernel_sizes} × filters {cfg.filters}"
    + f" × GRU {cfg.gru_units} × FC {cfg.fc_units} · **epochs** at most {cfg.max_epochs}"
    + (f", early stopping after {cfg.patience} without improvement" if cfg.patience else " (no early stopping)")
    + (f" · changed from the profile: `{cfg.changed}`" if cfg.changed else "")))

# %% [markdown]
# ## The corpus and the folds
#
# Leave-two-speakers-out, gender-balanced: the speakers are split by gender and shuffled; the
# $i$-th man and the $i$-th woman form test pair $i$, the next pair validates, the others train.
# Every speaker is tested exactly once. The speaker classifier only knows the training speakers.

# %%
corpus_ = leow.load(cfg)
folds = leow.make_folds(corpus_, cfg.fold_seed)
display(Markdown(f"**{corpus_.describe()}**"))
fold_info = leow.fold_table(corpus_, folds)
save("folds", fold_info)
fold_info

# %% [markdown]
# ## The input and the schedule of $\lambda$
#
# Every recording is trimmed of leading and trailing silence and zero-padded to the longest one,
# so a short utterance is mostly padding. Below, the MFCC matrices of the shortest and the longest
# utterance after padding.

# %%
inputs = leow.model_inputs(cfg, corpus_)
mfcc = inputs["mfcc"]

# %% mystnb={"figure": {"caption": "Standardised MFCC matrices (coefficient against frame) of the shortest (left) and the longest (right) utterance of the corpus after trimming and zero-padding to the longest one.", "name": "fig-leow-padded-inputs"}}
fig = leow.plot_padded_inputs(corpus_, mfcc)
plt.show()

# %% tags=["remove-input"]
display(Markdown(f"Input: {mfcc.shape[0]} utterances × {mfcc.shape[1]} MFCCs × {mfcc.shape[2]} frames."))

# %% mystnb={"figure": {"caption": "The adversarial weight λ against the fraction of training done p, one curve per value of γ, with λ at the end of training in the legend.", "name": "fig-leow-lambda-schedule"}}
fig = leow.plot_lambda_schedule(sorted({1.25, 2.5, 3.33} | {g for g in cfg.gammas + cfg.compare_gammas if g}))
plt.show()

# %% [markdown]
# With $\gamma = 1.25$ the reversed gradient ends training at just over half its full weight
# ($\lambda = 0.55$); with $\gamma = 3.33$ it passes 0.5 a third of the way through
# ($p = \ln 3/\gamma$) and ends at 0.93. The number of epochs does not change these curves, only
# how many updates happen under each value of $\lambda$. Here $p$ counts the steps of `max_epochs`
# epochs: a network that stops early (`patience` above 0) has not reached the end of its curve, and
# trains under a weaker reversal than one that runs the whole schedule.
#
# ## Training
#
# For each row of the tables (encoder, CNN depth, $\gamma$), each fold and each seed, every point of
# the architecture grid is trained on the training speakers for `max_epochs` epochs (fewer if
# `patience` stops it); the epoch with the best validation accuracy is kept, and the grid point
# with the best validation accuracy is scored on the test pair.

# %%
res = leow.run(cfg, corpus_, folds)
save("scores", res.scores, note="one row per (encoder, layers, gamma, fold, seed): the grid "
           "point chosen on validation, its validation and test scores")
save("grid", res.grid, note="every trained grid point")
display(Markdown(f"Trained {res.meta['networks']} networks on `{res.meta['device']}` in {res.seconds / 60:.1f} min."))

# %% [markdown]
# The length of each training, chosen on the validation pair: per row and fold, the epoch kept and
# the number of epochs trained ("kept / trained"; with `patience` above 0 a run stops that many
# epochs after its best one, unless it reaches `max_epochs` first).

# %%
save("chosen_epochs", leow.chosen_epochs(res),
           note="per kept run: the epoch chosen on the validation pair and the epochs trained")
leow.chosen_epochs(res, wide=True)

# %% [markdown]
# ## Table 1: depth × $\gamma$
#
# Test accuracy (mean over folds × seeds; std beside it) of the 2D CNN biGRU, beside the paper's
# Emo-DB and RAVDESS columns. The paper's numbers come from other corpora (7 and 8 emotions, real
# actors); compare the *pattern* — does AL help at each depth, does depth hurt — not the level.
# Rows this run did not train show only the paper's numbers.

# %%
t1 = leow.table1(res, cfg.corpus)
save("table1", t1, metric="accuracy (%)")
t1.round(1)

# %% tags=["remove-input"]
lines = []
for g in leow.al_gains(res):
    paper = ("not in the paper's table" if g["paper"] is None
             else ", ".join(f"{name} {d:+.1f}" for name, d in g["paper"].items()))
    lines.append(f"* {g['layers']} CNN layer(s): γ = {g['gamma']:g} gives {g['al']:.1f}% against {g['base']:.1f}% "
                 f"without AL ({g['al'] - g['base']:+.1f} points; the paper's differences at this depth: {paper}).")
display(Markdown("\n".join(lines) if lines else "No (without AL, with AL) pair was trained in this run."))

# %% [markdown]
# ## Table 2: three encoders with adversarial learning
#
# "Selected on validation": for each fold and seed, the AL setting ($\gamma$, and the depth for the
# 2D CNN biGRU) with the best validation accuracy — an honest estimate. "Best row": the setting
# with the best *mean test* accuracy, which is how the paper's Table 2 repeats the best cells of
# its Table 1 (optimistic, shown for comparison only). The comparison encoders' inputs: the TDNN {cite}`tu2019adversarial`
# reads the same MFCCs; the 1D CNN GRU {cite}`li2020speaker` reads 40 log mel filterbanks plus log energy and log F0
# (YIN {cite}`decheveigne2002yin`), computed here as described in `serlib.features.lmfb_energy_pitch`.

# %%
t2 = leow.table2(res, cfg.corpus, cfg.select)
save("table2", t2, metric="accuracy (%)")
t2.round(1)

# %% [markdown]
# ## Against the yardstick, on the same folds
#
# The book's yardstick — openSMILE {cite}`eyben2013opensmile` {term}`IS10` functionals {cite}`schuller2010is10`,
# standardisation, RBF-SVM, trained on the same six training speakers per fold — plain, and with
# {term}`speaker-adaptive normalisation` (each speaker, test speakers included, z-normalised with their own
# unlabelled features; a different kind of speaker normalisation from AL, which never sees the test
# speakers). The networks of this chapter standardise their input per speaker in the same way
# (`input_norm=speaker`, see "On real speech" below), so the second row is their like-for-like
# comparison; with `input_norm=train` it is the first.

# %%
svm, svm_cms = leow.yardstick(corpus_, folds)
save("yardstick_folds", svm)
comp = leow.comparison(res, svm, cfg.select)
save("comparison", comp, metric="% (mean ± std over folds x seeds)")
comp.round(1)

# %% mystnb={"figure": {"caption": "Leave-two-speakers-out test accuracy of each method on the same folds, mean over folds and seeds with the standard deviation as error bar; the dashed grey line is the majority-class rate.", "name": "fig-leow-comparison"}}
fig = plots.bar_with_error(comp.reset_index().rename(columns={"index": "method"}), x="method",
                           y="accuracy (%)", err="accuracy std", ylabel="test accuracy (%)",
                           title="leave-two-speakers-out accuracy, same folds (mean ± std over folds x seeds)")
fig.axes[0].axhline(100 * np.bincount(corpus_.y).max() / len(corpus_.y), color="grey", ls="--", lw=1,
                    label="majority class")
fig.axes[0].legend(fontsize="small")
plt.show()

# %% tags=["remove-input"]
def yardstick_text(y: dict | None) -> str:
    """The adversarial model chosen on validation against the yardstick, in words."""
    if y is None:
        return "Not enough methods were run to compare."
    gap = abs(y["chosen_accuracy"] - y["plain"])
    out = [f"Adversarial model chosen on validation ({y['validation']} {y['chosen_validation']:.1f}%): "
           f"**{y['chosen']}**, {y['chosen_accuracy']:.1f}% test accuracy.",
           f"The plain yardstick reaches {y['plain']:.1f}%: the adversarial model is "
           + {claims.AHEAD: f"ahead by {gap:.1f} points.", claims.BEHIND: f"behind by {gap:.1f} points.",
              claims.TIE: "level with it."}[y["chosen_vs_plain"]]]
    if y["adaptive"] is not None:
        out.append(f"With speaker-adaptive normalisation the yardstick reaches {y['adaptive']:.1f}% ("
                   + {claims.AHEAD: "above", claims.BEHIND: "below", claims.TIE: "level with"}[y["adaptive_vs_chosen"]]
                   + " the adversarial model chosen on validation)"
                   + ("; the networks' input is standardised per speaker too (`input_norm=speaker`), so this is the "
                      "like-for-like comparison." if cfg.input_norm == "speaker" else "."))
    if y["without_al"] is not None:
        out.append(f"The 2D CNN biGRU without AL (depth chosen on validation) reaches {y['without_al']:.1f}%.")
    return " ".join(out)


display(Markdown(yardstick_text(leow.yardstick_comparison(comp))))

# %% [markdown]
# ## Training curves
#
# Mean over folds and seeds of the training losses $J_e$ and $J_s$, of the speaker classifier's
# accuracy on the training batches, and of the validation accuracy, per epoch (over the runs that
# reached that epoch: with early stopping, runs end at different epochs). The triangles mark each
# run's kept epoch. Under AL the
# speaker classifier keeps learning (its own loss is minimised), while the encoder is pushed with
# the growing weight $\lambda$ to make its job harder: $J_s$ falls less, or rises again, as
# $\lambda$ grows.

# %% mystnb={"figure": {"caption": "Per epoch, mean over folds and seeds: training losses J_e (solid) and J_s (dashed), the speaker classifier's accuracy on the training batches with the chance level dotted, and the emotion accuracy on the validation pair with each run's kept epoch marked by a triangle, one colour per setting of γ.", "name": "fig-leow-training-curves"}}
fig = leow.plot_training_curves(res)
plt.show()

# %% [markdown]
# ## Confusion matrices
#
# Test predictions of all folds and seeds pooled, rows normalised (recall per class), for the
# 2D CNN biGRU without and with AL at the first depth, and for the plain yardstick.

# %% mystnb={"figure": {"caption": "Row-normalised confusion matrices (true emotion in rows, predicted in columns) of the test predictions pooled over folds and seeds, for the plain yardstick and the 2D CNN biGRU at the first depth without and with AL.", "name": "fig-leow-confusions"}}
first = int(cfg.cnn_layers[0])
keys = [leow.run_key("cnn_bigru", first, g) for g in cfg.gammas[:2]] if "cnn_bigru" in cfg.encoders else []
svm_plain = {k: v for k, v in svm_cms.items() if "adaptive" not in k}
fig = leow.plot_confusions(res, keys, extra=svm_plain)
plt.show()

# %% [markdown]
# ## Accuracy per test speaker
#
# The ± of the tables is the spread over folds, and each fold tests one pair of speakers: how well
# a model does depends a great deal on who is speaking. Below, the test accuracy of each speaker
# (every speaker is tested in exactly one fold) for the 2D CNN biGRU at the first depth without
# and with AL.

# %% mystnb={"figure": {"caption": "Test accuracy of each speaker, pooled over seeds, for the 2D CNN biGRU at the first depth without and with AL; the dashed grey line is the majority-class rate.", "name": "fig-leow-per-speaker"}}
per_speaker = leow.per_speaker_accuracy(res, keys)
if not per_speaker.empty:
    save("per_speaker", per_speaker.round(1), metric="test accuracy (%)")
    fig = leow.plot_per_speaker(per_speaker, chance=100 * np.bincount(corpus_.y).max() / len(corpus_.y))
    plt.show()

# %% [markdown]
# ## Beyond the paper: does AL remove the speaker?
#
# The paper shows only emotion accuracy. Whether the representation is in fact speaker-invariant
# can be measured: freeze each trained encoder, compute its pooled output $h^5$ for every
# utterance, and train a fresh linear **speaker probe** (shrinkage linear discriminant analysis, the
# classic speaker-recognition back end) on half of each speaker's utterances, testing it on the
# other half. Two speaker sets: the four **unseen** speakers of the
# fold (validation and test pairs, never seen by the encoder) and the **training** speakers (those
# the adversary was trained against). The rows `input/...` probe the time-averaged input features
# themselves (mean and std of each MFCC / filterbank), the speaker information there is to remove.
# With `input_norm=speaker` each speaker's features average to zero over that speaker's own
# recordings, so these rows are low by construction: what an encoder's row shows above them is
# speaker information the encoder rebuilt from how each speaker's features move in time. A probe
# can even fall below the majority rate there, because the half of a speaker's utterances it is
# tested on then mirrors the half it was trained on. The black ticks mark the majority-class rate.
#
# How to read it: if AL removed speaker information, the AL rows would fall toward the ticks, at
# least for the training speakers the adversary was trained against. If instead they stay level
# with the rows without AL while the adversary's own accuracy (training curves above) falls toward
# chance, AL has fooled *its* adversary without removing the information: the speaker classifier is
# a moving target, and the encoder can keep speaker identity in a form the current classifier does
# not read but a fresh one does — the weakness {cite:t}`elazar2018adversarial` found when removing
# demographic attributes from text representations adversarially.

# %%
pt = leow.probe_table(res)
if pt.empty:
    display(Markdown("Speaker probes were switched off (`probe=false`)."))
else:
    save("speaker_probe", pt, metric="speaker-ID accuracy (%)")
    display(pt.round(1))

# %% mystnb={"figure": {"caption": "Speaker-ID accuracy of a fresh linear probe on each frozen representation (input features and trained encoders), for the unseen (blue) and the training (orange) speakers, mean with standard deviation over folds and seeds; black ticks mark the majority-class rate.", "name": "fig-leow-speaker-probe"}}
if not pt.empty:
    fig = leow.plot_probe(pt)
    plt.show()

# %% tags=["remove-input"]
if not pt.empty:
    ps = leow.probe_summary(res)
    lines = [f"* {r['speakers']} speakers, {r['layers']} CNN layer(s): speaker-ID accuracy {r['without_al']:.1f}% "
             f"without AL, {r['with_al']:.1f}% with γ = {r['gamma']:g} ({r['difference']:+.1f} points)."
             for r in ps["pairs"]]
    if ps["adversary"] is not None:
        lines.append(f"* The adversary itself (the speaker classifier trained inside the AL networks) ended training "
                     f"at {ps['adversary']:.1f}% on its training batches, averaged over the AL runs (chance "
                     f"{ps['chance']:.1f}%).")
    if ps["inputs"]:
        lines.append("* For reference, the same probe on the time-averaged inputs: "
                     + ", ".join(f"{k} {v:.1f}%" for k, v in ps["inputs"].items()) + " (unseen speakers).")
    display(Markdown("\n".join(lines) if ps["pairs"] else "No (without AL, with AL) pair was probed in this run."))

# %% [markdown]
# A 2-d view of the same representations: PCA of the pooled encoder outputs of the first fold's
# training speakers, coloured by speaker (left) and by emotion (right). A speaker-invariant
# representation mixes the speakers' clouds while keeping the emotions apart.

# %% mystnb={"figure": {"caption": "PCA of the pooled encoder outputs of the first fold's training speakers, one row per model (without and with AL), coloured by speaker (left) and by emotion (right).", "name": "fig-leow-projection"}}
if any(k in res.embeddings for k in keys):
    fig = leow.plot_projection(res, keys)
    plt.show()
else:
    display(Markdown("*Skipped: the 2D CNN biGRU is not among this run's `encoders`, so there is no projection "
                     "to show.*"))

# %% [markdown]
# ## On real speech: padding, stopping and speakers
#
# Every recording is zero-padded to the longest one, as in the paper, so a short utterance is
# mostly padding. A network that reads the padding as input meets it three times: the
# standardisation statistics pool padded frames with speech; the backward direction of the biGRU
# starts in padding and reaches the speech only after crossing it; and statistics pooling averages
# speech and padding, so the pooled vector mixes what was said with how long it lasted. Masking
# removes all three: statistics over speech frames only, padded frames set to the training mean,
# convolutions that read zeros past an utterance's end, a recurrent layer that stops at its last
# frame, and pooling over its frames only (`norm_frames=speech`, `mask_padding=true`). Each
# training batch is then cut after its longest utterance, so batch normalisation's statistics
# pool less padding too, and a batch of short utterances trains faster.
#
# The second change is about when training stops. The validation part is one pair of speakers;
# its accuracy jumps by several points from one epoch to the next, so stopping after a few epochs
# without improvement (`patience`) often stops an encoder that is still learning, and the epoch
# kept is the luckiest of a noisy few. Training every epoch (`patience=0`) while the learning rate
# falls to zero along half a cosine (`lr_schedule=cosine`) lets the validation accuracy settle
# before the best epoch is picked.
#
# The third change is about speakers. Actors differ in vocal tract, pitch range and recording
# level, and MFCCs carry all of it. Standardising every speaker with the
# training speakers' pooled statistics leaves each held-out speaker offset from the training
# cloud, and a network that has seen twenty speakers meets that offset on the first test
# utterance. Standardising each speaker's MFCCs with that speaker's own mean and standard deviation
# (`input_norm=speaker`) removes the offset before the network reads anything. It reads a held-out
# speaker's recordings, never their labels: the speaker-adaptive normalisation of the yardstick's
# second row, applied to the network's input. AL, in contrast, never sees the test speakers; the
# two are different answers to the same problem, and the table shows what each adds.
#
# The paper states neither its input standardisation, nor its stopping rule, nor its learning
# rate, and its recordings are padded with zeros; each step below adds one change to the one
# before, training the 2D CNN biGRU at the first depth without and with AL on the same folds.

# %%
if cfg.ablation and "cnn_bigru" in cfg.encoders:
    abl = leow.real_speech_ablation(cfg, corpus_, folds[: cfg.ablation_folds], res)
    save("real_speech", abl, metric="test accuracy (%)")
    display(abl.round(1))
    moves = [f"{'without AL' if m['setting'] == 'without AL' else 'with AL (γ = ' + m['setting'] + ')'} from "
             f"{m['first']:.1f} % to {m['last']:.1f} % ({m['last'] - m['first']:+.1f} points)"
             for m in leow.ablation_moves(abl)]
    display(Markdown(f"On this corpus {100 * leow.padding_share(inputs):.0f} % of the 2D CNN biGRU's input frames "
                     f"are padding. From the first step to the last, its mean test accuracy goes "
                     f"{' and '.join(moves)}. Each fold tests one pair of speakers, so a difference smaller than "
                     "the spread over folds (the std columns) is not established by this run."))
else:
    display(Markdown("*Skipped: this run trains no 2D CNN biGRU, or the ablation was switched off "
                     "(`ablation=false`).*"))

# %% [markdown]
# ## What this run shows
#
# The summary below is written from this run's numbers. On the embedded corpus the speaker
# differences are synthetic (voices, per-session recording channels, speaker-specific ways of
# expressing each emotion), so the size of the AL effect need not match the paper's on actors'
# speech; the protocol and the network are the paper's. Worth trying next: the paper's full
# $\gamma$ grid (`-p "gammas=[null, 1.25, 2.5, 3.33]"`) and the paper's widths
# (`-p "filters=[128, 64]" -p "gru_units=[256, 128]"`, on a GPU).

# %% tags=["remove-input"]
rs = leow.run_summary(res, comp, cfg)
out = []
if rs["gains"]:
    paper = ", ".join(f"{lo:+.1f} to {hi:+.1f} on {name}" for name, (lo, hi) in rs["paper_gains"].items())
    out.append(f"* **AL vs without AL (2D CNN biGRU).** AL was ahead on average in "
               f"{sum(g['verdict'] == claims.AHEAD for g in rs['gains'])} of {len(rs['gains'])} "
               "(depth, γ) comparisons. Paired by fold and seed, AL minus without AL: "
               + "; ".join(f"{g['layers']} layer(s), γ = {g['gamma']:g}: {g['mean']:+.1f} ± {g['std']:.1f} points, "
                           f"AL ahead in {g['ahead']} of {g['n']} runs" for g in rs["gains"])
               + f" (the paper at one layer: {paper}).")
if rs["by_depth"]:
    out.append("* **Depth.** Mean accuracy by depth over the settings run (with and without AL): "
               + ", ".join(f"{k}: {v:.1f}%" for k, v in rs["by_depth"].items())
               + f" — the shallowest is {'best' if rs['shallowest_best'] else 'not best'} "
               "here (the paper found one layer best).")
if len(rs["encoders"]) > 1:
    out.append("* **Encoders with AL**, best first: " + "; ".join(f"{name} {acc:.1f}%" for name, acc in rs["encoders"])
               + " (the paper ranks the 2D CNN biGRU first).")
out.append("* **Yardstick.** " + yardstick_text(rs["yardstick"]))
if rs["probe"] is not None:
    pr = rs["probe"]
    out.append(f"* **Speaker probe (unseen speakers).** {pr['without_al']:.1f}% without AL, {pr['with_al']:.1f}% with "
               f"AL (all depths and γ pooled): AL "
               + ("reduced" if pr["verdict"] == claims.BEHIND else "did not clearly reduce")
               + " the speaker information a fresh linear classifier can read from the representation (paired on "
               f"depth, fold and seed: {pr['difference'].mean:+.1f} points"
               + (f", 95 % interval {pr['difference'].low:+.1f} to {pr['difference'].high:+.1f}"
                  if pr["difference"].n > 1 else ", one run and no interval")
               + f"; 'reduced' asks for more than {leow.PROBE_MARGIN:g} point with the interval below zero)"
               + (f", while the adversary inside the network ended at {pr['adversary']:.1f}% on its training batches."
                  if pr["adversary"] is not None else "."))
prof = rs["profile"]
if prof["name"] != "paper":
    length = (f"at most {prof['max_epochs']} epochs, stopped after {prof['patience']} without a validation "
              "improvement" if prof["patience"] else f"{prof['max_epochs']} epochs")
    out.append(f"* Profile `{prof['name']}`: a sub-grid with {length} and seeds {prof['seeds']}; "
               "the `paper` profile runs the full grid.")
if rs["epochs"] is not None:
    e = rs["epochs"]
    out.append(f"* **Training length.** The epoch kept was chosen on the validation pair: from epoch "
               f"{e['first']} to {e['last']} (median {e['median']:g}) over the {e['runs']} kept runs, which trained "
               f"{e['trained_min']} to {e['trained_max']} epochs"
               + (f"; {e['stopped_early']} of them stopped early." if prof["patience"] else "."))
display(Markdown("\n".join(out)))

# %% [markdown]
# ## Claims: the paper and this run
#
# The paper's claims, each with this run's measurement over the folds and seeds (paired on the
# same fold and seed where two models are compared; the mean, its standard deviation and the
# 95 % Student-t interval of the mean, the fold x seed runs taken as the sample) and a verdict
# read from that interval: *held* when the whole interval agrees with the claim, *not held* when
# the whole interval contradicts it, *inconclusive* when it reaches both ways. The paper's
# numbers are from Emo-DB and RAVDESS; on the embedded corpus the directions are what carries
# over, not the levels.

# %% tags=["remove-input"]
from serlib.papers.leow import TABLES as LEOW_TABLES
from serlib.papers.leow import table1_row

PAPER_CORPORA = {"emodb": "Emo-DB", "ravdess": "RAVDESS"}


def runs_of(table, **match) -> pd.Series:
    """Test accuracy per (fold, seed) of the rows of ``table`` matching every column=value (None: missing)."""
    keep = np.ones(len(table), dtype=bool)
    for col, value in match.items():
        keep &= table[col].isna().to_numpy() if value is None else (table[col] == value).to_numpy()
    return table[keep].set_index(["fold", "seed"])["accuracy"]


def paper_diff(row_a: str, row_b: str, table: str = "table1") -> str:
    """The paper's difference between two rows, per corpus."""
    return ", ".join(f"{LEOW_TABLES[f'{table}_{c}'].values[row_a] - LEOW_TABLES[f'{table}_{c}'].values[row_b]:+.1f} "
                     f"({name})" for c, name in PAPER_CORPORA.items())


s_ = res.scores
al_gammas = [g for g in cfg.gammas if g is not None]
claim_rows = []
if "cnn_bigru" in cfg.encoders and al_gammas and None in cfg.gammas:
    g0, depth0 = al_gammas[0], int(cfg.cnn_layers[0])
    gain = claims.paired_difference(runs_of(s_, encoder="cnn_bigru", layers=depth0, gamma=g0),
                                    runs_of(s_, encoder="cnn_bigru", layers=depth0, gamma=None),
                                    scale=100, per="fold x seed runs")
    claim_rows.append(claims.Claim(f"AL raises the accuracy of the same 2D CNN biGRU ({depth0} CNN layer(s), "
                                   f"γ = {g0:g}; points)", paper_diff(table1_row(depth0, g0), table1_row(depth0, None)),
                                   gain, claims.claim_status(gain, at_least=0)))
    if len(cfg.cnn_layers) > 1:
        d1, d2 = int(cfg.cnn_layers[0]), int(cfg.cnn_layers[1])
        g = claims.paired_difference(runs_of(s_, encoder="cnn_bigru", layers=d1, gamma=g0),
                                     runs_of(s_, encoder="cnn_bigru", layers=d2, gamma=g0),
                                     scale=100, per="fold x seed runs")
        claim_rows.append(claims.Claim(f"Fewer CNN layers are better with AL ({d1} against {d2}, γ = {g0:g}; points)",
                                       paper_diff(table1_row(d1, g0), table1_row(d2, g0)), g,
                                       claims.claim_status(g, at_least=0)))
    if cfg.corpus in PAPER_CORPORA:
        m = claims.measure(runs_of(s_, encoder="cnn_bigru", layers=depth0, gamma=g0), scale=100,
                           per="fold x seed runs")
        paper_acc = LEOW_TABLES[f"table1_{cfg.corpus}"].values[table1_row(depth0, g0)]
        claim_rows.append(claims.Claim(f"The paper's accuracy at {depth0} CNN layer(s), γ = {g0:g} lies in this run's "
                                       "95 % interval", paper_acc, m, claims.interval_contains(m, paper_acc)))
for enc in ("tdnn_bilstm", "cnn1d_gru"):
    g_enc = [g for g in cfg.compare_gammas if g in al_gammas]
    if enc in cfg.encoders and "cnn_bigru" in cfg.encoders and g_enc:
        g = claims.paired_difference(runs_of(s_, encoder="cnn_bigru", layers=int(cfg.cnn_layers[0]), gamma=g_enc[0]),
                                     runs_of(s_, encoder=enc, gamma=g_enc[0]), scale=100, per="fold x seed runs")
        claim_rows.append(claims.Claim(f"With AL, the 2D CNN biGRU beats the {leow.TABLE2_ROWS[enc]} "
                                       f"(γ = {g_enc[0]:g}; points)",
                                       paper_diff(leow.TABLE2_ROWS["cnn_bigru"], leow.TABLE2_ROWS[enc], "table2"), g,
                                       claims.claim_status(g, at_least=0)))
if not res.probe.empty and "cnn_bigru" in cfg.encoders and al_gammas and None in cfg.gammas:
    pr = res.probe[(res.probe["encoder"] == "cnn_bigru") & (res.probe["speakers"] == "unseen")]
    g = claims.paired_difference(runs_of(pr, layers=int(cfg.cnn_layers[0]), gamma=al_gammas[0]),
                                 runs_of(pr, layers=int(cfg.cnn_layers[0]), gamma=None), scale=100,
                                 per="fold x seed runs")
    claim_rows.append(claims.Claim("AL makes the representation speaker-invariant: a fresh probe identifies fewer "
                                   "unseen speakers (points)", "not measured", g, claims.claim_status(g, at_most=0)))
claims_ch4 = claims.claims_table(claim_rows)
save("claims", claims_ch4)
claims_ch4

# %% [markdown]
# ## On real corpora
#
# Everything above ran on the embedded corpus. Below: the chapter's tables on Emo-DB and RAVDESS, the paper's corpora (the book's workflow records both), when a run on it has been recorded
# with `serbook results add` — its tables beside the paper's numbers, and where they came from
# (corpus and coverage, commit, device, date, parameters). Only the tables are published, never the
# corpus.

# %% tags=["remove-input"]
from serlib import recorded

recorded.show("04_leow_speaker_adversarial")

# %% [markdown]
# :::{admonition} Takeaways
# :class: tip
#
# * A gradient-reversal layer turns one backward pass into a minimax game: the speaker classifier minimises $J_s$ while the encoder, through the reversed gradient, maximises it.
# * $\lambda$ starts at 0 and rises towards 1 as $2/(1+e^{-\gamma p}) - 1$, so a speaker classifier that is still random cannot disturb the first updates.
# * Whether the representation lost the speaker is measured, not assumed: a fresh linear probe on the frozen encoder output reads how much speaker identity is left, with and without adversarial learning.
# * Choosing the epoch and the grid point on the validation pair only keeps the test speakers out of every decision.
# :::

# %% [markdown]
# ## Exercises
#
# Each exercise changes one thing in the adversarial training and asks you to explain the
# effect. They reuse the chapter's corpus (`corpus_`), folds (`folds`), padded MFCCs (`inputs`) and
# configuration (`cfg`), and train the 2D CNN biGRU on the first fold with the first seed
# (`leow.fit_one`), so each takes a minute or less on a laptop CPU.

# %% [markdown] tags=["exercise"]
# ### Exercise 1: remove the gradient reversal
#
# The reversal layer flips the sign of the speaker loss's gradient on its way into the encoder.
# Remove it while keeping the speaker classifier (`leow.fit_one(..., reversal=False)`): the
# encoder then *helps* the speaker classifier, which is ordinary multi-task learning. On the first
# fold, train the network without AL, with AL, and without the reversal, and measure the speaker
# probe on the training and on the unseen speakers. Which way does the speaker information go, and
# what does that say about what the reversal does?

# %% tags=["solution"] mystnb={"figure": {"caption": "Speaker-ID accuracy of a fresh linear probe on the unseen and on the training speakers of the first fold, for the network without AL, with AL and without the gradient reversal; the dashed grey line is the majority-class rate of the training speakers.", "name": "fig-leow-ex-reversal"}}
import pandas as pd

fold, seed = folds[0], cfg.seeds[0]  # starter
layers = int(cfg.cnn_layers[0])  # starter
gamma = next((g for g in cfg.gammas if g is not None), 2.5)  # starter
runs = {"without AL": {"gamma": None},  # starter
        "with AL (gradient reversal)": {"gamma": gamma},  # starter
        "no reversal (multi-task)": {"gamma": gamma, "reversal": False}}  # starter
rows = []
for name, kw in runs.items():  # starter
    out = leow.fit_one(cfg, corpus_, fold, inputs, layers=layers, seed=seed, **kw)  # starter
    h = out["history"]
    rows.append({"model": name, "emotion accuracy (%)": 100 * out["scores"]["accuracy"],
                 "probe: unseen speakers (%)": 100 * out["probe"]["unseen"],
                 "probe: training speakers (%)": 100 * out["probe"]["training"],
                 "speaker classifier, last epoch (%)": 100 * h["speaker_accuracy"].iloc[-1],
                 "chance training": 100 * out["probe"]["chance training"]})
rev = pd.DataFrame(rows).set_index("model")
ax = rev[["probe: unseen speakers (%)", "probe: training speakers (%)"]].plot.barh(figsize=(7, 3))
ax.axvline(rev["chance training"].iloc[0], color="grey", ls="--", lw=1, label="majority class (training speakers)")
ax.set_xlabel("speaker-ID accuracy of a fresh linear probe (%)")
ax.legend(fontsize="x-small", loc="lower right")
plt.show()

# %% tags=["solution-only"]
p = rev["probe: training speakers (%)"]
no_al, al, multi = p["without AL"], p["with AL (gradient reversal)"], p["no reversal (multi-task)"]
display(Markdown(
    f"On {fold.name}, the fresh probe identifies the training speakers from the encoder's output with "
    f"{no_al:.0f} % accuracy without AL, {al:.0f} % with AL and {multi:.0f} % without the reversal. "
    + (f"Without the reversal the speaker loss *trains* the encoder to carry the speaker, and the probe finds more of "
       f"it than with the reversal ({multi - al:+.0f} points): the sign of that one gradient decides which way the "
       "speaker information goes." if multi > al else
       f"Removing the reversal did not put more speaker information into the encoder than AL left there "
       f"({multi - al:+.0f} points): on this fold the sign of the speaker gradient does not decide how much of the "
       "speaker a fresh probe can read.")
    + " Emotion accuracy on the test pair: "
    + ", ".join(f"{v:.1f} % ({k})" for k, v in rev["emotion accuracy (%)"].items()) + "."))
rev.drop(columns="chance training").round(1)

# %% [markdown] tags=["exercise"]
# ### Exercise 2: full-strength reversal from the start
#
# With γ = 10, λ passes 0.9 after less than a third of training. On the first fold, train the
# network with the chapter's γ and with γ = 10 (`leow.fit_one(..., gamma=10.0)`) and compare the
# adversary's accuracy over the epochs, the emotion accuracy on the validation pair and on the
# test pair, and the speaker probe. Why does the paper let λ start at 0?

# %% tags=["solution"] mystnb={"figure": {"caption": "On the first fold, for the chapter's γ and γ = 10: the reversal weight λ against the fraction of training done (left), the speaker classifier's accuracy on the training batches (middle) and the emotion accuracy on the validation pair (right) per epoch.", "name": "fig-leow-ex-gamma"}}
import pandas as pd

from serlib.models.sier import lambda_schedule

fold, seed = folds[0], cfg.seeds[0]  # starter
layers = int(cfg.cnn_layers[0])  # starter
gamma = next((g for g in cfg.gammas if g is not None), 2.5)  # starter
gammas_ = sorted({gamma, 10.0})  # starter
outs = {g: leow.fit_one(cfg, corpus_, fold, inputs, layers=layers, gamma=g, seed=seed) for g in gammas_}  # starter
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
p = np.linspace(0, 1, 101)
for i, (g, out) in enumerate(outs.items()):
    h = out["history"]
    axes[0].plot(p, lambda_schedule(p, g), color=f"C{i}", label=f"γ = {g:g}")
    axes[1].plot(h["epoch"], h["speaker_accuracy"], color=f"C{i}", label=f"γ = {g:g}")
    axes[2].plot(h["epoch"], h["val_accuracy"], color=f"C{i}", label=f"γ = {g:g}")
axes[0].set(xlabel="fraction of training done", ylabel="λ", title="reversal weight")
axes[1].set(xlabel="epoch", ylabel="accuracy", title="speaker classifier (training batches)")
axes[2].set(xlabel="epoch", ylabel="accuracy", title="emotion, validation pair")
for ax in axes:
    ax.legend(fontsize="small")
plt.tight_layout()
plt.show()

# %% tags=["solution-only"]
gam = pd.DataFrame({f"γ = {g:g}": {"test accuracy (%)": 100 * o["scores"]["accuracy"], "best epoch": o["best_epoch"],
                                   "speaker classifier, last epoch (%)":
                                       100 * o["history"]["speaker_accuracy"].iloc[-1],
                                   "probe: training speakers (%)": 100 * o["probe"]["training"],
                                   "probe: unseen speakers (%)": 100 * o["probe"]["unseen"]}
                    for g, o in outs.items()}).T
a, b = gam.iloc[0], gam.iloc[-1]


def reaches(g: float, level: float = 0.9) -> str:
    above = np.flatnonzero(lambda_schedule(p, g) > level)
    return f"after {100 * p[above[0]]:.0f} % of training" if len(above) else "never"


display(Markdown(
    f"λ passes 0.9 {reaches(gammas_[-1])} with γ = {gammas_[-1]:g} and {reaches(gammas_[0])} with "
    f"γ = {gammas_[0]:g}. From the smaller to the larger γ, the adversary's accuracy at the last epoch goes from "
    f"{a['speaker classifier, last epoch (%)']:.0f} % to {b['speaker classifier, last epoch (%)']:.0f} %, the fresh "
    f"probe on the training speakers from {a['probe: training speakers (%)']:.0f} % to "
    f"{b['probe: training speakers (%)']:.0f} %, and the test emotion accuracy from {a['test accuracy (%)']:.1f} % "
    f"to {b['test accuracy (%)']:.1f} %. "
    + ("The early, strong reversal cost emotion accuracy: the emotion branch had to learn while the encoder was "
       "already being pushed hard against the speaker classifier."
       if b["test accuracy (%)"] < a["test accuracy (%)"] else
       "The early, strong reversal did not cost emotion accuracy on this fold.")))
gam.round(1)

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :labelprefix: 4-
# ```
