"""Evaluation of the pose-sequence AE-GAN, always next to what needs no model.

Training-time figures (:class:`HeldOutSequenceCurves`, on windows of a validation seed no config
trains on), each lower-is-better and printed with its trivial answer:

* ``upsample16_mpjpe``: only the 12 AlphaPose joints observed; error of the 16 others after
  G(E(·)) is Procrustes-aligned to the observed joints — against a **ridge regression 12 → 16**
  per frame fitted on the training pool (what users do today);
* ``gap_mpjpe``: frames 6–17 (0.5 s at 24 fps) missing, the rest complete; error in the gap —
  against **linear interpolation** between the frames either side;
* ``ae_mpjpe``: every joint observed, G(E(x)) vs x (how much the 128-d code keeps; no baseline).

Real-motion evaluation (:func:`evaluate_clips`, ``dgpose evaluate pose_sequence_aegan_synthetic
--bvh …``; BVH or CMU ASF/AMC) is below. It gives every method the clips as a detector would,
in image coordinates (x right, y down: :func:`to_image`), in the units of the [−1, 1] camera
frame; figures are in head sizes. Training-time figures work in the model's own frame (y up).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..pose import conversion, get_skeleton

__all__ = ["VALIDATION_SEED", "training_pool", "mocap_windows", "Ridge", "ridge_baseline",
           "linear_fill", "held_out_figures", "HeldOutSequenceCurves", "LossCurves", "load_clip",
           "clip_views", "head_size", "to_image", "detector_noise", "pchip_savgol", "kalman_rts",
           "sequence_metrics", "evaluate_clips", "evaluate_motion", "synthetic_test_motion",
           "below_trivial", "format_clip_table", "aims", "format_aims", "ABLATIONS", "ablations",
           "format_ablations"]

VALIDATION_SEED = 555555
SKELETON = "mpi_inf_3dhp28"
KEEP12 = conversion(SKELETON, "alphapose12").matrix.any(0)          # (28,) bool


def training_pool(data, cache=None):
    """The training windows a config's ``data`` names (module docstring of the fit script);
    ``cache`` (an ``.npy`` path) keeps a synthetic pool across resumes."""
    source = data.get("source", "synthetic_motion")
    if source == "npz":
        path = Path(data["path"])
        if not path.is_file():
            raise FileNotFoundError(f"data.path not found: {path}")
        with np.load(path) as f:
            if "poses" not in f:
                raise ValueError(f"{path} has no 'poses' array (N, 24, 28, 2)")
            pool = f["poses"].astype(np.float32)
        if pool.ndim != 4 or pool.shape[1:] != (24, 28, 2) or not np.isfinite(pool).all():
            raise ValueError(f"{path}: 'poses' must be finite (N, 24, 28, 2), got {pool.shape}")
        return pool
    if source not in ("synthetic_motion", "bvh"):
        raise ValueError(f"data.source must be 'synthetic_motion', 'bvh' or 'npz', got "
                         f"{source!r}")
    from ..data.motion import window_pool

    if cache is not None and Path(cache).is_file():
        return np.load(cache)
    if source == "bvh":
        # validation clips never enter the training pool
        pool = mocap_windows(data, data.get("files", ["**/*.bvh"]),
                             [*data.get("exclude", ()), *data.get("validation", ())])
        if data.get("sequences"):                 # procedural motion mixed in
            pool = np.concatenate([pool, window_pool(int(data["sequences"]),
                                                     int(data.get("seed", 0)),
                                                     fps=int(data.get("fps", 24)))])
    else:
        pool = window_pool(int(data.get("sequences", 3000)), int(data.get("seed", 0)),
                           fps=int(data.get("fps", 24)))
    if cache is not None:
        tmp = Path(str(cache) + ".partial.npy")
        np.save(tmp, pool)
        tmp.replace(cache)
    return pool


def mocap_windows(data, include, exclude=()):
    """Windows of the BVH files under ``data["dir"]`` (``--data-dir``) matching ``include`` and
    none of ``exclude`` (:func:`dgpose_tf.data.mocap.select_files`), with ``data``'s ``fps``,
    ``shift``, ``views`` and ``seed``; prints how many files and windows."""
    from ..data.mocap import mocap_pool, select_files

    if not data.get("dir"):
        raise ValueError("data.dir is not set: pass --data-dir with the motion-capture folder "
                         "(see the config's 'about')")
    files = select_files(data["dir"], include, exclude)
    pool, counts = mocap_pool(files, fps=int(data.get("fps", 24)),
                              shift=int(data.get("shift", 12)), views=int(data.get("views", 1)),
                              seed=int(data.get("seed", 0)))
    skipped = counts.pop("skipped")
    print(f"motion capture: {len(counts)} clips → {len(pool)} windows"
          + (f"; skipped {len(skipped)}: {next(iter(skipped.items()))}" if skipped else ""))
    return pool


class Ridge:
    """Per-frame ridge regression from the observed joints to the others, in a frame centred on
    the observed joints' mean and scaled by their RMS spread (so it works in any coordinate
    frame, e.g. pixels): the baseline users fit today for "upsampling" a detector's joints."""

    def __init__(self, observed=KEEP12, alpha=1e-3):
        self.observed = np.asarray(observed, bool)
        self.alpha = float(alpha)

    @staticmethod
    def _normalise(obs):
        centre = obs.mean(-2, keepdims=True)
        scale = np.sqrt(((obs - centre) ** 2).sum(-1).mean(-1))[..., None, None] + 1e-9
        return centre, scale

    def fit(self, poses):
        """``poses`` (..., 28, 2) complete."""
        p = np.asarray(poses, np.float64).reshape(-1, len(self.observed), 2)
        c, s = self._normalise(p[:, self.observed])
        q = (p - c) / s
        X = np.concatenate([q[:, self.observed].reshape(len(q), -1), np.ones((len(q), 1))], 1)
        Y = q[:, ~self.observed].reshape(len(q), -1)
        reg = self.alpha * np.eye(X.shape[1])
        reg[-1, -1] = 0
        self.W = np.linalg.solve(X.T @ X + reg * len(X), X.T @ Y)
        return self

    def predict(self, poses):
        """``poses`` (..., 28, 2) whose observed joints are finite → all 28 (observed copied)."""
        p = np.array(poses, np.float64)
        shape = p.shape
        p = p.reshape(-1, len(self.observed), 2)
        c, s = self._normalise(p[:, self.observed])
        X = ((p[:, self.observed] - c) / s).reshape(len(p), -1)
        Y = np.concatenate([X, np.ones((len(X), 1))], 1) @ self.W
        p[:, ~self.observed] = Y.reshape(len(p), -1, 2) * s + c
        return p.reshape(shape)


