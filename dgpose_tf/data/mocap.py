"""Real motion capture as training windows of the pose-sequence AE-GAN: BVH files of any skeleton
the BVH reader has a table for (CMU, Bandai-Namco, Poser-style; :data:`dgpose_tf.data.bvh.TABLES`)
read as the 28 MPI-INF-3DHP joints, resampled to the model's frame rate, cut into windows and
projected as the thesis prepares its training data (§7.1.1: each window by its own random
camera, plus its left-right mirror image) — the same windows :mod:`dgpose_tf.data.motion` makes
of procedural motion, so the two mix.

The CMU clips kept for evaluation (subjects 01 and 11, and the clips in the shared evaluation
folder) are refused by name (:data:`EVALUATION_ONLY`): no training pool can hold them.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import numpy as np

from ..pose import conversion

__all__ = ["EVALUATION_ONLY", "resample", "load_motion", "clip_windows", "select_files",
           "mocap_pool"]

#: File-name patterns of CMU motion kept for evaluation only: subjects 01 and 11 (as ``01_…``,
#: ``001_…``, ``011/…``) and the evaluation clips 02_01 and 05_06.
EVALUATION_ONLY = (r"(^|/)0?0?1_\d+\.", r"(^|/)0?11_\d+\.", r"(^|/)0?01/", r"(^|/)0?11/",
                   r"(^|/)0?02_0?01\.", r"(^|/)0?05_0?06\.")
SKELETON = "mpi_inf_3dhp28"


def resample(joints, rate, fps):
    """``joints`` ``(F, J, 3)`` sampled at ``rate`` Hz → the same motion at ``fps`` Hz, linearly
    interpolated (exact frames where ``rate`` is a multiple of ``fps``)."""
    x = np.asarray(joints, np.float64)
    if rate <= 0 or fps <= 0:
        raise ValueError(f"frame rates must be positive, got {rate} and {fps}")
    t = np.arange(0.0, (len(x) - 1) / rate + 1e-9, 1.0 / fps) * rate      # source frame index
    i0 = np.minimum(np.floor(t).astype(int), len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    a = (t - i0)[:, None, None]
    return x[i0] * (1 - a) + x[i1] * a


def load_motion(path, fps=24):
    """A BVH file → ``(T, 28, 3)`` MPI-INF-3DHP joints in metres (y up) at ``fps``; the joint
    table is chosen by the file's joint names (:func:`dgpose_tf.data.bvh.table_for`)."""
    from . import bvh

    b = bvh.load_bvh(path)
    joints = conversion("synthetic33", SKELETON)(bvh.to_synthetic(b))[0]
    if not np.isfinite(joints).all():
        raise ValueError(f"{path}: some of the 28 joints are missing after the "
                         f"{bvh.table_for(b)[0]} table")
    return resample(joints, b.fps, fps)


def clip_windows(joints3d, rng, length=24, shift=12, views=1, mirrored=True):
    """Windows of a 3-D clip ``(T, 28, 3)``, every ``shift`` frames, each projected by ``views``
    cameras of its own (:func:`dgpose_tf.data.motion.project_sequence`), plus their mirror
    images → ``(N, length, 28, 2)`` float32, y up, each in [−1, 1]²."""
    from .motion import mirror, project_sequence, windows

    w3, _ = windows(joints3d, length, shift)
    out = [project_sequence(w, rng)[0] for w in w3 for _ in range(views)]
    if not out:
        return np.zeros((0, length, joints3d.shape[1], 2), np.float32)
    out = np.stack(out)
    if mirrored:
        out = np.concatenate([out, mirror(out, SKELETON)])
    return out.astype(np.float32)


def _evaluation_only(path):
    name = str(path).replace("\\", "/")
    return any(re.search(p, name) for p in EVALUATION_ONLY)


def select_files(root, include, exclude=()):
    """BVH files under ``root`` matching any of the ``include`` glob patterns (relative to
    ``root``) and none of ``exclude``, sorted. Refuses evaluation-only CMU clips by name
    (:data:`EVALUATION_ONLY`) and an empty selection."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"motion-capture folder not found: {root} (pass --data-dir)")
    found = sorted({p for pattern in include for p in root.glob(pattern) if p.is_file()})
    found = [p for p in found if not any(fnmatch.fnmatch(str(p.relative_to(root)), e)
                                         for e in exclude)]
    banned = [p for p in found if _evaluation_only(p.relative_to(root))]
    if banned:
        raise ValueError(f"{len(banned)} selected file(s) are CMU evaluation motion (subjects 01 "
                         f"and 11, clips 02_01 and 05_06), never trained on: {banned[0]} …; "
                         f"exclude them")
    if not found:
        raise FileNotFoundError(f"no BVH file under {root} matches {list(include)}")
    return found


def mocap_pool(files, fps=24, length=24, shift=12, views=1, seed=0, progress=True):
    """The training windows of ``files`` (:func:`clip_windows`, camera draws seeded per file
    position): ``(pool (N, length, 28, 2) float32, {file: windows})``. A file that cannot be read
    is skipped and named (``skipped`` in the returned counts), so a corrupt clip does not end a
    long preparation."""
    bar = None
    if progress:
        from keras.utils import Progbar
        bar = Progbar(len(files), unit_name="clip")
    out, counts = [], {"skipped": {}}
    for i, path in enumerate(files):
        try:
            joints = load_motion(path, fps)
        except (ValueError, OSError) as exc:
            counts["skipped"][str(path)] = str(exc)
            continue
        w = clip_windows(joints, np.random.default_rng([seed, i]), length, shift, views)
        counts[str(path)] = len(w)
        out.append(w)
        if bar is not None:
            bar.update(i + 1)
    if not out:
        raise ValueError(f"none of the {len(files)} files gave a window: "
                         f"{next(iter(counts['skipped'].values()), 'too short')}")
    return np.concatenate(out), counts
