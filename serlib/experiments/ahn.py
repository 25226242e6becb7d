"""Chapter 3: InfoGAN feature augmentation with mutual-information regularisation and
cross-modal alignment (Ahn et al. 2025).

:func:`run` performs the whole study on one corpus, fold by fold (leave-one-speaker-out by
default) and seed by seed:

1. stage 1, twice: the baseline SER model *with* cross-modal alignment (CE + CLAP-style
   contrastive + InfoNCE) and *without* it (CE only);
2. stage 2: one InfoGAN per ablation variant (Table III), generating :math:`\\hat h` with the
   stage-1 layers as Q-heads, its GAN and MI losses logged per epoch;
3. stage 3: the classifier fine-tuned on real + generated features (SER case), a control
   fine-tuned on real features only, the multimodal case (audio, text, audio + text, with and
   without the four-way augmentation), and UAR against the number of generated samples per
   class;
4. the book's yardstick (IS10 + RBF-SVM, plain and speaker-adaptive) on the same folds.

The table builders (:func:`table_ii`, :func:`table_iii`, :func:`table_multimodal`) put the
results beside the published numbers (:mod:`serlib.papers.ahn`).

References
----------
C.-S. Ahn, R. Rana, S. Sivadas, C. Busso, J. C. Rajapakse. Improving speech emotion
recognition with mutual information regularized generative model. 2025.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import ParameterError, get_device, get_logger, seed_everything
from ..data import Corpus, load_corpus
from ..features import MelBatches, frames
from ..metrics import uar
from ..models.encoders import (
    AUDIO_ENCODERS,
    TEXT_ENCODERS,
    HFAudioEncoder,
    LogMelCNN,
    WaveBatches,
    resolve_audio_model,
    resolve_text_model,
    text_embeddings,
)
from ..models.infogan import (
    AlignedSER,
    InfoGAN,
    embed,
    generate_balanced,
    generate_like,
    multimodal_combinations,
    predicted_text,
    quiet_training,
    stage3_ser,
    train_baseline,
    train_infogan,
)
from ..papers import beside
from ..papers.ahn import MULTIMODAL_TABLE, TABLES
from ..parallel import Unit, run_chapter_units, threads_param, workers_param
from ..params import ChapterConfig, param
from ..splits import Fold, check_fold, leave_one_session_out, leave_one_speaker_out, predefined
from ..train import predict, train_classifier
from ..train import progress as progress_bar
from .common import evaluate_predictions, svm_yardstick

__all__ = [
    "CHAPTER",
    "VARIANTS",
    "ChapterData",
    "Config",
    "Results",
    "Variant",
    "check_local_models",
    "fold_gains",
    "infogan_settings",
    "load",
    "load_text_corpus",
    "mi_quality",
    "plot_gan_curves",
    "plot_pca",
    "plot_samples_curve",
    "run",
    "run_fold",
    "signed_rank_p",
    "split_of",
    "spread_ratio",
    "summary",
    "table_ii",
    "table_iii",
    "table_multimodal",
]

CHAPTER = "03_ahn_infogan"
log = get_logger("experiments.ahn")

# Method names used in the result tables (the paper's wording where the paper has the row).
NO_AUG = "Ours — without augmentation"
WITH_AUG = "Ours — with augmentation"
REAL_ONLY = "Ours — classifier re-trained on real features only"
PLAIN = "Baseline without cross-modal alignment"


@dataclass
class Config(ChapterConfig):
    """Parameters of the InfoGAN chapter; ``paper_value`` gives the published setting."""

    corpus: str = param("embedded", paper="iemocap", help="corpus name (embedded, iemocap, msp_improv, msp_podcast)",
                        paper_value="IEMOCAP (Tables II-IV), MSP-IMPROV (V), MSP-Podcast (VI)")
    size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                      help="embedded corpus size (ignored for real corpora)")
    seeds: list[int] = param([0], smoke=[0], paper=[0, 1, 2],
                             help="random seeds; a fold's score is the mean over seeds, tables show mean ± std "
                                  "over folds (the held-out speakers)",
                             paper_value="not stated; ± is over the held-out speakers")
    split: str = param("auto", choices=("auto", "speaker", "session", "predefined"),
                       help="leave-one-speaker-out, leave-one-session-out, or the corpus's predefined split; auto: "
                            "the predefined split for MSP-Podcast (its release fixes one), else leave-one-speaker-out",
                       paper_value="leave-one-speaker-out (IEMOCAP); predefined partition (MSP-Podcast)")
    test_set: str = param("test1", choices=("test1", "test2", "test3"),
                          help="MSP-Podcast: the test set of its predefined split (Train trains, Development "
                               "selects the stage-1 epoch)", paper_value="not stated")
    transcripts: str | None = param(None, help="a transcript table (CSV id,text; e.g. from an ASR system) for the "
                                               "utterances, on any corpus, the embedded one included: a listed "
                                               "utterance takes the table's text (an empty text leaves it without "
                                               "text, see missing_text), the others keep the corpus's own; needed "
                                               "for MSP-IMPROV, whose release has no text; with it, MSP-Podcast "
                                               "needs no Transcripts/ folder",
                                    paper_value="ground-truth transcripts")
    target_sentences: str | None = param(None, help="MSP-IMPROV: CSV sentence,text with the 20 target sentences of "
                                                    "the corpus documentation (fills the read and target turns)",
                                         paper_value="not stated")
    missing_text: str = param("refuse", choices=("refuse", "exclude"),
                              help="utterances without text: refuse the run (naming how many), or leave them out "
                                   "and say how many", paper_value="not stated")
    max_folds: int | None = param(None, smoke=4, low=1,
                                  help="run only the first N folds (None: all)", paper_value="all")
    audio_encoder: str = param("cnn", paper="ast", choices=tuple(AUDIO_ENCODERS),
                               help="f_a: a log-mel CNN trained in stage 1, or a local AST / wav2vec2 fine-tuned",
                               paper_value="AST (SER), wav2vec2-large-robust (multimodal)")
    audio_model_path: str | None = param(None, help="local folder of the AST / wav2vec2 checkpoint (never downloaded)",
                                         paper_value="MIT/ast-finetuned-audioset-10-10-0.4593")
    text_encoder: str = param("minilm", paper="bert", choices=tuple(TEXT_ENCODERS),
                              help="frozen f_t: MiniLM-L6 (installed with its weights), or a local BERT/RoBERTa",
                              paper_value="BERT-base uncased (SER); RoBERTa-large / Llama 3 (multimodal)")
    text_model_path: str | None = param(None, help="local folder of the BERT/RoBERTa checkpoint (never downloaded)",
                                        paper_value="bert-base-uncased")
    max_frames: int = param(400, low=16, help="log-mel frames kept per utterance (CNN encoder)",
                            paper_value="n/a (AST: 1024 frames)")
    epochs_stage1: int = param(12, paper=10, low=1,
                               help="stage-1 epochs (baseline SER + alignment); with a validation part (MSP-Podcast's "
                                    "Development set, a predefined 'validation' split) the most, the best epoch's "
                                    "model is kept", paper_value="not stated")
    patience_stage1: int = param(3, smoke=0, low=0,
                                 help="stage 1 stops after this many epochs without a validation-UAR gain larger than "
                                      "min_delta_stage1 (0: all epochs_stage1); only with a validation part",
                                 paper_value="not stated (no early stopping named)")
    min_delta_stage1: float = param(0.0, low=0.0, high=1.0,
                                    help="smallest validation-UAR gain that counts as an improvement for patience_stage1",
                                    paper_value="not stated")
    lr_stage1: float = param(1e-3, smoke=3e-3, paper=1e-5, low=1e-7, high=1.0,
                             help="stage-1 Adam learning rate (1e-5 suits fine-tuning a transformer)",
                             paper_value="not stated")
    batch_size: int = param(32, paper=16, low=2, help="stage-1 mini-batch (also the InfoNCE negatives)",
                            paper_value="not stated")
    tau: float = param(0.1, low=1e-3, high=10.0, help="temperature of the contrastive / InfoNCE losses",
                       paper_value="not stated")
    align_weight: float = param(1.0, low=0.0, help="weight of L_CL + L_MI beside L_SER in stage 1",
                                paper_value="1 (all losses summed)")
    z_dim: int = param(64, low=1, help="noise dimension of the generator", paper_value="not stated")
    gan_hidden: int = param(0, low=0, help="hidden width of G and D; 0 = a single linear layer, no activation",
                            paper_value="0 (linear, no activation)")
    epochs_gan: int = param(80, smoke=30, paper=200, low=1, help="InfoGAN epochs", paper_value="not stated")
    batch_size_gan: int = param(128, smoke=32, low=2, help="InfoGAN mini-batch", paper_value="not stated")
    lr_g: float = param(2e-4, smoke=1e-3, low=1e-7, high=1.0, help="generator Adam learning rate",
                        paper_value="not stated")
    lr_d: float = param(2e-4, smoke=1e-3, low=1e-7, high=1.0, help="discriminator Adam learning rate",
                        paper_value="not stated")
    lr_heads: float = param(1e-4, low=0.0, high=1.0,
                            help="learning rate of the shared heads W_y, W_t in stage 2 (0 freezes them)",
                            paper_value="not stated ('can be further fine-tuned')")
    lambda_mi: float = param(1.0, low=0.0, help="lambda: weight of the MI terms L_Iy + L_It in the generator loss",
                             paper_value="not stated")
    mixup_alpha: float = param(0.2, low=0.0, help="Beta(alpha, alpha) of the real/generated mixup (0: no mixup)",
                               paper_value="mixup used, alpha not stated")
    epochs_stage3: int = param(40, paper=50, low=1,
                               help="stage-3 epochs (classifier fine-tuning; a fixed number, the same for every "
                                    "variant and its control)",
                               paper_value="not stated")
    lr_stage3: float = param(3e-3, low=1e-7, high=1.0, help="stage-3 Adam learning rate", paper_value="not stated")
    batch_size_stage3: int = param(256, low=2, help="stage-3 mini-batch", paper_value="not stated")
    aug_factor: int = param(1, low=1, help="generated features per real one (1 doubles the data; 4x multimodal)",
                            paper_value="1")
    balance_classes: bool = param(False, help="generate only for minority classes until balanced, from the label "
                                              "alone (instead of aug_factor per real sample)",
                                  paper_value="True for MSP-Podcast only")
    balance_text: str = param("class_gaussian", choices=("class_gaussian", "resample"),
                              help="text code for label-only generation: a draw from a per-class Gaussian of text "
                                   "embeddings, or a real embedding of the class", paper_value="not stated")
    fusion_scaling: str = param("block", choices=("block", "zscore", "none"),
                                help="rescaling of the new multimodal linear layers' inputs (statistics of the real "
                                     "training features): per block to a common norm, per dimension, or none",
                                paper_value="not stated (wav2vec2 and RoBERTa features share a scale)")
    class_weight: bool = param(False, help="inverse-frequency class weights in the stage-3 cross-entropy",
                               paper_value="False (plain cross-entropy)")
    ablation: bool = param(True, help="run the Table III ablation variants (three more InfoGANs, one more stage 1)",
                           paper_value="True")
    n_per_class: list[int] = param([50, 100, 200, 400], smoke=[10], paper=[100, 250, 500, 1000],
                                   help="generated samples per class for the UAR-vs-amount curve (not in the paper)",
                                   paper_value="n/a (not in the paper)")
    svm_C: float = param(1.0, low=1e-4, high=1e4, help="C of the yardstick RBF-SVM", paper_value="n/a")
    workers: int | None = workers_param(2, smoke=1, paper=1, units="(fold, seed) units")
    threads: int | None = threads_param(1, why="small networks: threads only contend")

    CHAPTER = CHAPTER

    def validate(self) -> None:
        super().validate()
        if self.audio_encoder == "cnn" and self.audio_model_path is not None:
            raise ParameterError("audio_model_path is only used with audio_encoder='ast' or 'wav2vec2'")
        if any(n < 1 for n in self.n_per_class):
            raise ParameterError("n_per_class values must be >= 1")
        if "test_set" in self.changed and self.corpus != "msp_podcast":
            raise ParameterError(f"test_set chooses MSP-Podcast's test set; corpus={self.corpus!r} has none "
                                 "(use split to choose the protocol)")
        if self.target_sentences is not None and self.corpus != "msp_improv":
            raise ParameterError(f"target_sentences are MSP-IMPROV's; corpus={self.corpus!r} has none")


@dataclass(frozen=True)
class Variant:
    """One row of the ablation (Table III): which stage-1 model, and what the InfoGAN uses."""

    key: str
    label: str
    align: bool
    use_text: bool
    use_mi: bool


VARIANTS: tuple[Variant, ...] = (
    Variant("full", "Full model", True, True, True),
    Variant("no_align", "Without cross-modal alignment", False, True, True),
    Variant("no_align_no_text", "Without cross-modal alignment & text embedding", False, False, True),
    Variant("no_align_no_mi", "Without cross-modal alignment & mutual information maximization", False, True, False),
)
"""The InfoGAN variants of Table III (the fifth row, the baseline without alignment, has no GAN)."""


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def check_local_models(cfg: Config) -> dict[str, str]:
    """Check, before anything runs, that the chosen encoders' weights are on this machine.

    Raises :class:`~serlib.config.ParameterError` or ``FileNotFoundError`` naming the parameter
    (``audio_model_path`` / ``text_model_path``) and what to put there.
    """
    audio = resolve_audio_model(cfg.audio_encoder, cfg.audio_model_path)
    text = resolve_text_model(cfg.text_encoder, cfg.text_model_path)
    return {"audio": str(audio) if audio else "log-mel CNN (trained here)", "text": str(text)}


@dataclass
class ChapterData:
    """Everything the folds share: the corpus, the audio inputs, the text embeddings, the folds."""

    corpus: Corpus
    inputs: Any
    t: np.ndarray
    folds: list[Fold]
    models: dict[str, str]

    @property
    def y(self) -> np.ndarray:
        return self.corpus.y


PREDEFINED_SPLIT_CORPORA = ("msp_podcast",)
"""Corpora whose release fixes a partition (``split="auto"`` uses it)."""


def split_of(cfg: Config) -> str:
    """The protocol ``cfg.split`` stands for (``auto`` resolved for ``cfg.corpus``)."""
    if cfg.split != "auto":
        return cfg.split
    return "predefined" if cfg.corpus in PREDEFINED_SPLIT_CORPORA else "speaker"


def _folds(corpus: Corpus, cfg: Config) -> list[Fold]:
    split = split_of(cfg)
    if split == "speaker":
        return leave_one_speaker_out(corpus)
    if split == "session":
        return leave_one_session_out(corpus)
    if corpus.name == "msp_podcast":
        from ..data.msp_podcast import partition

        return [partition(corpus, cfg.test_set)]
    s = corpus.table.get("split")
    val = ("validation",) if s is not None and (s.astype(str) == "validation").any() else ()
    return predefined(corpus, "split", val=val)


def _text_fix(cfg: Config) -> str:
    if cfg.transcripts:
        fix = f"give them a text in the transcript table {cfg.transcripts}"
        if cfg.corpus == "msp_improv" and cfg.target_sentences is None:
            fix += " or pass target_sentences=<CSV sentence,text> from the MSP-IMPROV documentation"
        return fix
    if cfg.corpus == "msp_improv":
        return ("pass transcripts=<CSV id,text> (e.g. from an ASR system) and/or target_sentences=<CSV sentence,text> "
                "from the MSP-IMPROV documentation")
    if cfg.corpus == "msp_podcast":
        return "restore the release's Transcripts/ folder (one <segment>.txt per segment), or pass transcripts=<CSV>"
    return "pass transcripts=<CSV id,text>"


def load_text_corpus(cfg: Config) -> Corpus:
    """The labelled corpus of ``cfg`` with the text this chapter needs.

    MSP-Podcast is read with its ``Transcripts/`` folder, or with the reader's ``transcripts``
    table (the folder, if present, then fills the segments the table does not list); MSP-IMPROV
    with the ``transcripts`` table and ``target_sentences``; any other corpus, the embedded one
    included, takes a ``transcripts`` table over its own text. The table's ids are checked
    against every utterance of the corpus, labelled or not. An utterance the table lists with an
    empty text has no text, as one whose corpus ships none. Utterances left without text are
    refused or, with ``missing_text="exclude"``, left out; ``corpus.meta["text"]`` counts them
    either way.

    Raises
    ------
    ParameterError
        No utterance has text, or some have none and ``missing_text="refuse"`` (the message gives
        the count, examples, and the fix).
    """
    from ..data.transcripts import apply_transcripts

    if cfg.corpus == "embedded":
        if cfg.transcripts:  # the whole corpus (its unlabelled pool too), so a table for all of it fits
            corpus = apply_transcripts(load_corpus("embedded", size=cfg.size, part="all"), cfg.transcripts)
            corpus = corpus.labelled()
        else:
            corpus = load_corpus("embedded", size=cfg.size, part="labelled")
    else:
        opts: dict[str, Any] = {}
        if cfg.corpus == "msp_podcast":
            opts["transcripts"] = cfg.transcripts or True
        if cfg.corpus == "msp_improv":
            opts.update(transcripts=cfg.transcripts, target_sentences=cfg.target_sentences)
        corpus = cfg.load_corpus(**opts)
        if cfg.transcripts and cfg.corpus not in ("msp_improv", "msp_podcast"):
            corpus = apply_transcripts(corpus, cfg.transcripts)
        corpus = corpus.labelled()
    no_text = corpus.table["transcript"].fillna("").astype(str).str.strip().eq("").to_numpy()
    n, k = len(corpus), int(no_text.sum())
    if k == n:
        raise ParameterError(f"corpus {corpus.name!r} has no transcripts ({n} utterances without text); this chapter "
                             f"needs them for t = f_t(x_t): {_text_fix(cfg)}")
    if k and cfg.missing_text == "refuse":
        ex = corpus.table.loc[no_text, "utt_id"].head(3).tolist()
        raise ParameterError(f"{k} of {n} labelled utterances of {corpus.name!r} have no text (e.g. {ex}): "
                             f"{_text_fix(cfg)}, or pass missing_text=exclude to leave them out")
    if k:
        log.warning("%d of %d utterances of %s have no text and are left out (missing_text=exclude)", k, n,
                    corpus.name)
        corpus = corpus.subset(~no_text)
    corpus.meta["text"] = {"utterances": n, "without_text": k, "excluded": k, "source": corpus.meta.get(
        "transcripts", "the corpus's own transcripts")}
    return corpus


def load(cfg: Config, *, progress: bool = True) -> ChapterData:
    """Corpus (labelled part, with text), encoder inputs, cached text embeddings and the folds of ``cfg``."""
    models = check_local_models(cfg)
    corpus = load_text_corpus(cfg)
    dev = str(get_device(cfg.device))
    t = text_embeddings(corpus.table["transcript"].fillna("").tolist(), cfg.text_encoder, cfg.text_model_path,
                        device=dev)
    if cfg.audio_encoder == "cnn":
        inputs: Any = MelBatches(frames(corpus, "logmel", progress=progress), max_frames=cfg.max_frames)
    else:
        from ..audio import load as load_audio

        enc = HFAudioEncoder(cfg.audio_encoder, cfg.audio_model_path)  # checks the folder; weights reloaded per fold
        waves = [load_audio(p, 16000)[0] for p in progress_bar(corpus.table["path"], "audio", enabled=progress)]
        inputs = WaveBatches(waves, enc.extractor)
        del enc
    folds = _folds(corpus, cfg)
    if cfg.max_folds is not None:
        folds = folds[: cfg.max_folds]
    for f in folds:
        check_fold(f, corpus.y, corpus.labels)
    return ChapterData(corpus, inputs, t, folds, models)


# ---------------------------------------------------------------------------------------------
# One fold
# ---------------------------------------------------------------------------------------------
def _encoder(cfg: Config, t_dim: int) -> tuple[nn.Module, int]:
    if cfg.audio_encoder == "cnn":
        return LogMelCNN(64, dim=t_dim), t_dim
    enc = HFAudioEncoder(cfg.audio_encoder, cfg.audio_model_path)
    return enc, enc.dim


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)).astype(np.float32)


def _linear_probe(x_fit: np.ndarray, y_fit: np.ndarray, x_ref: np.ndarray, blocks: Sequence[int], n_classes: int,
                  cfg: Config, dev: torch.device, seed: int) -> Any:
    """Train a new linear layer (stage 3, multimodal case); return its predict function.

    ``blocks`` gives the sizes of the concatenated inputs (audio, text). Our CNN features and the
    unit-norm text embeddings differ in scale by orders of magnitude, and a short Adam run would
    ignore the smaller block, so ``cfg.fusion_scaling`` rescales with statistics of the *real*
    training rows ``x_ref``: ``block`` scales each block to a mean row norm of sqrt(its size)
    (its geometry kept), ``zscore`` standardises every dimension, ``none`` leaves them.
    """
    d = x_ref.shape[1]
    mu, scale = np.zeros(d, np.float32), np.ones(d, np.float32)
    if cfg.fusion_scaling == "zscore":
        mu, scale = x_ref.mean(0), 1.0 / (x_ref.std(0) + 1e-6)
    elif cfg.fusion_scaling == "block":
        start = 0
        for size in blocks:
            norm = np.linalg.norm(x_ref[:, start : start + size], axis=1).mean()
            scale[start : start + size] = np.sqrt(size) / max(norm, 1e-8)
            start += size
    torch.manual_seed(seed)
    lin = nn.Linear(d, n_classes)
    with quiet_training():
        train_classifier(lin, ((x_fit - mu) * scale).astype(np.float32), y_fit, epochs=cfg.epochs_stage3,
                       lr=cfg.lr_stage3, batch_size=cfg.batch_size_stage3, class_weight=cfg.class_weight, device=dev,
                       seed=seed)
    return lambda x: predict(lin, ((x - mu) * scale).astype(np.float32))


def run_fold(data: ChapterData, fold: Fold, cfg: Config, seed: int, *, keep_features: bool = False) -> dict[str, Any]:
    """All three stages of every variant on one fold with one seed.

    Returns a dict of lists of records: ``scores`` (method, uar, accuracy, macro_f1),
    ``predictions``, ``stage1`` and ``gan`` histories, ``curve`` (UAR vs generated per class),
    ``quality`` (final MI losses of each variant) and, if ``keep_features``, the real and
    generated training features of the full model for the PCA figure.
    """
    dev = get_device(cfg.device)
    y, T = data.y, data.t
    tr, te = np.asarray(fold.train), np.asarray(fold.test)
    K = len(data.corpus.labels)
    t_dim = T.shape[1]
    inputs = data.inputs.fit_stats(tr)
    tags = {"fold": fold.name, "seed": seed}
    out: dict[str, list[Any]] = {k: [] for k in ("scores", "predictions", "stage1", "gan", "curve", "quality")}

    def score(method: str, pred: np.ndarray, **extra: Any) -> float:
        rec = evaluate_predictions(y[te], pred, method=method, **tags, **extra)
        out["scores"].append(rec)
        out["predictions"].append(pd.DataFrame({"method": method, **tags, "y_true": y[te], "y_pred": pred}))
        return float(rec["uar"])

    # ---- stage 1: aligned (and, for the ablation, plain)
    stage1: dict[bool, tuple[AlignedSER, np.ndarray]] = {}
    for align in ([True, False] if cfg.ablation else [True]):
        seed_everything(seed)
        enc, h_dim = _encoder(cfg, t_dim)
        model = AlignedSER(enc, h_dim, K, t_dim)
        hist = train_baseline(model, inputs, tr, y, T, epochs=cfg.epochs_stage1, lr=cfg.lr_stage1,
                              batch_size=cfg.batch_size, tau=cfg.tau, align=align, align_weight=cfg.align_weight,
                              device=dev, seed=seed, val_rows=np.asarray(fold.val),
                              patience=cfg.patience_stage1, min_delta=cfg.min_delta_stage1)
        out["stage1"].append(hist.frame().assign(model="aligned" if align else "plain", **tags))
        H = embed(model, inputs, device=dev)
        stage1[align] = (model, H)
        score(NO_AUG if align else PLAIN, predict(model.classifier, H[te]))

    # ---- stages 2 and 3 per variant
    for v in VARIANTS if cfg.ablation else VARIANTS[:1]:
        base, H = stage1[v.align]
        model = copy.deepcopy(base)
        seed_everything(seed)
        gan = InfoGAN(model.h_dim, K, t_dim, cfg.z_dim, model.classifier, model.text_head,
                      use_text=v.use_text, hidden=cfg.gan_hidden)
        ghist = train_infogan(gan, H[tr], y[tr], T[tr], epochs=cfg.epochs_gan, batch_size=cfg.batch_size_gan,
                              lr_g=cfg.lr_g, lr_d=cfg.lr_d, lr_q=cfg.lr_heads, lam=cfg.lambda_mi, use_mi=v.use_mi,
                              mixup_alpha=cfg.mixup_alpha, tau=cfg.tau, device=dev, seed=seed)
        gframe = ghist.frame().assign(variant=v.label, **tags)
        out["gan"].append(gframe)
        snapshot = copy.deepcopy(model.classifier.state_dict())
        if cfg.balance_classes:
            h_gen, y_gen, _ = generate_balanced(gan, y[tr], T[tr], text_mode=cfg.balance_text, seed=seed, device=dev)
        else:
            h_gen, y_gen, _ = generate_like(gan, y[tr], T[tr], cfg.aug_factor, seed=seed, device=dev)
        model.classifier.load_state_dict(snapshot)
        stage3_ser(model, gan, H[tr], y[tr], h_gen, y_gen, epochs=cfg.epochs_stage3, lr=cfg.lr_stage3,
                   batch_size=cfg.batch_size_stage3, class_weight=cfg.class_weight, device=dev, seed=seed)
        uar_aug = score(WITH_AUG if v.key == "full" else v.label, predict(model.classifier, H[te]), variant=v.label)
        last = gframe.iloc[-1]
        out["quality"].append({"variant": v.label, **tags, "uar_aug": uar_aug,
                               **{k: float(last[k]) for k in ("mi_y_fake", "mi_t_fake", "mi_y_real", "mi_t_real",
                                                                "acc_y_fake", "d_loss", "g_adv")}})
        if v.key != "full":
            continue

        # control: the same fine-tuning without generated features
        model.classifier.load_state_dict(snapshot)
        stage3_ser(model, gan, H[tr], y[tr], epochs=cfg.epochs_stage3, lr=cfg.lr_stage3,
                   batch_size=cfg.batch_size_stage3, class_weight=cfg.class_weight, device=dev, seed=seed)
        uar0 = score(REAL_ONLY, predict(model.classifier, H[te]))
        out["curve"].append({"n_per_class": 0, "uar": uar0, **tags})
        for n in cfg.n_per_class:
            hg, yg, _ = generate_balanced(gan, y[tr], T[tr], per_class=n, text_mode="resample", seed=seed + n,
                                          device=dev)
            model.classifier.load_state_dict(snapshot)
            stage3_ser(model, gan, H[tr], y[tr], hg, yg, epochs=cfg.epochs_stage3, lr=cfg.lr_stage3,
                       batch_size=cfg.batch_size_stage3, class_weight=cfg.class_weight, device=dev, seed=seed)
            out["curve"].append({"n_per_class": n, "uar": uar(y[te], predict(model.classifier, H[te])), **tags})

        # multimodal case: new linear layers on t, [h, t]; augmented with t' = W_t h_hat + b_t
        tn = _normalise(T)
        t_prime = predicted_text(model.text_head, h_gen)
        Ha = stage1[True][1]
        score("Ours without augmentation — Audio", predict(base.classifier, Ha[te]))
        score("Ours — Audio", _last_pred(out, WITH_AUG))
        dt, dh = tn.shape[1], Ha.shape[1]
        probe = _linear_probe(tn[tr], y[tr], tn[tr], [dt], K, cfg, dev, seed)
        score("Ours without augmentation — Text", probe(tn[te]))
        probe = _linear_probe(np.concatenate([tn[tr], t_prime]), np.concatenate([y[tr], y_gen]), tn[tr], [dt], K,
                              cfg, dev, seed)
        score("Ours — Text", probe(tn[te]))
        x_real = np.concatenate([Ha[tr], tn[tr]], axis=1)
        x_test = np.concatenate([Ha[te], tn[te]], axis=1)
        probe = _linear_probe(x_real, y[tr], x_real, [dh, dt], K, cfg, dev, seed)
        score("Ours without augmentation — Audio + Text", probe(x_test))
        if cfg.balance_classes:
            xa = np.concatenate([x_real, np.concatenate([h_gen, t_prime], axis=1)])
            ya = np.concatenate([y[tr], y_gen])
        else:
            reps = len(y_gen) // len(tr)
            xa, ya, _ = multimodal_combinations(np.tile(Ha[tr], (reps, 1)), h_gen, np.tile(tn[tr], (reps, 1)),
                                                t_prime, y_gen)
        probe = _linear_probe(xa, ya, x_real, [dh, dt], K, cfg, dev, seed)
        score("Ours — Audio + Text", probe(x_test))
        if keep_features:
            out["features"] = [{"h": Ha[tr], "y": y[tr], "h_gen": h_gen, "y_gen": y_gen, **tags}]
    return out


def _last_pred(out: dict[str, list[Any]], method: str) -> np.ndarray:
    for p in reversed(out["predictions"]):
        if p["method"].iloc[0] == method:
            return p["y_pred"].to_numpy()
    raise KeyError(method)


def _fold_job(data: ChapterData, fold: Fold, cfg: Config, seed: int, keep: bool) -> dict[str, Any]:
    """:func:`run_fold` with its CPU time (one unit of :func:`serlib.parallel.run_units`)."""
    cpu = time.process_time()
    out = run_fold(data, fold, cfg, seed, keep_features=keep)
    out["cpu_seconds"] = time.process_time() - cpu
    return out


SETTING_KEYS = frozenset({"use_text", "use_mi", "lambda_mi", "mixup_alpha", "epochs_gan", "lr_g", "lr_d", "lr_heads",
                          "z_dim", "aug_factor"})
"""What :func:`infogan_settings` lets a setting change."""


def infogan_settings(data: ChapterData, fold: Fold, cfg: Config, seed: int,
                     settings: Mapping[str, Mapping[str, Any]], *, align: bool = True
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage 1 once on ``fold``, then stages 2 and 3 once per named InfoGAN setting.

    A quick study of one change to the InfoGAN (the chapter's exercises use it): every setting
    starts from the same stage-1 model (aligned unless ``align`` is False) and differs from
    ``cfg`` only by its overrides, any of :data:`SETTING_KEYS` (``use_text``/``use_mi`` as in
    :class:`Variant`; the others are :class:`Config` fields). Stage 3 fine-tunes the classifier
    on real + generated features as :func:`run_fold` does, and, as the control, on real features
    only.

    Returns
    -------
    (one row per setting: ``uar_no_aug`` (the stage-1 classifier), ``uar_control``,
    ``uar_aug`` and the final-epoch ``mi_y_fake``, ``mi_t_fake``, ``acc_y_fake``, ``d_loss``,
    ``g_adv``; the InfoGAN histories with a ``setting`` column)
    """
    for name, over in settings.items():
        unknown = sorted(set(over) - SETTING_KEYS)
        if unknown:
            raise ParameterError(f"setting {name!r}: cannot change {unknown}; a setting may change "
                                 f"{sorted(SETTING_KEYS)}")
    dev = get_device(cfg.device)
    y, T = data.y, data.t
    tr, te = np.asarray(fold.train), np.asarray(fold.test)
    K, t_dim = len(data.corpus.labels), T.shape[1]
    inputs = data.inputs.fit_stats(tr)
    seed_everything(seed)
    enc, h_dim = _encoder(cfg, t_dim)
    base = AlignedSER(enc, h_dim, K, t_dim)
    train_baseline(base, inputs, tr, y, T, epochs=cfg.epochs_stage1, lr=cfg.lr_stage1, batch_size=cfg.batch_size,
                   tau=cfg.tau, align=align, align_weight=cfg.align_weight, device=dev, seed=seed,
                   val_rows=np.asarray(fold.val), patience=cfg.patience_stage1, min_delta=cfg.min_delta_stage1)
    H = embed(base, inputs, device=dev)
    uar0 = uar(y[te], predict(base.classifier, H[te]))
    rows, hists = [], []
    for name, over in settings.items():
        c = replace(cfg, **{k: v for k, v in over.items() if k not in ("use_text", "use_mi")})
        model = copy.deepcopy(base)
        seed_everything(seed)
        gan = InfoGAN(model.h_dim, K, t_dim, c.z_dim, model.classifier, model.text_head,
                      use_text=bool(over.get("use_text", True)), hidden=c.gan_hidden)
        hist = train_infogan(gan, H[tr], y[tr], T[tr], epochs=c.epochs_gan, batch_size=c.batch_size_gan, lr_g=c.lr_g,
                             lr_d=c.lr_d, lr_q=c.lr_heads, lam=c.lambda_mi, use_mi=bool(over.get("use_mi", True)),
                             mixup_alpha=c.mixup_alpha, tau=c.tau, device=dev, seed=seed).frame()
        snapshot = copy.deepcopy(model.classifier.state_dict())
        h_gen, y_gen, _ = generate_like(gan, y[tr], T[tr], c.aug_factor, seed=seed, device=dev)
        scores = {}
        for key, extra in (("uar_control", ()), ("uar_aug", (h_gen, y_gen))):
            model.classifier.load_state_dict(snapshot)
            stage3_ser(model, gan, H[tr], y[tr], *extra, epochs=c.epochs_stage3, lr=c.lr_stage3,
                       batch_size=c.batch_size_stage3, class_weight=c.class_weight, device=dev, seed=seed)
            scores[key] = uar(y[te], predict(model.classifier, H[te]))
        last = hist.iloc[-1]
        rows.append({"setting": name, "fold": fold.name, "seed": seed, "uar_no_aug": uar0, **scores,
                     **{k: float(last[k]) for k in ("mi_y_fake", "mi_t_fake", "acc_y_fake", "d_loss", "g_adv")}})
        hists.append(hist.assign(setting=name, fold=fold.name, seed=seed))
    return pd.DataFrame(rows).set_index("setting"), pd.concat(hists, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# The whole study
# ---------------------------------------------------------------------------------------------
@dataclass
class Results:
    """Tidy outputs of :func:`run` (one row per fold x seed x method, epoch, ...)."""

    cfg: Config
    scores: pd.DataFrame
    predictions: pd.DataFrame
    stage1: pd.DataFrame
    gan: pd.DataFrame
    curve: pd.DataFrame
    quality: pd.DataFrame
    yardstick: pd.DataFrame
    features: dict[str, Any]
    labels: tuple[str, ...]
    models: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)


