"""Chapter 2: a GAN trained with mixup for synthetic emotion features and a compressed
emotional code (Latif et al. 2020) -- an explicit, documented reconstruction.

What we know of the method comes from a doctoral summary (Latif, Sec. 2.2, Tables 3-4):
mixup (Zhang et al. 2018) is used to train a GAN that both generates synthetic emotional
feature vectors and learns a compressed emotional representation; DNN classifiers are trained
on real openSMILE features augmented by mixup, on synthetic features only, and on both.
Everything else is our choice, a named parameter of :class:`Config` whose ``paper_value``
says "not stated in the summary".

The pipeline, one fold at a time (leave-one-session-out, or all of one corpus -> another):

1. 1582-d IS10 functionals standardised with the training sessions' statistics (chapter 1's
   :func:`~serlib.experiments.sahu2018.load` and
   :func:`~serlib.experiments.sahu2018.fold_features`).
2. The mixup GAN (:func:`fit_mixup_gan`): a conditional GAN whose discriminator is trained on
   mixup-interpolated batches (``mixup_pairs``, ``alpha``) and, with ``encoder="bigan"``, a
   BiGAN encoder giving the compressed code (:mod:`serlib.models.mixup_gan`).
3. Chapter 1's improved conditional GAN (AAE, decoder initialisation, G lr 1e-3 / D lr 1e-4,
   five G steps per D step) on the same fold and seed, for the "Sahu et al." row.
4. DNN classifiers (:class:`~serlib.models.classifiers.MLP` with dropout) on real features
   trained with mixup, synthetic features, real + synthetic features and the codes, scored
   by UAR on the held-out real data (:func:`dnn_scores`).
5. The ablation (:func:`run_ablation`): the GAN with every ``mixup_pairs`` and ``alpha`` of
   :attr:`Config.ablation_settings`, each scored by the synthetic-only UAR, a real-vs-synthetic
   two-sample test and its losses.

:func:`load` reads the data (chapter 1's loader); :func:`run` runs (fold, seed) jobs through
:func:`serlib.parallel.run_units` and returns a :class:`Results`; :func:`table3`, :func:`table4`, :func:`paper_layout` and
:func:`ablation_table` put them beside the summary's numbers.

References
----------
S. Latif, M. Asim, R. Rana, S. Khalifa, R. Jurdak, B. W. Schuller. Augmenting generative
adversarial networks for speech emotion recognition. Interspeech 2020 (summarised in
S. Latif, Deep representation learning for improving speech emotion recognition, Sec. 2.2).

H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. mixup: Beyond empirical risk minimization.
ICLR 2018.

S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..config import ParameterError, get_device, get_logger, seed_everything
from ..metrics import classification_scores
from ..models.aae import GMMPrior
from ..models.classifiers import MLP
from ..models.gan import GANRun, sample_cgan
from ..models.mixup_gan import CONDITIONING, MIXUP_PAIRS, MixupGAN, encode, train_mixup_classifier, train_mixup_gan
from ..papers import beside
from ..papers.latif2020 import CONDITIONS as PAPER_COLUMNS
from ..papers.latif2020 import STDS, STUDIES, TABLES
from ..parallel import Unit, run_chapter_units, threads_param, workers_param
from ..params import ChapterConfig, param
from ..splits import cross_corpus
from ..train import predict
from . import sahu2018 as ch1
from .sahu2018 import ChapterData, FoldData

__all__ = [
    "CHAPTER",
    "CONDITIONS",
    "ENCODERS",
    "AblationSetting",
    "Config",
    "Results",
    "ablation_table",
    "chapter1_config",
    "cross_folds",
    "dnn_scores",
    "fit_mixup_gan",
    "load",
    "make_prior",
    "paper_layout",
    "plot_ablation",
    "plot_ablation_curves",
    "plot_losses",
    "plot_projection",
    "run",
    "run_ablation_cell",
    "run_fold",
    "similarity_table",
    "summary_table",
    "table3",
    "table4",
    "within_folds",
]

CHAPTER = "02_latif2020_mixup_gan"
log = get_logger("experiments.latif2020")

ENCODERS: tuple[str, ...] = ("bigan", "aae", "none")
"""Where the compressed code comes from: a BiGAN encoder trained inside the mixup GAN, an
adversarial autoencoder's bottleneck trained beside it (chapter 1's AAE), or nowhere."""

CONDITIONS: dict[str, str] = {
    "real": "DNN on real features (mixup-augmented when 'real' is in classifier_mixup)",
    "real:plain": "DNN on real features without mixup (ours only)",
    "mixup:synthetic": "DNN on mixup-GAN samples only",
    "mixup:real+synthetic": "DNN on real features + mixup-GAN samples",
    "mixup:codes": "DNN on the mixup GAN's compressed codes (BiGAN encoder, or AAE with encoder='aae')",
    "cgan:synthetic": "DNN on chapter 1's improved-cGAN samples only",
    "cgan:real+synthetic": "DNN on real features + chapter 1's improved-cGAN samples",
    "aae:codes": "DNN on chapter 1's 2-d AAE codes",
}
"""Every scored condition: key -> what the DNN was trained on (tested on held-out real data)."""

_CLF_GROUP = {"real": "real", "real:plain": "real", "mixup:synthetic": "synthetic", "cgan:synthetic": "synthetic",
              "mixup:real+synthetic": "real+synthetic", "cgan:real+synthetic": "real+synthetic",
              "mixup:codes": "codes", "aae:codes": "codes"}


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
_NS = "not stated in the summary"


@dataclass
class Config(ChapterConfig):
    """Parameters of chapter 2. ``book`` is the default profile; see :meth:`reference`.

    Every setting the doctoral summary does not fix says so in its ``paper_value``.
    """

    CHAPTER = CHAPTER

    corpus: str = param("embedded", paper="iemocap", paper_value="IEMOCAP",
                        help="training corpus (leave-one-session-out)")
    size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                      help="size of the embedded corpus (ignored for real corpora)")
    cross_corpus: str | None = param("embedded:cross", paper="msp_improv",
                                     paper_value="MSP-IMPROV (Table 4; the summary names no corpus)",
                                     help="test corpus of Table 4 ('embedded:cross' = the embedded corpus's cross "
                                          "variant; None or '' skips it)")
    cross_data_root: str | None = param(None, help="folder of the cross corpus; None uses $SERLIB_DATA/<corpus>")
    max_folds: int | None = param(None, low=1, paper_value="all sessions (cross-validation)",
                                  help="run only the first k leave-one-session-out folds (None = all)")
    # ---- mixup in the GAN ---------------------------------------------------------------------
    mixup_pairs: str = param("both", choices=MIXUP_PAIRS, paper_value=_NS + " (mixup is used 'to train a GAN')",
                             help="pairs mixed for the discriminator: real_real (mixed inputs and labels, target "
                                  "1), real_fake (soft target lam), both, none (= chapter 1's cGAN step)")
    alpha: float = param(0.2, low=0, paper_value=_NS + " (Zhang et al.: 0.1-0.4 on ImageNet, 0.2 for their GAN)",
                         help="mixup Beta(alpha, alpha) parameter of the GAN (0 = no mixing)")
    lam_per_sample: bool = param(False, paper_value=_NS + " (Zhang et al.'s code: one lam per batch)",
                                 help="draw one mixing weight per example instead of one per batch")
    # ---- the GAN and its encoder --------------------------------------------------------------
    encoder: str = param("bigan", choices=ENCODERS, paper_value=_NS + " ('a compressed representation')",
                         help="source of the compressed code: bigan (encoder trained in the GAN's game), aae "
                              "(AAE bottleneck of size code_dim beside a GAN without encoder), none")
    conditioning: str = param("projection", choices=CONDITIONING, paper_value=_NS,
                              help="how the discriminator sees the label: projection (Miyato & Koyama) or concat "
                                   "(chapter 1's cGAN)")
    code_dim: int = param(8, low=1, paper_value=_NS, help="size of the code = the generator's noise")
    g_hidden: list[int] = param([128, 128], smoke=[64], paper=[1000, 1000], paper_value=_NS,
                                help="generator hidden widths")
    d_hidden: list[int] = param([128, 128], smoke=[64], paper=[1000, 1000], paper_value=_NS,
                                help="discriminator hidden widths")
    e_hidden: list[int] = param([128, 128], smoke=[32], paper=[1000, 1000], paper_value=_NS,
                                help="BiGAN encoder hidden widths")
    prior_radius: float = param(4.0, low=0, paper_value=_NS + " (chapter 1's mixture prior)",
                                help="distance of each noise-mixture component's mean from the origin")
    prior_std: float = param(1.0, low=0, paper_value=_NS, help="standard deviation of each mixture component")
    epochs: int = param(50, smoke=30, paper=300, low=1, paper_value=_NS,
                        help="GAN epochs (discriminator passes over the training data)")
    lr_g: float = param(2e-4, smoke=2e-3, low=0, paper_value=_NS, help="generator (and encoder) learning rate (Adam, beta1 0.5)")
    lr_d: float = param(2e-4, smoke=2e-3, low=0, paper_value=_NS, help="discriminator learning rate")
    g_steps_per_d_step: int = param(1, low=1, paper_value=_NS, help="generator updates per discriminator update")
    batch_size: int = param(64, smoke=16, low=2, paper_value=_NS, help="mini-batch size of the GANs and the DNNs")
    n_synthetic_per_class: int = param(100, smoke=25, paper=1000, low=1, paper_value=_NS,
                                       help="synthetic samples generated per emotion")
    # ---- the DNN classifiers ------------------------------------------------------------------
    clf_hidden: list[int] = param([256, 128], smoke=[32], paper=[1000, 1000], paper_value=_NS + " ('DNN')",
                                  help="DNN hidden widths")
    clf_dropout: float = param(0.3, low=0, high=0.95, paper_value=_NS, help="DNN dropout")
    clf_epochs: int = param(20, smoke=10, paper=100, low=1, paper_value=_NS,
                            help="DNN epochs (a fixed number: the protocol's folds have no validation part to stop on)")
    clf_lr: float = param(1e-3, low=0, paper_value=_NS, help="DNN learning rate (Adam)")
    classifier_alpha: float = param(0.2, low=0, paper_value=_NS, help="mixup alpha of the DNNs (0 = plain training)")
    classifier_mixup: list[str] = param(["real", "real+synthetic"], choices=("real", "synthetic", "real+synthetic",
                                                                             "codes"),
                                        paper_value="real features 'augmented by the mixup scheme'",
                                        help="DNN training sets that get mixup")
    # ---- comparisons --------------------------------------------------------------------------
    compare_chapter1: bool = param(True, paper_value="Sahu et al. 2018 rows of Tables 3-4",
                                   help="train chapter 1's improved cGAN on the same folds and seeds")
    chapter1: dict[str, Any] = param({}, help="overrides of chapter 1's parameters for its improved cGAN, e.g. "
                                              "{'cgan_epochs': 40}; unset ones follow chapter 1's profile")
    # ---- ablation -----------------------------------------------------------------------------
    ablation: bool = param(True, help="run the mixup ablation")
    ablation_pairs: list[str] = param(["real_real", "real_fake", "both"], choices=MIXUP_PAIRS,
                                      help="mixup_pairs compared at the chapter's alpha")
    ablation_alphas: list[float] = param([0.1, 0.2, 0.4, 1.0], smoke=[0.2, 1.0], low=0,
                                         help="alphas compared with the chapter's mixup_pairs")
    ablation_grid: bool = param(False, help="every (pairs, alpha) combination instead of the two sweeps")
    ablation_folds: int = param(3, smoke=2, paper=5, low=1,
                                help="folds of the ablation (the first k leave-one-session-out folds)")
    ablation_seeds: list[int] = param([0], smoke=[0, 1], paper=[0, 1, 2], help="seeds of the ablation")
    ablation_epochs: int | None = param(None, low=1, help="GAN epochs in the ablation (None = epochs)")
    workers: int | None = workers_param(None, smoke=1, units="(fold, seed) and ablation units")
    threads: int | None = threads_param(1, why="these small networks run fastest on one")

    def validate(self) -> None:
        super().validate()
        if self.encoder == "bigan" and not self.e_hidden:
            raise ParameterError("encoder='bigan' needs e_hidden (at least one hidden layer)")
        if self.conditioning == "projection" and not self.d_hidden:
            raise ParameterError("conditioning='projection' needs d_hidden (at least one hidden layer)")
        if not self.ablation_seeds:
            raise ParameterError("ablation_seeds must name at least one seed")

    @property
    def ablation_settings(self) -> list[AblationSetting]:
        """The GAN settings of the ablation: ``none``, then the ``mixup_pairs`` sweep at ``alpha``
        and the ``alpha`` sweep at ``mixup_pairs`` (or the full grid), without duplicates."""
        pairs = [p for p in dict.fromkeys(self.ablation_pairs) if p != "none"]
        alphas = list(dict.fromkeys(float(a) for a in self.ablation_alphas))
        out = [AblationSetting("none", 0.0)]
        if self.ablation_grid:
            out += [AblationSetting(p, a) for p in pairs for a in alphas]
        else:
            out += [AblationSetting(p, float(self.alpha)) for p in pairs]
            if self.mixup_pairs != "none":
                out += [AblationSetting(self.mixup_pairs, a) for a in alphas]
        return list(dict.fromkeys(out))


@dataclass(frozen=True)
class AblationSetting:
    """One GAN setting of the ablation."""

    pairs: str
    alpha: float

    @property
    def name(self) -> str:
        return "no mixup" if self.pairs == "none" else f"{self.pairs}, alpha={self.alpha:g}"


def chapter1_config(cfg: Config) -> ch1.Config:
    """Chapter 1's configuration for the same profile, corpora, seeds and batch size, with
    ``cfg.chapter1`` applied (its improved cGAN is trained with it)."""
    shared = {"corpus": cfg.corpus, "data_root": cfg.data_root, "size": cfg.size, "cross_corpus": cfg.cross_corpus,
              "cross_data_root": cfg.cross_data_root, "device": cfg.device, "seeds": cfg.seeds,
              "batch_size": cfg.batch_size, "n_synthetic_per_class": cfg.n_synthetic_per_class,
              "allow_partial": cfg.allow_partial}
    shared.update(dict(cfg.chapter1 or {}))
    return ch1.Config.for_profile(cfg.profile, **shared)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def load(cfg: Config, *, progress: bool = True) -> ChapterData:
    """The labelled corpus, its IS10 functionals and folds, and the cross corpus (chapter 1's loader)."""
    c1 = chapter1_config(cfg)
    if not cfg.cross_corpus:
        c1.cross_corpus = None
    return ch1.load(c1, progress=progress)


def within_folds(data: ChapterData, cfg: Config) -> list[FoldData]:
    """Standardised leave-one-session-out folds (the first ``cfg.max_folds``)."""
    folds = data.folds[: cfg.max_folds] if cfg.max_folds else data.folds
    return ch1.fold_features(data.features, data.corpus.y, folds, data.labels)


def cross_folds(data: ChapterData) -> list[FoldData]:
    """One fold: all of the training corpus -> all of the cross corpus (empty without one)."""
    if data.cross is None or data.cross_features is None:
        return []
    return ch1.fold_features(data.features, data.corpus.y, cross_corpus(data.corpus, data.cross), data.labels,
                             target_features=data.cross_features, target_y=data.cross.y)


# ---------------------------------------------------------------------------------------------
# Models of one fold
# ---------------------------------------------------------------------------------------------
def make_prior(cfg: Config, n_classes: int) -> GMMPrior:
    """The noise mixture: one Gaussian component per emotion, of dimension ``code_dim``."""
    return GMMPrior(n_classes, cfg.code_dim, radius=cfg.prior_radius, std=cfg.prior_std)


def fit_mixup_gan(fd: FoldData, cfg: Config, seed: int, *, mixup_pairs: str | None = None,
                  alpha: float | None = None, epochs: int | None = None, device: Any = "cpu") -> GANRun:
    """Train the mixup GAN on the fold's training rows (``mixup_pairs``/``alpha``/``epochs``
    default to ``cfg``'s). The held-out rows give validation losses, never an update."""
    seed_everything(seed)
    model = MixupGAN(fd.x_train.shape[1], cfg.code_dim, fd.n_classes, g_hidden=cfg.g_hidden, d_hidden=cfg.d_hidden,
                     e_hidden=cfg.e_hidden if cfg.encoder == "bigan" else None, conditioning=cfg.conditioning)
    return train_mixup_gan(model, fd.x_train, fd.y_train, make_prior(cfg, fd.n_classes),
                           epochs=cfg.epochs if epochs is None else epochs, lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                           g_steps_per_d_step=cfg.g_steps_per_d_step, batch_size=cfg.batch_size,
                           mixup_pairs=cfg.mixup_pairs if mixup_pairs is None else mixup_pairs,
                           alpha=cfg.alpha if alpha is None else alpha, lam_per_sample=cfg.lam_per_sample,
                           x_val=fd.x_test, y_val=fd.y_test, device=device, seed=seed)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(0), train.std(0)
    sd = np.where(sd < 1e-8, 1.0, sd)
    return ((train - mu) / sd).astype(np.float32), ((test - mu) / sd).astype(np.float32)


def dnn_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, cfg: Config,
               seed: int, *, n_classes: int, mixup: bool, device: Any = "cpu") -> tuple[dict[str, float], np.ndarray]:
    """Train the chapter's DNN (MLP with dropout, class-weighted cross-entropy) and score it.

    ``mixup`` trains it on mixup-augmented batches with ``cfg.classifier_alpha``
    (:func:`~serlib.models.mixup_gan.train_mixup_classifier`); otherwise plain training
    (:func:`serlib.train.train_classifier`). Returns ``(scores, predictions)``.
    """
    import torch

    seed_everything(seed)
    torch.manual_seed(seed)
    model = MLP(x_train.shape[1], n_classes, hidden=cfg.clf_hidden, dropout=cfg.clf_dropout)
    train_mixup_classifier(model, x_train, y_train, alpha=cfg.classifier_alpha if mixup else 0.0, epochs=cfg.clf_epochs,
                         lr=cfg.clf_lr, batch_size=cfg.batch_size, lam_per_sample=cfg.lam_per_sample,
                         device=device, seed=seed)
    pred = predict(model, x_test)
    return classification_scores(y_test, pred), pred


