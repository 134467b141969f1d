"""Evaluation of the VUNet family on synthetic people whose ground truth the renderer gives.

* :func:`test_pairs` — person A (appearance a, pose p_A, camera c_A) and person B; the transfer
  target is A's appearance rendered in B's pose and camera, which no real dataset has. Images
  have the training pipeline's grey background (:func:`dgpose_tf.data.pipeline.vunet_people`).
* :func:`evaluate_vunet` — reconstruction (A from A's crops and stickman) and transfer (A's crops,
  B's stickman) against the rendered truth: SSIM, foreground-masked SSIM and L1 (the person mask of
  the truth), per-part mean-colour error (top, bottom, skin: the renderer's part labels), each
  next to the answers that need no model — the input copied unchanged (copy-source) and a flat
  image of its mean colour; KL per latent scale (0 means that scale collapsed); appearance-swap
  consistency; PCK of a pose estimator on generated images next to its PCK on the true renders.
* :func:`counterfactual_pairs` / :func:`occlusion_order` — the 2.5D claim measured: the same 2-D
  pose rendered twice with one crossing limb's occlusion order flipped; the fraction of the pixels
  where the two truths differ at which the model's output is closer to the right one.
"""

from __future__ import annotations

import numpy as np

from .. import metrics
from .dgpose import TEST_SEED, VALIDATION_SEED, to_unit

__all__ = ["test_pairs", "evaluate_vunet", "counterfactual_pairs", "occlusion_order",
           "format_vunet_table", "TEST_SEED", "VALIDATION_SEED"]


def _render(params, size, depth_offsets=None):
    from ..data.synthetic import render_batch, stack

    poses, apps, scenes, cams = zip(*params)
    return stack(render_batch(np.stack(poses), apps, scenes, cams, size,
                              depth_offsets=depth_offsets))


def test_pairs(n=256, seed=TEST_SEED, size=64, rule="occlusion", margin=0.05):
    """``n`` (A, B) pairs: dict with ``a_*`` (A's own render: image, joints, valid, labels, mask),
    ``b_*`` (B's own render), ``t_*`` (A's appearance in B's pose and camera: the transfer truth)
    and ``a_parts`` / ``t_parts`` (part-label images). Appearances of the test seed are drawn
    from ids no training config uses (≥ 5,000; training draws ids below 5,000)."""
    from ..data.pipeline import vunet_people
    from ..data.synthetic import Appearance, SyntheticPeople

    people = SyntheticPeople(size=size, seed=seed)
    rng = np.random.default_rng([seed, 99])
    pa, pb, pt = [], [], []
    for i in range(n):
        pose_a, _, scene_a, cam_a = people.parameters(2 * i)
        pose_b, _, scene_b, cam_b = people.parameters(2 * i + 1)
        app_a = Appearance.from_id(5000 + int(rng.integers(0, 10**6)))
        app_b = Appearance.from_id(5000 + int(rng.integers(0, 10**6)))
        pa.append((pose_a, app_a, scene_a, cam_a))
        pb.append((pose_b, app_b, scene_b, cam_b))
        pt.append((pose_b, app_a, scene_b, cam_b))
    out = {}
    for key, params in (("a", pa), ("b", pb), ("t", pt)):
        batch = _render(params, size)
        v = vunet_people(batch, size, rule, margin)
        out.update({f"{key}_{k}": v[k] for k in ("image", "joints", "valid", "labels", "mask")})
        out[f"{key}_joints2d"] = batch["joints2d"]
        out[f"{key}_visible"] = batch["visible"]
    from ..data.synthetic import part_labels

    out["a_parts"] = part_labels(pa, size)
    out["t_parts"] = part_labels(pt, size)
    return out


