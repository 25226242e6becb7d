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
# # InfoGAN augmentation with mutual information and cross-modal alignment
#
# *Reproducing* C.-S. Ahn, R. Rana, S. Sivadas, C. Busso and J. C. Rajapakse, **Improving
# Speech Emotion Recognition with Mutual Information Regularized Generative Model** (2025) {cite}`ahn2025infogan`.
#
# The paper does not generate audio. It generates the *feature* that an SER model feeds to its
# last, linear layer, and it asks the generator to keep two things recoverable from what it
# makes: the emotion and the words. The work happens in three stages.
#
# **Stage 1 — a baseline SER model aligned with text.** An audio encoder gives
# $h = f_a(x_a)$ and a linear layer predicts the emotion, $\hat y = \mathrm{softmax}(W_y h + b_y)$,
# trained with cross-entropy $\mathcal L_{SER}$. A frozen text encoder embeds the transcript,
# $t = f_t(x_t)$, and two contrastive terms pull $h$ toward $t$: a CLAP-style {cite}`elizalde2023clap` loss between $t$
# and $h$ and an InfoNCE {cite}`oord2018cpc` loss between $t$ and a projection $\hat t = W_t h + b_t$,
#
# $$\mathcal L_{CL} = -\log \frac{\exp(\mathrm{sim}(t^i, h^i)/\tau)}{\sum_{j=1}^{B} \exp(\mathrm{sim}(t^i, h^j)/\tau)},
# \qquad
# \mathcal L_{MI} = -\log \frac{\exp(\mathrm{sim}(t^i, \hat t^i)/\tau)}{\sum_{j=1}^{B} \exp(\mathrm{sim}(t^i, \hat t^j)/\tau)},$$
#
# all three losses summed ($\mathrm{sim}$ is the cosine similarity, $B$ the mini-batch).
#
# **Stage 2 — an InfoGAN that generates $\hat h = G(z, c, t)$.** Generator and discriminator are
# single linear layers without activation, trained with {term}`mixup` of real and generated features.
# {term}`InfoGAN` {cite}`chen2016infogan` adds to the {term}`GAN` game $\min_G \max_D V(D, G)$ a {term}`mutual-information <mutual information>` term,
# $\min_{G,Q}\max_D V(D,G) - \lambda I(c; G(z,c))$, estimated through an auxiliary network $Q$.
# Here $Q$ *is* stage 1's layers: the emotion code is recovered by cross-entropy through
# $W_y$, the text code by InfoNCE through $W_t$:
#
# $$\mathcal L_{I_y} = -\mathbb E \sum_c 1(y=c) \log \mathrm{softmax}(W_y \hat h + b_y), \qquad
# \mathcal L_{I_t} = -\log \frac{\exp(\mathrm{sim}(t^i, W_t\hat h^i + b_t)/\tau)}{\sum_j \exp(\mathrm{sim}(t^i, W_t\hat h^j + b_t)/\tau)}.$$
#
# The paper's argument: unlike a GAN's adversarial losses, these MI losses *measure* whether the
# generated features still carry the emotion and the words, so they are an observable of quality.
#
# **Stage 3 — augmentation.** Everything but the classifier is frozen. SER case: the classifier
# is fine-tuned on the real $h$ plus as many generated $\hat h$ (twice the data). Multimodal case:
# a new linear layer is trained on all four concatenations $\{h, \hat h\} \times \{t, t'\}$ with
# $t' = W_t \hat h + b_t$ (four times the data). On a class-imbalanced corpus (MSP-Podcast) the
# paper instead generates only for the minority classes, from the emotion label alone.
#
# **What we run.** No model hub is reachable, so by default the text encoder is
# all-MiniLM-L6-v2 {cite}`wang2020minilm,reimers2019sbert` (a pretrained sentence encoder installed with its weights) and the audio
# encoder is a small CNN on log-mel frames trained in stage 1; the `paper` profile uses a local
# {term}`AST` {cite}`gong2021ast` and {term}`BERT` {cite}`devlin2019bert` as the paper does. The protocol is the paper's: {term}`leave-one-speaker-out <LOSO>`, {term}`UAR` per
# held-out speaker, mean ± std over speakers. Beside every table stand the paper's numbers and
# the book's {term}`yardstick` ({term}`IS10` functionals + RBF-{term}`SVM`, plain and {term}`speaker-adaptive <speaker-adaptive normalisation>`) on the same folds.

# %% [markdown]
# :::{admonition} Run this chapter yourself
# :class: tip
#
# Download the source, {download}`03_ahn_infogan.py <../../notebooks/03_ahn_infogan.py>` (a jupytext
# notebook), or run it from the project folder, one command per {term}`profile`:
#
# ```bash
# # smoke: the tiny corpus, four folds; under a minute
# serbook run notebooks/03_ahn_infogan.py -p profile=smoke
# # book: what this page shows (the embedded corpus, every speaker)
# serbook run notebooks/03_ahn_infogan.py -p profile=book
# # paper: IEMOCAP with local AST and BERT checkpoints; for a GPU
# serbook run notebooks/03_ahn_infogan.py -p profile=paper \
#     -p data_root=/path/to/IEMOCAP_full_release \
#     -p audio_model_path=/models/ast-finetuned-audioset-10-10-0.4593 \
#     -p text_model_path=/models/bert-base-uncased
# ```
#
# The `paper` profile uses IEMOCAP with a local AST audio encoder and BERT text encoder, as the paper
# does, and is meant for a GPU. Main parameters: `split`, `audio_encoder`, `text_encoder`,
# `lambda_mi`, `mixup_alpha`, `epochs_gan` and `aug_factor`. Every parameter of the `parameters`
# cell below can be set with `-p name=value`. Where the protocol has a validation part
# (MSP-Podcast's Development set), stage 1 keeps its best epoch on it and stops early
# (`epochs_stage1` at most, `patience_stage1`, `min_delta_stage1`; the paper names neither its
# epochs nor early stopping); the InfoGAN trains its fixed `epochs_gan`, as a GAN has no
# validation score.
# :::

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from serlib.frame import chapter_frame

