"""Publish a finished training run as a shipped zoo entry: evaluate it, export its SavedModel and
Keras weights into ``saved_models/<name>/``, and complete ``zoo/<name>.json`` (files with sha256
and size, signatures, metrics with the command that reproduces them). Regenerates
``saved_models/models.config``. In ``zoo/figures/<name>/`` the evaluation's pictures and the run's
curves replace the last version's; other files there (earlier stages' ``curves_stageK.*``, the
pose phases' curves) stay.

    python training/publish.py RUN_DIR [--name NAME] [--n 1000] [--pose-model ZOO_NAME]

A model any of whose figures does not beat its trivial answer (``below_trivial`` of
:func:`dgpose_tf.evaluate.dgpose.evaluate`: mean pose, flat colour, copy of the appearance image,
…) is
refused as a pretrained entry: the script says which figures fail and writes nothing (the
evaluation goes to a temporary folder first; the card, figures and ``saved_models/`` are untouched).
``--experimental`` publishes it all the same, marked: the card's ``below_trivial`` lists the
failing figures, ``zoo.load`` warns and ``dgpose zoo list`` shows it as experimental.

(Users who train their own models register them in ``$DGPOSE_HOME`` instead:
``dgpose zoo register RUN_DIR``.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_FIGURES = ("curves.csv", "curves.png", "mapper_curve.csv", "mapper_sheet.png")


class BelowTrivialError(SystemExit):
    """The run does not beat the answers that need no model: not published."""


def clear_for_new_version(card, target):
    """Make room in ``target`` (``saved_models/<name>``) for the new weights: a published version
    is never overwritten (TF Serving and users' caches know it by its number), so if the card's
    version is already there the card moves to the next one."""
    if (target / str(card["version"])).exists():
        old = int(card["version"])
        card["version"] = old + 1
        print(f"{card['name']} version {old} is published: this is version {old + 1}")
    if target.exists():
        shutil.rmtree(target)


def publish(run_dir, name=None, n=1000, pose_model=None, repo=REPO, experimental=False, twin=None,
            real_motion=None, data_dir=None, anchors=None):
    from dgpose_tf import zoo
    from dgpose_tf.evaluate.dgpose import TEST_SEED, evaluate
    from dgpose_tf.fit import load_run

    folder = Path(run_dir)
    run_cfg = folder / "config.json" if folder.is_dir() else folder.parent / "config.json"
    source = json.loads(run_cfg.read_text()).get("data", {}).get("source") \
        if run_cfg.exists() else None
    if source == "lspet":
        return publish_photo_pose(folder, name, repo, experimental=experimental, data_dir=data_dir,
                                  anchors=anchors)
    if folder.is_dir() and (folder / "config.json").exists() and \
            json.loads((folder / "config.json").read_text()).get("family") == "mirrornet":
        run_dir, selection = choose_mirrornet_arm(folder, n)   # a label-fraction run: its arm
    else:
        selection = None
    model, config = load_run(run_dir)
    if config["family"] == "mirrornet":
        return publish_mirrornet(model, config, run_dir, name, repo, experimental, n, selection)
    if config["family"] == "pose_sequence_aegan":
        return publish_sequences(model, config, run_dir, name, repo, experimental,
                                 real_motion=real_motion)
    if config["family"] == "vunet":
        return publish_vunet(model, config, run_dir, name, repo, experimental, min(n, 512), twin,
                             pose_model=pose_model)
    name = name or config["name"]
    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    built = {k: v for k, v in model.get_config().items() if k != "name"}
    if card["family"] != config["family"] or \
            {**built, **card["config"]} != built:
        sys.exit(f"{run_dir} ({config['family']} {built}) does not match the card "
                 f"{card_path} ({card['family']} {card['config']})")
    card["config"] = built
    judge = None
    if pose_model is not None:
        judge = load_run(pose_model)[0] if Path(pose_model).exists() else \
            zoo.load(pose_model, format="keras")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = evaluate(model, n, TEST_SEED, Path(tmp) / name, name, judge)
        print(f"evaluated {name} on {n} test people in {time.perf_counter() - t0:.0f} s")
        if figures["below_trivial"] and not experimental:
            raise BelowTrivialError(
                f"not published: {name} does not beat the answer that needs no model on "
                f"{', '.join(figures['below_trivial'])} (see `dgpose evaluate {run_dir}`); "
                f"nothing was written")
        shown = repo / "zoo" / "figures" / name
        # this version's evaluation (copied over) and run curves replace the last version's;
        # files of earlier stages beside them (curves_stageK.*, pose-phase curves) stay
        for old in RUN_FIGURES:
            (shown / old).unlink(missing_ok=True)
        shutil.copytree(Path(tmp) / name, shown, dirs_exist_ok=True)
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    for extra in RUN_FIGURES:
        if (run / extra).exists():                # learning curves of the run
            shutil.copy(run / extra, shown / extra)
    judge_name = pose_model
    if pose_model and Path(pose_model).exists() and \
            Path(pose_model).resolve() == Path(run_dir).resolve():
        judge_name = name                         # the entry judges itself, as the card's command
    command = f"dgpose evaluate {name} --n {n}" + (f" --pose-model {judge_name}"
                                                    if pose_model else "")
    clear_for_new_version(card, repo / "saved_models" / name)
    card = zoo.write_entry(model, card, repo / "saved_models")
    card["metrics"] = {"synthetic_test": {k: v for k, v in figures.items() if k != "model"},
                       "command": command,
                       "pictures": f"zoo/figures/{name}/"}
    card.pop("below_trivial", None)
    if figures["below_trivial"]:                  # only with --experimental
        card["below_trivial"] = figures["below_trivial"]
        print(f"published as EXPERIMENTAL: below the answer needing no model on "
              f"{', '.join(figures['below_trivial'])}; the card says so and zoo.load warns")
    train = config.get("train", {})
    card["training"]["steps"] = train.get("steps")
    card["training"]["batch_size"] = train.get("batch_size")
    card["training"]["recipe"] = config.get("about", "")
    card["training"]["settings"] = {k: config[k] for k in ("mapper", "pose_warmup", "train", "data")
                                    if k in config}
    card["training"].pop("warm_start", None)
    card["training"].pop("started_from", None)
    if train.get("init_weights"):                 # a later stage: its steps follow earlier runs'
        card["training"]["warm_start"] = train["init_weights"]
        train, seen = dict(train), set()          # the card's settings keep this stage's own
        stages = [config.get("name", name)]
        while train.get("init_weights") and train["init_weights"] not in seen:
            seen.add(train["init_weights"])
            earlier = Path(train.pop("init_weights")).parent / "config.json"
            if not earlier.exists():
                break
            earlier = json.loads(earlier.read_text())
            stages.insert(0, earlier.get("name"))
            train = {**earlier.get("train", {}), **train}
        if all(s and (repo / "training" / "configs" / f"{s}.json").exists() for s in stages):
            card["training"]["command"] = " && ".join(     # every stage, earliest first
                f"dgpose train training/configs/{s}.json" for s in stages)
    if train.get("init_conditional"):             # Semi-DGPose started from a Conditional-DGPose
        donor = Path(train["init_conditional"])
        card["training"]["started_from"] = {"weights": str(donor)}
        if donor.parent.parent.resolve() == (repo / "saved_models").resolve():
            card["training"]["started_from"].update(
                entry=donor.parent.name, version=zoo.info(donor.parent.name).get("version"))
    return _write_card(card, card_path, repo)


def _write_card(card, card_path, repo):
    """Write the card atomically, regenerate ``saved_models/models.config``, report the size."""
    from dgpose_tf.serving import models_config

    tmp = card_path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(card, indent=1) + "\n")
    os.replace(tmp, card_path)
    (repo / "saved_models" / "models.config").write_text(models_config(repo / "saved_models"))
    size = sum(f["size"] for f in card["files"].values())
    print(f"published {card['name']}: {len(card['files'])} files, {size / 1e6:.1f} MB; "
          f"card {card_path}")
    return card


def _gate_clips(config, sequences, frames):
    """The publish gate's clips and their description: for a model trained on motion capture
    (``data.source`` ``"bvh"``), ``sequences`` of its held-out validation clips (every n-th, in
    name order); else synthetic test motion of a seed no config trains on."""
    from dgpose_tf.evaluate import pose_sequence_aegan as es
    from dgpose_tf.evaluate.dgpose import TEST_SEED

    data = config.get("data", {})
    if data.get("source") != "bvh":
        clips = {k: v[:frames] for k, v in es.synthetic_test_motion(sequences).items()}
        return clips, f"{sequences} synthetic test sequences (seed {TEST_SEED}, ≤ {frames} frames)"
    from dgpose_tf.data.mocap import load_motion, select_files

    files = select_files(data["dir"], data["validation"])
    files = files[::max(1, len(files) // sequences)][:sequences]
    clips = {f.name: load_motion(f, int(data.get("fps", 24)))[:frames] for f in files}
    return clips, f"{len(clips)} held-out validation clips (≤ {frames} frames)"


def publish_sequences(model, config, run_dir, name=None, repo=REPO, experimental=False,
                      sequences=4, cameras=1, frames=240, real_motion=None):
    """The pose-sequence AE-GAN's publish: the gate is held-out motion (:func:`_gate_clips`; the
    CMU clips stay for evaluation only) with the detector-like corruption of
    :func:`dgpose_tf.evaluate.pose_sequence_aegan.detector_noise`, given in image coordinates; the
    AE-GAN as ``dgpose inpaint`` runs it (shift 8, fill) must beat the raw input on the observed
    joints and PCHIP + Savitzky–Golay + ridge on the upsampled joints and inside 0.5 s / 1 s
    gaps. The
    ridge learns from the run's own training pool when it kept one (``pool.npy``).
    ``real_motion``: evaluation-only clips (the CMU ones) measured at shift 8 × 2 cameras and
    recorded as the card's ``real_motion_cmu`` with the must / aim table."""
    from dgpose_tf.evaluate import pose_sequence_aegan as es
    from dgpose_tf import zoo

    name = name or config["name"]
    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    t0 = time.perf_counter()
    clips, described = _gate_clips(config, sequences, frames)
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    import numpy as np
    ridge = es.ridge_baseline(np.load(run / "pool.npy", mmap_mode="r")) \
        if (run / "pool.npy").is_file() else None
    # the gate judges what zoo users get: the card's inpainting settings (chosen on validation
    # motion); the thesis's procedure is recorded beside it
    rec = card.get("inpainting", {})
    lr, prior = rec.get("learning_rate", 1.0), rec.get("prior_weight", 0.5)
    seen, bridge = rec.get("seen", "closest"), rec.get("bridge", False)
    results = es.evaluate_motion(model, clips, cameras=cameras, shifts=(8,), modes=("fill",),
                                 lr=lr, weights=(10.0, 5.0, prior), seen=seen, bridge=bridge,
                                 ridge=ridge)
    failed = es.below_trivial(results)
    print(f"latent descent: learning rate {lr:g}, prior weight {prior:g}; observed frames take "
          f"the {seen} candidate")
    print(es.format_clip_table(results))
    thesis = results
    if (lr, prior, seen, bridge) != (1.0, 0.5, "closest", False):
        thesis = es.evaluate_motion(model, clips, cameras=cameras, shifts=(8,), modes=("fill",),
                                    ridge=ridge)
        print("the thesis's procedure (learning rate 1, prior weight 0.5, closest candidate):")
        print(es.format_clip_table(thesis))
    print(f"evaluated {name} on {described} × {cameras} camera(s) in "
          f"{time.perf_counter() - t0:.0f} s")
    real = None
    if real_motion:
        real = es.evaluate_clips(model, real_motion, cameras=2, shifts=(8,), lr=lr,
                                 weights=(10.0, 5.0, prior), seen=seen, bridge=bridge,
                                 ridge=ridge)
        print(es.format_clip_table(real))
        print(es.format_aims(real))
    if failed and not experimental:
        raise BelowTrivialError(f"not published: {name} does not beat what users do today on "
                                f"{', '.join(failed)}; nothing was written")
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    shown = repo / "zoo" / "figures" / name
    shown.mkdir(parents=True, exist_ok=True)
    for extra in ("curves.csv", "curves.png", "losses.csv", "losses.png", "curves_all_stages.csv",
                  "curves_all_stages.png"):
        if (run / extra).exists():
            shutil.copy(run / extra, shown / extra)
    clear_for_new_version(card, repo / "saved_models" / name)
    card["config"] = {k: v for k, v in model.get_config().items() if k != "name"}
    # the Keras file carries the weights; the SavedModel holds them once (not tracked twice)
    card = zoo.write_entry(model, card, repo / "saved_models", track=False)
    keep = {k: v for k, v in card.get("metrics", {}).items() if k == "real_motion_cmu"}
    if real is not None:
        keep["real_motion_cmu"] = {
            "clips": [Path(f).name for f in real_motion], "cameras": 2, "steps": 200,
            "learning_rate": lr, "prior_weight": prior, "seen": seen, "bridge": bridge,
            "coordinates": "image (x right, y down), as a detector writes them",
            "ridge": "fitted on this entry's training pool" if ridge is not None else
                     "fitted on synthetic motion",
            "version": card["version"], "results": {str(k): v for k, v in real.items()},
            "aims": es.aims(real)}
    gate = "validation_motion" if config.get("data", {}).get("source") == "bvh" \
        else "synthetic_test_motion"
    card["metrics"] = {**keep, gate: {
        "clips": described, "cameras": cameras, "frames": frames,
        "learning_rate": lr, "prior_weight": prior, "seen": seen, "bridge": bridge,
        "results": {str(k): v for k, v in results.items()}, "below_trivial": failed,
        "thesis_procedure": {str(k): v for k, v in thesis.items()}},
        "command": f"python training/publish.py {run_dir}"
                   + (f" --real-motion {' '.join(str(f) for f in real_motion)}" if real_motion
                      else " (gate); real motion: dgpose evaluate {name} --bvh FILE …"),
        "pictures": f"zoo/figures/{name}/"}
    card.pop("below_trivial", None)
    card.pop("below_baselines_real_motion", None)
    if failed:
        card["below_trivial"] = failed
        print(f"published as EXPERIMENTAL: below what users do today on {', '.join(failed)}")
    if real is not None:                          # the musts missed on the evaluation clips
        missed = [f"{r['figure']} ({r['gap_s']:g} s) vs {r['must']}" for r in es.aims(real)
                  if not r["must_met"]]
        if missed:
            card["below_baselines_real_motion"] = missed
    train = config.get("train", {})
    card["training"].update(steps=train.get("steps"), batch_size=train.get("batch_size"),
                            recipe=config.get("about", ""),
                            settings={k: config[k] for k in ("train", "data") if k in config})
    return _write_card(card, card_path, repo)


