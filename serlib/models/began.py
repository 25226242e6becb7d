"""BEGAN on spectrogram chunks, and the supervised module on its frozen encoder (Pereira et al. 2018).

Pereira et al. learn a speech representation without labels: a Boundary Equilibrium GAN
(BEGAN, Berthelot et al. 2017) is trained on unlabelled speech, cut into 1-s chunks and turned
into STFT spectrograms. BEGAN's discriminator is an **autoencoder**; its encoder becomes the
representation. A small supervised module (convolutional layers and a softmax, or a two-headed
regressor for arousal and valence) is then trained on the frozen encoder's output.

The BEGAN objective (Berthelot et al. 2017, Eq. 4), with ``L(v) = |v - D(v)|`` the pixel-wise
L1 reconstruction error of the discriminator-autoencoder ``D``::

    L_D     = L(x) - k_t * L(G(z))            (discriminator, minimised over theta_D)
    L_G     = L(G(z))                          (generator, minimised over theta_G)
    k_{t+1} = clip(k_t + lambda_k * (gamma * L(x) - L(G(z))), 0, 1)
    M_global = L(x) + |gamma * L(x) - L(G(z))|  (the convergence measure)

``gamma`` (the diversity ratio, 0.7 in Pereira et al.) sets the equilibrium
``E[L(G(z))] = gamma * E[L(x)]`` that the proportional controller ``k_t`` maintains;
``lambda_k`` is its gain (0.001 in Berthelot et al.; Pereira et al. do not say).

Architecture (Berthelot et al. 2017, Sec. 3.4 and Fig. 1; Pereira et al. give none of their
own): 3x3 convolutions with ELUs, ``convs_per_scale`` (2) of them per scale; the number of
filters grows linearly with each down-sampling (``n, 2n, 3n ...``); down-sampling is a stride-2
convolution, up-sampling nearest-neighbour; between encoder and decoder a fully connected
layer, without non-linearity, maps to and from the embedding ``h`` (``hidden`` units). The
generator has the decoder's architecture (its own weights) and takes ``z ~ U[-1, 1]^hidden``.
The input is one spectrogram chunk, shape ``(1, freq_bins, frames)``; both sides must be
divisible by ``2 ** n_scales``.

References
----------
I. Pereira, D. Santos, A. Maciel, P. Barros. Semi-supervised model for emotion recognition in
speech. ICANN 2018, LNCS 11139, pp. 791-800.

D. Berthelot, T. Schumm, L. Metz. BEGAN: Boundary equilibrium generative adversarial networks.
arXiv:1703.10717, 2017.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..train import Engine, FitOutcome, History, Stopping, as_engine, fit

__all__ = [
    "BEGAN",
    "BeganAutoencoder",
    "BeganDecoder",
    "BeganEncoder",
    "ConvHead",
    "SupervisedBEGAN",
    "aggregate_by_utterance",
    "began_step",
    "check_input_shape",
    "encode",
    "train_supervised",
    "l1_reconstruction",
    "m_global",
    "predict_outputs",
    "train_began",
    "update_k",
]


# ---------------------------------------------------------------------------------------------
# The BEGAN equations
# ---------------------------------------------------------------------------------------------
def l1_reconstruction(v: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """``L(v) = |v - D(v)|``: the pixel-wise L1 error, averaged over pixels and the batch.

    References
    ----------
    Berthelot et al. 2017, Eq. 1 with eta = 1 (the L1 norm).
    """
    return (v - reconstruction).abs().mean()


def update_k(k: float, gamma: float, lambda_k: float, loss_real: float, loss_fake: float) -> float:
    """The equilibrium controller: ``clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1)``.

    References
    ----------
    Berthelot et al. 2017, Eq. 4 (third line).
    """
    return float(min(1.0, max(0.0, k + lambda_k * (gamma * loss_real - loss_fake))))


def m_global(loss_real: float, loss_fake: float, gamma: float) -> float:
    """The convergence measure ``M_global = L(x) + |gamma L(x) - L(G(z))|``.

    References
    ----------
    Berthelot et al. 2017, Sec. 3.4.1.
    """
    return float(loss_real + abs(gamma * loss_real - loss_fake))


def check_input_shape(freq_bins: int, frames: int, n_scales: int) -> None:
    """Raise ``ValueError`` unless both sides of a chunk divide by ``2 ** n_scales``."""
    step = 2 ** n_scales
    if n_scales < 0 or freq_bins % step or frames % step or freq_bins < step or frames < step:
        raise ValueError(
            f"a spectrogram chunk of {freq_bins} bins x {frames} frames cannot be down-sampled {n_scales} "
            f"times by 2; choose freq_bins and chunk length so that both divide by {step}, or fewer scales"
        )


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)


class BeganEncoder(nn.Module):
    """The encoder half of BEGAN's discriminator (also the representation Pereira et al. reuse).

    ``conv(1 -> n)``; then for scale ``s = 0 .. n_scales``: ``convs_per_scale`` x
    [3x3 conv, ELU] with ``(s + 1) n`` filters, followed (except at the last scale) by a stride-2
    3x3 conv to ``(s + 2) n`` filters; then a linear map (no non-linearity) to ``hidden`` units.

    Parameters
    ----------
    input_shape
        ``(freq_bins, frames)`` of one chunk.
    filters
        ``n``, the filters at the first scale (Berthelot et al. use 64 or 128).
    hidden
        ``N_h``, the size of the embedding (Berthelot et al.: 64 or 128).
    n_scales
        Number of stride-2 down-samplings.
    convs_per_scale
        3x3 conv + ELU layers per scale (Berthelot et al.: "typically 2").

    References
    ----------
    Berthelot et al. 2017, Sec. 3.4, Fig. 1.
    """

    def __init__(self, input_shape: tuple[int, int] = (64, 32), *, filters: int = 64, hidden: int = 64,
                 n_scales: int = 3, convs_per_scale: int = 2, in_channels: int = 1) -> None:
        super().__init__()
        check_input_shape(input_shape[0], input_shape[1], n_scales)
        self.input_shape = (int(input_shape[0]), int(input_shape[1]))
        self.filters, self.hidden, self.n_scales = int(filters), int(hidden), int(n_scales)
        layers: list[nn.Module] = [_conv(in_channels, filters), nn.ELU()]
        for s in range(n_scales + 1):
            c = filters * (s + 1)
            for _ in range(convs_per_scale):
                layers += [_conv(c, c), nn.ELU()]
            if s < n_scales:
                layers += [_conv(c, filters * (s + 2), stride=2), nn.ELU()]
        self.convs = nn.Sequential(*layers)
        step = 2 ** n_scales
        self.map_shape = (filters * (n_scales + 1), self.input_shape[0] // step, self.input_shape[1] // step)
        self.fc = nn.Linear(int(np.prod(self.map_shape)), hidden)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map, ``(batch, (n_scales + 1) n, F / 2^S, T / 2^S)``."""
        return self.convs(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``h``, ``(batch, hidden)``."""
        return self.fc(self.features(x).flatten(1))


class BeganDecoder(nn.Module):
    """BEGAN's decoder (and, with its own weights, the generator).

    A linear map from ``hidden`` to an ``n x F/2^S x T/2^S`` tensor; then for each scale
    ``convs_per_scale`` x [3x3 conv with ``n`` filters, ELU], with nearest-neighbour up-sampling
    by 2 between scales; a final 3x3 conv to one channel, without activation.

    References
    ----------
    Berthelot et al. 2017, Sec. 3.4, Fig. 1.
    """

    def __init__(self, output_shape: tuple[int, int] = (64, 32), *, filters: int = 64, hidden: int = 64,
                 n_scales: int = 3, convs_per_scale: int = 2, out_channels: int = 1) -> None:
        super().__init__()
        check_input_shape(output_shape[0], output_shape[1], n_scales)
        self.output_shape = (int(output_shape[0]), int(output_shape[1]))
        self.filters, self.hidden, self.n_scales = int(filters), int(hidden), int(n_scales)
        step = 2 ** n_scales
        self.base = (filters, self.output_shape[0] // step, self.output_shape[1] // step)
        self.fc = nn.Linear(hidden, int(np.prod(self.base)))
        blocks: list[nn.Module] = []
        for _ in range(n_scales + 1):
            layers: list[nn.Module] = []
            for _ in range(convs_per_scale):
                layers += [_conv(filters, filters), nn.ELU()]
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.out = _conv(filters, out_channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.fc(h).view(-1, *self.base)
        for s, block in enumerate(self.blocks):
            x = block(x)
            if s < self.n_scales:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.out(x)


class BeganAutoencoder(nn.Module):
    """BEGAN's discriminator: an autoencoder ``D(v) = decoder(encoder(v))``; output shape = input shape."""

    def __init__(self, shape: tuple[int, int] = (64, 32), *, filters: int = 64, hidden: int = 64,
                 n_scales: int = 3, convs_per_scale: int = 2) -> None:
        super().__init__()
        kw = dict(filters=filters, hidden=hidden, n_scales=n_scales, convs_per_scale=convs_per_scale)
        self.encoder = BeganEncoder(shape, **kw)
        self.decoder = BeganDecoder(shape, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class BEGAN(nn.Module):
    """A BEGAN: the autoencoder discriminator ``D`` and a generator ``G`` with the decoder's layout.

    Parameters
    ----------
    shape
        ``(freq_bins, frames)`` of one spectrogram chunk.
    filters, hidden, n_scales, convs_per_scale
        See :class:`BeganEncoder`. The noise ``z`` has ``hidden`` dimensions (``N_z = N_h`` as
        in Berthelot et al.).

    References
    ----------
    Berthelot et al. 2017; Pereira et al. 2018, Sec. 2.1.
    """

    def __init__(self, shape: tuple[int, int] = (64, 32), *, filters: int = 64, hidden: int = 64,
                 n_scales: int = 3, convs_per_scale: int = 2) -> None:
        super().__init__()
        kw = dict(filters=filters, hidden=hidden, n_scales=n_scales, convs_per_scale=convs_per_scale)
        self.shape = (int(shape[0]), int(shape[1]))
        self.hidden = int(hidden)
        self.discriminator = BeganAutoencoder(shape, **kw)
        self.generator = BeganDecoder(shape, **kw)

    @property
    def encoder(self) -> BeganEncoder:
        return self.discriminator.encoder

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z ~ U[-1, 1]^hidden`` on the model's device."""
        dev = next(self.parameters()).device
        z = torch.rand(n, self.hidden, generator=generator) * 2 - 1
        return z.to(dev)

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated chunks, ``(n, 1, freq_bins, frames)``."""
        was = self.training
        self.eval()
        out = self.generator(self.sample_z(n, generator))
        self.train(was)
        return out

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``D(x)``, the discriminator-autoencoder's reconstruction."""
        was = self.training
        self.eval()
        out = self.discriminator(x)
        self.train(was)
        return out


# ---------------------------------------------------------------------------------------------
# Training the BEGAN
# ---------------------------------------------------------------------------------------------
@dataclass
class BeganStep:
    """The numbers of one BEGAN update, as detached 0-d tensors on the model's device (no host
    synchronisation): the losses in the step's precision, ``k`` (``k_{t+1}``) and ``m_global`` in
    float64."""

    loss_real: torch.Tensor
    loss_fake: torch.Tensor
    loss_d: torch.Tensor
    loss_g: torch.Tensor
    k: torch.Tensor
    m_global: torch.Tensor


def began_step(model: BEGAN, x: torch.Tensor, opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer, *,
               k: float | torch.Tensor, gamma: float, lambda_k: float,
               autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> BeganStep:
    """One BEGAN update: ``theta_D`` on ``L_D``, then ``theta_G`` on ``L_G``, then ``k_t``.

    ``L(G(z))`` in the ``k_t`` and ``M_global`` updates is the value seen by the discriminator
    step (before either network moved), as in the reference implementations. ``k`` (a number
    or a float64 tensor) is updated with tensor operations in float64, on the model's device:
    the controller never waits for the device. ``autocast`` is the context of the forward
    passes (:meth:`serlib.train.Engine.autocast`: bf16 on a GPU, nothing on a CPU).

    References
    ----------
    Berthelot et al. 2017, Eq. 4.
    """
    d, g = model.discriminator, model.generator
    k_t = torch.as_tensor(k, dtype=torch.float64, device=x.device)
    z = model.sample_z(len(x))
    # discriminator step: L_D = L(x) - k_t L(G(z))
    with autocast():
        fake = g(z)
        loss_real = l1_reconstruction(x, d(x).float())
        fake_d = fake.detach()
        loss_fake = l1_reconstruction(fake_d.float(), d(fake_d).float())
        loss_d = loss_real - k_t.to(loss_fake.dtype) * loss_fake
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # generator step: L_G = L(G(z)); D's weights receive no update (and no gradient)
    for p in d.parameters():
        p.requires_grad_(False)
    with autocast():
        loss_g = l1_reconstruction(fake.float(), d(fake).float())
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    for p in d.parameters():
        p.requires_grad_(True)
    lr_, lf_ = loss_real.detach().double(), loss_fake.detach().double()
    k_next = (k_t + lambda_k * (gamma * lr_ - lf_)).clamp(0.0, 1.0)  # update_k, on the device
    return BeganStep(loss_real.detach(), loss_fake.detach(), loss_d.detach(), loss_g.detach(), k_next,
                     lr_ + (gamma * lr_ - lf_).abs())


_BEGAN_FIELDS = ("loss_real", "loss_fake", "loss_d", "loss_g", "m_global")


def train_began(model: BEGAN, data: np.ndarray, *, epochs: int, batch_size: int = 16, lr: float = 5e-5,
                gamma: float = 0.7, lambda_k: float = 0.001, k0: float = 0.0, betas: tuple[float, float] = (0.5, 0.999),
                device: torch.device | str | Engine = "cpu", seed: int = 0, points: int = 400,
                checkpoint: str | Path | None = None, show: bool = False) -> History:
    """Train a BEGAN on spectrogram chunks ``data`` (``(n, freq_bins, frames)`` or ``(n, 1, F, T)``).

    Both networks use Adam with learning rate ``lr`` (Pereira et al.: 5e-5 for both). One epoch
    is one pass over ``data`` in shuffled mini-batches of ``batch_size`` (Pereira et al.: 16).
    The epochs run in :func:`serlib.train.fit`; the step is :func:`began_step`, and ``k_t``
    lives in the step's state as a float64 tensor on the device. The history holds about
    ``points`` records, each the mean over a window of steps of ``loss_real = L(x)``,
    ``loss_fake = L(G(z))``, ``loss_d``, ``loss_g``, ``m_global`` and the value of ``k`` at the
    window's end, with ``epoch`` (fractional) and ``step``; the windows are summed on the device
    and read once per epoch.

    ``checkpoint``: a file where the whole training state (both networks, both optimisers, the
    random generators, ``k_t`` and the history so far) is saved after every epoch; a re-run with
    the same file continues after the last finished epoch and ends with the same weights as an
    uninterrupted run (on a CPU). The file is left in place (the caller removes it once the
    result is stored).

    References
    ----------
    Berthelot et al. 2017, Sec. 3.3-3.4; Pereira et al. 2018, Sec. 3.3.
    """
    eng = as_engine(device)
    dev = eng.device
    torch.manual_seed(seed)
    model.to(dev).train()
    arr = np.asarray(data)
    if arr.ndim == 3:
        arr = arr[:, None]
    n = len(arr)
    if n == 0:
        raise ValueError("train_began got no training chunks")
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas)
    steps_per_epoch = int(np.ceil(n / batch_size))
    window = max(1, (steps_per_epoch * epochs) // max(points, 1))
    state: dict[str, Any] = {"k": torch.tensor(float(k0), dtype=torch.float64, device=dev), "step": 0,
                             "window_sum": torch.zeros(len(_BEGAN_FIELDS), dtype=torch.float64, device=dev),
                             "window_n": 0, "pending": [], "records": []}

    def close_window() -> None:
        """The window's means (and k at its end) join the records to read; the sums restart."""
        state["pending"].append({"step": state["step"], "epoch": state["step"] / steps_per_epoch,
                                 "values": torch.cat([state["k"].view(1), state["window_sum"] / state["window_n"]])})
        state["window_sum"] = torch.zeros_like(state["window_sum"])
        state["window_n"] = 0

    def read_windows() -> None:
        """One device read for every window closed since the last one."""
        if state["pending"]:
            values = torch.stack([w["values"] for w in state["pending"]]).tolist()
            for w, v in zip(state["pending"], values, strict=True):
                state["records"].append({"step": w["step"], "epoch": w["epoch"], "k": v[0],
                                         **dict(zip(_BEGAN_FIELDS, v[1:], strict=True))})
            state["pending"] = []

    def step(idx: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.as_tensor(arr[idx], dtype=torch.float32, device=dev)
        k = state["k"].to(dev)  # a resumed state comes back on the CPU
        rec = began_step(model, x, opt_d, opt_g, k=k, gamma=gamma, lambda_k=lambda_k, autocast=eng.autocast)
        values = torch.stack([getattr(rec, f).double() for f in _BEGAN_FIELDS])
        state["k"] = rec.k
        state["step"] += 1
        state["window_sum"] = state["window_sum"].to(dev) + values
        state["window_n"] += 1
        if state["window_n"] == window:
            close_window()
        return {f: getattr(rec, f) for f in (*_BEGAN_FIELDS, "k")}

    def epoch_end(epoch: int) -> dict[str, Any]:
        read_windows()
        return {}

    fit(step, n=n, batch_size=batch_size, stopping=epochs, modules={"began": model},
        optimizers={"d": opt_d, "g": opt_g}, rng=np.random.default_rng(seed), epoch_end=epoch_end, state=state,
        checkpoint=checkpoint, desc="BEGAN", show=show)
    if state["window_n"]:
        close_window()
    read_windows()
    model.eval()
    return History(list(state["records"]))


# ---------------------------------------------------------------------------------------------
# The supervised module
# ---------------------------------------------------------------------------------------------
class ConvHead(nn.Module):
    """Convolutional layers on a representation, then a softmax classifier or a two-headed regressor.

    ``[3x3 conv, BatchNorm, ReLU] x len(filters)`` -> global average pooling -> dropout ->
    ``Linear(n_outputs)`` (classification: logits for the softmax) or, for ``task="regression"``,
    one ``Linear(1)`` head per output (Pereira et al.'s "double-head one unit structure" for
    arousal and valence), concatenated.

    Parameters
    ----------
    in_channels
        Channels of the representation (a 1-channel "image" for a flat embedding).
    n_outputs
        Classes, or regression targets (2: arousal, valence).
    filters
        Filters of each conv layer.
    dropout
        Dropout before the output layer(s).
    task
        ``classification`` or ``regression``.

    References
    ----------
    Pereira et al. 2018, Sec. 2.2.
    """

    def __init__(self, in_channels: int, n_outputs: int, *, filters: Sequence[int] = (32,), dropout: float = 0.3,
                 task: str = "classification") -> None:
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        self.task = task
        layers: list[nn.Module] = []
        c = in_channels
        for f in filters:
            layers += [nn.Conv2d(c, f, 3, padding=1), nn.BatchNorm2d(f), nn.ReLU()]
            c = f
        self.convs = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        if task == "classification":
            self.out: nn.Module = nn.Linear(c, n_outputs)
        else:
            self.out = nn.ModuleList([nn.Linear(c, 1) for _ in range(n_outputs)])

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        v = self.drop(self.convs(r).mean(dim=(2, 3)))
        if self.task == "classification":
            return self.out(v)
        return torch.cat([head(v) for head in self.out], dim=1)  # type: ignore[union-attr]


def _as_map(r: torch.Tensor) -> torch.Tensor:
    """A flat embedding ``(b, h)`` as a one-channel ``(b, 1, 1, h)`` map for the conv head."""
    return r if r.dim() == 4 else r[:, None, None, :]


class SupervisedBEGAN(nn.Module):
    """The whole recogniser: BEGAN encoder -> representation -> :class:`ConvHead`.

    With ``freeze=True`` (Pereira et al.: "we freeze the encoder layers trained previously and
    train only the supervised module") the encoder's parameters have ``requires_grad=False``,
    the encoder stays in eval mode and its forward pass runs without autograd, so it receives
    no gradient. ``freeze=False`` trains the network end to end.

    ``representation`` is ``"feature_map"`` (the encoder's last conv map, the input of its
    bottleneck layer) or ``"embedding"`` (the ``hidden``-d code ``h``).

    References
    ----------
    Pereira et al. 2018, Sec. 2.2-2.3, Fig. 1.
    """

    def __init__(self, encoder: BeganEncoder, head: ConvHead, *, representation: str = "feature_map",
                 freeze: bool = True) -> None:
        super().__init__()
        if representation not in ("feature_map", "embedding"):
            raise ValueError(f"representation must be 'feature_map' or 'embedding', got {representation!r}")
        self.encoder, self.head = encoder, head
        self.representation = representation
        self.freeze = bool(freeze)
        if self.freeze:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> SupervisedBEGAN:
        super().train(mode)
        if self.freeze:
            self.encoder.eval()
        return self

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's representation of spectrogram chunks ``x`` (``(b, 1, F, T)``)."""
        if self.freeze:
            with torch.no_grad():
                r = self.encoder.features(x) if self.representation == "feature_map" else self.encoder(x)
            return _as_map(r.detach())
        r = self.encoder.features(x) if self.representation == "feature_map" else self.encoder(x)
        return _as_map(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.represent(x))


@torch.no_grad()
def encode(encoder: BeganEncoder, data: np.ndarray, *, representation: str = "feature_map",
           batch_size: int = 256, device: torch.device | str = "cpu") -> np.ndarray:
    """The frozen encoder's representation of every chunk, as float32 maps ``(n, C, H, W)``.

    With a frozen encoder (deterministic: no dropout, no batch statistics) computing the
    representation once and training the head on it is the same computation as running the
    encoder inside every training step, and much cheaper.
    """
    dev = torch.device(device) if isinstance(device, str) else device
    encoder.to(dev).eval()
    arr = np.asarray(data)
    if arr.ndim == 3:
        arr = arr[:, None]
    out = []
    for i in range(0, len(arr), batch_size):
        x = torch.as_tensor(arr[i : i + batch_size], dtype=torch.float32, device=dev)
        r = encoder.features(x) if representation == "feature_map" else encoder(x)
        out.append(_as_map(r).cpu().numpy())
    if not out:
        return np.zeros((0, 1, 1, 1), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def train_supervised(model: nn.Module, x: np.ndarray, y: np.ndarray, *, task: str = "classification",
                   max_epochs: int = 30, patience: int = 0, min_delta: float = 0.0,
                   validate: Callable[[], Mapping[str, float]] | None = None,
                   score: Callable[[Mapping[str, float]], float | tuple[float, ...]] | None = None,
                   lr: float = 1e-3, batch_size: int = 16, weight_decay: float = 0.0, class_weight: bool = True,
                   n_classes: int | None = None, device: torch.device | str | Engine = "cpu", seed: int = 0,
                   show: bool = False) -> FitOutcome:
    """Train ``model`` on chunk inputs ``x`` with Adam; only parameters with ``requires_grad`` move.

    ``task="classification"``: cross-entropy on integer targets, weighted by inverse class
    frequency if ``class_weight``. ``task="regression"``: mean squared error on float targets
    ``(n, k)`` (standardise them first).

    The epochs run in :func:`serlib.train.fit`. Without ``validate`` the head trains
    ``max_epochs`` epochs and the last one is kept. With ``validate`` (a callable returning
    validation metrics, ``score`` turning them into the number or tuple to maximise) the best
    epoch is kept, and with ``patience`` > 0 training stops after that many epochs without an
    improvement larger than ``min_delta``.

    Returns
    -------
    :class:`serlib.train.FitOutcome` (history, best epoch, epochs trained); the model is left in
    eval mode with the kept epoch's weights.

    References
    ----------
    Pereira et al. 2018, Sec. 2.3 and 3.3 (100 epochs, batch size 16).
    """
    if patience and validate is None:
        raise ValueError("train_supervised: patience > 0 (early stopping) needs a validate callable")
    eng = as_engine(device)
    dev = eng.device
    torch.manual_seed(seed)
    model.to(dev).train()
    arr = np.asarray(x)
    if task == "classification":
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long, device=dev)
        k = int(n_classes or int(yt.max().item()) + 1)
        w = None
        if class_weight:
            counts = torch.bincount(yt, minlength=k).float()
            w = torch.where(counts > 0, counts.sum() / torch.clamp(counts, min=1) / (counts > 0).sum(),
                            torch.zeros_like(counts))
        loss_fn: nn.Module = nn.CrossEntropyLoss(weight=w)
    elif task == "regression":
        yt = torch.as_tensor(np.asarray(y), dtype=torch.float32, device=dev)
        loss_fn = nn.MSELoss()
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    n = len(arr)

    def step(idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        if len(idx) < 2 and n >= 2:  # BatchNorm needs two examples; fold a lone one into the epoch's end
            return None
        xb = torch.as_tensor(arr[idx], dtype=torch.float32, device=dev)
        opt.zero_grad(set_to_none=True)
        with eng.autocast():
            out = model(xb)
        loss = loss_fn(out.float(), yt[idx])
        loss.backward()
        opt.step()
        return {"loss": loss}

    return fit(step, n=n, batch_size=batch_size,
               stopping=Stopping(max_epochs=max_epochs, patience=patience, min_delta=min_delta),
               modules={"model": model}, optimizers={"opt": opt}, rng=np.random.default_rng(seed),
               validate=validate, score=score, desc="supervised", show=show)


@torch.no_grad()
def predict_outputs(model: nn.Module, x: np.ndarray, *, task: str = "classification",
                    batch_size: int = 512) -> np.ndarray:
    """Per-chunk outputs: log-probabilities ``(n, classes)`` or regression values ``(n, k)``."""
    model.eval()
    dev = next(model.parameters()).device
    arr = np.asarray(x)
    out = []
    for i in range(0, len(arr), batch_size):
        o = model(torch.as_tensor(arr[i : i + batch_size], dtype=torch.float32, device=dev))
        out.append((F.log_softmax(o, dim=1) if task == "classification" else o).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def aggregate_by_utterance(outputs: np.ndarray, utterance: np.ndarray,
                           weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pool chunk outputs into one row per utterance: the (weighted) mean over its chunks.

    For a classifier pass log-probabilities: their mean is the log of the geometric mean of the
    chunk posteriors (up to a constant), and the utterance's class is its argmax. For a
    regressor pass the predicted values.

    Returns
    -------
    (utterance ids in first-appearance order, pooled outputs)
    """
    utterance = np.asarray(utterance)
    outputs = np.asarray(outputs, dtype=np.float64)
    w = np.ones(len(utterance)) if weights is None else np.asarray(weights, dtype=np.float64)
    ids, first, inv = np.unique(utterance, return_index=True, return_inverse=True)
    order = np.argsort(first)
    sums = np.zeros((len(ids), outputs.shape[1]))
    np.add.at(sums, inv, outputs * w[:, None])
    tot = np.zeros(len(ids))
    np.add.at(tot, inv, w)
    pooled = sums / np.maximum(tot, 1e-12)[:, None]
    return ids[order], pooled[order]