@dataclass
class FoldResult:
    """What one (fold, seed) job produced (see :class:`Results` for the columns)."""

    fold: str
    seed: int
    kind: str = "main"
    scores: list[dict[str, Any]] = field(default_factory=list)
    similarity: list[dict[str, Any]] = field(default_factory=list)
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    ablation: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _similarity(x_real: np.ndarray, x_syn: np.ndarray, seed: int) -> dict[str, float]:
    return ch1.real_vs_synthetic(x_real, x_syn, seed=seed)


def run_fold(fd: FoldData, cfg: Config, seed: int, *, figures: bool = False, device: Any = "cpu") -> FoldResult:
    """Everything of one (fold, seed): the mixup GAN, chapter 1's improved cGAN, the DNNs.

    With ``figures`` the real, synthetic and code arrays are kept for the projection figure.
    """
    res = FoldResult(fd.name, seed)
    tags = {"fold": fd.name, "seed": seed}
    k = fd.n_classes
    t0 = time.perf_counter()
    mix_on = set(cfg.classifier_mixup)

    def score(cond: str, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray,
              mixup: bool | None = None) -> None:
        use = (_CLF_GROUP[cond] in mix_on) if mixup is None else mixup
        s, _ = dnn_scores(x_tr, y_tr, x_te, y_te, cfg, seed, n_classes=k, mixup=use, device=device)
        res.scores.append({"condition": cond, **tags, "mixup_classifier": use, **s})

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        res.seconds[name] = round(now - t0, 2)
        t0 = now

    # ---- real features only ------------------------------------------------------------------
    score("real", fd.x_train, fd.y_train, fd.x_test, fd.y_test)
    if "real" in mix_on and cfg.classifier_alpha > 0:
        score("real:plain", fd.x_train, fd.y_train, fd.x_test, fd.y_test, mixup=False)
    lap("dnn_real")

    # ---- the mixup GAN -----------------------------------------------------------------------
    run = fit_mixup_gan(fd, cfg, seed, device=device)
    res.histories["mixup_gan"] = run.history
    prior = make_prior(cfg, k)
    xs, ys = sample_cgan(run.model, prior, cfg.n_synthetic_per_class, seed=seed)
    lap("mixup_gan")
    score("mixup:synthetic", xs, ys, fd.x_test, fd.y_test)
    score("mixup:real+synthetic", np.vstack([fd.x_train, xs]), np.r_[fd.y_train, ys], fd.x_test, fd.y_test)
    sim = _similarity(fd.x_train, xs, seed)
    res.similarity.append({"sample": "mixup GAN", **tags, **sim})
    s_syn = next(s for s in res.scores if s["condition"] == "mixup:synthetic")
    res.ablation.append({"setting": AblationSetting(cfg.mixup_pairs, float(cfg.alpha)).name,
                         "pairs": cfg.mixup_pairs, "alpha": float(cfg.alpha), **tags, "syn_uar": s_syn["uar"],
                         **{f"sim_{kk}": v for kk, v in sim.items()}, **_final_losses(run.history)})
    codes: tuple[np.ndarray, np.ndarray] | None = None
    if cfg.encoder == "bigan":
        codes = encode(run.model, fd.x_train), encode(run.model, fd.x_test)
    elif cfg.encoder == "aae":
        c1 = chapter1_config(cfg)
        c1.code_dim = cfg.code_dim
        _, h, ctr, cte = ch1.fit_aae(fd, c1, seed, device=device)
        res.histories["aae_code"] = h
        codes = ctr, cte
    if codes is not None:
        c_tr, c_te = _standardise(*codes)
        score("mixup:codes", c_tr, fd.y_train, c_te, fd.y_test)
    lap("dnn_mixup")

    # ---- chapter 1's improved cGAN -----------------------------------------------------------
    xs1 = ys1 = c1_codes = None
    if cfg.compare_chapter1:
        c1 = chapter1_config(cfg)
        aae, h_aae, ctr1, cte1 = ch1.fit_aae(fd, c1, seed, device=device)
        res.histories["aae"] = h_aae
        cg = ch1.fit_cgan(fd, c1, seed, "improved", aae=aae, device=device)
        res.histories["cgan_improved"] = cg.history
        xs1, ys1 = sample_cgan(cg.model, ch1.make_prior(c1, k), cfg.n_synthetic_per_class, seed=seed)
        lap("chapter1_gans")
        score("cgan:synthetic", xs1, ys1, fd.x_test, fd.y_test)
        score("cgan:real+synthetic", np.vstack([fd.x_train, xs1]), np.r_[fd.y_train, ys1], fd.x_test, fd.y_test)
        a, b = _standardise(ctr1, cte1)
        score("aae:codes", a, fd.y_train, b, fd.y_test)
        res.similarity.append({"sample": "chapter 1 improved cGAN", **tags, **_similarity(fd.x_train, xs1, seed)})
        c1_codes = (ctr1, cte1)
        lap("dnn_chapter1")
    res.similarity.append({"sample": "held-out real data", **tags, **_similarity(fd.x_train, fd.x_test, seed)})
    lap("similarity")
    if figures:
        res.figures = {"x_train": fd.x_train, "y_train": fd.y_train, "x_test": fd.x_test, "y_test": fd.y_test,
                       "x_mixup": xs, "y_mixup": ys}
        if xs1 is not None:
            res.figures.update({"x_cgan": xs1, "y_cgan": ys1})
        if codes is not None:
            res.figures.update({"codes_train": codes[0], "codes_test": codes[1]})
        if c1_codes is not None:
            res.figures.update({"aae_train": c1_codes[0], "aae_test": c1_codes[1]})
    return res