def publish_vunet(model, config, run_dir, name=None, repo=REPO, experimental=False, n=512,
                  twin=None, pairs=256, pose_model=None):
    """The VUNet's publish: reconstruction and transfer on ``n`` synthetic test pairs (appearances
    no training run saw) must beat the flat-colour and copy-the-appearance-image answers; with
    ``twin`` (another VUNet run trained alike on another stickman, or a list of them) the
    pose-space ablation on ``pairs`` counterfactual pairs goes into the card too."""
    from dgpose_tf import zoo
    from dgpose_tf.evaluate.vunet import (TEST_SEED, evaluate_vunet, example_sheet,
                                          format_ablation, format_vunet_table,
                                          pose_space_ablation, test_pairs)
    from dgpose_tf.fit import load_run

    name = name or config["name"]
    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    t0 = time.perf_counter()
    data = test_pairs(n, TEST_SEED, model.image_size)
    judge = None
    if pose_model is not None:
        judge = load_run(pose_model)[0] if Path(pose_model).exists() else \
            zoo.load(pose_model, format="keras")
    res = evaluate_vunet(model, data, pose_model=judge)
    print(format_vunet_table(res, name))
    failed = res["below_trivial"]
    if failed and not experimental:
        raise BelowTrivialError(f"not published: {name} does not beat the answer that needs no "
                                f"model on {', '.join(failed)}; nothing was written")
    ablation = None
    twins = [twin] if isinstance(twin, (str, Path)) else list(twin or ())
    arms = {name: model}
    for t in twins:
        twin_model, twin_cfg = load_run(t)
        arms[twin_cfg["name"]] = twin_model
    if twins:
        ablation = pose_space_ablation(arms, n=n, n_pairs=pairs)
        print(format_ablation(ablation))
    print(f"evaluated {name} on {n} test pairs in {time.perf_counter() - t0:.0f} s")
    shown = repo / "zoo" / "figures" / name
    shown.mkdir(parents=True, exist_ok=True)
    example_sheet(shown / "examples.png", data, res)
    run = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    for extra in ("curves.csv", "curves.png"):
        if (run / extra).exists():
            shutil.copy(run / extra, shown / extra)
    clear_for_new_version(card, repo / "saved_models" / name)
    card["config"] = {k: v for k, v in model.get_config().items()
                      if k not in ("name", "trainable", "dtype")}
    # no separate Keras file: load(format="keras") takes the SavedModel's variables (31 MB
    # instead of 62 for 7.8 M parameters)
    card = zoo.write_entry(model, card, repo / "saved_models", keras_file=False)
    card["metrics"] = {"synthetic_test": {k: v for k, v in res.items() if not k.startswith("_")},
                       "test_pairs": n, "seed": TEST_SEED,
                       "command": f"dgpose evaluate {name} --n {n}"
                                  + (f" --pose-model {pose_model}" if pose_model else
                                     " --no-pose-model"),
                       "pictures": f"zoo/figures/{name}/"}
    if ablation is not None:
        card["metrics"]["pose_space_ablation"] = ablation
        card["metrics"]["ablation_command"] = (f"dgpose evaluate {' '.join(arms)} "
                                               f"--occlusion-order --pairs {pairs} --n {n}")
    card.pop("below_trivial", None)
    if failed:
        card["below_trivial"] = failed
        print(f"published as EXPERIMENTAL: below the answer needing no model on "
              f"{', '.join(failed)}")
    train = config.get("train", {})
    card["training"].update(steps=train.get("steps"), batch_size=train.get("batch_size"),
                            recipe=config.get("about", ""),
                            perceptual_loss=config.get("loss", {}).get("used"),
                            settings={k: config[k] for k in ("train", "data", "loss")
                                      if k in config})
    return _write_card(card, card_path, repo)


