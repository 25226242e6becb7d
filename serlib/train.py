"""The one training engine of the book, and the pieces around it.

Every model trains through :func:`fit`: the model module writes only its *step* (one mini-batch:
forward, losses, backward, optimiser steps, visible to the reader), and the engine does the rest
the same way for every chapter:

* the epoch loop over shuffled mini-batches, with a progress bar;
* the per-epoch history, with the step's losses accumulated **on the device** and read once per
  epoch (no host-device synchronisation per step on a GPU);
* the choice of the training length on validation: after each epoch a ``validate`` callback
  scores the model, the best epoch's weights are kept (and restored at the end), and training
  stops early after ``patience`` epochs without an improvement larger than ``min_delta``
  (``max_epochs`` bounds it; ``patience=0``: no early stop, the best epoch still kept); a
  validation score that is NaN from the first epoch on (an empty validation part) is refused
  with an error rather than silently keeping epoch 1;
* checkpoints: with ``checkpoint=PATH`` the whole training state (weights, optimisers, random
  generators, history, best epoch, the step's own state) is saved atomically with a sha256
  sidecar after each epoch, and a re-run with the same path continues from the last finished
  epoch and ends bit for bit where an uninterrupted run ends (on a CPU). A corrupt or unreadable
  checkpoint is logged and the training redone; files are loaded with ``weights_only=True``;
* on CUDA, bf16 autocast and TF32 matmuls (:class:`Engine`, on by default on a GPU, off on a CPU).

Adversarial models plug in as step functions: alternating D/G updates, BEGAN's ``k_t``
controller or a gradient-reversal schedule live in the step and its ``state``.

Torch's own AMP (``torch.autocast``) gives the mixed precision; a training framework
(lightning-fabric, accelerate) would add a launcher and a second abstraction over models the book
wants readers to see plainly, for the two things the book needs from it (device placement and
autocast), so the engine stays here, in one file.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .cache import read_verified_bytes, remove_verified, write_verified_bytes
from .config import ParameterError, get_device, get_logger

__all__ = ["Engine", "FitOutcome", "History", "Stopping", "apply_in_batches", "batches", "fit", "train_classifier",
           "load_checkpoint", "predict", "progress", "save_checkpoint"]

log = get_logger("train")


def progress(iterable: Any, desc: str = "", total: int | None = None, enabled: bool = True) -> Any:
    """A tqdm progress bar that works in notebooks and terminals."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=False)