def _final_losses(history: pd.DataFrame, last_fraction: float = 0.2) -> dict[str, float]:
    """The losses and D outputs averaged over the last ``last_fraction`` of epochs."""
    if history.empty:
        return {}
    tail = history.tail(max(1, int(round(len(history) * last_fraction)))).mean(numeric_only=True)
    cols = ("d_loss", "d_loss_plain", "g_loss", "d_real", "d_fake", "val_d_loss", "val_g_loss", "val_fake_norm",
            "val_real_norm")
    out = {c: float(tail[c]) for c in cols if c in tail}
    if out.get("val_real_norm"):
        out["norm_ratio"] = out["val_fake_norm"] / out["val_real_norm"]
    return out


def run_ablation_cell(fd: FoldData, cfg: Config, seed: int, setting: AblationSetting, *,
                      device: Any = "cpu") -> FoldResult:
    """One ablation cell: the GAN with ``setting`` on one fold and seed, scored by the
    synthetic-only DNN's UAR, the real-vs-synthetic measures and its final losses."""
    res = FoldResult(fd.name, seed, kind="ablation")
    t0 = time.perf_counter()
    run = fit_mixup_gan(fd, cfg, seed, mixup_pairs=setting.pairs, alpha=setting.alpha,
                        epochs=cfg.ablation_epochs or cfg.epochs, device=device)
    xs, ys = sample_cgan(run.model, make_prior(cfg, fd.n_classes), cfg.n_synthetic_per_class, seed=seed)
    s, _ = dnn_scores(xs, ys, fd.x_test, fd.y_test, cfg, seed, n_classes=fd.n_classes,
                      mixup="synthetic" in cfg.classifier_mixup, device=device)
    sim = _similarity(fd.x_train, xs, seed)
    res.ablation.append({"setting": setting.name, "pairs": setting.pairs, "alpha": setting.alpha, "fold": fd.name,
                         "seed": seed, "syn_uar": s["uar"], **{f"sim_{k}": v for k, v in sim.items()},
                         **_final_losses(run.history)})
    res.histories[f"ablation:{setting.name}"] = run.history
    res.seconds["ablation_cell"] = round(time.perf_counter() - t0, 2)
    return res


