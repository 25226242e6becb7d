"""Chapter 5 (Pereira et al. 2018): its configuration and corpora, the BEGAN pretraining, the
supervised module on a fold, the protocols (:func:`run`) and the learning curve."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...cache import cache_key, remove_verified
from ...config import ParameterError, cache_dir, get_device, get_logger, plain_values, seed_everything
from ...data import Corpus, CorpusError, load_corpus
from ...features import (
    ChunkSet,
    Standardiser,
    chunk_spectrograms,
    functionals,
    speaker_normalise,
    standardise_by_speaker,
)
from ...metrics import ccc, classification_scores, confusion, uar
from ...models.began import (
    BEGAN,
    BeganEncoder,
    ConvHead,
    SupervisedBEGAN,
    aggregate_by_utterance,
    check_input_shape,
    encode,
    predict_outputs,
    train_began,
    train_supervised,
)
from ...parallel import Unit, run_chapter_units, threads_param, workers_param
from ...params import ChapterConfig, param
from ...splits import (
    Fold,
    FoldError,
    check_fold,
    holdout_speakers,
    leave_one_speaker_out,
    per_speaker_holdout,
    predefined,
)
from ...train import FitOutcome, load_checkpoint, save_checkpoint
from ...versions import MODEL_VERSION
from ..common import svm_yardstick

__all__ = [
    "CHAPTER", "CURVE_METHODS", "Config", "HEAD_GRID", "PROTOCOLS", "Pretrained", "Results",
    "learning_curve", "load", "length_source", "check_protocols_ran", "load_pretrain_corpus", "pretrain",
    "protocol_requested", "run", "study_corpus", "study_fold", "stratified_fraction", "Inputs",
    "METHOD_NAMES", "MODEL_VERSION", "fit_predict", "held_out_part", "normalise_chunks", "prepare_inputs",
    "run_jobs", "search_head", "speaker_independent",
]

CHAPTER = "05_pereira2018_began"
PROTOCOLS: tuple[str, ...] = ("speaker_dependent", "predefined", "loso")
CURVE_METHODS: tuple[str, ...] = ("began_frozen", "random_frozen", "end_to_end", "egemaps_svm", "is10_svm")

METHOD_NAMES: dict[str, str] = {
    "began_frozen": "BEGAN encoder (pretrained, frozen) + conv head",
    "began_finetune": "BEGAN encoder (pretrained, fine-tuned) + conv head",
    "random_frozen": "same encoder, random weights (frozen) + conv head",
    "end_to_end": "same network trained end to end (no pretraining)",
    "egemaps_svm": "EGEMAPS + RBF-SVM",
    "is10_svm": "IS10 + RBF-SVM",
}
"""Display names of the methods (the yardstick's names come from :func:`svm_yardstick`)."""

HEAD_GRID: tuple[dict[str, Any], ...] = (
    {"filters": (32,), "dropout": 0.3, "lr": 1e-3, "weight_decay": 0.0},
    {"filters": (32, 32), "dropout": 0.5, "lr": 1e-3, "weight_decay": 1e-4},
    {"filters": (16,), "dropout": 0.3, "lr": 3e-3, "weight_decay": 0.0},
    {"filters": (64,), "dropout": 0.5, "lr": 3e-4, "weight_decay": 1e-4},
    {"filters": (32, 32), "dropout": 0.3, "lr": 3e-4, "weight_decay": 0.0},
    {"filters": (64, 32), "dropout": 0.5, "lr": 1e-3, "weight_decay": 1e-3},
    {"filters": (16, 16), "dropout": 0.2, "lr": 1e-3, "weight_decay": 0.0},
    {"filters": (64,), "dropout": 0.3, "lr": 1e-3, "weight_decay": 1e-4},
    {"filters": (32,), "dropout": 0.5, "lr": 3e-3, "weight_decay": 1e-4},
    {"filters": (128,), "dropout": 0.5, "lr": 3e-4, "weight_decay": 0.0},
    {"filters": (32, 64), "dropout": 0.3, "lr": 3e-4, "weight_decay": 1e-4},
    {"filters": (16,), "dropout": 0.0, "lr": 1e-3, "weight_decay": 1e-3},
)
"""The supervised module's search space, in the order it is tried: ``search_trials`` = k tries
the first k (the first is the default when there is no search). Conv filters per layer,
dropout before the output, Adam's learning rate and weight decay."""

log = get_logger("experiments.pereira2018")


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class Config(ChapterConfig):
    """Parameters of chapter 5 (Pereira et al. 2018). ``paper_value`` says what the paper used."""

    seeds: list[int] = param([0, 1, 2], smoke=[0], paper=list(range(10)), paper_value="10 runs (Table 1)",
                             help="runs of the supervised module (its initialisation and batches); mean ± std over them")
    corpus_size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                             help="embedded corpus size (labelled sessions and unlabelled pool)")
    pretrain_corpus: str = param("embedded", paper="librispeech", choices=("embedded", "librispeech"),
                                 paper_value="LibriSpeech (part of it)",
                                 help="unlabelled speech for the BEGAN: the embedded pool or LibriSpeech")
    pretrain_data_root: str | None = param(None, help="LibriSpeech folder; None = $SERLIB_DATA/librispeech")
    pretrain_max_utterances: int | None = param(None, paper=20000, low=1,
                                                paper_value="'part of the LibriSpeech dataset' (amount not stated)",
                                                help="cap on pretraining utterances (round-robin over speakers)")
    savee_root: str | None = param(None, help="SAVEE folder for the speaker-dependent protocol (Table 1)")
    omg_root: str | None = param(None, help="OMG-Emotion folder for the predefined-split protocol (Table 2)")
    emodb_root: str | None = param(None, help="Emo-DB folder for the leave-one-speaker-out protocol (Table 3)")
    retrain_encoder: bool = param(False, help="pretrain the BEGAN again even if a cached encoder matches")
    # pre-processing
    chunk_seconds: float = param(1.0, low=0.1, high=10.0, paper_value="1 s, non-overlapping",
                                 help="chunk length in seconds")
    n_fft: int = param(1024, paper_value="1024", help="STFT size")
    hop_length: int = param(512, paper_value="512", help="STFT hop")
    freq_bins: int = param(64, smoke=32, paper=512, choices=(32, 64, 128, 256, 512),
                           paper_value="513 STFT bins (all)",
                           help="frequency bins the network sees: the 512 non-Nyquist bins averaged in groups")
    input_norm: str = param("speaker", paper="pretrain", choices=("pretrain", "speaker"),
                            paper_value="not stated (the spectrogram's scaling is not described)",
                            help="z-normalisation of each frequency bin of the labelled corpora's chunks: with the "
                                 "pretraining chunks' statistics (pretrain), or each speaker's chunks with that "
                                 "speaker's own (speaker: speaker-adaptive, reads the held-out speakers' recordings, "
                                 "never their labels); the BEGAN itself always trains on pretrain-normalised chunks")
    chunk_weighting: str = param("duration", choices=("duration", "uniform"), paper_value="not stated",
                                 help="weight of a chunk in its utterance's pooled output: share of real audio, or equal")
    # BEGAN
    gamma: float = param(0.7, low=0.0, high=1.0, paper_value="0.7", help="BEGAN diversity ratio gamma")
    lambda_k: float = param(0.001, low=0.0, high=1.0, paper_value="not stated (Berthelot et al.: 0.001)",
                            help="gain of the k_t controller")
    lr: float = param(2e-4, smoke=2e-4, paper=5e-5, low=1e-7, high=1.0, paper_value="5e-5 (Adam, both networks)",
                      help="BEGAN learning rate (Adam, D and G)")
    adam_beta1: float = param(0.5, low=0.0, high=1.0, paper_value="not stated (BEGAN reference code: 0.5)",
                              help="Adam beta1 of the BEGAN optimisers")
    batch_size: int = param(16, low=1, paper_value="16", help="BEGAN mini-batch size")
    epochs: int = param(12, smoke=60, paper=100, low=1, paper_value="100", help="BEGAN training epochs")
    latent_size: int = param(64, smoke=16, paper=64, low=1, paper_value="not stated (Berthelot et al.: 64)",
                             help="BEGAN embedding h and noise z size")
    filters: int = param(8, smoke=4, paper=64, low=1, paper_value="not stated (Berthelot et al.: 64 or 128)",
                         help="BEGAN filters n at the first scale (n, 2n, 3n ... after each down-sampling)")
    n_scales: int = param(3, low=1, high=6, paper_value="not stated", help="stride-2 down-samplings in the encoder")
    convs_per_scale: int = param(1, paper=2, low=1, high=4, paper_value="not stated (Berthelot et al.: 2)",
                                 help="3x3 conv + ELU layers per scale")
    pretrain_seed: int = param(0, help="seed of the one BEGAN pretraining (and of the random-encoder control)")
    # supervised module
    freeze_encoder: bool = param(True, paper_value="True (frozen)",
                                 help="freeze the pretrained encoder (False: fine-tune it end to end)")
    representation: str = param("feature_map", choices=("feature_map", "embedding"),
                                paper_value="not stated (the encoder's output; the classifier is convolutional)",
                                help="what the head sees: the encoder's last conv map, or the h code")
    head_max_epochs: int = param(25, smoke=60, paper=100, low=1, paper_value="100 (fixed)",
                                 help="most epochs of the supervised module (all of them when head_patience is 0)")
    head_patience: int = param(4, smoke=0, paper=10, low=0,
                               paper_value="not stated (no early stopping mentioned; a fixed 100 epochs)",
                               help="early stopping of the supervised module: stop after this many epochs without "
                                    "a better validation score (0 = no early stop: all head_max_epochs epochs). "
                                    "As in every chapter, the epoch kept is the best one on the validation data "
                                    "when there are any, whatever the patience: the protocol's validation part "
                                    "where it has one (OMG-Emotion); else, with head_patience > 0, the held-out "
                                    "search_holdout part of the fold's training data, after which the head is "
                                    "retrained on all of it for the chosen number of epochs. With 0 and no "
                                    "validation part the head trains the fixed head_max_epochs and keeps the "
                                    "last, as the paper does")
    head_min_delta: float = param(0.0, low=0.0, high=1.0, paper_value="not stated",
                                  help="smallest rise of the validation score (UAR, or mean CCC) that counts as an "
                                       "improvement (0: any rise, ties broken by a lower validation loss)")
    head_batch_size: int = param(64, smoke=16, paper=16, low=2, paper_value="16",
                                 help="mini-batch of the supervised module (chunks)")
    search_trials: int = param(2, smoke=1, paper=12, low=1, high=len(HEAD_GRID),
                               paper_value="Hyperas search (size not stated)",
                               help="candidate head configurations tried per fold (1 = no search)")
    search_holdout: float = param(0.2, low=0.05, high=0.5,
                                  paper_value="not stated (a held-out part searched with Hyperas)",
                                  help="share of a fold's training data held out to choose the head (with "
                                       "search_trials > 1) and its training length (with head_patience > 0), "
                                       "when the protocol has no validation part: whole "
                                       "training speakers when the fold is speaker-independent (no test speaker "
                                       "among its training speakers: leave-one-speaker-out, a predefined split "
                                       "by speaker), as chapter 4 holds out a validation pair; else (speakers on "
                                       "both sides, as in the per-speaker 60/40 split) a class-stratified share "
                                       "of the training utterances")
    # protocols
    protocols: list[str] = param(list(PROTOCOLS), choices=PROTOCOLS,
                                 help="which of the three protocols to run")
    train_fraction: float = param(0.6, low=0.05, high=0.95, paper_value="~60% train / 40% test per speaker",
                                  help="speaker-dependent protocol: training share per speaker")
    split_seed: int = param(0, help="seed of the speaker-dependent 60/40 split (fixed across runs)")
    max_folds: int | None = param(None, smoke=2, low=1, help="run only the first k folds of each protocol")
    yardstick: bool = param(True, help="run the book's yardstick (IS10 + RBF-SVM, plain and speaker-adaptive)")
    # beyond the paper
    label_fractions: list[float] = param([0.1, 0.25, 0.5, 1.0], smoke=[0.5, 1.0], low=0.01, high=1.0,
                                         help="learning curve: shares of the training labels used")
    curve_methods: list[str] = param(list(CURVE_METHODS), choices=CURVE_METHODS,
                                     help="learning curve: methods compared")
    curve_seeds: list[int] | None = param([0, 1], smoke=None, paper=None,
                                         help="learning curve seeds (None = seeds)")
    curve_epochs: int | None = param(None, low=1,
                                     help="epochs of the end-to-end network in the curve (None = the length chosen "
                                          "for the pretrained frozen head at the same seed and fraction, or "
                                          "head_max_epochs)")
    workers: int | None = workers_param(2, smoke=1, paper=1, units="independent folds and curve points")
    threads: int | None = threads_param(1, paper=None, unit="fold or curve point",
                                        why="these small networks gain little from more and lose much when the "
                                            "cores are shared")

    CHAPTER = CHAPTER

    def validate(self) -> None:
        super().validate()
        frames = 1 + int(round(self.chunk_seconds * 16000)) // self.hop_length
        try:
            check_input_shape(self.freq_bins, frames, self.n_scales)
        except ValueError as exc:
            raise ParameterError(f"freq_bins / chunk_seconds / hop_length / n_scales: {exc}") from None
        if self.n_fft // 2 < self.freq_bins:
            raise ParameterError(f"freq_bins={self.freq_bins} exceeds the {self.n_fft // 2} bins of n_fft={self.n_fft}")

    @property
    def frames(self) -> int:
        """STFT frames of one chunk (centred frames: ``1 + samples // hop``)."""
        return 1 + int(round(self.chunk_seconds * 16000)) // self.hop_length

    @property
    def run_seeds(self) -> list[int]:
        return list(self.curve_seeds) if self.curve_seeds else list(self.seeds)


# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------
def load_pretrain_corpus(cfg: Config) -> Corpus:
    """The unlabelled speech for the BEGAN.

    Every experiment of the chapter needs it, so a pretraining corpus that cannot be loaded is
    an error (:class:`~serlib.data.corpus.CorpusError` naming the corpus, its folder and the
    parameters to change), never a chapter without results.
    """
    try:
        if cfg.pretrain_corpus == "embedded":
            return load_corpus("embedded", size=cfg.corpus_size, part="unlabelled", role="pretrain")
        opts: dict[str, Any] = {}
        if cfg.pretrain_max_utterances:
            opts["max_utterances"] = int(cfg.pretrain_max_utterances)
        return cfg.load_corpus("librispeech", cfg.pretrain_data_root, role="pretrain", **opts)
    except (CorpusError, ParameterError, FileNotFoundError) as exc:
        where = cfg.pretrain_data_root or "$SERLIB_DATA/librispeech"
        raise CorpusError(
            f"pretraining corpus {cfg.pretrain_corpus!r} cannot be loaded from {where}, and every experiment of "
            f"this chapter needs it: {exc}\nFix the folder (serbook data check librispeech {where}), pass "
            "pretrain_data_root=<your LibriSpeech folder>, or pretrain_corpus=embedded.") from exc


