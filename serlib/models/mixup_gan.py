"""A conditional GAN trained with mixup, with an optional BiGAN encoder (Latif et al. 2020, reconstructed).

Latif et al. (Interspeech 2020) train a GAN with *mixup* (Zhang et al. 2018) to generate
synthetic emotional feature vectors and to learn a compressed emotional representation. The
text available to this project (a doctoral summary) does not give the construction, so this
module implements an explicit reconstruction whose every choice is an argument:

* **mixup** (:func:`sample_lam`, :func:`mixup`): for a pair ``(x_i, y_i)``, ``(x_j, y_j)`` and
  ``lam ~ Beta(alpha, alpha)``, ``x~ = lam x_i + (1 - lam) x_j`` and ``y~ = lam y_i + (1 - lam) y_j``
  (``y`` one-hot). ``alpha = 0`` means no mixing (``lam = 1``), as in Zhang et al.'s code.
* **where mixup enters the GAN** (:func:`mixup_gan_step`, ``mixup_pairs``):

  - ``"real_real"``: the discriminator's *real* batch is mixed with a permutation of itself,
    the one-hot labels it is conditioned on are mixed alike, and the target stays 1 (real);
  - ``"real_fake"``: each real example is mixed with a generated one of the same label and
    the discriminator's target is the soft label ``lam`` (Zhang et al.'s GAN experiment:
    ``max_D  l(D(lam x + (1 - lam) G(z)), lam)``); this one term replaces both plain terms;
  - ``"both"``: the mean of the two losses above;
  - ``"none"``: the plain conditional-GAN step of :func:`serlib.models.gan.cgan_step`, draw for
    draw (the same noise, the same updates, the same losses).

  The generator (and encoder) keep the plain non-saturating loss on unmixed samples.
* **the compressed representation** (:class:`MixupGAN` with ``e_hidden``): a BiGAN/ALI
  encoder ``E: x -> code``; the discriminator sees joint triples ``[x, code, onehot(y)]``,
  ``(x, E(x), y)`` for real data and ``(G(z, y), z, y)`` for generated data, with ``z`` drawn
  from the mixture component of ``y`` (:class:`~serlib.models.aae.GMMPrior`). For the
  real-fake mixup the *joint* vectors are mixed. At the optimum ``E`` inverts ``G``, so codes
  of class ``k`` fall near the ``k``-th prior component: an emotional code learned by the
  same adversarial game, hence shaped by mixup too.

:func:`train_mixup_classifier` trains a classifier on mixup-augmented data (soft-label
cross-entropy), the "real features augmented by the mixup scheme" of the paper's DNNs.

References
----------
S. Latif, M. Asim, R. Rana, S. Khalifa, R. Jurdak, B. W. Schuller. Augmenting generative
adversarial networks for speech emotion recognition. Interspeech 2020 (as summarised in
S. Latif, Deep representation learning for improving speech emotion recognition, doctoral
summary, Sec. 2.2, Tables 3-4).

H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. mixup: Beyond empirical risk minimization.
ICLR 2018 (arXiv:1710.09412).

J. Donahue, P. Kraehenbuehl, T. Darrell. Adversarial feature learning. ICLR 2017 (BiGAN).
V. Dumoulin et al. Adversarially learned inference. ICLR 2017 (ALI).

S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.
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

from ..train import Engine, apply_in_batches, as_engine, fit, train_classifier
from .aae import GMMPrior, mlp
from .gan import ConditionalGAN, GANRun, make_optimizers

__all__ = [
    "CONDITIONING",
    "MIXUP_PAIRS",
    "MixupBatch",
    "MixupGAN",
    "ProjectionDiscriminator",
    "encode",
    "train_mixup_classifier",
    "joint_losses",
    "mixup",
    "mixup_gan_step",
    "real_fake_mix",
    "sample_lam",
    "train_mixup_gan",
]

MIXUP_PAIRS: tuple[str, ...] = ("none", "real_real", "real_fake", "both")
"""Where mixup enters the discriminator's training (see the module docstring)."""