# ---------------------------------------------------------------------------------------------
# All folds
# ---------------------------------------------------------------------------------------------
@dataclass
class Results:
    """All jobs of one protocol (what :func:`run` returns), as tidy tables.

    ``scores``: condition, fold, seed, mixup_classifier, uar, accuracy, macro_f1;
    ``similarity``: sample, fold, seed, auc, ks_median, ks_mean; ``histories``: per-epoch losses
    with ``model`` (mixup_gan, cgan_improved, aae, ablation:<setting>), fold, seed;
    ``ablation``: setting, pairs, alpha, fold, seed, syn_uar, sim_auc, sim_ks_median, final
    losses; ``figures``: arrays of the figure fold; ``seconds``: time per stage and job.
    """

    scores: pd.DataFrame
    similarity: pd.DataFrame
    histories: pd.DataFrame
    ablation: pd.DataFrame
    figures: dict[str, np.ndarray]
    labels: tuple[str, ...]
    seconds: pd.DataFrame

    def history(self, model: str, fold: str | None = None, seed: int | None = None) -> pd.DataFrame:
        """The per-epoch history of ``model`` for one (fold, seed); default: the first that has it."""
        if self.histories.empty:
            return self.histories
        h = self.histories[self.histories["model"] == model]
        if fold is not None:
            h = h[h["fold"] == fold]
        if seed is not None:
            h = h[h["seed"] == seed]
        if h.empty:
            return h
        first = h.iloc[0]
        return h[(h["fold"] == first["fold"]) & (h["seed"] == first["seed"])].reset_index(drop=True)


