"""Speaker-invariant emotion recognition (SIER) with adversarial learning (Leow et al.).

The network has three parts (Leow et al., Fig. 1):

* an **encoder** that maps a feature matrix (features x frames) to one utterance vector: the
  paper's 2D CNN + biGRU (:class:`CNNBiGRUEncoder`), or one of the two encoders it compares
  with, a 1D TDNN + biLSTM (:class:`TDNNBiLSTMEncoder`, after Tu et al. 2019) and a 1D CNN +
  GRU (:class:`CNN1DGRUEncoder`, after Li et al. 2020); every encoder ends in statistics
  pooling (mean and standard deviation over time, :func:`stats_pool`);
* an **emotion classifier** and a **speaker classifier**, each two fully connected layers with
  batch normalisation, dropout and ReLU, then a softmax layer (:class:`ClassifierHead`);
* **adversarial learning**: the speaker classifier sits behind a gradient-reversal layer
  (:class:`GradientReversal`), the identity going forward and ``-lambda`` times the gradient
  going back, so that training minimises

  .. math:: J = J_e - \\lambda J_s, \\qquad \\lambda = \\frac{2}{1 + e^{-\\gamma p}} - 1

  for the encoder (``p`` the fraction of training done, :func:`lambda_schedule`) while the
  speaker classifier itself minimises ``J_s``. Without adversarial learning the speaker branch
  is absent (``n_speakers=None``).

:func:`train_sier` trains a :class:`SIERNet` with :func:`serlib.train.fit`: the step (with the
``lambda`` schedule) is here, the epoch loop, the choice of the epoch with the best validation
accuracy and early stopping are the engine's.

References
----------
B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn, J. C. Rajapakse. Speaker-invariant emotion
recognition with adversarial learning. (Emo-DB and RAVDESS, leave-two-speakers-out.)

Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette, M. Marchand,
V. Lempitsky. Domain-adversarial training of neural networks. JMLR 17(1), 2016.

M. Tu, Y. Tang, J. Huang, X. He, B. Zhou. Towards adversarial learning of speaker-invariant
representation for speech emotion recognition. arXiv:1903.09606, 2019.

H. Li, M. Tu, J. Huang, S. Narayanan, P. Georgiou. Speaker-invariant affective representation
learning via adversarial training. ICASSP 2020, pp. 7144-7148.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..train import Engine, Stopping, apply_in_batches, as_engine, fit

__all__ = [
    "ENCODERS",
    "CNN1DGRUEncoder",
    "CNNBiGRUEncoder",
    "ClassifierHead",
    "Conv2dBlock",
    "FitResult",
    "GradientReversal",
    "PassGradient",
    "SIERNet",
    "TDNNBiLSTMEncoder",
    "build_encoder",
    "embed",
    "train_sier",
    "grad_reverse",
    "lambda_schedule",
    "predict_emotions",
    "sier_step",
    "stats_pool",
]

ENCODERS: tuple[str, ...] = ("cnn_bigru", "tdnn_bilstm", "cnn1d_gru")
"""Encoder names: the paper's 2D CNN + biGRU and the two encoders of its Table 2."""


# ---------------------------------------------------------------------------------------------
# Gradient reversal and its schedule
# ---------------------------------------------------------------------------------------------
class _ReverseGrad(torch.autograd.Function):
    """Identity forward; gradient times ``-lambda`` backward (Ganin et al. 2016)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = float(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Return ``x`` unchanged; in the backward pass its gradient is multiplied by ``-lam``."""
    return _ReverseGrad.apply(x, lam)  # type: ignore[no-untyped-call]


class GradientReversal(nn.Module):
    """The gradient-reversal layer as a module; set :attr:`lam` before each step.

    Parameters
    ----------
    lam
        The scalar ``lambda`` >= 0 that multiplies the reversed gradient.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Sec. 3.3; Ganin et al., JMLR 2016.
    """

    def __init__(self, lam: float = 1.0) -> None:
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam:.4g}"


