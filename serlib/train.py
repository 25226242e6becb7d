"""Training-loop pieces shared by every model: device moves, mini-batches, a loss history,
progress bars and atomic checkpoints. Each chapter's loop stays short and readable."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .cache import atomic_write_bytes
from .config import get_device

__all__ = ["History", "batches", "fit_classifier", "load_checkpoint", "predict", "progress", "save_checkpoint"]


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


def fit_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float = 1e-3,
                   batch_size: int = 64, weight_decay: float = 0.0, class_weight: bool = True,
                   device: str | torch.device = "auto", seed: int = 0, show: bool = False) -> History:
    """Train ``model`` (logits out) with Adam and cross-entropy on in-memory arrays.

    ``class_weight`` weights the loss by inverse class frequency, so that the classifier aims at
    UAR rather than accuracy on imbalanced data.
    """
    dev = get_device(device) if isinstance(device, str) else device
    model.to(dev).train()
    # a copy: arrays shared read-only with worker processes (joblib memory maps) cannot back a tensor
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    n_classes = int(yt.max().item()) + 1
    w = None
    if class_weight:
        counts = torch.bincount(yt, minlength=n_classes).float()
        w = (counts.sum() / torch.clamp(counts, min=1) / n_classes).to(dev)
    loss_fn = nn.CrossEntropyLoss(weight=w)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    hist = History()
    for epoch in progress(range(epochs), "classifier", enabled=show):
        total = 0.0
        for idx in batches(len(xt), batch_size, rng):
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        hist.log(epoch=epoch, loss=total / len(xt))
    model.eval()
    return hist


@torch.no_grad()
def apply_in_batches(model: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, *,
                     batch_size: int, empty: np.ndarray) -> np.ndarray:
    """``fn`` (a forward pass of ``model`` or of one of its parts) over the rows of ``x``.

    ``model`` is put in eval mode; each mini-batch is copied to ``model``'s device as float32
    (a copy, so read-only arrays shared with worker processes are fine) and the outputs come back
    as one NumPy array. ``empty`` is returned when ``x`` has no rows.
    """
    model.eval()
    dev = next(model.parameters()).device
    out = [fn(torch.tensor(np.asarray(x[i : i + batch_size]), dtype=torch.float32, device=dev)).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else empty


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class predictions (argmax of logits) for in-memory features."""
    return apply_in_batches(model, lambda b: model(b).argmax(1), x, batch_size=batch_size,
                            empty=np.zeros(0, dtype=int))


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Save tensors/modules' state dicts and plain values atomically with torch.save."""
    buf = io.BytesIO()
    torch.save({k: (v.state_dict() if isinstance(v, nn.Module) else v) for k, v in state.items()}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load a checkpoint, or ``None`` if it is absent or unreadable (it is then rebuilt by the caller)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception:
        path.unlink(missing_ok=True)
        return None