@dataclass
class History:
    """Per-step or per-epoch records (dicts) that become a tidy DataFrame."""

    records: list[dict[str, Any]] = field(default_factory=list)

    def log(self, **values: Any) -> None:
        self.records.append({k: (float(v) if torch.is_tensor(v) else v) for k, v in values.items()})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records)


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None, drop_last: bool = False) -> Iterator[np.ndarray]:
    """Index batches over ``n`` items, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        yield order[i : i + batch_size]



# ---------------------------------------------------------------------------------------------
# Device, mixed precision
# ---------------------------------------------------------------------------------------------
class Engine:
    """Where and how a training runs: the device, bf16 autocast and TF32 on CUDA.

    Parameters
    ----------
    device
        ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps`` or a :class:`torch.device`
        (see :func:`serlib.config.get_device`; asking for a GPU that is absent is an error).
    amp
        bf16 autocast of the forward passes; ``None`` (default): on for CUDA, off elsewhere. bf16
        keeps float32's exponent range, so no loss scaling is needed.
    tf32
        TF32 tensor-core matmuls and convolutions on CUDA; ``None`` (default): on for CUDA.
    """

    def __init__(self, device: str | torch.device = "auto", *, amp: bool | None = None,
                 tf32: bool | None = None) -> None:
        self.device = get_device(device) if isinstance(device, str) else torch.device(device)
        cuda = self.device.type == "cuda"
        self.amp = cuda if amp is None else bool(amp)
        if self.amp and not cuda:
            raise ParameterError(f"amp=True needs a CUDA device (this engine runs on {self.device}); use amp=None")
        self.tf32 = cuda if tf32 is None else bool(tf32)
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = self.tf32
            torch.backends.cudnn.allow_tf32 = self.tf32
            torch.backends.cudnn.benchmark = True

    def __repr__(self) -> str:
        return f"Engine(device={str(self.device)!r}, amp={self.amp}, tf32={self.tf32})"

    def autocast(self) -> AbstractContextManager[Any]:
        """The forward passes' context: bf16 autocast on CUDA when ``amp``, else nothing."""
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def tensor(self, x: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``x`` as a tensor on the engine's device (a copy, so read-only shared arrays are fine)."""
        return torch.tensor(np.asarray(x), dtype=dtype, device=self.device)


def as_engine(engine: Engine | str | torch.device | None) -> Engine:
    """An :class:`Engine` from an engine, a device name or ``None`` (``auto``)."""
    if isinstance(engine, Engine):
        return engine
    return Engine("auto" if engine is None else engine)


# ---------------------------------------------------------------------------------------------
# The epoch loop
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stopping:
    """How long to train: at most ``max_epochs``; with ``patience`` > 0, stop after that many
    epochs without a validation improvement larger than ``min_delta``.

    ``patience=0`` means no early stopping: all ``max_epochs`` epochs are trained, and the epoch
    kept is still the best one on validation when there is a validation score (the last one
    when there is none). Every chapter gives its patience parameter this meaning.
    """

    max_epochs: int
    patience: int = 0
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if int(self.max_epochs) < 1:
            raise ParameterError(f"max_epochs must be at least 1, got {self.max_epochs}")
        if int(self.patience) < 0:
            raise ParameterError(f"patience must be 0 (off) or a positive number of epochs, got {self.patience}")
        if not self.min_delta >= 0:
            raise ParameterError(f"min_delta must be >= 0, got {self.min_delta}")


@dataclass
class FitOutcome:
    """What :func:`fit` returns: the per-epoch history, the best epoch (1-based; the last one
    without validation), its score, the number of epochs trained and whether training stopped early."""

    history: pd.DataFrame
    best_epoch: int
    best_score: float
    epochs_trained: int
    stopped_early: bool
    state: dict[str, Any] = field(default_factory=dict)


Score = float | tuple[float, ...]


def _primary(score: Score) -> float:
    return float(score[0]) if isinstance(score, tuple) else float(score)


def fit(step: Callable[[np.ndarray], Mapping[str, torch.Tensor] | None], *, n: int, batch_size: int,
        stopping: Stopping | int, modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer] | None = None, rng: np.random.Generator | None = None,
        drop_last: bool = False, validate: Callable[[], Mapping[str, float]] | None = None,
        score: Callable[[Mapping[str, float]], Score] | None = None,
        epoch_end: Callable[[int], Mapping[str, Any]] | None = None, state: dict[str, Any] | None = None,
        checkpoint: str | Path | None = None, desc: str = "training", show: bool = False,
        average: str = "rows") -> FitOutcome:
    """Train for ``stopping.max_epochs`` epochs (or fewer, stopping early) by calling ``step``.

    Parameters
    ----------
    step
        One training step on the rows ``idx`` of the data: forward (under the engine's
        autocast), losses, backward, optimiser steps. It returns the batch's *mean* losses and
        metrics as tensors (kept on the device; weighted by ``len(idx)`` in the epoch mean) or
        ``None`` to skip the batch (e.g. one example for a batch-normalised net).
    n, batch_size, rng, drop_last
        The epoch's mini-batches: :func:`batches` over ``n`` rows, shuffled by ``rng``.
    stopping
        :class:`Stopping`, or an int: that many epochs, no early stopping.
    modules, optimizers
        The networks and optimisers the training changes, by name: put in train mode each epoch,
        snapshotted at the best epoch, saved in checkpoints.
    validate, score
        After each epoch, ``validate()`` returns validation metrics (merged into the history row)
        and ``score(metrics)`` a number or tuple to maximise (tuples break ties: e.g.
        ``(accuracy, -loss)``). Without ``validate`` the last epoch is kept and there is no early
        stopping.

        A score whose first number is NaN is never an improvement. At the first epoch it is an
        error (:class:`ValueError` naming the epoch and the metrics): no epoch could ever be
        chosen on it, and before it would silently have kept epoch 1. It comes from a validation
        part with no utterances (an accuracy or UAR over nothing) or a metric undefined on it;
        give a validation part with utterances, or train without ``validate``. A NaN after
        finite scores (a loss that diverged, say) is logged as a warning and counts as an epoch
        without improvement, so the best finite epoch is kept.
    epoch_end
        ``epoch_end(epoch)`` adds values to the epoch's history row (e.g. the current ``lambda``).
    state
        The step's own state (numbers or tensors, e.g. BEGAN's ``k``, a step counter), saved in
        checkpoints and restored on resume; the step reads and updates it in place.
    checkpoint
        A file: the training state is saved there after every epoch and a re-run resumes from it.
        It is kept after the run (the caller may remove it).
    desc, show
        The progress bar's label; whether to show it.
    average
        How the epoch's history row averages the step's values: ``rows`` (default) weights each
        batch by its number of rows (the epoch mean over examples); ``steps`` weights every
        step alike (the mean over the epoch's steps, as GAN papers plot their losses).

    Returns
    -------
    :class:`FitOutcome`; the modules are left in eval mode with the best epoch's weights.
    """
    if isinstance(stopping, int):
        stopping = Stopping(max_epochs=stopping)
    if n <= 0:
        raise ValueError(f"{desc}: no training examples")
    if average not in ("rows", "steps"):
        raise ParameterError(f"average={average!r} is not one of ['rows', 'steps']")
    optimizers = dict(optimizers or {})
    state = state if state is not None else {}
    score = score or (lambda m: float(next(iter(m.values()))))
    path = Path(checkpoint) if checkpoint is not None else None
    run = _TrainingState(step_state=state)
    if path is not None and run.restore(path, modules, optimizers, rng):
        log.info("%s: resumed from %s after epoch %d", desc, path, run.epoch)

    bar = progress(range(run.epoch, stopping.max_epochs), desc, total=stopping.max_epochs - run.epoch,
                   enabled=show)
    for epoch in bar:
        if run.stopped:
            break
        row: dict[str, Any] = {"epoch": epoch + 1,
                               **_train_epoch(step, n, batch_size, rng, drop_last, average, modules)}
        if epoch_end is not None:
            row.update(epoch_end(epoch + 1))
        for m in modules.values():
            m.eval()
        if validate is not None:
            metrics = dict(validate())
            row.update(metrics)
            run.judge(epoch + 1, score(metrics), metrics, stopping, modules, desc)
        run.history.append({k: (float(v) if torch.is_tensor(v) else v) for k, v in row.items()})
        run.epoch = epoch + 1
        if show and run.best is not None and hasattr(bar, "set_postfix"):
            bar.set_postfix(best_epoch=run.best_epoch, best=f"{_primary(run.best):.3f}")
        if path is not None:
            run.save(path, modules, optimizers, rng)
    return run.finish(modules, stopping)