# ---------------------------------------------------------------------------------------------
# mixup
# ---------------------------------------------------------------------------------------------
def sample_lam(n: int, alpha: float, rng: np.random.Generator, *, per_sample: bool = False) -> np.ndarray:
    """Mixing weights ``lam ~ Beta(alpha, alpha)``: ``n`` of them, or one repeated ``n`` times.

    ``alpha <= 0`` returns ones (no mixing), as in Zhang et al.'s reference code. One weight
    per batch (``per_sample=False``) is what that code does.

    References
    ----------
    Zhang et al. 2018, Sec. 2 ("lambda ~ Beta(alpha, alpha), for alpha in (0, inf)").
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if alpha == 0:
        return np.ones(n, dtype=np.float32)
    lam = rng.beta(alpha, alpha, size=n if per_sample else 1).astype(np.float32)
    return lam if per_sample else np.repeat(lam, n)


@dataclass
class MixupBatch:
    """A mixed batch: inputs ``x``, soft labels ``y``, weights ``lam`` (one per row) and the
    partner ``perm`` of each row (row ``i`` mixes row ``i`` with row ``perm[i]``)."""

    x: torch.Tensor
    y: torch.Tensor
    lam: torch.Tensor
    perm: torch.Tensor


def _col(lam: torch.Tensor | np.ndarray | float, like: torch.Tensor) -> torch.Tensor:
    lam_t = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    return lam_t.reshape(-1, 1) if lam_t.ndim else lam_t


def mixup(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor | np.ndarray, perm: torch.Tensor | np.ndarray
          ) -> MixupBatch:
    """Mix each row of ``(x, y)`` with row ``perm[i]``: ``lam x_i + (1 - lam) x_perm[i]``, labels alike.

    ``y`` holds one-hot (or already soft) label vectors; the result's rows stay on the simplex.

    References
    ----------
    Zhang et al. 2018, Eq. (1).
    """
    perm_t = torch.as_tensor(perm, dtype=torch.long, device=x.device)
    lam_c = _col(lam, x)
    return MixupBatch(lam_c * x + (1 - lam_c) * x[perm_t], lam_c * y + (1 - lam_c) * y[perm_t],
                      torch.as_tensor(lam, dtype=x.dtype, device=x.device).reshape(-1), perm_t)


def real_fake_mix(real: torch.Tensor, fake: torch.Tensor, lam: torch.Tensor | np.ndarray
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lam real + (1 - lam) fake, lam)``: a real-fake mixture and its soft real/fake target.

    References
    ----------
    Zhang et al. 2018, Sec. 3.6 (GAN): ``max_D l(D(lam x_real + (1 - lam) G(z)), lam)``.
    """
    lam_c = _col(lam, real)
    target = torch.as_tensor(lam, dtype=real.dtype, device=real.device).reshape(-1, 1).expand(len(real), 1)
    return lam_c * real + (1 - lam_c) * fake, target.contiguous()


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
class ProjectionDiscriminator(nn.Module):
    """A projection discriminator: ``D([x, y]) = w . phi(x) + b + <embed(y), phi(x)>``.

    Its input is the same concatenation ``[features..., y]`` a concatenation discriminator
    takes (the last ``n_classes`` columns are the one-hot or mixed label), so the two are
    interchangeable; the label enters through an inner product with the hidden features
    instead of as four of ~1600 inputs, which makes the discriminator's verdict depend on the
    label. A soft (mixed) label projects onto the mixture of the class embeddings.

    References
    ----------
    T. Miyato, M. Koyama. cGANs with projection discriminator. ICLR 2018.
    """

    def __init__(self, n_in: int, n_classes: int, hidden: Sequence[int]) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("a projection discriminator needs at least one hidden layer")
        self.n_classes = int(n_classes)
        layers: list[nn.Module] = []
        d = int(n_in)
        for h in hidden:
            layers += [nn.Linear(d, int(h)), nn.ReLU()]
            d = int(h)
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, 1)
        self.embed = nn.Linear(self.n_classes, d, bias=False)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        feats, y = inp[:, :-self.n_classes], inp[:, -self.n_classes:]
        h = self.body(feats)
        return self.out(h) + (self.embed(y) * h).sum(1, keepdim=True)


CONDITIONING: tuple[str, ...] = ("concat", "projection")
"""How the discriminator sees the label: concatenated to its input (chapter 1) or by projection."""


