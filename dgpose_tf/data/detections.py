"""2-D pose detector output as sequences: read AlphaPose / COCO results, OpenPose folders and npz;
write the same formats back (with other joints, e.g. the 28 of the pose-sequence AE-GAN).

A :class:`Track` is one person over time: ``joints`` ``(T, J, 3)`` (x, y, confidence; NaN and
confidence 0 where the person was not detected in a frame), ``frames`` (T,) the frame numbers,
``skeleton``, ``names`` (image names per frame, for writing back) and ``track`` (the id).

* AlphaPose ``alphapose-results.json`` / COCO keypoint results: a list of detections with
  ``image_id`` (a file name or an int), ``keypoints`` (flat x, y, score; 17 = COCO, 26 = Halpe,
  12 = the AlphaPose body subset), ``score`` and, with pose tracking, ``idx`` — which real files
  nest inconsistently (``3``, ``3.0``, ``[3]``, ``[[3]]``, ``[3, 5]``: the first number is
  taken). Without ``idx`` the best-scoring detection of each frame is taken.
* OpenPose: a folder of per-frame ``*_keypoints.json`` with ``people[].pose_keypoints_2d``
  (18 = COCO-18, 25 = BODY_25) and, with tracking, ``person_id``.
* npz: ``joints`` (T, J, 2|3), optional ``visible`` (T, J), ``skeleton`` (a name), ``frames``.

Errors are :class:`DetectionsError` naming the file and what was wrong.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..pose import get_skeleton

__all__ = ["Track", "DetectionsError", "read_detections", "write_detections",
           "read_alphapose", "read_openpose", "read_npz", "FORMATS"]

FORMATS = ("alphapose", "openpose", "coco", "npz")
# 28: what dgpose inpaint writes back (MPI-INF-3DHP joints, names in "keypoint_names")
_KEYPOINT_SETS = {12: "alphapose12", 17: "coco17", 26: "halpe26", 28: "mpi_inf_3dhp28"}
_OPENPOSE_SETS = {18: "openpose18", 25: "openpose25", 28: "mpi_inf_3dhp28"}


class DetectionsError(ValueError):
    """Unreadable or inconsistent detector output."""


@dataclass
class Track:
    joints: np.ndarray              # (T, J, 3): x, y, confidence
    frames: np.ndarray              # (T,) frame numbers
    skeleton: str
    names: list = field(default_factory=list)
    track: object = None


def _frame_number(name, fallback):
    """The last integer in an image name ("frame_00012.jpg" → 12), else ``fallback``."""
    if isinstance(name, (int, np.integer)):
        return int(name)
    found = re.findall(r"\d+", str(name))
    return int(found[-1]) if found else fallback


def _first_number(idx):
    """AlphaPose's ``idx``, however nested (3, 3.0, [3], [[3]], [3, 5]) → 3; None if absent."""
    while isinstance(idx, (list, tuple)):
        if not idx:
            return None
        idx = idx[0]
    if idx is None:
        return None
    try:
        return int(float(idx))
    except (TypeError, ValueError):
        raise DetectionsError(f"track id {idx!r} is not a number") from None


def _load_json(path):
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise DetectionsError(f"{path} is not valid JSON ({exc}); a truncated file?") from None
    except UnicodeDecodeError:
        raise DetectionsError(f"{path} is not a text JSON file") from None


def _assemble(per_frame, path, skeleton, track):
    """{frame: (name, keypoints (J, 3))} → a :class:`Track` over every frame from the first to
    the last (frames without a detection are missing)."""
    if not per_frame:
        raise DetectionsError(f"{path}: no detections" + (f" of track {track}" if track is not
                                                           None else ""))
    first, last = min(per_frame), max(per_frame)
    n_j = get_skeleton(skeleton).num_joints
    joints = np.full((last - first + 1, n_j, 3), np.nan)
    joints[..., 2] = 0.0
    names = [""] * len(joints)
    for f, (name, kp) in per_frame.items():
        joints[f - first] = kp
        names[f - first] = name
    return Track(joints, np.arange(first, last + 1), skeleton, names, track)