def _job(kind: str, fd: FoldData, cfg: Config, seed: int, extra: Any, device: str) -> FoldResult:
    """One unit of :func:`run`: a (fold, seed) of the main model, or an ablation cell."""
    if kind == "main":
        return run_fold(fd, cfg, seed, figures=bool(extra), device=device)
    return run_ablation_cell(fd, cfg, seed, extra, device=device)


def run(cfg: Config, data: ChapterData, folds: Sequence[FoldData] | None = None, *,
        ablation_folds: Sequence[FoldData] = (), progress: bool = True, figure_fold: int = 0) -> Results:
    """Run :func:`run_fold` on every fold and seed and, on ``ablation_folds``, every ablation cell.

    ``folds`` are standardised folds; by default ``data``'s leave-one-session-out folds
    (:func:`within_folds`). :func:`cross_folds` gives the across-corpus protocol's one fold.

    Ablation cells identical to the main model (same setting, fold, seed and epochs) are taken
    from the main jobs instead of being trained twice. Jobs run in parallel processes on a
    CPU (``cfg.workers`` processes, ``cfg.threads`` threads each) and one after another on a GPU
    (:func:`serlib.parallel.run_units`); inside ``serbook run`` a killed run resumes from its
    finished units.
    """
    if folds is None:
        folds = within_folds(data, cfg)
    device = get_device(cfg.device)
    tasks: list[tuple[str, FoldData, int, Any]] = [
        ("main", fd, seed, i == figure_fold and j == 0) for j, seed in enumerate(cfg.seeds)
        for i, fd in enumerate(folds)]
    main_keys = {(fd.name, seed) for _, fd, seed, _ in tasks}
    same_epochs = (cfg.ablation_epochs or cfg.epochs) == cfg.epochs
    main_setting = AblationSetting(cfg.mixup_pairs, float(cfg.alpha))
    for setting in (cfg.ablation_settings if ablation_folds else []):
        for seed in cfg.ablation_seeds:
            for fd in ablation_folds:
                if setting == main_setting and same_epochs and (fd.name, seed) in main_keys:
                    continue  # the main job trained exactly this GAN
                tasks.append(("ablation", fd, seed, setting))
    dev = str(device)
    units = [Unit(f"{kind}/fold={fd.name}/seed={seed}" + (f"/{extra.name}" if kind == "ablation" else ""),
                  (kind, fd, cfg, seed, extra, dev)) for kind, fd, seed, extra in tasks]
    results = run_chapter_units("latif2020.run", _job, units, cfg, device=device, progress=progress, desc="jobs",
                                data=(list(folds), list(ablation_folds), figure_fold))
    return _collect(results, folds[0].labels if folds else (), ablation_folds, cfg)


