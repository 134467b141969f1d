"""The real-photo pose protocol: one function for every entry and every anchor.

Input is the whole photo, as a user gives it (LSPET photos are person-centred); predictions are
joints in the photo's pixels in LSP order (``lsp14``), NaN where a method gave none — a missed
detection counts wrong. Figures (:func:`score`), on LSPET's fixed test split
(``im09001–im10000``, :data:`dgpose_tf.data.photos.LSPET_SPLITS`):

* ``pck_torso_12`` — PCK@0.2 torso (LSP convention: ``<=``, pooled; photos without both torso
  joints left out) over the **12 limb joints** (the headline; BlazePose has no head top);
* ``pck_torso_14`` — the same over all 14 joints (neck and head top included);
* ``pck_box_12`` — PCK@0.2 of the box around the visible joints (MirrorNet's LSP metric);
* ``auc_torso_12`` — area under the torso PCK curve over 0…0.5 (12 limb joints);
* ``per_joint`` — PCK@0.2 torso of each of the 14 joints.

Beside them: the **mean-pose floor** (:func:`mean_pose_floor`: the mean pose of the training
photos, each normalised to its joints' box, placed in each test photo's box) and the anchors
(BlazePose lite / full / heavy), whose predictions ``tests/benchmarks/blazepose_lspet.py`` writes
with this module in its own virtualenv and :func:`score` scores alike.

This module needs numpy, scipy and OpenCV only (no TensorFlow), so the anchor's virtualenv can
import it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import metrics
from .table import Row

__all__ = ["LIMBS", "HEADLINE", "AIMS", "load_split", "mean_pose_floor", "score", "rows",
           "predict_entry", "format_photo_table", "aims"]

LIMBS = 12                                  # the first 12 LSP joints: ankles … wrists
HEADLINE = "pck_torso_12"
FIGURES = ("pck_torso_12", "pck_torso_14", "pck_box_12", "auc_torso_12")
#: the issue's aims for real-photo pose entries (figure, what, value or anchor name)
AIMS = ({"figure": HEADLINE, "what": "≥ BlazePose heavy", "anchor": "blazepose_heavy"},
        {"figure": HEADLINE, "what": "stretch ≥ 0.75", "value": 0.75})


def load_split(data_dir, split="test"):
    """One LSPET split as the protocol sees it: ``{"photos": [paths], "joints": (N, 14, 2) photo
    pixels, "visible": (N, 14)}``."""
    from ..data.lsp import load_lsp
    from ..data.photos import lspet_split
    data_dir = Path(data_dir)
    records = lspet_split(load_lsp(data_dir / "joints.mat", data_dir / "images"), split)
    if not records:
        raise FileNotFoundError(f"{data_dir}: no LSPET {split} records (joints.mat, images/)")
    return {"photos": [r.image for r in records],
            "joints": np.stack([r.joints for r in records]).astype(np.float64),
            "visible": np.stack([r.visible for r in records]).astype(bool)}


def _boxes(joints, visible):
    """Each pose's box of visible joints (NaN for a pose with none)."""
    import warnings
    j = np.where(visible[..., None], joints, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)             # a pose with no visible joint
        lo, hi = np.nanmin(j, 1), np.nanmax(j, 1)
    return lo, np.maximum(hi - lo, 1.0)


def mean_pose_floor(train, test):
    """The mean training pose (each pose normalised to its visible joints' box, averaged per
    joint over photos where it is visible) placed in each test photo's box of visible joints."""
    lo, size = _boxes(train["joints"], train["visible"])
    unit = (train["joints"] - lo[:, None]) / size[:, None]
    unit = np.where(train["visible"][..., None], unit, np.nan)
    mean = np.nanmean(unit, 0)
    tlo, tsize = _boxes(test["joints"], test["visible"])
    return tlo[:, None] + mean[None] * tsize[:, None]