def read_alphapose(path, track=None):
    """AlphaPose / COCO results JSON → :class:`Track` (module docstring). ``track``: the ``idx``
    to follow (default: the track seen in the most frames; without ids, the best detection of
    each frame)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"detections file not found: {path}")
    data = _load_json(path)
    if isinstance(data, dict) and "annotations" in data:      # COCO ground-truth style
        data = data["annotations"]
    if not isinstance(data, list):
        raise DetectionsError(f"{path}: expected a list of detections (AlphaPose / COCO results)")
    rows, sizes = [], set()
    for k, det in enumerate(data):
        if not isinstance(det, dict) or "keypoints" not in det:
            raise DetectionsError(f"{path}: detection {k} has no 'keypoints'")
        kp = np.asarray(det["keypoints"], np.float64)
        if kp.size % 3:
            raise DetectionsError(f"{path}: detection {k} has {kp.size} keypoint numbers, not a "
                                  f"multiple of 3 (x, y, score)")
        sizes.add(kp.size // 3)
        name = det.get("image_id", k)
        rows.append((name, _first_number(det.get("idx")), float(det.get("score", 1.0)),
                     kp.reshape(-1, 3)))
    if not rows:
        raise DetectionsError(f"{path}: no detections")
    if len(sizes) != 1 or next(iter(sizes)) not in _KEYPOINT_SETS:
        raise DetectionsError(f"{path}: keypoint counts {sorted(sizes)}; expected one of "
                              f"{sorted(_KEYPOINT_SETS)} (AlphaPose-12, COCO-17, Halpe-26, MPI-INF-3DHP-28)")
    skeleton = _KEYPOINT_SETS[next(iter(sizes))]
    names = sorted({str(r[0]) for r in rows}, key=lambda n: (_frame_number(n, 0), n))
    order = {n: i for i, n in enumerate(names)}
    frame_of = {n: _frame_number(n, order[n]) for n in names}
    if len(set(frame_of.values())) != len(names):          # numbers repeat: use the sort order
        frame_of = order
    ids = [r[1] for r in rows]
    if track is None and any(i is not None for i in ids):
        counts = {}
        for i in ids:
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        track = max(counts, key=lambda i: (counts[i], -i))
    per_frame, best = {}, {}
    for name, idx, score, kp in rows:
        if track is not None and idx != track:
            continue
        f = frame_of[str(name)]
        if f not in best or score > best[f]:
            best[f] = score
            per_frame[f] = (str(name), kp)
    return _assemble(per_frame, path, skeleton, track)


def read_openpose(folder, track=None):
    """A folder of OpenPose ``*_keypoints.json`` → :class:`Track` (one file per frame, in name
    order; ``track``: the ``person_id`` to follow, default the most confident person per frame)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"OpenPose folder not found: {folder}")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DetectionsError(f"{folder}: no OpenPose *.json files")
    per_frame, skeleton = {}, None
    for f_i, file in enumerate(files):
        data = _load_json(file)
        people = data.get("people") if isinstance(data, dict) else None
        if people is None:
            raise DetectionsError(f"{file}: no 'people' list (not OpenPose JSON)")
        best = None
        for person in people:
            kp = np.asarray(person.get("pose_keypoints_2d", []), np.float64)
            if kp.size == 0:
                continue
            if kp.size % 3 or kp.size // 3 not in _OPENPOSE_SETS:
                raise DetectionsError(f"{file}: pose_keypoints_2d has {kp.size} numbers; expected "
                                      f"18×3 (COCO-18), 25×3 (BODY_25) or 28×3 (dgpose inpaint)")
            sk = _OPENPOSE_SETS[kp.size // 3]
            if skeleton not in (None, sk):
                raise DetectionsError(f"{file}: {sk} keypoints after {skeleton} ones")
            skeleton = sk
            pid = _first_number(person.get("person_id"))
            if track is not None and pid != track:
                continue
            kp = kp.reshape(-1, 3)
            score = kp[:, 2].mean()
            if best is None or score > best[0]:
                best = (score, kp)
        if best is not None:
            per_frame[f_i] = (file.name, best[1])
    if skeleton is None:
        raise DetectionsError(f"{folder}: no person detected in any file")
    return _assemble(per_frame, folder, skeleton, track)


def read_npz(path):
    """npz with ``joints`` (T, J, 2|3), optional ``visible`` (T, J), ``skeleton``, ``frames``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DetectionsError(f"{path} is not a readable npz ({exc}); a truncated file?") \
            from None
    if "joints" not in data:
        raise DetectionsError(f"{path}: no 'joints' array (T, J, 2|3)")
    joints = np.asarray(data["joints"], np.float64)
    if joints.ndim != 3 or joints.shape[-1] not in (2, 3):
        raise DetectionsError(f"{path}: 'joints' must be (T, J, 2|3), got {joints.shape}")
    skeleton = str(data["skeleton"]) if "skeleton" in data else {12: "alphapose12", 17: "coco17",
                                                                  26: "halpe26", 28: "mpi_inf_3dhp28"
                                                                  }.get(joints.shape[1])
    if skeleton is None:
        raise DetectionsError(f"{path}: {joints.shape[1]} joints and no 'skeleton' entry naming "
                              f"the joint set")
    if joints.shape[-1] == 2:
        conf = np.isfinite(joints).all(-1).astype(np.float64)
        joints = np.concatenate([joints, conf[..., None]], -1)
    if "visible" in data:
        joints[..., 2] = np.where(np.asarray(data["visible"]).astype(bool), joints[..., 2], 0.0)
    frames = np.asarray(data.get("frames", np.arange(len(joints))))
    return Track(joints, frames, skeleton, [str(f) for f in frames], None)


def read_detections(path, format=None, track=None):
    """Read detector output (``format``: one of :data:`FORMATS`; default from the path: a folder
    is OpenPose, ``.npz`` npz, ``.json`` AlphaPose/COCO)."""
    path = Path(path)
    if format is None:
        format = "openpose" if path.is_dir() else "npz" if path.suffix == ".npz" else "alphapose"
    if format not in FORMATS:
        raise DetectionsError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format in ("alphapose", "coco"):
        return read_alphapose(path, track)
    if format == "openpose":
        return read_openpose(path, track)
    return read_npz(path)


def write_detections(path, track_in, joints, observed, skeleton="mpi_inf_3dhp28", format=None):
    """Write ``joints`` (T, J, 2) of ``skeleton`` for the frames of ``track_in`` in ``format``
    (default: the input's), the score of each joint 1 where observed and 0.5 where inpainted;
    joint names are stated in the file (``keypoint_names``). Written to a temporary name and
    renamed, so a failure leaves no half-written output."""
    path = Path(path)
    sk = get_skeleton(skeleton)
    format = format or ("openpose" if path.suffix == "" else "npz" if path.suffix == ".npz"
                        else "alphapose")
    score = np.where(observed, 1.0, 0.5)
    kps = np.concatenate([np.asarray(joints, np.float64), score[..., None]], -1)
    if format == "npz":
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, joints=np.asarray(joints, np.float32), observed=np.asarray(observed),
                 frames=track_in.frames, joint_names=np.array(sk.joints), skeleton=sk.name)
        tmp.replace(path)
        return path
    if format == "openpose":
        tmp = path.with_name(path.name + ".partial")
        tmp.mkdir(parents=True, exist_ok=True)
        for f, (name, kp) in enumerate(zip(track_in.names, kps)):
            stem = Path(name).stem.replace("_keypoints", "") if name else f"{f:012d}"
            doc = {"version": 1.3, "keypoint_names": list(sk.joints),
                   "people": [{"person_id": [-1 if track_in.track is None else track_in.track],
                               "pose_keypoints_2d": [round(float(v), 3) for v in kp.ravel()]}]}
            (tmp / f"{stem}_keypoints.json").write_text(json.dumps(doc))
        if path.exists():
            raise FileExistsError(f"{path} exists; choose another output folder")
        tmp.rename(path)
        return path
    out = []
    for f, (name, kp) in enumerate(zip(track_in.names, kps)):
        det = {"image_id": name if name else str(track_in.frames[f]), "category_id": 1,
               "keypoints": [round(float(v), 3) for v in kp.ravel()],
               "score": float(kp[:, 2].mean()), "keypoint_names": list(sk.joints)}
        if track_in.track is not None:
            det["idx"] = track_in.track
        out.append(det)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)
    return path
