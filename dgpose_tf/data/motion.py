"""Synthetic motion: procedural 3-D clips on the synthetic body, 2-D pose sequences as the
pose-sequence AE-GAN thesis prepares them (§7.1.1), and corruptions for training and evaluation.

Clips (:data:`CLIPS`): walk, run, wave, jump, squat, arm_circles, sit_stand. Each is a cycle of
joint-angle keyframes (or a closed-form cycle) played at a random speed and amplitude, with a
per-clip style offset on every angle; a sequence chains clips at 50 Hz with 0.4 s eased
cross-fades and gradual turns, and moves the root forward while walking or running.

2-D sequences (:func:`project_sequence`): pitch, roll and camera height are drawn uniformly; the
camera stands at a random bearing and distance and its yaw points it at the mean joint position of
the sequence; the perspective projection is then shifted so the mean over joints and frames is
(0, 0) and scaled (one factor, aspect kept) so the sequence lies in [−1, 1]². Then left-right
mirroring (:func:`mirror`), half-overlapping windows (:func:`windows`, default 24 frames) and
corruptions (:func:`corrupt`) — missing joints at random frames, only a joint subset observed
(e.g. the 12 AlphaPose joints), limbs leaving the frame, detector-like jitter and left/right swaps.
Missing joints are NaN and ``observed`` is False there.
"""

from __future__ import annotations

import numpy as np

from ..pose import conversion, get_skeleton
from . import body as B

__all__ = ["FPS", "CLIPS", "clip", "motion_sequence", "project_sequence", "mirror", "windows",
           "corrupt", "SyntheticMotion", "window_pool"]

FPS = 50
CLIPS = ("walk", "run", "wave", "jump", "squat", "arm_circles", "sit_stand")
_I = B.PARAM_INDEX

# keyframed cycles: (phase in [0, 1), {param: degrees}, root height offset in m); missing params
# stay at rest. "L_/R_" expand to left_/right_.
_KEYS = {
    "walk": (1.1, 1.3, [
        (0.00, {"L_hip_flex": 25, "R_hip_flex": -15, "L_knee": 5, "R_knee": 15,
                "L_shoulder_flex": -20, "R_shoulder_flex": 20, "L_elbow": 15, "R_elbow": 25}, 0.0),
        (0.25, {"L_hip_flex": 5, "R_hip_flex": 10, "L_knee": 10, "R_knee": 55,
                "L_elbow": 15, "R_elbow": 15}, 0.02),
        (0.50, {"L_hip_flex": -15, "R_hip_flex": 25, "L_knee": 15, "R_knee": 5,
                "L_shoulder_flex": 20, "R_shoulder_flex": -20, "L_elbow": 25, "R_elbow": 15}, 0.0),
        (0.75, {"L_hip_flex": 10, "R_hip_flex": 5, "L_knee": 55, "R_knee": 10,
                "L_elbow": 15, "R_elbow": 15}, 0.02)]),
    "run": (0.7, 3.2, [
        (0.00, {"L_hip_flex": 50, "R_hip_flex": -25, "L_knee": 30, "R_knee": 40, "spine_flex": 12,
                "L_shoulder_flex": -35, "R_shoulder_flex": 40, "L_elbow": 85, "R_elbow": 95}, 0.0),
        (0.25, {"L_hip_flex": 20, "R_hip_flex": 30, "L_knee": 20, "R_knee": 110, "spine_flex": 12,
                "L_elbow": 90, "R_elbow": 90}, 0.06),
        (0.50, {"L_hip_flex": -25, "R_hip_flex": 50, "L_knee": 40, "R_knee": 30, "spine_flex": 12,
                "L_shoulder_flex": 40, "R_shoulder_flex": -35, "L_elbow": 95, "R_elbow": 85}, 0.0),
        (0.75, {"L_hip_flex": 30, "R_hip_flex": 20, "L_knee": 110, "R_knee": 20, "spine_flex": 12,
                "L_elbow": 90, "R_elbow": 90}, 0.06)]),
    "squat": (2.5, 0.0, [
        (0.00, {}, 0.0),
        (0.45, {"L_hip_flex": 95, "R_hip_flex": 95, "L_knee": 115, "R_knee": 115,
                "L_ankle": 25, "R_ankle": 25, "spine_flex": 30, "L_shoulder_flex": 85,
                "R_shoulder_flex": 85}, -0.42),
        (0.55, {"L_hip_flex": 95, "R_hip_flex": 95, "L_knee": 115, "R_knee": 115,
                "L_ankle": 25, "R_ankle": 25, "spine_flex": 30, "L_shoulder_flex": 85,
                "R_shoulder_flex": 85}, -0.42)]),
    "jump": (1.4, 0.0, [
        (0.00, {}, 0.0),
        (0.30, {"L_hip_flex": 65, "R_hip_flex": 65, "L_knee": 85, "R_knee": 85, "L_ankle": 20,
                "R_ankle": 20, "spine_flex": 25, "L_shoulder_flex": -35,
                "R_shoulder_flex": -35}, -0.22),
        (0.45, {"L_shoulder_flex": 150, "R_shoulder_flex": 150, "L_ankle": -25,
                "R_ankle": -25}, 0.08),
        (0.60, {"L_hip_flex": 20, "R_hip_flex": 20, "L_knee": 30, "R_knee": 30,
                "L_shoulder_flex": 160, "R_shoulder_flex": 160}, 0.35),
        (0.75, {"L_hip_flex": 40, "R_hip_flex": 40, "L_knee": 55, "R_knee": 55,
                "spine_flex": 15, "L_shoulder_flex": 40, "R_shoulder_flex": 40}, -0.1),
        (0.90, {}, 0.0)]),
    "sit_stand": (5.0, 0.0, [
        (0.00, {}, 0.0),
        (0.25, {"L_hip_flex": 90, "R_hip_flex": 90, "L_knee": 90, "R_knee": 90,
                "spine_flex": 8, "L_elbow": 45, "R_elbow": 45}, -0.45),
        (0.60, {"L_hip_flex": 90, "R_hip_flex": 90, "L_knee": 90, "R_knee": 90,
                "spine_flex": 8, "L_elbow": 45, "R_elbow": 45}, -0.45),
        (0.75, {"L_hip_flex": 50, "R_hip_flex": 50, "L_knee": 50, "R_knee": 50,
                "spine_flex": 35}, -0.2),
        (0.90, {}, 0.0)]),
}