def choose_mirrornet_arm(folder, n=1000):
    """The MirrorNet arm of one label-fraction run (``RUN/labels025_seed0``) with the best
    PCK@0.1 (bbox) on ``n`` validation people (seed ``VALIDATION_SEED``, never the test seed);
    the candidates are the paper's arms (``literal``, ``reflective``, ``semi``), not the
    baseline, the ablations or the calibrated-variance arm. Returns the weights file and every candidate's score."""
    from dgpose_tf.evaluate import mirrornet as em
    from dgpose_tf.evaluate.dgpose import VALIDATION_SEED
    from dgpose_tf.fit import load_run
    from dgpose_tf.models.mirrornet_curriculum import predict_joints

    val = em.test_people(n, VALIDATION_SEED)
    best, scores = None, {}
    for weights in sorted(Path(folder).glob("*.weights.h5")):
        arm = weights.name.split(".")[0]
        if arm not in ("literal", "reflective", "semi"):     # the paper's MirrorNet arms only
            continue
        model, _ = load_run(weights)
        pred = predict_joints(model, val["image"])
        scores[arm] = em.pose_figures(pred, val["joints"], val["labelled"])["pck@0.1_bbox"]
        if best is None or scores[arm] > scores[best]:
            best = arm
    if best is None:
        sys.exit(f"{folder}: no finished MirrorNet arm")
    print(f"validation PCK@0.1 (bbox, {n} people of seed {VALIDATION_SEED}): "
          + ", ".join(f"{a} {v:.4f}" for a, v in scores.items()) + f" → {best}")
    return Path(folder) / f"{best}.weights.h5", {"rule": f"best PCK@0.1 (bbox) on {n} "
                                                 f"validation people (seed {VALIDATION_SEED})",
                                                 "validation_pck@0.1_bbox": scores}