def _train_epoch(step: Callable[[np.ndarray], Mapping[str, torch.Tensor] | None], n: int, batch_size: int,
                 rng: np.random.Generator | None, drop_last: bool, average: str,
                 modules: Mapping[str, nn.Module]) -> dict[str, float]:
    """One pass of ``step`` over the epoch's mini-batches; the epoch's mean of each value it returns."""
    for m in modules.values():
        m.train()
    # On a GPU each step's values stay on the device, one small stacked tensor per step,
    # weighted, summed and read once at the end of the epoch (no synchronisation per step).
    # On a CPU reading a value costs nothing, so they are summed at once as Python floats,
    # which is cheaper than keeping tensors around for these small networks.
    logged: dict[tuple[str, ...], tuple[list[torch.Tensor], list[int]]] = {}
    totals: dict[str, float] = {}
    seen = 0
    for idx in batches(n, batch_size, rng, drop_last=drop_last):
        out = step(idx)
        if out is None:
            continue
        w = len(idx) if average == "rows" else 1
        if next(iter(out.values())).device.type == "cpu":
            for k, v in out.items():
                totals[k] = totals.get(k, 0.0) + v.item() * w
        else:
            vals, weights = logged.setdefault(tuple(out), ([], []))
            vals.append(torch.stack(list(out.values())).detach().float().reshape(len(out)))
            weights.append(w)
        seen += w
    for names, (vals, weights) in logged.items():
        stacked = torch.stack(vals)
        wt = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device)
        for k, v in zip(names, (stacked * wt[:, None]).sum(0).tolist(), strict=True):  # one read per epoch
            totals[k] = totals.get(k, 0.0) + v
    return {k: v / max(seen, 1) for k, v in totals.items()}