def _expand(values):
    out = {}
    for k, v in values.items():
        if k.startswith("L_"):
            out["left_" + k[2:]] = v
        elif k.startswith("R_"):
            out["right_" + k[2:]] = v
        else:
            out[k] = v
    return out


def _keyframes(kind, u):
    """Angles ``(T, P)`` and root height offsets ``(T,)`` at cycle phases ``u`` (eased)."""
    keys = _KEYS[kind][2]
    phases = np.array([k[0] for k in keys] + [1.0])
    table = np.tile(B.REST, (len(keys) + 1, 1))
    heights = np.array([k[2] for k in keys] + [keys[0][2]])
    for row, (_, values, _) in enumerate(keys + [keys[0]]):
        for name, v in _expand(values).items():
            table[row, _I[name]] = v
    u = np.mod(u, 1.0)
    seg = np.clip(np.searchsorted(phases, u, side="right") - 1, 0, len(keys) - 1)
    t = (u - phases[seg]) / (phases[seg + 1] - phases[seg])
    e = (t * t * (3 - 2 * t))[:, None]                      # smoothstep easing
    angles = table[seg] * (1 - e) + table[seg + 1] * e
    height = heights[seg] * (1 - e[:, 0]) + heights[seg + 1] * e[:, 0]
    return angles, height


