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
# # The embedded corpus and the yardstick
#
# Every chapter of this book trains and evaluates emotion recognisers on speech. The corpora
# the papers used (IEMOCAP, MSP-IMPROV, Emo-DB, RAVDESS, SAVEE, OMG-Emotion, LibriSpeech ...)
# are licensed or large, so the book runs by default on an **embedded corpus** that `serlib`
# synthesises on your machine with the eSpeak NG speech synthesiser. This chapter tours it,
# measures how hard it is with the classical baseline that every later chapter must beat, and
# shows how to point any chapter at a real corpus instead.

# %% [markdown]
# :::{admonition} Run this chapter yourself
# :class: tip
#
# Download the source, {download}`00_corpora.py <../../notebooks/00_corpora.py>` (a jupytext
# notebook), or run it from the project folder, one command per {term}`profile`:
#
# ```bash
# # smoke: the tiny corpus, seconds; checks the wiring
# serbook run notebooks/00_corpora.py -p profile=smoke
# # book: the full embedded corpus, what this page shows
# serbook run notebooks/00_corpora.py -p profile=book
# # paper: a real corpus (here IEMOCAP)
# serbook run notebooks/00_corpora.py -p profile=paper \
#     -p corpus=iemocap -p data_root=/path/to/IEMOCAP_full_release
# ```
#
# Main parameters: `corpus` and `data_root` (any corpus of {doc}`../corpora`), `size` (tiny, default,
# large), `feature_set` (egemaps or is10) and `protocol` (session or speaker). Any parameter of the
# `parameters` cell below can be set with `-p name=value`; the executed notebook and its result tables
# go to `book/chapters/`.
# :::

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from serlib.frame import chapter_frame

display(Markdown(chapter_frame(
    "00_corpora",
    objectives=[
        "Describe the embedded corpus: its sessions, speakers and emotions, and the difficulties it copies from real corpora",
        "Explain the unweighted average recall (UAR) and why its chance level does not depend on the class balance",
        "Build the yardstick: utterance-level functionals, standardisation and an RBF-SVM, tested on a held-out session",
        "Tell speaker-adaptive normalisation from plain standardisation, and say when it is fair to use",
        "Point any chapter at a real corpus with the parameters `corpus` and `data_root`",
    ],
    prerequisites=[
        "No earlier chapter: the book starts here; {doc}`../protocols` describes the evaluation protocols",
        "Python, NumPy and pandas; train/test splits and cross-validation",
        "Support vector machines with an RBF kernel (the margin, $C$ and the kernel width)",
    ],
)))

# %% tags=["parameters"]
profile = "book"  # smoke | book | paper
corpus = None  # "embedded" (default) or a real corpus: iemocap, msp_improv, emodb, ravdess, ...
data_root = None  # folder of a real corpus; None uses the SERLIB_DATA folder
allow_partial = False  # true: accept a real corpus that is not the full release (paper refuses it)
size = None  # embedded corpus size: tiny (smoke) | default (book) | large
variant = None  # embedded corpus variant: main | cross (other speakers, channel, class imbalance)
feature_set = None  # functionals for the baseline: egemaps (default) | is10
svm_C = None  # RBF-SVM C (default 1.0)
protocol = None  # session (leave-one-session-out, default) | speaker (leave-one-speaker-out)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from serlib import claims, plots, tables
from serlib.data import available_corpora
from serlib.experiments import corpora
from serlib.features import functionals
from serlib.metrics import summarise
from serlib.results import TableSaver

plots.set_style()
tables.install()
cfg = corpora.Config.from_notebook(globals())
save = TableSaver(corpora.CHAPTER)
display(Markdown(cfg.summary()))

# %% tags=["hide-cell"] mystnb={"code_prompt_show": "Show every parameter of this chapter", "code_prompt_hide": "Hide the parameters"}
corpora.Config.reference().drop(index=list(corpora.Config.NOT_IN_NOTEBOOK))

# %% [markdown]
# ## What is in the corpus
#
# The embedded corpus copies the *shape* of IEMOCAP {cite}`busso2008iemocap`: five sessions,
# each with one female and one male speaker, and the four emotion classes most papers use
# (neutral, angry, sad, happy). Emotion is carried by what actors change when they act an
# emotion: pitch level and range, speaking rate, loudness and voice quality. To keep the task
# honest it also has what makes real corpora hard:
#
# * **speaker-specific expressiveness** — some speakers act strongly, some barely at all;
# * **partial blends** — some utterances mix in a second emotion;
# * **per-session channels** — each session is "recorded" through its own channel (filtering,
#   gain, noise), so a model can latch onto the session instead of the emotion;
# * **transcripts that lean toward the emotion** — some wording is neutral and some misleading,
#   so text helps but does not give the answer away (chapter 3 uses it);
# * an **unlabelled pool** of further speakers, for the semi-supervised chapter 5.