def publish_mirrornet(model, config, run_dir, name=None, repo=REPO, experimental=False, n=1000,
                      selection=None):
    """MirrorNet's publish: one arm's weights (``RUN/labels025_seed0/reflective.weights.h5``, or
    the arm :func:`choose_mirrornet_arm` picks when ``publish`` is given the run folder) must
    beat the mean pose on every pose figure and the flat colour on reconstruction, on ``n`` test
    people; the card also gets the pose prior's separation, the plausibility figures and — from
    the experiment folder the arm belongs to — the whole label-fraction table with its aims."""
    from dgpose_tf.evaluate import mirrornet as em
    from dgpose_tf import zoo

    name = name or "mirrornet_synthetic"
    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    t0 = time.perf_counter()
    test = em.test_people(n)
    res = em.evaluate_model(model, test)
    print(em.format_model_table(res, name))
    failed = res["below_trivial"]
    if failed and not experimental:
        raise BelowTrivialError(f"not published: {name} does not beat the answer that needs no "
                                f"model on {', '.join(failed)}; nothing was written")
    arm_file = Path(run_dir)
    experiment = arm_file.parent.parent if arm_file.is_file() else arm_file.parent
    table = None
    if (experiment / "data.npz").exists():
        table = em.label_fraction_table(experiment)
        print(em.format_table(table))
        aims = em.check_aims(table)
        for text, ok in aims:
            print(("✓ " if ok else "✗ ") + text)
    print(f"evaluated {name} in {time.perf_counter() - t0:.0f} s")
    shown = repo / "zoo" / "figures" / name
    shown.mkdir(parents=True, exist_ok=True)
    em.example_sheet(shown / "examples.png", model, test, res["_pred"])
    if table is not None:
        em.plot_label_fractions(table, shown / "label_fractions.png")
        (shown / "label_fractions.md").write_text(
            em.format_table(table) + "\n\n" + "\n".join(("✓ " if ok else "✗ ") + t
                                                       for t, ok in aims) + "\n")
    clear_for_new_version(card, repo / "saved_models" / name)
    model.set_objective("recognizer")
    card["config"] = dict(model.cfg)
    # the Keras file carries the weights (its layers' TF variable names lack their paths, so the
    # SavedModel's variables cannot be matched back by name); the SavedModel holds them once
    card = zoo.write_entry(model, card, repo / "saved_models", keras_file=True, track=False)
    card["metrics"] = {"synthetic_test": {k: v for k, v in res.items() if not k.startswith("_")},
                       "n": n, "command": f"dgpose evaluate {name} --n {n}",
                       "pictures": f"zoo/figures/{name}/"}
    if table is not None:
        card["metrics"]["label_fractions"] = {
            "table": {str(f): rows for f, rows in table["table"].items()},
            "true_poses": table["true_poses"],
            "aims": [{"aim": t, "met": ok} for t, ok in aims],
            "command": f"dgpose evaluate {experiment}"}
    card.pop("below_trivial", None)
    if failed:
        card["below_trivial"] = failed
        print(f"published as EXPERIMENTAL: below the answer needing no model on "
              f"{', '.join(failed)}")
    card["training"].update(arm=f"{arm_file.parent.name}/{arm_file.stem.split('.')[0]}",
                            arm_selection=selection,
                            settings={k: config[k] for k in ("fraction", "seed", "annotated",
                                                             "steps") if k in config})
    return _write_card(card, card_path, repo)