def _collect(results: Sequence[FoldResult], labels: tuple[str, ...], ablation_folds: Sequence[FoldData],
             cfg: Config) -> Results:
    main = [r for r in results if r.kind == "main"]
    scores = pd.DataFrame([s for r in main for s in r.scores])
    sim = pd.DataFrame([s for r in main for s in r.similarity])
    hist = [h.assign(model=name, fold=r.fold, seed=r.seed) for r in results for name, h in r.histories.items()]
    histories = pd.concat(hist, ignore_index=True) if hist else pd.DataFrame()
    abl_names = {fd.name for fd in ablation_folds}
    abl_seeds = set(cfg.ablation_seeds)
    same_epochs = (cfg.ablation_epochs or cfg.epochs) == cfg.epochs
    rows = [a for r in results if r.kind == "ablation" for a in r.ablation]
    if same_epochs:  # the main model's cells on the ablation's folds and seeds
        rows += [a for r in main if r.fold in abl_names and r.seed in abl_seeds for a in r.ablation]
        if not histories.empty:
            name = f"ablation:{AblationSetting(cfg.mixup_pairs, float(cfg.alpha)).name}"
            extra = histories[(histories["model"] == "mixup_gan") & histories["fold"].isin(abl_names)
                              & histories["seed"].isin(abl_seeds)].assign(model=name)
            histories = pd.concat([histories, extra], ignore_index=True)
    ablation = pd.DataFrame(rows) if ablation_folds else pd.DataFrame()
    figures = next((r.figures for r in main if r.figures), {})
    secs = pd.DataFrame([{"kind": r.kind, "fold": r.fold, "seed": r.seed, **r.seconds} for r in results])
    return Results(scores, sim, histories, ablation, figures, tuple(labels), secs)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
summary_table = ch1.summary_table
"""Mean ± std (%) per condition (chapter 1's :func:`~serlib.experiments.sahu2018.summary_table`)."""

_OURS_LATIF = {"real": "Latif et al. 2020: Real", "mixup:synthetic": "Latif et al. 2020: Syn.",
               "mixup:real+synthetic": "Latif et al. 2020: Real+Syn."}
_OURS_SAHU = {"real": "Sahu et al. 2018: Real", "cgan:synthetic": "Sahu et al. 2018: Syn.",
              "cgan:real+synthetic": "Sahu et al. 2018: Real+Syn."}
_OURS_ONLY = {"real:plain": "ours only: Real without mixup in the DNN",
              "mixup:codes": "ours only: compressed codes of the mixup GAN",
              "aae:codes": "ours only: chapter 1's 2-d AAE codes"}


