"""Chapter 1: enhancing speech emotion recognition with GANs (Sahu, Gupta & Espy-Wilson 2018).

The pipeline, one fold at a time (leave-one-session-out; or all of one corpus -> another):

1. 1582-d IS10 functionals (the emobase2010 stand-in), standardised with the training
   sessions' mean and standard deviation (:func:`fold_features`).
2. An adversarial autoencoder compresses them to 2-d codes regularised towards a
   4-component Gaussian mixture, one component per emotion (:func:`fit_aae`).
3. A vanilla GAN learns the distribution of the 2-d training codes (:func:`fit_code_gan`);
   its samples are labelled by a 4-component GMM fitted to the real codes
   (:class:`GMMLabeller`). A vanilla GAN on the 1582-d vectors is trained once for the
   figure that shows it failing to converge (:func:`fit_feature_gan`).
4. Conditional GANs on the 1582-d vectors (:func:`fit_cgan`), ``z`` from the mixture
   component of the label: ``baseline`` (random init, equal learning rates, one G step per D
   step), ``decoder_init`` (the generator starts as the AAE's decoder) and ``improved``
   (decoder init + G lr 1e-3 vs D lr 1e-4 + five G steps per D step).
5. RBF-SVMs trained on synthetic / real / real + synthetic data and tested on the held-out
   real data (Table 1, 3), or trained on real data and tested on synthetic data (Table 2).

:func:`load` reads the corpora, their functionals and folds; :func:`run` runs every (fold, seed)
and returns a :class:`Results`: tidy scores, loss histories, pooled predictions and
real-vs-synthetic similarity measures.
:func:`table1`, :func:`table2`, :func:`table3` put them beside the paper's numbers.

Reusable pieces (the mixup-GAN chapter builds on them): :func:`load`,
:func:`fold_features`, :class:`FoldData`, :func:`fit_aae`, :func:`fit_cgan`,
:func:`svm_scores`, :func:`real_vs_synthetic`, :func:`summary_table`.

References
----------
S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.

S. Sahu, R. Gupta, G. Sivaraman, W. AbdAlmageed, C. Espy-Wilson. Adversarial auto-encoders for
speech based emotion recognition. Interspeech 2017.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..config import ParameterError, get_device, get_logger, seed_everything
from ..data import Corpus, load_corpus
from ..features import functionals
from ..metrics import classification_scores, confusion
from ..models.aae import AdversarialAutoencoder, GMMPrior, encode, train_aae
from ..models.classifiers import rbf_svm
from ..models.gan import (
    ConditionalGAN,
    GANRun,
    VanillaGAN,
    init_generator_from_decoder,
    sample_cgan,
    sample_gan,
    train_cgan,
    train_gan,
)
from ..papers import beside
from ..papers.sahu2018 import TABLES
from ..parallel import Unit, run_chapter_units, threads_param, workers_param
from ..params import ChapterConfig, param
from ..splits import Fold, check_fold, leave_one_session_out
from .common import svm_yardstick

__all__ = [
    "CGAN_VARIANTS",
    "CHAPTER",
    "CONDITIONS",
    "ChapterData",
    "Config",
    "FoldData",
    "FoldResult",
    "GMMLabeller",
    "Results",
    "cgan_schedule",
    "cross_yardstick",
    "curve_summary",
    "fit_aae",
    "fit_cgan",
    "fit_code_gan",
    "fit_feature_gan",
    "fold_features",
    "kernel_width",
    "ks_statistics",
    "load",
    "make_prior",
    "paired_difference",
    "plot_adversarial_curves",
    "plot_codes",
    "plot_confusions",
    "plot_norms",
    "real_vs_synthetic",
    "run",
    "run_fold",
    "similarity_table",
    "summary_table",
    "svm_scores",
    "table1",
    "table2",
    "table3",
    "yardstick",
]

CHAPTER = "01_sahu2018_gan"
log = get_logger("experiments.sahu2018")

CGAN_VARIANTS: tuple[str, ...] = ("baseline", "decoder_init", "improved")
"""The three conditional-GAN set-ups of the paper's Fig. 4 (a), (b), (c)."""

CONDITIONS: dict[str, str] = {
    "2d:synthetic": "SVM on synthetic 2-d codes (vanilla GAN), tested on real codes",
    "2d:real": "SVM on real 2-d codes",
    "2d:real+synthetic": "SVM on real + synthetic 2-d codes",
    "1582:real": "SVM on real 1582-d features",
    "1582:synthetic:baseline": "SVM on baseline-cGAN samples only",
    "1582:synthetic:decoder_init": "SVM on decoder-initialised-cGAN samples only",
    "1582:synthetic:improved": "SVM on improved-cGAN samples only",
    "1582:real+baseline": "SVM on real + baseline-cGAN samples",
    "1582:real+decoder_init": "SVM on real + decoder-initialised-cGAN samples",
    "1582:real+improved": "SVM on real + improved-cGAN samples",
    "test-on-synthetic:2d": "SVM on real codes, tested on GAN codes (GMM labels)",
    "test-on-synthetic:baseline": "SVM on real features, tested on baseline-cGAN samples",
    "test-on-synthetic:decoder_init": "SVM on real features, tested on decoder-initialised-cGAN samples",
    "test-on-synthetic:improved": "SVM on real features, tested on improved-cGAN samples",
}
"""Every scored condition: key -> what was trained and tested."""

