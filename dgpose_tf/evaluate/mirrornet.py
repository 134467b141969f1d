"""MirrorNet's evaluation: the paper's claims, in shape, on synthetic people.

* :func:`pose_figures` — PCK@0.2 and PCK@0.1 with the bounding-box normaliser (the paper's LSP
  metric, §5.1.1), PCK@0.5 with the torso normaliser and the AUC of the torso PCK curve over
  0…0.5 (the zoo's pose tables), always beside the **mean-pose floor** (the mean of the annotated
  training poses, never the test set).
* Plausibility (the paper shows only pictures): :func:`implausible_limb_rate` — arms and legs
  drawn longer than the person's 3-D limb could project (``f·L/z`` at the limb's depth, 20 % and
  1 px of slack); :func:`pose_density_distance` — the RMS per-joint distance (torso units, after
  centring on the pelvis) from each estimate to its nearest true pose of the training pool;
  :func:`prior_separation` — the pose VAE's score of true poses against perturbed ones (a joint
  moved one torso length; the arms' left/right swapped) as an AUC.
* :func:`label_fraction_table` — the whole experiment of ``training/fit_mirrornet.py``: every
  arm at every label fraction and seed, the floor, the aims checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import metrics

__all__ = ["AUC_THRESHOLDS", "AIMS", "pose_figures", "mean_pose", "implausible_limb_rate",
           "pose_density_distance", "prior_separation", "arm_figures", "label_fraction_table",
           "format_table", "reconstruction_figures", "perturb", "evaluate_model",
           "format_model_table", "example_sheet", "check_aims", "plot_label_fractions"]

AUC_THRESHOLDS = np.linspace(0.0, 0.5, 51)
FIGURES = ("pck@0.2_bbox", "pck@0.1_bbox", "pck@0.5_torso", "auc")
ARM_ORDER = ("mean_pose", "baseline", "literal", "reflective", "semi", "no_pose_vae",
             "no_image_term", "reflective_calibrated")
#: the issue's aims: floor margins, the supervised gain at low label fractions, plausibility
AIMS = {"floor_margin": {"pck@0.1_bbox": 0.15, "auc": 0.20}, "gain_pck@0.1": 0.02,
        "gain_fractions": (0.1, 0.25), "implausible_ratio": 0.8}
_LIMBS = (("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
          ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
          ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
          ("left_hip", "left_knee"), ("left_knee", "left_ankle"))


def _idx(name):
    from ..models.mirrornet import JOINTS
    return JOINTS.index(name)


def pose_figures(pred, joints, labelled):
    """The four pose figures of ``pred`` against ``joints`` (both ``(N, 16, 2)`` pixels), scored
    where ``labelled``."""
    kw = dict(skeleton="mpii16")
    return {"pck@0.2_bbox": float(metrics.pck(pred, joints, labelled, 0.2, norm="bbox", **kw)),
            "pck@0.1_bbox": float(metrics.pck(pred, joints, labelled, 0.1, norm="bbox", **kw)),
            "pck@0.5_torso": float(metrics.pck(pred, joints, labelled, 0.5, convention="lsp",
                                               **kw)),
            "auc": metrics.auc(pred, joints, labelled, AUC_THRESHOLDS, convention="lsp", **kw)}


def mean_pose(joints, labelled):
    """Per-joint mean over the people in whose crop the joint lies: ``(16, 2)``."""
    w = np.asarray(labelled, np.float64)[..., None]
    return (np.asarray(joints) * w).sum(0) / np.maximum(w.sum(0), 1.0)


def implausible_limb_rate(pred, people):
    """Fraction of the 8 arm/leg segments (both ends annotated) that ``pred`` draws longer than
    ``1.2·f·L/z + 1`` px: L the person's 3-D limb length, z the limb's true depth, f the crop's
    focal length — no rotation of that limb could project so long."""
    j3d, f, lab = people["joints3d"], people["intrinsics"][:, 0], people["labelled"]
    bad, total = 0, 0
    for a, b in _LIMBS:
        ia, ib = _idx(a), _idx(b)
        length3d = np.linalg.norm(j3d[:, ia] - j3d[:, ib], axis=-1)
        depth = 0.5 * (j3d[:, ia, 2] + j3d[:, ib, 2])
        bound = 1.2 * f * length3d / depth + 1.0
        drawn = np.linalg.norm(np.asarray(pred)[:, ia] - np.asarray(pred)[:, ib], axis=-1)
        ok = lab[:, ia] & lab[:, ib]
        bad += int(np.sum((drawn > bound) & ok))
        total += int(ok.sum())
    return bad / max(total, 1)


def _normalise(poses):
    poses = np.asarray(poses, np.float64)
    pelvis, thorax = poses[:, _idx("pelvis")], poses[:, _idx("thorax")]
    torso = np.maximum(np.linalg.norm(thorax - pelvis, axis=-1), 1e-6)
    return ((poses - pelvis[:, None]) / torso[:, None, None]).reshape(len(poses), -1)


def pose_density_distance(pred, reference):
    """Mean over ``pred`` of the RMS per-joint distance (torso lengths, pelvis-centred) to the
    nearest pose of ``reference`` (true poses): lower = closer to poses people take."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(_normalise(reference)).query(_normalise(pred))
    return float(np.mean(d) / np.sqrt(len(np.asarray(pred)[0])))