def ridge_baseline(pool, n=20000, seed=0, coordinates="image"):
    """A :class:`Ridge` 12 → 16 fitted on ``n`` random frames of a training pool (y up, as
    :func:`~dgpose_tf.data.motion.window_pool` gives it), for poses in ``coordinates``:
    ``"image"`` (x right, y down; the pool is mirrored to it) or ``"y_up"``."""
    rng = np.random.default_rng(seed)
    frames = pool.reshape(-1, pool.shape[-2], 2)
    if coordinates == "image":
        frames = to_image(frames)
    elif coordinates != "y_up":
        raise ValueError(f"coordinates must be 'image' or 'y_up', got {coordinates!r}")
    return Ridge().fit(frames[rng.choice(len(frames), min(n, len(frames)), replace=False)])


def linear_fill(poses, observed):
    """Per joint, linear interpolation over time between observed frames (constant beyond the
    ends): ``poses`` (T, J, 2), ``observed`` (T, J) → (T, J, 2); a joint never observed stays
    NaN."""
    p = np.array(poses, np.float64)
    t = np.arange(len(p))
    for j in range(p.shape[1]):
        ok = np.asarray(observed[:, j], bool)
        if not ok.any():
            p[:, j] = np.nan
            continue
        for d in range(2):
            p[:, j, d] = np.interp(t, t[ok], p[ok, j, d])
    return p


def _aligned_reconstruction(model, x, mask):
    """G(E(x, mask)) Procrustes-aligned (one similarity per window) to the observed joints."""
    import tensorflow as tf

    from ..geometry import procrustes_align

    rec = model.generate(model.encode(tf.constant(x * mask[..., None]), tf.constant(mask)))
    n, f, j, _ = x.shape
    aligned = procrustes_align(tf.reshape(rec, (n, f * j, 2)), x.reshape(n, f * j, 2),
                               mask.reshape(n, f * j))
    return np.asarray(aligned).reshape(n, f, j, 2)


def held_out_figures(model, windows, ridge):
    """The training-time figures (module docstring) and their trivial answers, as
    ``({figure: value}, {figure: (answer name, value)})``."""
    x = np.asarray(windows, np.float32)
    n, f, j, _ = x.shape
    err = lambda a, b: float(np.linalg.norm(a - b, axis=-1).mean())
    figures, trivial = {}, {}
    full = np.ones((n, f, j), np.float32)
    figures["ae_mpjpe"] = err(_aligned_reconstruction(model, x, full), x)
    m12 = np.broadcast_to(KEEP12.astype(np.float32), (n, f, j)).copy()
    rec = _aligned_reconstruction(model, x, m12)
    figures["upsample16_mpjpe"] = err(rec[..., ~KEEP12, :], x[..., ~KEEP12, :])
    trivial["upsample16_mpjpe"] = ("ridge 12→16", err(ridge.predict(x)[..., ~KEEP12, :],
                                                      x[..., ~KEEP12, :]))
    gap = full.copy()
    gap[:, 6:18] = 0
    rec = _aligned_reconstruction(model, x, gap)
    figures["gap_mpjpe"] = err(rec[:, 6:18], x[:, 6:18])
    lin = np.stack([linear_fill(w, g) for w, g in zip(x, gap)])
    trivial["gap_mpjpe"] = ("linear interpolation", err(lin[:, 6:18], x[:, 6:18]))
    return figures, trivial


def _append_row(path, row):
    from ..fit import append_row

    append_row(path, row)