class PassGradient(nn.Module):
    """The identity both ways: a stand-in for :class:`GradientReversal` that keeps the speaker
    branch but lets its gradient reach the encoder unreversed (multi-task learning, the encoder
    minimising ``J_e + J_s``). Its :attr:`lam`, set by :class:`SIERNet` at every step, is ignored.
    """

    def __init__(self, lam: float = 0.0) -> None:
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def lambda_schedule(p: float | np.ndarray, gamma: float) -> float | np.ndarray:
    """The adversarial weight ``lambda = 2 / (1 + exp(-gamma p)) - 1`` (Leow et al., Eq. 10).

    Parameters
    ----------
    p
        Fraction of training done, in [0, 1] (scalar or array).
    gamma
        The positive annealing parameter (the paper tries 1.25, 2.5 and 3.33).

    Returns
    -------
    lambda: 0 at ``p = 0``, rising towards (never reaching) 1; a float for a scalar ``p``.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Eq. 10 (after Ganin et al. 2016).
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    val = 2.0 / (1.0 + np.exp(-gamma * np.asarray(p, dtype=float))) - 1.0
    return float(val) if np.ndim(val) == 0 else val


# ---------------------------------------------------------------------------------------------
# Pooling and blocks
# ---------------------------------------------------------------------------------------------
def stats_pool(h: torch.Tensor, eps: float = 1e-5, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Statistics pooling: mean and standard deviation over time, concatenated (Eq. 5).

    Parameters
    ----------
    h
        A sequence ``(batch, time, features)``.
    eps
        Added to the variance before the square root (keeps the gradient finite when a
        sequence has a single step, whose standard deviation is 0).
    lengths
        Steps of each sequence that carry speech; the statistics are taken over those only.
        ``None`` (the paper) pools over every step, padding included.

    Returns
    -------
    ``(batch, 2 * features)``: ``[mean, std]``.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Eq. 5.
    """
    if h.dim() != 3:
        raise ValueError(f"stats_pool expects (batch, time, features), got shape {tuple(h.shape)}")
    if lengths is None:
        mean = h.mean(dim=1)
        std = torch.sqrt(h.var(dim=1, unbiased=False) + eps)
        return torch.cat([mean, std], dim=1)
    mask = (torch.arange(h.shape[1], device=h.device)[None, :] < lengths.to(h.device)[:, None]).to(h.dtype)
    n = mask.sum(dim=1, keepdim=True).clamp_min(1.0)
    mask = mask.unsqueeze(2)
    mean = (h * mask).sum(dim=1) / n
    var = (((h - mean.unsqueeze(1)) ** 2) * mask).sum(dim=1) / n
    return torch.cat([mean, torch.sqrt(var + eps)], dim=1)


def _last(v: Any) -> int:
    return int(v[-1] if isinstance(v, tuple) else v)


def _steps_after(modules: nn.Module, lengths: torch.Tensor) -> torch.Tensor:
    """Valid time steps after ``modules`` (convolutions and max pooling along the last axis) of
    inputs with ``lengths`` valid frames: each layer's output-size formula applied to the
    lengths instead of the padded size."""
    n = lengths.long()
    for m in modules.modules():  # a leaf module yields itself
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            k, st, pad, dil = m.kernel_size[-1], m.stride[-1], m.padding[-1], m.dilation[-1]  # type: ignore[index]
            n = torch.div(n + 2 * int(pad) - int(dil) * (int(k) - 1) - 1, int(st), rounding_mode="floor") + 1
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            k, st, pad = _last(m.kernel_size), _last(m.stride), _last(m.padding)
            num = n + 2 * pad - (k - 1) - 1
            if m.ceil_mode:  # rounds up, but drops a last window that would start in the padding
                out = -torch.div(-num, st, rounding_mode="floor") + 1
                n = out - ((out - 1) * st >= n + pad).long()
            else:
                n = torch.div(num, st, rounding_mode="floor") + 1
    return n.clamp_min(1)