def clip(kind, n_frames, rng, fps=FPS):
    """One clip: joint angles ``(T, P)``, root height offset ``(T,)`` and forward speed (m/s).

    Speed ×0.8–1.25, amplitude ×0.7–1.2 around rest, a style offset of ±6° per angle.
    """
    if kind not in CLIPS:
        raise ValueError(f"unknown clip {kind!r}; known: {', '.join(CLIPS)}")
    speed = rng.uniform(0.8, 1.25)
    amp = rng.uniform(0.7, 1.2)
    t = np.arange(n_frames) / fps
    if kind in _KEYS:
        period, fwd, _ = _KEYS[kind]
        u = t * speed / period + rng.random()
        angles, height = _keyframes(kind, u)
        forward = fwd * speed * amp
    else:
        angles = np.tile(B.REST, (n_frames, 1))
        height, forward = np.zeros(n_frames), 0.0
        phase = 2 * np.pi * t * speed * rng.uniform(0.8, 1.2) + rng.uniform(0, 2 * np.pi)
        if kind == "wave":
            side = rng.choice(["left", "right"])
            angles[:, _I[f"{side}_shoulder_abd"]] = rng.uniform(110, 160)
            angles[:, _I[f"{side}_shoulder_twist"]] = 30
            angles[:, _I[f"{side}_elbow"]] = 35 + 30 * np.sin(2 * phase)
            angles[:, _I["spine_side"]] = (-5 if side == "left" else 5)
        else:  # arm_circles
            for side, sign in (("left", 1), ("right", 1)):
                angles[:, _I[f"{side}_shoulder_abd"]] = 85 + 25 * np.cos(phase)
                angles[:, _I[f"{side}_shoulder_flex"]] = 25 * sign * np.sin(phase)
                angles[:, _I[f"{side}_elbow"]] = 5
    angles = B.REST + amp * (angles - B.REST)
    style = rng.normal(0, 3, len(B.REST))
    style[_I["root_yaw"]] = 0
    return B.clip_pose(angles + style), amp * height, forward


def _ease(n):
    t = np.linspace(0, 1, n)[:, None]
    return t * t * (3 - 2 * t)


def motion_sequence(rng, n_frames=None, kinds=None, fps=FPS, body=None):
    """A variable-length 3-D sequence: ``dict(joints3d (T, 33, 3) world metres y-up, params,
    clips (T,) clip index per frame, body)``. Clips last 2–5 s; 2–4 clips unless ``n_frames``."""
    body = body if body is not None else B.sample_body(rng)
    if n_frames is None:
        n_frames = int(rng.integers(2, 5) * rng.uniform(2.0, 5.0) * fps)
    blend = int(0.4 * fps)
    params = np.zeros((n_frames, len(B.REST)))
    height = np.zeros(n_frames)
    speed = np.zeros(n_frames)
    labels = np.zeros(n_frames, np.int64)
    heading = rng.uniform(-180, 180)
    f = 0
    while f < n_frames:
        kind = rng.choice(kinds if kinds is not None else CLIPS)
        length = min(int(rng.uniform(2.0, 5.0) * fps), n_frames - f)
        p, h, v = clip(kind, length + blend, rng, fps)
        p[:, _I["root_yaw"]] = heading + np.linspace(0, rng.normal(0, 25), length + blend)
        heading = p[-1, _I["root_yaw"]]
        if f == 0:
            params[:length], height[:length] = p[:length], h[:length]
        else:
            k = min(blend, length)
            e = _ease(k)
            params[f:f + k] = params[f - 1] * (1 - e) + p[:k] * e
            height[f:f + k] = height[f - 1] * (1 - e[:, 0]) + h[:k] * e[:, 0]
            params[f + k:f + length], height[f + k:f + length] = p[k:length], h[k:length]
        speed[f:f + length] = v
        labels[f:f + length] = CLIPS.index(kind)
        f += length
    yaw = np.deg2rad(params[:, _I["root_yaw"]])
    step = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1) * (speed / fps)[:, None]
    root = np.cumsum(step, 0)
    root[:, 1] = height
    joints = B.forward_kinematics(params, body, root)
    return {"joints3d": joints, "params": params, "clips": labels, "body": body}