_PROTOCOL_CORPUS = {"speaker_dependent": ("savee", "savee_root"), "predefined": ("omg", "omg_root"),
                    "loso": ("emodb", "emodb_root")}


def protocol_requested(cfg: Config, protocol: str) -> bool:
    """Whether the reader asked for ``protocol`` explicitly: named in ``protocols`` set by hand,
    or its corpus folder (``savee_root``, ``omg_root``, ``emodb_root``) given."""
    return (protocol in cfg.protocols and "protocols" in cfg.changed) or bool(
        getattr(cfg, _PROTOCOL_CORPUS[protocol][1]))


def load(cfg: Config, protocol: str) -> Corpus | None:
    """The labelled corpus a protocol runs on, or ``None`` (logged) when it is optional and absent.

    A protocol's own root (``savee_root``, ``omg_root``, ``emodb_root``) selects the paper's
    corpus. Without it, the ``paper`` profile skips the protocol (unless the reader named it in
    ``protocols``: then it is an error); the other profiles run it on ``corpus`` (the embedded
    corpus by default: per-speaker 60/40, its ``split`` column with ``arousal``/``valence``, and
    leave-one-speaker-out).

    Raises
    ------
    CorpusError
        A corpus the reader asked for (a protocol root, or ``corpus``/``data_root``) cannot be
        loaded, or a protocol named in ``protocols`` has no corpus in the ``paper`` profile.
    """
    name, root_field = _PROTOCOL_CORPUS[protocol]
    root = getattr(cfg, root_field)
    if not root and cfg.profile == "paper":
        if protocol_requested(cfg, protocol):
            raise CorpusError(f"protocol {protocol!r} was requested, but the paper profile runs it on {name}: "
                              f"pass {root_field}=/path/to/{name}, or leave {protocol!r} out of protocols")
        log.warning("protocol %s skipped: the paper runs it on %s; pass %s=/path/to/%s", protocol, name,
                    root_field, name)
        return None
    try:
        if root:
            return cfg.load_corpus(name, root, role=f"{protocol} protocol").labelled()
        if cfg.corpus == "embedded":
            return load_corpus("embedded", size=cfg.corpus_size, part="labelled")
        corpus = cfg.load_corpus(role=f"{protocol} protocol").labelled()
        if protocol == "predefined" and "split" not in corpus.table.columns:
            log.warning("protocol predefined skipped: corpus %s has no predefined split (no 'split' column)",
                        cfg.corpus)
            return None
        return corpus
    except (CorpusError, ParameterError, FileNotFoundError) as exc:
        which = f"{root_field}={root}" if root else f"corpus={cfg.corpus}, data_root={cfg.data_root}"
        raise CorpusError(f"protocol {protocol!r}: its corpus ({which}) cannot be loaded: {exc}") from exc


def check_protocols_ran(cfg: Config, results: Mapping[str, Any]) -> None:
    """Refuse a chapter run in which no protocol, or not every explicitly requested one, ran.

    ``results`` maps each protocol to its :class:`Results` or ``None`` (skipped).

    Raises
    ------
    CorpusError
        With the protocols that did not run and the parameters that would make them run.
    """
    missing = [p for p in cfg.protocols if results.get(p) is None and protocol_requested(cfg, p)]
    if missing:
        raise CorpusError(f"requested protocol(s) {missing} could not run (see the log messages above: no usable "
                          "fold, or no corpus)")
    if not any(r is not None for r in results.values()):
        roots = ", ".join(f"{r}=/path/to/{n}" for n, r in _PROTOCOL_CORPUS.values())
        raise CorpusError(f"none of the protocols {list(cfg.protocols)} could run, so this chapter has no result: "
                          f"give at least one protocol's corpus ({roots}) or use the book profile")


def study_corpus(results: Mapping[str, Any]) -> Corpus:
    """The labelled corpus of the exercises: that of the predefined-split protocol if it ran,
    else that of the first protocol that ran (:func:`check_protocols_ran` ensures one did)."""
    ran = [r for r in (results.get("predefined"), *results.values()) if r is not None]
    if not ran:
        raise CorpusError("no protocol ran, so there is no labelled corpus for the exercises")
    return ran[0].corpus


def study_fold(corpus: Corpus) -> Fold:
    """The one fold of the learning curve and the exercises: the corpus's predefined split
    (``split`` column with train and test rows) when it has one, else its first
    leave-one-speaker-out fold."""
    if "split" in corpus.table.columns and {"train", "test"} <= set(corpus.table["split"].astype(str)):
        return predefined(corpus, "split")[0]
    return leave_one_speaker_out(corpus)[0]


def protocol_folds(cfg: Config, protocol: str, corpus: Corpus) -> list[Fold]:
    """The folds of a protocol on ``corpus`` (at most ``max_folds``); classes checked per fold."""
    if protocol == "speaker_dependent":
        folds = per_speaker_holdout(corpus, cfg.train_fraction, seed=cfg.split_seed)
    elif protocol == "predefined":
        s = corpus.table.get("split")
        val = ("validation",) if s is not None and (s.astype(str) == "validation").any() else ()
        folds = predefined(corpus, "split", val=val)
    elif protocol == "loso":
        folds = leave_one_speaker_out(corpus)
    else:
        raise ParameterError(f"unknown protocol {protocol!r}; known: {list(PROTOCOLS)}")
    good = []
    for f in folds:
        try:
            check_fold(f, corpus.y, corpus.labels, where=f"{protocol}: ")
            good.append(f)
        except FoldError as exc:
            log.warning("fold skipped for every method: %s", exc)
    return good[: cfg.max_folds] if cfg.max_folds else good