def _model_io(model, images_u8, joints, valid, labels, stick_joints=None, stick_valid=None,
              stick_labels=None, batch=64):
    """Generated images (uint8) from the appearance of ``images_u8`` and the stickman of
    ``stick_*`` (default: the same person's)."""
    import tensorflow as tf

    sj = joints if stick_joints is None else stick_joints
    sv = valid if stick_valid is None else stick_valid
    sl = labels if stick_labels is None else stick_labels
    outs = []
    for i in range(0, len(images_u8), batch):
        sl_ = slice(i, i + batch)
        x = tf.constant(images_u8[sl_], tf.float32) / 127.5 - 1.0
        crops, _ = model.prepare(x, joints[sl_], valid[sl_], labels[sl_])
        _, stick = model.prepare(x, sj[sl_], sv[sl_], sl[sl_])
        outs.append(model.generate(stick, model.appearance(crops)).numpy())
    return np.round(to_unit(np.concatenate(outs)) * 255).astype(np.uint8)


def _figures(pred_u8, truth_u8, mask, prefix):
    p = pred_u8.astype(np.float32) / 255.0
    t = truth_u8.astype(np.float32) / 255.0
    return {f"{prefix}ssim": float(np.mean(metrics.ssim(p, t, 1.0))),
            f"{prefix}masked_ssim": float(np.nanmean(metrics.masked_ssim(p, t, mask, 1.0))),
            f"{prefix}masked_l1": float(np.nanmean(metrics.masked_l1(p, t, mask)))}


def _part_colour_error(pred_u8, truth_u8, parts):
    """Mean over images of |mean colour of the part in the prediction − in the truth| (0–255
    per channel, averaged), for top, bottom and skin, over the truth's part pixels."""
    from ..data.synthetic import PART_GROUPS

    out = {}
    for group, ids in PART_GROUPS.items():
        errs = []
        for p, t, lab in zip(pred_u8, truth_u8, parts):
            m = np.isin(lab, ids)
            if m.sum() < 4:
                continue
            errs.append(np.abs(p[m].astype(np.float32).mean(0) -
                               t[m].astype(np.float32).mean(0)).mean())
        out[group] = float(np.mean(errs)) if errs else float("nan")
    return out


def flat(images_u8):
    x = images_u8.astype(np.float32)
    return np.broadcast_to(x.mean((1, 2), keepdims=True), x.shape).round().astype(np.uint8)


def kl_per_scale(model, data, batch=64):
    """Mean KL(q‖p) per latent scale (coarsest first) on A's images, teacher-forced prior."""
    import tensorflow as tf

    sums = None
    n = 0
    for i in range(0, len(data["a_image"]), batch):
        s = slice(i, i + batch)
        x = tf.constant(data["a_image"][s], tf.float32) / 127.5 - 1.0
        crops, stick = model.prepare(x, data["a_joints"][s], data["a_valid"][s],
                                     data["a_labels"][s])
        qs = model.appearance(crops)
        _, ps, _ = model.dec_down(model.dec_up(stick), qs)
        kls = [float(k) * len(x) for k in model.kl_terms(qs, ps)]
        sums = kls if sums is None else [a + b for a, b in zip(sums, kls)]
        n += len(x)
    return [s / n for s in sums]


def pose_fidelity(pose_model, data, transfer_u8):
    """PCK@0.5 (14 joints, LSP rules, in-frame joints) of ``pose_model`` (a Semi-DGPose:
    ``estimate_pose`` on [−1, 1] images) on the transfers against the target pose, next to its
    PCK on the true renders of that pose (the ceiling) and on the copied appearance image (the
    floor)."""
    from ..pose import conversion

    to14 = conversion("synthetic33", "semi_dgpose14")
    gt, _ = to14(data["t_joints2d"])
    size = transfer_u8.shape[1]
    inside = np.isfinite(gt).all(-1) & (gt >= 0).all(-1) & (gt <= size - 1).all(-1)
    gt = np.nan_to_num(gt)
    out = {}
    for name, imgs in (("generated", transfer_u8), ("true renders", data["t_image"]),
                       ("copy appearance image", data["a_image"])):
        x = imgs.astype(np.float32) / 127.5 - 1.0
        pred = np.concatenate([np.asarray(pose_model.estimate_pose(x[i:i + 128]))
                               for i in range(0, len(x), 128)])
        out[name] = float(metrics.pck(pred, gt, inside, 0.5, convention="lsp").value)
    return out


