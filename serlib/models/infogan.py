"""InfoGAN feature augmentation with cross-modal alignment (Ahn et al. 2025).

Three stages, each a function here; the notebook's experiment module strings them together.

**Stage 1 -- the baseline SER model** (:class:`AlignedSER`, :func:`train_baseline`). An audio
encoder (:mod:`serlib.models.encoders`) gives :math:`h = f_a(x_a)`; a linear classifier gives
:math:`\\hat y = \\mathrm{softmax}(W_y h + b_y)` trained with cross-entropy
:math:`\\mathcal L_{SER}`. Cross-modal alignment to a frozen text embedding :math:`t` adds the
CLAP-style contrastive loss between :math:`t` and :math:`h` (eq. 5, :func:`contrastive_loss`)
and the InfoNCE loss between :math:`t` and the projection :math:`\\hat t = W_t h + b_t`
(eqs. 6-7, :func:`info_nce_loss`). All losses are summed.

**Stage 2 -- InfoGAN** (:class:`InfoGAN`, :func:`train_infogan`). A *linear* generator
:math:`\\hat h = G(z, c, t)` and a *linear* discriminator (no activation, as in the paper),
trained with mixup (Zhang et al. 2018) on real/generated pairs; the mutual-information terms
reuse stage 1's layers -- cross-entropy through :math:`W_y` for the emotion code :math:`c`
(eqs. 15-16) and InfoNCE through :math:`W_t` for the text code :math:`t` (eqs. 17-18). The
Q-heads *are* those layers (the same ``nn.Linear`` objects), not copies.

**Stage 3 -- augmentation** (:func:`stage3_ser`, :func:`multimodal_combinations`). Everything
but the emotion classifier is frozen; the classifier is fine-tuned on :math:`h` plus as many
generated :math:`\\hat h` (SER case, 2x data), or a new linear layer is trained on the four
concatenations :math:`\\{h, \\hat h\\} \\times \\{t, t'\\}` with :math:`t' = W_t \\hat h + b_t`
(multimodal case, 4x data). :func:`generate_balanced` generates only for minority classes, from
the emotion label alone (the MSP-Podcast setting).

References
----------
C.-S. Ahn, R. Rana, S. Sivadas, C. Busso, J. C. Rajapakse. Improving speech emotion
recognition with mutual information regularized generative model. 2025.

X. Chen, Y. Duan, R. Houthooft, J. Schulman, I. Sutskever, P. Abbeel. InfoGAN: interpretable
representation learning by information maximizing generative adversarial nets. NeurIPS 2016.

B. Elizalde, S. Deshmukh, M. Al Ismail, H. Wang. CLAP: learning audio concepts from natural
language supervision. ICASSP 2023.

A. van den Oord, Y. Li, O. Vinyals. Representation learning with contrastive predictive
coding. arXiv:1807.03748, 2018.

H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. mixup: beyond empirical risk minimization.
ICLR 2018.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_choice
from ..metrics import uar
from ..train import Engine, History, Stopping, as_engine, fit

__all__ = [
    "AlignedSER",
    "InfoGAN",
    "contrastive_loss",
    "embed",
    "frozen_report",
    "generate_balanced",
    "generate_like",
    "info_nce_loss",
    "infogan_step",
    "mixup",
    "multimodal_combinations",
    "predicted_text",
    "quiet_training",
    "sample_text_codes",
    "stage3_ser",
    "train_baseline",
    "train_infogan",
]

MULTIMODAL_COMBINATIONS: tuple[str, ...] = ("h+t", "h_hat+t", "h+t'", "h_hat+t'")
"""The four audio/text input combinations of the multimodal case (paper Sec. 3.3)."""


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------
def _nce(anchor: torch.Tensor, other: torch.Tensor, tau: float) -> torch.Tensor:
    """-mean_i log softmax_j(sim(anchor_i, other_j) / tau)[i] with cosine similarity."""
    a = F.normalize(anchor, dim=-1)
    o = F.normalize(other, dim=-1)
    logits = a @ o.T / tau
    target = torch.arange(len(a), device=a.device)
    return F.cross_entropy(logits, target)


def contrastive_loss(t: torch.Tensor, h: torch.Tensor, tau: float = 0.1, *, symmetric: bool = False) -> torch.Tensor:
    """CLAP-style contrastive loss between text embeddings ``t`` and audio features ``h`` (eq. 5).

    .. math:: \\mathcal L_{CL} = -\\log \\frac{\\exp(\\mathrm{sim}(t^i, h^i)/\\tau)}
              {\\sum_{j=1}^B \\exp(\\mathrm{sim}(t^i, h^j)/\\tau)}

    averaged over the mini-batch, with cosine similarity. The minimum is reached when every
    pair ``(t_i, h_i)`` is more similar than any mismatched pair. ``symmetric`` adds the
    audio-to-text direction (CLAP's form); the paper writes the text-to-audio one only.

    References
    ----------
    Ahn et al. 2025, eq. (5); Elizalde et al. 2023 (CLAP).
    """
    if t.shape != h.shape:
        raise ValueError(f"contrastive_loss needs t and h of the same shape, got {tuple(t.shape)} and {tuple(h.shape)}")
    loss = _nce(t, h, tau)
    if symmetric:
        loss = 0.5 * (loss + _nce(h, t, tau))
    return loss


def info_nce_loss(t: torch.Tensor, t_hat: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """InfoNCE between text embeddings ``t`` and predicted text embeddings ``t_hat = W_t h + b_t``.

    Same form as :func:`contrastive_loss` (eqs. 7 and 18); :math:`\\log B - \\mathcal L` is a
    lower bound on the mutual information :math:`I(t; h)` (van den Oord et al. 2018), which is
    why the paper reads it as an MI term.

    References
    ----------
    Ahn et al. 2025, eqs. (6)-(7), (17)-(18); van den Oord et al. 2018.
    """
    return _nce(t, t_hat, tau)


def mixup(real: torch.Tensor, fake: torch.Tensor, alpha: float,
          rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Convex combinations ``lam * real + (1 - lam) * fake`` with ``lam ~ Beta(alpha, alpha)`` per row.

    Returns the mixed batch and ``lam`` (the soft "real" target for the discriminator).

    References
    ----------
    Zhang et al. 2018 (mixup), Sec. 3.7 (GANs); Ahn et al. 2025, Sec. 4.3.
    """
    rng = rng if rng is not None else np.random.default_rng()
    lam = torch.as_tensor(rng.beta(alpha, alpha, real.shape[0]), dtype=real.dtype, device=real.device)
    return lam[:, None] * real + (1 - lam[:, None]) * fake, lam


# ---------------------------------------------------------------------------------------------
# Stage 1: the aligned baseline
# ---------------------------------------------------------------------------------------------
class AlignedSER(nn.Module):
    """Audio encoder + linear emotion classifier + text projection: the stage-1 model.

    Parameters
    ----------
    encoder
        :math:`f_a`, mapping a batch dict to ``h`` of size ``h_dim``.
    h_dim, t_dim
        Sizes of ``h`` and of the text embedding ``t``. The contrastive loss compares ``t``
        with ``h`` directly (eq. 5), as when AST (768) meets BERT-base (768); if the sizes
        differ, a linear projection of ``h`` to ``t_dim`` (CLAP's audio projection) is used
        for that loss only.
    n_classes
        Number of emotions.

    Attributes
    ----------
    classifier
        :math:`(W_y, b_y)` -- ``nn.Linear(h_dim, n_classes)``; InfoGAN's Q-head for ``c``.
    text_head
        :math:`(W_t, b_t)` -- ``nn.Linear(h_dim, t_dim)``; InfoGAN's Q-head for ``t``.

    References
    ----------
    Ahn et al. 2025, Sec. 3.1, eqs. (1)-(7).
    """

    def __init__(self, encoder: nn.Module, h_dim: int, n_classes: int, t_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = nn.Linear(h_dim, n_classes)
        self.text_head = nn.Linear(h_dim, t_dim)
        self.clap_proj: nn.Module = nn.Identity() if h_dim == t_dim else nn.Linear(h_dim, t_dim)
        self.h_dim, self.t_dim, self.n_classes = h_dim, t_dim, n_classes

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """:math:`h = f_a(x_a)`."""
        return self.encoder(batch)

    def losses(self, h: torch.Tensor, y: torch.Tensor, t: torch.Tensor | None, *, tau: float,
               align: bool, align_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """:math:`\\mathcal L_{SER}` (+ :math:`\\mathcal L_{CL} + \\mathcal L_{MI}` if ``align``) and their sum."""
        out = {"ser": F.cross_entropy(self.classifier(h), y)}
        total = out["ser"]
        if align:
            if t is None:
                raise ValueError("cross-modal alignment needs text embeddings t")
            out["cl"] = contrastive_loss(t, self.clap_proj(h), tau)
            out["mi"] = info_nce_loss(t, self.text_head(h), tau)
            total = total + align_weight * (out["cl"] + out["mi"])
        out["total"] = total
        return out


def train_baseline(model: AlignedSER, inputs: Any, rows: np.ndarray, y: np.ndarray, t: np.ndarray | None, *,
                   epochs: int, lr: float = 1e-3, batch_size: int = 32, tau: float = 0.1, align: bool = True,
                   align_weight: float = 1.0, weight_decay: float = 1e-4, device: torch.device | str | Engine = "cpu",
                   seed: int = 0, val_rows: np.ndarray | None = None, patience: int = 0,
                   min_delta: float = 0.0) -> History:
    """Stage 1: train encoder, classifier and text projection together on ``rows``.

    ``inputs`` serves batches (:class:`~serlib.features.MelBatches` /
    :class:`~serlib.models.encoders.WaveBatches`); ``y`` and ``t`` are indexed by the same
    positions as ``inputs``. Adam, at most ``epochs`` epochs on the engine
    (:func:`serlib.train.fit`). Without ``align`` only :math:`\\mathcal L_{SER}` is used, and the
    text projection is left untouched (the ablation "without cross-modal alignment").

    With ``val_rows`` (a validation part, e.g. MSP-Podcast's Development set) the UAR on those
    rows is measured after every epoch (column ``val_uar``) and the model of the best epoch is
    kept (``best`` marks it); with ``patience`` > 0 training stops after that many epochs
    without a UAR gain larger than ``min_delta``. The rows never train anything. Without
    ``val_rows`` the fixed ``epochs`` are trained (the paper names no early stop).

    Returns a per-epoch :class:`~serlib.train.History` of the mean losses (``epoch`` 0-based).
    """
    eng = as_engine(device)
    dev = eng.device
    model.to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    yt = torch.as_tensor(np.array(y), dtype=torch.long)
    tt = torch.tensor(np.asarray(t), dtype=torch.float32) if t is not None else None
    rows = np.asarray(rows)

    def step(b: np.ndarray) -> dict[str, torch.Tensor]:
        idx = rows[b]
        with eng.autocast():
            h = model(inputs.batch(idx, dev))
            tb = tt[idx].to(dev) if tt is not None else None
            loss = model.losses(h.float(), yt[idx].to(dev), tb, tau=tau, align=align, align_weight=align_weight)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        return {f"loss_{k}": v for k, v in loss.items()}

    validate = None
    if val_rows is not None and len(val_rows):
        val_rows = np.asarray(val_rows)
        y_val = np.asarray(y)[val_rows]

        def validate() -> dict[str, float]:
            h_val = embed(model, inputs, val_rows, device=dev)
            with torch.no_grad():
                pred = model.classifier(torch.as_tensor(h_val, device=dev)).argmax(1).cpu().numpy()
            return {"val_uar": float(uar(y_val, pred))}

    out = fit(step, n=len(rows), batch_size=batch_size, stopping=Stopping(epochs, patience, min_delta),
              modules={"model": model}, optimizers={"opt": opt}, rng=np.random.default_rng(seed),
              drop_last=len(rows) > batch_size, validate=validate, score=lambda m: m["val_uar"], desc="stage 1")
    hist = History()
    for rec in out.history.to_dict("records"):
        rec["epoch"] = int(rec["epoch"]) - 1
        if validate is not None:
            rec["best"] = rec["epoch"] == out.best_epoch - 1
        hist.log(**rec)
    return hist


@torch.no_grad()
def embed(model: AlignedSER, inputs: Any, rows: Sequence[int] | None = None, *, batch_size: int = 64,
          device: torch.device | str = "cpu") -> np.ndarray:
    """:math:`h = f_a(x_a)` for ``rows`` (all by default), in eval mode, as float32 numpy."""
    model.to(device).eval()
    rows = np.arange(len(inputs)) if rows is None else np.asarray(rows)
    out = [model(inputs.batch(rows[i : i + batch_size], device)).float().cpu()
           for i in range(0, len(rows), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.h_dim), np.float32)


# ---------------------------------------------------------------------------------------------
# Stage 2: InfoGAN
# ---------------------------------------------------------------------------------------------
def _net(n_in: int, n_out: int, hidden: int) -> nn.Module:
    if hidden <= 0:
        return nn.Linear(n_in, n_out)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_out))


class InfoGAN(nn.Module):
    """Generator :math:`\\hat h = G(z, c, t)`, discriminator :math:`D(h)`, and the shared Q-heads.

    Parameters
    ----------
    h_dim, n_classes, t_dim, z_dim
        Sizes of the feature, the emotion code (one-hot), the text code and the noise.
    classifier
        Stage 1's :math:`(W_y, b_y)`; becomes :attr:`q_y` (the *same* module).
    text_head
        Stage 1's :math:`(W_t, b_t)`; becomes :attr:`q_t` (the *same* module).
    use_text
        Feed the text code ``t`` to the generator (False: :math:`G(z, c)`, the ablation
        "without text embedding").
    hidden
        0 (the paper): generator and discriminator are single linear layers without
        activation. > 0 adds one hidden layer of that width (a documented departure).

    References
    ----------
    Ahn et al. 2025, Sec. 3.2 and 4.3; Chen et al. 2016 (InfoGAN).
    """

    def __init__(self, h_dim: int, n_classes: int, t_dim: int, z_dim: int, classifier: nn.Linear,
                 text_head: nn.Linear, *, use_text: bool = True, hidden: int = 0) -> None:
        super().__init__()
        self.h_dim, self.n_classes, self.t_dim, self.z_dim = h_dim, n_classes, t_dim, z_dim
        self.use_text = use_text
        self.generator = _net(z_dim + n_classes + (t_dim if use_text else 0), h_dim, hidden)
        self.discriminator = _net(h_dim, 1, hidden)
        self.q_y = classifier
        self.q_t = text_head

    def forward(self, z: torch.Tensor, c: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`\\hat h = G(z, c, t)` with ``c`` integer class codes."""
        parts = [z, F.one_hot(c, self.n_classes).to(z.dtype)]
        if self.use_text:
            if t is None:
                raise ValueError("this generator takes a text code t")
            parts.append(t)
        return self.generator(torch.cat(parts, dim=1))

    @torch.no_grad()
    def generate(self, c: np.ndarray, t: np.ndarray | None, *, seed: int = 0,
                 device: torch.device | str = "cpu") -> np.ndarray:
        """Generated features for class codes ``c`` and text codes ``t`` (fresh noise), as numpy."""
        self.to(device).eval()
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(len(c), self.z_dim, generator=g).to(device)
        ct = torch.tensor(np.asarray(c), dtype=torch.long, device=device)
        tt = (torch.tensor(np.asarray(t), dtype=torch.float32, device=device)
              if (self.use_text and t is not None) else None)
        return self(z, ct, tt).float().cpu().numpy()

    def gan_parameters(self) -> list[nn.Parameter]:
        """Parameters of G and D only (not the shared heads)."""
        return list(self.generator.parameters()) + list(self.discriminator.parameters())


def train_infogan(gan: InfoGAN, h: np.ndarray, y: np.ndarray, t: np.ndarray, *, epochs: int,
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
    eng = as_engine(device)
    dev = eng.device
    gan.to(dev).train()
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr_d, betas=(0.5, 0.999))
    heads = list(gan.q_y.parameters()) + (list(gan.q_t.parameters()) if gan.use_text else [])
    opt_q = torch.optim.Adam(heads, lr=lr_q) if lr_q > 0 else None
    for p in heads:
        p.requires_grad_(lr_q > 0)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    H, Y, T = eng.tensor(h), eng.tensor(y, torch.long), eng.tensor(t)
    n = len(H)
    step = functools.partial(infogan_step, gan, opt_g, opt_d, opt_q, lam=lam, use_mi=use_mi,
                             mixup_alpha=mixup_alpha, tau=tau, rng=rng, autocast=eng.autocast)
    optimizers = {"g": opt_g, "d": opt_d, **({"q": opt_q} if opt_q is not None else {})}
    out = fit(lambda idx: step(H[idx], Y[idx], T[idx], torch.randn(len(idx), gan.z_dim, generator=gen).to(dev)),
              n=n, batch_size=batch_size, stopping=epochs, modules={"gan": gan}, optimizers=optimizers, rng=rng,
              drop_last=n > batch_size, desc="InfoGAN", average="steps")
    for p in heads:
        p.requires_grad_(True)
    hist = History()
    for rec in out.history.to_dict("records"):
        hist.log(**{**rec, "epoch": int(rec["epoch"]) - 1})
    return hist


def infogan_step(gan: InfoGAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 opt_q: torch.optim.Optimizer | None, real: torch.Tensor, c: torch.Tensor, tc: torch.Tensor,
                 z: torch.Tensor, *, lam: float, use_mi: bool, mixup_alpha: float, tau: float,
                 rng: np.random.Generator,
                 autocast: Callable[[], AbstractContextManager[Any]] = nullcontext) -> dict[str, torch.Tensor]:
    """One InfoGAN step on real features ``real`` with codes ``(c, tc)`` and noise ``z``.

    The discriminator is updated once, then the generator (and, with ``opt_q``, the shared
    heads) once; see :func:`train_infogan` for the objectives. Returns the step's losses and
    diagnostics as tensors on the device (nothing is read back to the host).
    """
    bce = F.binary_cross_entropy_with_logits
    dev, k = real.device, len(real)
    ones, zeros = torch.ones(k, device=dev), torch.zeros(k, device=dev)
    with autocast():
        # discriminator
        fake = gan(z, c, tc if gan.use_text else None)
        if mixup_alpha > 0:
            mixed, lam_mix = mixup(real, fake.detach(), mixup_alpha, rng)
            d_loss = bce(gan.discriminator(mixed).squeeze(1).float(), lam_mix)
        else:
            d_loss = (bce(gan.discriminator(real).squeeze(1).float(), ones)
                      + bce(gan.discriminator(fake.detach()).squeeze(1).float(), zeros))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    with autocast():
        # generator (+ heads)
        if mixup_alpha > 0:
            mixed, _ = mixup(real, fake, mixup_alpha, rng)
            g_adv = bce(gan.discriminator(mixed).squeeze(1).float(), ones)
        else:
            g_adv = bce(gan.discriminator(fake).squeeze(1).float(), ones)
        mi_y_fake = F.cross_entropy(gan.q_y(fake), c)
        mi_t_fake = info_nce_loss(tc, gan.q_t(fake), tau) if gan.use_text else torch.zeros((), device=dev)
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
    with torch.no_grad(), autocast():
        return {
            "d_loss": d_loss.detach(), "g_adv": g_adv.detach(), "mi_y_fake": mi_y_fake.detach(),
            "mi_y_real": mi_y_real.detach(),
            "mi_t_fake": mi_t_fake.detach() if gan.use_text else torch.full((), float("nan"), device=dev),
            "mi_t_real": mi_t_real.detach(),
            "acc_y_fake": (gan.q_y(fake).argmax(1) == c).float().mean(),
            "d_real": torch.sigmoid(gan.discriminator(real).float()).mean(),
            "d_fake": torch.sigmoid(gan.discriminator(fake).float()).mean(),
        }


# ---------------------------------------------------------------------------------------------
# Stage 3: augmentation
# ---------------------------------------------------------------------------------------------
def sample_text_codes(t: np.ndarray, y: np.ndarray, classes: np.ndarray, *, mode: str = "class_gaussian",
                      seed: int = 0) -> np.ndarray:
    """Text codes for generation from the emotion label alone.

    ``class_gaussian``: draw from a diagonal Gaussian fitted to the training text embeddings of
    each requested class, then scale to the class's mean norm (no real transcript is used for
    a generated sample). ``resample``: draw a real training embedding of that class.
    """
    check_choice("mode", mode, ("class_gaussian", "resample"))
    rng = np.random.default_rng(seed)
    out = np.zeros((len(classes), t.shape[1]), np.float32)
    for k in np.unique(classes):
        where = np.flatnonzero(classes == k)
        pool = t[y == k]
        if len(pool) == 0:
            raise ValueError(f"no training text embedding of class {k} to sample from")
        if mode == "resample":
            out[where] = pool[rng.integers(0, len(pool), len(where))]
        else:
            mu, sd = pool.mean(0), pool.std(0) + 1e-6
            draw = mu + sd * rng.standard_normal((len(where), t.shape[1]))
            norm = np.linalg.norm(pool, axis=1).mean()
            out[where] = draw / np.linalg.norm(draw, axis=1, keepdims=True) * norm
    return out


def generate_like(gan: InfoGAN, y: np.ndarray, t: np.ndarray, factor: int = 1, *, seed: int = 0,
                  device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``factor`` generated features per real sample, with that sample's codes ``(c_i, t_i)``.

    Returns ``(h_hat, c, t_code)``; ``factor=1`` doubles the data (the paper's SER case).
    """
    c = np.tile(np.asarray(y), factor)
    tc = np.tile(np.asarray(t), (factor, 1))
    return gan.generate(c, tc, seed=seed, device=device), c, tc


def generate_balanced(gan: InfoGAN, y: np.ndarray, t: np.ndarray, *, per_class: int | None = None,
                      text_mode: str = "class_gaussian", seed: int = 0,
                      device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generated features from the emotion label alone.

    ``per_class=None``: only for the minority classes, until every class has as many samples as
    the largest (the paper's MSP-Podcast setting). ``per_class=n``: ``n`` for every class.
    Text codes come from :func:`sample_text_codes`.
    """
    y = np.asarray(y)
    counts = np.bincount(y, minlength=gan.n_classes)
    want = (counts.max() - counts) if per_class is None else np.full(gan.n_classes, per_class)
    c = np.concatenate([np.full(int(n), k) for k, n in enumerate(want)]).astype(int)
    if len(c) == 0:
        return np.zeros((0, gan.h_dim), np.float32), c, np.zeros((0, t.shape[1]), np.float32)
    tc = sample_text_codes(t, y, c, mode=text_mode, seed=seed)
    return gan.generate(c, tc, seed=seed + 1, device=device), c, tc


def frozen_report(*modules: nn.Module) -> dict[str, bool]:
    """``{parameter name: requires_grad}`` over ``modules`` (shared parameters listed once)."""
    out: dict[str, bool] = {}
    seen: set[int] = set()
    for i, m in enumerate(modules):
        for name, p in m.named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out[f"{i}.{name}"] = p.requires_grad
    return out


def stage3_ser(model: AlignedSER, gan: InfoGAN | None, h: np.ndarray, y: np.ndarray,
               h_gen: np.ndarray | None = None, y_gen: np.ndarray | None = None, *, epochs: int,
               lr: float = 1e-3, batch_size: int = 64, class_weight: bool = False,
               device: torch.device | str = "cpu", seed: int = 0) -> History:
    """Stage 3, SER case: freeze everything but :math:`(W_y, b_y)` and fine-tune it on real + generated.

    Every parameter of the encoder, the text projection and the InfoGAN's generator and
    discriminator gets ``requires_grad=False`` (and stays so); only ``model.classifier`` trains,
    on ``h`` concatenated with ``h_gen`` (labels ``y_gen``).

    References
    ----------
    Ahn et al. 2025, Sec. 3.3.
    """
    from ..train import train_classifier

    for m in [model] + ([gan] if gan is not None else []):
        for p in m.parameters():
            p.requires_grad_(False)
    for p in model.classifier.parameters():
        p.requires_grad_(True)
    x = h if h_gen is None or len(h_gen) == 0 else np.concatenate([h, h_gen])
    yy = y if y_gen is None or len(y_gen) == 0 else np.concatenate([y, y_gen])
    with quiet_training():
        return train_classifier(model.classifier, x, yy, epochs=epochs, lr=lr, batch_size=batch_size,
                              class_weight=class_weight, device=device, seed=seed)


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Silence torch's "converting a tensor with requires_grad=True to a scalar" notice (loss logging)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad", category=UserWarning)
        yield


@torch.no_grad()
def predicted_text(head: nn.Linear, h: np.ndarray, *, normalise: bool = True) -> np.ndarray:
    """:math:`t' = W_t h + b_t` (L2-normalised by default: InfoNCE only fixes its direction)."""
    p = next(head.parameters())
    out = head(torch.as_tensor(h, dtype=p.dtype, device=p.device)).cpu().numpy()
    if normalise:
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)
    return out.astype(np.float32)


def multimodal_combinations(h: np.ndarray, h_hat: np.ndarray, t: np.ndarray, t_prime: np.ndarray,
                            y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The multimodal training set: every concatenation of {h, h_hat} x {t, t'} (4x data).

    Row ``i`` of each input belongs to the same training utterance (``h_hat[i]`` generated with
    its codes, ``t_prime[i] = W_t h_hat[i] + b_t``), so all four rows carry label ``y[i]``.

    Returns
    -------
    (X of shape (4n, d_h + d_t), labels (4n,), combination name per row from
    :data:`MULTIMODAL_COMBINATIONS`)

    References
    ----------
    Ahn et al. 2025, Sec. 3.3 and Fig. 1 (bottom right).
    """
    n = len(y)
    for name, a in (("h", h), ("h_hat", h_hat), ("t", t), ("t_prime", t_prime)):
        if len(a) != n:
            raise ValueError(f"{name} has {len(a)} rows, y has {n}")
    audio = {"h": h, "h_hat": h_hat}
    text = {"t": t, "t'": t_prime}
    xs, names = [], []
    for combo in MULTIMODAL_COMBINATIONS:
        a, b = combo.split("+")
        xs.append(np.concatenate([audio[a], text[b]], axis=1))
        names.append(np.full(n, combo))
    return np.concatenate(xs).astype(np.float32), np.tile(np.asarray(y), 4), np.concatenate(names)