# %%
lab, unl = corpora.load(cfg)
display(Markdown(f"**{lab.describe()}**" + (f"  \nUnlabelled pool: **{unl.describe()}**" if unl is not None else "")))
counts = lab.counts("speaker")
save("counts_by_speaker", counts)
counts

# %% mystnb={"figure": {"caption": "Left: number of utterances per session, stacked by emotion. Right: box plots of utterance duration in seconds for each emotion.", "name": "fig-corpora-sessions"}}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
by_session = lab.counts("session").drop(columns="total")
by_session.plot.bar(stacked=True, ax=axes[0], rot=0, title="utterances per session and emotion")
dur = lab.table.assign(emotion=pd.Categorical(lab.table["emotion"], list(lab.labels)))
dur.boxplot(column="duration", by="emotion", ax=axes[1], grid=False)
axes[1].set_title("utterance duration (s) by emotion")
fig.suptitle("")
plt.tight_layout()
plt.show()

# %% [markdown]
# A few transcripts per emotion. The words lean toward the emotion but not always: a model that
# reads only the text would be informative and wrong often enough to leave room for the voice.

# %%
lab.table.groupby("emotion", sort=False).head(3)[["utt_id", "speaker", "emotion", "transcript"]]

# %% [markdown]
# ## Listening with the eyes: one speaker, four emotions
#
# Waveform, spectrogram and the fundamental frequency (F0, the perceived pitch, estimated with
# {term}`pYIN` {cite}`mauch2014pyin`) of one utterance per emotion from the same speaker. Angry and happy speech is typically
# louder, higher and more varied in pitch; sad speech lower, flatter and slower.

# %% mystnb={"figure": {"caption": "One utterance per emotion (rows) from the same speaker: the waveform on the left, and on the right its spectrogram with the pYIN F0 track in cyan; panel titles give the transcript.", "name": "fig-corpora-examples"}}
examples = corpora.emotion_examples(lab)
if len(examples) < len(lab.labels):
    display(Markdown(f"*No speaker of {lab.name} has every emotion; speaker {examples['speaker'].iloc[0]} has the "
                     f"most ({len(examples)} of {len(lab.labels)}), shown here.*"))
fig = corpora.plot_examples(examples)
plt.show()

# %% [markdown]
# ## Feature distributions
#
# The baseline describes each utterance by a fixed set of *functionals* (statistics over time of
# low-level descriptors) computed by openSMILE {cite}`eyben2013opensmile`: {term}`eGeMAPS`
# {cite}`eyben2016gemaps` (88 features chosen for voice research) or the 1582 features of the
# {term}`INTERSPEECH 2010 paralinguistic set <IS10>` {cite}`schuller2010is10` that chapters 1 and 2 use as the
# {term}`emobase2010` stand-in. A few eGeMAPS features per emotion:

# %%
# extracted once and cached; the progress bar shows only on the first run
feats = functionals(lab, cfg.feature_set)

# %% mystnb={"figure": {"caption": "Box plots of four functionals (one panel each: pitch level and variation, loudness, and a rate measure) per emotion, over all labelled utterances.", "name": "fig-corpora-features"}}
if cfg.feature_set == "egemaps":
    shown = {"F0semitoneFrom27.5Hz_sma3nz_amean": "F0 mean (semitones)",
             "F0semitoneFrom27.5Hz_sma3nz_stddevNorm": "F0 variation",
             "loudness_sma3_amean": "loudness mean",
             "VoicedSegmentsPerSec": "voiced segments / s"}
else:
    shown = {"F0final_sma_amean": "F0 mean (Hz)", "F0final_sma_stddev": "F0 std (Hz)",
             "pcm_loudness_sma_amean": "loudness mean", "F0final__Turn_numOnsets": "onsets"}
fig = corpora.feature_distributions(lab, feats, shown)
plt.show()

