"""Reference training loops of chapters 1-3, **for timing only** (not used by the book).

These are faithful copies of the hand-written epoch loops (and the step functions they called)
that chapters 1-3 ran before their training moved onto :func:`serlib.train.fit`: per-step
``float()`` reads of every loss, host-side sums. :mod:`bench.models` times each of them
against the engine version at the same number of epochs on the same machine in one run (the
"engine vs the loop it replaces" ratios of ``make bench``), and the tests use them to check that
the engine makes the same parameter updates. Nothing in the chapters imports this module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from serlib.config import get_device
from serlib.metrics import uar
from serlib.models.aae import AdversarialAutoencoder, GMMPrior, adam
from serlib.models.gan import ConditionalGAN, GANRun, LatentSampler, VanillaGAN, adversarial_losses, make_optimizers
from serlib.models.infogan import AlignedSER, InfoGAN, embed, info_nce_loss
from serlib.models.infogan import mixup as info_mixup
from serlib.models.mixup_gan import MIXUP_PAIRS, _bce, _disc, _encoder, joint_losses, mixup, real_fake_mix, sample_lam
from serlib.train import History, batches, progress, train_classifier

__all__ = ["ref_fit_mixup_classifier", "ref_train_aae", "ref_train_baseline", "ref_train_cgan", "ref_train_gan",
           "ref_train_infogan", "ref_train_mixup_gan"]


# ---------------------------------------------------------------------------------------------
# Chapter 1 (serlib.models.gan, serlib.models.aae)
# ---------------------------------------------------------------------------------------------
def _ref_adversarial_step(model: VanillaGAN | ConditionalGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                      x_real: torch.Tensor, y_real: torch.Tensor | None, latent: LatentSampler,
                      g_steps: int) -> dict[str, float]:
    n = len(x_real)
    # discriminator: one update on a real and a generated batch
    z, y_fake = latent(y_real, n)
    with torch.no_grad():
        x_fake = model.generate(z, y_fake)
    opt_d.zero_grad(set_to_none=True)
    d_real = model.discriminate(x_real, y_real)
    d_fake = model.discriminate(x_fake, y_fake)
    d_loss = 0.5 * (_bce(d_real, 1.0) + _bce(d_fake, 0.0))
    d_loss.backward()
    opt_d.step()
    # generator: g_steps updates, each on fresh noise (D's weights are frozen meanwhile)
    g_total = 0.0
    d_params = list(model.discriminator.parameters())
    for p in d_params:
        p.requires_grad_(False)
    for _ in range(g_steps):
        z, y_fake = latent(y_real, n)
        opt_g.zero_grad(set_to_none=True)
        out = model.discriminate(model.generate(z, y_fake), y_fake)
        g_loss = _bce(out, 1.0)
        g_loss.backward()
        opt_g.step()
        g_total += float(g_loss.detach())
    for p in d_params:
        p.requires_grad_(True)
    return {"d_loss": float(d_loss.detach()), "g_loss": g_total / max(g_steps, 1),
            "d_real": float(torch.sigmoid(d_real.detach()).mean()), "d_fake": float(torch.sigmoid(d_fake.detach()).mean())}


def _ref_train(model: VanillaGAN | ConditionalGAN, step: Callable[..., dict[str, float]], x: np.ndarray,
           y: np.ndarray | None, *, prior: GMMPrior | None, epochs: int, lr_g: float, lr_d: float,
           g_steps_per_d_step: int, batch_size: int, x_val: np.ndarray | None, y_val: np.ndarray | None,
           device: torch.device | str, seed: int, show: bool, desc: str,
           optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None) -> GANRun:
    if g_steps_per_d_step < 1:
        raise ValueError(f"g_steps_per_d_step must be >= 1, got {g_steps_per_d_step}")
    dev = torch.device(device)
    model.to(dev).train()
    opt_g, opt_d = optimizers if optimizers is not None else make_optimizers(model, lr_g, lr_d)
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = None if y is None else torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    val_gen = torch.Generator()
    hist = History()
    d_steps = g_steps = 0
    for epoch in progress(range(epochs), desc, enabled=show):
        sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
        n_steps = 0
        for idx in batches(len(xt), batch_size, rng):
            if len(idx) < 2:
                continue
            kwargs = {"g_steps": g_steps_per_d_step, "generator": gen}
            if yt is None:
                out = step(model, opt_g, opt_d, xt[idx], **kwargs)
            else:
                out = step(model, opt_g, opt_d, xt[idx], yt[idx], prior, **kwargs)
            for k in sums:
                sums[k] += out[k]
            n_steps += 1
            d_steps += 1
            g_steps += g_steps_per_d_step
        rec: dict[str, float] = {"epoch": epoch + 1, "d_steps": d_steps, "g_steps": g_steps}
        rec.update({k: v / max(n_steps, 1) for k, v in sums.items()})
        if x_val is not None and len(x_val):
            val_gen.manual_seed(seed + 1_000_003)  # the same validation noise every epoch
            val = adversarial_losses(model, x_val, y_val, prior, generator=val_gen)
            rec.update({f"val_{k}": v for k, v in val.items()})
        hist.log(**rec)
    model.eval()
    return GANRun(model, hist.frame(), opt_g, opt_d)


def ref_train_gan(gan: VanillaGAN, x: np.ndarray, *, epochs: int, lr_g: float = 2e-4, lr_d: float = 2e-4,
                  g_steps_per_d_step: int = 1, batch_size: int = 64, x_val: np.ndarray | None = None,
                  device: torch.device | str = "cpu", seed: int = 0) -> GANRun:
    """The reference loop of :func:`serlib.models.gan.train_gan`."""
    def step(model, opt_g, opt_d, x_real, *, g_steps, generator):
        dev = x_real.device
        return _ref_adversarial_step(model, opt_g, opt_d, x_real, None,
                                     lambda _y, n: (model.noise(n, generator=generator, device=dev), None), g_steps)

    return _ref_train(gan, step, x, None, prior=None, epochs=epochs, lr_g=lr_g, lr_d=lr_d,
                      g_steps_per_d_step=g_steps_per_d_step, batch_size=batch_size, x_val=x_val, y_val=None,
                      device=device, seed=seed, show=False, desc="GAN", optimizers=None)


def ref_train_cgan(cgan: ConditionalGAN, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
                   lr_g: float = 1e-3, lr_d: float = 1e-4, g_steps_per_d_step: int = 5, batch_size: int = 64,
                   x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                   device: torch.device | str = "cpu", seed: int = 0) -> GANRun:
    """The reference loop of :func:`serlib.models.gan.train_cgan`."""
    def step(model, opt_g, opt_d, x_real, y_real, prior, *, g_steps, generator):
        dev = x_real.device
        return _ref_adversarial_step(model, opt_g, opt_d, x_real, y_real,
                                     lambda yy, n: prior.sample(n, yy.cpu(), generator=generator, device=dev), g_steps)

    return _ref_train(cgan, step, x, y, prior=prior, epochs=epochs, lr_g=lr_g, lr_d=lr_d,
                      g_steps_per_d_step=g_steps_per_d_step, batch_size=batch_size, x_val=x_val, y_val=y_val,
                      device=device, seed=seed, show=False, desc="cGAN", optimizers=None)


def _ref_aae_step(model: AdversarialAutoencoder, opt_rec: torch.optim.Optimizer, opt_disc: torch.optim.Optimizer,
             opt_gen: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, prior: GMMPrior, *,
             generator: torch.Generator | None = None) -> dict[str, float]:
    """One mini-batch of AAE training: reconstruction phase, then regularisation phase.

    Returns the batch's reconstruction MSE, discriminator loss (mean of the real and fake
    binary cross-entropies) and encoder (generator) loss ``-log D(q(z|x))``.
    """
    bce = F.binary_cross_entropy_with_logits
    # 1. reconstruction phase: encoder + decoder
    opt_rec.zero_grad(set_to_none=True)
    _, x_hat = model(x)
    rec = F.mse_loss(x_hat, x)
    rec.backward()
    opt_rec.step()
    # 2a. regularisation phase, discriminator: prior samples are "real", codes are "fake"
    comps = y if model.label_conditioned else None
    z_prior, c_prior = prior.sample(len(x), None if comps is None else comps.cpu(), generator=generator,
                                    device=x.device)
    with torch.no_grad():
        z_fake = model.encoder(x)
    opt_disc.zero_grad(set_to_none=True)
    d_real = model.discriminate(z_prior, c_prior)
    d_fake = model.discriminate(z_fake, y)
    d_loss = 0.5 * (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)))
    d_loss.backward()
    opt_disc.step()
    # 2b. regularisation phase, generator (= encoder): fool the discriminator
    opt_gen.zero_grad(set_to_none=True)
    g_out = model.discriminate(model.encoder(x), y)
    g_loss = bce(g_out, torch.ones_like(g_out))
    g_loss.backward()
    opt_gen.step()
    return {"recon": float(rec.detach()), "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}


def ref_train_aae(model: AdversarialAutoencoder, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
              lr: float = 1e-3, adv_lr: float = 1e-4, batch_size: int = 64, device: torch.device | str = "cpu",
              seed: int = 0, show: bool = False) -> History:
    """Train ``model`` on standardised features ``x`` with labels ``y`` (ints in ``[0, n_classes)``).

    Adam optimisers: ``lr`` for the reconstruction phase (encoder + decoder), ``adv_lr`` for the
    discriminator and for the encoder's adversarial update.

    Returns
    -------
    History with one row per epoch: ``epoch, recon, d_loss, g_loss`` (means over batches).

    References
    ----------
    Makhzani et al. 2016, Sec. 2 (the two training phases); Sahu et al. 2017.
    """
    dev = torch.device(device)
    model.to(dev).train()
    if prior.n_components != model.n_classes or prior.dim != model.code_dim:
        raise ValueError(f"{prior} does not match the AAE (n_classes={model.n_classes}, code_dim={model.code_dim})")
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    opt_rec = adam(list(model.encoder.parameters()) + list(model.decoder.parameters()), lr=lr)
    opt_disc = adam(model.discriminator.parameters(), lr=adv_lr, betas=(0.5, 0.999))
    opt_gen = adam(model.encoder.parameters(), lr=adv_lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    for epoch in progress(range(epochs), "AAE", enabled=show):
        sums = {"recon": 0.0, "d_loss": 0.0, "g_loss": 0.0}
        n = 0
        for idx in batches(len(xt), batch_size, rng):
            if len(idx) < 2:
                continue
            out = _ref_aae_step(model, opt_rec, opt_disc, opt_gen, xt[idx], yt[idx], prior, generator=gen)
            for k in sums:
                sums[k] += out[k] * len(idx)
            n += len(idx)
        hist.log(epoch=epoch + 1, **{k: v / max(n, 1) for k, v in sums.items()})
    model.eval()
    return hist

# ---------------------------------------------------------------------------------------------
# Chapter 2 (serlib.models.mixup_gan)
# ---------------------------------------------------------------------------------------------
def _ref_mixup_gan_step(model: ConditionalGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                   x_real: torch.Tensor, y_real: torch.Tensor, prior: GMMPrior, *, mixup_pairs: str = "both",
                   alpha: float = 0.2, g_steps: int = 1, generator: torch.Generator | None = None,
                   rng: np.random.Generator | None = None, lam_per_sample: bool = False) -> dict[str, float]:
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
    D on the unmixed real and generated batch) and ``lam`` (mean mixing weight).

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
    with torch.no_grad():
        x_fake = model.generate(z, y_fake)
        code_real = enc(x_real) if enc is not None else None
    oh_fake = F.one_hot(y_fake.long(), model.n_classes).float()
    code_fake = z if enc is not None else None
    if mixup_pairs != "none":
        with torch.no_grad():  # diagnostics on the unmixed batch, before the update as in cgan_step
            d_real = _disc(model, x_real, code_real, onehot)
            d_fake = _disc(model, x_fake, code_fake, oh_fake)
    opt_d.zero_grad(set_to_none=True)
    lam_mean = 1.0
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
        lam_mean = float(np.mean(lams))
    d_loss.backward()
    opt_d.step()
    d_plain = 0.5 * (_bce(d_real.detach(), 1.0) + _bce(d_fake.detach(), 0.0))

    # ---- generator (and encoder): g_steps updates on fresh noise, D frozen ----------------
    g_total = 0.0
    d_params = list(model.discriminator.parameters())
    for p in d_params:
        p.requires_grad_(False)
    for _ in range(g_steps):
        z, y_fake = latent()
        opt_g.zero_grad(set_to_none=True)
        oh = F.one_hot(y_fake.long(), model.n_classes).float()
        out = _disc(model, model.generate(z, y_fake), z if enc is not None else None, oh)
        g_loss = _bce(out, 1.0)
        if enc is not None:  # the encoder fools D the other way round: real pairs -> "fake"
            g_loss = 0.5 * (g_loss + _bce(_disc(model, x_real, enc(x_real), onehot), 0.0))
        g_loss.backward()
        opt_g.step()
        g_total += float(g_loss.detach())
    for p in d_params:
        p.requires_grad_(True)
    return {"d_loss": float(d_loss.detach()), "d_loss_plain": float(d_plain), "g_loss": g_total / max(g_steps, 1),
            "d_real": float(torch.sigmoid(d_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(d_fake.detach()).mean()), "lam": lam_mean}


def ref_train_mixup_gan(model: ConditionalGAN, x: np.ndarray, y: np.ndarray, prior: GMMPrior, *, epochs: int,
                    lr_g: float = 1e-3, lr_d: float = 1e-4, lr_e: float | None = None, g_steps_per_d_step: int = 5,
                    batch_size: int = 64, mixup_pairs: str = "both", alpha: float = 0.2,
                    lam_per_sample: bool = False, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                    device: torch.device | str = "cpu", seed: int = 0, show: bool = False) -> GANRun:
    """Train ``model`` with :func:`mixup_gan_step`, epoch by epoch (one D pass over ``x`` each).

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
    dev = torch.device(device)
    model.to(dev).train()
    opt_g, opt_d = make_optimizers(model, lr_g, lr_d)
    enc = _encoder(model)
    if enc is not None:
        opt_g.add_param_group({"params": list(enc.parameters()), "lr": lr_g if lr_e is None else lr_e})
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    rng = np.random.default_rng(seed)
    mix_rng = np.random.default_rng([seed, 20200])
    gen = torch.Generator().manual_seed(seed)
    val_gen = torch.Generator()
    hist = History()
    d_steps = g_steps = 0
    keys = ("d_loss", "d_loss_plain", "g_loss", "d_real", "d_fake", "lam")
    for epoch in progress(range(epochs), f"mixup GAN ({mixup_pairs})", enabled=show):
        sums = dict.fromkeys(keys, 0.0)
        n_steps = 0
        for idx in batches(len(xt), batch_size, rng):
            if len(idx) < 2:
                continue
            out = _ref_mixup_gan_step(model, opt_g, opt_d, xt[idx], yt[idx], prior, mixup_pairs=mixup_pairs, alpha=alpha,
                                 g_steps=g_steps_per_d_step, generator=gen, rng=mix_rng,
                                 lam_per_sample=lam_per_sample)
            for k in keys:
                sums[k] += out[k]
            n_steps += 1
            d_steps += 1
            g_steps += g_steps_per_d_step
        rec: dict[str, float] = {"epoch": epoch + 1, "d_steps": d_steps, "g_steps": g_steps}
        rec.update({k: v / max(n_steps, 1) for k, v in sums.items()})
        if x_val is not None and y_val is not None and len(x_val):
            val_gen.manual_seed(seed + 1_000_003)
            rec.update({f"val_{k}": v for k, v in joint_losses(model, x_val, y_val, prior, generator=val_gen).items()})
        hist.log(**rec)
    model.eval()
    return GANRun(model, hist.frame(), opt_g, opt_d)