display(Markdown(chapter_frame(
    "03_ahn_infogan",
    objectives=[
        "Explain how InfoGAN adds a mutual-information term to the GAN game and estimates it with an auxiliary network",
        "Trace the three stages: an SER model aligned with text by contrastive (InfoNCE) losses, an InfoGAN that generates its features, and the augmented classifier",
        "Use the MI losses $\\mathcal L_{I_y}$ and $\\mathcal L_{I_t}$ as an observable of how much emotion and text the generated features keep",
        "Read the paper's ablation (Table III): without the cross-modal alignment, the text code or the MI maximisation",
    ],
    prerequisites=[
        "{doc}`00_corpora` (the yardstick) and {doc}`01_sahu2018_gan` (the GAN game); {doc}`02_latif2020_mixup_gan` for mixup, which the InfoGAN's training uses",
        "Cross-entropy, mutual information and its contrastive (InfoNCE) lower bound; cosine similarity",
        "Sentence and audio encoders as feature extractors (no training of them is assumed)",
    ],
)))

# %% mystnb={"figure": {"caption": "Ahn et al.'s three stages: stage 1 trains an audio encoder whose feature h predicts the emotion and is aligned with a frozen text encoder's embedding t; stage 2 trains an InfoGAN that generates features from noise, an emotion code and a text code, the stage-1 heads recovering both codes (the MI terms); stage 3 fine-tunes the classifier on real and generated features (dashed: the heads are reused).", "name": "fig-ahn-diagram"}}
import matplotlib.pyplot as plt

from serlib import diagrams

diagrams.draw("03_ahn_infogan")
plt.show()

# %% [markdown]
# ## Tables V and VI on your copy of MSP-IMPROV or MSP-Podcast
#
# The multimodal tables of the paper's other corpora, with its encoders from local folders:
#
# ```bash
# # Table VI: MSP-Podcast (its Transcripts/ and its Train/Development/Test1 partition),
# # wav2vec2 and Llama, classes balanced by generation
# serbook run notebooks/03_ahn_infogan.py -p profile=paper -p corpus=msp_podcast \
#     -p data_root=/path/to/MSP-Podcast -p balance_classes=true \
#     -p audio_encoder=wav2vec2 -p audio_model_path=/models/wav2vec2-large-robust-12-ft-emotion-msp-dim \
#     -p text_encoder=llama -p text_model_path=/models/Meta-Llama-3-8B
# # Table V: MSP-IMPROV with your transcript table (CSV id,text, e.g. from an ASR system)
# serbook run notebooks/03_ahn_infogan.py -p profile=paper -p corpus=msp_improv \
#     -p data_root=/path/to/MSP-IMPROV -p transcripts=/path/to/msp_improv_text.csv \
#     -p audio_encoder=wav2vec2 -p audio_model_path=/models/wav2vec2-large-robust-12-ft-emotion-msp-dim \
#     -p text_encoder=roberta -p text_model_path=/models/roberta-large
# ```
#
# MSP-IMPROV ships no text for most of its utterances: give a transcript table
# (`transcripts`), and/or the target sentences of its documentation (`target_sentences`, CSV
# `sentence,text`; they fill the read and target turns only). Utterances left without text stop
# the run unless `missing_text=exclude`, which leaves them out and says how many.
# A transcript table serves every corpus, the embedded one included: the utterances it lists take
# its text, the others keep their own, and MSP-Podcast then needs no `Transcripts/` folder. A
# line with an empty text (an ASR system that heard no words) leaves its utterance without text.