_T1_ROWS = {
    "2d:synthetic": "Only synthetic 2D code vectors",
    "2d:real": "Only 2D code vectors",
    "2d:real+synthetic": "2D code vector + Synthetic",
    "1582:synthetic:baseline": "Only baseline-conditional (ours only)",
    "1582:synthetic:decoder_init": "Only decoder-init-conditional (ours only)",
    "1582:synthetic:improved": "Only improved-conditional",
    "1582:real": "Only real openSMILE",
    "1582:real+baseline": "Real openSMILE + baseline-conditional",
    "1582:real+decoder_init": "Real openSMILE + decoder-init-conditional (ours only)",
    "1582:real+improved": "Real openSMILE + improved-conditional",
}
_T2_ROWS = {
    "test-on-synthetic:2d": "2D code-vectors",
    "test-on-synthetic:baseline": "Baseline-conditional (ours only)",
    "test-on-synthetic:decoder_init": "Decoder-init-conditional (ours only)",
    "test-on-synthetic:improved": "Improved-conditional",
}
_T3_ROWS = {
    "2d:synthetic": "Only synthetic 2D",
    "2d:real": "Only 2D code vectors",
    "2d:real+synthetic": "2D code vector + Synthetic",
    "1582:real": "Only real openSMILE",
    "1582:synthetic:baseline": "Only baseline-conditional (ours only)",
    "1582:synthetic:improved": "Only improved-conditional",
    "1582:real+baseline": "Real openSMILE + baseline-conditional",
    "1582:real+decoder_init": "Real openSMILE + decoder-init-conditional (ours only)",
    "1582:real+improved": "Real openSMILE + improved-conditional",
}


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class Config(ChapterConfig):
    """Parameters of chapter 1. ``book`` is the default profile; see :meth:`reference`."""

    CHAPTER = CHAPTER

    corpus: str = param("embedded", paper="iemocap", paper_value="IEMOCAP (5531 utterances, 4 classes)",
                        help="training corpus (leave-one-session-out)")
    seeds: list[int] = param([0, 1, 2], smoke=[0, 1], paper_value="not stated",
                             help="random seeds; results are mean ± std over them")
    size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                      help="size of the embedded corpus (ignored for real corpora)")
    cross_corpus: str | None = param("embedded:cross", paper="msp_improv", paper_value="MSP-IMPROV",
                                     help="test corpus of Table 3 ('embedded:cross' = the embedded corpus's "
                                          "cross variant; None skips Table 3)")
    cross_data_root: str | None = param(None, help="folder of the cross corpus; None uses $SERLIB_DATA/<corpus>")
    code_dim: int = param(2, low=1, paper_value="2", help="AAE code / cGAN noise dimension")
    aae_hidden: list[int] = param([128, 128], smoke=[32], paper=[1000, 1000],
                                  paper_value="not stated in the 2018 paper (1000-1000 in the AAE literature)",
                                  help="AAE encoder hidden widths (decoder and cGAN generator mirror them)")
    aae_disc_hidden: list[int] = param([64, 64], smoke=[16], paper=[1000, 1000], paper_value="not stated",
                                       help="AAE code-discriminator hidden widths")
    aae_epochs: int = param(30, smoke=60, paper=200, low=1, paper_value="not stated", help="AAE training epochs")
    aae_lr: float = param(1e-3, low=0, paper_value="not stated", help="AAE reconstruction-phase learning rate (Adam)")
    aae_adv_lr: float = param(1e-3, smoke=3e-3, low=0, paper_value="not stated",
                              help="AAE regularisation-phase learning rate (discriminator and encoder)")
    prior_radius: float = param(4.0, low=0, paper_value="not stated",
                                help="distance of each mixture component's mean from the origin")
    prior_std: float = param(1.0, low=0, paper_value="not stated", help="standard deviation of each component")
    label_conditioned_prior: bool = param(True, paper_value="semi-supervised AAE (Sahu et al. 2017)",
                                          help="AAE discriminator sees the label; prior sample drawn from its class")
    gan_hidden: list[int] = param([64, 64], smoke=[32], paper=[128, 128], paper_value="not stated",
                                  help="hidden widths of the vanilla GAN on 2-d codes (G and D)")
    gan_epochs: int = param(60, smoke=60, paper=300, low=1, paper_value="not stated",
                            help="epochs of the vanilla GAN on 2-d codes")
    gan_lr: float = param(1e-3, low=0, paper_value="not stated", help="learning rate of the 2-d GAN (G and D)")
    gan1582_epochs: int = param(20, smoke=2, paper=200, low=0, paper_value="not stated",
                                help="epochs of the vanilla GAN on 1582-d features (figure only; 0 skips it)")
    cgan_d_hidden: list[int] = param([128, 128], smoke=[32], paper=[1000, 1000], paper_value="not stated",
                                     help="cGAN discriminator hidden widths (the generator mirrors aae_hidden)")
    cgan_epochs: int = param(20, smoke=2, paper=200, low=1, paper_value="not stated ('kept the same' for G and D)",
                             help="cGAN epochs (discriminator passes over the training data)")
    cgan_baseline_lr: float = param(1e-4, low=0, paper_value="equal for G and D; value not stated",
                                    help="learning rate of G and D in the baseline and decoder-init cGANs")
    cgan_lr_g: float = param(1e-3, low=0, paper_value="0.001", help="improved cGAN: generator learning rate")
    cgan_lr_d: float = param(1e-4, low=0, paper_value="0.0001", help="improved cGAN: discriminator learning rate")
    g_steps_per_d_step: int = param(5, low=1, paper_value="5", help="improved cGAN: G updates per D update")
    cgan_variants: list[str] = param(["baseline", "improved"], paper=["baseline", "decoder_init", "improved"],
                                     choices=CGAN_VARIANTS, paper_value="baseline, decoder-init, improved (Fig. 4)",
                                     help="cGAN set-ups trained in every fold (decoder_init is always trained "
                                          "once for the Fig. 4 curves)")
    batch_size: int = param(64, smoke=16, low=2, paper_value="not stated", help="mini-batch size of every network")
    n_synthetic_per_class: int = param(100, smoke=25, paper=1000, low=1, paper_value="not stated",
                                       help="synthetic samples generated per emotion (2-d GAN: 4x this in total)")
    svm_C: float = param(1.0, low=0, paper_value="not stated", help="RBF-SVM penalty C")
    svm_gamma: str = param("real", choices=("real", "scale"), paper_value="not stated",
                           help="RBF width: 'real' = 1/(n_features Var) of the real training rows for every SVM "
                                "of a fold; 'scale' = the same rule on each SVM's own training rows")
    workers: int | None = workers_param(None, smoke=1, units="(fold, seed) units")
    threads: int | None = threads_param(1, why="small networks and 2x2 linear algebra gain nothing from more "
                                             "and lose much when the cores are shared")

    def validate(self) -> None:
        super().validate()
        if self.code_dim < 1:
            raise ParameterError("code_dim must be >= 1")
        if not self.cgan_variants:
            raise ParameterError("cgan_variants must name at least one of " + ", ".join(CGAN_VARIANTS))