def project_sequence(joints3d, rng, pitch=(-20.0, 20.0), roll=(-10.0, 10.0),
                     height=(0.3, 2.2), distance=(3.0, 8.0)):
    """Project a world sequence ``(T, J, 3)`` as the thesis does (module docstring).

    ``distance`` is counted from the farthest horizontal reach of the sequence, so a camera is
    never inside a walking path.

    Returns ``(poses (T, J, 2) in [−1, 1]², camera dict)``; image x to the right, y up. NaN
    joints stay NaN and take no part in the normalisation.
    """
    X = np.asarray(joints3d, np.float64)
    centre = np.nanmean(X.reshape(-1, 3), 0)
    bearing = rng.uniform(0, 2 * np.pi)
    reach = np.nanmax(np.linalg.norm((X - centre)[..., [0, 2]], axis=-1))
    d = reach + rng.uniform(*distance)       # distance counted from the edge of the path
    cam = np.array([centre[0] + d * np.sin(bearing), rng.uniform(*height),
                    centre[2] + d * np.cos(bearing)])
    yaw = np.arctan2(centre[0] - cam[0], centre[2] - cam[2])          # look at the mean
    p, r = np.deg2rad(rng.uniform(*pitch)), np.deg2rad(rng.uniform(*roll))
    fwd = np.array([np.sin(yaw) * np.cos(p), np.sin(p), np.cos(yaw) * np.cos(p)])
    right = np.cross([0.0, 1.0, 0.0], fwd)
    right /= np.linalg.norm(right)
    up = np.cross(fwd, right)
    right, up = np.cos(r) * right + np.sin(r) * up, -np.sin(r) * right + np.cos(r) * up
    rel = X - cam
    depth = rel @ fwd
    if np.nanmin(depth) <= 0.1:
        raise ValueError("sequence passes behind the camera; use a larger distance or pitch")
    uv = np.stack([rel @ right, rel @ up], -1) / depth[..., None]
    uv -= np.nanmean(uv.reshape(-1, 2), 0)
    uv /= np.nanmax(np.abs(uv))
    return uv, {"position": cam, "yaw": float(np.rad2deg(yaw)), "pitch": float(np.rad2deg(p)),
                "roll": float(np.rad2deg(r))}


def mirror(poses, skeleton):
    """Left-right mirror of 2-D poses ``(..., J, 2)`` centred at x = 0: swap sides, negate x."""
    out = np.asarray(poses)[..., get_skeleton(skeleton).flip_indices, :].copy()
    out[..., 0] *= -1
    return out


def windows(sequence, length=24, shift=None, cover_end=False):
    """Fixed-length windows ``(N, length, …)`` and their start frames.

    ``shift`` defaults to ``length // 2`` (half-overlapping); ``cover_end`` adds a last window
    anchored to the end of the sequence (thesis Fig. 5). Sequences shorter than ``length`` give
    no window.
    """
    seq = np.asarray(sequence)
    shift = length // 2 if shift is None else shift
    if shift < 1 or length < 1:
        raise ValueError("length and shift must be positive")
    starts = list(range(0, len(seq) - length + 1, shift))
    if cover_end and starts and starts[-1] != len(seq) - length:
        starts.append(len(seq) - length)
    if not starts:
        return np.zeros((0, length) + seq.shape[1:], seq.dtype), np.zeros(0, np.int64)
    return np.stack([seq[s:s + length] for s in starts]), np.array(starts)


def corrupt(poses, rng, skeleton="mpi_inf_3dhp28", missing_rate=0.0, subset=None, frame=None,
            jitter=0.0, swap_rate=0.0):
    """Corrupt 2-D sequences ``(..., T, J, 2)``; returns ``(corrupted, observed)``.

    * ``missing_rate``: each joint of each frame is dropped with this probability;
    * ``subset``: only the joints of this joint set are observed (e.g. ``"alphapose12"``);
    * ``frame``: half-width of the visible frame; joints with ``|x|`` or ``|y|`` beyond it leave the
      frame (limbs cut off), e.g. 0.8;
    * ``jitter``: Gaussian noise (same units as the poses) on observed joints, like a detector;
    * ``swap_rate``: per frame, probability that the detector swaps left and right.
    """
    skel = get_skeleton(skeleton)
    x = np.array(poses, np.float64, copy=True)
    if x.shape[-2:] != (skel.num_joints, 2):
        raise ValueError(f"poses must be (..., T, {skel.num_joints}, 2) for {skel.name!r}, "
                         f"got {x.shape}")
    observed = np.isfinite(x).all(-1)
    if swap_rate:
        swap = rng.random(x.shape[:-2]) < swap_rate
        x[swap] = x[swap][..., skel.flip_indices, :]
    if jitter:
        x += rng.normal(0, jitter, x.shape)
    if missing_rate:
        observed &= rng.random(observed.shape) >= missing_rate
    if subset is not None:
        keep = conversion(skel, subset).matrix.any(0)   # source joints the subset copies
        observed &= keep
    if frame is not None:
        observed &= (np.abs(np.asarray(poses)) <= frame).all(-1)
    x[~observed] = np.nan
    return x, observed