# %% tags=["parameters"]
profile = "book"  # smoke | book | paper
corpus = None  # embedded (default) | iemocap | msp_improv | msp_podcast
data_root = None  # folder of a real corpus (None: the corpus folder under SERLIB_DATA)
allow_partial = False  # true: accept a real corpus that is not the full release (paper refuses it)
size = None  # embedded corpus size: tiny (smoke) | default (book) | large
device = None  # auto | cpu | cuda | cuda:N
seeds = None  # list of seeds, e.g. [0, 1, 2]
split = None  # auto | speaker (leave-one-speaker-out) | session | predefined (auto: predefined for MSP-Podcast)
test_set = None  # MSP-Podcast test set of the predefined split: test1 | test2 | test3
transcripts = None  # CSV id,text with the utterances' text (any corpus; needed for MSP-IMPROV)
target_sentences = None  # MSP-IMPROV: CSV sentence,text with the documentation's target sentences
missing_text = None  # utterances without text: refuse | exclude
max_folds = None  # run only the first N folds (None: all)
audio_encoder = None  # cnn | ast | wav2vec2
audio_model_path = None  # local folder of the AST / wav2vec2 checkpoint
text_encoder = None  # minilm | bert | roberta | llama
text_model_path = None  # local folder of the BERT / RoBERTa / Llama checkpoint
max_frames = None  # log-mel frames kept per utterance (CNN encoder)
epochs_stage1 = None  # stage-1 epochs (the most, with a validation part)
patience_stage1 = None  # stage 1 stops after this many epochs without a validation gain (0: off)
min_delta_stage1 = None  # smallest validation-UAR gain counted by patience_stage1
lr_stage1 = None  # stage-1 learning rate
batch_size = None  # stage-1 mini-batch (also the InfoNCE negatives)
tau = None  # temperature of the contrastive and InfoNCE losses
align_weight = None  # weight of L_CL + L_MI beside L_SER in stage 1
z_dim = None  # noise dimension of the generator
gan_hidden = None  # hidden width of G and D; 0: a single linear layer
lambda_mi = None  # weight of the MI terms in the generator loss
mixup_alpha = None  # Beta(alpha, alpha) of the GAN mixup (0: no mixup)
epochs_gan = None  # InfoGAN epochs
batch_size_gan = None  # InfoGAN mini-batch
lr_g = None  # generator learning rate
lr_d = None  # discriminator learning rate
lr_heads = None  # learning rate of the shared heads in stage 2 (0 freezes them)
epochs_stage3 = None  # stage-3 epochs
lr_stage3 = None  # stage-3 learning rate
batch_size_stage3 = None  # stage-3 mini-batch
aug_factor = None  # generated features per real one (1 doubles the data)
balance_classes = None  # generate only for minority classes, from the label alone
balance_text = None  # text code for label-only generation: class_gaussian | real
fusion_scaling = None  # rescaling of the new multimodal inputs: block | dimension | none
class_weight = None  # inverse-frequency class weights in the stage-3 cross-entropy
ablation = None  # run the Table III ablation
n_per_class = None  # generated samples per class for the UAR-vs-amount curve
svm_C = None  # C of the yardstick RBF-SVM
workers = None  # CPU processes running the (fold, seed) units (0: one per core; 1: this process)
threads = None  # torch CPU threads of each unit (book: 1)

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from serlib import claims, plots, tables
from serlib.experiments import ahn
from serlib.papers.ahn import MULTIMODAL_TABLE
from serlib.results import TableSaver

plots.set_style()
tables.install()
pd.set_option("display.max_colwidth", 80)
cfg = ahn.Config.from_notebook(globals())
display(Markdown(cfg.summary()))

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show every parameter of this chapter", "code_prompt_hide": "Hide the parameters"}
ref = ahn.Config.reference()
ref.insert(0, "this run", [getattr(cfg, name) for name in ref.index])
ref[["this run", "paper's value", "meaning"]]

# %% [markdown]
# The table lists every knob with the value this run uses and the paper's setting ("not
# stated" where the paper is silent). The departures from the paper that the `book` profile
# makes are the encoders (a log-mel CNN and MiniLM instead of AST and BERT), the corpus, a
# single seed, and the short schedules needed to run ten leave-one-speaker-out folds on a CPU
# in minutes.
#
# ## The data and the encoders

# %%
t0 = time.time()
data = ahn.load(cfg, progress=False)
split = ahn.split_of(cfg)
protocol = "the predefined split" if split == "predefined" else f"leave-one-{split}-out"
if split == "predefined" and len(data.folds[0].val):
    protocol += f"; {len(data.folds[0].val)} validation utterances select the stage-1 epoch"
text = data.corpus.meta.get("text", {})
display(Markdown(f"**{data.corpus.describe()}** — {len(data.folds)} folds ({protocol}), "
                 f"text embeddings of size {data.t.shape[1]}"
                 + (f"; {text['excluded']} of {text['utterances']} utterances had no text and are left out"
                    if text.get("excluded") else "") + ".  \n"
                 f"Audio encoder: {Path(data.models['audio']).name}.  \nText encoder (frozen): {Path(data.models['text']).name}."))
data.corpus.counts("speaker")

# %% [markdown]
# ## Running the three stages on every fold
#
# For every held-out speaker (and seed) the study trains stage 1 twice (with and without the
# cross-modal alignment), then four InfoGANs — the full model and the three ablations of the
# paper's Table III — and the stage-3 classifiers. One call does it all; the rest of the
# chapter reads its tables.

# %%
res = ahn.run(cfg, data, progress=False)
display(Markdown(f"Finished in {time.time() - t0:.0f} s (data {res.seconds['load']:.0f} s, "
                 f"folds {res.seconds['folds']:.0f} s using {res.seconds['folds_cpu']:.0f} CPU-seconds, "
                 f"yardstick {res.seconds['yardstick']:.0f} s)."))
meta = {"config": cfg.as_dict(), "models": res.models, "seconds": res.seconds}
save = TableSaver(ahn.CHAPTER, **meta)
save("scores_per_fold", res.scores)
save("gan_history", res.gan)
save("stage1_history", res.stage1)
save("yardstick_per_fold", res.yardstick)

# %% [markdown]
# ### Stage 1: the losses of the baseline
#
# Mean over folds. With alignment the encoder minimises $\mathcal L_{SER} + \mathcal L_{CL} +
# \mathcal L_{MI}$; without it only $\mathcal L_{SER}$. With $B$ pairs in a batch the contrastive
# losses start near $\log B$ (chance).

