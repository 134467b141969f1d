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
  (18 = COCO-18, 25 = BODY_25 — or BODY_25B, same count, another order: name it with
  ``skeleton="openpose25b"`` or Pose2Sim's ``"BODY_25B"``) and, with tracking, ``person_id``.
  Without ids (OpenPose writes ``-1``), people are linked from frame to frame by where they are
  (:func:`link_tracks`) and the person seen in the most frames is followed.

The joint set follows from the keypoint count unless ``skeleton`` names it (any name
:func:`dgpose_tf.pose.get_skeleton` knows, or a detector's own: :data:`SKELETON_NAMES`).
Coordinates are kept as the files have them: image pixels, x right, y down.
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
           "read_alphapose", "read_openpose", "read_npz", "link_tracks", "resolve_skeleton",
           "FORMATS", "SKELETON_NAMES"]

FORMATS = ("alphapose", "openpose", "coco", "npz")
# 28: what dgpose inpaint writes back (MPI-INF-3DHP joints, names in "keypoint_names")
_KEYPOINT_SETS = {12: "alphapose12", 17: "coco17", 26: "halpe26", 28: "mpi_inf_3dhp28"}
_OPENPOSE_SETS = {18: "openpose18", 25: "openpose25", 28: "mpi_inf_3dhp28"}
#: detectors' own names for their joint sets (as Pose2Sim's ``pose_model`` spells them)
SKELETON_NAMES = {"body_25b": "openpose25b", "body_25": "openpose25", "coco_18": "openpose18",
                  "body_18": "openpose18", "coco": "coco17", "coco_17": "coco17",
                  "halpe_26": "halpe26"}


class DetectionsError(ValueError):
    """Unreadable or inconsistent detector output."""


def resolve_skeleton(name):
    """A joint set's name in this package for ``name`` (ours, or a detector's own, e.g.
    ``"BODY_25B"``); None passes through."""
    if name is None:
        return None
    key = str(name).lower()
    key = SKELETON_NAMES.get(key, key)
    try:
        return get_skeleton(key).name
    except KeyError:
        raise DetectionsError(f"unknown joint set {name!r}; known: "
                              f"{', '.join(sorted(SKELETON_NAMES))} and this package's "
                              f"(dgpose skeletons)") from None


def _named_or_counted(skeleton, count, counted, where):
    """The joint set of ``count`` keypoints: ``skeleton`` if named (its count must match), else
    by count from ``counted``."""
    if skeleton is not None:
        if get_skeleton(skeleton).num_joints != count:
            raise DetectionsError(f"{where}: {count} keypoints, but {skeleton} has "
                                  f"{get_skeleton(skeleton).num_joints}")
        return skeleton
    return counted.get(count)


def _longest_track(ids):
    """The id seen most often (ties: the smallest) — the person seen in the most frames."""
    counts = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    return max(counts, key=lambda i: (counts[i], -i))


def link_tracks(detections, gate=0.5, min_confidence=0.1):
    """Link untracked people across frames by where they are: ``detections`` is a list over
    frames of lists of ``(J, 3)`` keypoints (x, y, confidence). Each frame's people are matched
    to the tracks so far (Hungarian assignment on the mean distance of the joints confident in
    both, over the track's last size — its box diagonal); a pair farther apart than ``gate``
    per frame since the track was last seen starts a new track. Returns a list over frames of
    track ids (0, 1, … in order of first appearance), one per person."""
    from scipy.optimize import linear_sum_assignment

    last, seen_at, out = [], [], []           # last keypoints of each track, and their frame
    for f, people in enumerate(detections):
        ids = [-1] * len(people)
        if people and last:
            cost = np.full((len(people), len(last)), np.inf)
            sizes = [np.linalg.norm(np.ptp(p[p[:, 2] > min_confidence, :2], 0))
                     if (p[:, 2] > min_confidence).any() else 0.0 for p in last]
            for i, kp in enumerate(people):
                for t, prev in enumerate(last):
                    ok = (kp[:, 2] > min_confidence) & (prev[:, 2] > min_confidence)
                    if ok.sum() < 2:
                        continue
                    d = np.linalg.norm(kp[ok, :2] - prev[ok, :2], axis=-1).mean()
                    cost[i, t] = d / max(sizes[t], 1e-6)
            finite = np.where(np.isfinite(cost), cost, 1e9)
            for i, t in zip(*linear_sum_assignment(finite)):
                if cost[i, t] <= gate * (f - seen_at[t]):
                    ids[i] = int(t)
        for i, kp in enumerate(people):
            if ids[i] < 0:
                ids[i] = len(last)
                last.append(kp)
                seen_at.append(f)
            else:
                last[ids[i]], seen_at[ids[i]] = kp, f
        out.append(ids)
    return out


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


def read_alphapose(path, track=None, skeleton=None):
    """AlphaPose / COCO results JSON → :class:`Track` (module docstring). ``track``: the ``idx``
    to follow (default: the track seen in the most frames; without ids, the best detection of
    each frame); ``skeleton``: the joint set by name (default: by keypoint count)."""
    skeleton = resolve_skeleton(skeleton)
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
    named = {d.get("skeleton") for d in data if isinstance(d, dict)}
    if skeleton is None and len(named) == 1 and None not in named:     # dgpose pose's files
        skeleton = resolve_skeleton(named.pop())
    skeleton = _named_or_counted(skeleton, next(iter(sizes)), _KEYPOINT_SETS, path) \
        if len(sizes) == 1 else None
    if skeleton is None:
        raise DetectionsError(f"{path}: keypoint counts {sorted(sizes)}; expected one of "
                              f"{sorted(_KEYPOINT_SETS)} (AlphaPose-12, COCO-17, Halpe-26, MPI-INF-3DHP-28)")
    names = sorted({str(r[0]) for r in rows}, key=lambda n: (_frame_number(n, 0), n))
    order = {n: i for i, n in enumerate(names)}
    frame_of = {n: _frame_number(n, order[n]) for n in names}
    if len(set(frame_of.values())) != len(names):          # numbers repeat: use the sort order
        frame_of = order
    ids = [r[1] for r in rows]
    if track is None and any(i is not None for i in ids):
        track = _longest_track(i for i in ids if i is not None)
    per_frame, best = {}, {}
    for name, idx, score, kp in rows:
        if track is not None and idx != track:
            continue
        f = frame_of[str(name)]
        if f not in best or score > best[f]:
            best[f] = score
            per_frame[f] = (str(name), kp)
    return _assemble(per_frame, path, skeleton, track)


def read_openpose(folder, track=None, skeleton=None):
    """A folder of OpenPose ``*_keypoints.json`` → :class:`Track` (one file per frame, in name
    order; ``track``: the ``person_id`` to follow — or, when the files have no ids, the track
    number :func:`link_tracks` gives, in order of first appearance —; default the person seen in
    the most frames; ``skeleton``: the joint set by name, default by keypoint count)."""
    named = resolve_skeleton(skeleton)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"OpenPose folder not found: {folder}")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DetectionsError(f"{folder}: no OpenPose *.json files")
    skeleton, frames = None, []               # per frame: [(person_id, keypoints)]
    for file in files:
        data = _load_json(file)
        people = data.get("people") if isinstance(data, dict) else None
        if people is None:
            raise DetectionsError(f"{file}: no 'people' list (not OpenPose JSON)")
        found = []
        for person in people:
            kp = np.asarray(person.get("pose_keypoints_2d", []), np.float64)
            if kp.size == 0:
                continue
            sk = None if kp.size % 3 else _named_or_counted(named, kp.size // 3,
                                                            _OPENPOSE_SETS, file)
            if sk is None:
                raise DetectionsError(f"{file}: pose_keypoints_2d has {kp.size} numbers; expected "
                                      f"18×3 (COCO-18), 25×3 (BODY_25) or 28×3 (dgpose inpaint)")
            if skeleton not in (None, sk):
                raise DetectionsError(f"{file}: {sk} keypoints after {skeleton} ones")
            skeleton = sk
            pid = _first_number(person.get("person_id"))
            found.append((None if pid is None or pid < 0 else pid, kp.reshape(-1, 3)))
        frames.append(found)
    if skeleton is None:
        raise DetectionsError(f"{folder}: no person detected in any file")
    if not any(pid is not None for found in frames for pid, _ in found):   # untracked: link
        linked = link_tracks([[kp for _, kp in found] for found in frames])
        frames = [[(t, kp) for t, (_, kp) in zip(ids, found)]
                  for ids, found in zip(linked, frames)]
    if track is None:
        track = _longest_track(pid for found in frames for pid, _ in found)
    per_frame = {}
    for f_i, found in enumerate(frames):
        mine = [kp for pid, kp in found if pid == track]
        if mine:                              # the most confident, if an id repeats
            per_frame[f_i] = (files[f_i].name, max(mine, key=lambda kp: kp[:, 2].mean()))
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


def read_detections(path, format=None, track=None, skeleton=None):
    """Read detector output (``format``: one of :data:`FORMATS`; default from the path: a folder
    is OpenPose, ``.npz`` npz, ``.json`` AlphaPose/COCO; ``skeleton``: the joint set by name,
    default by keypoint count)."""
    path = Path(path)
    if format is None:
        format = "openpose" if path.is_dir() else "npz" if path.suffix == ".npz" else "alphapose"
    if format not in FORMATS:
        raise DetectionsError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format in ("alphapose", "coco"):
        return read_alphapose(path, track, skeleton)
    if format == "openpose":
        return read_openpose(path, track, skeleton)
    tr = read_npz(path)
    if skeleton is not None:
        named = resolve_skeleton(skeleton)
        tr.skeleton = _named_or_counted(named, tr.joints.shape[1], {}, path)
    return tr


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