def perturb(joints, labelled, kind, rng=None):
    """``(joints, labelled)`` perturbed: ``moved_joint`` (one random joint moved one torso length
    in a random direction; needs ``rng``) or ``arms_swapped`` (left/right elbows and wrists)."""
    j = np.array(joints, np.float64)
    if kind == "moved_joint":
        torso = np.linalg.norm(j[:, _idx("thorax")] - j[:, _idx("pelvis")], axis=-1)
        k = rng.integers(0, j.shape[1], len(j))
        ang = rng.uniform(0, 2 * np.pi, len(j))
        j[np.arange(len(j)), k] += torso[:, None] * np.stack([np.cos(ang), np.sin(ang)], -1)
        return j, labelled
    if kind == "arms_swapped":
        lab = np.array(labelled)
        for a, b in (("left_elbow", "right_elbow"), ("left_wrist", "right_wrist")):
            ia, ib = _idx(a), _idx(b)
            j[:, [ia, ib]] = j[:, [ib, ia]]
            lab[:, [ia, ib]] = lab[:, [ib, ia]]
        return j, lab
    raise ValueError(kind)


def prior_separation(model, people, seed=0, batch=250):
    """AUC (Mann–Whitney, scipy) of the pose VAE's score for true poses above perturbed ones,
    per perturbation; 0.5 = no separation."""
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(seed)

    def score(j, lab):
        out = []
        for i in range(0, len(j), batch):
            hm = model.heatmaps(j[i:i + batch].astype(np.float32),
                                lab[i:i + batch].astype(np.float32))
            out.append(model.pose_prior_score(hm).numpy())
        return np.concatenate(out)

    true = score(people["joints"], people["labelled"])
    res = {}
    for kind in ("moved_joint", "arms_swapped"):
        j, lab = perturb(people["joints"], people["labelled"], kind, rng)
        bad = score(j, lab)
        u = mannwhitneyu(true, bad, alternative="two-sided").statistic
        res[f"prior_auc_{kind}"] = float(u / (len(true) * len(bad)))
    return res


def reconstruction_figures(model, people, n=256):
    """SSIM / masked SSIM / masked L1 of ``reconstruct`` against the input, beside a flat image
    of the input's mean colour (the trivial answer)."""
    from .dgpose import _image_figures, flat_colour, to_unit

    x = people["image"][:n].astype(np.float32) / 127.5 - 1.0
    rec = np.concatenate([model.reconstruct(x[i:i + 64]).numpy() for i in range(0, len(x), 64)])
    ref, mask = to_unit(x), people["mask"][:n, ..., 0]
    return {"model": _image_figures(to_unit(rec), ref, mask, ""),
            "flat mean colour": _image_figures(flat_colour(ref), ref, mask, "")}


def arm_figures(preds, test, reference):
    """Figures of one arm: the pose figures averaged over its last evaluations, plus the
    plausibility figures of the last."""
    figs = [pose_figures(p, test["joints"], test["labelled"]) for p in preds]
    out = {k: float(np.mean([f[k] for f in figs])) for k in FIGURES}
    out["implausible_limbs"] = implausible_limb_rate(preds[-1], test)
    out["nn_distance"] = pose_density_distance(preds[-1], reference)
    return out