def _draw(csv_path, png_path, trivial, figures, ylabel, ylim=None):
    import cv2

    from ..pose.draw import line_plot

    rows = list(csv.DictReader(Path(csv_path).open()))
    if len(rows) < 2:
        return
    x = np.array([float(r["sequences"]) for r in rows])
    series = {}
    for k in figures:
        if k in rows[0]:
            series[k] = (x, np.array([float(r[k]) for r in rows]))
            if k in trivial:
                name, v = trivial[k]
                series[f"{name}: {k}"] = (x[[0, -1]], np.array([v, v]))
    ys = np.concatenate([y for _, y in series.values()])
    ylim = ylim or (min(0.0, float(ys.min())), float(ys.max()) * 1.1 + 1e-9)
    plot = line_plot(series, "training sequences seen", ylabel,
                     f"{Path(csv_path).stem} ({Path(csv_path).parent.name})", size=(760, 480),
                     ylim=ylim)
    cv2.imwrite(str(png_path), plot[..., ::-1])


class HeldOutSequenceCurves:
    """Factory of a Keras callback: every ``every`` steps, :func:`held_out_figures` on 1,024
    validation windows (``val``, e.g. held-out motion-capture clips; default windows of
    :data:`VALIDATION_SEED`'s synthetic motion) → ``curves.csv`` (with the trivial answers as
    columns), TensorBoard ``heldout/…`` and ``curves.png``. ``sequences0``: sequences seen
    before this run (a warm start), added to the x axis."""

    FIGURES = ("upsample16_mpjpe", "gap_mpjpe", "ae_mpjpe")

    def __new__(cls, out_dir, every, pool, batch_size=256, step0=0, n=1024, sequences0=0,
                val=None):
        import tensorflow as tf

        from ..data.motion import window_pool
        from ..fit import every_n_steps

        out = Path(out_dir)
        path = out / "curves.csv"
        if val is None:
            val = window_pool(60, VALIDATION_SEED, fps=24, progress=False)
        val = val[np.random.default_rng(0).permutation(len(val))[:n]]
        ridge = ridge_baseline(pool, coordinates="y_up")        # the model's frame

        writer = tf.summary.create_file_writer(str(out / "tensorboard" / "heldout"))

        def measure(model, step):
            figures, trivial = held_out_figures(model, val, ridge)
            row = {"step": step, "sequences": sequences0 + step * batch_size, **figures,
                   **{f"trivial_{k}": v for k, (_, v) in trivial.items()}}
            _append_row(path, row)
            with writer.as_default():
                for k, v in figures.items():
                    tf.summary.scalar(f"heldout/{k}", v, step=step)
            writer.flush()
            _draw(path, out / "curves.png", trivial, HeldOutSequenceCurves.FIGURES,
                  "held-out MPJPE (normalised units)")
            shown = ", ".join(f"{k} {v:.4f}" + (f" ({trivial[k][0]} {trivial[k][1]:.4f})"
                                                 if k in trivial else "")
                              for k, v in figures.items())
            print(f"\nheld-out @ step {step}: {shown}")

        return every_n_steps(every, step0, measure)


