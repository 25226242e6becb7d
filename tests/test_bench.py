"""The model throughput benchmark stays in step with the chapters' training functions."""

import pytest

from serlib.bench_models import CASES, measure


@pytest.mark.parametrize("case", [c for c in CASES if c.network.startswith(("InfoGAN", "2D CNN"))],
                         ids=lambda c: c.chapter)
def test_measure_trains_a_paper_sized_network(case):
    row = measure(case, "cpu", 1)
    assert row["device"] == "cpu" and row["steps"] == 1
    assert row["seconds"] > 0 and row["batches_per_s"] > 0
    # one epoch over the paper's corpus takes epoch_size / batch_size batches
    assert row["epoch_s"] == pytest.approx(row["seconds"] * case.epoch_size / case.batch_size, rel=0.01, abs=0.1)


def test_every_chapter_has_a_network():
    assert {c.chapter[:2] for c in CASES} == {"01", "02", "03", "04", "05"}