def ref_fit_mixup_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, *, alpha: float, epochs: int,
                         lr: float = 1e-3, batch_size: int = 64, weight_decay: float = 0.0,
                         class_weight: bool = True, lam_per_sample: bool = False, device: str | torch.device = "cpu",
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
    dev = get_device(device) if isinstance(device, str) else device
    model.to(dev).train()
    xt = torch.tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.tensor(np.asarray(y), dtype=torch.long, device=dev)
    n_classes = int(yt.max().item()) + 1
    onehot = F.one_hot(yt, n_classes).float()
    w = torch.ones(n_classes, device=dev)
    if class_weight:
        counts = torch.bincount(yt, minlength=n_classes).float()
        w = counts.sum() / torch.clamp(counts, min=1) / n_classes
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    mix_rng = np.random.default_rng([seed, 20201])
    hist = History()
    for epoch in progress(range(epochs), "mixup classifier", enabled=show):
        total = 0.0
        for idx in batches(len(xt), batch_size, rng):
            lam = sample_lam(len(idx), alpha, mix_rng, per_sample=lam_per_sample)
            mb = mixup(xt[idx], onehot[idx], lam, mix_rng.permutation(len(idx)))
            opt.zero_grad()
            logp = F.log_softmax(model(mb.x), dim=1)
            loss = -(w * mb.y * logp).sum() / (mb.y @ w).sum()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist.log(epoch=epoch, loss=total / len(xt))
    model.eval()
    return hist.frame()

