"""Adversarial autoencoder (AAE) with a Gaussian-mixture prior, one component per emotion.

The encoder compresses a 1582-d openSMILE functional vector into a 2-d code, the decoder
maps the code back, and a discriminator on codes pushes the aggregated code distribution
towards a fixed mixture of Gaussians (:class:`GMMPrior`). Training alternates, per mini-batch,
the two phases of Makhzani et al.:

1. *reconstruction*: encoder and decoder minimise the squared reconstruction error;
2. *regularisation*: the discriminator learns to tell prior samples (real) from codes (fake),
   then the encoder learns to fool it.

With ``label_conditioned=True`` the labels enter the regularisation as in Makhzani et al.'s
semi-supervised variant ("incorporating label information in the adversarial regularisation"):
the discriminator sees the one-hot label beside each code, and the prior sample paired with
an utterance of emotion *k* is drawn from component *k*. Codes of class *k* are thus pulled
into the *k*-th Gaussian, which is the cluster structure Sahu et al. (2017) describe and on
which Sahu et al. (2018) fit their 4-component GMM.

The same :class:`GMMPrior` is the noise distribution of the conditional GAN in
:mod:`serlib.models.gan`, and the decoder can initialise that GAN's generator.

References
----------
S. Sahu, R. Gupta, G. Sivaraman, W. AbdAlmageed, C. Espy-Wilson. Adversarial auto-encoders for
speech based emotion recognition. Interspeech 2017, 1243-1247.

A. Makhzani, J. Shlens, N. Jaitly, I. Goodfellow, B. Frey. Adversarial autoencoders.
ICLR workshop 2016 (arXiv:1511.05644).

S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..train import Engine, History, apply_in_batches, as_engine, fit

__all__ = [
    "AdversarialAutoencoder",
    "GMMPrior",
    "aae_step",
    "adam",
    "decode",
    "encode",
    "mlp",
    "train_aae",
]


def mlp(n_in: int, hidden: Sequence[int], n_out: int, *, activation: type[nn.Module] = nn.ReLU,
        out_activation: nn.Module | None = None) -> nn.Sequential:
    """A fully connected stack ``n_in -> hidden... -> n_out`` with ``activation`` between layers.

    The layout (``Linear, act, Linear, act, ..., Linear``) is shared by the AAE's decoder and
    the conditional GAN's generator, so that one can initialise the other layer by layer.
    """
    layers: list[nn.Module] = []
    d = n_in
    for h in hidden:
        layers += [nn.Linear(d, int(h)), activation()]
        d = int(h)
    layers.append(nn.Linear(d, n_out))
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


def adam(params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam, in PyTorch's fused implementation where the parameters' device supports it
    (a third faster on a CPU for these small networks; the same update rule)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


class GMMPrior:
    """A fixed mixture of ``n_components`` isotropic Gaussians, one component per class.

    Component means lie evenly on a circle of radius ``radius`` in the first two code
    dimensions (the remaining dimensions, if any, have mean 0); every component has standard
    deviation ``std`` in every dimension and weight ``1 / n_components``.

    Parameters
    ----------
    n_components
        Number of components (= number of emotions; 4 in Sahu et al.).
    dim
        Code dimension (2 in Sahu et al.).
    radius, std
        Geometry of the mixture. Neither paper states it; the defaults keep the four
        components well apart (the means are ``radius * sqrt(2)`` apart for four components).

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.2: "we chose p_z to be a mixture of four component GMM ... each
    mixture component in the GMM corresponds to a particular emotion".
    """

    def __init__(self, n_components: int = 4, dim: int = 2, *, radius: float = 4.0, std: float = 1.0) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.n_components = int(n_components)
        self.dim = int(dim)
        self.radius = float(radius)
        self.std = float(std)
        means = torch.zeros(self.n_components, self.dim)
        for k in range(self.n_components):
            angle = 2 * math.pi * k / self.n_components
            means[k, 0] = self.radius * math.cos(angle)
            if self.dim > 1:
                means[k, 1] = self.radius * math.sin(angle)
        self.means = means

    def __repr__(self) -> str:
        return f"GMMPrior(n_components={self.n_components}, dim={self.dim}, radius={self.radius}, std={self.std})"

    def sample(self, n: int, components: torch.Tensor | np.ndarray | Sequence[int] | None = None, *,
               generator: torch.Generator | None = None, device: torch.device | str | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` points; returns ``(z, components)``.

        ``components`` (length ``n``) fixes each point's component (label-conditioned
        sampling); ``None`` draws components uniformly.
        """
        if components is None:
            comp = torch.randint(0, self.n_components, (n,), generator=generator)
        else:
            comp = torch.as_tensor(np.asarray(components) if not torch.is_tensor(components) else components)
            comp = comp.to("cpu", torch.long)
            if comp.numel() != n:
                raise ValueError(f"components has {comp.numel()} entries, expected {n}")
            if n and (int(comp.min()) < 0 or int(comp.max()) >= self.n_components):
                raise ValueError(f"components must lie in [0, {self.n_components - 1}]")
        noise = torch.randn(n, self.dim, generator=generator)
        z = self.means[comp] + self.std * noise
        if device is not None:
            z, comp = z.to(device), comp.to(device)
        return z, comp

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Per-component log densities, shape ``(n, n_components)`` (without the mixture weight)."""
        z = torch.as_tensor(z, dtype=torch.float32)
        d2 = ((z[:, None, :] - self.means[None].to(z.device)) ** 2).sum(-1)
        return -0.5 * d2 / self.std**2 - self.dim * math.log(self.std * math.sqrt(2 * math.pi))

    def component_of(self, z: torch.Tensor | np.ndarray) -> np.ndarray:
        """The most likely component of each point (equal weights, so the nearest mean)."""
        return self.log_prob(torch.as_tensor(np.asarray(z), dtype=torch.float32)).argmax(1).numpy()


class AdversarialAutoencoder(nn.Module):
    """Encoder ``n_in -> hidden -> code_dim``, decoder ``code_dim -> reversed(hidden) -> n_in``, and a
    code discriminator ``code_dim (+ n_classes) -> disc_hidden -> 1`` (a logit).

    Parameters
    ----------
    n_in
        Input dimension (1582 for IS10/emobase2010 functionals).
    code_dim
        Bottleneck size (2 in Sahu et al. 2017/2018).
    n_classes
        Number of emotions; the width of the one-hot label the discriminator sees when
        ``label_conditioned``.
    hidden
        Encoder hidden widths (the decoder mirrors them).
    disc_hidden
        Discriminator hidden widths.
    label_conditioned
        Feed the one-hot label to the discriminator and draw each prior sample from the
        component of its utterance's emotion (Makhzani et al.'s semi-supervised regulariser).

    References
    ----------
    Sahu et al. 2017 (Interspeech), Fig. 1; Makhzani et al. 2016, Sec. 2.3 and Fig. 4.
    """

    def __init__(self, n_in: int, code_dim: int = 2, n_classes: int = 4, *, hidden: Sequence[int] = (1000, 1000),
                 disc_hidden: Sequence[int] = (1000, 1000), label_conditioned: bool = True) -> None:
        super().__init__()
        self.n_in, self.code_dim, self.n_classes = int(n_in), int(code_dim), int(n_classes)
        self.hidden = tuple(int(h) for h in hidden)
        self.label_conditioned = bool(label_conditioned)
        self.encoder = mlp(self.n_in, self.hidden, self.code_dim)
        self.decoder = mlp(self.code_dim, tuple(reversed(self.hidden)), self.n_in)
        d_in = self.code_dim + (self.n_classes if self.label_conditioned else 0)
        self.discriminator = mlp(d_in, tuple(int(h) for h in disc_hidden), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(code, reconstruction)``."""
        z = self.encoder(x)
        return z, self.decoder(z)

    def discriminate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator logits for codes ``z`` (with one-hot ``y`` when label-conditioned)."""
        if self.label_conditioned:
            if y is None:
                raise ValueError("this AAE is label-conditioned: pass the labels y")
            z = torch.cat([z, F.one_hot(y.long(), self.n_classes).float()], dim=1)
        return self.discriminator(z)


def aae_step(model: AdversarialAutoencoder, opt_rec: torch.optim.Optimizer, opt_disc: torch.optim.Optimizer,
             opt_gen: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, prior: GMMPrior, *,
             generator: torch.Generator | None = None,
             autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, torch.Tensor]:
    """One mini-batch of AAE training: reconstruction phase, then regularisation phase.

    Returns the batch's reconstruction MSE, discriminator loss (mean of the real and fake
    binary cross-entropies) and encoder (generator) loss ``-log D(q(z|x))``, as tensors on the
    device. ``autocast`` is the forward passes' context (``Engine.autocast``).
    """
    bce = F.binary_cross_entropy_with_logits
    # 1. reconstruction phase: encoder + decoder
    opt_rec.zero_grad(set_to_none=True)
    with autocast():
        _, x_hat = model(x)
        rec = F.mse_loss(x_hat.float(), x)
    rec.backward()
    opt_rec.step()
    # 2a. regularisation phase, discriminator: prior samples are "real", codes are "fake"
    comps = y if model.label_conditioned else None
    z_prior, c_prior = prior.sample(len(x), None if comps is None else comps.cpu(), generator=generator,
                                    device=x.device)
    opt_disc.zero_grad(set_to_none=True)
    with autocast():
        with torch.no_grad():
            z_fake = model.encoder(x)
        d_real = model.discriminate(z_prior, c_prior)
        d_fake = model.discriminate(z_fake, y)
        d_loss = 0.5 * (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)))
    d_loss.backward()
    opt_disc.step()
    # 2b. regularisation phase, generator (= encoder): fool the discriminator
    opt_gen.zero_grad(set_to_none=True)
    with autocast():
        g_out = model.discriminate(model.encoder(x), y)
        g_loss = bce(g_out, torch.ones_like(g_out))
    g_loss.backward()
    opt_gen.step()
    return {"recon": rec.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


def train_aae(model: AdversarialAutoencoder, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
              lr: float = 1e-3, adv_lr: float = 1e-4, batch_size: int = 64,
              device: torch.device | str | Engine = "cpu", seed: int = 0, show: bool = False) -> History:
    """Train ``model`` on standardised features ``x`` with labels ``y`` (ints in ``[0, n_classes)``).

    Adam optimisers: ``lr`` for the reconstruction phase (encoder + decoder), ``adv_lr`` for the
    discriminator and for the encoder's adversarial update. :func:`aae_step` on every
    mini-batch (one-row batches skipped) for a fixed number of ``epochs`` on the engine
    (:func:`serlib.train.fit`): an autoencoder with an adversarial prior has no validation
    score to choose its length by.

    Returns
    -------
    History with one row per epoch: ``epoch, recon, d_loss, g_loss`` (means over the epoch's rows).

    References
    ----------
    Makhzani et al. 2016, Sec. 2 (the two training phases); Sahu et al. 2017.
    """
    eng = as_engine(device)
    model.to(eng.device).train()
    if prior.n_components != model.n_classes or prior.dim != model.code_dim:
        raise ValueError(f"{prior} does not match the AAE (n_classes={model.n_classes}, code_dim={model.code_dim})")
    xt = eng.tensor(x)
    yt = eng.tensor(y, torch.long)
    opt_rec = adam(list(model.encoder.parameters()) + list(model.decoder.parameters()), lr=lr)
    opt_disc = adam(model.discriminator.parameters(), lr=adv_lr, betas=(0.5, 0.999))
    opt_gen = adam(model.encoder.parameters(), lr=adv_lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)

    def step(idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        if len(idx) < 2:
            return None
        return aae_step(model, opt_rec, opt_disc, opt_gen, xt[idx], yt[idx], prior, generator=gen,
                        autocast=eng.autocast)

    out = fit(step, n=len(xt), batch_size=batch_size, stopping=epochs, modules={"model": model},
              optimizers={"rec": opt_rec, "disc": opt_disc, "gen": opt_gen}, rng=np.random.default_rng(seed),
              desc="AAE", show=show)
    hist = History()
    for rec in out.history.to_dict("records"):
        hist.log(**rec)
    return hist


def encode(model: AdversarialAutoencoder, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Codes of ``x`` (n, code_dim) as a NumPy array."""
    return apply_in_batches(model, model.encoder, x, batch_size=batch_size,
                            empty=np.zeros((0, model.code_dim), dtype=np.float32))


def decode(model: AdversarialAutoencoder, z: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Reconstructions of codes ``z`` (n, n_in) as a NumPy array."""
    return apply_in_batches(model, model.decoder, z, batch_size=batch_size,
                            empty=np.zeros((0, model.n_in), dtype=np.float32))