# %% mystnb={"figure": {"caption": "Stage-1 losses per epoch, mean over folds: the SER loss of each model and, for the model with alignment, the contrastive (CL) and MI losses.", "name": "fig-ahn-stage1-losses"}}
s1 = res.stage1.groupby(["model", "epoch"], sort=False).mean(numeric_only=True).reset_index()
fig, ax = plt.subplots(figsize=(7, 3.6))
for (model, d) in s1.groupby("model", sort=False):
    for col in [c for c in ("loss_ser", "loss_cl", "loss_mi") if c in d and d[c].notna().any()]:
        ax.plot(d["epoch"], d[col], label=f"{col[5:].upper()} ({model})")
ax.set_xlabel("stage-1 epoch")
ax.set_ylabel("loss")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# ## Stage 2: the MI losses as a quality observable
#
# The paper's third contribution is that the mutual-information losses tell how good the
# generated features are, where a GAN's adversarial losses do not. {numref}`fig-ahn-gan-curves` shows, per
# InfoGAN epoch and per variant (mean over folds): $\mathcal L_{I_y}$ and $\mathcal L_{I_t}$ on
# generated features, the share of generated features that $W_y$ assigns to the emotion they were
# generated for, and the adversarial side (discriminator loss, generator loss, and the
# discriminator's mean output on real and generated features). The variant *without MI
# maximisation* does not optimise the MI terms; they are still measured, which is what makes
# the comparison possible.

# %% mystnb={"figure": {"caption": "Per InfoGAN epoch and variant, mean over folds and seeds. Top: the MI losses L_Iy and L_It on generated features and the share of generated features classified as their code; bottom: the discriminator loss, the generator's adversarial loss, and the discriminator's mean output on real (solid) and generated (dashed) features.", "name": "fig-ahn-gan-curves"}}
fig = ahn.plot_gan_curves(res)
plt.show()

# %%
quality = ahn.mi_quality(res)
save("mi_quality", quality)
quality.round(3)

# %% tags=["remove-input"]
q = res.quality
corr = q[["mi_y_fake", "acc_y_fake", "uar_aug"]].corr(method="spearman").loc["uar_aug"]
WEAK = -0.3  # a rank correlation above this (closer to zero) is called weak
if corr.isna().any():
    verdict = "(too few runs, or constant values, for a correlation.)"
elif claims.compare(corr["mi_y_fake"], 0.0) == claims.BEHIND:
    verdict = ("The sign is what the paper's argument predicts (lower MI loss, better augmentation)"
               + ("; the relation is weak, so on our data the MI loss is at best a rough indicator of quality."
                  if claims.compare(corr["mi_y_fake"], WEAK) == claims.AHEAD else "."))
else:
    verdict = "The paper's argument predicts a negative first value; this run does not show it."
display(Markdown(
    "Across all fold × variant runs, the Spearman correlation between the final $\\mathcal L_{I_y}$ on "
    f"generated features and the UAR after augmentation is **{corr['mi_y_fake']:+.2f}**, and between the share "
    f"of generated features classified as their code and that UAR **{corr['acc_y_fake']:+.2f}** "
    f"({len(q)} runs). {verdict}"))

# %% [markdown]
# ### Real and generated features
#
# A PCA fitted on the real training features of the first fold, with the full model's generated
# features projected into the same plane. A linear generator fed with Gaussian noise produces a
# Gaussian cloud per code; whether the clouds sit where the real classes sit is what the MI term
# through $W_y$ asks for.

# %% mystnb={"figure": {"caption": "Real features h (left) and the full model's generated features (right) of one fold and seed, projected on the first two principal components of the real training features and coloured by emotion.", "name": "fig-ahn-pca"}}
generated = len(res.features.get("h_gen", ())) > 0
if generated:
    fig = ahn.plot_pca(res)
    plt.show()
else:
    display(Markdown("*Nothing was generated in this fold (`balance_classes` and its training classes are already "
                     "balanced): no PCA of generated features.*"))

# %%
spread = ahn.spread_ratio(res) if generated else pd.DataFrame()
sub, tot = (spread.iloc[:, 1].median(), spread["total"].median()) if len(spread) else (float("nan"), float("nan"))
display(Markdown("*No class with generated features to compare.*") if not len(spread) else Markdown(
    f"Variance of the generated features relative to the real ones (median over emotions): **{tot:.2f}** in total, "
    f"**{sub:.2f}** within the real features' {spread.columns[1]}. "
    + ("The generator puts much of its spread in directions where the real features hardly vary, and too little "
       "where they do: a linear discriminator compares little more than means, so nothing in the game asks for the "
       "real covariance." if sub < 0.5 * tot else
       "The generated spread is distributed much like the real one.")))
spread.round(2)

# %% [markdown]
# ## Table II: SER without and with augmentation
#
# UAR (%) per held-out speaker, mean ± std over speakers, beside the paper (IEMOCAP, AST +
# BERT). The paper's table also lists other augmentation methods; we did not run those (their
# rows stay empty on our side). The paper cites them as {cite:t}`sahu2022modeling`, {cite:t}`bao2019cyclegan`,
# {cite:t}`latif2022selfsupervised` and {cite:t}`malik2023diffusion`; its numbers for Sahu et al. and Latif et al.
# are those of {cite}`sahu2018` and {cite}`latif2020mixup` (chapters 1 and 2). We add two rows the paper does not have: a **control** —
# the same stage-3 fine-tuning of the classifier on real features only, which separates the
# effect of the generated features from the effect of simply training the last layer longer —
# and the **yardstick**.