def evaluate_vunet(model, data=None, n=256, seed=TEST_SEED, quick=False, pose_model=None):
    """Figures of a VUNet on :func:`test_pairs` next to the trivial answers. ``quick``: only the
    reconstruction/transfer image figures (the held-out curves during training). ``pose_model``
    (a Semi-DGPose) adds the pose fidelity of the transfers (:func:`pose_fidelity`)."""
    data = data or test_pairs(n, seed, model.image_size)
    if data["a_image"].shape[1] != model.image_size:
        raise ValueError(f"test images are {data['a_image'].shape[1]}², the model takes "
                         f"{model.image_size}²")
    rec = _model_io(model, data["a_image"], data["a_joints"], data["a_valid"], data["a_labels"])
    tra = _model_io(model, data["a_image"], data["a_joints"], data["a_valid"], data["a_labels"],
                    data["b_joints"], data["b_valid"], data["b_labels"])
    res = {**_figures(rec, data["a_image"], data["a_mask"], "reconstruction_"),
           **_figures(tra, data["t_image"], data["t_mask"], "transfer_")}
    if quick:
        return res
    res["trivial"] = {
        "flat mean colour": {**_figures(flat(data["a_image"]), data["a_image"], data["a_mask"],
                                   "reconstruction_"),
                        **_figures(flat(data["a_image"]), data["t_image"], data["t_mask"],
                                   "transfer_")},
        "copy appearance image": _figures(data["a_image"], data["t_image"], data["t_mask"],
                                           "transfer_"),
    }
    res["part_colour_error"] = {
        "reconstruction": _part_colour_error(rec, data["a_image"], data["a_parts"]),
        "transfer": _part_colour_error(tra, data["t_image"], data["t_parts"]),
        "copy source (transfer)": _part_colour_error(data["a_image"], data["t_image"],
                                                     data["t_parts"]),
        "flat colour (transfer)": _part_colour_error(flat(data["a_image"]), data["t_image"],
                                                     data["t_parts"])}
    res["kl_per_scale"] = kl_per_scale(model, data)
    res["appearance_swap"] = appearance_swap(tra, data)
    if pose_model is not None:
        res["pose_estimator"] = pose_fidelity(pose_model, data, tra)
    res["below_trivial"] = below_trivial(res)
    res["_images"] = {"reconstruction": rec, "transfer": tra}
    res["_stickman"] = model.stickman
    return res


def foreground(images_u8, tol=12):
    """Pixels that differ from the grey background by more than ``tol`` (any channel)."""
    return (np.abs(images_u8.astype(np.int16) - 128) > tol).any(-1)


def appearance_swap(transfer_u8, data):
    """Swapping appearance codes (A's code, B's stickman): the pose is kept — foreground IoU of
    the output with the truth's person mask, next to B's own mask IoU with it (1 by construction
    is out of reach: same pose, other body) — and the clothes change — the output's part colours
    are nearer A's (the truth) than B's own."""
    fg = foreground(transfer_u8)
    t = data["t_mask"] > 0
    iou = (fg & t).sum((1, 2)) / np.maximum((fg | t).sum((1, 2)), 1)
    near_a = _part_colour_error(transfer_u8, data["t_image"], data["t_parts"])
    near_b = _part_colour_error(transfer_u8, data["b_image"], data["t_parts"])
    return {"pose_iou": float(iou.mean()),
            "colour_error_to_a": float(np.nanmean(list(near_a.values()))),
            "colour_error_to_b": float(np.nanmean(list(near_b.values())))}


