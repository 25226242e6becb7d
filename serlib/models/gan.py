"""Vanilla and conditional GANs on fixed-length feature vectors (Sahu et al. 2018).

* :class:`VanillaGAN` — generator ``noise_dim -> hidden -> data_dim``, discriminator
  ``data_dim -> hidden -> 1`` with a sigmoid output. Sahu et al. train it first on the 1582-d
  openSMILE vectors (it does not converge) and then on the 2-d codes of an adversarial
  autoencoder (it does).
* :class:`ConditionalGAN` — the one-hot emotion label is concatenated to the generator's
  input ``z`` and to the discriminator's input ``x`` (Mirza & Osindero); ``z`` is drawn from the
  component of a :class:`~serlib.models.aae.GMMPrior` that belongs to the label. Its generator
  has the layout of the AAE's decoder, so :func:`init_generator_from_decoder` can copy the
  decoder's weights into it.

Losses (Sahu et al. 2018, Eq. 2): the discriminator minimises the binary cross-entropy with
target 1 for real and 0 for generated inputs; the generator minimises the cross-entropy of its
samples against target 1 (``-log D(G(z))``, the non-saturating form of ``log(1 - D(G(z)))``).
Both are tracked separately; the discriminator loss is reported as the mean of its real and
fake terms, so that ``log 2 ~ 0.693`` is the value of a discriminator that cannot tell the two
apart.

One training *step* is one discriminator update followed by ``g_steps`` generator updates
(the improved cGAN uses five; Sec. 3.2.2). An *epoch* is one pass of the discriminator over the
real training data in mini-batches. The epochs run on the book's engine
(:func:`serlib.train.fit`): the steps return their losses as tensors on the device, read once
per epoch, and a GAN trains its fixed number of epochs (it has no validation score to stop on;
the held-out losses are logged).

References
----------
S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.

I. Goodfellow et al. Generative adversarial nets. NeurIPS 2014.

M. Mirza, S. Osindero. Conditional generative adversarial nets. arXiv:1411.1784, 2014.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..train import Engine, as_engine, fit
from .aae import AdversarialAutoencoder, GMMPrior, adam, mlp

__all__ = [
    "ConditionalGAN",
    "GANRun",
    "VanillaGAN",
    "adversarial_losses",
    "cgan_step",
    "gan_step",
    "init_generator_from_decoder",
    "make_optimizers",
    "sample_cgan",
    "sample_gan",
    "train_cgan",
    "train_gan",
]


class VanillaGAN(nn.Module):
    """Unconditional GAN: ``G: R^noise_dim -> R^data_dim``, ``D: R^data_dim -> (0, 1)``.

    ``discriminator`` returns logits; :meth:`prob` applies the sigmoid of the paper's output
    node. Noise is standard Gaussian (Sahu et al.: "a 2 dimensional Gaussian distribution with
    zero mean and unit variance").

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.1.
    """

    def __init__(self, data_dim: int, noise_dim: int = 2, *, g_hidden: Sequence[int] = (128, 128),
                 d_hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.data_dim, self.noise_dim = int(data_dim), int(noise_dim)
        self.generator = mlp(self.noise_dim, g_hidden, self.data_dim)
        self.discriminator = mlp(self.data_dim, d_hidden, 1)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator logits."""
        return self.discriminator(x)

    def prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D(x): the probability that ``x`` is real."""
        return torch.sigmoid(self.discriminate(x, y))

    def noise(self, n: int, *, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
        z = torch.randn(n, self.noise_dim, generator=generator)
        return z if device is None else z.to(device)


class ConditionalGAN(nn.Module):
    """Conditional GAN: ``G([z, onehot(y)]) -> x``, ``D([x, onehot(y)]) -> logit``.

    Parameters
    ----------
    data_dim
        Feature dimension (1582).
    z_dim
        Noise dimension; equals the AAE code dimension (2) so the AAE decoder can initialise
        the generator.
    n_classes
        Number of emotions (4).
    g_hidden
        Generator hidden widths, in order from input to output (for decoder initialisation:
        the decoder's, i.e. the AAE encoder's widths reversed).
    d_hidden
        Discriminator hidden widths.

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.2; Mirza & Osindero 2014.
    """

    def __init__(self, data_dim: int, z_dim: int = 2, n_classes: int = 4, *, g_hidden: Sequence[int] = (1000, 1000),
                 d_hidden: Sequence[int] = (1000, 1000)) -> None:
        super().__init__()
        self.data_dim, self.z_dim, self.n_classes = int(data_dim), int(z_dim), int(n_classes)
        self.generator = mlp(self.z_dim + self.n_classes, g_hidden, self.data_dim)
        self.discriminator = mlp(self.data_dim + self.n_classes, d_hidden, 1)

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y.long(), self.n_classes).float()

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("a conditional GAN needs the labels y")
        return self.generator(torch.cat([z, self._onehot(y)], dim=1))

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator logits."""
        if y is None:
            raise ValueError("a conditional GAN needs the labels y")
        return self.discriminator(torch.cat([x, self._onehot(y)], dim=1))

    def prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """D(x | y): the probability that ``x`` is a real example of class ``y``."""
        return torch.sigmoid(self.discriminate(x, y))


def init_generator_from_decoder(cgan: ConditionalGAN, aae: AdversarialAutoencoder | nn.Sequential) -> None:
    """Copy a pre-trained AAE decoder's weights into ``cgan``'s generator, layer by layer.

    The generator's first layer takes ``[z, onehot(y)]``: its ``z`` columns receive the
    decoder's first-layer weights and its label columns are set to zero, so that right after
    initialisation ``G(z, y) == decoder(z)``; training then learns how the label should shift
    the output. Every later layer is copied as is.

    Raises
    ------
    ValueError
        If the architectures differ (the generator must mirror the decoder).

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.2: "We initialize the generator with decoder weights of a
    pre-trained adversarial auto-encoder".
    """
    decoder = aae.decoder if isinstance(aae, AdversarialAutoencoder) else aae
    g_lin = [m for m in cgan.generator if isinstance(m, nn.Linear)]
    d_lin = [m for m in decoder if isinstance(m, nn.Linear)]
    shapes_g = [tuple(m.weight.shape) for m in g_lin]
    shapes_d = [tuple(m.weight.shape) for m in d_lin]
    ok = len(g_lin) == len(d_lin) and shapes_g[0][0] == shapes_d[0][0] and \
        shapes_g[0][1] == shapes_d[0][1] + cgan.n_classes and shapes_g[1:] == shapes_d[1:]
    if not ok or shapes_d[0][1] != cgan.z_dim:
        raise ValueError(f"generator layers {shapes_g} do not mirror decoder layers {shapes_d} "
                         f"(+{cgan.n_classes} label inputs, z_dim={cgan.z_dim})")
    with torch.no_grad():
        first_g, first_d = g_lin[0], d_lin[0]
        first_g.weight.zero_()
        first_g.weight[:, :cgan.z_dim].copy_(first_d.weight)
        first_g.bias.copy_(first_d.bias)
        for g, d in zip(g_lin[1:], d_lin[1:]):
            g.weight.copy_(d.weight)
            g.bias.copy_(d.bias)


def make_optimizers(model: VanillaGAN | ConditionalGAN, lr_g: float, lr_d: float,
                    betas: tuple[float, float] = (0.5, 0.999)) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam optimisers ``(opt_g, opt_d)`` for the generator and the discriminator.

    Sahu et al. state the learning rates (improved cGAN: 1e-3 for G, 1e-4 for D) but not the
    optimiser; Adam with beta1 = 0.5 is the common GAN choice (Radford et al. 2016).
    """
    return adam(model.generator.parameters(), lr_g, betas), adam(model.discriminator.parameters(), lr_d, betas)


LatentSampler = Callable[[torch.Tensor | None, int], tuple[torch.Tensor, torch.Tensor | None]]


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _adversarial_step(model: VanillaGAN | ConditionalGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                      x_real: torch.Tensor, y_real: torch.Tensor | None, latent: LatentSampler,
                      g_steps: int, autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
                      ) -> dict[str, torch.Tensor]:
    n = len(x_real)
    # discriminator: one update on a real and a generated batch
    z, y_fake = latent(y_real, n)
    with autocast():
        with torch.no_grad():
            x_fake = model.generate(z, y_fake)
        d_real = model.discriminate(x_real, y_real)
        d_fake = model.discriminate(x_fake, y_fake)
        d_loss = 0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    # generator: g_steps updates, each on fresh noise (D's weights are frozen meanwhile)
    g_losses = []
    d_params = list(model.discriminator.parameters())
    for p in d_params:
        p.requires_grad_(False)
    for _ in range(g_steps):
        z, y_fake = latent(y_real, n)
        opt_g.zero_grad(set_to_none=True)
        with autocast():
            g_loss = _bce(model.discriminate(model.generate(z, y_fake), y_fake), 1.0)
        g_loss.backward()
        opt_g.step()
        g_losses.append(g_loss.detach())
    for p in d_params:
        p.requires_grad_(True)
    return {"d_loss": d_loss.detach(), "g_loss": g_losses[0] if g_steps == 1 else torch.stack(g_losses).mean(),
            "d_real": torch.sigmoid(d_real.detach().float()).mean(), "d_fake": torch.sigmoid(d_fake.detach().float()).mean()}


def gan_step(gan: VanillaGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, x_real: torch.Tensor, *,
             g_steps: int = 1, generator: torch.Generator | None = None,
             autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, torch.Tensor]:
    """One training step of a :class:`VanillaGAN`: one discriminator update, ``g_steps`` generator updates.

    Returns the step's discriminator loss, mean generator loss, and mean D(x) on the real
    (``d_real``) and generated (``d_fake``) batch, as tensors on the device (nothing is read
    back to the host). ``autocast`` is the forward passes' context (``Engine.autocast``).
    """
    dev = x_real.device

    def latent(_y: torch.Tensor | None, n: int) -> tuple[torch.Tensor, None]:
        return gan.noise(n, generator=generator, device=dev), None

    return _adversarial_step(gan, opt_g, opt_d, x_real, None, latent, g_steps, autocast)


def cgan_step(cgan: ConditionalGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
              x_real: torch.Tensor, y_real: torch.Tensor, prior: GMMPrior, *, g_steps: int = 1,
              generator: torch.Generator | None = None,
              autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, torch.Tensor]:
    """One training step of a :class:`ConditionalGAN`.

    The generated batch carries the real batch's labels; its noise ``z`` comes from the prior
    component of each label. One discriminator update, then ``g_steps`` generator updates on
    fresh noise. Returns what :func:`gan_step` returns.

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.2 ("training the generator for five iterations for every
    iteration of discriminator training").
    """
    dev = x_real.device

    def latent(y: torch.Tensor | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        assert y is not None
        return prior.sample(n, y.cpu(), generator=generator, device=dev)

    return _adversarial_step(cgan, opt_g, opt_d, x_real, y_real, latent, g_steps, autocast)


@torch.no_grad()
def adversarial_losses(model: VanillaGAN | ConditionalGAN, x: np.ndarray | torch.Tensor,
                       y: np.ndarray | torch.Tensor | None = None, prior: GMMPrior | None = None, *,
                       generator: torch.Generator | None = None, batch_size: int = 1024) -> dict[str, float]:
    """Discriminator and generator losses on data the model was not trained on (no update).

    ``x`` (and ``y`` for a cGAN) are real held-out examples; as many generated examples, with
    the same labels, are drawn fresh. Used for the validation curves of Sahu et al.'s Fig. 4.
    Besides the losses and mean D outputs, ``real_norm``/``fake_norm`` are the mean Euclidean
    norms of the real and generated rows: a generator that drifts away from the data shows
    there even when the losses look balanced.
    """
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    xt = x.to(dev, torch.float32) if torch.is_tensor(x) else torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = None if y is None else (y.to(dev, torch.long) if torch.is_tensor(y)
                                 else torch.tensor(np.asarray(y), dtype=torch.long, device=dev))
    tot = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0, "real_norm": 0.0, "fake_norm": 0.0}
    for i in range(0, len(xt), batch_size):
        xb = xt[i:i + batch_size]
        yb = None if yt is None else yt[i:i + batch_size]
        if isinstance(model, ConditionalGAN):
            if prior is None or yb is None:
                raise ValueError("a conditional GAN's losses need labels y and the prior")
            z, yf = prior.sample(len(xb), yb.cpu(), generator=generator, device=dev)
        else:
            z, yf = model.noise(len(xb), generator=generator, device=dev), None
        x_fake = model.generate(z, yf)
        d_real = model.discriminate(xb, yb)
        d_fake = model.discriminate(x_fake, yf)
        k = len(xb)
        tot["real_norm"] += float(xb.norm(dim=1).sum())
        tot["fake_norm"] += float(x_fake.norm(dim=1).sum())
        tot["d_loss"] += float(0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))) * k
        tot["g_loss"] += float(_bce(d_fake, 1.0)) * k
        tot["d_real"] += float(torch.sigmoid(d_real).mean()) * k
        tot["d_fake"] += float(torch.sigmoid(d_fake).mean()) * k
    model.train(was_training)
    return {k: v / max(len(xt), 1) for k, v in tot.items()}


@dataclass
class GANRun:
    """A trained GAN with its optimisers and its per-epoch history.

    ``history`` columns: ``epoch, d_steps, g_steps, d_loss, g_loss, d_real, d_fake`` (training,
    means over the epoch's steps) and, when validation data were given, ``val_d_loss,
    val_g_loss, val_d_real, val_d_fake, val_real_norm, val_fake_norm`` (see
    :func:`adversarial_losses`).
    """

    model: VanillaGAN | ConditionalGAN
    history: pd.DataFrame
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def _train(model: VanillaGAN | ConditionalGAN, step: Callable[..., dict[str, torch.Tensor]], x: np.ndarray,
           y: np.ndarray | None, *, prior: GMMPrior | None, epochs: int, lr_g: float, lr_d: float,
           g_steps_per_d_step: int, batch_size: int, x_val: np.ndarray | None, y_val: np.ndarray | None,
           device: torch.device | str | Engine, seed: int, show: bool, desc: str,
           optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None) -> GANRun:
    """``epochs`` passes of ``step`` over ``x`` on the engine (:func:`serlib.train.fit`).

    A GAN has no validation score to choose its length by: it trains the fixed number of
    epochs; the held-out losses are logged, not used. One-row batches are skipped.
    """
    if g_steps_per_d_step < 1:
        raise ValueError(f"g_steps_per_d_step must be >= 1, got {g_steps_per_d_step}")
    eng = as_engine(device)
    model.to(eng.device).train()
    opt_g, opt_d = optimizers if optimizers is not None else make_optimizers(model, lr_g, lr_d)
    xt = eng.tensor(x)
    yt = None if y is None else eng.tensor(y, torch.long)
    gen = torch.Generator().manual_seed(seed)
    val_gen = torch.Generator()
    state = {"d_steps": 0, "g_steps": 0}

    def train_step(idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        if len(idx) < 2:
            return None
        kwargs = {"g_steps": g_steps_per_d_step, "generator": gen, "autocast": eng.autocast}
        if yt is None:
            out = step(model, opt_g, opt_d, xt[idx], **kwargs)
        else:
            out = step(model, opt_g, opt_d, xt[idx], yt[idx], prior, **kwargs)
        state["d_steps"] += 1
        state["g_steps"] += g_steps_per_d_step
        return out

    def epoch_end(_epoch: int) -> dict[str, float]:
        rec = {"d_steps": state["d_steps"], "g_steps": state["g_steps"]}
        if x_val is not None and len(x_val):
            val_gen.manual_seed(seed + 1_000_003)  # the same validation noise every epoch
            val = adversarial_losses(model, x_val, y_val, prior, generator=val_gen)
            rec.update({f"val_{k}": v for k, v in val.items()})
        return rec

    out = fit(train_step, n=len(xt), batch_size=batch_size, stopping=epochs,
              modules={"model": model},
              optimizers={"g": opt_g, "d": opt_d}, rng=np.random.default_rng(seed), epoch_end=epoch_end,
              state=state, desc=desc, show=show, average="steps")
    hist = out.history
    first = ["epoch", "d_steps", "g_steps", "d_loss", "g_loss", "d_real", "d_fake"]
    hist = hist[[c for c in first if c in hist] + [c for c in hist.columns if c not in first]]
    return GANRun(model, hist, opt_g, opt_d)


def train_gan(gan: VanillaGAN, x: np.ndarray, *, epochs: int, lr_g: float = 2e-4, lr_d: float = 2e-4,
              g_steps_per_d_step: int = 1, batch_size: int = 64, x_val: np.ndarray | None = None,
              device: torch.device | str | Engine = "cpu", seed: int = 0, show: bool = False,
              optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None) -> GANRun:
    """Train a :class:`VanillaGAN` on the rows of ``x`` (no labels) with :func:`gan_step`.

    ``optimizers`` replaces the Adam pair that :func:`make_optimizers` would build from
    ``lr_g``/``lr_d``.

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.1 and Fig. 2.
    """
    return _train(gan, gan_step, x, None, prior=None, epochs=epochs, lr_g=lr_g, lr_d=lr_d,
                  g_steps_per_d_step=g_steps_per_d_step, batch_size=batch_size, x_val=x_val, y_val=None,
                  device=device, seed=seed, show=show, desc="GAN", optimizers=optimizers)


def train_cgan(cgan: ConditionalGAN, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
               lr_g: float = 1e-3, lr_d: float = 1e-4, g_steps_per_d_step: int = 5, batch_size: int = 64,
               x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
               device: torch.device | str | Engine = "cpu", seed: int = 0, show: bool = False,
               optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None) -> GANRun:
    """Train a :class:`ConditionalGAN` on features ``x`` with labels ``y`` using :func:`cgan_step`.

    The defaults are the paper's *improved* schedule (G lr 1e-3, D lr 1e-4, five generator
    updates per discriminator update); the *baseline* uses equal learning rates and one
    generator update. ``x_val``/``y_val`` (the held-out session) give the validation curves.

    References
    ----------
    Sahu et al. 2018, Sec. 3.2.2 and Fig. 4.
    """
    if prior.dim != cgan.z_dim or prior.n_components != cgan.n_classes:
        raise ValueError(f"{prior} does not match the cGAN (z_dim={cgan.z_dim}, n_classes={cgan.n_classes})")
    return _train(cgan, cgan_step, x, y, prior=prior, epochs=epochs, lr_g=lr_g, lr_d=lr_d,
                  g_steps_per_d_step=g_steps_per_d_step, batch_size=batch_size, x_val=x_val, y_val=y_val,
                  device=device, seed=seed, show=show, desc="cGAN", optimizers=optimizers)


@torch.no_grad()
def sample_gan(gan: VanillaGAN, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` generated rows as a NumPy array."""
    gan.eval()
    dev = next(gan.parameters()).device
    z = gan.noise(n, generator=torch.Generator().manual_seed(seed), device=dev)
    return gan.generate(z).cpu().numpy()


@torch.no_grad()
def sample_cgan(cgan: ConditionalGAN, prior: GMMPrior, n_per_class: int | Sequence[int], *,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated features and their labels: ``n_per_class`` per emotion (an int or one count per class).

    Each sample's label is the prior component its ``z`` was drawn from (Sahu et al. 2018,
    Sec. 3.2.2: "assigned a class based on the corresponding GMM component").
    """
    cgan.eval()
    dev = next(cgan.parameters()).device
    counts = [int(n_per_class)] * cgan.n_classes if np.isscalar(n_per_class) else [int(c) for c in n_per_class]
    labels = np.repeat(np.arange(cgan.n_classes), counts)
    z, y = prior.sample(len(labels), labels, generator=torch.Generator().manual_seed(seed), device=dev)
    return cgan.generate(z, y).cpu().numpy(), labels