def publish_photo_pose(run_dir, name=None, repo=REPO, experimental=False, data_dir=None,
                       anchors=None, storage=None):
    """A real-photo pose run (``data.source`` "lspet"): the weights of its best validation check
    (``best.weights.h5``; the run's last step otherwise), scored by the real-photo protocol on
    LSPET's test split beside the mean-pose floor and the BlazePose anchors (``anchors``: the JSON
    ``tests/benchmarks/blazepose_lspet.py`` writes). Refused below the floor unless
    ``experimental``; below BlazePose heavy the card lists the figures (``below_anchor``).
    Storage: float16 when the validation headline moves by at most 0.002 (measured on the
    validation photos, recorded on the card), one copy (the SavedModel; Keras weights are taken
    from it)."""
    from dgpose_tf import zoo
    from dgpose_tf.evaluate import photos as ph
    from dgpose_tf.fit import load_run
    from dgpose_tf.photo_api import KerasPoseModel

    run = Path(run_dir)
    folder = run if run.is_dir() else run.parent
    weights = run if run.is_file() else next(w for w in (run / "best.weights.h5",
                                                         run / "mirrornet.weights.h5")
                                             if w.exists())
    model, config = load_run(weights)
    name = name or config["name"]
    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    data_dir = data_dir or config["data"].get("dir")
    if not data_dir:
        sys.exit("pass --data-dir (the LSPET folder)")
    t0 = time.perf_counter()
    test, train = ph.load_split(data_dir, "test"), ph.load_split(data_dir, "train")
    floor = ph.score(ph.mean_pose_floor(train, test), test)
    anchor_figs = json.loads(Path(anchors).read_text())["anchors"] if anchors else {}
    # the storage is a choice: made on validation photos, never on the test split
    val = ph.load_split(data_dir, "validation")
    headline = lambda: ph.score(ph.predict_entry(KerasPoseModel(model, name), val["photos"]),
                                val)[ph.HEADLINE]
    val32 = headline()
    originals = [w.numpy() for w in model.weights]
    for w, v in zip(model.weights, originals):               # the weights as float16 stores them
        if v.dtype == "float32":
            w.assign(v.astype("float16").astype("float32"))
    val16 = headline()
    moved = abs(val16 - val32)
    storage = storage or ("float16" if moved <= 0.002 else "float32")
    if storage == "float32":
        for w, v in zip(model.weights, originals):
            w.assign(v)
    figures = ph.score(ph.predict_entry(KerasPoseModel(model, name), test["photos"]), test)
    print(f"{name} on LSPET test ({len(test['photos'])} whole photos, "
          f"{time.perf_counter() - t0:.0f} s):")
    print(ph.format_photo_table(figures, floor, anchor_figs))
    print(f"float16 weights move validation {ph.HEADLINE} by {moved:.4f} → stored as {storage}")
    below_floor = [f for f in ph.FIGURES if figures[f] <= floor[f]]
    if below_floor and not experimental:
        raise BelowTrivialError(f"not published: {name} does not beat the mean-pose floor on "
                                f"{', '.join(below_floor)}; nothing was written")
    heavy = anchor_figs.get("blazepose_heavy", {})
    below_anchor = [f for f in ph.FIGURES if heavy.get(f) is not None and figures[f] < heavy[f]]
    aims = ph.aims(figures, anchor_figs)
    for a in aims:
        print({True: "✓", False: "✗", None: "?"}[a["met"]], a["figure"], a["what"],
              f"{a['value_model']:.3f}", "" if a["target"] is None else f"vs {a['target']:.3f}")
    shown = repo / "zoo" / "figures" / name
    shown.mkdir(parents=True, exist_ok=True)
    from dgpose_tf.pose_files import draw_pose
    import cv2
    photo = Path(__file__).resolve().parents[1] / "dgpose_tf" / "assets" / "astronaut.jpg"
    res = KerasPoseModel(model, name).pose_photos([photo])
    drawn = draw_pose(photo, res["joints"][0], res["confidence"][0], res["skeleton"])
    cv2.imwrite(str(shown / "astronaut.png"), drawn[..., ::-1])
    clear_for_new_version(card, repo / "saved_models" / name)
    for k, v in (("serving", ["estimate_pose"]), ("recognizer_dtype", None),
                 ("recognizer_init", None)):
        model.cfg[k] = v
    card["config"] = dict(model.cfg)
    card = zoo.write_entry(model, card, repo / "saved_models", keras_file=False, track=False,
                           storage=storage)
    history = folder / "validation.json"
    card["metrics"] = {
        "lspet_test": {"model": figures, "mean_pose_floor": floor, "anchors": anchor_figs,
                       "aims": aims, "float16_check": {"split": "validation",
                                                       "float32": val32, "float16": val16,
                                                       "stored": storage},
                       "anchor_source": "tests/benchmarks/blazepose_lspet.py (mediapipe 0.10.14 "
                                        "in its own virtualenv; lite/heavy from npm "
                                        "@mediapipe/pose)"},
        "validation": json.loads(history.read_text()) if history.exists() else None,
        "command": f"dgpose evaluate {name} --data-dir LSPET"
                   + (" --anchors runs/anchors/blazepose_lspet_test.json" if anchors else ""),
        "pictures": f"zoo/figures/{name}/ (the public-domain astronaut photo; LSPET's photos are "
                    "not redistributed)"}
    card["dataset"]["protocol"] = "lspet_photos"
    card.pop("below_trivial", None)
    card.pop("below_anchor", None)
    if below_floor:
        card["below_trivial"] = below_floor
    if below_anchor:
        card["below_anchor"] = below_anchor
        print(f"published as EXPERIMENTAL: below BlazePose heavy on {', '.join(below_anchor)}")
    card["training"]["weights"] = weights.name
    return _write_card(card, card_path, repo)