# %% [markdown]
# ## The baseline: functionals + RBF-SVM, speaker-independent
#
# Standardise the functionals on the training folds, train an {term}`SVM` with an RBF kernel, and test
# on a held-out session (both its speakers are unseen). The metric is the **unweighted average
# recall** ({term}`UAR`): the mean of the per-class recalls, so that chance is 25% for four classes
# whatever the class balance.
#
# The second row uses **{term}`speaker-adaptive normalisation`**: each speaker's features are
# z-normalised with that speaker's own statistics, *test speakers included* (their features,
# never their labels). It is a fair-game technique in deployment when a few minutes of a
# speaker's unlabelled speech are available, and it removes much of the between-speaker
# variation; results obtained with it are always labelled as such in this book.

# %% mystnb={"figure": {"caption": "The yardstick of every chapter: utterance-level functionals (eGeMAPS or IS10) of each utterance, z-normalised with the training folds' statistics (or with each speaker's own), classified by an RBF-SVM and scored by the UAR on the held-out session; the legend gives the kinds of box.", "name": "fig-corpora-diagram"}}
import matplotlib.pyplot as plt

from serlib import diagrams

diagrams.draw("00_corpora")
plt.show()

# %%
res = corpora.run(cfg, lab)
scores, cms = res.scores, res.confusions
save("baseline_folds", scores)
summary = summarise(scores, "method", ["uar", "accuracy"])[["uar", "accuracy", "n"]]
save("baseline_summary", summary, protocol=cfg.protocol, feature_set=cfg.feature_set)
summary

# %% mystnb={"figure": {"caption": "Row-normalised confusion matrices of the baseline (rows: true emotion, columns: predicted), pooled over the folds; left the plain SVM, right the SVM with speaker-adaptive normalisation.", "name": "fig-corpora-confusion"}}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for ax, (name, cm) in zip(axes, cms.items()):
    plots.confusion_heatmap(cm, title=name.replace(" (", "\n("), ax=ax)
plt.tight_layout()
plt.show()

# %% tags=["remove-input"]
plain_folds = scores[~scores["method"].str.contains("adaptive")].set_index("fold")["uar"]
adapt_folds = scores[scores["method"].str.contains("adaptive")].set_index("fold")["uar"].reindex(plain_folds.index)
plain_m, adapt_m = claims.measure(plain_folds, scale=100), claims.measure(adapt_folds, scale=100)
chance = 100 / len(lab.labels)
ABOVE_CHANCE, CEILING = chance + 15, 90.0  # the yardstick's intended range, in UAR points
in_range = claims.claim_status(plain_m, at_least=ABOVE_CHANCE, at_most=CEILING)
verdict = {
    claims.HELD: "well above chance and well below ceiling: there is room for methods to matter",
    claims.NOT_HELD: "outside the intended range (well above chance, well below 90%): read later chapters with this in mind",
    claims.INCONCLUSIVE: (f"the folds' 95 % interval ({plain_m.low:.1f} to {plain_m.high:.1f}%) reaches past the "
                          f"intended range ({ABOVE_CHANCE:.0f} to {CEILING:.0f}%), so this run cannot place it "
                          "there: read later chapters with this in mind"),
}[in_range]
display(Markdown(
    f"On this run the plain baseline reaches a mean UAR of **{plain_m.mean:.1f}%** over "
    f"{scores['fold'].nunique()} folds (chance {chance:.0f}%), and **{adapt_m.mean:.1f}%** with "
    f"speaker-adaptive normalisation: {verdict}."))

# %% [markdown]
# ## Pointing a chapter at a real corpus
#
# Every chapter takes `corpus` and `data_root` parameters. Place a corpus in its folder (or pass
# the folder), check it, and run:
#
# ```bash
# serbook data download emodb      # the free corpora (emodb, ravdess, librispeech, tess): fetch, verify, unpack
# serbook data check iemocap /data/IEMOCAP_full_release     # what is missing or malformed, file by file
# serbook run notebooks/01_sahu2018_gan.py -p profile=paper -p data_root=/data/IEMOCAP_full_release
# ```
#
# The loaders read each corpus's own layout and label files. The corpora, their folders under
# `$SERLIB_DATA` and their licences:

# %%
pd.DataFrame([{"corpus": k, "name": s.title, "folder under $SERLIB_DATA": s.default_subdir, "licence": s.licence,
               "where to obtain": s.url_hint} for k, s in available_corpora().items()]).set_index("corpus")

# %% [markdown]
# ## Claims: the paper and this run
#
# This chapter has no paper: its claims are the book's own, about the embedded corpus and its
# yardstick. Each is read from the 95 % interval of the mean over the folds: *held* when the
# whole interval agrees with the claim, *not held* when the whole interval contradicts it,
# *inconclusive* when the interval reaches both ways (or a single fold gives no interval).