# ---------------------------------------------------------------------------------------------
# Pretraining (once, cached)
# ---------------------------------------------------------------------------------------------
@dataclass
class Pretrained:
    """The pretrained BEGAN with its normaliser, training history and provenance."""

    model: BEGAN
    normaliser: Standardiser
    history: pd.DataFrame
    corpus_name: str
    fingerprint: str
    n_chunks: int
    path: str
    reused: bool
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def _began_kwargs(cfg: Config) -> dict[str, Any]:
    return dict(filters=cfg.filters, hidden=cfg.latent_size, n_scales=cfg.n_scales,
                convs_per_scale=cfg.convs_per_scale)


def _began_key(cfg: Config, fingerprint: str) -> str:
    return cache_key(fp=fingerprint, arch=_began_kwargs(cfg), bins=cfg.freq_bins, frames=cfg.frames,
                     chunk=cfg.chunk_seconds, n_fft=cfg.n_fft, hop=cfg.hop_length, gamma=cfg.gamma,
                     lambda_k=cfg.lambda_k, lr=cfg.lr, beta1=cfg.adam_beta1, bs=cfg.batch_size,
                     epochs=cfg.epochs, seed=cfg.pretrain_seed, v=MODEL_VERSION)


def pretrain(cfg: Config, corpus: Corpus, *, progress: bool = True) -> Pretrained:
    """Train the BEGAN on ``corpus`` (unlabelled) once; later calls load the cached encoder.

    The checkpoint lives in ``$SERLIB_CACHE/pereira2018/began-<key>.pt``, the key made of the
    pretraining corpus's fingerprint and every setting that changes the network. It holds the
    whole BEGAN (discriminator-autoencoder and generator, for the figures), the normaliser (as
    tensors) and the training history, all loadable with ``weights_only=True``.
    ``retrain_encoder=True`` trains afresh.

    While it trains, the whole training state is saved after every epoch in
    ``began-<key>.pt.partial`` beside it: a pretraining that is killed resumes there on the next
    call and ends with the same weights as an uninterrupted one (on a CPU); the partial file is
    removed once the encoder is stored. ``seconds`` then counts the last call's training only.

    References
    ----------
    Pereira et al. 2018, Sec. 2.3 ("Once trained the autoencoder, don't need to retrain this model").
    """
    fp = corpus.fingerprint()
    key = _began_key(cfg, fp)
    path = cache_dir("pereira2018") / f"began-{key}.pt"
    model = BEGAN((cfg.freq_bins, cfg.frames), **_began_kwargs(cfg))
    chunks = chunk_spectrograms(corpus, chunk_seconds=cfg.chunk_seconds, n_fft=cfg.n_fft,
                                hop_length=cfg.hop_length, freq_bins=cfg.freq_bins, progress=progress)
    if not cfg.retrain_encoder:
        ck = load_checkpoint(path)
        if ck is not None:
            try:
                model.load_state_dict(ck["began"])
                log.info("reusing the pretrained BEGAN %s (trained on %s, %d chunks)", path.name, ck["corpus"],
                         ck["n_chunks"])
                norm = Standardiser(np.asarray(ck["norm_mean"], dtype=np.float32),
                                    np.asarray(ck["norm_std"], dtype=np.float32))
                return Pretrained(model.eval(), norm,
                                  pd.DataFrame(ck["history"]), ck["corpus"], fp, int(ck["n_chunks"]), str(path),
                                  True, float(ck["seconds"]), dict(ck.get("meta", {})))
            except (KeyError, RuntimeError) as exc:
                log.warning("cached BEGAN %s does not fit this configuration (%s); retraining", path.name, exc)
    norm = Standardiser.fit(chunks.data, floor=1e-6, dtype=np.float64)
    x = norm(chunks.data)
    dev = get_device(cfg.device)
    partial = path.with_name(path.name + ".partial")
    if cfg.retrain_encoder:
        remove_verified(partial)  # a fresh training, not the end of an earlier one
    seed_everything(cfg.pretrain_seed)
    model = BEGAN((cfg.freq_bins, cfg.frames), **_began_kwargs(cfg))
    t0 = time.time()
    hist = train_began(model, x, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, gamma=cfg.gamma,
                       lambda_k=cfg.lambda_k, betas=(cfg.adam_beta1, 0.999), device=dev, seed=cfg.pretrain_seed,
                       points=200, checkpoint=partial, show=progress)
    seconds = time.time() - t0
    model.cpu().eval()
    meta = {"device": str(dev), "config": plain_values(cfg.as_dict())}
    save_checkpoint(path, began=model, norm_mean=torch.from_numpy(np.asarray(norm.mean, dtype=np.float32)),
                    norm_std=torch.from_numpy(np.asarray(norm.std, dtype=np.float32)), history=hist.records,
                    corpus=corpus.name, fingerprint=fp, n_chunks=len(chunks), seconds=seconds, meta=meta)
    remove_verified(partial)
    log.info("pretrained the BEGAN on %s (%d chunks) in %.0f s -> %s", corpus.name, len(chunks), seconds, path)
    return Pretrained(model, norm, hist.frame(), corpus.name, fp, len(chunks), str(path), False, seconds, meta)


def random_encoder(cfg: Config) -> BeganEncoder:
    """The BEGAN encoder with PyTorch's default random initialisation (seed ``pretrain_seed``)."""
    torch.manual_seed(cfg.pretrain_seed)
    return BeganEncoder((cfg.freq_bins, cfg.frames), **_began_kwargs(cfg))


# ---------------------------------------------------------------------------------------------
# The supervised module on one fold
# ---------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """One corpus made ready for the supervised module: normalised chunks and representations."""

    corpus: Corpus
    chunks: ChunkSet
    x: np.ndarray  # normalised chunks (n, 1, F, T)
    reps: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def weights(self) -> np.ndarray:
        return self.chunks.weight


_INPUTS: dict[str, Inputs] = {}


def normalise_chunks(chunks: ChunkSet, pretrain: Standardiser, how: str, speakers: Sequence[str]) -> np.ndarray:
    """The chunks' frequency bins z-normalised: with the pretraining statistics (``how="pretrain"``)
    or, for ``"speaker"``, each speaker's chunks with the statistics of that speaker's chunks."""
    if how == "pretrain":
        return pretrain(chunks.data)
    if how != "speaker":
        raise ParameterError(f"input_norm {how!r} is not one of pretrain, speaker")
    return standardise_by_speaker(chunks.data, np.asarray(speakers)[chunks.rows],
                                  lambda rows: Standardiser.fit(chunks.data[rows], floor=1e-6, dtype=np.float64))