#: figure → (trivial answer, higher is better)
TRIVIAL = {"reconstruction_masked_ssim": ("flat mean colour", True),
           "reconstruction_ssim": ("flat mean colour", True),
           "reconstruction_masked_l1": ("flat mean colour", False),
           "transfer_masked_ssim": ("copy appearance image", True),
           "transfer_ssim": ("copy appearance image", True),
           "transfer_masked_l1": ("copy appearance image", False)}


def below_trivial(res):
    """Figures where the model does not beat its trivial answer."""
    out = []
    for k, (answer, higher) in TRIVIAL.items():
        base = res.get("trivial", {}).get(answer, {}).get(k)
        if base is None or k not in res:
            continue
        if (res[k] <= base) if higher else (res[k] >= base):
            out.append(k)
    return out


def example_sheet(path, data, res, k=8):
    """PNG: per row A, B, A's stickman, reconstruction, B's stickman, transfer, truth."""
    import cv2

    from ..models.stickman import numpy_stickman

    kind = res.get("_stickman", "three_layer")
    sa = numpy_stickman(data["a_joints"][:k], data["a_valid"][:k], data["a_labels"][:k],
                        data["a_image"].shape[1], kind)[..., :3]
    sb = numpy_stickman(data["b_joints"][:k], data["b_valid"][:k], data["b_labels"][:k],
                        data["a_image"].shape[1], kind)[..., :3]
    rows = [np.concatenate([data["a_image"][i], data["b_image"][i], sa[i],
                            res["_images"]["reconstruction"][i], sb[i],
                            res["_images"]["transfer"][i], data["t_image"][i]], 1)
            for i in range(min(k, len(sa)))]
    sheet = np.concatenate(rows, 0)
    sheet = cv2.resize(sheet, (sheet.shape[1] * 2, sheet.shape[0] * 2),
                       interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), sheet[..., ::-1])
    return path


class VunetCurves:
    """Factory of a Keras callback: every ``every`` steps, the quick figures of
    :func:`evaluate_vunet` on ``n`` validation pairs (:data:`VALIDATION_SEED`) appended to
    ``<out>/curves.csv`` and drawn to ``curves.png`` with the copy-source answer as a flat line."""

    FIGURES = ("reconstruction_masked_ssim", "transfer_masked_ssim", "reconstruction_ssim",
               "transfer_ssim")

    def __new__(cls, out_dir, every, n=64, batch_size=8, size=64, rule="occlusion", step0=0):
        from pathlib import Path

        from ..fit import append_row, draw_curves, every_n_steps

        data = test_pairs(n, VALIDATION_SEED, size, rule)
        copy = _figures(data["a_image"], data["t_image"], data["t_mask"], "transfer_")
        flatf = _figures(flat(data["a_image"]), data["a_image"], data["a_mask"], "reconstruction_")
        out = Path(out_dir)
        path = out / "curves.csv"

        def measure(model, step):
            res = evaluate_vunet(model, data, quick=True)
            append_row(path, {"step": step, "images": step * batch_size, **res})
            draw_curves(path, out / "curves.png", {"copy appearance image": copy,
                                                   "flat mean colour": flatf},
                        VunetCurves.FIGURES)
            print(f"\nheld-out @ step {step}: " + ", ".join(
                f"{k} {v:.3f}" for k, v in res.items()) +
                f" (copy source: transfer_masked_ssim {copy['transfer_masked_ssim']:.3f})")

        return every_n_steps(every, step0, measure)