# ---------------------------------------------------------------------------------------------
# Chapter 3 (serlib.models.infogan)
# ---------------------------------------------------------------------------------------------
def ref_train_baseline(model: AlignedSER, inputs: Any, rows: np.ndarray, y: np.ndarray, t: np.ndarray | None, *,
                   epochs: int, lr: float = 1e-3, batch_size: int = 32, tau: float = 0.1, align: bool = True,
                   align_weight: float = 1.0, weight_decay: float = 1e-4, device: torch.device | str = "cpu",
                   seed: int = 0, val_rows: np.ndarray | None = None) -> History:
    """Stage 1: train encoder, classifier and text projection together on ``rows``.

    ``inputs`` serves batches (:class:`~serlib.features.MelBatches` / :class:`~serlib.models.encoders.WaveBatches`); ``y`` and ``t`` are
    indexed by the same positions as ``inputs``. Adam, fixed number of epochs, no early stop
    (the paper names none). Without ``align`` only :math:`\\mathcal L_{SER}` is used, and the
    text projection is left untouched (the ablation "without cross-modal alignment").

    With ``val_rows`` (a validation part, e.g. MSP-Podcast's Development set) the UAR on those
    rows is measured after every epoch (column ``val_uar``) and the model of the best epoch is
    kept (``best`` marks it); the rows never train anything.

    Returns a per-epoch :class:`~serlib.train.History` of the mean losses.
    """
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    yt = torch.as_tensor(np.array(y), dtype=torch.long)
    tt = torch.tensor(np.asarray(t), dtype=torch.float32) if t is not None else None
    hist = History()
    rows = np.asarray(rows)
    best: tuple[float, int, dict[str, Any]] | None = None
    for epoch in range(epochs):
        sums: dict[str, float] = {}
        count = 0
        for b in batches(len(rows), batch_size, rng, drop_last=len(rows) > batch_size):
            idx = rows[b]
            h = model(inputs.batch(idx, device))
            tb = tt[idx].to(device) if tt is not None else None
            loss = model.losses(h, yt[idx].to(device), tb, tau=tau, align=align, align_weight=align_weight)
            opt.zero_grad()
            loss["total"].backward()
            opt.step()
            for k, v in loss.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
            count += len(idx)
        extra: dict[str, float] = {}
        if val_rows is not None and len(val_rows):
            val_rows = np.asarray(val_rows)
            h_val = embed(model, inputs, val_rows, device=device)
            with torch.no_grad():
                pred = model.classifier(torch.as_tensor(h_val, device=device)).argmax(1).cpu().numpy()
            extra["val_uar"] = float(uar(np.asarray(y)[val_rows], pred))
            if best is None or extra["val_uar"] > best[0]:
                best = (extra["val_uar"], epoch, copy.deepcopy(model.state_dict()))
            model.train()
        hist.log(epoch=epoch, **{f"loss_{k}": v / count for k, v in sums.items()}, **extra)
    if best is not None:
        model.load_state_dict(best[2])
        for rec in hist.records:
            rec["best"] = rec["epoch"] == best[1]
    model.eval()
    return hist