def run(cfg: Config, data: ChapterData | None = None, *, progress: bool = True) -> Results:
    """Run every fold and seed of ``cfg`` (see the module docstring), plus the yardstick."""
    t0 = time.time()
    data = data if data is not None else load(cfg, progress=progress)
    t_load = time.time() - t0
    parts: dict[str, list[Any]] = {k: [] for k in ("scores", "predictions", "stage1", "gan", "curve", "quality")}
    features: dict[str, Any] = {}
    jobs = [(f, s) for f in data.folds for s in cfg.seeds]
    device = get_device(cfg.device)
    units = [Unit(f"fold={fold.name}/seed={seed}", (fold, cfg, seed, i == 0)) for i, (fold, seed) in enumerate(jobs)]
    results = run_chapter_units("ahn.run", _fold_job, units, cfg, device=device, context=data, progress=progress,
                                desc="folds x seeds",
                                data=(data.corpus.fingerprint(), data.folds, data.t, data.models))
    for res in results:
        for k, items in parts.items():
            items.extend(res[k])
        if "features" in res:
            features = res["features"][0]
    t_folds = time.time() - t0 - t_load
    ys = []
    for adaptive in (False, True):
        s, _ = svm_yardstick(data.corpus, data.folds, feature_set="is10", speaker_adaptive=adaptive, C=cfg.svm_C,
                             progress=progress)
        ys.append(s)
    yard = pd.concat(ys, ignore_index=True)

    def frame(name: str) -> pd.DataFrame:
        items = parts[name]
        if not items:
            return pd.DataFrame()
        return pd.concat(items, ignore_index=True) if isinstance(items[0], pd.DataFrame) else pd.DataFrame(items)

    return Results(cfg=cfg, scores=frame("scores"), predictions=frame("predictions"), stage1=frame("stage1"),
                   gan=frame("gan"), curve=frame("curve"), quality=frame("quality"), yardstick=yard,
                   features=features, labels=data.corpus.labels, models=data.models,
                   seconds={"load": round(t_load, 1), "folds": round(t_folds, 1),
                            "folds_cpu": round(sum(r["cpu_seconds"] for r in results), 1),
                            "yardstick": round(time.time() - t0 - t_load - t_folds, 1)})


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def summary(scores: pd.DataFrame, metric: str = "uar") -> pd.DataFrame:
    """Per method: mean over seeds within each fold, then mean ± std over folds (in %)."""
    per_fold = scores.groupby(["method", "fold"], sort=False)[metric].mean().reset_index()
    g = per_fold.groupby("method", sort=False)[metric]
    t = pd.DataFrame({"mean": g.mean() * 100, "std": g.std(ddof=0) * 100, "folds": g.count()})
    t["ours"] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(t["mean"], t["std"])]
    return t