# %% tags=["remove-input"]
gain_m = claims.paired_difference(adapt_folds, plain_folds, scale=100)
claims_ch0 = claims.claims_table([
    claims.Claim(f"The plain yardstick is well above chance (UAR at least {ABOVE_CHANCE:.0f}%, chance + 15 points)",
                 f"at least {ABOVE_CHANCE:.0f}", plain_m, claims.claim_status(plain_m, at_least=ABOVE_CHANCE)),
    claims.Claim(f"The plain yardstick is well below ceiling (UAR under {CEILING:.0f}%)",
                 f"under {CEILING:.0f}", plain_m, claims.claim_status(plain_m, at_most=CEILING)),
    claims.Claim("Speaker-adaptive normalisation is well above chance too",
                 f"at least {ABOVE_CHANCE:.0f}", adapt_m, claims.claim_status(adapt_m, at_least=ABOVE_CHANCE)),
    claims.Claim("Speaker-adaptive normalisation raises UAR over the plain yardstick (points, fold by fold)",
                 "more than 0", gain_m, claims.claim_status(gain_m, at_least=0)),
])
save("claims", claims_ch0, note="the book's own claims about the embedded corpus and its yardstick")
claims_ch0

# %% [markdown]
# ## On real corpora
#
# Everything above ran on the embedded corpus. Below: the {term}`yardstick` on a real corpus (the book's workflow records it on Emo-DB and RAVDESS), when a run on it has been recorded
# with `serbook results add` — its tables beside the paper's numbers, and where they came from
# (corpus and coverage, commit, device, date, parameters). Only the tables are published, never the
# corpus.

# %% tags=["remove-input"]
from serlib import recorded

recorded.show("00_corpora")

# %% [markdown]
# :::{admonition} Takeaways
# :class: tip
#
# * Every later chapter is measured against this yardstick on the same folds: a method that does not beat functionals + RBF-SVM there has not yet shown what it adds.
# * UAR is the mean of the per-class recalls, so chance is one over the number of classes whatever the class balance.
# * Speaker-adaptive normalisation uses the test speakers' features, never their labels; every result obtained with it is labelled as such in this book.
# * Leave-one-session-out keeps both the speakers and the recording channel of the test session out of training; the first exercise shows what changes when the channel is shared.
# * The embedded corpus copies the shape of IEMOCAP, not its sound: compare patterns with the papers (does a method help, does a ranking hold), not levels.
# :::

# %% [markdown]
# ## Exercises
#
# Each exercise changes one thing in the pipeline above and asks you to explain the effect. They
# reuse what the chapter computed (the corpus `lab`, its functionals `feats`, the configuration
# `cfg`) and run in seconds. Choosing a setting by its test score, as these exercises do, is for
# understanding only: a reported result must choose it on training data.

# %% [markdown] tags=["exercise"]
# ### Exercise 1: a held-out session or a held-out speaker?
#
# The baseline tests on a held-out *session*: both of its speakers are unseen, and so is the
# session's recording channel. Switch to {term}`leave-one-speaker-out <LOSO>`
# (`serlib.splits.leave_one_speaker_out`), where the other speaker of the test session is among
# the training speakers, and compare the plain SVM's mean UAR under both protocols with
# `serlib.experiments.common.svm_yardstick(lab, folds, features=feats, ...)`. What do you expect
# from the per-session channels, what do you see, and which protocol would you report?

# %% tags=["solution"] mystnb={"figure": {"caption": "Mean UAR (%) of the plain functionals + RBF-SVM under leave-one-session-out and leave-one-speaker-out, with the standard deviation over folds as error bars; the dashed line marks chance.", "name": "fig-corpora-ex-protocols"}}
from serlib.experiments.common import svm_yardstick  # starter
from serlib.splits import leave_one_session_out, leave_one_speaker_out  # starter

dyads = corpora.sessions_hold_several_speakers(lab)
if not dyads:
    display(Markdown(f"*Skipped: every session of {lab.name} has a single speaker, so the two protocols are the same.*"))
