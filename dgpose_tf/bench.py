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


def _flops_per_image(step_fn, batch):
    """FLOPs of one traced call of ``step_fn`` (a ``tf.function``) per image, from TF's profiler
    over the traced graph (forward, backward and optimiser ops), or None if it cannot tell."""
    import tensorflow as tf

    try:
        graph = step_fn.get_concrete_function().graph
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        total = tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops
    except Exception:        # noqa: BLE001 - the profiler is optional; the rate is the figure
        return None
    return total / batch if total else None


def _time_step(step, warmup, steps):
    """``(first call s, median s)`` of a traced step: the first call (tracing), ``warmup`` untimed
    calls, then the median of ``steps`` timed calls (each waits for its loss)."""
    import numpy as np

    t0 = time.perf_counter()
    step()
    trace = time.perf_counter() - t0
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step()["loss"])
        times.append(time.perf_counter() - t0)
    return trace, float(np.median(times))


def matmul_rate(n=2048, dtype="float32", repeats=5):
    """This machine's own dense matmul rate in GFLOP/s, measured in this process (``n``×``n``
    by ``n``×``n``, median of ``repeats`` warm runs): the yardstick a training step's rate is
    printed against, since machines differ between runs."""
    import numpy as np
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), (1, 2), dtype=tf.float32)
    b = tf.random.stateless_normal((n, n), (3, 4), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    mm = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    float(mm())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        float(mm())
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


def bench_train_step(family="semi_dgpose", width=1.0, batch=16, steps=5, warmup=2,
                     jit_compile=False, seed=0, precision="float32"):
    """Images/s and achieved GFLOP/s of one full training iteration (discriminator + generator
    updates) on a fixed synthetic batch, warm (after tracing and ``warmup`` steps).

    Half the batch is labelled, so both branches of the semi-supervised loss run. FLOPs are
    counted by TF's graph profiler on the traced step (convolutions, matmuls, element-wise ops).
    ``precision`` is a Keras dtype policy: ``"float32"`` or ``"mixed_bfloat16"`` (layers compute
    in bfloat16 with float32 variables; losses and distributions stay float32).
    """
    import keras
    import tensorflow as tf

    from .data import pipeline
    from .models import get_family

    keras.utils.set_random_seed(seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        model = get_family(family)(width=width)
        model.compile()
    finally:
        keras.config.set_dtype_policy(previous)
    data = next(iter(pipeline.synthetic_dataset(batch, batch, seed=seed, fraction=0.5,
                                                heatmaps=family != "semi_dgpose")))
    data = {k: tf.constant(v) for k, v in data.items()}
    step = tf.function(lambda: model.train_step(data), jit_compile=jit_compile)
    trace, sec = _time_step(step, warmup, steps)
    flops = _flops_per_image(step, batch)
    rate = batch / sec
    peak = matmul_rate()
    gflops = "n/a" if flops is None else f"{flops / 1e9:.1f} GFLOP/image, {rate * flops / 1e9:.0f} GFLOP/s"
    print(f"{family} width {width:g} batch {batch} {precision}{' XLA' if jit_compile else ''}: "
          f"{sec * 1000:.0f} ms/step (median of {steps}; first call {trace:.1f} s), "
          f"{rate:.2f} images/s, {gflops}")
    if flops is not None:
        achieved = rate * flops / 1e9
        line = (f"  this machine's fp32 matmul rate, same process: {peak:.0f} GFLOP/s; "
                f"the step runs at {achieved / peak:.0%} of it")
        if precision == "mixed_bfloat16":
            bf16 = matmul_rate(dtype="bfloat16")
            line += f" (bf16 matmul rate {bf16:.0f} GFLOP/s: {achieved / bf16:.0%} of that)"
        print(line)
    return rate


def _aegan(weights=None, seed=0):
    import keras

    from .models import build_model

    keras.utils.set_random_seed(seed)
    if weights is None:
        return build_model("pose_sequence_aegan", {})
    from . import zoo
    from pathlib import Path

    if Path(weights).exists():
        from .fit import load_run
        return load_run(weights)[0]
    return zoo.load(weights, format="keras")


def bench_sequence_train_step(batch=256, steps=5, warmup=2, seed=0):
    """Sequences/s and GFLOP/s (as a fraction of this machine's fp32 matmul rate, same process)
    of one pose-sequence AE-GAN training iteration (critic WGAN-GP step + generator/encoder
    step), warm."""
    import numpy as np
    import tensorflow as tf

    from .data.motion import window_pool

    model = _aegan(seed=seed)
    model.compile()
    pool = window_pool(max(4, batch // 60 + 1), seed, progress=False)
    x = tf.constant(np.resize(pool, (batch,) + pool.shape[1:]))
    step = tf.function(lambda: model.train_step({"poses": x}))
    trace, sec = _time_step(step, warmup, steps)
    return _report_rate(f"pose_sequence_aegan batch {batch}", step, batch, sec, trace, steps,
                        "sequences")


def bench_vunet_train_step(config="cpu64", batch=8, steps=5, warmup=2, seed=0, loss="vgg16",
                           weights=None):
    """Samples/s and GFLOP/s (as a fraction of this machine's fp32 matmul rate, same process) of
    one VUNet training iteration — encoder, prior, decoder, perceptual loss through VGG and the
    Adam update — on a fixed batch of synthetic people with their crops and Three-Layer
    stickmen, warm. ``loss``: "vgg16" (needs ``weights`` or ``$DGPOSE_VGG_WEIGHTS``; a random
    VGG16 of the same cost otherwise) or "l1_ssim"."""
    import os

    import keras
    import tensorflow as tf

    from .data.pipeline import vunet_dataset
    from .models.perceptual import build_perceptual
    from .models.vunet import CONFIGS, VUNet

    keras.utils.set_random_seed(seed)
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {', '.join(CONFIGS)}, got {config!r}")
    model = VUNet(**CONFIGS[config])
    model.build()
    weights = weights or os.environ.get("DGPOSE_VGG_WEIGHTS")
    if loss == "vgg16" and not (weights and os.path.isfile(weights)):
        loss = "random_vgg16"                         # same network, same cost
    model.compile(build_perceptual(loss, weights), steps=1000, lr_decay_begin=10)
    size = model.image_size
    b = next(iter(vunet_dataset(batch, batch, size, seed=seed)))
    crops, stick = model.prepare(b["image"], b["joints"], b["valid"], b["labels"])
    data = {"image": b["image"], "crops": crops, "stickman": stick}
    step = tf.function(lambda: model.train_step(data))
    trace, sec = _time_step(step, warmup, steps)
    n_params = sum(int(tf.size(v)) for v in model.trainable_variables)
    return _report_rate(f"vunet {config} ({size}², {n_params / 1e6:.1f} M parameters) batch "
                        f"{batch}, perceptual loss {model.perceptual.kind}", step, batch, sec,
                        trace, steps, "samples")


def _report_rate(label, step, batch, sec, trace, steps, unit):
    """Print a step's items/s and its GFLOP/s as a fraction of this machine's matmul rate (both
    measured in this process); returns items/s."""
    flops = _flops_per_image(step, batch)
    peak = matmul_rate()
    line = (f"{label}: {sec * 1000:.0f} ms/step (median of {steps}; first call {trace:.1f} s), "
            f"{batch / sec:.1f} {unit}/s")
    if flops is not None:
        achieved = batch / sec * flops / 1e9
        line += (f", {flops / 1e6:.0f} MFLOP per {unit[:-1]}, {achieved:.0f} GFLOP/s = "
                 f"{achieved / peak:.0%} of this machine's fp32 matmul rate ({peak:.0f} GFLOP/s)")
    print(line)
    return batch / sec


def bench_inpaint(frames=10000, shift=1, steps=200, loop_windows=16, model=None, seed=0):
    """Windows/s of inpainting one ``frames``-long sequence at ``shift`` with every window in
    one compiled graph, against per-window loops in the same process: the same compiled graph
    called once per window, and the textbook eager loop (one window at a time, TensorFlow
    executing op by op) — each timed on ``loop_windows`` windows; prints both speed-ups."""
    import numpy as np
    import tensorflow as tf

    from .data.motion import SyntheticMotion
    from .models.inpainting import inpaint_graph, window_starts

    net = _aegan(model, seed)
    motion = SyntheticMotion(seed=seed, fps=24)
    seqs, total = [], 0
    i = 0
    while total < frames:
        s = motion.sequence(i)["poses"]
        seqs.append(s)
        total += len(s)
        i += 1
    joints = np.concatenate(seqs)[:frames] * 200 + 300          # pixels
    observed = np.zeros(joints.shape[:2], np.float32)
    from .evaluate.pose_sequence_aegan import KEEP12
    observed[:, KEEP12] = 1
    n_windows = len(window_starts(frames, shift=shift))
    fn = tf.function(lambda j, o, s, n, f: inpaint_graph(net, j, o, s, n, f))
    args = lambda j, o: (tf.constant(j, tf.float32), tf.constant(o), tf.constant(shift),
                         tf.constant(steps), tf.constant(True))
    fn(*args(joints[:48], observed[:48]))                        # trace
    t0 = time.perf_counter()
    fn(*args(joints, observed))["joints"].numpy()
    batched = n_windows / (time.perf_counter() - t0)
    one = lambda k: args(joints[k:k + 24], observed[k:k + 24])
    fn(*one(0))["joints"].numpy()                                 # warm
    t0 = time.perf_counter()
    for k in range(loop_windows):
        fn(*one(k * shift))["joints"].numpy()
    looped = loop_windows / (time.perf_counter() - t0)
    from .models.inpainting import optimise_windows
    x = np.asarray(joints[:24][None], np.float32) / 200.0 - 1.5
    m = tf.constant(observed[:24][None])
    x = tf.constant(x * observed[:24][None, ..., None])
    t0 = time.perf_counter()
    n_eager = max(1, loop_windows // 8)
    for _ in range(n_eager):
        optimise_windows(net, x, m, steps)               # eager: op by op
    eager = n_eager / (time.perf_counter() - t0)
    print(f"inpaint {frames} frames, shift {shift} → {n_windows} windows, {steps} steps: "
          f"all windows in one graph {batched:.1f} windows/s; per-window loop of the compiled "
          f"graph {looped:.2f} windows/s ({loop_windows} timed) → {batched / looped:.0f}×; "
          f"eager per-window loop {eager:.3f} windows/s ({n_eager} timed) → "
          f"{batched / eager:.0f}×")
    return batched, looped, eager


def bench_pose_photos(model, photos, n=64, anchor_python=None, anchor_script=None):
    """Photos/s of a pose entry's whole photo → joints path (``pose_photos``: read, letterbox,
    network, map back) at batch 1 and 32, beside BlazePose lite / full / heavy timed in the same
    run (``anchor_python``: the MediaPipe virtualenv's python, which runs
    ``tests/benchmarks/blazepose_lspet.py --time``), and this machine's matmul rate, so other
    machines compare by ratio. Photo decoding is excluded for every method."""
    import json
    import subprocess
    from pathlib import Path

    import numpy as np

    from . import zoo
    from .data.photos import read_photo
    from .pose_files import collect_photos

    files = collect_photos(photos)[:n]
    arrays = [read_photo(f) for f in files]
    m = zoo.load(model) if isinstance(model, str) else model
    m.pose_photos(arrays[:2])                                   # trace
    rates = {}
    for batch in (1, 32):
        t0 = time.perf_counter()
        for i in range(0, len(arrays), batch):
            m.pose_photos(arrays[i:i + batch])
        rates[batch] = len(arrays) / (time.perf_counter() - t0)
    gflops = matmul_rate()
    print(f"{m.card['name']}: {rates[1]:.1f} photos/s at batch 1, {rates[32]:.1f} at batch 32 "
          f"({len(arrays)} photos; matmul {gflops:.0f} GFLOP/s in this process)")
    anchors = {}
    if anchor_python:
        script = anchor_script or Path(__file__).resolve().parents[1] / "tests" / "benchmarks" \
            / "blazepose_lspet.py"
        out = subprocess.run([str(anchor_python), str(script), "--time"] + [str(f) for f in files],
                             capture_output=True, text=True, check=True)
        anchors = json.loads(out.stdout.strip().splitlines()[-1])
        for name, ms in anchors.items():
            print(f"BlazePose {name}: {1000.0 / ms:.1f} photos/s at batch 1 → "
                  f"{m.card['name']} is {rates[1] * ms / 1000.0:.2f}× its rate")
        if "heavy" in anchors:
            aim = rates[1] * anchors["heavy"] / 1000.0
            mark = "✓" if aim >= 3 else "✗"
            print(f"{mark} aim: ≥ 3× BlazePose heavy's photos/s at batch 1 (measured {aim:.2f}×)")
    return {"batch1": rates[1], "batch32": rates[32], "matmul_gflops": gflops,
            "blazepose_ms": anchors}