def counterfactual_pairs(n=128, seed=TEST_SEED + 1, size=64, margin=0.05, min_pixels=12,
                         max_tries=None):
    """``n`` pairs of renders with the same 2-D pose and one crossing limb's occlusion flipped.

    People are drawn from ``seed`` until ``n`` have a limb labelled ±1 by the occlusion rule; that
    limb (with its hand or foot) is drawn 1 m nearer (−1 → in front) or farther (+1 → behind),
    and the labels are recomputed with the same offset. Pairs whose renders differ in fewer than
    ``min_pixels`` pixels are skipped. Returns a dict of ``o_*`` (original) and ``f_*`` (flipped):
    ``image``, ``labels``; shared ``joints``, ``valid``, ``mask`` and ``limb`` (the flipped index).
    """
    from ..data.pipeline import DISAGREE, flip_occlusion, vunet_people
    from ..data.synthetic import Appearance, SyntheticPeople, render_batch, stack

    people = SyntheticPeople(size=size, seed=seed)
    rng = np.random.default_rng([seed, 7])
    out = {k: [] for k in ("o_image", "f_image", "o_labels", "f_labels", "joints", "valid",
                           "mask", "limb")}
    i = 0
    max_tries = max_tries or 50 * n
    while len(out["limb"]) < n and i < max_tries:
        pose, _, scene, cam = people.parameters(i)
        app = Appearance.from_id(5000 + int(rng.integers(0, 10**6)))
        i += 1
        base = stack(render_batch(pose[None], [app], [scene], [cam], size))
        o = vunet_people(base, size, "occlusion", margin)
        cand = np.flatnonzero(o["labels"][0] != 0)
        if not len(cand):
            continue
        limb = int(rng.choice(cand))
        flipped, f_labels = flip_occlusion((pose, app, scene, cam), base, limb,
                                           int(o["labels"][0, limb]), size, margin)
        f = vunet_people(flipped, size, "occlusion", margin)
        diff = np.abs(o["image"][0].astype(int) - f["image"][0].astype(int)).sum(-1) > DISAGREE
        if diff.sum() < min_pixels or (f_labels == o["labels"][0]).all():
            continue
        for k, v in (("o_image", o["image"][0]), ("f_image", f["image"][0]),
                     ("o_labels", o["labels"][0]), ("f_labels", f_labels),
                     ("joints", o["joints"][0]), ("valid", o["valid"][0]),
                     ("mask", np.maximum(o["mask"][0], f["mask"][0])), ("limb", limb)):
            out[k].append(v)
    if len(out["limb"]) < n:
        raise RuntimeError(f"only {len(out['limb'])} counterfactual pairs in {max_tries} people")
    return {k: np.stack(v) for k, v in out.items()}


def occlusion_order(model, pairs, threshold=None, n_boot=1000, seed=0, details=False):
    """Occlusion-order accuracy: over the pixels where the two truths differ (summed absolute RGB
    difference > ``threshold``, default :data:`~dgpose_tf.data.pipeline.DISAGREE` — the rule
    the pairs were drawn by), the fraction at which the output generated for one order is
    closer (L1) to that order's render than to the other's; both directions of every pair, with
    a bootstrap 95 % interval over pairs. A model that cannot see the order scores 0.5 by
    construction. Returns ``(accuracy, (low, high), per_pair)``, and with ``details`` a dict of
    mean summed-RGB distances over those pixels (0–765): ``truth_gap`` between the two truths,
    ``to_right`` / ``to_wrong`` from the outputs to their own / the other order's truth, and
    ``between_outputs`` between the two outputs — how far the outputs move with the order
    against how far their colours are off."""
    o_gen = _model_io(model, pairs["o_image"], pairs["joints"], pairs["valid"], pairs["o_labels"])
    f_gen = _model_io(model, pairs["o_image"], pairs["joints"], pairs["valid"], pairs["o_labels"],
                      pairs["joints"], pairs["valid"], pairs["f_labels"])
    from ..data.pipeline import DISAGREE

    threshold = DISAGREE if threshold is None else threshold
    O, F = pairs["o_image"].astype(np.int32), pairs["f_image"].astype(np.int32)
    disagree = np.abs(O - F).sum(-1) > threshold
    per = []
    for g, right, wrong in ((o_gen, O, F), (f_gen, F, O)):
        g = g.astype(np.int32)
        closer = np.abs(g - right).sum(-1) < np.abs(g - wrong).sum(-1)
        per.append((closer & disagree).sum((1, 2)) / np.maximum(disagree.sum((1, 2)), 1))
    per_pair = 0.5 * (per[0] + per[1])
    rng = np.random.default_rng(seed)
    boots = [per_pair[rng.integers(0, len(per_pair), len(per_pair))].mean() for _ in range(n_boot)]
    out = (float(per_pair.mean()), (float(np.percentile(boots, 2.5)),
                                    float(np.percentile(boots, 97.5))), per_pair)
    if not details:
        return out
    og, fg = o_gen.astype(np.int32), f_gen.astype(np.int32)

    def dist(a, b):
        return float(np.abs(a - b).sum(-1)[disagree].mean())

    return out + ({"truth_gap": dist(O, F),
                   "to_right": 0.5 * (dist(og, O) + dist(fg, F)),
                   "to_wrong": 0.5 * (dist(og, F) + dist(fg, O)),
                   "between_outputs": dist(og, fg)},)


