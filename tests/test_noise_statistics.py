"""The statistical probes of ``01.gaussian_noise`` never flake: over hundreds of seeds,
correct noise always passes them with a wide margin and each mistake always fails.

The check draws with a fixed seed, but the learner's noise may come from any generator
(CPU or CUDA, randn or normal_), so a verdict is only as good as its margins. Each test
runs the same pure functions the check uses (``tail_problem``, ``spread_problem``) on
250 independent draws, the correct noise and the mistakes from the same draw, in about a
second.
"""

from __future__ import annotations

import torch

from helpers.checks.lesson01 import (
    SPREAD_CALLS,
    SPREAD_MIN,
    SPREAD_SAMPLES,
    TAIL_BOUNDS,
    TAIL_SAMPLES,
    spread_problem,
    spread_statistics,
    tail_problem,
)

SEEDS = range(250)
CLIPS = (2.0, 2.5, 3.0)


def _measured(noise: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """What the check measures: (x + noise) - x, with x and the output in float32."""
    return (x + noise).double() - x.double()


def test_tail_probe_passes_normal_noise_with_margin_and_fails_clipped_noise():
    lowest = {cut: 1.0 for cut, _, _ in TAIL_BOUNDS}
    highest = {cut: 0.0 for cut, _, _ in TAIL_BOUNDS}
    for seed in SEEDS:
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(TAIL_SAMPLES, generator=generator)
        x = torch.randn(TAIL_SAMPLES, generator=generator)
        measured = _measured(noise, x)
        assert tail_problem(measured) is None, f"seed {seed}: {tail_problem(measured)}"
        for cut, _, _ in TAIL_BOUNDS:
            fraction = (measured.abs() > cut + 0.001).double().mean().item()
            lowest[cut] = min(lowest[cut], fraction)
            highest[cut] = max(highest[cut], fraction)
        for clip in CLIPS:  # clipped noise: no values at all beyond the cut
            problem = tail_problem(_measured(noise.clamp(-clip, clip), x))
            assert problem is not None and "too few" in problem[0], (seed, clip, problem)
    for cut, low, high in TAIL_BOUNDS:
        # What 250 seeds produced stays 3+ standard deviations of the fraction inside the
        # bounds (which are themselves 7+ standard deviations from the expected fraction).
        sd = (lowest[cut] / TAIL_SAMPLES) ** 0.5
        assert lowest[cut] - low > 3 * sd and high - highest[cut] > 3 * sd, (cut, lowest, highest)


MISTAKES = {
    "re-standardised": (
        lambda n: (n - n.mean(1, keepdim=True)) / n.std(1, keepdim=True),
        "mean is exactly 0",
    ),
    "re-centred": (lambda n: n - n.mean(1, keepdim=True), "mean is exactly 0"),
    "rescaled": (lambda n: n / n.std(1, keepdim=True), "std is exactly 1"),
}


def test_spread_probe_passes_fresh_noise_with_margin_and_fails_normalised_noise():
    lowest = float("inf")
    for seed in SEEDS:
        generator = torch.Generator().manual_seed(seed)
        raw = torch.randn(SPREAD_CALLS, SPREAD_SAMPLES, generator=generator)  # one row a call
        x = torch.randn(SPREAD_SAMPLES, generator=generator)
        measured = _measured(raw, x)
        assert spread_problem(measured) is None, f"seed {seed}: {spread_problem(measured)}"
        lowest = min(lowest, *spread_statistics(measured))
        for name, (transform, headline) in MISTAKES.items():
            problem = spread_problem(_measured(transform(raw), x))
            assert problem is not None and headline in problem[0], (name, seed, problem)
    # Each statistic is about chi²(32), mean 32: over 500 values the lowest stays far above
    # the bound (P(chi²(32) < 12) is about 1e-3; P(chi²(32) < 2) about 1e-14).
    assert lowest > 4 * SPREAD_MIN, lowest