def reexport(name, why, repo=REPO):
    """Export a published entry's weights again as its next version (a serving change with the
    same weights, e.g. a signature's convention): its figures stay, ``history`` records why."""
    from dgpose_tf import zoo

    card_path = repo / "zoo" / f"{name}.json"
    card = json.loads(card_path.read_text())
    model = zoo.load(name, format="keras")
    old = card["version"]
    clear_for_new_version(card, repo / "saved_models" / name)
    card = zoo.write_entry(model, card, repo / "saved_models",
                           keras_file=card.get("keras_weights") != "saved_model",
                           track=card["family"] != "pose_sequence_aegan")
    card.setdefault("history", []).append(
        {"version": card["version"], "weights": f"version {old}'s, unchanged", "change": why})
    return _write_card(card, card_path, repo)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="training run folder (or, with --reexport, the entry's name)")
    p.add_argument("--reexport", metavar="WHY",
                   help="export the published entry RUN's weights again as its next version "
                        "(same weights and figures), recording WHY in the card's history")
    p.add_argument("--name")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--pose-model", help="zoo entry or training run estimating the pose of "
                                        "reconstructions and transfers")
    p.add_argument("--experimental", action="store_true",
                   help="publish a model that does not beat every trivial answer, marked as "
                        "experimental: the card lists the failing figures (`below_trivial`) "
                        "and zoo.load warns; without it such a model is refused")
    p.add_argument("--twin", nargs="+", help="VUNet: runs trained alike on other stickmen "
                                             "(2-D, 2-D + depth), for the pose-space ablation "
                                             "in the card")
    p.add_argument("--data-dir", help="real-photo pose runs: the LSPET folder")
    p.add_argument("--anchors", help="real-photo pose runs: the JSON "
                                     "tests/benchmarks/blazepose_lspet.py wrote")
    p.add_argument("--real-motion", nargs="+", metavar="BVH",
                   help="pose-sequence AE-GAN: evaluation-only motion capture (the CMU clips) "
                        "measured and recorded on the card beside every baseline")
    a = p.parse_args()
    if a.reexport:
        reexport(a.run, a.reexport)
        sys.exit(0)
    publish(a.run, a.name, a.n, a.pose_model, experimental=a.experimental, twin=a.twin,
            real_motion=a.real_motion, data_dir=a.data_dir, anchors=a.anchors)
