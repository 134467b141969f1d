"""Evaluation of the DGPose families on a freshly rendered synthetic test set (``dgpose evaluate``).

The test set is ``n`` synthetic people of a caller-chosen seed (default :data:`TEST_SEED`, which
no training config uses). Figures:

* **PCK@0.5** (Semi-DGPose): 14 joints, torso-normalised, ``<=``, pooled — the LSP convention the
  paper uses. Every joint inside the image is scored, hidden or not (the labels are complete, as
  on Human3.6M); ``pck_visible`` scores only the joints the renderer marks visible. Also the PCK
  curve over thresholds 0…0.5 (PNG) and its AUC.
* **Reconstruction PSNR / SSIM**: model output vs the input, both mapped from [−1, 1] to [0, 1]
  (``max_val = 1``; the same values as on uint8 images with 255). Deterministic mode (posterior
  means).
* **Transfer PSNR / SSIM** (beyond the papers): person A (appearance image) in the pose of person
  B, against the ground truth the renderer can draw — ``render(pose_B, appearance_A, scene_A,
  camera_B)``. B is the next sample of the test set. Semi-DGPose transfers indirectly (y from B's
  image, z from A's); Conditional-DGPose takes A's image and heatmaps and B's heatmaps.
* With a ``pose_model`` (a Semi-DGPose), **PCK of reconstructions**: poses estimated on the
  reconstructions vs the ground truth (the slides' "accuracy of reconstructed poses").

Everything is computed in batches; results are a dict of floats (also ``metrics.json``), and
``evaluate`` writes the PCK curve and an example sheet as PNG files when given ``out_dir``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import metrics
from .data.pipeline import synthetic_dataset
from .pose.draw import draw_skeleton, image_grid, line_plot

__all__ = ["TEST_SEED", "synthetic_test_set", "evaluate", "format_table", "to_unit", "to_uint8"]

TEST_SEED = 987_654
THRESHOLDS = np.linspace(0.0, 0.5, 51)


def synthetic_test_set(n=1000, seed=TEST_SEED):
    """``n`` test people (the pipeline's batch dict, as numpy) plus ``transfer_target``: person
    i's appearance and scene rendered in the pose and camera of person i+1 (cyclic), ``uint8``,
    and ``transfer_heatmaps`` / ``transfer_joints`` of person i+1."""
    from .data.synthetic import SyntheticPeople, render_batch

    if n < 2:
        raise ValueError(f"the test set needs at least 2 people, got n={n}")
    batch = next(iter(synthetic_dataset(n, n, seed=seed, normalise="tanh")))
    out = {k: v.numpy() for k, v in batch.items()}
    people = SyntheticPeople(64, seed)
    params = [people.parameters(i) for i in range(n)]
    nxt = np.roll(np.arange(n), -1)
    poses, apps, scenes, cams = zip(*params)
    targets = render_batch(np.stack([poses[j] for j in nxt]), apps, scenes,
                           [cams[j] for j in nxt], 64)
    out["transfer_target"] = np.stack([t.image for t in targets])
    out["transfer_heatmaps"] = out["heatmaps"][nxt]
    out["transfer_joints"] = out["joints"][nxt]
    return out


def _batched(fn, *arrays, batch=128):
    parts = [np.asarray(fn(*(a[i:i + batch] for a in arrays)))
             for i in range(0, len(arrays[0]), batch)]
    return np.concatenate(parts)


def to_unit(x):
    """[−1, 1] images → [0, 1] (clipped)."""
    return np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(x):
    return np.round(to_unit(x) * 255).astype(np.uint8)


def _pck_figures(pred, data, prefix=""):
    gt, labelled = data["joints"], data["pose_mask"][:, :28:2] > 0
    res = metrics.pck(pred, gt, labelled, 0.5, convention="lsp")
    _, curve = metrics.pck_curve(pred, gt, labelled, THRESHOLDS, convention="lsp")
    return {f"{prefix}pck@0.5": float(res.value),
            f"{prefix}pck_visible@0.5": float(metrics.pck(pred, gt, data["visible"] & labelled,
                                                          0.5, convention="lsp").value),
            f"{prefix}auc@0.5": float(metrics.auc(pred, gt, labelled, THRESHOLDS,
                                                  convention="lsp")),
            f"{prefix}pck_per_joint@0.5": [float(v) for v in res.per_joint]}, curve


def evaluate(model, n=1000, seed=TEST_SEED, out_dir=None, name=None, pose_model=None,
             data=None):
    """Metrics of ``model`` (a SemiDGPose or ConditionalDGPose) on the test set; see the module
    docstring. Returns a dict; writes ``pck_curve.png``, ``examples.png`` and ``metrics.json``
    into ``out_dir`` if given."""
    data = synthetic_test_set(n, seed) if data is None else data
    x = data["image"]
    x_next = np.roll(x, -1, 0)
    conditional = not hasattr(model, "estimate_pose")
    results = {"model": name or model.name, "n": int(len(x)), "seed": int(seed)}
    curves, pred = {}, None
    if conditional:
        rec = _batched(model.reconstruct, x, data["heatmaps"])
        trans = _batched(model.transfer, x, data["heatmaps"], data["transfer_heatmaps"])
    else:
        pred = _batched(model.estimate_pose, x)
        figs, curves["estimated on the inputs"] = _pck_figures(pred, data)
        results.update(figs)
        rec = _batched(model.reconstruct, x)
        trans = _batched(model.transfer, x_next, x)      # pose of B = next, appearance of A
    if pose_model is not None:
        figs, curves["estimated on the reconstructions"] = _pck_figures(
            _batched(pose_model.estimate_pose, rec), data, "reconstruction_")
        results.update(figs)
    target = data["transfer_target"].astype(np.float32) / 255.0
    results.update(
        reconstruction_psnr=float(np.mean(metrics.psnr(to_unit(rec), to_unit(x), 1.0))),
        reconstruction_ssim=float(np.mean(metrics.ssim(to_unit(rec), to_unit(x), 1.0))),
        transfer_psnr=float(np.mean(metrics.psnr(to_unit(trans), target, 1.0))),
        transfer_ssim=float(np.mean(metrics.ssim(to_unit(trans), target, 1.0))))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if curves:
            import cv2
            plot = line_plot({k: (THRESHOLDS, v) for k, v in curves.items()},
                             "normalised distance (fraction of torso)", "PCK",
                             f"{results['model']}: PCK, {len(x)} synthetic test people")
            cv2.imwrite(str(out / "pck_curve.png"), plot[..., ::-1])
        _example_sheet(out / "examples.png", data, pred, rec, trans)
        (out / "metrics.json").write_text(json.dumps(results, indent=1))
    return results


def _example_sheet(path, data, pred, rec, trans, k=8):
    """Columns: input (+ estimated pose), reconstruction, appearance A, pose B, transfer,
    ground truth of the transfer."""
    import cv2

    x = to_uint8(data["image"][:k])
    shown = x if pred is None else np.stack([draw_skeleton(im, j, thickness=1)
                                             for im, j in zip(x, pred[:k])])
    cols = [("input + pose" if pred is not None else "input", shown), ("recon", to_uint8(rec[:k])), ("app. A", x),
            ("pose B", to_uint8(np.roll(data["image"], -1, 0)[:k])), ("transfer", to_uint8(trans[:k])),
            ("truth", data["transfer_target"][:k])]
    rows = np.stack([img for i in range(k) for _, c in cols for img in [c[i]]])
    grid = image_grid(np.stack([cv2.resize(r, (128, 128), interpolation=cv2.INTER_NEAREST)
                                for r in rows]), cols=len(cols))
    strip = np.full((20, grid.shape[1], 3), 255, np.uint8)
    for i, (name, _) in enumerate(cols):
        cv2.putText(strip, name, (6 + i * 130, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.imwrite(str(path), np.concatenate([strip, grid], 0)[..., ::-1])


def format_table(results):
    """A plain-text table of result dicts: one column per result, one row per figure
    (list-valued entries left out)."""
    keys = []
    for r in results:
        keys += [k for k in r if k not in keys and k != "model" and not isinstance(r[k], list)]
    cells = [["", *(str(r.get("model", "")) for r in results)]] + [
        [k, *(f"{r[k]:.4f}" if isinstance(r.get(k), float) else str(r.get(k, "-"))
              for r in results)] for k in keys]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
