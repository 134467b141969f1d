"""Evaluation of the DGPose families on a freshly rendered synthetic test set (``dgpose evaluate``),
every figure printed next to the answer that needs no model.

The test set is ``n`` synthetic people of a caller-chosen seed (default :data:`TEST_SEED`, which
no training config uses; training curves use :data:`VALIDATION_SEED`, also used by no config).

Model figures and the trivial answer each is judged against (:data:`TRIVIAL`):

* **PCK@0.5** (Semi-DGPose): 14 joints, torso-normalised, ``<=``, pooled — the LSP convention the
  paper uses; every joint inside the image is scored, hidden or not (the labels are complete, as
  on Human3.6M); ``pck_visible`` scores only the joints the renderer marks visible. Also the PCK
  curve over thresholds 0…0.5 (PNG) and its AUC. Trivial answer: the **mean pose** of
  :data:`TRAIN_SEED` people (the training data, never the test set) for every image.
* **Reconstruction** SSIM / PSNR (whole image) and foreground-masked SSIM / L1 (the renderer's
  person mask, so that drawing the background alone cannot score): model output vs the input, both
  mapped from [−1, 1] to [0, 1] (``max_val = 1``; the same values as on uint8 images with 255),
  posterior means. Trivial answer: a **flat image of the input's mean colour**; also printed, as
  a reference a model is not required to beat, the **input blurred** with σ = 2 px.
* **Transfer** (beyond the papers): person A in the pose of person B (B is the next test sample)
  against the ground truth the renderer draws, ``render(pose_B, appearance_A, scene_A, camera_B)``,
  masked by the true person mask of that render. Semi-DGPose transfers indirectly (y from B's
  image, z from A's); Conditional-DGPose takes A's image and heatmaps and B's heatmaps. Trivial
  answer: **copy A's image unchanged**.
* **Where the whole-image SSIM is lost** (no trivial answer; :func:`ssim_split`):
  ``*_ssim_true_background`` is the SSIM the model would score with the true background pasted
  around its person (outside the true person mask), ``*_ssim_true_person`` with the true person
  pasted into its background. The background is most of the image, and the copied appearance
  image has it exactly (the truth of a transfer is drawn in A's scene).
* With a ``pose_model`` (a Semi-DGPose: the zoo's pose estimator), **pose fidelity** of generated
  images: PCK@0.5 of the poses it finds on reconstructions (against the input's pose) and on
  transfers (against B's pose), next to its PCK on the true renders (``pose_model_pck@0.5``).
  Trivial answers: the mean pose for reconstructions; for transfers, the pose it finds on the
  copied image A scored against B's pose.
* **Does the decoder use the pose?** Only the pose input changes (A's appearance code with B's
  true pose vector — Semi-DGPose — or B's heatmaps — Conditional-DGPose): ``pose_swap_change`` is
  the mean absolute change of the output over the union of both people's masks, in [0, 1] units
  (trivial answer: 0, a decoder that ignores the pose; reference: the same change between the true
  renders, ``pose_swap_change_truth``), and ``pose_swap_pck@0.5`` the pose model's PCK on the
  result against B's pose (trivial answer: as for transfers).

``results["below_trivial"]`` lists every model figure that does not beat its trivial answer;
:func:`format_table` marks them, and ``training/publish.py`` refuses to publish such a model.
Results are a dict of floats (also ``metrics.json``); with ``out_dir``, ``pck_curve.png`` (the
mean-pose floor drawn) and ``examples.png`` are written too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import metrics
from ..data.pipeline import synthetic_dataset
from ..pose.draw import draw_skeleton, image_grid, line_plot

__all__ = ["TEST_SEED", "VALIDATION_SEED", "TRAIN_SEED", "TRIVIAL", "synthetic_test_set",
           "mean_pose", "trivial_answers", "ssim_split", "evaluate", "below_trivial",
           "format_table", "pck_of", "to_unit", "to_uint8"]

TEST_SEED = 987_654
VALIDATION_SEED = 555_555
TRAIN_SEED = 0
BLUR_SIGMA = 2.0
THRESHOLDS = np.linspace(0.0, 0.5, 51)

# model figure → (trivial answer, True if higher is better)
_IMAGE_FIGURES = {"ssim": True, "psnr": True, "masked_ssim": True, "masked_l1": False}
TRIVIAL = {
    "pck@0.5": ("mean pose", True), "pck_visible@0.5": ("mean pose", True),
    "auc@0.5": ("mean pose", True),
    **{f"reconstruction_{k}": ("flat mean colour", hi) for k, hi in _IMAGE_FIGURES.items()},
    **{f"transfer_{k}": ("copy appearance image", hi) for k, hi in _IMAGE_FIGURES.items()},
    "reconstruction_pck@0.5": ("mean pose", True),
    "transfer_pck@0.5": ("copy appearance image", True),
    "pose_swap_change": ("ignore the pose", True),
    "pose_swap_pck@0.5": ("copy appearance image", True),
}
# reference answers printed beside a figure but not required to be beaten
REFERENCE = {**{f"reconstruction_{k}": "blurred input" for k in _IMAGE_FIGURES},
             "pose_swap_change": "true renders",
             "transfer_pck@0.5": "true renders", "reconstruction_pck@0.5": "true renders",
             "pose_swap_pck@0.5": "true renders"}


def synthetic_test_set(n=1000, seed=TEST_SEED):
    """``n`` test people (the pipeline's batch dict with the renderer's extras, as numpy) plus
    ``transfer_target``: person i's appearance and scene rendered in the pose and camera of person
    i+1 (cyclic), ``uint8``, with its person mask ``transfer_mask`` and ``transfer_heatmaps`` /
    ``transfer_joints`` / ``transfer_pose_vector`` of person i+1."""
    from ..data.synthetic import SyntheticPeople, render_batch

    if n < 2:
        raise ValueError(f"the test set needs at least 2 people, got n={n}")
    batch = next(iter(synthetic_dataset(n, n, seed=seed, normalise="tanh", extras=True)))
    out = {k: v.numpy() for k, v in batch.items()}
    people = SyntheticPeople(64, seed)
    params = [people.parameters(i) for i in range(n)]
    nxt = np.roll(np.arange(n), -1)
    poses, apps, scenes, cams = zip(*params)
    targets = render_batch(np.stack([poses[j] for j in nxt]), apps, scenes,
                           [cams[j] for j in nxt], 64)
    out["transfer_target"] = np.stack([t.image for t in targets])
    out["transfer_mask"] = np.stack([t.mask for t in targets])
    for k in ("heatmaps", "joints", "pose_vector", "pose_mask", "mask"):
        out[f"transfer_{k}" if k != "mask" else "next_mask"] = out[k][nxt]
    return out


@lru_cache(maxsize=4)
def mean_pose(n=2000, seed=TRAIN_SEED):
    """The mean of the 14 joints (pixels, ``(14, 2)``) over ``n`` people of the *training* seed,
    each joint averaged over the people in whose image it lies."""
    batch = next(iter(synthetic_dataset(n, n, seed=seed, heatmaps=False)))
    joints = batch["joints"].numpy()
    labelled = batch["pose_mask"].numpy()[:, :28:2] > 0
    return (joints * labelled[..., None]).sum(0) / np.maximum(labelled.sum(0), 1)[:, None]


def _batched(fn, *arrays, batch=128):
    parts = [np.asarray(fn(*(a[i:i + batch] for a in arrays)))
             for i in range(0, len(arrays[0]), batch)]
    return np.concatenate(parts)


def pck_of(estimate_pose, data):
    """PCK@0.5 (LSP rules) of a pose estimator on a :func:`synthetic_test_set`."""
    return _pck_figures(_batched(estimate_pose, data["image"]), data)[0]["pck@0.5"]


def to_unit(x):
    """[−1, 1] images → [0, 1] (clipped)."""
    return np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(x):
    return np.round(to_unit(x) * 255).astype(np.uint8)


def _labelled(data, prefix=""):
    return data[f"{prefix}pose_mask"][:, :28:2] > 0


def _pck_figures(pred, data, prefix="", target=""):
    """PCK@0.5 / visible / AUC of ``pred`` against the test joints (``target="transfer_"``: the
    next person's joints) and the PCK curve."""
    gt, labelled = data[f"{target}joints"], _labelled(data, target)
    res = metrics.pck(pred, gt, labelled, 0.5, convention="lsp")
    _, curve = metrics.pck_curve(pred, gt, labelled, THRESHOLDS, convention="lsp")
    out = {f"{prefix}pck@0.5": float(res.value)}
    if not target:
        vis = data["visible"] & labelled
        out.update({f"{prefix}pck_visible@0.5": float(metrics.pck(pred, gt, vis, 0.5,
                                                                   convention="lsp").value),
                    f"{prefix}auc@0.5": float(metrics.auc(pred, gt, labelled, THRESHOLDS,
                                                          convention="lsp")),
                    f"{prefix}pck_per_joint@0.5": [float(v) for v in res.per_joint]})
    return out, curve


def ssim_split(out, ref, mask):
    """Where a whole-image SSIM is lost: ``(with the true background, with the true person)`` —
    the mean SSIM of ``out`` with everything outside the person ``mask`` replaced by ``ref``, and
    with everything inside it replaced by ``ref``. Images in [0, 1]."""
    inside = np.asarray(mask, bool)[..., None]
    return (float(np.mean(metrics.ssim(np.where(inside, out, ref), ref, 1.0))),
            float(np.mean(metrics.ssim(np.where(inside, ref, out), ref, 1.0))))


def _image_figures(out, ref, mask, prefix, split=False):
    """SSIM, PSNR, masked SSIM and masked L1 of images in [0, 1] (means over the images); with
    ``split``, also :func:`ssim_split`'s two figures."""
    figs = {f"{prefix}ssim": float(np.mean(metrics.ssim(out, ref, 1.0))),
            f"{prefix}psnr": float(np.mean(metrics.psnr(out, ref, 1.0))),
            f"{prefix}masked_ssim": float(np.nanmean(metrics.masked_ssim(out, ref, mask, 1.0))),
            f"{prefix}masked_l1": float(np.nanmean(metrics.masked_l1(out, ref, mask)))}
    if split:
        figs[f"{prefix}ssim_true_background"], figs[f"{prefix}ssim_true_person"] = \
            ssim_split(out, ref, mask)
    return figs


def flat_colour(images):
    """Each image replaced by its mean colour (the reconstruction floor)."""
    x = np.asarray(images, np.float32)
    return np.broadcast_to(x.mean((1, 2), keepdims=True), x.shape).copy()


def blurred(images, sigma=BLUR_SIGMA):
    import cv2

    return np.stack([cv2.GaussianBlur(np.asarray(im, np.float32), (0, 0), sigma)
                     for im in images])


def _swap_region(data):
    return (data["mask"] > 0) | (data["next_mask"] > 0)


def trivial_answers(data, pose_model=None):
    """The answers that need no model, scored like the model (see the module docstring):
    ``{answer name: {figure: value}}`` and the mean-pose PCK curve."""
    x = to_unit(data["image"])
    target = data["transfer_target"].astype(np.float32) / 255.0
    n = len(x)
    mean = np.broadcast_to(mean_pose(), (n, 14, 2))
    pose, curve = _pck_figures(mean, data)
    answers = {
        "mean pose": {**pose, "reconstruction_pck@0.5": pose["pck@0.5"]},
        "flat mean colour": _image_figures(flat_colour(x), x, data["mask"], "reconstruction_"),
        "blurred input": _image_figures(blurred(x), x, data["mask"], "reconstruction_"),
        "copy appearance image": _image_figures(x, target, data["transfer_mask"], "transfer_"),
        "ignore the pose": {"pose_swap_change": 0.0},
        "true renders": {"pose_swap_change": float(np.mean(metrics.masked_l1(
            target, x, _swap_region(data))))},
    }
    if pose_model is not None:
        on_a = _batched(pose_model.estimate_pose, data["image"])
        copy = _pck_figures(on_a, data, target="transfer_")[0]["pck@0.5"]
        answers["copy appearance image"].update({"transfer_pck@0.5": copy,
                                                 "pose_swap_pck@0.5": copy})
        truth_t = _batched(pose_model.estimate_pose,
                           data["transfer_target"].astype(np.float32) / 127.5 - 1.0)
        answers["true renders"].update({
            "reconstruction_pck@0.5": _pck_figures(on_a, data)[0]["pck@0.5"],
            "transfer_pck@0.5": _pck_figures(truth_t, data, target="transfer_")[0]["pck@0.5"]})
        answers["true renders"]["pose_swap_pck@0.5"] = answers["true renders"]["transfer_pck@0.5"]
    return answers, curve


def below_trivial(results):
    """The model figures of ``results`` that do not beat their trivial answer."""
    bad = []
    for fig, (answer, higher) in TRIVIAL.items():
        mine = results.get(fig)
        base = results.get("trivial", {}).get(answer, {}).get(fig)
        if mine is None or base is None:
            continue
        if not np.isfinite(mine) or (mine <= base if higher else mine >= base):
            bad.append(fig)
    return bad


def evaluate(model, n=1000, seed=TEST_SEED, out_dir=None, name=None, pose_model=None,
             data=None, answers=None):
    """Metrics of ``model`` (a SemiDGPose or ConditionalDGPose) on the test set beside the trivial
    answers; see the module docstring. ``answers`` reuses :func:`trivial_answers` of the same
    ``data`` (training curves do). Returns a dict; writes ``pck_curve.png``, ``examples.png`` and
    ``metrics.json`` into ``out_dir`` if given."""
    data = synthetic_test_set(n, seed) if data is None else data
    answers, floor_curve = trivial_answers(data, pose_model) if answers is None else answers
    x = data["image"]
    x_unit = to_unit(x)
    conditional = not hasattr(model, "estimate_pose")
    results = {"model": name or model.name, "n": int(len(x)), "seed": int(seed)}
    curves, pred = {}, None
    if conditional:
        rec = _batched(model.reconstruct, x, data["heatmaps"])
        trans = _batched(model.transfer, x, data["heatmaps"], data["transfer_heatmaps"])
        swapped = trans                     # only the heatmaps differ: the same thing
        same = rec
    else:
        pred = _batched(model.estimate_pose, x)
        figs, curves["model, on the inputs"] = _pck_figures(pred, data)
        results.update(figs)
        rec = _batched(model.reconstruct, x)
        trans = _batched(model.transfer, np.roll(x, -1, 0), x)  # pose of B = next, app. of A
        swapped = same = None
        if hasattr(model, "generate"):
            dim = data["pose_vector"].shape[-1]                # one encoding: y ⊕ z
            codes = _batched(lambda im: np.concatenate([np.asarray(t) for t in model.encode(im)],
                                                       -1), x)
            y_a, z = codes[:, :dim], codes[:, dim:]
            if getattr(model, "background_stream", False):    # A's background kept
                draw = lambda y, z_, im, ya: model.generate(y, z_, images=im, source_pose=ya)
            else:
                draw = lambda y, z_, im, ya: model.generate(y, z_)
            swapped = _batched(draw, data["transfer_pose_vector"], z, x, y_a)
            same = _batched(draw, data["pose_vector"], z, x, y_a)
    target = data["transfer_target"].astype(np.float32) / 255.0
    results.update(_image_figures(to_unit(rec), x_unit, data["mask"], "reconstruction_",
                                  split=True))
    results.update(_image_figures(to_unit(trans), target, data["transfer_mask"], "transfer_",
                                  split=True))
    if swapped is not None:
        results["pose_swap_change"] = float(np.mean(metrics.masked_l1(
            to_unit(swapped), to_unit(same), _swap_region(data))))
    if pose_model is not None:
        on_rec = _batched(pose_model.estimate_pose, rec)
        figs, curves["pose model, on the reconstructions"] = _pck_figures(on_rec, data)
        results["reconstruction_pck@0.5"] = figs["pck@0.5"]
        results["transfer_pck@0.5"] = _pck_figures(_batched(pose_model.estimate_pose, trans),
                                                   data, target="transfer_")[0]["pck@0.5"]
        if swapped is not None:
            results["pose_swap_pck@0.5"] = _pck_figures(
                _batched(pose_model.estimate_pose, swapped), data, target="transfer_")[0]["pck@0.5"]
    results["trivial"] = answers
    results["below_trivial"] = below_trivial(results)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if curves:
            import cv2
            curves["mean pose (floor)"] = floor_curve
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
    cols = [("input + pose" if pred is not None else "input", shown), ("recon", to_uint8(rec[:k])),
            ("app. A", x), ("pose B", to_uint8(np.roll(data["image"], -1, 0)[:k])),
            ("transfer", to_uint8(trans[:k])), ("truth", data["transfer_target"][:k])]
    rows = np.stack([img for i in range(k) for _, c in cols for img in [c[i]]])
    grid = image_grid(np.stack([cv2.resize(r, (128, 128), interpolation=cv2.INTER_NEAREST)
                                for r in rows]), cols=len(cols))
    strip = np.full((20, grid.shape[1], 3), 255, np.uint8)
    for i, (name, _) in enumerate(cols):
        cv2.putText(strip, name, (6 + i * 130, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.imwrite(str(path), np.concatenate([strip, grid], 0)[..., ::-1])


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def format_table(results):
    """A plain-text table: one row per figure, a column per model, then the figure's trivial
    answer and its value (and the reference answer where there is one). A model value that does
    not beat its trivial answer is marked ``✗``."""
    keys = []
    for r in results:
        keys += [k for k in r if k not in keys and k not in ("model", "trivial", "below_trivial")
                 and not isinstance(r[k], list)]
    answers = results[0].get("trivial", {}) if results else {}
    header = ["", *(str(r.get("model", "")) for r in results), "trivial answer", "", "reference",
              ""]
    cells = [header]
    for k in keys:
        row = [k] + [_fmt(r[k]) + (" ✗" if k in r.get("below_trivial", []) else "")
                     if k in r else "-" for r in results]
        answer = TRIVIAL.get(k, ("", True))[0]
        ref = REFERENCE.get(k, "")
        row += [answer, _fmt(answers.get(answer, {}).get(k, "")),
                ref, _fmt(answers.get(ref, {}).get(k, ""))]
        cells.append(row)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths))).rstrip() for row in cells]
    marks = [f"{r.get('model')}: below its trivial answer: {', '.join(r['below_trivial'])}"
             for r in results if r.get("below_trivial")]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:], *marks])