@dataclass
class _TrainingState:
    """Where a :func:`fit` run stands after its last finished epoch: everything a checkpoint holds
    besides the networks, the optimisers and the random generators (its fields are the checkpoint's
    keys, listed once here)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best: Score | None = None
    best_epoch: int = 0
    best_snapshot: dict[str, Any] | None = None
    wait: int = 0
    epoch: int = 0
    stopped: bool = False
    step_state: dict[str, Any] = field(default_factory=dict)

    def judge(self, epoch: int, s: Score, metrics: Mapping[str, float], stopping: Stopping,
              modules: Mapping[str, nn.Module], desc: str) -> None:
        """Keep ``epoch`` if its validation score ``s`` improves on the best so far; count the
        epochs without improvement and stop after ``stopping.patience`` of them."""
        if np.isnan(_primary(s)):
            if self.best is None:
                raise ValueError(
                    f"{desc}: the validation score is NaN at epoch {epoch} (validation metrics: {dict(metrics)}), "
                    "so no epoch can be chosen on it; the validation part is most likely empty (no utterances) "
                    "or its metric is undefined there. Give a validation part with utterances, or train "
                    "without validation (the last epoch is then kept)")
            log.warning("%s: the validation score is NaN at epoch %d (%s); it counts as no improvement and "
                        "the best earlier epoch (%d) stays chosen", desc, epoch, dict(metrics), self.best_epoch)
            improved = False
        elif self.best is None:
            improved = True
        elif stopping.min_delta > 0:
            improved = _primary(s) > _primary(self.best) + stopping.min_delta
        else:
            improved = s > self.best
        if improved:
            self.best, self.best_epoch, self.wait = s, epoch, 0
            self.best_snapshot = {name: copy.deepcopy(m.state_dict()) for name, m in modules.items()}
        else:
            self.wait += 1
        if stopping.patience and self.wait >= stopping.patience:
            self.stopped = True

    def save(self, path: Path, modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
             rng: np.random.Generator | None) -> None:
        """The checkpoint after an epoch: this state, the networks, optimisers and random generators."""
        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        mine["best"] = list(self.best) if isinstance(self.best, tuple) else self.best
        mine["state"] = mine.pop("step_state")
        save_checkpoint(path, modules={k: m.state_dict() for k, m in modules.items()},
                        optimizers={k: o.state_dict() for k, o in optimizers.items()},
                        numpy_rng=rng.bit_generator.state if rng is not None else None,
                        torch_rng=torch.get_rng_state(),
                        cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None, **mine)

    def restore(self, path: Path, modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                rng: np.random.Generator | None) -> bool:
        """Load the checkpoint at ``path`` into this state, the networks, optimisers and random
        generators; ``False`` when there is none to resume from."""
        ck = load_checkpoint(path)
        if ck is None:
            return False
        for name, m in modules.items():
            m.load_state_dict(ck["modules"][name])
        for name, o in optimizers.items():
            o.load_state_dict(ck["optimizers"][name])
        if rng is not None:
            rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        if torch.cuda.is_available() and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(ck["cuda_rng"])
        for f in dataclasses.fields(self):
            if f.name != "step_state":
                setattr(self, f.name, ck[f.name])
        self.history = list(self.history)
        self.best = tuple(self.best) if isinstance(self.best, list) else self.best
        self.step_state.update(ck["state"])
        return True

    def finish(self, modules: Mapping[str, nn.Module], stopping: Stopping) -> FitOutcome:
        """Put the best epoch's weights back (the last epoch's when nothing was validated)."""
        epochs_trained = len(self.history)
        best_epoch = self.best_epoch
        if self.best_snapshot is not None:
            for name, m in modules.items():
                m.load_state_dict(self.best_snapshot[name])
        else:
            best_epoch = epochs_trained
        for m in modules.values():
            m.eval()
        hist = History()
        hist.records = self.history
        return FitOutcome(hist.frame(), best_epoch, _primary(self.best) if self.best is not None else float("nan"),
                          epochs_trained, self.stopped and epochs_trained < stopping.max_epochs, self.step_state)


def train_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float = 1e-3,
                   batch_size: int = 64, weight_decay: float = 0.0, class_weight: bool = True,
                   device: str | torch.device | Engine = "auto", seed: int = 0, show: bool = False) -> History:
    """Train ``model`` (logits out) with Adam and cross-entropy on in-memory arrays, for ``epochs``.

    ``class_weight`` weights the loss by inverse class frequency, so that the classifier aims at
    UAR rather than accuracy on imbalanced data.
    """
    eng = as_engine(device)
    model.to(eng.device).train()
    xt = eng.tensor(x)
    yt = eng.tensor(y, torch.long)
    n_classes = int(yt.max().item()) + 1
    w = None
    if class_weight:
        counts = torch.bincount(yt, minlength=n_classes).float()
        w = counts.sum() / torch.clamp(counts, min=1) / n_classes
    loss_fn = nn.CrossEntropyLoss(weight=w)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def step(idx: np.ndarray) -> dict[str, torch.Tensor]:
        opt.zero_grad()
        with eng.autocast():
            loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        return {"loss": loss}

    out = fit(step, n=len(xt), batch_size=batch_size, stopping=epochs, modules={"model": model},
              optimizers={"opt": opt}, rng=np.random.default_rng(seed), desc="classifier", show=show)
    hist = History()
    for rec in out.history.to_dict("records"):
        hist.log(epoch=int(rec["epoch"]) - 1, loss=rec["loss"])
    return hist


@torch.no_grad()
def apply_in_batches(model: nn.Module, fn: Callable[..., torch.Tensor], x: np.ndarray, *,
                     batch_size: int, empty: np.ndarray, aligned: np.ndarray | None = None) -> np.ndarray:
    """``fn`` (a forward pass of ``model`` or of one of its parts) over the rows of ``x``.

    ``model`` is put in eval mode; each mini-batch is copied to ``model``'s device as float32
    (a copy, so read-only arrays shared with worker processes are fine) and the outputs come back
    as one NumPy array. ``empty`` is returned when ``x`` has no rows. With ``aligned`` (an array
    with one entry per row of ``x``, e.g. each utterance's length in frames), ``fn`` is called as
    ``fn(batch, aligned_batch)``, the matching slice of ``aligned`` as a CPU tensor.
    """
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        batch = torch.tensor(np.asarray(x[i : i + batch_size]), dtype=torch.float32, device=dev)
        if aligned is None:
            out.append(fn(batch).cpu())
        else:
            out.append(fn(batch, torch.as_tensor(np.asarray(aligned[i : i + batch_size]))).cpu())
    return torch.cat(out).numpy() if out else empty


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class predictions (argmax of logits) for in-memory features."""
    return apply_in_batches(model, lambda b: model(b).argmax(1), x, batch_size=batch_size,
                            empty=np.zeros(0, dtype=int))


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Save modules' state dicts, tensors and plain values atomically, with a sha256 sidecar.

    Everything must be loadable with ``torch.load(weights_only=True)``: tensors, numbers,
    strings, ``None`` and lists/tuples/dicts of them (a module is saved as its state dict).
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save({k: (v.state_dict() if isinstance(v, nn.Module) else v) for k, v in state.items()}, buf)
    write_verified_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load a checkpoint written by :func:`save_checkpoint`, or ``None`` when there is none.

    A file whose checksum does not match, without its checksum, or that ``torch.load`` cannot
    read with ``weights_only=True`` is logged (naming the file and why), removed and ``None``
    returned: the caller then redoes the work it held.
    """
    path = Path(path)
    data, why = read_verified_bytes(path)
    if data is not None:
        try:
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is redone, and said so
            why = f"cannot be read ({type(exc).__name__}: {exc})"
    if why is None:
        return None
    log.warning("checkpoint %s %s; it is not used and will be redone", path, why)
    remove_verified(path)
    return None