def score(pred, data):
    """The protocol's figures of ``pred`` (N, 14, 2) photo pixels against ``data``
    (:func:`load_split`)."""
    gt, vis = data["joints"], data["visible"]
    pred = np.asarray(pred, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"predictions have shape {pred.shape}, expected {gt.shape} (LSP-14)")
    limbs = vis.copy()
    limbs[:, LIMBS:] = False
    kw = dict(threshold=0.2, convention="lsp", skeleton="lsp14")
    t12 = metrics.pck(pred, gt, limbs, **kw)
    t14 = metrics.pck(pred, gt, vis, **kw)
    b12 = metrics.pck(pred, gt, limbs, threshold=0.2, norm="bbox", strict=False,
                      reduce="pooled", skeleton="lsp14")
    auc = metrics.auc(pred, gt, limbs, thresholds=np.linspace(0, 0.5, 51), norm="torso",
                      skeleton="lsp14")
    return {"pck_torso_12": t12.value, "pck_torso_14": t14.value, "pck_box_12": b12.value,
            "auc_torso_12": float(auc), "per_joint": [float(v) for v in t14.per_joint],
            "photos_scored": int(len(gt) - t12.excluded_samples), "photos": int(len(gt))}


def rows(model, floor, anchors=None, anchor="blazepose_heavy"):
    """:class:`~dgpose_tf.evaluate.table.Row` s of the headline figures: model beside the floor
    and one anchor (``anchors``: ``{name: figures}``)."""
    a = (anchors or {}).get(anchor, {})
    return [Row(f, float(model[f]), float(floor[f]), a.get(f), True, "mean-pose floor",
                anchor.replace("_", " ") if a else "") for f in FIGURES]


def format_photo_table(figures, floor, anchors=None, names=None):
    """The protocol's table: one column per method (model, floor, each anchor), ✗ on a model
    figure below the floor or below BlazePose heavy; then the per-joint row."""
    from ..pose.skeletons import get_skeleton
    anchors = anchors or {}
    cols = [("model", figures), ("mean-pose floor", floor)] + [
        (k.replace("_", " "), v) for k, v in anchors.items()]
    head = "| figure | " + " | ".join(c for c, _ in cols) + " | |"
    lines = [head, "|" + " --- |" * (len(cols) + 2)]
    heavy = anchors.get("blazepose_heavy", {})
    for f in FIGURES:
        cells = []
        for _, v in cols:
            x = v.get(f)
            cells.append("—" if x is None or (isinstance(x, float) and math.isnan(x))
                         else f"{x:.3f}")
        r = Row(f, float(figures[f]), float(floor[f]), heavy.get(f))
        lines.append(f"| {f} ↑ | " + " | ".join(cells) + f" | {r.mark} |")
    joints = get_skeleton("lsp14").joints
    lines += ["", "per joint, PCK@0.2 torso (model / floor"
              + (" / BlazePose heavy" if heavy.get("per_joint") else "") + "):", ""]
    for i, j in enumerate(joints):
        parts = [figures["per_joint"][i], floor["per_joint"][i]]
        if heavy.get("per_joint"):
            parts.append(heavy["per_joint"][i])
        lines.append(f"  {j:16s} " + " / ".join("—" if v is None or math.isnan(v) else f"{v:.3f}"
                                               for v in parts))
    lines.append("")
    lines.append(f"{figures['photos_scored']} of {figures['photos']} photos have both torso "
                 "joints (the others are left out, LSP convention); ✗ below the floor, ✗a "
                 "below BlazePose heavy")
    return "\n".join(lines)


def aims(figures, anchors=None):
    """Each aim of :data:`AIMS` with ``met`` True / False (None: its anchor was not measured)."""
    out = []
    for a in AIMS:
        target = a.get("value")
        if "anchor" in a:
            target = (anchors or {}).get(a["anchor"], {}).get(a["figure"])
        value = figures[a["figure"]]
        out.append({**a, "target": target, "value_model": value,
                    "met": None if target is None else bool(value >= target)})
    return out


def predict_entry(model, photos, batch_size=16, progress=True):
    """A zoo entry's LSP-14 joints of each photo (whole photos), in photo pixels."""
    preds = []
    bar = None
    if progress:
        from keras.utils import Progbar
        bar = Progbar(len(photos), unit_name="photo")
    for i in range(0, len(photos), batch_size):
        chunk = photos[i:i + batch_size]
        preds.append(model.pose_photos(chunk, skeleton="lsp14")["joints"])
        if bar is not None:
            bar.add(len(chunk))
    return np.concatenate(preds).astype(np.float64)