def _masked_conv_stack(stack: nn.Module, h: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``stack`` (convolutions, pooling and element-wise layers along the last axis) over ``h``
    with each row's steps past ``lengths`` kept out: set to 0 before a convolution (what its own
    zero padding would read) and to the lowest value before a max pooling (never picked). The
    valid part of the output is then what the row cut to its length would give (up to the batch
    statistics of batch normalisation in training). Returns the output and its valid steps."""
    n = lengths.to(h.device).long()

    def keep(x: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        shape = [x.shape[0]] + [1] * (x.dim() - 2) + [x.shape[-1]]
        return (torch.arange(x.shape[-1], device=x.device)[None, :] < steps[:, None]).reshape(shape)

    for m in stack.modules():
        if list(m.children()):
            continue  # containers: their leaves come next, in the order they run
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            h = h * keep(h, n).to(h.dtype)
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            h = h.masked_fill(~keep(h, n), torch.finfo(h.dtype).min)
        h = m(h)
        n = _steps_after(m, n)
    return h, n


def _one_direction(rnn: nn.RNNBase, h: torch.Tensor, reverse: bool) -> torch.Tensor:
    """One direction of the one-layer ``rnn`` (GRU or LSTM), run forwards over ``h`` with that
    direction's weights, from a zero state."""
    suffix = "_reverse" if reverse else ""
    names = ["weight_ih_l0", "weight_hh_l0"] + (["bias_ih_l0", "bias_hh_l0"] if rnn.bias else [])
    params = [getattr(rnn, n + suffix) for n in names]
    h0 = h.new_zeros(1, h.shape[0], rnn.hidden_size)
    if isinstance(rnn, nn.GRU):
        return torch.ops.aten.gru.input(h, h0, params, rnn.bias, 1, 0.0, rnn.training, False, True)[0]
    if isinstance(rnn, nn.LSTM):
        return torch.ops.aten.lstm.input(h, [h0, h0.clone()], params, rnn.bias, 1, 0.0, rnn.training, False,
                                         True)[0]
    raise TypeError(f"masked recurrence supports nn.GRU and nn.LSTM, got {type(rnn).__name__}")


def _run_rnn(rnn: nn.RNNBase, h: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``rnn`` (one layer, batch first) over ``(batch, time, features)``; with ``lengths`` each
    sequence stops at its last valid step, so that the backward direction starts at speech, not
    at padding, and the padded steps' outputs are zero.

    The result is that of a packed sequence (``pack_padded_sequence``), computed without one:
    the forward direction reads the padded matrix (its valid steps never see the padding that
    follows them), and the backward direction reads each row reversed within its own length,
    its outputs put back in time order. On a CPU this is several times faster to train than the
    packed form, whose backward pass allocates a gradient the size of the whole sequence for
    every time step.
    """
    if lengths is None:
        return rnn(h)[0]
    if rnn.num_layers != 1 or not rnn.batch_first or getattr(rnn, "proj_size", 0):
        raise ValueError("masked recurrence expects a one-layer, batch-first rnn without projection")
    t = h.shape[1]
    n = lengths.to(h.device).long().clamp(1, t)
    steps = torch.arange(t, device=h.device)[None, :]
    valid = steps < n[:, None]
    out = _one_direction(rnn, h, reverse=False)
    if rnn.bidirectional:
        # index of step t in the row reversed within its length (padded steps stay where they are); the
        # map is its own inverse, so the same gather puts the backward outputs back in time order
        order = torch.where(valid, n[:, None] - 1 - steps, steps)
        back = _one_direction(rnn, h.gather(1, order[:, :, None].expand_as(h)), reverse=True)
        out = torch.cat([out, back.gather(1, order[:, :, None].expand_as(back))], dim=2)
    return out * valid[:, :, None].to(out.dtype)


class Conv2dBlock(nn.Module):
    """One 2D CNN block of the paper's encoder (Eqs. 1-3).

    2D convolution (stride 2) -> batch normalisation -> dropout -> ELU -> 2x2 max pooling
    (stride 2). The convolution is padded with ``kernel // 2`` and the pooling rounds up, so
    that four blocks still fit the 20 MFCC coefficients (the paper does not state its padding).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 5, dropout: float = 0.3, stride: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout(dropout)
        self.act = nn.ELU()
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.drop(self.bn(self.conv(x)))))