def cgan_schedule(cfg: Config, variant: str) -> dict[str, Any]:
    """Initialisation, learning rates and G:D step ratio of a cGAN ``variant`` (paper Sec. 3.2.2)."""
    if variant == "baseline":
        return {"decoder_init": False, "lr_g": cfg.cgan_baseline_lr, "lr_d": cfg.cgan_baseline_lr, "g_steps": 1}
    if variant == "decoder_init":
        return {"decoder_init": True, "lr_g": cfg.cgan_baseline_lr, "lr_d": cfg.cgan_baseline_lr, "g_steps": 1}
    if variant == "improved":
        return {"decoder_init": True, "lr_g": cfg.cgan_lr_g, "lr_d": cfg.cgan_lr_d,
                "g_steps": cfg.g_steps_per_d_step}
    raise ParameterError(f"cGAN variant {variant!r} is not one of {list(CGAN_VARIANTS)}")


# ---------------------------------------------------------------------------------------------
# Data: corpora, features, folds
# ---------------------------------------------------------------------------------------------
@dataclass
class ChapterData:
    """The labelled corpus with its features and folds, and the optional cross corpus."""

    corpus: Corpus
    features: pd.DataFrame
    folds: list[Fold]
    cross: Corpus | None = None
    cross_features: pd.DataFrame | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.corpus.labels


def _load(cfg: Config, name: str, root: str | None, variant: str = "main", role: str = "main") -> Corpus:
    if name in ("embedded", "synthetic"):
        return load_corpus("embedded", size=cfg.size, variant=variant, role=role).labelled()
    return cfg.load_corpus(name, root, role=role).labelled()


def load(cfg: Config, *, progress: bool = True) -> ChapterData:
    """Load ``cfg.corpus`` (labelled part), its IS10 functionals and leave-one-session-out folds,
    and ``cfg.cross_corpus`` with its functionals when set.

    ``cross_corpus="embedded:cross"`` is the embedded corpus's MSP-IMPROV-like variant;
    any other name is a registered corpus loaded from ``cfg.cross_data_root``.
    """
    corpus = _load(cfg, cfg.corpus, cfg.data_root)
    feats = functionals(corpus, "is10", progress=progress)
    folds = leave_one_session_out(corpus)
    for fold in folds:
        check_fold(fold, corpus.y, corpus.labels)
    cross = cross_feats = None
    if cfg.cross_corpus:
        name, _, variant = str(cfg.cross_corpus).partition(":")
        cross = _load(cfg, name, cfg.cross_data_root, variant or "main", role="cross")
        if tuple(cross.labels) != tuple(corpus.labels):
            raise ParameterError(f"cross corpus {cfg.cross_corpus!r} has labels {cross.labels}, "
                                 f"the training corpus {corpus.labels}")
        cross_feats = functionals(cross, "is10", progress=progress)
    return ChapterData(corpus, feats, folds, cross, cross_feats)


@dataclass
class FoldData:
    """One fold's standardised arrays.

    ``x_train``/``x_test`` are standardised with the training rows' mean and standard deviation
    (``mean``, ``std``); for a cross-corpus fold the test rows come from the target corpus.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    labels: tuple[str, ...]
    index: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.labels)


def fold_features(features: pd.DataFrame | np.ndarray, y: np.ndarray, folds: Sequence[Fold],
                  labels: Sequence[str], *, target_features: pd.DataFrame | np.ndarray | None = None,
                  target_y: np.ndarray | None = None, eps: float = 1e-8) -> list[FoldData]:
    """Standardised train/test arrays for every fold, with the training rows' statistics only.

    For cross-corpus folds (:func:`serlib.splits.cross_corpus`) pass the target corpus's
    ``target_features`` and ``target_y``: ``fold.test`` indexes them.

    References
    ----------
    Sahu et al. 2018, Sec. 4.1 (leave-one-session-out on IEMOCAP) and Sec. 4.3 (cross-corpus).
    """
    X = np.asarray(features, dtype=np.float32)
    y = np.asarray(y)
    Xt = X if target_features is None else np.asarray(target_features, dtype=np.float32)
    yt = y if target_y is None else np.asarray(target_y)
    out = []
    for i, fold in enumerate(folds):
        xtr = X[fold.train]
        mu = xtr.mean(axis=0)
        sd = xtr.std(axis=0)
        sd = np.where(sd < eps, 1.0, sd)
        out.append(FoldData(fold.name, ((xtr - mu) / sd).astype(np.float32), y[fold.train].astype(int),
                            ((Xt[fold.test] - mu) / sd).astype(np.float32), yt[fold.test].astype(int),
                            mu.astype(np.float32), sd.astype(np.float32), tuple(labels), i))
    return out


# ---------------------------------------------------------------------------------------------
# Models of one fold
# ---------------------------------------------------------------------------------------------
def make_prior(cfg: Config, n_classes: int) -> GMMPrior:
    """The 4-component (one per emotion) Gaussian mixture shared by the AAE and the cGANs."""
    return GMMPrior(n_classes, cfg.code_dim, radius=cfg.prior_radius, std=cfg.prior_std)


def fit_aae(fd: FoldData, cfg: Config, seed: int, *, device: Any = "cpu"
            ) -> tuple[AdversarialAutoencoder, pd.DataFrame, np.ndarray, np.ndarray]:
    """Train the adversarial autoencoder on the fold's training rows.

    Returns ``(model, history, train codes, test codes)``.
    """
    seed_everything(seed)
    prior = make_prior(cfg, fd.n_classes)
    aae = AdversarialAutoencoder(fd.x_train.shape[1], cfg.code_dim, fd.n_classes, hidden=cfg.aae_hidden,
                                 disc_hidden=cfg.aae_disc_hidden, label_conditioned=cfg.label_conditioned_prior)
    hist = train_aae(aae, fd.x_train, fd.y_train, prior, epochs=cfg.aae_epochs, lr=cfg.aae_lr,
                     adv_lr=cfg.aae_adv_lr, batch_size=cfg.batch_size, device=device, seed=seed)
    return aae, hist.frame(), encode(aae, fd.x_train), encode(aae, fd.x_test)


def fit_code_gan(codes: np.ndarray, cfg: Config, seed: int, *, val_codes: np.ndarray | None = None,
                 device: Any = "cpu") -> GANRun:
    """The vanilla GAN of Sec. 3.2.1 on 2-d codes: ``N(0, I)`` noise of the code's dimension in."""
    seed_everything(seed)
    gan = VanillaGAN(codes.shape[1], cfg.code_dim, g_hidden=cfg.gan_hidden, d_hidden=cfg.gan_hidden)
    return train_gan(gan, codes, epochs=cfg.gan_epochs, lr_g=cfg.gan_lr, lr_d=cfg.gan_lr, batch_size=cfg.batch_size,
                     x_val=val_codes, device=device, seed=seed)