class MixupGAN(ConditionalGAN):
    """A :class:`~serlib.models.gan.ConditionalGAN` with an optional BiGAN encoder.

    Without an encoder (``e_hidden=None``) it *is* chapter 1's conditional GAN (the same
    generator and discriminator layout). With one, ``E: data_dim -> e_hidden -> z_dim`` and the
    discriminator takes ``[x, code, onehot(y)]``.

    Parameters
    ----------
    data_dim, z_dim, n_classes, g_hidden, d_hidden
        As in :class:`~serlib.models.gan.ConditionalGAN`; ``z_dim`` is also the code size.
    e_hidden
        Encoder hidden widths; ``None`` builds no encoder.

    References
    ----------
    Donahue et al. 2017 (BiGAN); Dumoulin et al. 2017 (ALI); Latif et al. 2020.
    """

    def __init__(self, data_dim: int, z_dim: int = 2, n_classes: int = 4, *, g_hidden: Sequence[int] = (1000, 1000),
                 d_hidden: Sequence[int] = (1000, 1000), e_hidden: Sequence[int] | None = None,
                 conditioning: str = "concat") -> None:
        super().__init__(data_dim, z_dim, n_classes, g_hidden=g_hidden, d_hidden=d_hidden)
        if conditioning not in CONDITIONING:
            raise ValueError(f"conditioning={conditioning!r} is not one of {list(CONDITIONING)}")
        self.conditioning = conditioning
        self.encoder: nn.Sequential | None = None
        if e_hidden is not None:
            self.encoder = mlp(self.data_dim, e_hidden, self.z_dim)
        if e_hidden is not None or conditioning != "concat":
            n_feat = self.data_dim + (self.z_dim if e_hidden is not None else 0)
            self.discriminator = (mlp(n_feat + self.n_classes, d_hidden, 1) if conditioning == "concat"
                                  else ProjectionDiscriminator(n_feat, self.n_classes, d_hidden))

    @property
    def has_encoder(self) -> bool:
        return self.encoder is not None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            raise ValueError("this MixupGAN has no encoder (e_hidden=None)")
        return self.encoder(x)

    def joint(self, x: torch.Tensor, code: torch.Tensor | None, y_soft: torch.Tensor) -> torch.Tensor:
        """Discriminator logits of ``[x, code, y_soft]`` (``code`` only with an encoder)."""
        return _disc(self, x, code, y_soft)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of real-data inputs: with an encoder the code is ``E(x)``."""
        if y is None:
            raise ValueError("a conditional GAN needs the labels y")
        code = self.encode(x) if self.encoder is not None else None
        return _disc(self, x, code, self._onehot(y))


def _encoder(model: ConditionalGAN) -> nn.Module | None:
    return getattr(model, "encoder", None)


def _disc(model: ConditionalGAN, x: torch.Tensor, code: torch.Tensor | None, y_soft: torch.Tensor) -> torch.Tensor:
    parts = [x] if code is None else [x, code]
    return model.discriminator(torch.cat([*parts, y_soft], dim=1))


def _bce(logits: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    t = torch.full_like(logits, target) if isinstance(target, float) else target
    return F.binary_cross_entropy_with_logits(logits, t)


# ---------------------------------------------------------------------------------------------
# One step, an epoch loop
# ---------------------------------------------------------------------------------------------
def mixup_gan_step(model: ConditionalGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                   x_real: torch.Tensor, y_real: torch.Tensor, prior: GMMPrior, *, mixup_pairs: str = "both",
                   alpha: float = 0.2, g_steps: int = 1, generator: torch.Generator | None = None,
                   rng: np.random.Generator | None = None, lam_per_sample: bool = False,
                   autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, torch.Tensor]:
    """One discriminator update on mixup-interpolated batches, then ``g_steps`` generator updates.

    ``model`` is a :class:`MixupGAN` (with or without encoder) or chapter 1's
    :class:`~serlib.models.gan.ConditionalGAN`; ``opt_g`` updates the generator (and the
    encoder, if any). Noise comes from ``generator`` exactly as in
    :func:`~serlib.models.gan.cgan_step`; mixing weights and partners from ``rng``, so that
    ``mixup_pairs="none"`` draws nothing from it and reproduces ``cgan_step``.

    Returns
    -------
    ``d_loss`` (the loss the discriminator minimised), ``d_loss_plain`` (the plain loss
    ``(l(D(real), 1) + l(D(fake), 0)) / 2`` on the same unmixed batch, comparable across
    settings), ``g_loss`` (mean over the generator updates), ``d_real``/``d_fake`` (mean
    D on the unmixed real and generated batch) and ``lam`` (mean mixing weight), as tensors
    on the device. ``autocast`` is the forward passes' context (``Engine.autocast``).

    References
    ----------
    Zhang et al. 2018, Sec. 3.6; Sahu et al. 2018, Sec. 3.2.2; Donahue et al. 2017.
    """
    if mixup_pairs not in MIXUP_PAIRS:
        raise ValueError(f"mixup_pairs={mixup_pairs!r} is not one of {list(MIXUP_PAIRS)}")
    n, dev = len(x_real), x_real.device
    enc = _encoder(model)
    onehot = F.one_hot(y_real.long(), model.n_classes).float()

    def latent() -> tuple[torch.Tensor, torch.Tensor]:
        return prior.sample(n, y_real.cpu(), generator=generator, device=dev)

    # ---- discriminator -------------------------------------------------------------------
    z, y_fake = latent()
    with autocast(), torch.no_grad():
        x_fake = model.generate(z, y_fake)
        code_real = enc(x_real) if enc is not None else None
    oh_fake = F.one_hot(y_fake.long(), model.n_classes).float()
    code_fake = z if enc is not None else None
    if mixup_pairs != "none":
        with torch.no_grad(), autocast():  # diagnostics on the unmixed batch, before the update as in cgan_step
            d_real = _disc(model, x_real, code_real, onehot)
            d_fake = _disc(model, x_fake, code_fake, oh_fake)
    opt_d.zero_grad(set_to_none=True)
    lam_mean = 1.0
    with autocast():
        if mixup_pairs == "none":
            d_real = _disc(model, x_real, code_real, onehot)
            d_fake = _disc(model, x_fake, code_fake, oh_fake)
            d_loss = 0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))
        else:
            if rng is None:
                raise ValueError("mixup needs a numpy Generator rng")
            lams = []
            if mixup_pairs in ("real_real", "both"):  # mixed real pairs, mixed labels, target 1
                lams.append(sample_lam(n, alpha, rng, per_sample=lam_per_sample))
                mb = mixup(x_real, onehot, lams[-1], rng.permutation(n))
                with torch.no_grad():
                    code_mix = enc(mb.x) if enc is not None else None
                rr = _bce(_disc(model, mb.x, code_mix, mb.y), 1.0)
            if mixup_pairs in ("real_fake", "both"):  # real mixed with fake of the same label, target lam
                lams.append(sample_lam(n, alpha, rng, per_sample=lam_per_sample))
                real_j = x_real if enc is None else torch.cat([x_real, code_real], 1)
                fake_j = x_fake if enc is None else torch.cat([x_fake, code_fake], 1)
                mixed, target = real_fake_mix(real_j, fake_j, lams[-1])
                rf = _bce(model.discriminator(torch.cat([mixed, onehot], 1)), target)
            if mixup_pairs == "real_real":
                d_loss = 0.5 * (rr + _bce(_disc(model, x_fake, code_fake, oh_fake), 0.0))
            elif mixup_pairs == "real_fake":
                d_loss = rf
            else:
                d_loss = 0.5 * (rr + rf)
            lam_mean = float(np.mean(lams))  # host numbers drawn from rng: no device read
    d_loss.backward()
    opt_d.step()
    d_real, d_fake = d_real.detach().float(), d_fake.detach().float()
    d_plain = 0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))

    # ---- generator (and encoder): g_steps updates on fresh noise, D frozen ----------------
    g_losses = []
    d_params = list(model.discriminator.parameters())
    for p in d_params:
        p.requires_grad_(False)
    for _ in range(g_steps):
        z, y_fake = latent()
        opt_g.zero_grad(set_to_none=True)
        oh = F.one_hot(y_fake.long(), model.n_classes).float()
        with autocast():
            out = _disc(model, model.generate(z, y_fake), z if enc is not None else None, oh)
            g_loss = _bce(out, 1.0)
            if enc is not None:  # the encoder fools D the other way round: real pairs -> "fake"
                g_loss = 0.5 * (g_loss + _bce(_disc(model, x_real, enc(x_real), onehot), 0.0))
        g_loss.backward()
        opt_g.step()
        g_losses.append(g_loss.detach())
    for p in d_params:
        p.requires_grad_(True)
    return {"d_loss": d_loss.detach(), "d_loss_plain": d_plain, "g_loss": g_losses[0] if g_steps == 1 else torch.stack(g_losses).mean(),
            "d_real": torch.sigmoid(d_real).mean(), "d_fake": torch.sigmoid(d_fake).mean(),
            "lam": torch.full((), lam_mean, device=dev)}


@torch.no_grad()
def joint_losses(model: ConditionalGAN, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *,
                 generator: torch.Generator | None = None, batch_size: int = 1024) -> dict[str, float]:
    """Plain (unmixed) discriminator and generator losses on held-out data, no update.

    With an encoder the real inputs are ``(x, E(x), y)`` and the generated ones
    ``(G(z, y), z, y)``; the generator loss is then the BiGAN's (mean of its two terms).
    ``real_norm``/``fake_norm`` are the mean Euclidean norms of the real and generated rows
    (as in :func:`serlib.models.gan.adversarial_losses`): a generator stuck near the mean, or
    drifting away, shows there first.
    """
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    enc = _encoder(model)
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    tot = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0, "real_norm": 0.0, "fake_norm": 0.0}
    for i in range(0, len(xt), batch_size):
        xb, yb = xt[i:i + batch_size], yt[i:i + batch_size]
        z, yf = prior.sample(len(xb), yb.cpu(), generator=generator, device=dev)
        oh = F.one_hot(yb, model.n_classes).float()
        x_fake = model.generate(z, yf)
        d_real = _disc(model, xb, enc(xb) if enc is not None else None, oh)
        d_fake = _disc(model, x_fake, z if enc is not None else None, oh)
        g = _bce(d_fake, 1.0) if enc is None else 0.5 * (_bce(d_fake, 1.0) + _bce(d_real, 0.0))
        k = len(xb)
        tot["d_loss"] += float(0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))) * k
        tot["g_loss"] += float(g) * k
        tot["d_real"] += float(torch.sigmoid(d_real).mean()) * k
        tot["d_fake"] += float(torch.sigmoid(d_fake).mean()) * k
        tot["real_norm"] += float(xb.norm(dim=1).sum())
        tot["fake_norm"] += float(x_fake.norm(dim=1).sum())
    model.train(was)
    return {k: v / max(len(xt), 1) for k, v in tot.items()}


def train_mixup_gan(model: ConditionalGAN, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
                    lr_g: float = 1e-3, lr_d: float = 1e-4, lr_e: float | None = None, g_steps_per_d_step: int = 5,
                    batch_size: int = 64, mixup_pairs: str = "both", alpha: float = 0.2,
                    lam_per_sample: bool = False, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                    device: torch.device | str | Engine = "cpu", seed: int = 0, show: bool = False) -> GANRun:
    """Train ``model`` with :func:`mixup_gan_step`, epoch by epoch (one D pass over ``x`` each).

    The engine (:func:`serlib.train.fit`) runs the fixed number of ``epochs``: a GAN has no
    validation score to choose its length by (the held-out losses are logged, not used).

    The mini-batch order, the noise stream and the optimisers are those of
    :func:`serlib.models.gan.train_cgan` (so ``mixup_pairs="none"`` on a model without encoder
    gives the same history); ``lr_e`` (default ``lr_g``) is the encoder's learning rate.

    Returns
    -------
    :class:`~serlib.models.gan.GANRun` whose history has, per epoch, ``epoch, d_steps, g_steps,
    d_loss, d_loss_plain, g_loss, d_real, d_fake, lam`` and with validation data
    ``val_d_loss, val_g_loss, val_d_real, val_d_fake, val_real_norm, val_fake_norm``
    (:func:`joint_losses`).

    References
    ----------
    Latif et al. 2020; Zhang et al. 2018; Sahu et al. 2018, Sec. 3.2.2.
    """
    if g_steps_per_d_step < 1:
        raise ValueError(f"g_steps_per_d_step must be >= 1, got {g_steps_per_d_step}")
    if prior.dim != model.z_dim or prior.n_components != model.n_classes:
        raise ValueError(f"{prior} does not match the GAN (z_dim={model.z_dim}, n_classes={model.n_classes})")
    eng = as_engine(device)
    model.to(eng.device).train()
    opt_g, opt_d = make_optimizers(model, lr_g, lr_d)
    enc = _encoder(model)
    if enc is not None:
        opt_g.add_param_group({"params": list(enc.parameters()), "lr": lr_g if lr_e is None else lr_e})
    xt = eng.tensor(x)
    yt = eng.tensor(y, torch.long)
    mix_rng = np.random.default_rng([seed, 20200])
    gen = torch.Generator().manual_seed(seed)
    val_gen = torch.Generator()
    state = {"d_steps": 0, "g_steps": 0}

    def step(idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        if len(idx) < 2:
            return None
        out = mixup_gan_step(model, opt_g, opt_d, xt[idx], yt[idx], prior, mixup_pairs=mixup_pairs, alpha=alpha,
                             g_steps=g_steps_per_d_step, generator=gen, rng=mix_rng, lam_per_sample=lam_per_sample,
                             autocast=eng.autocast)
        state["d_steps"] += 1
        state["g_steps"] += g_steps_per_d_step
        return out

    def epoch_end(_epoch: int) -> dict[str, float]:
        rec = {"d_steps": state["d_steps"], "g_steps": state["g_steps"]}
        if x_val is not None and y_val is not None and len(x_val):
            val_gen.manual_seed(seed + 1_000_003)  # the same validation noise every epoch
            rec.update({f"val_{k}": v for k, v in joint_losses(model, x_val, y_val, prior, generator=val_gen).items()})
        return rec

    out = fit(step, n=len(xt), batch_size=batch_size, stopping=epochs, modules={"model": model},
              optimizers={"g": opt_g, "d": opt_d}, rng=np.random.default_rng(seed), epoch_end=epoch_end,
              state=state, desc=f"mixup GAN ({mixup_pairs})", show=show, average="steps")
    hist = out.history
    first = ["epoch", "d_steps", "g_steps", "d_loss", "d_loss_plain", "g_loss", "d_real", "d_fake", "lam"]
    return GANRun(model, hist[[c for c in first if c in hist] + [c for c in hist.columns if c not in first]],
                  opt_g, opt_d)


def encode(model: MixupGAN, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The encoder's codes of ``x`` (n, z_dim) as a NumPy array."""
    return apply_in_batches(model, model.encode, x, batch_size=batch_size,
                            empty=np.zeros((0, model.z_dim), dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# A classifier trained with mixup
# ---------------------------------------------------------------------------------------------
def train_mixup_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, *, alpha: float, epochs: int,
                         lr: float = 1e-3, batch_size: int = 64, weight_decay: float = 0.0,
                         class_weight: bool = True, lam_per_sample: bool = False,
                         device: str | torch.device | Engine = "cpu",
                         seed: int = 0, show: bool = False) -> pd.DataFrame:
    """Train a classifier (logits out) on mixup-augmented data: each mini-batch is mixed with a
    permutation of itself and the loss is the soft-label cross-entropy.

    With ``class_weight`` the loss of a soft label ``y~`` is ``-sum_k w_k y~_k log p_k``,
    normalised by ``sum_k w_k y~_k`` over the batch: for one-hot labels exactly
    :class:`torch.nn.CrossEntropyLoss` with inverse-frequency weights, as in
    :func:`serlib.train.train_classifier`, to which ``alpha = 0`` delegates.

    Returns the per-epoch history (``epoch, loss``).

    References
    ----------
    Zhang et al. 2018, Sec. 2 and Fig. 1b (the one-line training loop).
    """
    if alpha == 0:
        return train_classifier(model, x, y, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                              class_weight=class_weight, device=device, seed=seed, show=show).frame()
    eng = as_engine(device)
    model.to(eng.device).train()
    xt = eng.tensor(x)
    yt = eng.tensor(y, torch.long)
    n_classes = int(np.asarray(y).max()) + 1
    onehot = F.one_hot(yt, n_classes).float()
    w = torch.ones(n_classes, device=eng.device)
    if class_weight:
        counts = torch.bincount(yt, minlength=n_classes).float()
        w = counts.sum() / torch.clamp(counts, min=1) / n_classes
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    mix_rng = np.random.default_rng([seed, 20201])

    def step(idx: np.ndarray) -> dict[str, torch.Tensor]:
        lam = sample_lam(len(idx), alpha, mix_rng, per_sample=lam_per_sample)
        mb = mixup(xt[idx], onehot[idx], lam, mix_rng.permutation(len(idx)))
        opt.zero_grad()
        with eng.autocast():
            logp = F.log_softmax(model(mb.x).float(), dim=1)
        loss = -(w * mb.y * logp).sum() / (mb.y @ w).sum()
        loss.backward()
        opt.step()
        return {"loss": loss}

    out = fit(step, n=len(xt), batch_size=batch_size, stopping=epochs, modules={"model": model},
              optimizers={"opt": opt}, rng=np.random.default_rng(seed), desc="mixup classifier", show=show)
    hist = out.history[["epoch", "loss"]].copy()
    hist["epoch"] -= 1  # 0-based, as train_classifier's history
    return hist
