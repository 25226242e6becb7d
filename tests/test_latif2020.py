"""Chapter 2 (Latif et al. 2020, reconstructed): mixup, the mixup-GAN step against chapter 1's
cGAN step, the BiGAN encoder and projection discriminator, the configuration, the published
numbers, and the notebook in the smoke profile."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from serlib.claims import RUN_HEADER
from serlib.config import ParameterError, project_root
from serlib.experiments import latif2020 as L
from serlib.models.aae import GMMPrior
from serlib.models.gan import ConditionalGAN, cgan_step, make_optimizers, train_cgan
from serlib.models.mixup_gan import (
    MixupGAN,
    ProjectionDiscriminator,
    joint_losses,
    mixup,
    mixup_gan_step,
    real_fake_mix,
    sample_lam,
    train_mixup_classifier,
    train_mixup_gan,
)
from tests._pins import check_pins

ROOT = project_root()
NOTEBOOK = ROOT / "notebooks" / "02_latif2020_mixup_gan.py"


# small networks train faster, and reproducibly, on one thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(n: int = 12, d: int = 20, k: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.arange(n) % k


# ------------------------------------------------------------------------------ mixup
def test_sample_lam_follows_the_configuration():
    from scipy import stats

    rng = np.random.default_rng(0)
    assert np.array_equal(sample_lam(5, 0.0, rng), np.ones(5))  # alpha = 0: no mixing
    per_batch = sample_lam(7, 0.4, rng)
    assert per_batch.shape == (7,) and np.all(per_batch == per_batch[0])
    for alpha in (0.2, 1.0):
        lam = sample_lam(4000, alpha, np.random.default_rng(1), per_sample=True)
        assert lam.min() >= 0 and lam.max() <= 1 and len(np.unique(lam)) > 3000  # one draw per example
        # the draws are Beta(alpha, alpha): a KS test does not reject it ...
        assert stats.kstest(lam, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    # ... and does reject a wrong alpha
    lam = sample_lam(4000, 0.2, np.random.default_rng(1), per_sample=True)
    assert stats.kstest(lam, stats.beta(1.0, 1.0).cdf).pvalue < 1e-6
    with pytest.raises(ValueError):
        sample_lam(3, -0.1, rng)


def test_mixup_outputs_are_convex_combinations():
    x, y = _batch()
    onehot = F.one_hot(y, 4).float()
    rng = np.random.default_rng(3)
    lam = sample_lam(len(x), 0.4, rng, per_sample=True)
    perm = rng.permutation(len(x))
    mb = mixup(x, onehot, lam, perm)
    lam_t = torch.as_tensor(lam)[:, None]
    assert torch.allclose(mb.x, lam_t * x + (1 - lam_t) * x[perm])
    assert torch.allclose(mb.y, lam_t * onehot + (1 - lam_t) * onehot[perm])
    lo, hi = torch.minimum(x, x[perm]), torch.maximum(x, x[perm])
    assert torch.all(mb.x >= lo - 1e-6) and torch.all(mb.x <= hi + 1e-6)
    assert torch.all(mb.y >= 0) and torch.allclose(mb.y.sum(1), torch.ones(len(x)))
    # the weight of the row's own label is lam (plus 1 - lam when the partner has the same label)
    same = y == y[perm]
    own = mb.y[torch.arange(len(x)), y]
    assert torch.allclose(own, torch.where(same, torch.ones_like(own), lam_t[:, 0]))
    # lam = 1 leaves the batch as it is
    ident = mixup(x, onehot, np.ones(len(x), dtype=np.float32), perm)
    assert torch.equal(ident.x, x) and torch.equal(ident.y, onehot)


def test_real_fake_soft_targets_equal_lam():
    real, fake = _batch(8)[0], _batch(8, seed=1)[0]
    lam = sample_lam(8, 0.2, np.random.default_rng(0), per_sample=True)
    mixed, target = real_fake_mix(real, fake, lam)
    assert target.shape == (8, 1)
    assert torch.allclose(target[:, 0], torch.as_tensor(lam))
    lam_t = torch.as_tensor(lam)[:, None]
    assert torch.allclose(mixed, lam_t * real + (1 - lam_t) * fake)


@pytest.mark.parametrize("encoder", [False, True])
def test_step_trains_discriminator_against_target_lam(encoder):
    """In the real-fake step D minimises BCE(D(lam [x, E(x)] + (1 - lam) [G(z), z]), lam)."""
    torch.manual_seed(0)
    model = MixupGAN(20, 3, 4, g_hidden=[16], d_hidden=[16], e_hidden=[16] if encoder else None,
                     conditioning="projection")
    prior = GMMPrior(4, 3)
    x, y = _batch()
    # replay the step's random draws: noise from the torch generator, lam from the numpy rng
    z, yf = prior.sample(len(x), y, generator=torch.Generator().manual_seed(5))
    lam = sample_lam(len(x), 0.3, np.random.default_rng(9))
    with torch.no_grad():
        fake = model.generate(z, yf)
        real_j = torch.cat([x, model.encode(x)], 1) if encoder else x
        fake_j = torch.cat([fake, z], 1) if encoder else fake
        mixed, target = real_fake_mix(real_j, fake_j, lam)
        logits = model.discriminator(torch.cat([mixed, F.one_hot(y, 4).float()], 1))
        expected = F.binary_cross_entropy_with_logits(logits, target)
    opt_g, opt_d = make_optimizers(model, 1e-3, 1e-3)
    out = mixup_gan_step(model, opt_g, opt_d, x, y, prior, mixup_pairs="real_fake", alpha=0.3, g_steps=1,
                         generator=torch.Generator().manual_seed(5), rng=np.random.default_rng(9))
    assert out["d_loss"] == pytest.approx(float(expected), rel=1e-5)
    assert out["lam"] == pytest.approx(float(lam.mean()))
    assert torch.allclose(target[:, 0], torch.as_tensor(lam))


# ------------------------------------------------------------------------------ reduces to chapter 1
def test_mixup_none_reduces_to_cgan_step_exactly():
    torch.manual_seed(0)
    ref = ConditionalGAN(20, 2, 4, g_hidden=[16], d_hidden=[16])
    ours = copy.deepcopy(ref)
    prior = GMMPrior(4, 2)
    x, y = _batch()
    opt_ref, opt_ours = make_optimizers(ref, 1e-3, 1e-4), make_optimizers(ours, 1e-3, 1e-4)
    g_ref, g_ours = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(4):
        a = cgan_step(ref, *opt_ref, x, y, prior, g_steps=5, generator=g_ref)
        b = mixup_gan_step(ours, *opt_ours, x, y, prior, mixup_pairs="none", alpha=0.4, g_steps=5, generator=g_ours)
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert a[key] == b[key], key  # the same draws, the same arithmetic: bit for bit
        assert b["d_loss_plain"] == b["d_loss"]
    for p, q in zip(ref.parameters(), ours.parameters()):
        assert torch.equal(p, q)


def test_train_mixup_gan_none_reproduces_train_cgan():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 20)).astype(np.float32)
    y = np.arange(40) % 4
    prior = GMMPrior(4, 2)
    torch.manual_seed(1)
    ref = ConditionalGAN(20, 2, 4, g_hidden=[16], d_hidden=[16])
    ours = copy.deepcopy(ref)
    h_ref = train_cgan(ref, x, y, prior, epochs=2, batch_size=16, x_val=x[:8], y_val=y[:8]).history
    h_ours = train_mixup_gan(ours, x, y, prior, epochs=2, batch_size=16, mixup_pairs="none", x_val=x[:8],
                             y_val=y[:8]).history
    cols = [c for c in h_ref.columns if c in h_ours.columns]
    assert {"d_loss", "g_loss", "val_d_loss", "val_g_loss"} <= set(cols)
    pd.testing.assert_frame_equal(h_ref[cols], h_ours[cols])


# ------------------------------------------------------------------------------ the model
def test_projection_discriminator_is_linear_in_the_soft_label():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(10, 4, [8])
    x = torch.randn(5, 10)
    e = torch.eye(4)
    lam = 0.3
    soft = lam * e[1] + (1 - lam) * e[2]
    out = d(torch.cat([x, soft.expand(5, 4)], 1))
    parts = [d(torch.cat([x, e[k].expand(5, 4)], 1)) for k in (1, 2)]
    assert torch.allclose(out, lam * parts[0] + (1 - lam) * parts[1], atol=1e-6)
    assert not torch.allclose(parts[0], parts[1])  # the verdict depends on the label


@pytest.mark.parametrize("pairs", ["real_real", "real_fake", "both"])
def test_bigan_step_updates_every_network(pairs):
    torch.manual_seed(0)
    model = MixupGAN(20, 3, 4, g_hidden=[16], d_hidden=[16], e_hidden=[16], conditioning="projection")
    assert model.has_encoder
    first_d = next(m for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear))
    assert first_d.in_features == 20 + 3  # [x, code]; the label is projected
    prior = GMMPrior(4, 3)
    opt_g, opt_d = make_optimizers(model, 1e-3, 1e-3)
    opt_g.add_param_group({"params": list(model.encoder.parameters())})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = _batch()
    out = mixup_gan_step(model, opt_g, opt_d, x, y, prior, mixup_pairs=pairs, alpha=0.4, g_steps=2,
                         generator=torch.Generator().manual_seed(0), rng=np.random.default_rng(0))
    assert all(np.isfinite(v) for v in out.values())
    for prefix in ("generator", "encoder", "discriminator"):
        assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n.startswith(prefix))
    assert all(p.requires_grad for p in model.discriminator.parameters())
    losses = joint_losses(model, x.numpy(), y.numpy(), prior)
    assert set(losses) >= {"d_loss", "g_loss", "d_real", "d_fake", "real_norm", "fake_norm"}
    with pytest.raises(ValueError):
        mixup_gan_step(model, opt_g, opt_d, x, y, prior, mixup_pairs="sideways")


def test_fit_mixup_classifier_learns_and_delegates_without_mixup():
    from serlib.models.classifiers import MLP
    from serlib.train import predict

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    x = (rng.standard_normal((120, 6)) + 3 * np.eye(3, 6)[y]).astype(np.float32)
    torch.manual_seed(0)
    m = MLP(6, 3, [16], 0.0)
    h = train_mixup_classifier(m, x, y, alpha=0.4, epochs=30, batch_size=16)
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert (predict(m, x) == y).mean() > 0.9
    h0 = train_mixup_classifier(MLP(6, 3, [16], 0.0), x, y, alpha=0.0, epochs=2, batch_size=16)
    assert list(h0.columns) == ["epoch", "loss"] and len(h0) == 2


# ------------------------------------------------------------------------------ configuration, papers
def test_config_documents_its_reconstruction_and_ablation():
    from serlib.experiments import latif2020 as L

    ref = L.Config.reference()
    for name in ("mixup_pairs", "alpha", "encoder", "code_dim", "epochs", "lr_g", "clf_hidden"):
        assert "not stated in the summary" in ref.loc[name, "paper's value"], name
    book = L.Config.for_profile("book")
    settings = book.ablation_settings
    assert settings[0] == L.AblationSetting("none", 0.0)
    assert {s.alpha for s in settings if s.pairs == book.mixup_pairs} >= {0.1, 0.2, 0.4, 1.0}
    assert {s.pairs for s in settings} == {"none", "real_real", "real_fake", "both"}
    assert len(settings) == len(set(settings))
    grid = L.Config.for_profile("book", ablation_grid=True).ablation_settings
    assert len(grid) == 1 + 3 * 4
    c1 = L.chapter1_config(L.Config.for_profile("smoke", chapter1={"cgan_epochs": 3}))
    assert c1.cgan_epochs == 3 and c1.profile == "smoke"
    with pytest.raises(ParameterError):
        L.chapter1_config(L.Config.for_profile("smoke", chapter1={"no_such_knob": 1}))
    with pytest.raises(ParameterError):
        L.Config.for_profile("book", mixup_pairs="sideways")


def test_published_numbers():
    from serlib.papers.latif2020 import STDS, TABLES

    t3, t4 = TABLES["table3"].values, TABLES["table4"].values
    assert (t3["Latif et al. 2020: Real"], t3["Latif et al. 2020: Syn."], t3["Latif et al. 2020: Real+Syn."]) == \
        (60.51, 45.75, 61.05)
    assert (t3["Sahu et al. 2018: Real"], t3["Sahu et al. 2018: Syn."], t3["Sahu et al. 2018: Real+Syn."]) == \
        (59.42, 34.09, 60.29)
    assert (t4["Latif et al. 2020: Real"], t4["Latif et al. 2020: Syn."], t4["Latif et al. 2020: Real+Syn."]) == \
        (46.0, 42.15, 46.60)
    assert (t4["Bao et al. 2019: Syn."], STDS["table4"]["Bao et al. 2019: Syn."]) == (41.58, 1.29)
    assert len(t3) == len(t4) == 9 and "Sahu et al. 2018: Real" not in STDS["table3"]


# ------------------------------------------------------------------------------ the notebook
PIN_EXACT = {
    "counts.csv": ["*"],
    "yardstick.csv": ["*"],
    "yardstick_cross.csv": ["*"],
    "table3.csv": ["paper UAR (%)"],
    "table4.csv": ["paper UAR (%)"],
    "scores_cv.csv": ["seed"],
    "scores_cross.csv": ["seed"],
    "similarity_cv.csv": ["seed"],
    "loss_histories_cv.csv": ["epoch", "d_steps", "g_steps", "seed"],
    "loss_histories_cross.csv": ["epoch", "d_steps", "g_steps", "seed"],
    "ablation.csv": ["alpha", "n"],
    "ablation_runs.csv": ["alpha", "seed"],
    "ablation_vs_no_mixup.csv": ["runs"],
    "real_vs_synthetic.csv": ["n"],
}
PIN_MODEL_TEXT = {
    "table3.csv": ["ours UAR (%) mean ± std"],
    "table4.csv": ["ours UAR (%) mean ± std"],
    "table3_layout.csv": ["Real", "Syn.", "Real+Syn."],
    "table4_layout.csv": ["Real", "Syn.", "Real+Syn."],
    "ablation.csv": ["synthetic-only UAR (%)"],
    # paired differences of 16-utterance UARs over four runs, and counts of their signs: one
    # flipped prediction moves them by more than MODEL_TOL (check_smoke asserts what mixup does)
    "ablation_vs_no_mixup.csv": ["Δ synthetic-only UAR vs no mixup (points)", "runs better", "runs worse"],
    "real_vs_synthetic.csv": ["two-sample AUC", "median KS"],
    # the claims table spells out model numbers and the verdicts read from them
    "claims.csv": [RUN_HEADER, "Verdict"],
}
CHANCE = 0.25  # four emotions


def check_smoke(res, nb) -> None:
    """The smoke run's tables match their pins, the mixup GAN learns, and mixup acts.

    Learning, on aggregate: the DNN on real features, and DNNs trained only on the mixup GAN's
    samples (the main runs, and every mixup setting of the ablation), are clearly above chance
    on the real held-out session; the mixup GAN's discriminator learns to tell real from
    generated batches. Mixup acts on the discriminator as it should: mixing real pairs makes
    the loss it minimises differ from the plain loss on the same unmixed batch (they are one
    number without mixup); soft real-fake targets keep it from separating real and generated
    data as sharply as without mixup, and more so at alpha 1 (lam near 1/2) than at 0.2.
    """
    check_pins("02_latif2020_mixup_gan", res, exact=PIN_EXACT, model_text=PIN_MODEL_TEXT)
    scores = pd.read_csv(res / "scores_cv.csv", index_col=0)
    uar = scores.groupby("condition")["uar"].mean()
    assert uar["real"] >= CHANCE + 0.15, uar
    assert uar["mixup:synthetic"] >= CHANCE + 0.08, uar
    hist = pd.read_csv(res / "loss_histories_cv.csv", index_col=0)
    last = hist[hist["model"] == "mixup_gan"].sort_values("epoch").groupby(["fold", "seed"]).last()
    assert (last["d_real"] - last["d_fake"]).mean() >= 0.08, last[["d_real", "d_fake"]]

    runs = pd.read_csv(res / "ablation_runs.csv", index_col=0)
    mixed, plain = runs[runs["pairs"] != "none"], runs[runs["pairs"] == "none"]
    assert len(plain) >= 4 and len(mixed) >= 4 * len(plain) - 4, runs["setting"].value_counts()
    assert mixed["syn_uar"].mean() >= CHANCE + 0.1, runs.groupby("setting")["syn_uar"].mean()
    gap = (runs["d_loss"] - runs["d_loss_plain"]).abs()
    assert gap[plain.index].max() <= 1e-6, gap[plain.index]
    assert gap[runs["pairs"] == "real_real"].mean() >= 0.01, runs.assign(gap=gap)
    sep = runs["d_real"] - runs["d_fake"]
    soft = runs["pairs"].isin(["real_fake", "both"])
    assert sep[soft].mean() <= sep[plain.index].mean() - 0.15, runs.assign(sep=sep).groupby("setting")["sep"].mean()
    both = runs[runs["pairs"] == "both"].groupby("alpha")["d_loss_plain"].mean()
    assert both.loc[1.0] >= both.loc[0.2] + 0.3, both


def test_notebook_smoke(smoke_chapters):
    nb = smoke_chapters.run(NOTEBOOK.stem)  # the session's smoke run, which the strict book shows
    res = smoke_chapters.results(NOTEBOOK.stem)
    check_smoke(res, nb)
    for name in ("table3", "table3_layout", "table4", "ablation", "ablation_vs_no_mixup", "yardstick",
                 "scores_cv", "scores_cross", "real_vs_synthetic", "timing"):
        assert (res / f"{name}.csv").exists(), name
    cfg = L.Config.for_profile("smoke")
    scores = pd.read_csv(res / "scores_cv.csv", index_col=0)
    assert {"real", "mixup:synthetic", "mixup:real+synthetic", "mixup:codes", "cgan:synthetic"} <= \
        set(scores["condition"])
    assert scores.groupby("condition").size().eq(5 * len(cfg.seeds)).all()
    t3 = pd.read_csv(res / "table3.csv", index_col=0)
    assert t3.loc["Latif et al. 2020: Syn.", "paper UAR (%)"] == 45.75
    assert t3.loc["Latif et al. 2020: Syn.", "ours mean"] == pytest.approx(
        100 * scores.loc[scores["condition"] == "mixup:synthetic", "uar"].mean())
    abl = pd.read_csv(res / "ablation.csv", index_col=0)
    assert list(abl.index) == [s.name for s in sorted(cfg.ablation_settings, key=lambda s: (
        ("none", "real_real", "real_fake", "both").index(s.pairs), s.alpha))]
    assert (abl["n"] == cfg.ablation_folds * len(cfg.ablation_seeds)).all()
    vs = pd.read_csv(res / "ablation_vs_no_mixup.csv", index_col=0)
    assert "no mixup" not in vs.index and len(vs) == len(abl) - 1