def _paper_table(scores: pd.DataFrame, table: str) -> pd.DataFrame:
    parts = []
    for rows, model in ((_OURS_SAHU, "chapter 1's improved cGAN"), (_OURS_LATIF, "mixup GAN (this chapter)"),
                        (_OURS_ONLY, "")):
        t = summary_table(scores, rows)
        if not t.empty:
            parts.append(t.assign(**{"ours: model": model}))
    ours = pd.concat(parts) if parts else pd.DataFrame(columns=["ours", "mean", "std", "std over seeds", "n",
                                                                "ours: model"])
    t = beside(ours[["ours: model", "ours", "mean", "std", "std over seeds", "n"]], TABLES[table])
    return t.rename(columns={"ours": "ours UAR (%) mean ± std", "mean": "ours mean", "std": "ours std"})


def table3(result: Results) -> pd.DataFrame:
    """Table 3 analogue: within-corpus (leave-one-session-out) UAR beside the summary's numbers.

    A row "<study>: <condition>" holds the published value and, beside it, ours for the model
    standing for that study on our data (the "Bao et al." rows have no counterpart here).
    """
    return _paper_table(result.scores, "table3")


def table4(result: Results) -> pd.DataFrame:
    """Table 4 analogue: cross-corpus UAR beside the summary's numbers (see :func:`table3`)."""
    return _paper_table(result.scores, "table4")