class LossCurves:
    """Factory of a Keras callback appending each epoch's D/G/E training losses to
    ``losses.csv`` and drawing ``losses.png`` (critic Wasserstein estimate, gradient penalty,
    the autoencoder terms)."""

    FIGURES = ("wasserstein", "gp", "mpjpe", "mpjse", "z_mse")

    def __new__(cls, out_dir, batch_size=256):
        import keras

        out = Path(out_dir)
        path = out / "losses.csv"

        class _Losses(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                steps = self.params.get("steps") or 0
                row = {"epoch": epoch + 1, "sequences": (epoch + 1) * steps * batch_size,
                       **{k: float(v) for k, v in (logs or {}).items()}}
                _append_row(path, row)
                rows = list(csv.DictReader(path.open()))
                if len(rows) >= 2:
                    import cv2

                    from ..pose.draw import line_plot

                    x = np.arange(1, len(rows) + 1, dtype=float)
                    series = {k: (x, np.array([float(r[k]) for r in rows]))
                              for k in LossCurves.FIGURES if k in rows[0]}
                    ys = np.concatenate([y for _, y in series.values()])
                    plot = line_plot(series, "epoch", "training loss term",
                                     f"D/G/E losses ({out.name})", size=(760, 480),
                                     ylim=(min(0.0, float(ys.min())), float(ys.max()) * 1.1))
                    cv2.imwrite(str(out / "losses.png"), plot[..., ::-1])

        return _Losses()


# --- real motion: CMU clips, detector-like corruption, what users do today ----------------------
EVAL_FPS = 24
CAMERA_SEED = 2468                  # the fixed thesis-style cameras of every evaluation
GAPS = (0.25, 0.5, 1.0)             # seconds
GROUPS = {"12 observed": KEEP12, "16 upsampled": ~KEEP12, "28 all": np.ones(28, bool)}
THRESHOLDS = np.linspace(0, 1, 101)


def load_clip(path, fps=EVAL_FPS, amc_fps=120.0):
    """A motion-capture clip as 3-D MPI-INF-3DHP joints ``(T, 28, 3)`` in metres, resampled to
    ``fps`` by taking every n-th frame (CMU: 120 → 24 fps). BVH, or CMU's AMC with its subject's
    ASF beside it (``02_01.amc`` → ``02.asf``, or the folder's only ``.asf``; AMC files carry no
    frame rate: ``amc_fps``, CMU's 120)."""
    from ..data import asf_amc, bvh

    path = Path(path)
    if path.suffix.lower() == ".amc":
        asf = path.with_name(path.stem.split("_")[0] + ".asf")
        if not asf.is_file():
            found = sorted(path.parent.glob("*.asf"))
            if len(found) != 1:
                raise FileNotFoundError(f"no ASF skeleton for {path}: expected {asf.name} (or "
                                        f"one .asf) in {path.parent}")
            asf = found[0]
        skeleton = asf_amc.load_asf(asf)
        joints33, rate = asf_amc.to_synthetic(skeleton, asf_amc.load_amc(path, skeleton)), amc_fps
    else:
        b = bvh.load_bvh(path)
        joints33, rate = bvh.to_synthetic(b), b.fps
    step = max(1, int(round(rate / fps)))
    joints = conversion("synthetic33", SKELETON)(joints33)[0][::step]
    if not np.isfinite(joints).all():
        raise ValueError(f"{path}: some of the 28 joints are not in the file (CMU naming "
                         f"expected, see dgpose_tf.data.bvh.CMU_TABLE)")
    return joints


def to_image(poses):
    """Poses with y up (the camera's [−1, 1]² frame of :func:`clip_views` ``coordinates="y_up"``
    and of the training windows) → image coordinates, x right and y down as detectors write
    them, in the same units."""
    return np.asarray(poses, np.float64) * np.array([1.0, -1.0])


def clip_views(joints3d, cameras=4, seed=CAMERA_SEED, coordinates="image"):
    """``cameras`` thesis-style projections (§7.1.1: random pitch, roll and height, looking at
    the clip's mean) of a 3-D clip, each ``(T, 28, 2)`` normalised to [−1, 1]², fixed seeds, in
    image coordinates (x right, y down; ``coordinates="y_up"``: the camera's frame, y up)."""
    from ..data.motion import project_sequence

    views = [project_sequence(joints3d, np.random.default_rng([seed, c]))[0].astype(np.float64)
             for c in range(cameras)]
    if coordinates == "y_up":
        return views
    if coordinates != "image":
        raise ValueError(f"coordinates must be 'image' or 'y_up', got {coordinates!r}")
    return [to_image(v) for v in views]


def head_size(poses):
    """Per-frame ‖head_top − neck‖ of true 2-D poses ``(T, 28, 2)`` (the PCKh normaliser)."""
    sk = get_skeleton(SKELETON)
    return np.linalg.norm(poses[:, sk.index("head_top")] - poses[:, sk.index("neck")], axis=-1)


def detector_noise(poses, rng, gap_seconds=0.5, fps=EVAL_FPS, jitter=0.05, burst_rate=0.03,
                   burst_frames=(3, 12), burst_size=(0.5, 1.5), swap_rate=0.01, gap_every=2.0):
    """What a 2-D detector gives for the true poses ``(T, 28, 2)``: only the 12 AlphaPose joints,
    with errors that are **correlated in time** (an i.i.d. error would favour a plain smoother):

    * jitter: Gaussian, σ = ``jitter`` head sizes, independent per frame (the small part);
    * outlier bursts: per joint, a burst starts at a frame with probability ``burst_rate``, lasts
      ``burst_frames`` frames (uniform) and moves the joint by one offset drawn for the burst
      (``burst_size`` head sizes, random direction) drifting linearly to a second one — a
      detector locked onto the wrong limb or the background for a few frames;
    * left/right swaps: with probability ``swap_rate`` per frame a 3–10-frame burst in which the
      detector swaps the left and right joints of one limb pair;
    * gaps: every ``gap_every`` seconds (random phase) all joints missing for ``gap_seconds``
      (occlusion, the person leaving the frame).

    Returns ``(joints (T, 12, 2) AlphaPose order with NaN where missing, gap (T,) bool)``.
    """
    sk = get_skeleton(SKELETON)
    ap = get_skeleton("alphapose12")
    idx = np.array([sk.index(j) for j in ap.joints])
    truth = np.asarray(poses, np.float64)[:, idx]
    t_len = len(truth)
    h = np.median(head_size(poses))
    out = truth + rng.normal(0, jitter * h, truth.shape)
    for j in range(ap.num_joints):
        f = 0
        while f < t_len:
            if rng.random() < burst_rate:
                n = int(rng.integers(burst_frames[0], burst_frames[1] + 1))
                a, b = (rng.uniform(*burst_size) * h * np.array([np.cos(t), np.sin(t)])
                        for t in rng.uniform(0, 2 * np.pi, 2))
                w = np.linspace(0, 1, min(n, t_len - f))[:, None]
                out[f:f + n, j] += a * (1 - w) + b * w
                f += n
            else:
                f += 1
    flip = ap.flip_indices
    pairs = [(i, int(flip[i])) for i in range(ap.num_joints) if flip[i] > i]
    f = 0
    while f < t_len:
        if rng.random() < swap_rate:
            n = int(rng.integers(3, 11))
            a, b = pairs[int(rng.integers(len(pairs)))]
            out[f:f + n, [a, b]] = out[f:f + n, [b, a]]
            f += n
        else:
            f += 1
    gap = np.zeros(t_len, bool)
    g, every = max(1, int(round(gap_seconds * fps))), int(round(gap_every * fps))
    for start in range(int(rng.integers(0, every)), t_len, every):
        gap[start:start + g] = True
    out[gap] = np.nan
    return out, gap


def pchip_savgol(joints, window=9, order=2):
    """What users do today, part 1: per joint and coordinate, PCHIP through the observed frames
    (gaps filled; held constant beyond the ends), then a Savitzky–Golay filter over time
    (``window`` frames, polynomial ``order``; scipy). ``joints`` (T, J, 2) with NaN → (T, J, 2)."""
    from scipy.interpolate import PchipInterpolator
    from scipy.signal import savgol_filter

    x = np.array(joints, np.float64)
    t = np.arange(len(x))
    for j in range(x.shape[1]):
        ok = np.isfinite(x[:, j]).all(-1)
        if ok.sum() < 2:
            x[:, j] = np.nanmean(x[:, j], 0) if ok.any() else np.nan
            continue
        filled = PchipInterpolator(t[ok], x[ok, j], extrapolate=False)(t)
        first, last = np.argmax(ok), len(ok) - 1 - np.argmax(ok[::-1])
        filled[:first], filled[last + 1:] = x[first, j], x[last, j]
        x[:, j] = filled
    if len(x) >= window:
        x = savgol_filter(x, window, order, axis=0)
    return x


def kalman_rts(joints, fps=EVAL_FPS, measurement_sd=0.02, acceleration_sd=10.0):
    """A constant-velocity Kalman filter and Rauch–Tung–Striebel smoother per joint and
    coordinate (state: position, velocity; white-noise acceleration; missing frames predicted
    only). ``measurement_sd`` and ``acceleration_sd`` (per second²) are in the sequence's units;
    defaults for [−1, 1]-normalised sequences: the joints' acceleration s.d. in the synthetic
    training windows at 24 fps is 10.7 /s², and 0.02 is a tenth of their median head size (never
    set from the evaluation clips). Written out here (the textbook recursions, vectorised over
    joints and coordinates) — filterpy's ``batch_filter`` was tried and did not reproduce a
    noise-free constant-velocity line."""
    x = np.array(joints, np.float64)
    t_len = len(x)
    z = x.reshape(t_len, -1)                                   # (T, K) independent series
    ok = np.isfinite(z)
    dt = 1.0 / fps
    F = np.array([[1.0, dt], [0.0, 1.0]])
    Q = acceleration_sd ** 2 * np.array([[dt ** 4 / 4, dt ** 3 / 2], [dt ** 3 / 2, dt ** 2]])
    r = measurement_sd ** 2
    k = z.shape[1]
    first = np.where(ok.any(0), np.argmax(ok, 0), 0)
    m = np.zeros((t_len, k, 2))
    P = np.zeros((t_len, k, 2, 2))
    mp = np.zeros_like(m)
    Pp = np.zeros_like(P)
    mean = np.stack([np.nan_to_num(z[first, np.arange(k)]), np.zeros(k)], -1)
    cov = np.broadcast_to(np.diag([r, 1e4]), (k, 2, 2)).copy()       # velocity unknown at first
    for t in range(t_len):
        if t > 0:
            mean = mean @ F.T
            cov = F @ cov @ F.T + Q
        mp[t], Pp[t] = mean, cov
        seen = ok[t]
        s = cov[:, 0, 0] + r
        gain = cov[:, :, 0] / s[:, None]                          # (K, 2)
        innov = np.where(seen, np.nan_to_num(z[t]) - mean[:, 0], 0.0)
        mean = mean + gain * innov[:, None]
        upd = cov - gain[:, :, None] * cov[:, None, 0, :]
        cov = np.where(seen[:, None, None], upd, cov)
        m[t], P[t] = mean, cov
    out = m.copy()
    for t in range(t_len - 2, -1, -1):                              # RTS backward pass
        c = P[t] @ F.T @ np.linalg.inv(Pp[t + 1])
        out[t] = m[t] + np.einsum("kij,kj->ki", c, out[t + 1] - mp[t + 1])
        P[t] = P[t] + c @ (P[t + 1] - Pp[t + 1]) @ np.swapaxes(c, -1, -2)
    res = out[..., 0].reshape(x.shape)
    res[:, ~ok.any(0).reshape(x.shape[1:])] = np.nan
    return res


def _in28(joints12):
    """AlphaPose-12 joints (T, 12, 2) placed into (T, 28, 2) (NaN elsewhere)."""
    sk, ap = get_skeleton(SKELETON), get_skeleton("alphapose12")
    out = np.full((len(joints12), 28, 2), np.nan)
    out[:, [sk.index(j) for j in ap.joints]] = joints12
    return out


def sequence_metrics(pred, truth, gap=None):
    """Figures of a predicted (T, 28, 2) against the truth, distances in head sizes (per frame
    ‖head_top − neck‖ of the truth): per joint group PCKh@0.1/0.5/1.0 and AUC over α ∈ [0, 1]
    (a missing prediction is a miss), MPJPE/h, MPJSE/h (per-frame speed error), acceleration
    error/h; ``gap_mpjpe/h`` over the frames of ``gap`` if given. Errors are NaN (shown "—")
    where a prediction is missing (the raw input has no upsampled joints and nothing in gaps)."""
    h = head_size(truth)[:, None]
    d = np.linalg.norm(pred - truth, axis=-1) / h                     # (T, 28), NaN = missing
    dd = np.where(np.isfinite(d), d, np.inf)
    out = {}
    for name, sel in GROUPS.items():
        g = dd[:, sel]
        curve = np.array([(g <= a).mean() for a in THRESHOLDS])
        out[name] = {"pckh@0.1": float((g <= 0.1).mean()), "pckh@0.5": float((g <= 0.5).mean()),
                     "pckh@1.0": float((g <= 1.0).mean()), "auc": float(np.trapezoid(curve, THRESHOLDS)),
                     "mpjpe/h": float(d[:, sel].mean())}     # NaN if any prediction missing
    v_p, v_t = np.diff(pred, axis=0), np.diff(truth, axis=0)
    a_p, a_t = np.diff(pred, 2, axis=0), np.diff(truth, 2, axis=0)
    out["mpjse/h"] = float((np.linalg.norm(v_p - v_t, axis=-1) / h[1:]).mean())
    out["accel/h"] = float((np.linalg.norm(a_p - a_t, axis=-1) / h[2:]).mean())
    if gap is not None and gap.any():
        out["gap_mpjpe/h"] = float(d[gap].mean())
    return out


def synthetic_test_motion(n=8, seed=None):
    """``{name: (T, 28, 3)}`` 3-D test sequences of synthetic motion at 24 fps of a seed no
    config trains on (default :data:`dgpose_tf.evaluate.dgpose.TEST_SEED`)."""
    from ..data.motion import SyntheticMotion
    from .dgpose import TEST_SEED

    motion = SyntheticMotion(TEST_SEED if seed is None else seed, fps=EVAL_FPS)
    return {f"synthetic_{i}": motion.sequence(i)["joints3d"] for i in range(n)}


def evaluate_clips(model, paths, **kwargs):
    """:func:`evaluate_motion` on motion-capture files (BVH, CMU naming, resampled to 24 fps)."""
    return evaluate_motion(model, {Path(p).name: load_clip(p) for p in paths}, **kwargs)


def evaluate_motion(model, clips, cameras=4, shifts=(1, 8, 24), modes=("refine", "fill"),
                    steps=200, seed=CAMERA_SEED, ridge=None, progress=print, **inpaint_options):
    """The real-motion table: for each clip × camera × gap length, the corrupted 12 joints
    (:func:`detector_noise`, in image coordinates: x right, y down) answered by the raw input, PCHIP + Savitzky–Golay + ridge 12 → 16,
    Kalman RTS + ridge, and the AE-GAN (``model``: a Keras PoseSequenceAEGAN or a zoo model with
    ``inpaint``) at each shift and mode. ``clips``: ``{name: (T, 28, 3)}``. Returns
    ``{gap seconds: {method: figures averaged over clips and cameras}}``. ``bridge`` (in
    ``inpaint_options``, or a zoo card's setting): fill mode's continuity at the edges of
    unobserved stretches (:func:`~dgpose_tf.models.inpainting.bridge_residuals`)."""
    import tensorflow as tf

    from ..models.inpainting import bridge_residuals, inpaint

    if ridge is None:
        from ..data.motion import window_pool
        ridge = ridge_baseline(window_pool(200, 0, fps=EVAL_FPS, progress=False))
    bridge = bool(inpaint_options.pop("bridge", False))
    if hasattr(model, "inpaint"):             # a zoo entry: its card's settings, bridge here
        run = lambda j, **k: model.inpaint(j, **k, bridge=False)
        bridge = bridge or bool(getattr(model, "card", {}).get("inpainting", {}).get("bridge"))
    else:
        run = lambda j, **k: inpaint(model, j, **k, **inpaint_options)
    given_as = {"coordinates": "image"}
    results = {}
    for gap_s in GAPS:
        per = {}
        for c_i, (name, joints3d) in enumerate(clips.items()):
            for c, truth in enumerate(clip_views(joints3d, cameras, seed, coordinates="y_up")):
                rng = np.random.default_rng([seed, c_i, c, int(gap_s * 100)])
                noisy, gap = detector_noise(truth, rng, gap_s)
                # corrupted in the camera's frame (so the draws match earlier versions), then
                # handed over as a detector writes them: image coordinates, y down
                truth, noisy = to_image(truth), to_image(noisy)
                answers = {"raw input": _in28(noisy)}
                answers[PCHIP] = ridge.predict(_in28(pchip_savgol(noisy)))
                answers["Kalman RTS + ridge"] = ridge.predict(_in28(kalman_rts(noisy)))
                given = _in28(noisy)
                for s in shifts:
                    # one descent per shift: "fill" is "refine" with the observed joints put back
                    out = run(noisy, skeleton="alphapose12", shift=s, steps=steps, mode="refine",
                              **given_as)
                    refined = np.asarray(out["joints"], np.float64)
                    seen = np.asarray(out["observed"])
                    filled = refined
                    if bridge:                  # what the graph's fill mode does with it
                        filled = np.asarray(bridge_residuals(
                            tf.constant(refined, tf.float32),
                            tf.constant(np.nan_to_num(given), tf.float32),
                            tf.constant(seen, tf.float32)), np.float64)
                    filled = np.where(seen[..., None], given, filled)
                    for mode in modes:
                        answers[f"AE-GAN s{s} {mode}"] = refined if mode == "refine" else filled
                for method, pred in answers.items():
                    per.setdefault(method, []).append(sequence_metrics(pred, truth, gap))
            if progress:
                progress(f"  gap {gap_s} s: {name} done")
        results[gap_s] = {method: _mean_dicts(rows) for method, rows in per.items()}
    return results


PCHIP = "PCHIP + Savitzky-Golay + ridge"


def below_trivial(results, method="AE-GAN s8 fill"):
    """Figures where ``method`` does not beat what users do today (averaged over gap lengths):
    PCKh@0.5 of the 12 observed joints vs the raw input; PCKh@0.5 and AUC of the 16 upsampled
    joints vs PCHIP + Savitzky–Golay + ridge; error inside 0.5 s and 1 s gaps vs the same.
    ``results`` as :func:`evaluate_motion` returns it (gap keys may be strings, as in a card)."""
    results = {float(k): v for k, v in results.items()}
    mean = lambda m, f: float(np.mean([f(results[g][m]) for g in results]))
    checks = [("12 observed pckh@0.5", "raw input", lambda r: r["12 observed"]["pckh@0.5"], 1),
              ("16 upsampled pckh@0.5", PCHIP, lambda r: r["16 upsampled"]["pckh@0.5"], 1),
              ("16 upsampled auc", PCHIP, lambda r: r["16 upsampled"]["auc"], 1)]
    failed = [name for name, base, f, sign in checks
              if sign * (mean(method, f) - mean(base, f)) < 0]
    for g in (0.5, 1.0):
        if g in results and results[g][method]["gap_mpjpe/h"] > results[g][PCHIP]["gap_mpjpe/h"]:
            failed.append(f"gap_mpjpe/h ({g} s)")
    return failed


def aims(results, method="AE-GAN s8"):
    """The real-motion must / aim table for ``method`` (its better mode per figure is not
    picked: gap and upsampling figures are the same in both; observed-joint and acceleration
    figures are those of ``fill`` and ``refine``): one row per gap length and figure, as
    ``(gap, figure, model value, must (baseline name, value, met), aim (name, value, met))``;
    lower is better for errors, higher for PCKh and AUC."""
    rows = []
    for gap, r in results.items():
        g = float(gap)
        fill, refine = r[f"{method} fill"], r[f"{method} refine"]
        pchip, kalman, raw = r[PCHIP], r["Kalman RTS + ridge"], r["raw input"]
        gp = pchip.get("gap_mpjpe/h", float("nan"))
        rows.append((g, "gap error /h", fill["gap_mpjpe/h"], ("PCHIP + SG", gp),
                     ("0.8 × PCHIP + SG", 0.8 * gp), "lower"))
        for k in ("pckh@0.5", "auc"):
            base = pchip["16 upsampled"][k]
            rows.append((g, f"16 upsampled {k}", fill["16 upsampled"][k], ("ridge", base),
                         ("ridge + 0.03", base + 0.03), "higher"))
        for mode, m in (("fill", fill), ("refine", refine)):
            rows.append((g, f"12 observed pckh@0.5 ({mode})", m["12 observed"]["pckh@0.5"],
                         ("raw input", raw["12 observed"]["pckh@0.5"]),
                         ("PCHIP + SG", pchip["12 observed"]["pckh@0.5"]), "higher"))
            rows.append((g, f"acceleration error /h ({mode})", m["accel/h"],
                         ("PCHIP + SG", pchip["accel/h"]), ("Kalman", kalman["accel/h"]),
                         "lower"))
    out = []
    for g, figure, v, must, aim, better in rows:
        ok = (lambda ref: v <= ref) if better == "lower" else (lambda ref: v >= ref)
        out.append({"gap_s": g, "figure": figure, "model": v, "must": must[0],
                    "must_value": must[1], "must_met": bool(ok(must[1])), "aim": aim[0],
                    "aim_value": aim[1], "aim_met": bool(ok(aim[1]))})
    return out


def format_aims(results, method="AE-GAN s8"):
    """:func:`aims` as a table, each figure beside its must and aim, ✗ where missed."""
    lines = [f"{method} on real motion: each figure beside what users pick today "
             f"(must) and the aim; ✗ = missed",
             f"{'gap':>4s}  {'figure':34s} {'model':>7s}   {'must':>22s}   {'aim':>24s}"]
    for r in aims(results, method):
        mark = lambda met: " " if met else "✗"
        lines.append(f"{r['gap_s']:4.2f}  {r['figure']:34s} {r['model']:7.3f}   "
                     f"{r['must']:>14s} {r['must_value']:.3f} {mark(r['must_met'])} "
                     f"{r['aim']:>16s} {r['aim_value']:.3f} {mark(r['aim_met'])}")
    return "\n".join(lines)


#: The inpainting procedure's choices the thesis asserts without measuring, each against the
#: default (encoder init, Procrustes in the loop, prior weight 0.5, learning rate 1).
ABLATIONS = {"thesis default": {},
             "random init": {"init": "random"},
             "no Procrustes": {"align": False},
             "prior term 0": {"weights": (10.0, 5.0, 0.0)},
             "learning rate 0.1": {"lr": 0.1},
             "learning rate 0.01": {"lr": 0.01}}


def ablations(model, clips, cameras=1, gap_seconds=0.5, shift=24, steps=200, seed=CAMERA_SEED,
              variants=None):
    """The procedure ablations (:data:`ABLATIONS`) on corrupted clips: per variant the mean
    contextual loss curve over the latent descent (so "steps to reach" a fixed loss — the loss
    the default reaches at its last step, ×1.05 — compare), the final PCKh@0.5 of the 16
    upsampled joints and the error inside gaps. Returns ``{variant: figures}``."""
    import tensorflow as tf

    from ..models.inpainting import inpaint_graph, optimise_windows, prepare_windows, \
        to_model_joints

    variants = ABLATIONS if variants is None else variants
    rows = {v: {"curve": [], "metrics": []} for v in variants}
    compiled = {v: (tf.function(lambda a, b, o=opts: optimise_windows(model, a, b, steps,
                                                                     trace=True, **o)[2]),
                    tf.function(lambda a, b, o=opts: inpaint_graph(model, a, b, shift, steps,
                                                                   False, **o)["joints"]))
                for v, opts in variants.items()}
    for c_i, (name, joints3d) in enumerate(clips.items()):
        # the procedure itself, in the model's own frame (y up)
        for c, truth in enumerate(clip_views(joints3d, cameras, seed, coordinates="y_up")):
            rng = np.random.default_rng([seed, c_i, c, int(gap_seconds * 100)])
            noisy, gap = detector_noise(truth, rng, gap_seconds)
            x, m = to_model_joints(noisy, skeleton="alphapose12")
            w = prepare_windows(tf.constant(x), tf.constant(m), shift)
            for v, (trace_fn, inpaint_fn) in compiled.items():
                curve = trace_fn(w["x"], w["mask"])
                out = inpaint_fn(tf.constant(x), tf.constant(m))
                rows[v]["curve"].append(np.asarray(curve))
                rows[v]["metrics"].append(sequence_metrics(np.asarray(out, np.float64), truth,
                                                           gap))
    result = {}
    for v in variants:
        curve = np.mean(rows[v]["curve"], 0)
        mets = _mean_dicts(rows[v]["metrics"])
        result[v] = {"curve": curve.tolist(), "final_loss": float(curve[-1]),
                     "16 upsampled pckh@0.5": mets["16 upsampled"]["pckh@0.5"],
                     "28 all auc": mets["28 all"]["auc"],
                     "gap_mpjpe/h": mets.get("gap_mpjpe/h", float("nan"))}
    target = 1.05 * result[next(iter(variants))]["final_loss"]
    for v in variants:
        below = np.flatnonzero(np.asarray(result[v]["curve"]) <= target)
        result[v]["steps_to_target"] = int(below[0]) if below.size else None
    result["_target"] = target
    return result


def format_ablations(result):
    target = result["_target"]
    lines = [f"{'variant':22s} {'final loss':>10s} {'steps to ' + format(target, '.3f'):>15s} "
             f"{'16 PCKh@0.5':>11s} {'28 AUC':>7s} {'gap/h':>6s}"]
    for v, r in result.items():
        if v.startswith("_"):
            continue
        st = "never" if r["steps_to_target"] is None else str(r["steps_to_target"])
        lines.append(f"{v:22s} {r['final_loss']:10.3f} {st:>15s} "
                     f"{r['16 upsampled pckh@0.5']:11.3f} {r['28 all auc']:7.3f} "
                     f"{r['gap_mpjpe/h']:6.3f}")
    return "\n".join(lines)


def _mean_dicts(rows):
    out = {}
    for k, v in rows[0].items():
        if isinstance(v, dict):
            out[k] = _mean_dicts([r[k] for r in rows])
        else:
            vals = [r[k] for r in rows if k in r and np.isfinite(r[k])]
            out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


def format_clip_table(results):
    """The thesis's Table 2/3 layout per gap length: PCKh@0.1/0.5/1.0 and AUC per joint group,
    then MPJPE/h, MPJSE/h, acceleration error/h and the error inside gaps."""
    lines = []
    for gap_s, methods in results.items():
        lines.append(f"\ngaps of {gap_s} s (every 2 s) + outlier bursts + swaps; distances in head "
                     f"sizes")
        head = f"{'method':34s}" + "".join(f"| {g:^27s}" for g in GROUPS) + \
            "| mpjpe/h mpjse/h accel/h gap/h"
        lines.append(head)
        lines.append(f"{'':34s}" + "| @0.1  @0.5  @1.0  AUC   " * len(GROUPS))
        for name, m in methods.items():
            cells = "".join(f"| {m[g]['pckh@0.1']:.3f} {m[g]['pckh@0.5']:.3f} "
                            f"{m[g]['pckh@1.0']:.3f} {m[g]['auc']:.3f} " for g in GROUPS)
            num = lambda v: "  —  " if not np.isfinite(v) else f"{v:.3f}"
            lines.append(f"{name:34s}{cells}| {num(m['28 all']['mpjpe/h'])}   "
                         f"{num(m['mpjse/h'])}   {num(m['accel/h'])}   "
                         f"{num(m.get('gap_mpjpe/h', float('nan')))}")
    return "\n".join(lines)