def label_fraction_table(run_dir, prior=True):
    """Every finished arm of a ``fit_mirrornet.py`` output folder: ``{"table": {fraction: {arm:
    {seed: figures}}}, ...}`` with the floor as arm ``mean_pose``, the true test poses'
    plausibility, and (``prior``) the pose VAE's separation after step 1 and after each arm
    that trains it (``"prior"``: same layout)."""
    from ..models.mirrornet_curriculum import label_split

    run_dir = Path(run_dir)
    z = np.load(run_dir / "data.npz")
    pool = {k[5:]: z[k] for k in z.files if k.startswith("pool_")}
    test = {k[5:]: z[k] for k in z.files if k.startswith("test_")}
    table, priors = {}, {}
    for folder in sorted(run_dir.glob("labels*_seed*")):
        arms = sorted(folder.glob("*.npz"))
        if not arms:
            continue
        frac = int(folder.name[6:9]) / 100
        seed = int(folder.name.split("seed")[1])
        lab, _ = label_split(len(pool["image"]), frac, seed)
        rows = table.setdefault(frac, {})
        floor = np.broadcast_to(mean_pose(pool["joints"][lab], pool["labelled"][lab]),
                                test["joints"].shape)
        rows.setdefault("mean_pose", {})[seed] = arm_figures([floor], test, pool["joints"])
        for arm_file in arms:
            preds = list(np.load(arm_file)["preds"])
            rows.setdefault(arm_file.stem, {})[seed] = arm_figures(preds, test, pool["joints"])
        if prior and (folder / "config.json").exists():
            from ..models.mirrornet import MirrorNet

            model = MirrorNet.from_config(json.loads((folder / "config.json").read_text())["model"])
            for name in ("step1", "reflective", "semi", "no_image_term",
                         "step1_reflective_calibrated", "reflective_calibrated"):
                weights = folder / f"{name}.weights.h5"
                if weights.exists():
                    model.load_weights(weights)
                    priors.setdefault(frac, {}).setdefault(name, {})[seed] = \
                        prior_separation(model, test)
    truth = {"implausible_limbs": implausible_limb_rate(test["joints"], test),
             "nn_distance": pose_density_distance(test["joints"], pool["joints"])}
    return {"table": table, "true_poses": truth, "prior": priors}


def _mean(rows, arm, key):
    vals = [v[key] for v in rows.get(arm, {}).values()]
    return float(np.mean(vals)) if vals else float("nan")


def _paired(rows, arm, other, key):
    """Means of ``key`` for ``arm`` and ``other`` over the seeds both ran (a paired comparison)
    and the number of those seeds."""
    seeds = sorted(set(rows.get(arm, {})) & set(rows.get(other, {})))
    if not seeds:
        return float("nan"), float("nan"), 0
    return (float(np.mean([rows[arm][s][key] for s in seeds])),
            float(np.mean([rows[other][s][key] for s in seeds])), len(seeds))


def check_aims(result):
    """The issue's aims, each ``(text, met)``; arm-against-baseline aims compare the seeds both
    arms ran."""
    table, out = result["table"], []
    for frac, rows in sorted(table.items()):
        for arm in rows:
            if arm == "mean_pose":
                continue
            for key, margin in AIMS["floor_margin"].items():
                m, f, _ = _paired(rows, arm, "mean_pose", key)
                out.append((f"{frac:.0%} {arm}: {key} floor + {m - f:+.3f} (aim + {margin})",
                            m - f >= margin))
    for frac in AIMS["gain_fractions"]:
        rows = table.get(frac, {})
        for arm in ("literal", "reflective", "reflective_calibrated"):
            if arm in rows and "baseline" in rows:
                m, b, k = _paired(rows, arm, "baseline", "pck@0.1_bbox")
                out.append((f"{frac:.0%} supervised {arm}: PCK@0.1 {(m - b) * 100:+.2f} points over "
                            f"the baseline (aim + {AIMS['gain_pck@0.1'] * 100:.0f}; {k} seed(s))",
                            m - b >= AIMS["gain_pck@0.1"]))
    rows = table.get(0.1, {})
    for arm in ("literal", "reflective", "semi", "reflective_calibrated"):
        if arm in rows and "baseline" in rows:
            r, b, k = _paired(rows, arm, "baseline", "implausible_limbs")
            limit = AIMS["implausible_ratio"] * b
            out.append((f"10% {arm}: implausible-limb rate {r:.4f} vs baseline {b:.4f} (aim ≤ "
                        f"{AIMS['implausible_ratio']}× = {limit:.4f}; {k} seed(s))", r <= limit))
    return out