# %%
if cfg.corpus in ("msp_improv", "msp_podcast"):
    display(Markdown(f"*The paper reports Tables II and III on IEMOCAP only: on {cfg.corpus} our rows stand beside "
                     "IEMOCAP's numbers, not a published result for this corpus (its own table is the multimodal "
                     "one below).*"))
t2 = ahn.table_ii(res)
save("table_ii", t2, paper_table="II")
t2.drop(columns="mean")

# %%
gains = ahn.fold_gains(res)
ctrl = ahn.fold_gains(res, with_aug=ahn.WITH_AUG, without=ahn.REAL_ONLY)
gains["gain over control"] = ctrl["gain"]
save("fold_gains", gains)
p, p_ctrl = ahn.signed_rank_p(gains["gain"]), ahn.signed_rank_p(gains["gain over control"])
n_up, n = int((gains["gain"] > 0).sum()), len(gains)
g_ctrl = gains["gain over control"].mean()
ctrl_way = claims.compare(g_ctrl, 0.0)
if ctrl_way == claims.INCONCLUSIVE:
    verdict = "No held-out speaker has both the augmented model and the control, so the two cannot be compared."
elif ctrl_way in (claims.BEHIND, claims.TIE):
    verdict = "On our data the generated features do not help beyond re-training the classifier."
elif not p_ctrl < 0.05:
    verdict = ("The gain over the control is not distinguishable from zero across speakers, so on our data most of "
               "the improvement over the stage-1 classifier comes from re-training the last layer, not from the "
               "generated features.")
else:
    verdict = "On our data the generated features add to what re-training the classifier alone gives."
display(Markdown(
    f"Augmentation changed UAR by **{gains['gain'].mean():+.2f}** points on average over the stage-1 classifier "
    f"(better in {n_up} of {n} held-out speakers, Wilcoxon signed-rank p = {p:.3f}), and by **{g_ctrl:+.2f}** "
    f"points over the control that re-trains the classifier on real features only (p = {p_ctrl:.3f}). "
    f"The paper reports +2.59 points on IEMOCAP (60.81 → 63.40) and has no such control. {verdict}"))
gains.round(2)

# %% [markdown]
# ## Table III: ablation
#
# The rows follow the paper: the full model; without the cross-modal alignment in stage 1; in
# addition without the text code in the generator ($G(z, c)$); without alignment and without
# MI maximisation (a {term}`conditional GAN <cGAN>` whose MI terms are only measured); and the baseline
# without alignment and without augmentation.

# %%
if cfg.ablation:
    t3 = ahn.table_iii(res)
    save("table_iii", t3, paper_table="III")
else:
    display(Markdown("*Skipped: the ablation was not run (`ablation=false`).*"))
t3.drop(columns="mean") if cfg.ablation else None

# %% tags=["remove-input"]
ONE_POINT = 1.0  # UAR points: two means closer than this are called level
if cfg.ablation:
    m = t3["mean"]
    order = m.sort_values(ascending=False)
    top_way = claims.compare(m["Full model"], m.drop("Full model").max())
    display(Markdown(
        "Ranking of the ablation rows in this run: " + f"{order.index[0]} ({order.iloc[0]:.1f})"
        + "".join(f" {'=' if claims.compare(hi, lo) == claims.TIE else '>'} {k} ({lo:.1f})"
                  for hi, (k, lo) in zip(order.to_numpy(), list(order.items())[1:])) + ". "
        "In the paper the full model is best and the baseline without alignment is worst. "
        + {claims.AHEAD: "This run agrees on the top row.",
           claims.TIE: "In this run the full model shares the top row with another.",
           }.get(top_way, "This run does not reproduce that ordering; the differences should be read against the "
                          "± spread above.")))
    gan_rows = [v.label for v in ahn.VARIANTS if v.key != "full"]
    gan_range = m[gan_rows].max() - m[gan_rows].min()
    fold_sd = ahn.summary(res.scores).loc[gan_rows, "std"].mean()
    display(Markdown(
        f"The three rows that share the stage-1 model without alignment and differ only in the InfoGAN lie within "
        f"{gan_range:.1f} points of each other (fold-to-fold standard deviation about {fold_sd:.0f} points): "
        + ("on our data the text code and the MI terms make no measurable difference to the augmentation."
           if claims.compare(gan_range, 0.0, margin=ONE_POINT) == claims.TIE else
           "compare that spread with the ± above before reading an order into it.")))
    base_al, base_pl = t2.loc["Ours — without augmentation", "mean"], m["Baseline without cross-modal alignment"]
    display(Markdown(
        f"Without any augmentation, the stage-1 model trained with the alignment losses reaches {base_al:.1f} % and the "
        f"one trained without them {base_pl:.1f} % ({base_al - base_pl:+.1f} points). The paper finds the two baselines "
        "equal (60.81 vs 60.73) and concludes that alignment helps through the generated samples rather than "
        "directly; " + {
            claims.AHEAD: "here alignment also helps the baseline itself, so part of the full model's lead in this "
                          "table comes from stage 1.",
            claims.TIE: f"this run agrees: the two baselines are within {ONE_POINT:g} point of each other.",
            claims.BEHIND: "here the baseline trained with alignment is the weaker one, so stage 1 alone does not "
                           "explain any lead of the full model in this table.",
            claims.INCONCLUSIVE: "this run lacks one of the two baselines, so it cannot say.",
        }[claims.compare(base_al, base_pl, margin=ONE_POINT)]))

