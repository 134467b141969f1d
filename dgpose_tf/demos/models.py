"""``dgpose demo``: the shipped synthetic zoo entries at work, from their SavedModels.

Renders fresh synthetic people (a seed no training used), loads ``semi_dgpose_synthetic``,
``semi_dgpose_synthetic_25pct`` and ``conditional_dgpose_synthetic`` with
:func:`dgpose_tf.zoo.load` (verified, offline), and runs every application: pose estimation,
reconstruction, direct manipulation (body height 80 % / 120 %, Fig. 8), indirect pose transfer
(Fig. 13), sampling (Fig. 5), and Conditional-DGPose reconstruction, pose transfer and
conditional generation. Writes one PNG sheet and prints PCK@0.5 and SSIM next to the answers
that need no model (mean pose, flat colour, the appearance image copied). Then the pose-sequence
AE-GAN (:func:`sequence_demo`): a clip of synthetic test motion with detector-like errors,
inpainted to 28 joints, next to the raw input and PCHIP + Savitzky–Golay + ridge. Then the 2.5D
VUNet (:func:`vunet_demo`): fresh people redrawn in other people's poses from their Three-Layer
stickmen, and one pose with a crossing limb's occlusion flipped. Then MirrorNet
(:func:`mirrornet_demo`): 16-joint poses of fresh people, their reconstructions through the
recognized pose, and the pose prior's score of true against perturbed poses.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import metrics, zoo
from ..evaluate.dgpose import flat_colour, synthetic_test_set, to_uint8, to_unit, trivial_answers
from ..pose.draw import draw_skeleton, headed_grid, image_grid

ENTRIES = ("semi_dgpose_synthetic", "semi_dgpose_synthetic_25pct", "conditional_dgpose_synthetic")
COLUMNS = ("input", "pose 100%", "pose 25%", "recon", "height 80%", "height 120%",
           "transfer", "truth", "cond. recon", "cond. transfer", "cond. new", "sample")


def run_demo(out="dgpose_demo.png", n=64, seed=2026, rows=8, bvh=None, photos=None):
    import cv2

    if n < 2:
        raise ValueError(f"--n must be at least 2, got {n}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)      # cv2.imwrite fails silently
    t0 = time.perf_counter()
    models = {name: zoo.load(name) for name in ENTRIES}
    t_load = time.perf_counter() - t0
    batch = synthetic_test_set(n, seed)       # with each person drawn in the next one's pose
    x, hm, truth = batch["image"], batch["heatmaps"], batch["transfer_target"]
    nxt = np.roll(np.arange(n), -1)

    semi, semi25, cond = (models[e] for e in ENTRIES)
    labelled = batch["pose_mask"][:, :28:2] > 0
    res, table = {}, []
    for name, m in (("semi_dgpose_synthetic", semi), ("semi_dgpose_synthetic_25pct", semi25)):
        res[name] = m.estimate_pose(x)["joints"]
        rec = m.reconstruct(x)["images"]
        trans = m.transfer(x[nxt], x)["images"]          # pose of the next person, own looks
        table.append((name, float(metrics.pck(res[name], batch["joints"], labelled, 0.5,
                                              convention="lsp").value),
                      float(np.mean(metrics.ssim(to_unit(rec), to_unit(x), 1.0))),
                      float(np.mean(metrics.ssim(to_unit(trans), truth / 255.0, 1.0)))))
        if name == "semi_dgpose_synthetic":
            semi_rec, semi_trans = rec, trans
    c_rec = cond.reconstruct(x, hm)["images"]
    c_trans = cond.transfer(x, hm, batch["transfer_heatmaps"])["images"]
    table.append(("conditional_dgpose_synthetic", float("nan"),
                  float(np.mean(metrics.ssim(to_unit(c_rec), to_unit(x), 1.0))),
                  float(np.mean(metrics.ssim(to_unit(c_trans), truth / 255.0, 1.0)))))
    k = min(rows, n)
    small = slice(0, k)
    ones = np.ones(k, np.float32)
    shorter = semi.manipulate(x[small], 0.8 * ones)["images"]
    taller = semi.manipulate(x[small], 1.2 * ones)["images"]
    c_new = cond.sample(hm[small], seed)["images"]
    sampled = semi.sample(k, seed)["images"]
    elapsed = time.perf_counter() - t0

    u8 = to_uint8(x[small])
    cols = [u8,
            np.stack([draw_skeleton(im, j, thickness=1) for im, j in
                      zip(u8, res["semi_dgpose_synthetic"][small])]),
            np.stack([draw_skeleton(im, j, thickness=1) for im, j in
                      zip(u8, res["semi_dgpose_synthetic_25pct"][small])]),
            to_uint8(semi_rec[small]), to_uint8(shorter), to_uint8(taller), to_uint8(semi_trans[small]),
            truth[small], to_uint8(c_rec[small]), to_uint8(c_trans[small]), to_uint8(c_new), to_uint8(sampled)]
    tiles = np.stack([cv2.resize(c[i], (96, 96), interpolation=cv2.INTER_NEAREST)
                      for i in range(k) for c in cols])
    _write_sheet(out, tiles, COLUMNS)

    print(f"{n} fresh synthetic people (seed {seed}); models loaded from "
          f"{', '.join(sorted({str(m.directory.parent.parent) for m in models.values()}))} "
          f"in {t_load:.1f} s")
    answers, _ = trivial_answers(batch)
    table.append(("answer needing no model", answers["mean pose"]["pck@0.5"],
                  answers["flat mean colour"]["reconstruction_ssim"],
                  answers["copy appearance image"]["transfer_ssim"]))
    print(f"{'model':32s} {'PCK@0.5':>8s} {'recon SSIM':>11s} {'transfer SSIM':>14s}")
    for name, pck, r, t in table:
        print(f"{name:32s} {'-' if np.isnan(pck) else f'{pck:.3f}':>8s} {r:11.3f} {t:14.3f}")
    print("answers needing no model: the training people's mean pose (PCK), a flat image of the "
          "input's mean colour (recon), the appearance image copied unchanged (transfer)")
    print("transfer: each person redrawn in the next person's pose, scored against the "
          "renderer's ground truth")
    print(f"wrote {out} (rows: people; columns: {', '.join(COLUMNS)}); done in {elapsed:.1f} s")
    sequence_demo(str(out).rsplit(".", 1)[0] + "_inpaint.png", seed, bvh=bvh)
    vunet_demo(str(out).rsplit(".", 1)[0] + "_vunet.png", seed)
    mirrornet_demo(str(out).rsplit(".", 1)[0] + "_mirrornet.png", seed)
    photo_demo(str(out).rsplit(".", 1)[0] + "_photos.png", photos)
    return 0


#: the photo the demo shows when the user gives none: public domain (see dgpose_tf/assets)
DEMO_PHOTO = Path(__file__).resolve().parents[1] / "assets" / "astronaut.jpg"


def photo_demo(out, photos=None, size=256):
    """Every shipped real-photo pose entry on real photos (the public-domain astronaut, or the
    user's ``photos``: files or folders): one overlay per photo and entry, joints below 0.3
    confidence hollow, each tile labelled with the entry and its mean confidence."""
    import cv2

    from ..pose_files import collect_photos, draw_pose
    from ..zoo_summary import status

    entries = [n for n in zoo.list_models() if zoo.info(n).get("files")
               and zoo.info(n).get("dataset", {}).get("protocol") == "lspet_photos"]
    if not entries:
        print("real photos: no shipped real-photo pose entry; skipped")
        return None
    files = collect_photos(photos) if photos else [DEMO_PHOTO]
    t0 = time.perf_counter()
    tiles, lines = [], []
    for name in entries:
        model = zoo.load(name)
        res = model.pose_photos(files)
        for f, j, c in zip(files, res["joints"], res["confidence"]):
            img = draw_pose(f, j, c, res["skeleton"])
            h, w = img.shape[:2]
            k = size / max(h, w)
            img = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))),
                             interpolation=cv2.INTER_AREA)
            tile = np.full((size + 34, size, 3), 255, np.uint8)
            tile[34:34 + img.shape[0], :img.shape[1]] = img
            for row, text in enumerate((name, f"{Path(f).name}: confidence {c.mean():.2f}")):
                cv2.putText(tile, text[:40], (3, 14 + 15 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                            (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
            lines.append(f"{name:24s} {Path(f).name:24s} mean confidence {c.mean():.2f}; "
                         f"{int((c >= 0.3).sum())} of {len(c)} joints at ≥ 0.3")
        word, why = status(zoo.info(name))
        if why:
            lines.append(f"{'':24s} ({word}: {'; '.join(why)})")
    print(f"\nreal photos ({'your photos' if photos else 'the public-domain astronaut'}), "
          f"whole photo in → joints out:")
    for line in lines:
        print(line)
    cols = min(4, len(tiles))
    if not cv2.imwrite(str(out), image_grid(np.stack(tiles), cols)[..., ::-1]):
        raise OSError(f"could not write {out}")
    print(f"wrote {out} (one tile per photo and entry; hollow joints: confidence < 0.3) in "
          f"{time.perf_counter() - t0:.1f} s")
    return lines


def _write_sheet(out, tiles, columns):
    """96-px tiles in rows of ``len(columns)`` under a header naming the columns, as a PNG."""
    import cv2

    if not cv2.imwrite(str(out), headed_grid(tiles, columns)[..., ::-1]):
        raise OSError(f"could not write {out}")


SEQUENCE_ENTRY = "pose_sequence_aegan_synthetic"


def sequence_demo(out, seed=2026, frames=96, bvh=None):
    """The pose-sequence AE-GAN: a motion clip (synthetic test motion, or ``bvh``) seen by one
    camera, its 12 AlphaPose joints corrupted like a detector's (outlier bursts, swaps, 0.5 s
    gaps), inpainted to 28 joints (shift 8, fill); prints PCKh next to the raw input and PCHIP +
    Savitzky–Golay + ridge, and writes truth / input / output rows of frames to ``out``."""
    import cv2

    from ..evaluate import pose_sequence_aegan as es
    from ..data.motion import window_pool

    if not zoo.info(SEQUENCE_ENTRY).get("files"):
        print(f"{SEQUENCE_ENTRY}: no shipped weights; skipped")
        return None
    t0 = time.perf_counter()
    model = zoo.load(SEQUENCE_ENTRY)
    clip = es.load_clip(bvh) if bvh else \
        next(iter(es.synthetic_test_motion(1, seed).values()))
    truth = es.clip_views(clip[:frames], 1, seed, coordinates="y_up")[0]
    noisy, gap = es.detector_noise(truth, np.random.default_rng(seed), 0.5)
    truth, noisy = es.to_image(truth), es.to_image(noisy)   # as a detector writes: y down
    out28 = model.inpaint(noisy, skeleton="alphapose12", shift=8, mode="fill")["joints"]
    ridge = es.ridge_baseline(window_pool(50, 0, fps=es.EVAL_FPS, progress=False))
    answers = {"raw detector input": es._in28(noisy),
               es.PCHIP: ridge.predict(es._in28(es.pchip_savgol(noisy))),
               f"{SEQUENCE_ENTRY} (shift 8, fill)": out28}
    print(f"\npose sequences: {'CMU clip ' + str(bvh) if bvh else 'synthetic test motion'}, "
          f"{len(truth)} frames at 24 fps, 12 AlphaPose joints with outlier bursts, swaps and "
          f"0.5 s gaps → 28 joints (PCKh@0.5; gap error in head sizes)")
    print(f"{'answer':44s} {'12 observed':>12s} {'16 upsampled':>13s} {'gap error':>10s}")
    figures = {}
    for name, pred in answers.items():
        m = es.sequence_metrics(pred, truth, gap)
        figures[name] = (m["12 observed"]["pckh@0.5"], m["16 upsampled"]["pckh@0.5"],
                         m.get("gap_mpjpe/h", float("nan")))
    best = figures[es.PCHIP]                  # what users pick today; ✗ where the model loses
    for name, (obs, up, g) in figures.items():
        model = name.startswith(SEQUENCE_ENTRY)
        x = lambda worse: "✗" if model and worse else " "
        gap_text = "—" if not np.isfinite(g) else f"{g:.3f}"
        print(f"{name:44s} {obs:11.3f}{x(obs < best[0])} {up:12.3f}{x(up < best[1])} "
              f"{gap_text:>9s}{x(g > best[2])}")
    print(f"✗: below {es.PCHIP}, what users pick today")
    size = 128
    picks = np.linspace(0, len(truth) - 1, 8).round().astype(int)
    lo, hi = truth.reshape(-1, 2).min(0), truth.reshape(-1, 2).max(0)
    px = lambda p: (p - lo) / (hi - lo).max() * (size - 16) + 8      # image coordinates, y down
    tiles = []
    for label, poses, skel in (("truth", truth, "mpi_inf_3dhp28"), ("input", noisy, "alphapose12"),
                               ("AE-GAN", out28, "mpi_inf_3dhp28")):
        for f in picks:
            vis = np.isfinite(poses[f]).all(-1)
            tile = np.full((size, size, 3), 30, np.uint8)
            tile = draw_skeleton(tile, np.where(vis[:, None], px(poses[f]), 0), vis, skeleton=skel,
                                 thickness=1)
            cv2.putText(tile, f"{label} {f}{' gap' if gap[f] else ''}", (3, 12),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
    cv2.imwrite(str(out), image_grid(np.stack(tiles), 8)[..., ::-1])
    print(f"wrote {out} (rows: truth, detector input, AE-GAN output; 8 frames) in "
          f"{time.perf_counter() - t0:.1f} s")
    return answers


VUNET_ENTRY = "vunet25d_synthetic"


def vunet_demo(out, seed=2026, n=32, rows=8):
    """The 2.5D VUNet from its SavedModel: each of ``n`` fresh people (appearances no training
    saw) redrawn in the next person's pose, scored against the renderer's truth next to the
    appearance image copied unchanged and a flat image of its mean colour (foreground-masked
    SSIM); then counterfactual pairs — one 2-D pose, a crossing limb in front or behind — where
    only the Three-Layer stickman differs. Writes a PNG sheet."""
    import cv2

    from ..evaluate.vunet import _figures, counterfactual_pairs, flat, test_pairs
    from ..models.stickman import numpy_stickman

    if not zoo.info(VUNET_ENTRY).get("files"):
        print(f"{VUNET_ENTRY}: no shipped weights; skipped")
        return None
    t0 = time.perf_counter()
    model = zoo.load(VUNET_ENTRY)
    size = model.card["input"]["size"][0]
    data = test_pairs(n, seed + 1, size)
    f = lambda x: np.asarray(x, np.float32) / 127.5 - 1.0
    v = lambda x: np.asarray(x, np.float32)
    u8 = lambda x: np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8)
    rec = u8(model.reconstruct(f(data["a_image"]), data["a_joints"], v(data["a_valid"]),
                               data["a_labels"].astype(np.int32))["image"])
    tra = u8(model.transfer(f(data["a_image"]), data["a_joints"], v(data["a_valid"]),
                            data["a_labels"].astype(np.int32), data["b_joints"],
                            v(data["b_valid"]), data["b_labels"].astype(np.int32))["image"])
    table = {VUNET_ENTRY: (_figures(rec, data["a_image"], data["a_mask"], "r_"),
                           _figures(tra, data["t_image"], data["t_mask"], "t_")),
             "flat mean colour": (_figures(flat(data["a_image"]), data["a_image"],
                                           data["a_mask"], "r_"),
                                  _figures(flat(data["a_image"]), data["t_image"],
                                           data["t_mask"], "t_")),
             "copy appearance image": (None, _figures(data["a_image"], data["t_image"],
                                                      data["t_mask"], "t_"))}
    print(f"\n2.5D VUNet: {n} fresh people each redrawn in another person's pose (foreground-"
          "masked SSIM against the renderer's truth)")
    print(f"{'answer':32s} {'recon mSSIM':>12s} {'transfer mSSIM':>15s}")
    for name, (r, t) in table.items():
        rs = "-" if r is None else f"{r['r_masked_ssim']:.3f}"
        print(f"{name:32s} {rs:>12s} {t['t_masked_ssim']:15.3f}")
    pairs = counterfactual_pairs(rows // 2, seed=seed + 2, size=size)
    cf = {}
    for key in ("o", "f"):
        cf[key] = u8(model.transfer(f(pairs["o_image"]), pairs["joints"], v(pairs["valid"]),
                                    pairs["o_labels"].astype(np.int32), pairs["joints"],
                                    v(pairs["valid"]),
                                    pairs[f"{key}_labels"].astype(np.int32))["image"])
    k = min(rows, n)
    stick = lambda j, val, lab: numpy_stickman(j, val, lab, size, "three_layer")
    cols = [data["a_image"][:k], rec[:k], stick(data["b_joints"][:k], data["b_valid"][:k],
                                               data["b_labels"][:k]), tra[:k], data["t_image"][:k]]
    tiles = [c[i] for i in range(k) for c in cols]
    for i in range(len(pairs["limb"])):
        for key in ("o", "f"):
            tiles += [pairs["o_image"][i], stick(pairs["joints"][i:i + 1], pairs["valid"][i:i + 1],
                                                 pairs[f"{key}_labels"][i:i + 1])[0],
                      cf[key][i], pairs[f"{key}_image"][i], np.full_like(cf[key][i], 255)]
    tiles = np.stack([cv2.resize(t, (96, 96), interpolation=cv2.INTER_NEAREST) for t in tiles])
    _write_sheet(out, tiles, ("person", "recon", "target stickman", "transfer", "truth"))
    print(f"wrote {out} (rows 1–{k}: transfer; then counterfactual pairs — one 2-D pose, a "
          f"crossing limb in front / behind — as person, stickman, output, truth) in "
          f"{time.perf_counter() - t0:.1f} s")
    return table


MIRRORNET_ENTRY = "mirrornet_synthetic"


def mirrornet_demo(out, seed=2026, n=256, rows=8):
    """MirrorNet from its SavedModel: the 16 MPII joints of ``n`` fresh people (PCK next to the
    training people's mean pose), reconstructions through the recognized pose (SSIM next to a
    flat image of the input's mean colour) and how often the pose prior scores the true poses above
    the same poses with one joint moved and with the arms' left and right swapped. Writes a PNG
    sheet."""
    from ..evaluate import mirrornet as em
    from ..models.mirrornet_curriculum import people

    if not zoo.info(MIRRORNET_ENTRY).get("files"):
        print(f"{MIRRORNET_ENTRY}: no shipped weights; skipped")
        return None
    t0 = time.perf_counter()
    model = zoo.load(MIRRORNET_ENTRY)
    test = people(n, seed + 3)
    ref_joints, ref_lab = em.training_poses(1000)
    x = test["image"].astype(np.float32) / 127.5 - 1.0
    pred = model.estimate_pose(x)["joints"]
    rec = model.reconstruct(x[:64])["images"]
    floor = np.broadcast_to(em.mean_pose(ref_joints, ref_lab), pred.shape)
    ref = to_unit(x[:64])
    rows_ = {MIRRORNET_ENTRY: (em.pose_figures(pred, test["joints"], test["labelled"]),
                               float(np.mean(metrics.ssim(to_unit(rec), ref, 1.0)))),
             "mean pose / flat mean colour": (
                 em.pose_figures(floor, test["joints"], test["labelled"]),
                 float(np.mean(metrics.ssim(flat_colour(ref), ref, 1.0))))}
    true = model.pose_prior_score(test["joints"], test["labelled"].astype(np.float32))["score"]
    margins = {}
    for kind, what in (("moved_joint", "one joint moved a torso length"),
                       ("arms_swapped", "the arms' left and right swapped")):
        bad_j, bad_lab = em.perturb(test["joints"], test["labelled"], kind,
                                    np.random.default_rng(seed))
        bad = model.pose_prior_score(bad_j.astype(np.float32),
                                     bad_lab.astype(np.float32))["score"]
        margins[what] = (float(np.mean(true > bad)), float(np.median(true - bad)))
    print(f"\nMirrorNet: {n} fresh people (seed {seed + 3}), 16 MPII joints")
    print(f"{'answer':32s} {'PCK@0.1 bbox':>13s} {'PCK@0.2 bbox':>13s} {'AUC':>7s} "
          f"{'recon SSIM':>11s}")
    floor_f, floor_r = rows_["mean pose / flat mean colour"]
    for name, (f, r) in rows_.items():
        x = lambda worse: "✗" if name != "mean pose / flat mean colour" and worse else " "
        print(f"{name:32s} {f['pck@0.1_bbox']:13.3f}{x(f['pck@0.1_bbox'] < floor_f['pck@0.1_bbox'])}"
              f"{f['pck@0.2_bbox']:13.3f}{x(f['pck@0.2_bbox'] < floor_f['pck@0.2_bbox'])}"
              f"{f['auc']:7.3f}{x(f['auc'] < floor_f['auc'])}{r:11.3f}{x(r < floor_r)}")
    print("✗: below the answer that needs no model")
    for what, (above, margin) in margins.items():
        print(f"pose prior: true poses score above {what} for {above:.0%} of people (median "
              f"margin {margin:+.2f} nats; 50 % = no separation)")
    k = min(rows, n)
    tiles = em.sheet_tiles(test["image"][:k], pred[:k], test["joints"][:k], test["labelled"][:k],
                           to_uint8(rec[:k]), mean=floor[0])
    _write_sheet(out, tiles, ("estimate", "truth", "mean pose", "recon"))
    print(f"wrote {out} (rows: people; columns: estimate, truth, mean pose, reconstruction) in "
          f"{time.perf_counter() - t0:.1f} s")
    return rows_