def paper_layout(result: Results, table: str = "table3", yardstick: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The summary's layout -- studies as rows, Real / Syn. / Real+Syn. as columns -- with our
    two models below (and the yardstick, when given as per-fold rows with ``method`` and
    ``uar``, in the Real column)."""
    pt, sds = TABLES[table], STDS[table]
    rows: dict[str, dict[str, str]] = {}
    for study in STUDIES:
        rows[f"{study} (published)"] = {
            c: f"{pt.values[f'{study}: {c}']:.2f}" + (f" ± {sds[f'{study}: {c}']:.2f}" if f"{study}: {c}" in sds else "")
            for c in PAPER_COLUMNS}
    for name, mapping in (("ours: chapter 1's improved cGAN", _OURS_SAHU), ("ours: mixup GAN", _OURS_LATIF)):
        t = summary_table(result.scores, mapping)
        rows[name] = {row.split(": ", 1)[1]: str(t.loc[row, "ours"]) if row in t.index else ""
                      for row in mapping.values()}
    if yardstick is not None and not yardstick.empty:
        for method, g in yardstick.groupby("method", sort=False):
            v = 100 * g["uar"].to_numpy(dtype=float)
            rows[f"yardstick: {method}"] = {PAPER_COLUMNS[0]: f"{v.mean():.2f} ± {v.std(ddof=0):.2f}"}
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(PAPER_COLUMNS)).fillna("")


def similarity_table(result: Results) -> pd.DataFrame:
    """Real-vs-synthetic distinguishability per sample, mean ± std over folds and seeds
    (chapter 1's :func:`~serlib.experiments.sahu2018.similarity_table` on our rows)."""
    return ch1.similarity_table(result)  # type: ignore[arg-type]


def ablation_table(result: Results) -> pd.DataFrame:
    """Per ablation setting, mean ± std over its folds and seeds: synthetic-only UAR (%),
    two-sample AUC, median KS, and the losses at the end of training."""
    a = result.ablation
    if a.empty:
        return pd.DataFrame()
    rows = []
    for name, g in a.groupby("setting", sort=False):
        u = 100 * g["syn_uar"]
        row = {"setting": name, "pairs": g["pairs"].iloc[0], "alpha": float(g["alpha"].iloc[0]),
               "synthetic-only UAR (%)": f"{u.mean():.2f} ± {u.std(ddof=0):.2f}", "syn_uar_mean": u.mean(),
               "syn_uar_std": u.std(ddof=0), "two-sample AUC": g["sim_auc"].mean(),
               "median KS": g["sim_ks_median"].mean(), "n": len(g)}
        for c in ("d_loss", "d_loss_plain", "g_loss", "d_real", "d_fake", "val_d_loss", "norm_ratio"):
            if c in g:
                row[c] = g[c].mean()
        rows.append(row)
    out = pd.DataFrame(rows).set_index("setting")
    order = sorted(out.index, key=lambda s: (MIXUP_PAIRS.index(str(out.loc[s, "pairs"])), float(out.loc[s, "alpha"])))
    return out.loc[order]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_losses(result: Results) -> plt.Figure:
    """Losses per epoch of the mixup GAN (left: the loss D minimised and the plain loss; G) and
    of chapter 1's improved cGAN (right), training (solid) and held-out session (dashed)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    h = result.history("mixup_gan")
    ax = axes[0]
    if h.empty:
        ax.set_title("mixup GAN (not trained)")
    else:
        ax.plot(h["epoch"], h["d_loss"], color="C0", label="D (loss minimised, mixed batches)")
        ax.plot(h["epoch"], h["d_loss_plain"], color="C0", ls="-.", label="D (plain, unmixed batch)")
        ax.plot(h["epoch"], h["g_loss"], color="C1", label="G" + (" + E" if "val_g_loss" in h else ""))
        if "val_d_loss" in h:
            ax.plot(h["epoch"], h["val_d_loss"], color="C0", ls="--", label="D (held-out)")
            ax.plot(h["epoch"], h["val_g_loss"], color="C1", ls="--", label="G (held-out)")
        ax.axhline(np.log(2), color="grey", lw=0.8, ls=":", label="log 2")
        ax.set_xlabel("epoch")
        ax.set_ylabel("adversarial loss")
        ax.set_title("mixup GAN")
        ax.legend(fontsize="x-small")
    ch1.plot_adversarial_curves(result.history("cgan_improved"), title="chapter 1's improved cGAN", ax=axes[1])
    fig.tight_layout()
    return fig


def _scatter(ax: plt.Axes, pts: np.ndarray, y: np.ndarray, labels: Sequence[str], title: str, **kw: Any) -> None:
    for c, lab in enumerate(labels):
        m = np.asarray(y) == c
        ax.scatter(pts[m, 0], pts[m, 1], s=kw.get("s", 8), alpha=kw.get("alpha", 0.5), color=f"C{c}",
                   marker=kw.get("marker", "o"), label=lab)
    ax.set_title(title, fontsize="small")


def plot_projection(figs: Mapping[str, np.ndarray], labels: Sequence[str]) -> plt.Figure:
    """Real, synthetic and code points by class in 2-d.

    Features: the first two principal components of the *real training* features; real
    training rows, mixup-GAN samples and chapter 1's samples are projected on them. Codes: the
    mixup GAN's codes of the training and held-out rows (their first two principal
    components when ``code_dim > 2``).
    """
    from sklearn.decomposition import PCA

    panels = [("x_train", "y_train", "real (training sessions)"), ("x_mixup", "y_mixup", "mixup-GAN samples"),
              ("x_cgan", "y_cgan", "chapter 1 improved-cGAN samples")]
    panels = [p for p in panels if p[0] in figs]
    has_codes = "codes_train" in figs
    n = len(panels) + (1 if has_codes else 0)
    fig, axes = plt.subplots(1, max(n, 1), figsize=(4.2 * max(n, 1), 4), squeeze=False)
    axes = axes[0]
    if "x_train" not in figs:
        axes[0].set_title("no figure data")
        return fig
    pca = PCA(2).fit(figs["x_train"])
    lim = None
    for ax, (xk, yk, title) in zip(axes, panels):
        pts = pca.transform(figs[xk])
        _scatter(ax, pts, figs[yk], labels, title)
        if lim is None:
            lim = (ax.get_xlim(), ax.get_ylim())
        ax.set_xlabel("PC 1 (real features)")
    for ax in axes[:len(panels)]:
        if lim is not None:
            ax.set_xlim(*lim[0])
            ax.set_ylim(*lim[1])
    axes[0].set_ylabel("PC 2")
    if has_codes:
        ax = axes[len(panels)]
        ctr, cte = figs["codes_train"], figs["codes_test"]
        if ctr.shape[1] > 2:
            p = PCA(2).fit(ctr)
            ctr, cte = p.transform(ctr), p.transform(cte)
        _scatter(ax, ctr, figs["y_train"], labels, "mixup-GAN codes (o train, x held-out)")
        for c in range(len(labels)):
            m = np.asarray(figs["y_test"]) == c
            ax.scatter(cte[m, 0], cte[m, 1], s=14, color=f"C{c}", marker="x", alpha=0.8)
        ax.set_xlabel("code PC 1" if figs["codes_train"].shape[1] > 2 else "code 1")
    axes[0].legend(fontsize="x-small", markerscale=2)
    fig.tight_layout()
    return fig


def plot_ablation(table: pd.DataFrame, *, chance: float | None = None, real_uar: float | None = None) -> plt.Figure:
    """Three panels per ablation setting: synthetic-only UAR (mean ± std), two-sample AUC
    and median KS (lower = closer to the real data), and the plain D loss at the end of training."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    if table.empty:
        axes[0].set_title("no ablation")
        return fig
    x = np.arange(len(table))
    colours = ["grey" if p == "none" else f"C{i % 10}" for i, p in enumerate(table["pairs"])]
    axes[0].bar(x, table["syn_uar_mean"], yerr=table["syn_uar_std"], capsize=3, color=colours)
    if chance is not None:
        axes[0].axhline(100 * chance, color="black", ls=":", lw=1, label="chance")
    if real_uar is not None:
        axes[0].axhline(real_uar, color="C2", ls="--", lw=1, label="DNN on real features")
    axes[0].set_ylabel("synthetic-only UAR (%)")
    axes[0].legend(fontsize="x-small")
    w = 0.38
    axes[1].bar(x - w / 2, table["two-sample AUC"], w, label="two-sample AUC", color="C0")
    axes[1].bar(x + w / 2, table["median KS"], w, label="median KS", color="C1")
    axes[1].axhline(0.5, color="C0", ls=":", lw=1)
    axes[1].set_ylim(0, 1.05)
    axes[1].legend(fontsize="x-small")
    axes[1].set_ylabel("real vs synthetic")
    if "d_loss_plain" in table:
        axes[2].bar(x - w / 2, table["d_loss_plain"], w, label="D (plain)", color="C0")
        axes[2].bar(x + w / 2, table["g_loss"], w, label="G", color="C1")
        axes[2].axhline(np.log(2), color="grey", ls=":", lw=1, label="log 2")
        axes[2].legend(fontsize="x-small")
        axes[2].set_ylabel("loss, last 20 % of epochs")
    for ax in axes:
        ax.set_xticks(x, list(table.index), rotation=35, ha="right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_ablation_curves(result: Results, column: str = "d_loss_plain") -> plt.Figure:
    """``column`` per epoch for every ablation setting, averaged over its folds and seeds."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    h = result.histories
    if h.empty or "model" not in h:
        return fig
    h = h[h["model"].astype(str).str.startswith("ablation:")]
    for i, (name, g) in enumerate(h.groupby("model", sort=False)):
        m = g.groupby("epoch")[column].mean()
        ax.plot(m.index, m.values, label=str(name).removeprefix("ablation:"),
                color="grey" if "no mixup" in str(name) else f"C{i % 10}")
    if column.endswith("loss") or column.endswith("loss_plain"):
        ax.axhline(np.log(2), color="black", lw=0.8, ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel(column)
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig
