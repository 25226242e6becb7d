"""The model throughput benchmark stays in step with the chapters' training functions; the chunked
extraction's timing compares like with like."""

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from bench.models import CASES, measure


class _OptimizerLog:
    """Every optimizer that steps while it is open, in order of its first step: its step count and
    a copy of its parameters from before that first step."""

    def __init__(self) -> None:
        self.optimizers: list[torch.optim.Optimizer] = []
        self.steps: dict[int, int] = {}
        self.before: dict[int, list[torch.Tensor]] = {}

    @staticmethod
    def params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
        return [p for group in opt.param_groups for p in group["params"]]

    def _pre(self, opt, args, kwargs) -> None:
        if id(opt) not in self.steps:
            self.optimizers.append(opt)
            self.steps[id(opt)] = 0
            self.before[id(opt)] = [p.detach().clone() for p in self.params(opt)]

    def _post(self, opt, args, kwargs) -> None:
        self.steps[id(opt)] += 1

    def __enter__(self) -> "_OptimizerLog":
        self._hooks = [register_optimizer_step_pre_hook(self._pre), register_optimizer_step_post_hook(self._post)]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()


@pytest.mark.parametrize("case", [c for c in CASES if c.network.startswith(("InfoGAN", "2D CNN"))],
                         ids=lambda c: c.chapter)
def test_measure_trains_a_paper_sized_network_for_the_steps_it_times(case):
    steps = 2
    with _OptimizerLog() as log:
        row = measure(case, "cpu", steps)
    assert row["device"] == "cpu" and row["steps"] == steps and row["epoch_size"] == case.epoch_size
    assert row["seconds"] > 0 and row["batches_per_s"] > 0
    assert row["epoch_s"] >= row["seconds"] * 0.99  # one epoch of the paper's corpus is at least the batches timed
    # a one-batch warm-up run, then the timed run: each builds its network and optimizer(s) afresh
    opts = log.optimizers
    assert opts and len(opts) % 2 == 0, f"{len(opts)} optimizers stepped; expected the same set twice"
    warm_up, timed = opts[: len(opts) // 2], opts[len(opts) // 2:]
    assert [log.steps[id(o)] for o in warm_up] == [1] * len(warm_up), "the warm-up is one mini-batch"
    assert [log.steps[id(o)] for o in timed] == [steps] * len(timed), f"the timed run is {steps} mini-batches"
    for opt in timed:
        params = log.params(opt)
        assert params and sum(p.numel() for p in params) > 0
        unchanged = [i for i, (a, p) in enumerate(zip(log.before[id(opt)], params, strict=True))
                     if torch.equal(a, p.detach())]
        assert not unchanged, f"parameters {unchanged} of a {type(opt).__name__} did not move in training"


def test_every_chapter_has_a_network():
    assert {c.chapter[:2] for c in CASES} == {"01", "02", "03", "04", "05"}


def test_chunked_overhead_times_chunked_and_one_shot_extraction_of_the_same_numbers(tmp_path, monkeypatch):
    import os

    from bench import suite
    from serlib import cache

    saved = []
    real = cache.save_verified

    def spy(path, obj):
        saved.append(path)
        return real(path, obj)

    monkeypatch.setattr(cache, "save_verified", spy)
    monkeypatch.setenv("SERLIB_CACHE", os.environ.get("SERLIB_CACHE", os.path.expanduser("~/.cache/serlib")))
    before = os.environ["SERLIB_CACHE"]
    res = suite._chunked_overhead(5, repeats=1, size="tiny", chunk_size=2)
    assert os.environ["SERLIB_CACHE"] == before  # every timing ran in its own empty cache
    assert all(not str(p).startswith(before) for p in saved)
    assert res["utterances"] == 5 and res["chunk_size"] == 2 and res["repeats"] == 1
    for name in ("is10", "padded_mfcc"):
        r = res[name]
        assert r["identical"] is True and r["one_shot_s"] > 0 and r["chunked_s"] > 0
        assert r["overhead"] == r["chunked_s"] / r["one_shot_s"] - 1
    # the chunked runs really saved chunks: 3 of 2 + 2 + 1 utterances per extraction (plus the warm-up's 2)
    chunk_files = [p for p in saved if p.parent.name.endswith(".chunks")]
    by_entry = {}
    for p in chunk_files:
        by_entry.setdefault(p.parent.name.split("-")[0], []).append(p.name)
    assert sorted(by_entry) == ["is10", "padded", "trim"]
    assert all(len(names) == 3 + 2 for names in by_entry.values())