def prepare_inputs(cfg: Config, corpus: Corpus, pre: Pretrained, *, kinds: Sequence[str] = ("began",),
                   progress: bool = True) -> Inputs:
    """Chunk ``corpus``, normalise (:func:`normalise_chunks`) and encode with the frozen encoder(s).

    Kept in memory for the session (the three protocols of the embedded corpus share one corpus).
    """
    memo = cache_key(enc=pre.path, fp=corpus.fingerprint(), kinds=sorted(kinds), rep=cfg.representation,
                     seed=cfg.pretrain_seed, n=len(corpus), norm=cfg.input_norm)
    if memo in _INPUTS:
        return _INPUTS[memo]
    chunks = chunk_spectrograms(corpus, chunk_seconds=cfg.chunk_seconds, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                freq_bins=cfg.freq_bins, progress=progress)
    x = normalise_chunks(chunks, pre.normaliser, cfg.input_norm, corpus.speakers)[:, None]
    inp = Inputs(corpus, chunks, x)
    dev = get_device(cfg.device)
    for kind in kinds:
        enc = pre.model.encoder if kind == "began" else random_encoder(cfg)
        inp.reps[kind] = encode(enc, x, representation=cfg.representation, device=dev)
    pre.model.cpu()
    _INPUTS.clear()  # keep one corpus in memory at a time
    _INPUTS[memo] = inp
    return inp


def _targets(corpus: Corpus, task: str) -> np.ndarray:
    if task == "classification":
        return corpus.y
    return corpus.table[["arousal", "valence"]].to_numpy(dtype=np.float64)


def _chunk_weights(cfg: Config, inp: Inputs, mask: np.ndarray) -> np.ndarray | None:
    return inp.weights[mask] if cfg.chunk_weighting == "duration" else None


def _validator(cfg: Config, inp: Inputs, model: torch.nn.Module, x_val: np.ndarray, val_mask: np.ndarray,
               task: str, mu: np.ndarray | None, sd: np.ndarray | None) -> Any:
    """A ``validate()`` for :func:`serlib.train.fit`: the head's utterance-level score on the
    validation chunks (their outputs pooled per utterance as for the test): ``val_uar`` and the
    mean negative pooled log-probability of the true class, or ``val_ccc`` (mean of arousal and
    valence) and the mean squared error."""
    targets = _targets(inp.corpus, task)
    rows, weights = inp.chunks.rows[val_mask], _chunk_weights(cfg, inp, val_mask)

    def validate() -> dict[str, float]:
        ids, pooled = aggregate_by_utterance(predict_outputs(model, x_val, task=task), rows, weights)
        y_true = targets[ids]
        if task == "classification":
            return {"val_uar": uar(y_true, pooled.argmax(1)),
                    "val_loss": float(-np.mean(pooled[np.arange(len(ids)), y_true]))}
        pred = pooled * sd + mu
        return {"val_ccc": float(np.mean([ccc(y_true[:, j], pred[:, j]) for j in range(y_true.shape[1])])),
                "val_loss": float(np.mean((pred - y_true) ** 2))}

    return validate


def _fit_predict(cfg: Config, inp: Inputs, kind: str, train_rows: np.ndarray, test_rows: np.ndarray, task: str,
                 hp: dict[str, Any], seed: int, *, pre: Pretrained | None = None, epochs: int | None = None,
                 val_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, FitOutcome]:
    """:func:`fit_predict`, also returning the training's :class:`~serlib.train.FitOutcome`."""
    dev = get_device(cfg.device)
    targets = _targets(inp.corpus, task)
    tr = inp.chunks.mask(train_rows)
    te = inp.chunks.mask(test_rows)
    y = targets[inp.chunks.rows[tr]]
    n_out = len(inp.corpus.labels) if task == "classification" else 2
    mu = sd = None
    if task == "regression":
        utt_t = targets[np.asarray(train_rows)]
        mu, sd = utt_t.mean(axis=0), utt_t.std(axis=0)
        sd = np.where(sd < 1e-8, 1.0, sd)
        y = (y - mu) / sd
    seed_everything(seed)
    if kind in ("began_frozen", "random_frozen"):
        rep = inp.reps["began" if kind == "began_frozen" else "random"]
        model: torch.nn.Module = ConvHead(rep.shape[1], n_out, filters=hp["filters"], dropout=hp["dropout"], task=task)
        source = rep
    elif kind in ("began_finetune", "end_to_end"):
        if kind == "began_finetune":
            if pre is None:
                raise ValueError("began_finetune needs the pretrained BEGAN")
            enc = copy.deepcopy(pre.model.encoder)
        else:
            torch.manual_seed(seed)
            enc = BeganEncoder((cfg.freq_bins, cfg.frames), **_began_kwargs(cfg))
        in_ch = enc.map_shape[0] if cfg.representation == "feature_map" else 1
        head = ConvHead(in_ch, n_out, filters=hp["filters"], dropout=hp["dropout"], task=task)
        model = SupervisedBEGAN(enc, head, representation=cfg.representation, freeze=False)
        source = inp.x
    else:
        raise ValueError(f"unknown method kind {kind!r}")
    stop: dict[str, Any] = {"max_epochs": epochs or cfg.head_max_epochs}
    if epochs is None and val_rows is not None and len(val_rows):
        va = inp.chunks.mask(val_rows)
        key = "val_uar" if task == "classification" else "val_ccc"
        stop.update(patience=cfg.head_patience, min_delta=cfg.head_min_delta,
                    validate=_validator(cfg, inp, model, source[va], va, task, mu, sd),
                    score=lambda m: (m[key], -m["val_loss"]))
    out = train_supervised(model, source[tr], y, task=task, lr=hp["lr"], batch_size=cfg.head_batch_size,
                         weight_decay=hp["weight_decay"], n_classes=n_out, device=dev, seed=seed, **stop)
    pred = predict_outputs(model, source[te], task=task)
    ids, pooled = aggregate_by_utterance(pred, inp.chunks.rows[te], _chunk_weights(cfg, inp, te))
    if task == "regression":
        pooled = pooled * sd + mu
    return ids, pooled, out