# %% [markdown]
# ## Tables IV–VI: multimodal SER
#
# Audio alone (the SER classifier), text alone (a new linear layer on $t$; augmented with the
# predicted $t' = W_t \hat h + b_t$), and audio + text (a new linear layer on $[h; t]$; augmented
# with the four combinations $\{h,\hat h\}\times\{t,t'\}$). The paper's encoders here are
# wav2vec 2.0 {cite}`baevski2020wav2vec` (fine-tuned on emotion by {cite:t}`wagner2023dawn`) and an emotion-fine-tuned RoBERTa {cite}`liu2019roberta`; our text encoder stays frozen and is not
# fine-tuned on emotion, so the text column measures how much emotion a general sentence
# embedding carries. Our CNN features and the unit-norm text embeddings differ in scale by
# orders of magnitude, so the new linear layers see each block rescaled to a common norm
# (statistics of the real training features; `fusion_scaling`). The paper calls its metric
# "unweighted accuracy"; we report UAR.
# The paper's other rows are sc_LSTM and bc_LSTM {cite}`poria2017context`, AE {cite}`bengio2006greedy`,
# CRA {cite}`tran2017cra`, MMIN {cite}`zhao2021mmin`, CIF-MMIN {cite}`liu2024cifmmin` and, on MSP-Podcast,
# emoDARTS {cite}`rajapakshe2024emodarts`.

# %%
key = MULTIMODAL_TABLE.get(cfg.corpus, "IV")
tm = ahn.table_multimodal(res)
save(f"table_{key.lower()}_multimodal", tm, paper_table=key)
tm.drop(columns="mean")

# %% tags=["remove-input"]
mm = tm["mean"]
lines = []
for col in ("Audio", "Text", "Audio + Text"):
    a, b = mm.get(f"Ours without augmentation — {col}"), mm.get(f"Ours — {col}")
    lines.append(f"* {col}: {a:.1f} → {b:.1f} ({b - a:+.1f})")
display(Markdown("Without → with augmentation, UAR (%):\n\n" + "\n".join(lines)))

# %% [markdown]
# ## How many generated samples? (not in the paper)
#
# The paper generates one feature per real one. Here the classifier of the full model is
# fine-tuned on the real features plus $n$ generated features per class (text codes drawn from
# real training transcripts of that class); $n = 0$ is the control above. The dashed line is the
# stage-1 classifier without any stage 3.

# %% mystnb={"figure": {"caption": "UAR (mean and standard deviation over folds) of the classifier fine-tuned on the real features plus n generated features per class, against n; the dashed line is the stage-1 classifier without augmentation.", "name": "fig-ahn-samples-curve"}}
curve = res.curve.groupby("n_per_class")["uar"].agg(["mean", "std"]) * 100
save("uar_vs_generated", curve)
fig = ahn.plot_samples_curve(res)
plt.show()

# %%
curve.round(2)

# %% [markdown]
# ## The yardstick
#
# IS10 functionals with an RBF-SVM on the same folds, once plain and once with speaker-adaptive
# normalisation (every speaker z-normalised with their own features, test speakers included,
# without their labels).

# %%
summ = ahn.summary(pd.concat([res.scores, res.yardstick.assign(seed=0)], ignore_index=True))
summ = summ.loc[[ahn.NO_AUG, ahn.WITH_AUG] + list(res.yardstick["method"].unique())]
save("yardstick_vs_ours", summ)
best_y = summ.loc[list(res.yardstick["method"].unique()), "mean"].max()
display(Markdown(
    f"Best yardstick {best_y:.1f} % UAR vs the augmented InfoGAN model {summ.loc[ahn.WITH_AUG, 'mean']:.1f} %: "
    + {claims.AHEAD: "the paper's model is ahead of the classical pipeline here.",
       claims.BEHIND: "the classical pipeline is ahead.",
       claims.TIE: "the two are level.",
       claims.INCONCLUSIVE: "one of the two has no score in this run."}[
        claims.compare(summ.loc[ahn.WITH_AUG, "mean"], best_y)]))
summ[["ours", "folds"]]

# %% [markdown]
# ## What differs from the paper
#
# * **Encoders.** Default: a log-mel CNN trained in stage 1 (paper: AST fine-tuned) and the
#   frozen all-MiniLM-L6-v2 sentence encoder (paper: BERT-base; RoBERTa-large fine-tuned on
#   emotion for the multimodal tables). Because the contrastive loss compares $t$ and $h$
#   directly, the CNN's $h$ has the text embedding's size (384; the paper's 768 = AST = BERT).
#   `audio_encoder`, `audio_model_path`, `text_encoder`, `text_model_path` select the paper's.
# * **Corpus.** The embedded corpus (10 synthetic speakers) instead of IEMOCAP; the
#   multimodal table it is compared with is IEMOCAP's (Table IV).
# * **Unstated settings** are parameters with their values in the table at the top: $\tau$,
#   $\lambda$, the mixup $\alpha$, the noise size, the learning rates and epochs, and whether the
#   shared heads keep learning in stage 2 (`lr_heads`; when they do, they also see the real
#   features, so they remain the classifier and projection of stage 1).
# * **Label-only generation** (`balance_classes`, the MSP-Podcast setting) needs a text code
#   without a transcript; we draw it from a per-class Gaussian of the training text embeddings
#   (`balance_text`), since the paper does not say how.
# * **Metric.** UAR throughout (the paper's "unweighted accuracy" in Tables IV–VI).

