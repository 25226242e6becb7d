"""Properties of the methods the chapters study, each checked on a tiny network in a second or two.

They pin what makes each method what it is (the gradient-reversal layer reverses and scales,
mixup mixes by its weight, a conditional generator reads its label, BEGAN's controller moves
``k_t``, the AAE's encoder is pushed toward the prior, the InfoGAN's generator minimises the
mutual-information terms) as relations that hold on every CPU, never as a trained number.
``tests/mutants.py`` lists them among the tests that must fail when one of these is broken.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


# --------------------------------------------------------------------------- chapter 4: SIER
@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_gradient_reversal_negates_and_scales_the_gradient_by_lambda(lam):
    from serlib.models.sier import GradientReversal, grad_reverse

    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    y = grad_reverse(x, lam)
    assert torch.equal(y, x)  # the identity forward
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, -lam * w)
    x.grad = None
    (GradientReversal(lam)(x) * w).sum().backward()
    torch.testing.assert_close(x.grad, -lam * w)


def test_sier_step_trains_the_speaker_branch_and_pushes_the_encoder_against_it():
    """One step of SIERNet with speaker labels: the speaker classifier learns (its weights move),
    and the encoder's update equals the emotion loss's minus lambda times the speaker loss's."""
    from serlib.models.sier import SIERNet, sier_step
    from serlib.train import Engine

    class Flat(nn.Module):
        out_dim = 6

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 6)

        def forward(self, x, lengths=None):
            return self.lin(x.mean(dim=2))

    eng = Engine(torch.device("cpu"))
    x, y, s = torch.randn(8, 4, 5), torch.arange(8) % 3, torch.arange(8) % 4
    lam = 0.6

    def encoder_grad(loss_of):
        torch.manual_seed(0)
        net = SIERNet(Flat(), n_emotions=3, n_speakers=4).eval()
        net.grl.lam = lam
        emo, spk = net(x, lam=lam)
        loss_of(emo, spk).backward()
        return net.encoder.lin.weight.grad.clone()

    g_e = encoder_grad(lambda emo, spk: F.cross_entropy(emo, y))
    g_s = encoder_grad(lambda emo, spk: F.cross_entropy(spk, s))  # through the reversal layer: -lambda x J_s's
    assert g_s.abs().sum() > 0
    torch.manual_seed(0)
    net = SIERNet(Flat(), n_emotions=3, n_speakers=4).eval()
    spk_before = [p.detach().clone() for p in net.speaker.parameters()]
    enc_before = net.encoder.lin.weight.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    out = sier_step(net, opt, x, y, s, lam=lam, eng=eng)
    assert {"J_e", "J_s", "speaker_accuracy"} <= set(out)
    assert any(not torch.equal(a, b) for a, b in zip(spk_before, net.speaker.parameters()))
    # SGD with lr 1: the encoder moved by minus its gradient, J_e's plus the reversed J_s's
    expected = enc_before - (g_e + g_s)
    assert torch.allclose(net.encoder.lin.weight.detach(), expected, atol=1e-6)
    # without speaker labels only the emotion loss trains
    torch.manual_seed(0)
    net = SIERNet(Flat(), n_emotions=3, n_speakers=4).eval()
    spk_before = [p.detach().clone() for p in net.speaker.parameters()]
    out = sier_step(net, torch.optim.SGD(net.parameters(), lr=1.0), x, y, None, lam=lam, eng=eng)
    assert "J_s" not in out
    assert all(torch.equal(a, b) for a, b in zip(spk_before, net.speaker.parameters()))