def format_table(result):
    """The label-fraction table as Markdown (means over seeds; per-seed values in brackets)."""
    cols = (*FIGURES, "implausible_limbs", "nn_distance")
    lines = ["| labels | arm | seeds | " + " | ".join(cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for frac, rows in sorted(result["table"].items(), reverse=True):
        for arm in [a for a in ARM_ORDER if a in rows]:
            seeds = rows[arm]
            cells = []
            for key in cols:
                vals = [seeds[s][key] for s in sorted(seeds)]
                cell = f"{np.mean(vals):.3f}" if key != "implausible_limbs" else f"{np.mean(vals):.4f}"
                if len(vals) > 1:
                    cell += " (" + "/".join(f"{v:.3f}" for v in vals) + ")"
                cells.append(cell)
            name = "mean pose (floor)" if arm == "mean_pose" else arm
            lines.append(f"| {frac:.0%} | {name} | {len(seeds)} | " + " | ".join(cells) + " |")
    t = result["true_poses"]
    lines.append(f"\nTrue test poses: implausible-limb rate {t['implausible_limbs']:.4f}, "
                 f"NN distance {t['nn_distance']:.3f}.")
    if result.get("prior"):
        lines += ["", "Pose prior: AUC of the pose VAE's score, true above perturbed test poses "
                  "(0.5 = no separation)", "",
                  "| labels | pose VAE after | moved joint | arms swapped |", "|---|---|---|---|"]
        for frac, rows in sorted(result["prior"].items(), reverse=True):
            for name, seeds in rows.items():
                cells = [np.mean([seeds[s][f"prior_auc_{k}"] for s in seeds])
                         for k in ("moved_joint", "arms_swapped")]
                lines.append(f"| {frac:.0%} | {name} | {cells[0]:.3f} | {cells[1]:.3f} |")
    return "\n".join(lines)


def save(result, path):
    Path(path).write_text(json.dumps(result, indent=1, default=float))


# ---- one model (a zoo entry or an arm's weights) -------------------------------------------------
#: model figure → (trivial answer, True if higher is better)
TRIVIAL = {**{k: ("mean pose", True) for k in FIGURES},
           "reconstruction_ssim": ("flat mean colour", True),
           "reconstruction_masked_ssim": ("flat mean colour", True),
           "reconstruction_masked_l1": ("flat mean colour", False)}


def test_people(n=1000, seed=None):
    """``n`` test people (the zoo's test seed by default) with the 16 MPII joints."""
    from .dgpose import TEST_SEED
    from ..models.mirrornet_curriculum import people

    return people(n, TEST_SEED if seed is None else seed)


def training_poses(n=4000):
    """The training pool's poses (``joints``, ``labelled``): the floor's mean pose and the
    density score's reference — poses only, no test person among them."""
    from ..models.mirrornet_curriculum import POOL_SEED, people

    p = people(n, POOL_SEED)
    return p["joints"], p["labelled"]


def evaluate_model(model, test=None, reference=None, n=1000):
    """Every figure of one Keras :class:`~dgpose_tf.models.mirrornet.MirrorNet` beside its
    trivial answer: ``{"model": …, "mean pose": …, "flat mean colour": …, "true poses": …,
    "prior": …, "below_trivial": [...]}``."""
    from ..models.mirrornet_curriculum import predict_joints

    test = test_people(n) if test is None else test
    ref_joints, ref_lab = training_poses() if reference is None else reference
    pred = predict_joints(model, test["image"])
    floor = np.broadcast_to(mean_pose(ref_joints, ref_lab), test["joints"].shape)
    out = {"model": arm_figures([pred], test, ref_joints),
           "mean pose": arm_figures([floor], test, ref_joints),
           "true poses": {"implausible_limbs": implausible_limb_rate(test["joints"], test),
                          "nn_distance": pose_density_distance(test["joints"], ref_joints)}}
    rec = reconstruction_figures(model, test)
    out["model"].update({f"reconstruction_{k}": v for k, v in rec["model"].items()})
    out["flat mean colour"] = {f"reconstruction_{k}": v for k, v in rec["flat mean colour"].items()}
    out["prior"] = prior_separation(model, test)
    out["below_trivial"] = below_trivial(out)
    out["_pred"] = pred
    return out


def below_trivial(res):
    """Model figures that do not beat their trivial answer."""
    failed = []
    for key, (answer, higher) in TRIVIAL.items():
        m, t = res["model"].get(key), res.get(answer, {}).get(key)
        if m is None or t is None:
            continue
        if (m <= t) if higher else (m >= t):
            failed.append(key)
    return failed


def format_model_table(res, name):
    """One model's figures beside the answers that need no model (✗ where not beaten)."""
    lines = [f"{'figure':28s} {name[:24]:>24s} {'answer needing no model':>30s}"]
    for key, (answer, _) in TRIVIAL.items():
        if key not in res["model"]:
            continue
        mark = " ✗" if key in res["below_trivial"] else ""
        lines.append(f"{key:28s} {res['model'][key]:24.4f} "
                     f"{answer + f' {res[answer][key]:.4f}':>30s}{mark}")
    lines.append(f"{'nn_distance (lower better)':28s} {res['model']['nn_distance']:24.4f} "
                 f"{'true poses ' + format(res['true poses']['nn_distance'], '.4f'):>30s}")
    lines.append(f"{'implausible_limbs':28s} {res['model']['implausible_limbs']:24.4f} "
                 f"{'true poses ' + format(res['true poses']['implausible_limbs'], '.4f'):>30s}")
    lines.append("pose prior (pose VAE) separation of true from perturbed poses, AUC (0.5 = "
                 "none): " + ", ".join(f"{k[10:]} {v:.3f}" for k, v in res["prior"].items()))
    return "\n".join(lines)


def sheet_tiles(images, pred, truth, labelled, recon, mean=None, tile=96):
    """Rows of tiles: the input with the estimated pose, with the true pose, (with the mean
    pose,) and the reconstruction — all uint8."""
    import cv2

    from ..pose.draw import draw_skeleton

    up = lambda im: cv2.resize(np.ascontiguousarray(im), (tile, tile),
                               interpolation=cv2.INTER_NEAREST)
    s = tile / images.shape[1]
    draw = lambda im, j, v: draw_skeleton(up(im), (np.asarray(j) + 0.5) * s - 0.5, v,
                                          skeleton="mpii16", thickness=1)
    tiles = []
    for i in range(len(images)):
        tiles += [draw(images[i], pred[i], labelled[i]), draw(images[i], truth[i], labelled[i])]
        if mean is not None:
            tiles.append(draw(images[i], mean, labelled[i]))
        tiles.append(up(recon[i]))
    return np.stack(tiles)


def example_sheet(path, model, test, pred, k=8):
    """PNG: ``k`` test people — estimate, truth, reconstruction."""
    import cv2

    from .dgpose import to_uint8
    from ..pose.draw import headed_grid

    x = test["image"][:k].astype(np.float32) / 127.5 - 1.0
    rec = to_uint8(model.reconstruct(x).numpy())
    tiles = sheet_tiles(test["image"][:k], pred[:k], test["joints"][:k], test["labelled"][:k], rec)
    cv2.imwrite(str(path), headed_grid(tiles, ("estimate", "truth", "reconstruction"))[..., ::-1])
    return path


def plot_label_fractions(result, path, key="pck@0.1_bbox"):
    """PNG: ``key`` (mean over seeds) of every arm against the fraction of annotated images,
    with the mean-pose floor."""
    import cv2

    from ..pose.draw import line_plot

    table = result["table"]
    fracs = sorted(table)
    series = {}
    for arm in ARM_ORDER:
        pts = [(f, _mean(table[f], arm, key)) for f in fracs if arm in table[f]]
        if pts:
            x, y = zip(*pts)
            name = "mean pose (floor)" if arm == "mean_pose" else arm
            series[name] = (np.array(x) * 100, np.array(y))
    plot = line_plot(series, "annotated images (%)", key, f"MirrorNet arms: {key}",
                     size=(760, 480))
    cv2.imwrite(str(path), plot[..., ::-1])
    return path