# ---------------------------------------------------------------------------------------------
# Encoders: (batch, n_features, n_frames) -> (batch, out_dim)
# ---------------------------------------------------------------------------------------------
class CNNBiGRUEncoder(nn.Module):
    """The paper's encoder: 1-4 :class:`Conv2dBlock` s, a biGRU layer, statistics pooling.

    The feature matrix is treated as a one-channel image (coefficients x frames). After the
    CNN the ``K`` feature maps of size ``n3 x T_c`` are reshaped into a sequence of ``T_c``
    vectors of ``K * n3`` values (Eq. 4), read by one bidirectional GRU layer whose outputs are
    pooled (Eq. 5).

    Parameters
    ----------
    n_features, n_frames
        Input size (20 MFCC coefficients x the padded number of frames).
    cnn_layers
        Number of 2D CNN blocks, 1-4 (the paper's Table 1).
    filters
        Feature maps per convolution (paper's grid: 128, 64).
    kernel
        Square convolution size (paper's grid: 5, 2).
    gru_units
        Hidden units per direction of the biGRU (paper's grid: 256, 128); the sequence output
        has ``2 * gru_units`` values and the pooled vector ``4 * gru_units``.
    dropout
        Dropout rate in the CNN blocks (not stated in the paper).

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Sec. 3.1, Eqs. 1-5; grid of Sec. 4.2.
    """

    def __init__(self, n_features: int, n_frames: int, *, cnn_layers: int = 1, filters: int = 64,
                 kernel: int = 5, gru_units: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        if not 1 <= cnn_layers <= 4:
            raise ValueError(f"cnn_layers must be 1-4 (the paper's range), got {cnn_layers}")
        blocks = [Conv2dBlock(1 if i == 0 else filters, filters, kernel, dropout) for i in range(cnn_layers)]
        self.cnn = nn.Sequential(*blocks)
        with torch.no_grad():
            probe = self.cnn.eval()(torch.zeros(1, 1, n_features, n_frames))
        self.cnn.train()
        _, k, n3, t_c = probe.shape
        self.seq_len = int(t_c)
        self.gru = nn.GRU(k * n3, gru_units, batch_first=True, bidirectional=True)
        self.out_dim = 4 * gru_units

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(batch, features, frames)``; with ``lengths`` (valid frames of each row) the
        biGRU and the pooling skip the padded steps (:func:`_run_rnn`, :func:`stats_pool`)."""
        if lengths is None:
            h, steps = self.cnn(x.unsqueeze(1)), None  # (B, K, n3, T_c)
        else:
            h, steps = _masked_conv_stack(self.cnn, x.unsqueeze(1), lengths)
        b, k, n3, t = h.shape
        h = h.permute(0, 3, 1, 2).reshape(b, t, k * n3)  # (B, T_c, K * n3)
        return stats_pool(_run_rnn(self.gru, h, steps), lengths=steps)


class TDNNBiLSTMEncoder(nn.Module):
    """A 1D TDNN + biLSTM encoder with statistics pooling (the first encoder of Table 2).

    After Tu et al. (2019): time-delay layers over the frames (1D convolutions with the
    x-vector contexts [t-2, t+2], {t-2, t, t+2}, {t-3, t, t+3}, each followed by ReLU and
    batch normalisation), one bidirectional LSTM layer and statistics pooling. Leow et al. do
    not give the comparison encoders' sizes; ``units`` and ``lstm_units`` follow the grid of
    the 2D CNN biGRU encoder (filters, GRU units).

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Table 2.
    M. Tu et al., arXiv:1903.09606, 2019.
    """

    CONTEXTS: tuple[tuple[int, int], ...] = ((5, 1), (3, 2), (3, 3))
    """(kernel, dilation) of each TDNN layer."""

    def __init__(self, n_features: int, n_frames: int, *, units: int = 64, lstm_units: int = 128,
                 dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = n_features
        for kernel, dil in self.CONTEXTS:
            layers += [nn.Conv1d(c, units, kernel, dilation=dil, padding=dil * (kernel // 2)), nn.ReLU(),
                       nn.BatchNorm1d(units), nn.Dropout(dropout)]
            c = units
        self.tdnn = nn.Sequential(*layers)
        self.seq_len = int(n_frames)
        self.lstm = nn.LSTM(units, lstm_units, batch_first=True, bidirectional=True)
        self.out_dim = 4 * lstm_units

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h, steps = (self.tdnn(x), None) if lengths is None else _masked_conv_stack(self.tdnn, x, lengths)
        h = h.transpose(1, 2)  # (B, T, units)
        return stats_pool(_run_rnn(self.lstm, h, steps), lengths=steps)


class CNN1DGRUEncoder(nn.Module):
    """A 1D CNN + GRU encoder with statistics pooling (the second encoder of Table 2).

    After Li et al. (2020), on log mel filterbanks + energy + pitch: two 1D convolution blocks
    over time (convolution -> batch normalisation -> ReLU -> max pooling by 2), one
    unidirectional GRU layer and statistics pooling. Sizes follow the 2D CNN biGRU grid
    (filters, kernel, GRU units); Leow et al. do not state them.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Table 2.
    H. Li et al., ICASSP 2020, pp. 7144-7148.
    """

    def __init__(self, n_features: int, n_frames: int, *, filters: int = 64, kernel: int = 5,
                 gru_units: int = 128, conv_layers: int = 2, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = n_features
        for _ in range(conv_layers):
            layers += [nn.Conv1d(c, filters, kernel, padding=kernel // 2), nn.BatchNorm1d(filters), nn.ReLU(),
                       nn.Dropout(dropout), nn.MaxPool1d(2, ceil_mode=True)]
            c = filters
        self.cnn = nn.Sequential(*layers)
        with torch.no_grad():
            self.seq_len = int(self.cnn.eval()(torch.zeros(1, n_features, n_frames)).shape[-1])
        self.cnn.train()
        self.gru = nn.GRU(filters, gru_units, batch_first=True)
        self.out_dim = 2 * gru_units

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h, steps = (self.cnn(x), None) if lengths is None else _masked_conv_stack(self.cnn, x, lengths)
        h = h.transpose(1, 2)  # (B, T', filters)
        return stats_pool(_run_rnn(self.gru, h, steps), lengths=steps)


def build_encoder(name: str, n_features: int, n_frames: int, *, cnn_layers: int = 1, filters: int = 64,
                  kernel: int = 5, gru_units: int = 128, dropout: float = 0.3) -> nn.Module:
    """An encoder by name (:data:`ENCODERS`) with the grid's hyper-parameters.

    ``cnn_layers`` and a 2D ``kernel`` apply to ``cnn_bigru``; ``filters`` is the channel count
    of every encoder's convolutions, ``gru_units`` its recurrent layer's size.
    """
    if name == "cnn_bigru":
        return CNNBiGRUEncoder(n_features, n_frames, cnn_layers=cnn_layers, filters=filters, kernel=kernel,
                               gru_units=gru_units, dropout=dropout)
    if name == "tdnn_bilstm":
        return TDNNBiLSTMEncoder(n_features, n_frames, units=filters, lstm_units=gru_units, dropout=dropout)
    if name == "cnn1d_gru":
        return CNN1DGRUEncoder(n_features, n_frames, filters=filters, kernel=kernel, gru_units=gru_units,
                               dropout=dropout)
    raise ValueError(f"unknown encoder {name!r}; known: {list(ENCODERS)}")


# ---------------------------------------------------------------------------------------------
# Classifiers and the whole network
# ---------------------------------------------------------------------------------------------
class ClassifierHead(nn.Module):
    """Emotion or speaker classifier (Eqs. 6-7).

    Two fully connected layers, each ``Linear -> BatchNorm -> Dropout -> ReLU``, then a linear
    output layer whose softmax is taken by the cross-entropy loss.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Eqs. 6-7.
    """

    def __init__(self, n_in: int, n_out: int, hidden: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = n_in
        for _ in range(2):
            layers += [nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.Dropout(dropout), nn.ReLU()]
            d = hidden
        layers.append(nn.Linear(d, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SIERNet(nn.Module):
    """Encoder + emotion classifier (+ speaker classifier behind gradient reversal).

    Parameters
    ----------
    encoder
        Any module mapping ``(batch, features, frames)`` to ``(batch, encoder.out_dim)``.
    n_emotions
        Number of emotion classes.
    n_speakers
        Number of training speakers; ``None`` builds the network "without AL" (no speaker
        branch).
    fc_units
        Hidden units of both classifiers (paper's grid: 128, 64).
    dropout
        Dropout rate of the classifiers.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Fig. 1.
    """

    def __init__(self, encoder: nn.Module, n_emotions: int, n_speakers: int | None = None, *,
                 fc_units: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        self.encoder = encoder
        d = int(encoder.out_dim)
        self.emotion = ClassifierHead(d, n_emotions, fc_units, dropout)
        self.grl = GradientReversal(0.0)
        self.speaker = ClassifierHead(d, n_speakers, fc_units, dropout) if n_speakers else None

    @property
    def adversarial(self) -> bool:
        return self.speaker is not None

    def forward(self, x: torch.Tensor, lam: float | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Emotion logits and (with AL) speaker logits; ``lam`` sets the reversal weight;
        ``lengths`` (valid frames of each row) masks the padding in the encoder."""
        h = self.encoder(x) if lengths is None else self.encoder(x, lengths)
        emo = self.emotion(h)
        if self.speaker is None:
            return emo, None
        if lam is not None:
            self.grl.lam = float(lam)
        return emo, self.speaker(self.grl(h))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
@dataclass
class FitResult:
    """What :func:`train_sier` returns: the model at its best epoch, the training record, the
    best epoch (1-based), its validation score (accuracy or UAR, as selected), the number of
    epochs trained and whether training stopped early."""

    model: SIERNet
    history: pd.DataFrame
    best_epoch: int
    best_val_score: float
    epochs_trained: int = 0
    stopped_early: bool = False


def _batched_logits(model: SIERNet, x: torch.Tensor, batch_size: int = 256,
                    lengths: torch.Tensor | None = None) -> torch.Tensor:
    out = []
    for i in range(0, len(x), batch_size):
        out.append(model(x[i : i + batch_size], lengths=None if lengths is None else lengths[i : i + batch_size])[0])
    return torch.cat(out) if out else torch.zeros(0)


def sier_step(model: SIERNet, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              s: torch.Tensor | None, *, lam: float, eng: Engine, lengths: torch.Tensor | None = None,
              ) -> dict[str, torch.Tensor]:
    """One optimiser step of :class:`SIERNet` on a mini-batch: ``J_e + J_s`` (Eqs. 8-10).

    ``y`` are the emotion labels, ``s`` the speaker labels (``None``: the emotion loss alone).
    The gradient-reversal layer, set to ``lam``, turns the encoder's share of ``J_s`` into
    ``-lam J_s``, so the same backward pass trains the speaker classifier to find the speaker
    and the encoder to hide it. Returns the batch's losses and accuracies (tensors).
    """
    opt.zero_grad()
    with eng.autocast():
        emo, spk = model(x, lam=lam, lengths=lengths)
        j_e = F.cross_entropy(emo.float(), y)
        out = {"J_e": j_e, "train_accuracy": (emo.argmax(1) == y).float().mean()}
        loss = j_e
        if s is not None and spk is not None:
            j_s = F.cross_entropy(spk.float(), s)
            loss = j_e + j_s  # the reversal layer makes this J_e - lam J_s for the encoder
            out.update(J_s=j_s, speaker_accuracy=(spk.argmax(1) == s).float().mean())
    loss.backward()
    opt.step()
    return out


def train_sier(model: SIERNet, x_train: np.ndarray, y_train: np.ndarray, s_train: np.ndarray | None,
             x_val: np.ndarray, y_val: np.ndarray, *, max_epochs: int, patience: int = 0, min_delta: float = 0.0,
             gamma: float | None = None, lr: float = 1e-3, batch_size: int = 32,
             device: torch.device | str | Engine = "cpu", seed: int = 0, select: str = "accuracy",
             lengths_train: np.ndarray | None = None, lengths_val: np.ndarray | None = None,
             lr_schedule: str = "constant") -> FitResult:
    """Train a :class:`SIERNet` with Adam; the validation pair chooses the epoch and stops training.

    Each step minimises ``J_e + J_s`` where the gradient-reversal layer turns the encoder's
    share of ``J_s`` into ``-lambda J_s`` (Eq. 10), ``lambda`` following
    :func:`lambda_schedule` with ``p`` = steps done / all steps, *all steps* being those of
    ``max_epochs`` epochs: a training that stops early ends before ``p`` reaches 1, at the
    ``lambda`` its last step had (the schedule does not depend on when the validation score
    stops improving, which is unknown in advance). Without a speaker branch (or ``gamma=None``)
    only ``J_e`` is minimised. The epoch loop, the choice of the best epoch and early stopping
    are :func:`serlib.train.fit`'s.

    Parameters
    ----------
    model
        The network (moved to ``device``).
    x_train, y_train, s_train
        Training features ``(n, features, frames)``, emotion codes, speaker codes
        (0..n_speakers-1; only the training speakers).
    x_val, y_val
        The validation speakers' utterances: used to choose the epoch, never to train.
    max_epochs, patience, min_delta
        At most ``max_epochs`` epochs; with ``patience`` > 0 training stops after that many
        epochs without a validation improvement larger than ``min_delta`` (``patience=0``: all
        ``max_epochs`` epochs, the best one kept). The paper states none of them.
    lr, batch_size
        Optimisation (Adam); the paper states neither.
    gamma
        The annealing parameter of ``lambda``; ``None`` trains without AL.
    device
        A device name or a :class:`serlib.train.Engine` (bf16 autocast and TF32 on CUDA).
    seed
        Seeds the shuffling (the caller seeds the initialisation).
    select
        ``"accuracy"`` (the paper's metric) or ``"uar"``: the validation score that picks the
        epoch; ties go to the lower validation loss.
    lengths_train, lengths_val
        Valid (not padded) frames of each row: given, the encoder skips the padded frames in
        its recurrent layer and pooling, and each training batch is cut after its longest
        utterance (the frames past it are padding in every row; batch normalisation's batch
        statistics then pool fewer padded frames); ``None`` (the paper) reads the padding as input.
    lr_schedule
        ``"constant"``: Adam at ``lr`` throughout; ``"cosine"``: the rate falls from ``lr`` to 0
        along half a cosine over the steps of ``max_epochs`` epochs (like ``lambda``'s ``p``).

    Returns
    -------
    :class:`FitResult` with the model in eval mode at its best epoch and one history row per
    epoch trained (``J_e``, ``J_s``, ``train_accuracy``, ``speaker_accuracy``, ``lambda``,
    ``val_loss``, ``val_accuracy``, ``val_uar``).

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Eqs. 8-10.
    """
    if select not in ("accuracy", "uar"):
        raise ValueError(f"select must be 'accuracy' or 'uar', got {select!r}")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    stopping = Stopping(max_epochs=max_epochs, patience=patience, min_delta=min_delta)
    eng = as_engine(device)
    model.to(eng.device)
    adversarial = model.adversarial and gamma is not None
    if adversarial and s_train is None:
        raise ValueError("adversarial training needs speaker labels s_train")
    xt, yt = eng.tensor(x_train), eng.tensor(y_train, torch.long)
    st = eng.tensor(s_train, torch.long) if adversarial else None
    xv, yv = eng.tensor(x_val), eng.tensor(y_val, torch.long)
    if (lengths_train is None) != (lengths_val is None):
        raise ValueError("give the valid frames of both the training and the validation rows, or of neither")
    lt = None if lengths_train is None else torch.as_tensor(np.asarray(lengths_train), dtype=torch.long)
    lv = None if lengths_val is None else torch.as_tensor(np.asarray(lengths_val), dtype=torch.long)
    ce = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(xt)
    total = stopping.max_epochs * max(1, math.ceil(n / batch_size))
    state: dict[str, Any] = {"step": 0, "lambda": 0.0}
    classes_val = np.unique(y_val)

    def step(idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        state["step"] += 1
        if len(idx) < 2:  # batch normalisation needs two examples
            return None
        lam = lambda_schedule(state["step"] / total, gamma) if adversarial else 0.0
        state["lambda"] = lam
        if lr_schedule == "cosine":  # the rate of this step, from the steps done (so a resumed run agrees)
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (state["step"] - 1) / total)))
        x_b, n_b = xt[idx], None
        if lt is not None:  # masked: the batch is cut after its longest utterance, whose frames are all it reads
            n_b = lt[idx]
            x_b = x_b[..., : int(n_b.max())]
        return sier_step(model, opt, x_b, yt[idx], st[idx] if st is not None else None, lam=lam, eng=eng,
                         lengths=n_b)

    def epoch_end(epoch: int) -> dict[str, float]:
        extra = {} if adversarial else {"J_s": float("nan"), "speaker_accuracy": float("nan")}
        return {**extra, "lambda": float(state["lambda"])}

    @torch.no_grad()
    def validate() -> dict[str, float]:
        if not len(y_val):
            return {"val_loss": float("nan"), "val_accuracy": float("nan"), "val_uar": float("nan")}
        with eng.autocast():
            logits = _batched_logits(model, xv, lengths=lv).float()
        val_loss = float(ce(logits, yv))
        pred = logits.argmax(1).cpu().numpy()
        return {"val_loss": val_loss, "val_accuracy": float(np.mean(pred == y_val)),
                "val_uar": float(np.mean([np.mean(pred[y_val == c] == c) for c in classes_val]))}

    key = "val_accuracy" if select == "accuracy" else "val_uar"
    out = fit(step, n=n, batch_size=batch_size, stopping=stopping, modules={"model": model},
              optimizers={"opt": opt}, rng=np.random.default_rng(seed), validate=validate,
              score=lambda m: (m[key], -m["val_loss"]), epoch_end=epoch_end, state=state, desc="SIER")
    cols = ["epoch", "J_e", "J_s", "lambda", "train_accuracy", "speaker_accuracy", "val_loss", "val_accuracy",
            "val_uar"]
    hist = out.history[cols + [c for c in out.history.columns if c not in cols]]
    return FitResult(model, hist, out.best_epoch, out.best_score, out.epochs_trained, out.stopped_early)