def format_vunet_table(res, name="model"):
    """The evaluation table as text: each figure next to its trivial answers."""
    triv = res.get("trivial", {})
    lines = [f"{'figure':34s} {name:>12s} " + " ".join(f"{k:>22s}" for k in triv)]
    keys = [k for k in res if isinstance(res[k], float)]
    for k in keys:
        row = f"{k:34s} {res[k]:12.3f} "
        row += " ".join(f"{triv[t].get(k, float('nan')):22.3f}" for t in triv)
        lines.append(row)
    if "part_colour_error" in res:
        lines.append("part mean-colour error (0–255, lower is better):")
        for k, v in res["part_colour_error"].items():
            lines.append(f"  {k:30s} " + "  ".join(f"{g} {e:5.1f}" for g, e in v.items()))
    if "kl_per_scale" in res:
        lines.append("KL per latent scale (coarsest first): "
                     + ", ".join(f"{v:.1f}" for v in res["kl_per_scale"]))
    for k in ("appearance_swap", "pose_estimator"):
        if k in res:
            lines.append(f"{k}: " + ", ".join(f"{a} {b:.3f}" for a, b in res[k].items()))
    return "\n".join(lines)


def paired_difference(a, b, n_boot=1000, seed=0):
    """Mean of the per-sample differences ``a − b`` (samples where both are finite) and its 95 %
    percentile-bootstrap interval (``scipy.stats.bootstrap``, resampling the pairs):
    ``(mean, (low, high))``."""
    from scipy.stats import bootstrap

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return float(d.mean()) if len(d) else float("nan"), (float("nan"), float("nan"))
    ci = bootstrap((d,), np.mean, n_resamples=n_boot, confidence_level=0.95,
                   method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    return float(d.mean()), (float(ci.low), float(ci.high))


def pose_space_ablation(models, n=256, n_pairs=256, seed=TEST_SEED):
    """The 2.5D claim: each arm (``{name: model}``, trained alike) scored by occlusion-order
    accuracy on :func:`counterfactual_pairs` (with its bootstrap 95 % interval), and by
    reconstruction / transfer masked SSIM on all test pairs and on those whose generating
    stickman has no crossing limb (all labels 0: where the Three-Layer stickman carries nothing
    the 2-D one lacks) — for a reconstruction person A's, for a transfer the target pose B's
    (A's labels do not reach the appearance crops). Every arm after the first also gets
    ``vs_first``: its no-crossing masked SSIMs minus the first arm's on the same pairs, with
    paired bootstrap 95 % intervals (:func:`paired_difference`) — "no loss elsewhere" measured."""
    pairs = counterfactual_pairs(n_pairs, seed=seed + 1, size=next(iter(models.values())).image_size)
    data = test_pairs(n, seed, pairs["o_image"].shape[1])
    calm_a = ~(data["a_labels"] != 0).any(1)
    calm_b = ~(data["b_labels"] != 0).any(1)

    def per_pair(pred, truth, mask):
        return metrics.masked_ssim(pred.astype(np.float32) / 255.0,
                                   truth.astype(np.float32) / 255.0, mask, 1.0)

    out, first = {}, None
    for name, model in models.items():
        acc, ci, _, dists = occlusion_order(model, pairs, details=True)
        rec = per_pair(_model_io(model, data["a_image"], data["a_joints"], data["a_valid"],
                                 data["a_labels"]), data["a_image"], data["a_mask"])
        tra = per_pair(_model_io(model, data["a_image"], data["a_joints"], data["a_valid"],
                                 data["a_labels"], data["b_joints"], data["b_valid"],
                                 data["b_labels"]), data["t_image"], data["t_mask"])
        out[name] = {"stickman": model.stickman, "occlusion_order": acc, "ci95": ci,
                     "masked_ssim_no_crossing": float(np.nanmean(rec[calm_a])),
                     "transfer_masked_ssim_no_crossing": float(np.nanmean(tra[calm_b])),
                     "masked_ssim_all": float(np.nanmean(rec)),
                     "transfer_masked_ssim_all": float(np.nanmean(tra)),
                     "pixel_distances": dists, "pairs": int(n_pairs),
                     "no_crossing_pairs": [int(calm_a.sum()), int(calm_b.sum())]}
        if first is None:
            first = (name, rec, tra)
            continue
        (d_rec, ci_rec), (d_tra, ci_tra) = (paired_difference(rec[calm_a], first[1][calm_a]),
                                            paired_difference(tra[calm_b], first[2][calm_b]))
        out[name]["vs_first"] = {"reference": first[0],
                                 "masked_ssim_no_crossing": [d_rec, list(ci_rec)],
                                 "transfer_masked_ssim_no_crossing": [d_tra, list(ci_tra)]}
    return out


def format_ablation(rows):
    head = (f"{'arm':26s} {'stickman':12s} {'occlusion order':>16s} {'95% interval':>15s} "
            f"{'rec mSSIM':>10s} {'tra mSSIM':>10s} {'rec mSSIM':>10s} {'tra mSSIM':>10s}")
    lines = [" " * 73 + "(no crossing)" + " " * 9 + "(all pairs)", head]
    for name, r in rows.items():
        lines.append(f"{name:26s} {r['stickman']:12s} {r['occlusion_order']:16.3f} "
                     f"   [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] "
                     f"{r['masked_ssim_no_crossing']:10.3f} "
                     f"{r['transfer_masked_ssim_no_crossing']:10.3f} {r['masked_ssim_all']:10.3f} "
                     f"{r['transfer_masked_ssim_all']:10.3f}")
    paired = {name: r["vs_first"] for name, r in rows.items() if "vs_first" in r}
    if paired:
        ref = next(iter(paired.values()))["reference"]
        lines.append(f"masked SSIM minus {ref}'s on the same no-crossing pairs (paired, 95 % "
                     "bootstrap interval): reconstruction / transfer")
        for name, v in paired.items():
            (dr, (lr, hr)), (dt, (lt, ht)) = (v["masked_ssim_no_crossing"],
                                              v["transfer_masked_ssim_no_crossing"])
            lines.append(f"  {name:24s} {dr:+.3f} [{lr:+.3f}, {hr:+.3f}] / "
                         f"{dt:+.3f} [{lt:+.3f}, {ht:+.3f}]")
    lines.append("on the pixels the two orders disagree (summed RGB distance, 0–765): truths apart "
                 "/ output to its truth / to the other order's / the two outputs apart")
    for name, r in rows.items():
        d = r.get("pixel_distances")
        if d:
            lines.append(f"  {name:24s} {d['truth_gap']:6.1f} / {d['to_right']:6.1f} / "
                         f"{d['to_wrong']:6.1f} / {d['between_outputs']:6.1f}")
    return "\n".join(lines)