def _ours(res: Results, rows: dict[str, str], metric: str = "uar", include_yardstick: bool = True) -> pd.DataFrame:
    s = summary(pd.concat([res.scores, res.yardstick.assign(seed=0)], ignore_index=True), metric)
    col = f"ours {metric.upper()} (%)"
    out = pd.DataFrame({col: [s.loc[k, "ours"] if k in s.index else "" for k in rows.values()],
                        "mean": [s.loc[k, "mean"] if k in s.index else np.nan for k in rows.values()]},
                       index=list(rows))
    if include_yardstick:
        for m in res.yardstick["method"].unique():
            out.loc[f"Yardstick: {m}", [col, "mean"]] = [s.loc[m, "ours"], s.loc[m, "mean"]]
    return out


def table_ii(res: Results) -> pd.DataFrame:
    """Table II: UAR without vs with augmentation (paper rows for the other methods kept, ours empty)."""
    rows = {"Ours — without augmentation": NO_AUG, "Ours — with augmentation": WITH_AUG,
            "Ours — classifier re-trained on real features only (control)": REAL_ONLY}
    return beside(_ours(res, rows), TABLES["II"])


def table_iii(res: Results) -> pd.DataFrame:
    """Table III: the ablation, beside the paper's values."""
    rows = {v.label: (WITH_AUG if v.key == "full" else v.label) for v in VARIANTS}
    rows["Baseline without cross-modal alignment"] = PLAIN
    return beside(_ours(res, rows, include_yardstick=False), TABLES["III"])