def fit_feature_gan(fd: FoldData, cfg: Config, seed: int, *, device: Any = "cpu") -> GANRun:
    """The vanilla GAN of Sec. 3.2.1 directly on 1582-d features (2-d noise in, two hidden
    layers in the discriminator): the set-up the paper could not make converge (Fig. 2a)."""
    seed_everything(seed)
    gan = VanillaGAN(fd.x_train.shape[1], cfg.code_dim, g_hidden=list(reversed(cfg.aae_hidden)),
                     d_hidden=cfg.cgan_d_hidden)
    return train_gan(gan, fd.x_train, epochs=cfg.gan1582_epochs, lr_g=cfg.cgan_baseline_lr,
                     lr_d=cfg.cgan_baseline_lr, batch_size=cfg.batch_size, x_val=fd.x_test, device=device, seed=seed)


def fit_cgan(fd: FoldData, cfg: Config, seed: int, variant: str, *, aae: AdversarialAutoencoder | None = None,
             device: Any = "cpu") -> GANRun:
    """Train one conditional-GAN ``variant`` (see :func:`cgan_schedule`) on the fold.

    The held-out rows give the validation curves (they never update a weight).
    """
    sched = cgan_schedule(cfg, variant)
    seed_everything(seed)
    prior = make_prior(cfg, fd.n_classes)
    cgan = ConditionalGAN(fd.x_train.shape[1], cfg.code_dim, fd.n_classes, g_hidden=list(reversed(cfg.aae_hidden)),
                          d_hidden=cfg.cgan_d_hidden)
    if sched["decoder_init"]:
        if aae is None:
            raise ParameterError(f"cGAN variant {variant!r} needs the trained AAE for its generator's initialisation")
        init_generator_from_decoder(cgan, aae)
    return train_cgan(cgan, fd.x_train, fd.y_train, prior, epochs=cfg.cgan_epochs, lr_g=sched["lr_g"],
                      lr_d=sched["lr_d"], g_steps_per_d_step=sched["g_steps"], batch_size=cfg.batch_size,
                      x_val=fd.x_test, y_val=fd.y_test, device=device, seed=seed)


class GMMLabeller:
    """Labels 2-d points by the highest-membership component of a GMM fitted to real codes.

    A :class:`sklearn.mixture.GaussianMixture` with ``n_components`` components is fitted to the
    real codes; each component is mapped to the emotion whose real codes it holds the largest
    *share* of (counts divided by the emotion's total, so a frequent class cannot claim every
    component). Two components may map to the same emotion; an emotion may then get no
    synthetic points, which :attr:`mapping` shows.

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.1: "Each synthetic data-point is assigned to an emotion class
    based on the GMM component yielding the highest membership for the generated data point."
    """

    def __init__(self, n_components: int = 4, *, seed: int = 0, covariance_type: str = "full") -> None:
        self.n_components = n_components
        self.seed = seed
        self.covariance_type = covariance_type
        self.gmm: Any = None
        self.mapping: np.ndarray | None = None
        self.shares: np.ndarray | None = None

    def fit(self, codes: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> GMMLabeller:
        from sklearn.mixture import GaussianMixture

        y = np.asarray(y, dtype=int)
        k = int(n_classes if n_classes is not None else y.max() + 1)
        self.gmm = GaussianMixture(self.n_components, covariance_type=self.covariance_type, random_state=self.seed,
                                   n_init=3).fit(codes)
        comp = self.gmm.predict(codes)
        counts = np.zeros((self.n_components, k))
        np.add.at(counts, (comp, y), 1)
        self.shares = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
        self.mapping = self.shares.argmax(axis=1)
        return self

    def predict(self, points: np.ndarray) -> np.ndarray:
        """The emotion of each point: the mapped emotion of its most probable component."""
        if self.gmm is None or self.mapping is None:
            raise RuntimeError("GMMLabeller.fit must be called first")
        return self.mapping[self.gmm.predict(points)]


def svm_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
               C: float = 1.0, gamma: str | float = "scale") -> tuple[dict[str, float], np.ndarray]:
    """Fit an RBF-SVM (balanced class weights, no further scaling: inputs are standardised
    already) and score it on the test rows; returns ``(scores, predictions)``."""
    clf = rbf_svm(C=C, gamma=gamma, standardise=False).fit(x_train, y_train)
    pred = clf.predict(x_test)
    return classification_scores(y_test, pred), pred


def kernel_width(x_real: np.ndarray, rule: str = "real") -> str | float:
    """The RBF kernel's ``gamma`` for SVMs of one fold.

    ``"real"``: scikit-learn's ``"scale"`` rule, ``1 / (n_features * Var(x))``, computed once on
    the *real* training rows and used for every SVM of the fold, so that adding synthetic rows
    (which may lie far from the data) does not change the kernel applied to real ones.
    ``"scale"``: the rule applied to whatever each SVM is trained on.
    """
    if rule == "scale":
        return "scale"
    if rule != "real":
        raise ParameterError(f"svm_gamma={rule!r} is not one of ['real', 'scale']")
    var = float(np.var(x_real))
    return 1.0 / (x_real.shape[1] * var) if var > 0 else 1.0


