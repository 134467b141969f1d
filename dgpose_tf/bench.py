"""Benchmarks that print figures (``dgpose bench …``); never run by the unit tests."""

from __future__ import annotations

import time


def bench_synth(size=64, n=4000, warmup=5000, seed=0, batch=500):
    """Images/s of the synthetic-people generator in this process.

    Prints the first pass (caches of appearance colour tables and backgrounds being filled) and
    the steady state: fresh sample indices after ``warmup`` samples have been drawn.
    """
    from .data.synthetic import SyntheticPeople

    ds = SyntheticPeople(size=size, seed=seed)
    t0 = time.perf_counter()
    for start in range(0, warmup, batch):
        ds.batch(start, min(batch, warmup - start))
    first = warmup / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for start in range(warmup, warmup + n, batch):
        ds.batch(start, min(batch, warmup + n - start))
    steady = n / (time.perf_counter() - t0)
    print(f"synthetic people {size}x{size}, one process: first pass {first:,.0f} images/s "
          f"({warmup} samples), steady state {steady:,.0f} images/s ({n} new samples)")
    return steady