def table_multimodal(res: Results, corpus: str | None = None) -> pd.DataFrame:
    """Tables IV-VI: audio, text, audio + text, with and without augmentation (UAR)."""
    key = MULTIMODAL_TABLE.get(corpus or res.cfg.corpus, "IV")
    rows = {}
    for col in ("Audio", "Text", "Audio + Text"):
        rows[f"Ours — {col}"] = f"Ours — {col}"
    for col in ("Audio", "Text", "Audio + Text"):
        rows[f"Ours without augmentation — {col}"] = f"Ours without augmentation — {col}"
    return beside(_ours(res, rows, include_yardstick=False), TABLES[key])


def fold_gains(res: Results, with_aug: str = WITH_AUG, without: str = NO_AUG) -> pd.DataFrame:
    """Per fold: UAR without and with augmentation (mean over seeds) and the difference, in %."""
    s = res.scores.groupby(["method", "fold"], sort=False)["uar"].mean().unstack("method") * 100
    out = pd.DataFrame({"without": s[without], "with": s[with_aug]})
    out["gain"] = out["with"] - out["without"]
    return out


def signed_rank_p(diff: pd.Series | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of per-fold differences (NaN when undefined)."""
    from scipy.stats import wilcoxon

    d = np.asarray(diff, dtype=float)
    if len(d) < 2 or not np.any(d != 0):
        return float("nan")
    try:
        return float(wilcoxon(d).pvalue)
    except ValueError:
        return float("nan")


def mi_quality(res: Results) -> pd.DataFrame:
    """Per variant: final MI losses of the generator and the UAR after augmentation (means over folds)."""
    cols = ["mi_y_fake", "mi_t_fake", "acc_y_fake", "mi_y_real", "mi_t_real", "uar_aug"]
    q = res.quality.groupby("variant", sort=False)[cols].mean()
    q["uar_aug"] *= 100
    return q


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_gan_curves(res: Results) -> plt.Figure:
    """MI losses and adversarial losses per InfoGAN epoch, mean over folds and seeds, per variant."""
    g = res.gan.groupby(["variant", "epoch"], sort=False).mean(numeric_only=True).reset_index()
    panels = [("mi_y_fake", "$\\mathcal{L}_{I_y}$ on $\\hat h$ (CE through $W_y$)"),
              ("mi_t_fake", "$\\mathcal{L}_{I_t}$ on $\\hat h$ (InfoNCE through $W_t$)"),
              ("acc_y_fake", "share of $\\hat h$ classified as their code"),
              ("d_loss", "discriminator loss"), ("g_adv", "generator adversarial loss"),
              ("d_real", "D(real) and D(generated) (dashed)")]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (col, title) in zip(axes.flat, panels):
        for name, d in g.groupby("variant", sort=False):
            line, = ax.plot(d["epoch"], d[col], label=name)
            if col == "d_real":
                ax.plot(d["epoch"], d["d_fake"], ls="--", color=line.get_color())
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("InfoGAN epoch")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize="small", frameon=False)
    return fig


def plot_pca(res: Results) -> plt.Figure:
    """PCA (fitted on real training features) of real h and generated h_hat, coloured by emotion."""
    from sklearn.decomposition import PCA

    f = res.features
    pca = PCA(2).fit(f["h"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, sharey=True)
    for ax, (key, ykey, title) in zip(axes, [("h", "y", "real $h$"), ("h_gen", "y_gen", "generated $\\hat h$")]):
        p = pca.transform(f[key])
        for k, lab in enumerate(res.labels):
            m = f[ykey] == k
            ax.scatter(p[m, 0], p[m, 1], s=9, alpha=0.6, label=lab)
        ax.set_title(f"{title} ({f['fold']}, seed {f['seed']})")
        ax.set_xlabel("PC 1")
    axes[0].set_ylabel("PC 2")
    axes[0].legend(fontsize="small", markerscale=2)
    fig.tight_layout()
    return fig


def spread_ratio(res: Results, n_components: int = 10) -> pd.DataFrame:
    """Generated over real variance per emotion (the PCA figure's fold): in total, and within the
    subspace of the real features' first ``n_components`` principal directions."""
    from sklearn.decomposition import PCA

    f = res.features
    pca = PCA(min(n_components, *f["h"].shape)).fit(f["h"])
    rows = {}
    for k, lab in enumerate(res.labels):
        real, gen = f["h"][f["y"] == k], f["h_gen"][f["y_gen"] == k]
        if len(real) > 1 and len(gen) > 1:
            rows[lab] = {"total": float(gen.var(axis=0).sum() / real.var(axis=0).sum()),
                         f"top-{pca.n_components_} real PCs": float(pca.transform(gen).var(axis=0).sum()
                                                                    / pca.transform(real).var(axis=0).sum())}
    return pd.DataFrame(rows).T


def plot_samples_curve(res: Results) -> plt.Figure:
    """UAR against generated samples per class (0 = classifier re-trained on real features only)."""
    per_fold = res.curve.groupby(["n_per_class", "fold"])["uar"].mean().reset_index()
    g = per_fold.groupby("n_per_class")["uar"].agg(["mean", "std"]) * 100
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.errorbar(g.index, g["mean"], yerr=g["std"], marker="o", capsize=3, label="stage 3 on real + generated")
    no_aug = summary(res.scores).loc[NO_AUG, "mean"]
    ax.axhline(no_aug, color="grey", ls="--", lw=1, label="stage-1 classifier (no augmentation)")
    ax.set_xlabel("generated samples per class")
    ax.set_ylabel("UAR (%)")
    ax.legend(fontsize="small")
    return fig