# %% [markdown]
# ## Claims: the paper and this run
#
# The paper's claims, each with this run's measurement over the held-out speakers (per speaker
# the mean over seeds; then the mean, its standard deviation and the 95 % Student-t interval of
# the mean, the speakers taken as the sample) and a verdict read from that interval: *held* when
# the whole interval agrees with the claim, *not held* when the whole interval contradicts it,
# *inconclusive* when it reaches both ways. The paper's numbers are from IEMOCAP.

# %% tags=["remove-input"]
per_speaker = res.scores.groupby(["method", "fold"], sort=False)["uar"].mean().unstack("method")
p2, p3 = ahn.TABLES["II"].values, ahn.TABLES["III"].values


def gain_of(a: str, b: str) -> claims.Measurement:
    if a not in per_speaker or b not in per_speaker:
        return claims.measure([])
    return claims.paired_difference(per_speaker[a], per_speaker[b], scale=100, per="speakers")


claim_rows = []
g = gain_of(ahn.WITH_AUG, ahn.NO_AUG)
claim_rows.append(claims.Claim("Augmenting with generated features raises UAR over the stage-1 classifier (points)",
                               f"{p2['Ours — with augmentation'] - p2['Ours — without augmentation']:+.2f}", g,
                               claims.claim_status(g, at_least=0)))
g = gain_of(ahn.WITH_AUG, ahn.REAL_ONLY)
claim_rows.append(claims.Claim("The gain comes from the generated features, not from re-training the classifier "
                               "(gain over the control, points)", "no control", g, claims.claim_status(g, at_least=0)))
g = gain_of(ahn.WITH_AUG, "Without cross-modal alignment")
claim_rows.append(claims.Claim("The full model beats the same model without cross-modal alignment (points)",
                               f"{p3['Full model'] - p3['Without cross-modal alignment']:+.2f}", g,
                               claims.claim_status(g, at_least=0)))
g = gain_of(ahn.NO_AUG, ahn.PLAIN)
claim_rows.append(claims.Claim(f"Without augmentation, alignment leaves the classifier level (within ±{ONE_POINT:g} point)",
                               f"{p2['Ours — without augmentation'] - p3['Baseline without cross-modal alignment']:+.2f}",
                               g, claims.claim_status(g, at_least=-ONE_POINT, at_most=ONE_POINT)))
g = gain_of("Ours — Audio + Text", "Ours — Audio")
pm = ahn.TABLES[key].values
claim_rows.append(claims.Claim("Audio + text beats audio alone, both augmented (points)",
                               f"{pm['Ours — Audio + Text'] - pm['Ours — Audio']:+.2f} (Table {key})", g,
                               claims.claim_status(g, at_least=0)))
claims_ch3 = claims.claims_table(claim_rows, decimals=2)
save("claims", claims_ch3)
claims_ch3

# %% [markdown]
# ## On real corpora
#
# Everything above ran on the embedded corpus. Below: the chapter's tables on IEMOCAP, the paper's corpus, when a run on it has been recorded
# with `serbook results add` — its tables beside the paper's numbers, and where they came from
# (corpus and coverage, commit, device, date, parameters). Only the tables are published, never the
# corpus.

# %% tags=["remove-input"]
from serlib import recorded

recorded.show("03_ahn_infogan")

# %% [markdown]
# :::{admonition} Takeaways
# :class: tip
#
# * The paper generates features, the input of the last linear layer, not audio; the stage-1 heads $W_y$ and $W_t$ double as InfoGAN's auxiliary network $Q$.
# * Unlike a GAN's adversarial losses, $\mathcal L_{I_y}$ and $\mathcal L_{I_t}$ measure whether generated features keep the emotion and the words; the variant without MI maximisation still measures them, which is what makes the comparison possible.
# * Augmentation is judged by the classifier fine-tuned on real plus generated features against the same classifier on real features alone, on the same leave-one-speaker-out folds and beside the yardstick.
# * The `book` profile replaces the paper's AST and BERT with a small log-mel CNN and MiniLM; the `paper` profile restores them from local checkpoints.
# :::

# %% [markdown]
# ## Exercises
#
# Each exercise changes one thing in stage 2 and asks you to explain the effect. They reuse the
# chapter's data (`data`) and configuration (`cfg`) and run on the first fold with the first
# seed: `ahn.infogan_settings` trains the aligned stage-1 model once, then one InfoGAN and its
# stage 3 per setting, so each exercise takes well under a minute on a laptop CPU.

# %% [markdown] tags=["exercise"]
# ### Exercise 1: drop the text code
#
# Table III drops the text code $t$ from the generator only in the model *without* cross-modal
# alignment. Drop it from the full model: on the first fold, train the InfoGAN with and without
# the text code (`{"use_text": False}`, which removes $\mathcal L_{I_t}$ as well) on the same
# aligned stage-1 model with `ahn.infogan_settings`. Compare $\mathcal L_{I_y}$ during training
# and the UAR after augmentation, and explain what the text code asks of the generator.

# %% tags=["solution"] mystnb={"figure": {"caption": "Per InfoGAN epoch on the first fold, for the full model and for the generator without the text code: left, L_Iy on generated features; right, the share of generated features classified as their code.", "name": "fig-ahn-ex-text-code"}}
fold, seed = data.folds[0], cfg.seeds[0]  # starter
settings = {"full model": {}, "without the text code": {"use_text": False}}  # starter
text_table, text_hist = ahn.infogan_settings(data, fold, cfg, seed, settings)  # starter
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for name, h in text_hist.groupby("setting", sort=False):
    axes[0].plot(h["epoch"], h["mi_y_fake"], label=name)
    axes[1].plot(h["epoch"], h["acc_y_fake"], label=name)