else:
    protocols = {"leave-one-session-out": leave_one_session_out(lab),  # starter
                 "leave-one-speaker-out": leave_one_speaker_out(lab)}  # starter
    rows = []
    for name, folds_ in protocols.items():  # starter
        s, _ = svm_yardstick(lab, folds_, feature_set=cfg.feature_set, C=cfg.svm_C, features=feats,  # starter
                             progress=False)  # starter
        rows.append({"protocol": name, "folds": len(folds_), "UAR (%)": 100 * s["uar"].mean(),
                     "std over folds": 100 * s["uar"].std(ddof=0)})
    by_protocol = pd.DataFrame(rows).set_index("protocol")
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.barh(by_protocol.index, by_protocol["UAR (%)"], xerr=by_protocol["std over folds"], color=["C0", "C1"])
    ax.axvline(100 / len(lab.labels), color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("UAR (%) of the plain functionals + RBF-SVM")
    ax.legend(fontsize="small")
    plt.tight_layout()
    plt.show()

# %% tags=["solution-only"]
gap = by_protocol["UAR (%)"].iloc[1] - by_protocol["UAR (%)"].iloc[0] if dyads else float("nan")
spread = by_protocol["std over folds"].max() if dyads else float("nan")
display(Markdown("*Skipped (single-speaker sessions).*") if not dyads else Markdown(
    f"Testing one speaker while the other speaker of the same session trains changes the mean UAR by "
    f"**{gap:+.1f}** points (the fold-to-fold spread is up to {spread:.1f} points). "
    + ("That is more than the spread between folds: the test session's channel, heard in training, helps the "
       "classifier, so leave-one-speaker-out overstates how well it copes with a new recording set-up."
       if gap > spread else
       "That is within the spread between folds: on this corpus hearing the test session's channel in training "
       "gives no clear advantage, and the two protocols measure much the same thing." if abs(gap) <= spread else
       "Leave-one-speaker-out is clearly lower here, so hearing the session's channel in training does not help; "
       "the per-fold scores show which speakers pull it down.")))
by_protocol.round(1) if dyads else None

# %% [markdown] tags=["exercise"]
# ### Exercise 2: how much does the SVM's C matter?
#
# Sweep the RBF-SVM's regularisation `C` over 0.01, 0.1, 1, 10 and 100 for the plain and the
# speaker-adaptive baseline, on the chapter's protocol, and plot UAR against `C`. Is the default
# `C = 1` a fair choice for both? Does the lead of speaker-adaptive normalisation depend on `C`?

# %% tags=["solution"] mystnb={"figure": {"caption": "Mean UAR (%) of the plain and the speaker-adaptive baseline against the RBF-SVM's C (log scale) on the chapter's protocol; the dashed line marks chance.", "name": "fig-corpora-ex-svm-c"}}
from serlib.experiments.common import svm_yardstick  # starter
from serlib.splits import leave_one_session_out, leave_one_speaker_out  # starter

folds_ = leave_one_session_out(lab) if cfg.protocol == "session" else leave_one_speaker_out(lab)  # starter
Cs = [0.01, 0.1, 1.0, 10.0, 100.0]  # starter
rows = []
for C in Cs:  # starter
    for adaptive in (False, True):  # starter
        s, _ = svm_yardstick(lab, folds_, feature_set=cfg.feature_set, C=C, speaker_adaptive=adaptive,  # starter
                             features=feats, progress=False)  # starter
        rows.append({"C": C, "normalisation": "speaker-adaptive" if adaptive else "plain",
                     "UAR (%)": 100 * s["uar"].mean()})
sweep = pd.DataFrame(rows).pivot(index="C", columns="normalisation", values="UAR (%)")
ax = sweep.plot(marker="o", logx=True, figsize=(5.5, 3.2))
ax.axhline(100 / len(lab.labels), color="grey", ls="--", lw=1, label="chance")
ax.set_ylabel("UAR (%)")
ax.set_title(f"RBF-SVM C, leave-one-{cfg.protocol}-out")
ax.legend(fontsize="small")
plt.show()

# %% tags=["solution-only"]
best = sweep.idxmax()
lines = [f"* **{norm}**: best C = {best[norm]:g} ({sweep.loc[best[norm], norm]:.1f} %), "
         f"C = 1 gives {sweep.loc[1.0, norm]:.1f} %; from C = {Cs[0]:g} to C = {Cs[-1]:g} UAR goes from "
         f"{sweep.loc[Cs[0], norm]:.1f} % to {sweep.loc[Cs[-1], norm]:.1f} %."
         for norm in sweep.columns]
lead = sweep["speaker-adaptive"] - sweep["plain"]
lines.append(f"* Speaker-adaptive normalisation leads by {lead.min():+.1f} to {lead.max():+.1f} points across C: "
             + ("it helps whatever the regularisation, so its gain is not a matter of tuning C."
                if lead.min() > 0 else "its advantage depends on C, so compare the two at their own best C."))
display(Markdown("\n".join(lines)))
sweep.round(1)

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :labelprefix: 0-
# ```