def fit_predict(cfg: Config, inp: Inputs, kind: str, train_rows: np.ndarray, test_rows: np.ndarray, task: str,
                hp: dict[str, Any], seed: int, *, pre: Pretrained | None = None, epochs: int | None = None,
                val_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train the supervised module on ``train_rows``' chunks, predict ``test_rows`` per utterance.

    ``kind``: ``began_frozen`` / ``random_frozen`` (the head on the precomputed frozen
    representation), ``began_finetune`` (pretrained encoder trained end to end with the head),
    ``end_to_end`` (the same network from random weights, trained end to end).

    Length of training: ``epochs`` when given (fixed). Else, with ``val_rows``: at most
    ``head_max_epochs`` epochs, stopping early after ``head_patience`` epochs without a better
    utterance-level validation score (all of them with ``head_patience=0``), the best epoch on
    ``val_rows`` kept. Without ``val_rows`` and with ``head_patience`` > 0: the same on the
    held-out part of ``train_rows`` (:func:`held_out_part`: whole speakers when no speaker of
    ``test_rows`` is among those of ``train_rows``, else a stratified ``search_holdout`` share of
    the utterances), after which the head is trained on all of ``train_rows`` for the best
    epoch's number of epochs (only the speakers of ``test_rows`` are looked at, never their
    labels). Without ``val_rows`` and with ``head_patience=0``: ``head_max_epochs``, the last
    kept (there is no validation data).

    Returns
    -------
    (corpus rows of the test utterances, their pooled outputs: class log-probabilities or
    arousal/valence predictions in the corpus's units)
    """
    if epochs is None and cfg.head_patience and (val_rows is None or not len(val_rows)):
        by_speaker = speaker_independent(inp.corpus, train_rows, test_rows)
        fit_rows, held = held_out_part(inp.corpus, np.asarray(train_rows), task, cfg.search_holdout, seed,
                                       by_speaker=by_speaker)
        epochs = _fit_predict(cfg, inp, kind, fit_rows, held, task, hp, seed, pre=pre, val_rows=held)[2].best_epoch
    ids, pooled, _ = _fit_predict(cfg, inp, kind, train_rows, test_rows, task, hp, seed, pre=pre, epochs=epochs,
                                  val_rows=val_rows)
    return ids, pooled


def _score(task: str, y_true: np.ndarray, pooled: np.ndarray) -> float:
    if task == "classification":
        return uar(y_true, pooled.argmax(1))
    return float(np.mean([ccc(y_true[:, j], pooled[:, j]) for j in range(y_true.shape[1])]))


def speaker_independent(corpus: Corpus, train_rows: np.ndarray, test_rows: np.ndarray) -> bool:
    """Whether a fold is speaker-independent: its speakers are known and none of ``test_rows``'
    speakers is among those of ``train_rows`` (leave-one-speaker-out; a predefined split by
    speaker, as the embedded corpus's). Then the held-out part of :func:`held_out_part` is whole
    speakers."""
    if "speaker" not in corpus.table.columns:
        return False
    spk = corpus.table["speaker"]
    train, test = spk.iloc[np.asarray(train_rows)], spk.iloc[np.asarray(test_rows)]
    if train.isna().any() or test.isna().any() or not len(test):
        return False
    return not set(train.astype(str)) & set(test.astype(str))


def held_out_part(corpus: Corpus, train_rows: np.ndarray, task: str, holdout: float, seed: int, *,
                  by_speaker: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(fitting rows, held-out rows)``: the part of a fold's training data on which the head's
    configuration and training length are chosen.

    ``by_speaker`` (a speaker-independent fold, :func:`speaker_independent`): about ``holdout``
    of the training speakers, whole (:func:`serlib.splits.holdout_speakers`), so that the choice
    is made on speakers the head has not seen, as it will be tested. Otherwise a class-stratified
    ``holdout`` share of the training utterances (the speaker-dependent protocols, where the
    test speakers are training speakers too). With fewer than two training speakers, or no
    choice of speakers that keeps every class for fitting, the utterance share is used and a
    warning says so.
    """
    if by_speaker:
        try:
            return holdout_speakers(corpus, train_rows, holdout, seed=seed)
        except FoldError as exc:
            log.warning("held-out part: %s; a share of the training utterances is held out instead", exc)
    from sklearn.model_selection import train_test_split

    strat = corpus.y[train_rows] if task == "classification" else None
    if strat is not None and np.bincount(strat).min(initial=2) < 2:
        strat = None
    n_val = max(1, int(round(holdout * len(train_rows))))
    if strat is not None and n_val < len(np.unique(strat)):
        strat = None
    fit, val = train_test_split(np.asarray(train_rows), test_size=n_val, random_state=seed, stratify=strat)
    return np.sort(fit), np.sort(val)


def search_head(cfg: Config, inp: Inputs, kind: str, train_rows: np.ndarray, task: str, seed: int, *,
                by_speaker: bool, val_rows: np.ndarray | None = None,
                pre: Pretrained | None = None) -> tuple[dict[str, Any], int | None, pd.DataFrame]:
    """Choose the head's hyper-parameters, and where needed its training length, on training data only.

    Tries the first ``search_trials`` configurations of :data:`HEAD_GRID`: each is trained on
    the fold's training data minus its held-out part (:func:`held_out_part`: whole training
    speakers when ``by_speaker``, for a speaker-independent fold; else a stratified
    ``search_holdout`` share of the utterances) — or on all of it when the protocol provides a
    validation part (OMG-Emotion) — and scored on the held-out utterances (UAR, or the mean of
    the arousal and valence CCC). Each trial is scored as the final heads will be trained: at its
    best epoch on the held-out utterances when they are the protocol's validation part or when
    ``head_patience`` > 0 chooses the length on them (stopping early); at its last of
    ``head_max_epochs`` epochs when the final heads train that fixed length (``head_patience=0``
    and no validation part). The paper searched with Hyperas on a held-out part it does not
    describe; holding out whole speakers under a speaker-independent protocol is the book's
    choice.

    Returns
    -------
    (the best configuration, the training length, the table of trials). The length is the
    best trial's best epoch when it was chosen on the held-out part (``head_patience`` > 0 and
    no validation part: the final heads train that many epochs on all the training data);
    ``None`` otherwise (the final heads then keep their best epoch on the validation part
    themselves, or train ``head_max_epochs``). With one trial and nothing to choose there is no
    search.
    """
    has_val = val_rows is not None and len(val_rows) > 0
    choose_length = bool(cfg.head_patience) and not has_val
    if cfg.search_trials <= 1 and not choose_length:
        return dict(HEAD_GRID[0]), None, pd.DataFrame()
    if has_val:
        fit_rows, held = np.asarray(train_rows), np.asarray(val_rows)
    else:
        fit_rows, held = held_out_part(inp.corpus, np.asarray(train_rows), task, cfg.search_holdout, seed,
                                       by_speaker=by_speaker)
    targets = _targets(inp.corpus, task)
    rows = []
    for i, hp in enumerate(HEAD_GRID[: max(1, cfg.search_trials)]):
        ids, pooled, out = _fit_predict(cfg, inp, kind, fit_rows, held, task, hp, seed, pre=pre,
                                        val_rows=held if has_val or choose_length else None)
        rows.append({"trial": i, **{k: str(v) if isinstance(v, tuple) else v for k, v in hp.items()},
                     "score": _score(task, targets[ids], pooled), "best_epoch": out.best_epoch,
                     "epochs_trained": out.epochs_trained})
    trials = pd.DataFrame(rows)
    best = int(trials["score"].idxmax())
    length = int(trials.loc[best, "best_epoch"]) if choose_length else None
    return dict(HEAD_GRID[int(trials.loc[best, "trial"])]), length, trials


def length_source(cfg: Config, has_val: bool, by_speaker: bool = False) -> str:
    """How the supervised module's training length is chosen, in words (for the tables)."""
    if has_val:
        how = "early stopping" if cfg.head_patience else f"the best of {cfg.head_max_epochs} epochs"
        return f"{how} on the protocol's validation part"
    if not cfg.head_patience:
        return f"fixed: head_max_epochs = {cfg.head_max_epochs}"
    return (f"early stopping on a held-out {cfg.search_holdout:.0%} of the training "
            f"{'speakers' if by_speaker else 'utterances'}")


def _class_row(y_true: np.ndarray, pooled: np.ndarray, **tags: Any) -> dict[str, Any]:
    return {**tags, **classification_scores(y_true, pooled.argmax(1))}


def _dim_row(y_true: np.ndarray, pooled: np.ndarray, **tags: Any) -> dict[str, Any]:
    return {**tags, "arousal_ccc": ccc(y_true[:, 0], pooled[:, 0]), "valence_ccc": ccc(y_true[:, 1], pooled[:, 1])}


# ---------------------------------------------------------------------------------------------
# Yardsticks for dimensional labels
# ---------------------------------------------------------------------------------------------
def svr_yardstick(corpus: Corpus, folds: Sequence[Fold], *, feature_set: str = "is10",
                  speaker_adaptive: bool = False, progress: bool = True) -> pd.DataFrame:
    """The yardstick for arousal and valence: functionals -> standardisation -> RBF-SVR per dimension."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    X = functionals(corpus, feature_set, progress=progress).to_numpy()
    if speaker_adaptive:
        X = speaker_normalise(X, corpus.speakers)
    Y = _targets(corpus, "regression")
    method = f"{feature_set.upper()} + RBF-SVR" + (" (speaker-adaptive norm.)" if speaker_adaptive else "")
    rows = []
    for fold in folds:
        pred = np.column_stack([make_pipeline(StandardScaler(), SVR(C=1.0)).fit(X[fold.train], Y[fold.train, j])
                                .predict(X[fold.test]) for j in range(2)])
        rows.append(_dim_row(Y[fold.test], pred, method=method, fold=fold.name))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# A protocol
# ---------------------------------------------------------------------------------------------
@dataclass
class Results:
    """Everything one protocol produced (what :func:`run` returns): per-fold scores, confusion, chosen heads."""

    protocol: str
    corpus: Corpus
    folds: list[Fold]
    scores: pd.DataFrame  # one row per (method, fold, seed): uar, accuracy, macro_f1
    dimensional: pd.DataFrame  # one row per (method, fold, seed): arousal_ccc, valence_ccc
    confusion: dict[str, pd.DataFrame]
    search: pd.DataFrame
    seconds: float
    epochs: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per (fold, task, seed): the training length of the supervised module
    (``epochs``, the epochs behind the tested head), ``epochs_trained`` by the training that
    chose it, and how it was chosen."""


def _apply(context: tuple[Any], fn: Any, *args: Any) -> Any:
    return fn(*args) if context[0] is None else fn(context[0], *args)


def run_jobs(cfg: Config, jobs: Sequence[tuple[Any, tuple[Any, ...]]], *, desc: str = "",
             progress: bool = True, keys: Sequence[str] | None = None, context: Any = None,
             namespace: str | None = None, data: Sequence[Any] = ()) -> list[Any]:
    """Run ``[(function, args), ...]`` through :func:`serlib.parallel.run_chapter_units` (results in order).

    In ``cfg.workers`` processes with ``cfg.threads`` threads each on a CPU, one after the other
    on a GPU. Every job seeds itself, so the results depend on neither knob. With a ``context``
    (sent once to each worker) a job is called ``function(context, *args)``. With a
    ``namespace``, finished jobs are kept and a re-run inside ``serbook run`` resumes from them,
    in the folder named by ``namespace``, ``data`` (what the jobs read), ``cfg`` and the device;
    ``keys`` name the jobs stably there (default: their position).
    """
    dev = get_device(cfg.device)
    keys = list(keys) if keys is not None else [f"job={i}" for i in range(len(jobs))]
    units = [Unit(k, (fn, *args)) for k, (fn, args) in zip(keys, jobs)]
    return run_chapter_units(namespace or "pereira2018.jobs", _apply, units, cfg, device=dev, context=(context,),
                             data=data, resume=namespace is not None, progress=progress, desc=desc or "jobs")


def _protocol_job(inp: Inputs, cfg: Config, kind: str, fold: Fold, task: str,
                  pre: Pretrained | None) -> tuple[dict[str, Any], pd.DataFrame, list[tuple[Any, ...]]]:
    """One fold and task of a protocol: the head search (first seed), then one training per seed.

    The training length: the best epoch on the protocol's validation part (each seed; early
    stopping with ``head_patience`` > 0), else chosen by the search on the held-out part of the
    training data (``head_patience`` > 0; whole speakers for a speaker-independent fold), else
    fixed (``head_patience=0``)."""
    by_speaker = speaker_independent(inp.corpus, fold.train, fold.test)
    hp, length, trials = search_head(cfg, inp, kind, fold.train, task, cfg.seeds[0], by_speaker=by_speaker,
                                     val_rows=fold.val, pre=pre)
    has_val = len(fold.val) > 0
    searched = int(trials.loc[trials["score"].idxmax(), "epochs_trained"]) if length is not None else None
    outs = []
    for seed in cfg.seeds:
        ids, pooled, out = _fit_predict(cfg, inp, kind, fold.train, fold.test, task, hp, seed, pre=pre,
                                        epochs=length, val_rows=fold.val if has_val else None)
        outs.append((seed, ids, pooled, {"epochs": out.best_epoch,
                                         "epochs_trained": searched if searched is not None else out.epochs_trained,
                                         "chosen_by": length_source(cfg, has_val, by_speaker)}))
    return hp, trials, outs


def run(cfg: Config, corpus: Corpus, protocol: str, pre: Pretrained, *,
        progress: bool = True) -> Results | None:
    """Run the paper's model (and the yardsticks) on one protocol; ``None`` if no fold is usable.

    The head's hyper-parameters are searched once per fold (with the first seed) on that
    fold's training data and reused by the other seeds; folds do not depend on the seed (the
    speaker-dependent split is fixed by ``split_seed``), so the deterministic yardstick is
    evaluated once on the very same folds.
    """
    t0 = time.time()
    folds = protocol_folds(cfg, protocol, corpus)
    if not folds:
        log.warning("protocol %s skipped: no usable fold on %s", protocol, corpus.name)
        return None
    kind = "began_frozen" if cfg.freeze_encoder else "began_finetune"
    method = METHOD_NAMES[kind]
    inp = prepare_inputs(cfg, corpus, pre, progress=progress)
    tasks = ["classification"]
    has_dims = {"arousal", "valence"} <= set(corpus.table.columns) and bool(
        corpus.table[["arousal", "valence"]].notna().all().all())
    if protocol == "predefined" and has_dims:
        tasks.append("regression")
    elif protocol == "predefined":
        log.warning("predefined protocol on %s: no complete arousal/valence columns, dimensional part skipped",
                    corpus.name)
    y = corpus.y
    rows, dims, searches, lengths = [], [], [], []
    y_all, p_all = [], []
    steps = [(f, t) for f in folds for t in tasks]
    jobs = [(_protocol_job, (cfg, kind, fold, task, pre if kind == "began_finetune" else None))
            for fold, task in steps]
    keys = [f"fold={fold.name}/task={task}" for fold, task in steps]
    done = run_jobs(cfg, jobs, desc=protocol, progress=progress, keys=keys, context=inp,
                    namespace=f"pereira2018.run.{protocol}",
                    data=(corpus.fingerprint(), folds, kind, tasks, pre.path, pre.fingerprint))
    for (fold, task), (hp, trials, outs) in zip(steps, done):
        if len(trials):
            searches.append(trials.assign(protocol=protocol, fold=fold.name, task=task,
                                          chosen=[t == trials["score"].idxmax() for t in trials.index]))
        for seed, ids, pooled, length in outs:
            tag = dict(protocol=protocol, method=method, fold=fold.name, seed=seed, head=str(hp))
            lengths.append({"protocol": protocol, "method": method, "fold": fold.name, "task": task, "seed": seed,
                            **length})
            if task == "classification":
                rows.append(_class_row(y[ids], pooled, **tag))
                y_all.append(y[ids])
                p_all.append(pooled.argmax(1))
            else:
                dims.append(_dim_row(_targets(corpus, "regression")[ids], pooled, **tag))
    cms = {method: confusion(np.concatenate(y_all), np.concatenate(p_all), corpus.labels)}
    scores = pd.DataFrame(rows)
    dim = pd.DataFrame(dims)
    if cfg.yardstick:
        for adaptive in (False, True):
            ys, cm = svm_yardstick(corpus, folds, feature_set="is10", speaker_adaptive=adaptive, progress=progress)
            ys = ys.assign(protocol=protocol, seed=np.nan)
            scores = pd.concat([scores, ys], ignore_index=True)
            cms[str(ys["method"].iloc[0])] = cm
            if "regression" in tasks:
                dv = svr_yardstick(corpus, folds, speaker_adaptive=adaptive, progress=progress)
                dim = pd.concat([dim, dv.assign(protocol=protocol, seed=np.nan)], ignore_index=True)
    return Results(protocol, corpus, folds, scores, dim, cms,
                   pd.concat(searches, ignore_index=True) if searches else pd.DataFrame(), time.time() - t0,
                   pd.DataFrame(lengths))


# ---------------------------------------------------------------------------------------------
# Beyond the paper: does the pretraining help? A learning curve
# ---------------------------------------------------------------------------------------------
def stratified_fraction(rows: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A class-stratified ``fraction`` of ``rows`` (at least one per class); nested across fractions.

    Each class's rows are permuted once with ``seed`` and the first ``ceil(fraction * n_c)``
    are kept, so the 10 % subset is inside the 25 % subset, and so on.
    """
    rows = np.asarray(rows)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y[rows]):
        rc = rows[y[rows] == c]
        rc = rc[rng.permutation(len(rc))]
        keep.append(rc[: max(1, int(np.ceil(fraction * len(rc))))])
    return np.sort(np.concatenate(keep))


def learning_curve(cfg: Config, corpus: Corpus, pre: Pretrained, *, progress: bool = True) -> pd.DataFrame:
    """Test scores as the labelled training data shrink, for the methods in ``curve_methods``.

    Protocol: the corpus's predefined split when it has one, else the first leave-one-speaker-
    out fold. For each seed and label fraction the training utterances are subsampled
    (stratified, nested); each method then trains on that subset and is tested on the full
    test part. The frozen heads search their hyper-parameters on the subset as in the
    protocols (and, with ``head_patience``, their training length), on its held-out part (whole
    speakers when the fold is speaker-independent); the end-to-end network reuses the configuration and the length chosen for the
    pretrained frozen head at the same seed and fraction (a search of its own would multiply the
    most expensive training), or trains ``curve_epochs`` when that is set.

    Returns one row per (method, fraction, seed) with uar, accuracy, macro_f1 and n_train.
    """
    fold = study_fold(corpus)
    kinds = ["began"] + (["random"] if "random_frozen" in cfg.curve_methods else [])
    inp = prepare_inputs(cfg, corpus, pre, kinds=kinds, progress=progress)
    y = corpus.y
    rows = []
    steps = [(s, f) for s in cfg.run_seeds for f in cfg.label_fractions]
    subs = {(seed, frac): stratified_fraction(fold.train, y, frac, seed) for seed, frac in steps}
    neural = [m for m in cfg.curve_methods if m in ("began_frozen", "random_frozen", "end_to_end")]
    jobs = [(_curve_job, (cfg, neural, subs[(seed, frac)], fold.test, seed)) for seed, frac in steps]
    keys = [f"seed={seed}/fraction={frac!r}" for seed, frac in steps]
    results = (run_jobs(cfg, jobs, desc="learning curve", progress=progress, keys=keys, context=inp,
                        namespace="pereira2018.learning_curve",
                        data=(corpus.fingerprint(), fold, neural, pre.path, pre.fingerprint))
               if neural else [[] for _ in steps])
    for (seed, frac), outs in zip(steps, results):
        sub = subs[(seed, frac)]
        tag = dict(fraction=frac, seed=seed, n_train=len(sub), fold=fold.name)
        for m, ids, pooled in outs:
            rows.append(_class_row(y[ids], pooled, method=METHOD_NAMES[m], **tag))
        sub_fold = Fold(f"{fold.name}@{frac}", sub, fold.test)
        for m in (m for m in cfg.curve_methods if m in ("egemaps_svm", "is10_svm")):
            fs = "egemaps" if m == "egemaps_svm" else "is10"
            try:
                check_fold(sub_fold, y, corpus.labels)
            except FoldError as exc:
                log.warning("learning curve: %s skipped at fraction %s: %s", m, frac, exc)
                continue
            sc, _ = svm_yardstick(corpus, [sub_fold], feature_set=fs, progress=progress)
            rows.append({**sc.iloc[0].to_dict(), **tag, "method": METHOD_NAMES[m]})
    order = {METHOD_NAMES[m]: i for i, m in enumerate(cfg.curve_methods)}
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values(["seed", "fraction"], kind="stable")
        out = out.iloc[np.lexsort((out["method"].map(order).to_numpy(),))].reset_index(drop=True)
    return out


def _curve_job(inp: Inputs, cfg: Config, methods: Sequence[str], sub: np.ndarray, test: np.ndarray,
               seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One (seed, label fraction) point of the learning curve for the neural methods."""
    outs = []
    hp_began, length_began = None, None
    for m in methods:
        if m in ("began_frozen", "random_frozen"):
            hp, length, _ = search_head(cfg, inp, m, sub, "classification", seed,
                                        by_speaker=speaker_independent(inp.corpus, sub, test))
            if m == "began_frozen":
                hp_began, length_began = hp, length
            ids, pooled = fit_predict(cfg, inp, m, sub, test, "classification", hp, seed, epochs=length)
        else:
            hp = hp_began or dict(HEAD_GRID[0])
            ids, pooled = fit_predict(cfg, inp, m, sub, test, "classification", hp, seed,
                                      epochs=cfg.curve_epochs or length_began or cfg.head_max_epochs)
        outs.append((m, ids, pooled))
    return outs
