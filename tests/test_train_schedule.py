"""The learning-rate schedules of `sr-desktop train` at known iterations: a schedule that
never stepped down or warmed up trained as if at one rate, and no test noticed."""

from __future__ import annotations

import math

import pytest

from sr_desktop.engine.training.loop import STEP_MILESTONES, learning_rate
from sr_desktop.engine.training.options import TrainOptions


def _options(**kwargs) -> TrainOptions:
    return TrainOptions(arch="SRCNN", scale=2, data=("data",), out="run", lr=1e-3, iterations=1000, **kwargs)


def test_step_halves_at_each_milestone():
    options = _options(schedule="step")
    assert STEP_MILESTONES == (0.5, 0.75, 0.9)
    assert [learning_rate(options, i) for i in (0, 499, 500, 749, 750, 899, 900, 999)] == pytest.approx(
        [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4])


def test_warmup_rises_linearly_then_the_cosine_runs_over_the_rest():
    options = _options(warmup=100)
    assert [learning_rate(options, i) for i in (0, 49, 99)] == pytest.approx([1e-5, 5e-4, 1e-3])
    # the cosine starts after the warm-up: half-way through the remaining 900 iterations, half the rate
    assert learning_rate(options, 100) == pytest.approx(1e-3)
    assert learning_rate(options, 550) == pytest.approx(5e-4)
    assert learning_rate(options, 999) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 899 / 900)))


def test_constant_stays_at_the_base_rate():
    options = _options(schedule="constant")
    assert {learning_rate(options, i) for i in (0, 500, 999)} == {1e-3}