class SyntheticMotion:
    """Reproducible 2-D pose-sequence windows: sequence ``i`` of seed ``s`` is fixed.

    ``sequence(i)`` gives the 3-D motion, its projection (in ``skeleton``) and the clip labels;
    ``windows(i)`` the half-overlapping windows of the projection and of its mirror image.
    """

    def __init__(self, seed=0, skeleton="mpi_inf_3dhp28", length=24, fps=FPS):
        self.seed, self.skeleton, self.length, self.fps = int(seed), skeleton, length, fps
        self._to = conversion("synthetic33", skeleton)

    def sequence(self, index):
        rng = np.random.default_rng([self.seed, int(index), 0x5E0])
        motion = motion_sequence(rng, fps=self.fps)
        joints = self._to(motion["joints3d"])[0]
        poses, camera = project_sequence(joints, rng)
        return {"poses": poses.astype(np.float32), "joints3d": joints, "clips": motion["clips"],
                "camera": camera}

    def windows(self, index, mirrored=True):
        seq = self.sequence(index)["poses"]
        w, _ = windows(seq, self.length)
        if mirrored and len(w):
            w = np.concatenate([w, mirror(w, self.skeleton)])
        return w

    def projected_windows(self, index, shift=None, mirrored=True):
        """Windows as the thesis prepares them (§7.1.1): the 3-D sequence cut into windows
        (half-overlapping by default) and each window projected by its *own* random camera, so
        every window has mean (0, 0) over joints and frames and lies in [−1, 1]²; then each
        window's left-right mirror image. ``(N, length, J, 2)`` float32."""
        rng = np.random.default_rng([self.seed, int(index), 0x5E1])
        motion = motion_sequence(rng, fps=self.fps)
        joints = self._to(motion["joints3d"])[0]
        w3, _ = windows(joints, self.length, shift)
        out = np.stack([project_sequence(w, rng)[0] for w in w3]) if len(w3) else \
            np.zeros((0, self.length, joints.shape[1], 2))
        if mirrored and len(out):
            out = np.concatenate([out, mirror(out, self.skeleton)])
        return out.astype(np.float32)


def window_pool(n_sequences, seed=0, fps=24, length=24, skeleton="mpi_inf_3dhp28", progress=True):
    """All :meth:`SyntheticMotion.projected_windows` of sequences ``0 … n_sequences − 1`` of a
    seed, stacked ``(N, length, J, 2)`` — the training pool of the pose-sequence AE-GAN."""
    motion = SyntheticMotion(seed, skeleton, length, fps)
    bar = None
    if progress:
        from keras.utils import Progbar
        bar = Progbar(int(n_sequences), unit_name="sequence")
    out = []
    for i in range(int(n_sequences)):
        out.append(motion.projected_windows(i))
        if bar is not None:
            bar.update(i + 1)
    return np.concatenate(out)


def motion_sheet(out, seed=0, frames=8, step=12, size=128, skeleton="mpi_inf_3dhp28"):
    """PNG: one row per clip kind, ``frames`` projected poses ``step`` frames apart (x right,
    y up, the [−1, 1]² square filling each tile), limbs coloured by side."""
    import cv2

    from ..pose.draw import draw_skeleton, image_grid

    to = conversion("synthetic33", skeleton)
    tiles = []
    for k, kind in enumerate(CLIPS):
        rng = np.random.default_rng([seed, k])
        seq = motion_sequence(rng, n_frames=frames * step, kinds=[kind])["joints3d"]
        uv, _ = project_sequence(to(seq)[0], rng, pitch=(0, 15), roll=(0, 0))
        for f in range(0, frames * step, step):
            px = np.stack([(uv[f, :, 0] + 1) * (size - 1) / 2, (1 - uv[f, :, 1]) * (size - 1) / 2], -1)
            tiles.append(draw_skeleton(np.full((size, size, 3), 30, np.uint8), px,
                                       skeleton=skeleton, thickness=1))
    cv2.imwrite(str(out), cv2.cvtColor(image_grid(np.stack(tiles), frames), cv2.COLOR_RGB2BGR))
    print(f"motion sheet ({', '.join(CLIPS)}, one row each): {out}")
    return out
