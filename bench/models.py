"""Training throughput of every chapter's networks at the papers' sizes, on CPU and GPU.

``python -m bench.models [--device cpu cuda] [--steps N] [--ratio-epochs N]`` (also ``make bench``, which
adds the rows to ``bench/results.json``). Each row trains one network for ``steps`` mini-batches
of random data shaped like the paper's input through the same training function the chapter
calls, after one warm-up pass, and reports mini-batches per second and the seconds one epoch
over the paper's corpus would take. Only torch and serlib's model modules are imported, so the
script also runs on a GPU machine that has no audio stack installed.

The sizes are the paper profile's (chapter Config ``paper=`` values) where the paper states
them; the rows name what they assume.

``--ratio-epochs N`` also times, on the CPU, the training engine (:func:`serlib.train.fit`)
against the hand-written loops it replaced in chapters 1-3 (:mod:`bench.reference_loops`)
at ``N`` epochs each: :func:`engine_ratios`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Case:
    chapter: str
    network: str
    shape: str
    batch_size: int
    epoch_size: int  # utterances (or chunks) in one epoch over the paper's corpus
    run: Callable[[int, str], None]  # run(n_samples, device): one training pass over n samples


def _labels(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, n)


def _x(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _aae(n: int, device: str) -> None:
    from serlib.models.aae import AdversarialAutoencoder, GMMPrior, train_aae

    model = AdversarialAutoencoder(1582, 2, 4, hidden=(1000, 1000), disc_hidden=(1000, 1000))
    train_aae(model, _x(n, 1582), _labels(n, 4), GMMPrior(4, 2), epochs=1, batch_size=64, device=device)


def _cgan(n: int, device: str) -> None:
    from serlib.models.aae import GMMPrior
    from serlib.models.gan import ConditionalGAN, train_cgan

    model = ConditionalGAN(1582, 2, 4, g_hidden=(1000, 1000), d_hidden=(1000, 1000))
    train_cgan(model, _x(n, 1582), _labels(n, 4), GMMPrior(4, 2), epochs=1, batch_size=64,
               g_steps_per_d_step=5, device=device)


def _mixup_gan(n: int, device: str) -> None:
    from serlib.models.aae import GMMPrior
    from serlib.models.mixup_gan import MixupGAN, train_mixup_gan

    model = MixupGAN(1582, 2, 4, g_hidden=(1000, 1000), d_hidden=(1000, 1000), e_hidden=(1000, 1000))
    train_mixup_gan(model, _x(n, 1582), _labels(n, 4), GMMPrior(4, 2), epochs=1, batch_size=64,
                    alpha=0.2, device=device)


def _infogan(n: int, device: str) -> None:
    from torch import nn

    from serlib.models.infogan import InfoGAN, train_infogan

    h_dim, t_dim = 768, 384
    gan = InfoGAN(h_dim, 4, t_dim, 100, nn.Linear(h_dim, 4), nn.Linear(h_dim, t_dim))
    train_infogan(gan, _x(n, h_dim), _labels(n, 4), _x(n, t_dim, seed=1), epochs=1, batch_size=64,
                  device=device)


def _sier(n: int, device: str) -> None:
    from serlib.models.sier import SIERNet, build_encoder, train_sier

    frames = 300
    enc = build_encoder("cnn_bigru", 20, frames, cnn_layers=2, filters=128, gru_units=256)
    model = SIERNet(enc, 7, 6, fc_units=128)
    x, y, s = _x(n, 20, frames), _labels(n, 7), _labels(n, 6, seed=2)
    train_sier(model, x, y, s, x[:32], y[:32], max_epochs=1, gamma=2.5, batch_size=32, device=device)


def _began(n: int, device: str) -> None:
    from serlib.models.began import BEGAN, train_began

    model = BEGAN((512, 64), filters=64, hidden=64, n_scales=3, convs_per_scale=2)
    train_began(model, _x(n, 512, 64), epochs=1, batch_size=16, device=device)


CASES = [
    Case("01 Sahu 2018", "adversarial autoencoder", "1582 -> 1000-1000 -> 2", 64, 5531, _aae),
    Case("01 Sahu 2018", "conditional GAN (G:D 5:1)", "2+4 -> 1000-1000 -> 1582", 64, 5531, _cgan),
    Case("02 Latif 2020", "mixup GAN with encoder", "1582, hidden 1000-1000", 64, 5531, _mixup_gan),
    Case("03 Ahn", "InfoGAN (stage 2)", "h 768, t 384, z 100", 64, 5531, _infogan),
    Case("04 Leow", "2D CNN + biGRU with GRL", "20 MFCC x 300 frames, 2x128 conv, GRU 256", 32, 535, _sier),
    # the paper pretrains on an unstated "part" of LibriSpeech: 20 000 one-second chunks is assumed
    Case("05 Pereira 2018", "BEGAN", "512 bins x 64 frames, 64 filters, 3 scales", 16, 20000, _began),
]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(case: Case, device: str, steps: int) -> dict[str, Any]:
    """Seconds for ``steps`` mini-batches of ``case`` on ``device`` (after a one-batch warm-up)."""
    torch.manual_seed(0)
    case.run(case.batch_size, device)  # warm-up: allocations, cuDNN autotune, lazy imports
    _sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    n = case.batch_size * steps
    t0 = time.perf_counter()
    case.run(n, device)
    _sync(device)
    seconds = time.perf_counter() - t0
    row = {"chapter": case.chapter, "network": case.network, "input": case.shape, "device": device,
           "batch_size": case.batch_size, "steps": steps, "seconds": round(seconds, 3),
           "batches_per_s": round(steps / seconds, 2),
           "epoch_s": round(seconds * case.epoch_size / n, 1), "epoch_size": case.epoch_size}
    if device.startswith("cuda"):
        row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def run_all(devices: list[str], steps: int) -> list[dict[str, Any]]:
    rows = []
    for device in devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit(f"--device {device}: torch sees no CUDA GPU here (torch {torch.__version__})")
        for case in CASES:
            row = measure(case, device, steps)
            rows.append(row)
            print(f"{row['device']:<6} {row['chapter']:<16} {row['network']:<30} "
                  f"{row['batches_per_s']:>8.1f} batch/s  epoch {row['epoch_s']:>8.1f} s", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# Engine vs the loops it replaced (chapters 1-3), on the CPU
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RatioCase:
    """One network trained for the same epochs by the engine and by its reference loop."""

    chapter: str
    network: str
    engine: Callable[[int], Any]  # engine(epochs): the chapter's training function
    reference: Callable[[int], Any]  # reference(epochs): the loop it replaced (bench.reference_loops)


_RATIO_ROWS = 128  # rows of random data per epoch of the paper-sized networks: 2 mini-batches of 64


def _ratio_aae(ref: bool) -> Callable[[int], Any]:
    from serlib.models.aae import AdversarialAutoencoder, GMMPrior, train_aae

    from .reference_loops import ref_train_aae

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        model = AdversarialAutoencoder(1582, 2, 4, hidden=(1000, 1000), disc_hidden=(1000, 1000))
        fn = ref_train_aae if ref else train_aae
        return fn(model, _x(_RATIO_ROWS, 1582), _labels(_RATIO_ROWS, 4), GMMPrior(4, 2), epochs=epochs, batch_size=64,
                  device="cpu")
    return run


def _ratio_gan(ref: bool) -> Callable[[int], Any]:
    from serlib.models.gan import VanillaGAN, train_gan

    from .reference_loops import ref_train_gan

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        fn = ref_train_gan if ref else train_gan
        return fn(VanillaGAN(2, 2), _x(4 * _RATIO_ROWS, 2), epochs=epochs, batch_size=64,
                  x_val=_x(64, 2, seed=1), device="cpu")
    return run


def _ratio_cgan(ref: bool) -> Callable[[int], Any]:
    from serlib.models.aae import GMMPrior
    from serlib.models.gan import ConditionalGAN, train_cgan

    from .reference_loops import ref_train_cgan

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        model = ConditionalGAN(1582, 2, 4, g_hidden=(1000, 1000), d_hidden=(1000, 1000))
        fn = ref_train_cgan if ref else train_cgan
        return fn(model, _x(_RATIO_ROWS, 1582), _labels(_RATIO_ROWS, 4), GMMPrior(4, 2), epochs=epochs, batch_size=64,
                  g_steps_per_d_step=5, device="cpu")
    return run


def _ratio_mixup_gan(ref: bool) -> Callable[[int], Any]:
    from serlib.models.aae import GMMPrior
    from serlib.models.mixup_gan import MixupGAN, train_mixup_gan

    from .reference_loops import ref_train_mixup_gan

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        model = MixupGAN(1582, 2, 4, g_hidden=(1000, 1000), d_hidden=(1000, 1000), e_hidden=(1000, 1000))
        fn = ref_train_mixup_gan if ref else train_mixup_gan
        return fn(model, _x(_RATIO_ROWS, 1582), _labels(_RATIO_ROWS, 4), GMMPrior(4, 2), epochs=epochs, batch_size=64,
                  alpha=0.2, device="cpu")
    return run


def _ratio_mixup_dnn(ref: bool) -> Callable[[int], Any]:
    from torch import nn

    from serlib.models.mixup_gan import train_mixup_classifier

    from .reference_loops import ref_fit_mixup_classifier

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(1582, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 128), nn.ReLU(),
                              nn.Dropout(0.3), nn.Linear(128, 4))
        fn = ref_fit_mixup_classifier if ref else train_mixup_classifier
        return fn(model, _x(4 * _RATIO_ROWS, 1582), _labels(4 * _RATIO_ROWS, 4), alpha=0.2, epochs=epochs,
                  batch_size=64, device="cpu")
    return run


def _ratio_stage1(ref: bool) -> Callable[[int], Any]:
    from serlib.features import MelBatches
    from serlib.models.encoders import LogMelCNN
    from serlib.models.infogan import AlignedSER, train_baseline

    from .reference_loops import ref_train_baseline

    def run(epochs: int) -> Any:
        rng = np.random.default_rng(0)
        n = _RATIO_ROWS + 32  # 4 training mini-batches of 32, 32 validation rows
        frames = [rng.standard_normal((64, int(rng.integers(150, 300)))).astype(np.float32) for _ in range(n)]
        t = _x(n, 384, seed=1)
        inputs = MelBatches(frames).fit_stats(np.arange(n))
        torch.manual_seed(0)
        model = AlignedSER(LogMelCNN(64, 384), 384, 4, 384)
        fn = ref_train_baseline if ref else train_baseline
        return fn(model, inputs, np.arange(n - 32), _labels(n, 4), t, epochs=epochs, batch_size=32, device="cpu",
                  val_rows=np.arange(n - 32, n))
    return run


def _ratio_infogan(ref: bool) -> Callable[[int], Any]:
    from torch import nn

    from serlib.models.infogan import InfoGAN, train_infogan

    from .reference_loops import ref_train_infogan

    def run(epochs: int) -> Any:
        torch.manual_seed(0)
        h_dim, t_dim, n = 768, 384, 4 * _RATIO_ROWS
        gan = InfoGAN(h_dim, 4, t_dim, 100, nn.Linear(h_dim, 4), nn.Linear(h_dim, t_dim))
        fn = ref_train_infogan if ref else train_infogan
        return fn(gan, _x(n, h_dim), _labels(n, 4), _x(n, t_dim, seed=1), epochs=epochs, batch_size=64, lr_q=1e-4,
                  device="cpu")
    return run


RATIO_CASES = [
    RatioCase("01 Sahu 2018", "adversarial autoencoder", _ratio_aae(False), _ratio_aae(True)),
    RatioCase("01 Sahu 2018", "vanilla GAN on 2-d codes", _ratio_gan(False), _ratio_gan(True)),
    RatioCase("01 Sahu 2018", "conditional GAN (G:D 5:1)", _ratio_cgan(False), _ratio_cgan(True)),
    RatioCase("02 Latif 2020", "mixup GAN with encoder", _ratio_mixup_gan(False), _ratio_mixup_gan(True)),
    RatioCase("02 Latif 2020", "DNN with mixup", _ratio_mixup_dnn(False), _ratio_mixup_dnn(True)),
    RatioCase("03 Ahn", "stage 1: log-mel CNN + alignment", _ratio_stage1(False), _ratio_stage1(True)),
    RatioCase("03 Ahn", "InfoGAN (stage 2)", _ratio_infogan(False), _ratio_infogan(True)),
]


def engine_ratios(epochs: int = 2, repeats: int = 3, cases: list[RatioCase] | None = None) -> list[dict[str, Any]]:
    """CPU seconds of the engine and of the loop it replaced, at the same ``epochs``, per network.

    Both run in this process, alternately (the first of each pair swapped every repeat),
    ``repeats`` times after one warm-up each; the fastest run of each is kept (the least disturbed by other work on the machine) and
    ``ratio`` = engine / reference (target <= 1.05: the engine is no slower).
    """
    rows = []
    for case in cases or RATIO_CASES:
        case.engine(1)
        case.reference(1)  # warm-up: allocations, lazy imports
        times: dict[str, list[float]] = {"engine": [], "reference": []}
        order = [("engine", case.engine), ("reference", case.reference)]
        for r in range(repeats):
            for name, fn in order if r % 2 == 0 else order[::-1]:  # neither always runs first
                t0 = time.perf_counter()
                fn(epochs)
                times[name].append(time.perf_counter() - t0)
        eng, ref = min(times["engine"]), min(times["reference"])
        row = {"chapter": case.chapter, "network": case.network, "device": "cpu", "epochs": epochs,
               "engine_s": round(eng, 3), "reference_s": round(ref, 3), "ratio": round(eng / ref, 3)}
        rows.append(row)
        print(f"cpu    {row['chapter']:<16} {row['network']:<34} engine {eng:7.2f} s  loop {ref:7.2f} s  "
              f"ratio {row['ratio']:.3f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", nargs="+", default=None,
                    help="devices to measure (default: cpu, and cuda when torch sees a GPU)")
    ap.add_argument("--steps", type=int, default=20,
                    help="timed mini-batches per network (default 20; 0 with --ratio-epochs: only the ratios)")
    ap.add_argument("--ratio-epochs", type=int, default=0,
                    help="also time the engine against the loops it replaced, at this many epochs (0: not)")
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    if args.steps < 0 or (args.steps == 0 and args.ratio_epochs < 1):
        ap.error("--steps must be at least 1 (0 only with --ratio-epochs)")
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}
    print(json.dumps(info))
    rows = run_all(devices, args.steps) if args.steps > 0 else []
    ratios = engine_ratios(args.ratio_epochs) if args.ratio_epochs > 0 else []
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "rows": rows, "engine_vs_loop": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