axes[0].set_ylabel("$\\mathcal{L}_{I_y}$ on generated features")
axes[1].set_ylabel("generated features classified as their code")
for ax in axes:
    ax.set_xlabel("InfoGAN epoch")
    ax.legend(fontsize="small")
plt.tight_layout()
plt.show()

# %% tags=["solution-only"]
full, no_text = text_table.loc["full model"], text_table.loc["without the text code"]
d_aug = 100 * (full["uar_aug"] - no_text["uar_aug"])
display(Markdown(
    f"On held-out {fold.name}, after augmentation the full model reaches {100 * full['uar_aug']:.1f} % UAR and the "
    f"generator without the text code (so without $\\mathcal{{L}}_{{I_t}}$) {100 * no_text['uar_aug']:.1f} % "
    f"({d_aug:+.1f} points for the text code; the stage-1 classifier alone: {100 * full['uar_no_aug']:.1f} %, the "
    f"control that re-trains it on real features only: {100 * full['uar_control']:.1f} %). The emotion code's MI "
    f"loss ends at {full['mi_y_fake']:.3f} with the text code and {no_text['mi_y_fake']:.3f} without it: "
    + ("without a sentence to match as well, the generator makes features that are easier to classify as their "
       "emotion." if no_text["mi_y_fake"] < full["mi_y_fake"] else
       "the text code does not make the generated features harder to classify as their emotion.")
    + " One fold and one seed: read differences of a point or two as ties (compare the fold-to-fold spread of "
      "Table III)."))
(100 * text_table[["uar_no_aug", "uar_control", "uar_aug"]]).round(1).join(
    text_table[["mi_y_fake", "mi_t_fake", "acc_y_fake"]].round(3))

# %% [markdown] tags=["exercise"]
# ### Exercise 2: the weight of the MI terms
#
# Vary λ (`lambda_mi`), the weight of $\mathcal L_{I_y} + \mathcal L_{I_t}$ in the generator's
# loss: 0 (only the adversarial loss shapes the generator; the MI terms are still measured), the
# chapter's value and five times it (`{"lambda_mi": lam}` settings of `ahn.infogan_settings`). How
# do the MI loss and the share of generated features classified as their code respond, and does
# the augmentation follow?

# %% tags=["solution"] mystnb={"figure": {"caption": "Per InfoGAN epoch on the first fold, for each weight λ of the MI terms: left, L_Iy on generated features; right, the discriminator loss.", "name": "fig-ahn-ex-lambda"}}
import numpy as np

fold, seed = data.folds[0], cfg.seeds[0]  # starter
lambdas = sorted({0.0, float(cfg.lambda_mi), 5 * float(cfg.lambda_mi)})  # starter
settings = {f"λ = {lam:g}": {"lambda_mi": lam} for lam in lambdas}  # starter
lam_table, lam_hist = ahn.infogan_settings(data, fold, cfg, seed, settings)  # starter
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for name, h in lam_hist.groupby("setting", sort=False):
    axes[0].plot(h["epoch"], h["mi_y_fake"], label=name)
    axes[1].plot(h["epoch"], h["d_loss"], label=name)
axes[0].set_ylabel("$\\mathcal{L}_{I_y}$ on generated features")
axes[1].set_ylabel("discriminator loss")
for ax in axes:
    ax.set_xlabel("InfoGAN epoch")
    ax.legend(fontsize="small")
plt.tight_layout()
plt.show()

# %% tags=["solution-only"]
mi, acc = lam_table["mi_y_fake"].to_numpy(), lam_table["acc_y_fake"].to_numpy()
trend = ("falls as λ grows" if (np.diff(mi) < 0).all() else "does not rise as λ grows" if (np.diff(mi) <= 0).all()
         else "does not follow λ")
gain = 100 * (lam_table["uar_aug"].iloc[1:].max() - lam_table["uar_aug"].iloc[0])
display(Markdown(
    f"The final $\\mathcal{{L}}_{{I_y}}$ on generated features {trend} ({' → '.join(f'{v:.4f}' for v in mi)}), "
    f"and the share of generated features classified as their code goes {' → '.join(f'{v:.2f}' for v in acc)}. "
    "UAR after augmentation: " + ", ".join(f"{100 * v:.1f} % ({k})" for k, v in lam_table["uar_aug"].items())
    + f"; the control without generated features: {100 * lam_table['uar_control'].iloc[0]:.1f} %. "
    + (f"The MI term adds up to {gain:+.1f} points over λ = 0, where only the adversarial loss shapes the generator."
       if gain > 0 else
       "No λ > 0 beats λ = 0 here: "
       + ("the MI term makes the generated features more typical of their emotion without making them more useful "
          "to the classifier." if acc[-1] > acc[0] else
          "on this fold the MI term makes the generated features neither more typical of their emotion nor more "
          "useful to the classifier."))
    + f" All of this is one held-out speaker ({len(fold.test)} utterances), where one utterance more or less moves "
    f"UAR by roughly {100 / len(fold.test):.1f} points: differences of a few points between settings are decided "
    "by a handful of utterances, and need every fold and several seeds before they mean anything."))
(lam_table.assign(**{c: 100 * lam_table[c] for c in ("uar_no_aug", "uar_control", "uar_aug")})
 .drop(columns=["fold", "seed"]).round(3))

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :labelprefix: 3-
# ```