def ks_statistics(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The two-sample Kolmogorov-Smirnov statistic of every column of ``a`` against ``b``.

    Vectorised over columns: the largest absolute difference of the two empirical CDFs,
    evaluated after the last of tied values (equal to :func:`scipy.stats.ks_2samp`'s statistic).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("ks_statistics needs two non-empty samples")
    both = np.vstack([a, b])
    order = np.argsort(both, axis=0, kind="stable")
    weights = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    diff = np.cumsum(weights[order], axis=0)
    vals = np.take_along_axis(both, order, axis=0)
    last = np.vstack([vals[1:] != vals[:-1], np.ones((1, both.shape[1]), dtype=bool)])
    return np.max(np.abs(diff) * last, axis=0)


def real_vs_synthetic(x_real: np.ndarray, x_other: np.ndarray, *, seed: int = 0, n_splits: int = 3,
                      max_rows: int = 800, alpha: float = 10.0) -> dict[str, float]:
    """How distinguishable two samples are (a classifier two-sample test and marginal KS).

    * ``auc``: cross-validated ROC AUC of a linear (ridge) classifier trained to tell the two
      samples apart (0.5 = indistinguishable, 1 = perfectly separable);
    * ``ks_median``/``ks_mean``: the two-sample Kolmogorov-Smirnov statistic per feature,
      summarised over features (0 = identical marginals, 1 = disjoint).

    Both samples are subsampled to ``max_rows`` rows at most, so the cost stays bounded.

    References
    ----------
    D. Lopez-Paz, M. Oquab. Revisiting classifier two-sample tests. ICLR 2017.
    """
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    a = np.asarray(x_real)[rng.permutation(len(x_real))[:max_rows]]
    b = np.asarray(x_other)[rng.permutation(len(x_other))[:max_rows]]
    out = {"auc": float("nan"), "ks_median": float("nan"), "ks_mean": float("nan")}
    if len(a) < 2 or len(b) < 2:
        return out
    ks = ks_statistics(a, b)
    out["ks_median"], out["ks_mean"] = float(np.median(ks)), float(np.mean(ks))
    k = int(min(n_splits, len(a), len(b)))
    if k >= 2:
        X = np.vstack([a, b])
        t = np.r_[np.zeros(len(a)), np.ones(len(b))]
        cv = StratifiedKFold(k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():  # far-off synthetic rows make the ridge system ill-conditioned
            warnings.simplefilter("ignore")
            p = cross_val_predict(RidgeClassifier(alpha=alpha), X, t, cv=cv, method="decision_function")
        out["auc"] = float(roc_auc_score(t, p))
    return out


# ---------------------------------------------------------------------------------------------
# One fold, all folds
# ---------------------------------------------------------------------------------------------
@dataclass
class FoldResult:
    """What one (fold, seed) produced.

    ``scores``: one dict per condition (condition, fold, seed, uar, accuracy, macro_f1);
    ``similarity``: one dict per sample compared with the real training data; ``histories``:
    name -> per-epoch DataFrame; ``predictions``: condition -> (y_true, y_pred); ``codes``:
    the 2-d real and generated codes for Fig. 3 (when asked); ``seconds``: time per stage.
    """

    fold: str
    seed: int
    scores: list[dict[str, Any]] = field(default_factory=list)
    similarity: list[dict[str, Any]] = field(default_factory=list)
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    gmm_mapping: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def run_fold(fd: FoldData, cfg: Config, seed: int, *, figures: bool = False, device: Any = "cpu",
             real_scores: tuple[dict[str, float], np.ndarray] | None = None) -> FoldResult:
    """Everything of one (fold, seed): AAE, 2-d GAN, cGANs, SVMs, similarity measures.

    With ``figures`` the vanilla GAN on 1582-d features and (if not in ``cfg.cgan_variants``)
    the decoder-initialised cGAN are trained too, for the loss-curve figures, and the codes are
    kept for the scatter plot. ``real_scores`` reuses the (seed-independent) real-data SVM.
    """
    res = FoldResult(fd.name, seed)
    tags = {"fold": fd.name, "seed": seed}
    C = cfg.svm_C
    k = fd.n_classes
    t0 = time.perf_counter()
    gammas = {"1582": kernel_width(fd.x_train, cfg.svm_gamma)}

    def score(cond: str, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray) -> np.ndarray:
        s, pred = svm_scores(x_tr, y_tr, x_te, y_te, C=C, gamma=gammas[cond.split(":")[0].split("+")[0]])
        res.scores.append({"condition": cond, **tags, **s})
        res.predictions[cond] = (np.asarray(y_te), pred)
        return pred

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        res.seconds[name] = round(now - t0, 2)
        t0 = now

    # ---- adversarial autoencoder: 1582 -> 2 -------------------------------------------------
    aae, h_aae, c_train, c_test = fit_aae(fd, cfg, seed, device=device)
    res.histories["aae"] = h_aae
    gammas["2d"] = kernel_width(c_train, cfg.svm_gamma)
    lap("aae")

    # ---- vanilla GAN on 2-d codes, GMM labels -------------------------------------------------
    gan_run = fit_code_gan(c_train, cfg, seed, val_codes=c_test, device=device)
    res.histories["gan_2d"] = gan_run.history
    synth_codes = sample_gan(gan_run.model, cfg.n_synthetic_per_class * k, seed=seed)
    labeller = GMMLabeller(k, seed=seed).fit(c_train, fd.y_train, k)
    synth_code_y = labeller.predict(synth_codes)
    res.gmm_mapping = [int(v) for v in labeller.mapping] if labeller.mapping is not None else []
    lap("gan_2d")

    if len(set(synth_code_y.tolist())) > 1:  # an SVM needs two classes at least
        score("2d:synthetic", synth_codes, synth_code_y, c_test, fd.y_test)
    score("2d:real", c_train, fd.y_train, c_test, fd.y_test)
    score("2d:real+synthetic", np.vstack([c_train, synth_codes]), np.r_[fd.y_train, synth_code_y], c_test, fd.y_test)
    clf2 = rbf_svm(C=C, gamma=gammas["2d"], standardise=False).fit(c_train, fd.y_train)
    p2 = clf2.predict(synth_codes)
    res.scores.append({"condition": "test-on-synthetic:2d", **tags, **classification_scores(synth_code_y, p2)})
    res.predictions["test-on-synthetic:2d"] = (synth_code_y, p2)
    if figures:
        res.codes = {"train": c_train, "train_y": fd.y_train, "test": c_test, "test_y": fd.y_test,
                     "synthetic": synth_codes, "synthetic_y": synth_code_y}
    lap("svm_2d")

    # ---- vanilla GAN on 1582-d features (figure only) -----------------------------------------
    if figures and cfg.gan1582_epochs > 0:
        res.histories["gan_1582"] = fit_feature_gan(fd, cfg, seed, device=device).history
        lap("gan_1582")

    # ---- conditional GANs on 1582-d features --------------------------------------------------
    variants = list(cfg.cgan_variants)
    if figures and "decoder_init" not in variants:
        variants.insert(min(1, len(variants)), "decoder_init")
    if real_scores is None:
        real_scores = svm_scores(fd.x_train, fd.y_train, fd.x_test, fd.y_test, C=C, gamma=gammas["1582"])
    res.scores.append({"condition": "1582:real", **tags, **real_scores[0]})
    res.predictions["1582:real"] = (fd.y_test, real_scores[1])
    clf_real = rbf_svm(C=C, gamma=gammas["1582"], standardise=False).fit(fd.x_train, fd.y_train)
    rng = np.random.default_rng(seed)
    for variant in variants:
        run = fit_cgan(fd, cfg, seed, variant, aae=aae, device=device)
        res.histories[f"cgan_{variant}"] = run.history
        lap(f"cgan_{variant}")
        if variant not in cfg.cgan_variants:
            continue  # trained for the figure only
        xs, ys = sample_cgan(run.model, make_prior(cfg, k), cfg.n_synthetic_per_class, seed=seed)
        score(f"1582:synthetic:{variant}", xs, ys, fd.x_test, fd.y_test)
        score(f"1582:real+{variant}", np.vstack([fd.x_train, xs]), np.r_[fd.y_train, ys], fd.x_test, fd.y_test)
        p = clf_real.predict(xs)
        res.scores.append({"condition": f"test-on-synthetic:{variant}", **tags, **classification_scores(ys, p)})
        res.predictions[f"test-on-synthetic:{variant}"] = (ys, p)
        sim = real_vs_synthetic(fd.x_train, xs, seed=int(rng.integers(1 << 31)))
        res.similarity.append({"sample": f"{variant} cGAN", **tags, **sim})
        lap(f"svm_{variant}")
    # reference: the held-out real session against the training sessions
    sim = real_vs_synthetic(fd.x_train, fd.x_test, seed=seed)
    res.similarity.append({"sample": "held-out real data", **tags, **sim})
    lap("similarity_ref")
    return res


def _run_task(fd: FoldData, cfg: Config, seed: int, figures: bool, device: str,
              real_scores: tuple[dict[str, float], np.ndarray] | None) -> FoldResult:
    """One (fold, seed): a unit of :func:`serlib.parallel.run_units` (which sets its threads)."""
    return run_fold(fd, cfg, seed, figures=figures, device=device, real_scores=real_scores)


@dataclass
class Results:
    """All (fold, seed) results of one protocol (what :func:`run` returns), as tidy tables."""

    scores: pd.DataFrame
    similarity: pd.DataFrame
    histories: pd.DataFrame
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]
    codes: dict[str, np.ndarray]
    labels: tuple[str, ...]
    gmm_mappings: pd.DataFrame
    seconds: pd.DataFrame

    def history(self, name: str, fold: str | None = None, seed: int | None = None) -> pd.DataFrame:
        """The per-epoch history ``name`` (``aae``, ``gan_2d``, ``gan_1582``, ``cgan_<variant>``) of
        one (fold, seed); default: the first that has it."""
        h = self.histories[self.histories["model"] == name]
        if fold is not None:
            h = h[h["fold"] == fold]
        if seed is not None:
            h = h[h["seed"] == seed]
        if h.empty:
            return h
        first = h.iloc[0]
        return h[(h["fold"] == first["fold"]) & (h["seed"] == first["seed"])].reset_index(drop=True)

    def confusion(self, condition: str, normalise: bool = True) -> pd.DataFrame:
        """Confusion matrix of ``condition`` pooled over every fold and seed."""
        yt, yp = self.predictions[condition]
        return confusion(yt, yp, self.labels, normalise=normalise)


def run(cfg: Config, data: ChapterData, folds: Sequence[FoldData] | None = None, *, progress: bool = True,
        figure_fold: int = 0) -> Results:
    """Run :func:`run_fold` for every fold and every seed in ``cfg.seeds``.

    ``folds`` are standardised folds (:func:`fold_features`); by default ``data``'s
    leave-one-session-out folds. Pass the folds of another protocol (e.g. the cross-corpus
    split built with :func:`serlib.splits.cross_corpus`) to run that one instead.

    The (fold, seed) units run through :func:`serlib.parallel.run_units`: in ``cfg.workers``
    processes with ``cfg.threads`` threads each on a CPU, one after another on a GPU; inside
    ``serbook run`` a killed run resumes from its finished units. Figures' extras are trained
    on fold ``figure_fold`` of the first seed only.
    """
    if folds is None:
        folds = fold_features(data.features, data.corpus.y, data.folds, data.labels)
    device = get_device(cfg.device)
    # the real-data SVM does not depend on the seed: fit it once per fold
    real = [svm_scores(fd.x_train, fd.y_train, fd.x_test, fd.y_test, C=cfg.svm_C,
                       gamma=kernel_width(fd.x_train, cfg.svm_gamma)) for fd in folds]
    dev = str(device)
    units = [Unit(f"fold={fd.name}/seed={seed}", (fd, cfg, seed, i == figure_fold and j == 0, dev, real[i]))
             for j, seed in enumerate(cfg.seeds) for i, fd in enumerate(folds)]
    results = run_chapter_units("sahu2018.run", _run_task, units, cfg, device=device, progress=progress,
                                desc="folds x seeds", data=(list(folds), figure_fold))
    return _collect(results, folds[0].labels)


def _collect(results: Sequence[FoldResult], labels: tuple[str, ...]) -> Results:
    scores = pd.DataFrame([s for r in results for s in r.scores])
    sim = pd.DataFrame([s for r in results for s in r.similarity])
    hist = []
    for r in results:
        for name, h in r.histories.items():
            hist.append(h.assign(model=name, fold=r.fold, seed=r.seed))
    histories = pd.concat(hist, ignore_index=True) if hist else pd.DataFrame()
    preds: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for r in results:
        for cond, (yt, yp) in r.predictions.items():
            preds.setdefault(cond, ([], []))
            preds[cond][0].append(np.asarray(yt))
            preds[cond][1].append(np.asarray(yp))
    pooled = {c: (np.concatenate(a), np.concatenate(b)) for c, (a, b) in preds.items()}
    codes = next((r.codes for r in results if r.codes), {})
    maps = pd.DataFrame([{"fold": r.fold, "seed": r.seed,
                          **{f"component {i}": labels[m] for i, m in enumerate(r.gmm_mapping)}} for r in results])
    secs = pd.DataFrame([{"fold": r.fold, "seed": r.seed, **r.seconds} for r in results])
    return Results(scores, sim, histories, pooled, codes, labels, maps, secs)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def summary_table(scores: pd.DataFrame, rows: Mapping[str, str], metric: str = "uar",
                  chance: float | None = None) -> pd.DataFrame:
    """Mean ± std (%) of ``metric`` per condition, renamed by ``rows`` (condition -> row name).

    Columns: ``ours`` (text), ``mean``, ``std`` (over every fold x seed), ``std over seeds``
    (of the per-seed means across folds) and ``n``. ``chance`` adds a "Chance accuracy" row.
    """
    out = []
    if chance is not None:
        out.append({"row": "Chance accuracy", "ours": f"{100 * chance:.2f}", "mean": 100 * chance,
                    "std": 0.0, "std over seeds": 0.0, "n": 0})
    for cond, row in rows.items():
        s = scores[scores["condition"] == cond]
        if s.empty:
            continue
        vals = 100 * s[metric].to_numpy(dtype=float)
        per_seed = 100 * s.groupby("seed")[metric].mean().to_numpy(dtype=float)
        m, sd = float(vals.mean()), float(vals.std(ddof=0))
        out.append({"row": row, "ours": f"{m:.2f} ± {sd:.2f}", "mean": m, "std": sd,
                    "std over seeds": float(per_seed.std(ddof=0)), "n": len(vals)})
    return pd.DataFrame(out).set_index("row")


def _beside(ours: pd.DataFrame, table: str) -> pd.DataFrame:
    t = beside(ours[["ours", "mean", "std", "std over seeds", "n"]], TABLES[table])
    return t.rename(columns={"ours": "ours UAR (%) mean ± std", "mean": "ours mean", "std": "ours std"})


def table1(result: Results) -> pd.DataFrame:
    """Table 1: synthetic samples in the training set (leave-one-session-out)."""
    return _beside(summary_table(result.scores, _T1_ROWS, chance=1 / len(result.labels)), "table1")


def table2(result: Results) -> pd.DataFrame:
    """Table 2: SVMs trained on real data, tested on synthetic samples."""
    return _beside(summary_table(result.scores, _T2_ROWS), "table2")


def table3(result: Results) -> pd.DataFrame:
    """Table 3: cross-corpus (train on one corpus + synthetic, test on the other)."""
    return _beside(summary_table(result.scores, _T3_ROWS), "table3")


def similarity_table(result: Results) -> pd.DataFrame:
    """Real-vs-synthetic distinguishability per sample, mean ± std over folds and seeds."""
    if result.similarity.empty:
        return pd.DataFrame()
    g = result.similarity.groupby("sample", sort=False)
    out = pd.DataFrame({
        "two-sample AUC": [f"{m:.3f} ± {s:.3f}" for m, s in zip(g["auc"].mean(), g["auc"].std(ddof=0))],
        "median KS": [f"{m:.3f} ± {s:.3f}" for m, s in zip(g["ks_median"].mean(), g["ks_median"].std(ddof=0))],
        "auc_mean": g["auc"].mean().to_numpy(), "ks_median_mean": g["ks_median"].mean().to_numpy(),
        "n": g.size().to_numpy(),
    }, index=g["auc"].mean().index)
    return out


def paired_difference(scores: pd.DataFrame, a: str, b: str, metric: str = "uar") -> dict[str, float]:
    """``a`` minus ``b`` on the same (fold, seed) pairs, in percentage points.

    Returns mean, std, the number of pairs and how many favour ``a`` (``wins``) or ``b``
    (``losses``).
    """
    pa = scores[scores["condition"] == a].set_index(["fold", "seed"])[metric]
    pb = scores[scores["condition"] == b].set_index(["fold", "seed"])[metric]
    d = 100 * (pa - pb).dropna()
    if d.empty:
        return {"mean": float("nan"), "std": float("nan"), "n": 0, "wins": 0, "losses": 0}
    return {"mean": float(d.mean()), "std": float(d.std(ddof=0)), "n": int(len(d)),
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}


def curve_summary(result: Results, last_fraction: float = 0.2) -> pd.DataFrame:
    """Where each adversarial model ended: its losses and D outputs averaged over the last
    ``last_fraction`` of epochs, then over folds and seeds; ``norm ratio`` is the generated
    rows' mean norm over the real ones' (1 = the right scale)."""
    h = result.histories
    if h.empty:
        return pd.DataFrame()
    rows = []
    for name, g in h[h["model"] != "aae"].groupby("model", sort=False):
        per_run = []
        for _, run in g.groupby(["fold", "seed"]):
            n_last = max(1, int(round(len(run) * last_fraction)))
            per_run.append(run.sort_values("epoch").tail(n_last).mean(numeric_only=True))
        m = pd.DataFrame(per_run).mean()
        row = {"model": name, "runs": len(per_run)}
        for col in ("d_loss", "g_loss", "d_real", "d_fake", "val_d_loss", "val_g_loss"):
            if col in m:
                row[col] = float(m[col])
        if "val_fake_norm" in m and m.get("val_real_norm", 0) > 0:
            row["norm ratio"] = float(m["val_fake_norm"] / m["val_real_norm"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def yardstick(data: ChapterData, folds: Sequence[Fold] | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The book's yardstick on the chapter's folds: IS10 + RBF-SVM, plain and speaker-adaptive.

    Returns (per-fold scores of both, {method: confusion}).
    """
    folds = list(folds if folds is not None else data.folds)
    rows, cms = [], {}
    for sa in (False, True):
        s, cm = svm_yardstick(data.corpus, folds, speaker_adaptive=sa, features=data.features, progress=False)
        rows.append(s)
        cms[str(s["method"].iloc[0])] = cm
    return pd.concat(rows, ignore_index=True), cms


def cross_yardstick(data: ChapterData, *, C: float = 1.0) -> pd.DataFrame:
    """The yardstick across corpora: IS10 + RBF-SVM trained on all of the training corpus and
    tested on all of the cross corpus, plain (standardised with the training corpus's
    statistics) and speaker-adaptive (every speaker of both corpora z-normalised with their own
    features, never their labels)."""
    if data.cross is None or data.cross_features is None:
        return pd.DataFrame()
    from ..features import speaker_normalise
    from ..models.classifiers import rbf_svm as _svm

    rows = []
    xs, xt = data.features.to_numpy(), data.cross_features.to_numpy()
    ys, yt = data.corpus.y, data.cross.y
    for sa in (False, True):
        a, b = (speaker_normalise(xs, data.corpus.speakers), speaker_normalise(xt, data.cross.speakers)) if sa \
            else (xs, xt)
        pred = _svm(C=C).fit(a, ys).predict(b)
        s = classification_scores(yt, pred)
        rows.append({"method": "IS10 + RBF-SVM" + (" (speaker-adaptive norm.)" if sa else ""),
                     "UAR (%)": 100 * s["uar"], "accuracy (%)": 100 * s["accuracy"]})
    return pd.DataFrame(rows).set_index("method")


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_adversarial_curves(history: pd.DataFrame, *, title: str = "", ax: plt.Axes | None = None,
                            validation: bool = True) -> plt.Figure:
    """Discriminator and generator losses per epoch, training (solid) and validation (dashed)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.4))
    if history.empty:
        ax.set_title(f"{title} (not trained)")
        return fig
    ax.plot(history["epoch"], history["d_loss"], color="C0", label="D (train)")
    ax.plot(history["epoch"], history["g_loss"], color="C1", label="G (train)")
    if validation and "val_d_loss" in history:
        ax.plot(history["epoch"], history["val_d_loss"], color="C0", ls="--", label="D (validation)")
        ax.plot(history["epoch"], history["val_g_loss"], color="C1", ls="--", label="G (validation)")
    ax.axhline(np.log(2), color="grey", lw=0.8, ls=":", label="log 2")
    ax.set_xlabel("epoch")
    ax.set_ylabel("adversarial loss")
    ax.set_title(title)
    ax.legend(fontsize="x-small")
    return fig


def plot_norms(result: Results, models: Sequence[str], *, ax: plt.Axes | None = None) -> plt.Figure:
    """Mean norm of generated rows (per epoch, first fold and seed) against the real rows' norm."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.4))
    real_done = False
    for i, name in enumerate(models):
        h = result.history(name)
        if h.empty or "val_fake_norm" not in h:
            continue
        ax.plot(h["epoch"], h["val_fake_norm"], color=f"C{i}", label=f"{name}: generated")
        if not real_done:
            ax.plot(h["epoch"], h["val_real_norm"], color="black", ls="--", label="real (held-out)")
            real_done = True
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean Euclidean norm")
    ax.set_title("scale of the generated feature vectors")
    ax.legend(fontsize="x-small")
    return fig


def plot_codes(codes: Mapping[str, np.ndarray], labels: Sequence[str], *, prior: GMMPrior | None = None) -> plt.Figure:
    """Fig. 3: real training codes, held-out codes and GAN-generated codes (GMM labels), by class."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
    panels = [("train", "real codes (training sessions)"), ("test", "real codes (held-out session)"),
              ("synthetic", "vanilla-GAN codes (GMM labels)")]
    for ax, (key, title) in zip(axes, panels):
        pts, y = codes.get(key), codes.get(f"{key}_y")
        if pts is None or y is None:
            ax.set_title(f"{title}: not available")
            continue
        for c, lab in enumerate(labels):
            m = np.asarray(y) == c
            ax.scatter(pts[m, 0], pts[m, 1], s=8, alpha=0.55, color=f"C{c}", label=lab)
        if prior is not None:
            mu = prior.means.numpy()
            ax.scatter(mu[:, 0], mu[:, 1], marker="x", color="black", s=40, label="prior means")
        ax.set_title(title, fontsize="small")
        ax.set_xlabel("code 1")
    axes[0].set_ylabel("code 2")
    axes[0].legend(fontsize="x-small", markerscale=2)
    fig.tight_layout()
    return fig


def plot_confusions(result: Results, conditions: Mapping[str, str]) -> plt.Figure:
    """Row-normalised confusion matrices pooled over folds and seeds, one panel per condition."""
    from ..plots import confusion_heatmap

    conds = [(c, t) for c, t in conditions.items() if c in result.predictions]
    fig, axes = plt.subplots(1, max(len(conds), 1), figsize=(4.1 * max(len(conds), 1), 3.7))
    axes = np.atleast_1d(axes)
    for ax, (cond, title) in zip(axes, conds):
        confusion_heatmap(result.confusion(cond), title=title, ax=ax)
    fig.tight_layout()
    return fig