def ref_train_infogan(gan: InfoGAN, h: np.ndarray, y: np.ndarray, t: np.ndarray, *, epochs: int,
                  batch_size: int = 64, lr_g: float = 2e-4, lr_d: float = 2e-4, lr_q: float = 0.0,
                  lam: float = 1.0, use_mi: bool = True, mixup_alpha: float = 0.2, tau: float = 0.1,
                  device: torch.device | str = "cpu", seed: int = 0) -> History:
    """Stage 2: train the InfoGAN on real features ``h`` with codes ``(c, t)`` drawn from the data.

    Each step: the discriminator is trained on mixup combinations of real and generated
    features with the mixing weight as its soft "real" target (``mixup_alpha`` 0 disables
    mixup: plain real-vs-fake cross-entropy); the generator minimises the non-saturating
    adversarial loss on the same kind of mixtures plus ``lam`` times the MI terms
    :math:`\\mathcal L_{I_y}` (cross-entropy of :math:`W_y \\hat h` against ``c``) and
    :math:`\\mathcal L_{I_t}` (InfoNCE between ``t`` and :math:`W_t \\hat h`). With ``lr_q`` > 0
    the shared heads are fine-tuned too, on the MI terms of generated and real features (the
    paper's heads "can be further fine-tuned"; the real-feature terms keep them classifiers).

    ``use_mi=False`` is the ablation "without mutual information maximisation": the MI terms
    are then left out of every objective but still measured, as the quality observable.

    Logged per epoch: ``d_loss``, ``g_adv``, ``mi_y_fake``, ``mi_t_fake``, ``mi_y_real``,
    ``mi_t_real``, ``acc_y_fake`` (share of generated features that :math:`W_y` assigns to their
    code) and the discriminator's mean real/fake probabilities.

    References
    ----------
    Ahn et al. 2025, eqs. (12)-(18), Sec. 4.3; Chen et al. 2016; Zhang et al. 2018.
    """
    gan.to(device).train()
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr_d, betas=(0.5, 0.999))
    heads = list(gan.q_y.parameters()) + (list(gan.q_t.parameters()) if gan.use_text else [])
    opt_q = torch.optim.Adam(heads, lr=lr_q) if lr_q > 0 else None
    for p in heads:
        p.requires_grad_(lr_q > 0)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    H = torch.tensor(np.asarray(h), dtype=torch.float32, device=device)
    Y = torch.tensor(np.asarray(y), dtype=torch.long, device=device)
    T = torch.tensor(np.asarray(t), dtype=torch.float32, device=device)
    bce = F.binary_cross_entropy_with_logits
    hist = History()
    n = len(H)
    for epoch in range(epochs):
        acc: dict[str, float] = {}
        steps = 0
        for idx in batches(n, batch_size, rng, drop_last=n > batch_size):
            real, c, tc = H[idx], Y[idx], T[idx]
            z = torch.randn(len(idx), gan.z_dim, generator=gen).to(device)
            # discriminator
            fake = gan(z, c, tc if gan.use_text else None)
            if mixup_alpha > 0:
                mixed, lam_mix = info_mixup(real, fake.detach(), mixup_alpha, rng)
                d_loss = bce(gan.discriminator(mixed).squeeze(1), lam_mix)
            else:
                d_loss = (bce(gan.discriminator(real).squeeze(1), torch.ones(len(idx), device=device))
                          + bce(gan.discriminator(fake.detach()).squeeze(1), torch.zeros(len(idx), device=device)))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # generator (+ heads)
            if mixup_alpha > 0:
                mixed, _ = info_mixup(real, fake, mixup_alpha, rng)
                g_adv = bce(gan.discriminator(mixed).squeeze(1), torch.ones(len(idx), device=device))
            else:
                g_adv = bce(gan.discriminator(fake).squeeze(1), torch.ones(len(idx), device=device))
            mi_y_fake = F.cross_entropy(gan.q_y(fake), c)
            mi_t_fake = info_nce_loss(tc, gan.q_t(fake), tau) if gan.use_text else torch.zeros((), device=device)
            g_loss = g_adv + (lam * (mi_y_fake + mi_t_fake) if use_mi else 0.0)
            with torch.set_grad_enabled(opt_q is not None):
                mi_y_real = F.cross_entropy(gan.q_y(real), c)
                mi_t_real = info_nce_loss(tc, gan.q_t(real), tau)
            opt_g.zero_grad()
            if opt_q is not None:
                opt_q.zero_grad()
                q_loss = mi_y_real + (mi_t_real if gan.use_text else 0.0)
                (g_loss + q_loss).backward()
                opt_q.step()
            else:
                g_loss.backward()
            opt_g.step()
            with torch.no_grad():
                vals = {
                    "d_loss": d_loss, "g_adv": g_adv, "mi_y_fake": mi_y_fake, "mi_y_real": mi_y_real,
                    "mi_t_fake": mi_t_fake if gan.use_text else torch.tensor(float("nan")),
                    "mi_t_real": mi_t_real,
                    "acc_y_fake": (gan.q_y(fake).argmax(1) == c).float().mean(),
                    "d_real": torch.sigmoid(gan.discriminator(real)).mean(),
                    "d_fake": torch.sigmoid(gan.discriminator(fake)).mean(),
                }
            for k, v in vals.items():
                acc[k] = acc.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v)
            steps += 1
        hist.log(epoch=epoch, **{k: v / max(steps, 1) for k, v in acc.items()})
    gan.eval()
    for p in heads:
        p.requires_grad_(True)
    return hist