@torch.no_grad()
def predict_emotions(model: SIERNet, x: np.ndarray, batch_size: int = 256,
                     lengths: np.ndarray | None = None) -> np.ndarray:
    """Emotion class predictions (argmax of the emotion logits); ``lengths`` as in :func:`train_sier`."""
    empty = np.zeros(0, dtype=np.int64)
    if lengths is None:
        return apply_in_batches(model, lambda b: model(b)[0].argmax(1), x, batch_size=batch_size, empty=empty)
    return apply_in_batches(model, lambda b, n: model(b, lengths=n)[0].argmax(1), x, batch_size=batch_size,
                            empty=empty, aligned=np.asarray(lengths, dtype=np.int64))


def embed(model: SIERNet, x: np.ndarray, batch_size: int = 256, lengths: np.ndarray | None = None) -> np.ndarray:
    """The encoder's pooled representation ``h5`` for every row of ``x`` (eval mode);
    ``lengths`` as in :func:`train_sier`."""
    empty = np.zeros((0, int(model.encoder.out_dim)))
    if lengths is None:
        return apply_in_batches(model, model.encoder, x, batch_size=batch_size, empty=empty)
    return apply_in_batches(model, model.encoder, x, batch_size=batch_size, empty=empty,
                            aligned=np.asarray(lengths, dtype=np.int64))