def test_sier_network_sets_the_reversal_weight_it_is_given():
    from serlib.models.sier import ClassifierHead, SIERNet

    class Flat(nn.Module):
        out_dim = 6

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 6)

        def forward(self, x):
            return self.lin(x.mean(dim=2))

    torch.manual_seed(0)
    net = SIERNet(Flat(), n_emotions=3, n_speakers=4).eval()
    assert isinstance(net.speaker, ClassifierHead)
    x = torch.randn(8, 4, 5)
    with torch.no_grad():
        h = net.encoder(x)
    h.requires_grad_(True)
    # the speaker loss's gradient at the encoder output, unreversed
    F.cross_entropy(net.speaker(h), torch.arange(8) % 4).backward()
    plain = h.grad.clone()
    enc_out: dict[str, torch.Tensor] = {}
    net.encoder.register_forward_hook(lambda m, i, o: enc_out.__setitem__("h", o))  # the encoder's output
    for lam in (0.25, 0.8):
        _, spk = net(x, lam=lam)
        assert net.grl.lam == pytest.approx(lam)
        g, = torch.autograd.grad(F.cross_entropy(spk, torch.arange(8) % 4), enc_out["h"])
        torch.testing.assert_close(g, -lam * plain, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- chapter 2: mixup
def test_mixup_mixes_inputs_and_labels_by_lambda():
    from serlib.models.mixup_gan import mixup

    torch.manual_seed(0)
    x = torch.randn(6, 5)
    y = F.one_hot(torch.arange(6) % 3, 3).float()
    perm = np.array([1, 2, 3, 4, 5, 0])
    outs = {}
    for lam in (0.1, 0.7):
        mb = mixup(x, y, np.full(6, lam, np.float32), perm)
        torch.testing.assert_close(mb.x, lam * x + (1 - lam) * x[perm])
        torch.testing.assert_close(mb.y, lam * y + (1 - lam) * y[perm])
        outs[lam] = mb.x
    assert (outs[0.1] - outs[0.7]).abs().max() > 0.1  # the weight matters
    per_row = np.linspace(0.0, 1.0, 6).astype(np.float32)
    mb = mixup(x, y, per_row, perm)
    torch.testing.assert_close(mb.x[0], x[1])  # lam 0: all partner
    torch.testing.assert_close(mb.x[5], x[5])  # lam 1: all itself


# --------------------------------------------------------------------------- chapter 1: AAE + cGAN
def test_conditional_generator_output_depends_on_the_label():
    from serlib.models.gan import ConditionalGAN

    torch.manual_seed(0)
    cgan = ConditionalGAN(data_dim=5, z_dim=2, n_classes=4, g_hidden=(16,), d_hidden=(16,))
    z = torch.randn(8, 2)
    outs = [cgan.generate(z, torch.full((8,), k)) for k in range(4)]
    for k in range(1, 4):
        assert (outs[k] - outs[0]).abs().max() > 1e-3
    x = torch.randn(8, 5)
    d = [cgan.discriminate(x, torch.full((8,), k)) for k in range(4)]
    assert (d[1] - d[0]).abs().max() > 1e-4


def test_generator_initialised_from_the_decoder_reproduces_it():
    from serlib.models.aae import AdversarialAutoencoder
    from serlib.models.gan import ConditionalGAN, init_generator_from_decoder

    torch.manual_seed(0)
    aae = AdversarialAutoencoder(7, code_dim=2, n_classes=3, hidden=(12, 9), disc_hidden=(8,))
    cgan = ConditionalGAN(data_dim=7, z_dim=2, n_classes=3, g_hidden=(9, 12), d_hidden=(8,))
    init_generator_from_decoder(cgan, aae)
    z = torch.randn(10, 2)
    with torch.no_grad():
        want = aae.decoder(z)
        for k in range(3):  # right after initialisation the label shifts nothing
            torch.testing.assert_close(cgan.generate(z, torch.full((10,), k)), want)


def test_aae_adversarial_phase_pulls_the_codes_toward_their_prior_components():
    from serlib.models.aae import AdversarialAutoencoder, GMMPrior, aae_step, adam

    torch.manual_seed(0)
    n, n_in = 64, 6
    y = torch.arange(n) % 2
    x = torch.randn(n, n_in) + 2.0 * F.one_hot(y, n_in).float()
    model = AdversarialAutoencoder(n_in, code_dim=2, n_classes=2, hidden=(32,), disc_hidden=(32,))
    prior = GMMPrior(2, 2, radius=3.0, std=0.5)
    # no reconstruction updates: whatever moves the encoder is the adversarial term
    opt_rec = adam(list(model.encoder.parameters()) + list(model.decoder.parameters()), lr=0.0)
    opt_disc = adam(model.discriminator.parameters(), lr=5e-3, betas=(0.5, 0.999))
    opt_gen = adam(model.encoder.parameters(), lr=5e-3, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)

    def distance() -> float:
        with torch.no_grad():
            return float((model.encoder(x) - prior.means[y]).norm(dim=1).mean())

    before = distance()
    w0 = copy.deepcopy(model.encoder.state_dict())
    for _ in range(150):
        aae_step(model, opt_rec, opt_disc, opt_gen, x, y, prior, generator=gen)
    after = distance()
    moved = max(float((w0[k] - v).abs().max()) for k, v in model.encoder.state_dict().items())
    assert moved > 1e-2
    assert after < 0.6 * before, (before, after)


# --------------------------------------------------------------------------- chapter 5: BEGAN
def test_began_k_follows_the_equilibrium_controller_step_after_step():
    from serlib.models.began import BEGAN, train_began, update_k

    torch.manual_seed(0)
    model = BEGAN((8, 8), filters=4, hidden=8, n_scales=2, convs_per_scale=1)
    data = np.random.default_rng(0).random((8, 8, 8)).astype(np.float32)
    gamma, lambda_k, k0 = 0.7, 0.05, 0.5
    hist = train_began(model, data, epochs=3, batch_size=4, lr=1e-3, gamma=gamma, lambda_k=lambda_k, k0=k0,
                       points=1000).frame()
    assert len(hist) == 6  # one record per step
    k_prev = k0
    for _, r in hist.iterrows():
        assert r["k"] == pytest.approx(update_k(k_prev, gamma, lambda_k, r["loss_real"], r["loss_fake"]), abs=1e-6)
        k_prev = r["k"]
    assert abs(hist["k"].iloc[-1] - k0) > 1e-3  # the controller moved k_t


# --------------------------------------------------------------------------- chapter 3: InfoGAN
def test_infogan_generator_objective_contains_lambda_times_the_mi_terms():
    from serlib.models.infogan import InfoGAN, info_nce_loss, infogan_step

    torch.manual_seed(0)
    h_dim, n_classes, t_dim, z_dim, k = 6, 3, 4, 2, 12
    base = InfoGAN(h_dim, n_classes, t_dim, z_dim, nn.Linear(h_dim, n_classes), nn.Linear(h_dim, t_dim))
    for p in list(base.q_y.parameters()) + list(base.q_t.parameters()):
        p.requires_grad_(False)  # the shared heads are fixed (lr_q = 0)
    real = torch.randn(k, h_dim)
    c = torch.arange(k) % n_classes
    tc = torch.randn(k, t_dim)
    z = torch.randn(k, z_dim)
    lr = 0.5

    def generator_update(lam: float, use_mi: bool) -> torch.Tensor:
        gan = copy.deepcopy(base)
        before = torch.cat([p.detach().flatten() for p in gan.generator.parameters()])
        opt_g = torch.optim.SGD(gan.generator.parameters(), lr=lr)
        opt_d = torch.optim.SGD(gan.discriminator.parameters(), lr=0.1)
        infogan_step(gan, opt_g, opt_d, None, real, c, tc, z, lam=lam, use_mi=use_mi, mixup_alpha=0.2, tau=0.1,
                     rng=np.random.default_rng(0))
        return torch.cat([p.detach().flatten() for p in gan.generator.parameters()]) - before

    adv_only = generator_update(1.0, use_mi=False)
    with_mi = {lam: generator_update(lam, use_mi=True) - adv_only for lam in (1.0, 2.0)}
    # the MI terms' own gradient, from the generator before any update
    fake = base(z, c, tc)
    mi = F.cross_entropy(base.q_y(fake), c) + info_nce_loss(tc, base.q_t(fake), 0.1)
    grad = torch.cat([g.flatten() for g in torch.autograd.grad(mi, list(base.generator.parameters()))])
    assert grad.norm() > 1e-3
    torch.testing.assert_close(with_mi[1.0], -lr * grad, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(with_mi[2.0], -2 * lr * grad, rtol=1e-3, atol=1e-5)
