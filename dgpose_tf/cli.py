"""The ``dgpose`` command line: ``dgpose <subcommand> …``; ``dgpose --version``.

Each subcommand is a function registered with :func:`command`; heavy modules are imported inside
the function so that ``dgpose --help`` and ``dgpose --version`` stay instant.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._version import __version__

_COMMANDS = []


def command(name, help):
    """Register ``func(args)`` as a subcommand; ``func.configure(parser)`` adds its arguments."""
    def wrap(func):
        _COMMANDS.append((name, help, func))
        return func
    return wrap


def _demo_args(p):
    p.add_argument("--out", default="dgpose_demo.png", help="PNG sheet to write (the pose-sequence "
                                                            "sheet goes beside it, *_inpaint.png)")
    p.add_argument("--bvh", help="a motion-capture clip (BVH or AMC) for the pose-sequence part "
                                 "(default: synthetic test motion)")
    p.add_argument("--n", type=int, default=64, help="number of fresh synthetic people")
    p.add_argument("--seed", type=int, default=2026, help="seed of the people")
    p.add_argument("--photos", nargs="+", help="your photos (files or folders) for the real-photo "
                                               "entries (default: a public-domain photo)")


@command("demo", "the zoo at work: pose estimation, reconstruction, manipulation, pose transfer "
                 "and sampling with the shipped synthetic models; writes a PNG sheet")
def _demo(args):
    from .demos.models import run_demo
    return run_demo(out=args.out, n=args.n, seed=args.seed, bvh=args.bvh, photos=args.photos)


_demo.configure = _demo_args


def _geometry_demo_args(p):
    p.add_argument("--out", default="dgpose_geometry_demo.png", help="PNG sheet to write")
    p.add_argument("--n", type=int, default=64, help="number of random poses")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64, choices=(64, 128, 256))


@command("geometry-demo", "pose-geometry demo: heatmaps, decoding, conversions, alignment, "
                          "metrics; writes a PNG sheet")
def _geometry_demo(args):
    from .demos.geometry import run_geometry_demo
    return run_geometry_demo(out=args.out, n=args.n, seed=args.seed, size=args.size)


_geometry_demo.configure = _geometry_demo_args


def _skeletons_args(p):
    p.add_argument("name", nargs="?", help="show one skeleton (default: list them)")


@command("skeletons", "list joint sets, or show one with its flip indices and limbs")
def _skeletons(args):
    from .pose import conversion, get_skeleton, list_skeletons

    if args.name is None:
        for name in list_skeletons():
            s = get_skeleton(name)
            print(f"{name:16s} {s.num_joints:3d} joints  {s.description}")
        return 0
    s = get_skeleton(args.name)
    print(f"{s.name}: {s.description}")
    for i, (j, p) in enumerate(zip(s.joints, s.partners)):
        print(f"  {i:2d} {j:16s} flip -> {s.index(p):2d} ({p})")
    print("  limbs: " + ", ".join(f"{a}-{b}" for a, b in s.limbs))
    for other in list_skeletons():
        c = conversion(s, other)
        notes = [f"{j}: {r}" for j, r in c.approximations.items()]
        if c.missing:
            notes.append("missing " + ", ".join(c.missing))
        print(f"  -> {other:16s} {'; '.join(notes) if notes else 'exact'}")
    return 0


_skeletons.configure = _skeletons_args


def _bench_args(p):
    p.add_argument("what", choices=("synth", "train-step", "inpaint", "pose-photos"),
                   help="what to measure")
    p.add_argument("--size", type=int, default=64, choices=(64, 128, 256))
    p.add_argument("--n", type=int, default=4000, help="samples timed after the warm-up (synth)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up samples (synth, default 5000) or steps (train-step, default 2)")
    p.add_argument("--family", default="semi_dgpose", help="model family (train-step)")
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier (train-step)")
    p.add_argument("--batch", type=int, default=16, help="batch size (train-step)")
    p.add_argument("--steps", type=int, default=5, help="timed steps (train-step)")
    p.add_argument("--xla", action="store_true", help="jit_compile the step (train-step)")
    p.add_argument("--config", default="cpu64",
                   help="VUNet configuration (train-step --family vunet): cpu64, market128, "
                        "deepfashion256")
    p.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"),
                   help="Keras dtype policy of the layers (train-step)")
    p.add_argument("--frames", type=int, default=10000, help="sequence length (inpaint)")
    p.add_argument("--shift", type=int, default=1, help="window shift (inpaint)")
    p.add_argument("--inpaint-steps", type=int, default=200, help="latent steps (inpaint)")
    p.add_argument("--model", default=None, help="zoo name or run of an AE-GAN (inpaint; "
                                                  "default: untrained, same cost), or a pose "
                                                  "entry (pose-photos)")
    p.add_argument("--photos", nargs="+", help="photos or folders (pose-photos)")
    p.add_argument("--anchor-python", help="pose-photos: the python of a virtualenv with "
                                           "mediapipe==0.10.14, to time BlazePose in the same "
                                           "run")


@command("bench", "print throughput figures (synth: synthetic-people images/s; train-step: "
                  "images/s and GFLOP/s of one training iteration; inpaint: windows/s of "
                  "batched inpainting vs a per-window loop)")
def _bench(args):
    from . import bench
    if args.what == "pose-photos":
        if not args.model or not args.photos:
            raise ValueError("bench pose-photos needs --model (a pose entry) and --photos")
        bench.bench_pose_photos(args.model, args.photos, n=min(args.n, 256),
                                anchor_python=args.anchor_python)
    elif args.what == "inpaint":
        bench.bench_inpaint(args.frames, args.shift, args.inpaint_steps, model=args.model)
    elif args.what == "train-step" and args.family == "pose_sequence_aegan":
        bench.bench_sequence_train_step(256 if args.batch == 16 else args.batch, args.steps,
                                        2 if args.warmup is None else args.warmup)
    elif args.what == "train-step" and args.family == "vunet":
        bench.bench_vunet_train_step(args.config, 8 if args.batch == 16 else args.batch,
                                     args.steps, 2 if args.warmup is None else args.warmup)
    elif args.what == "synth":
        bench.bench_synth(size=args.size, n=args.n,
                          warmup=5000 if args.warmup is None else args.warmup)
    else:
        bench.bench_train_step(args.family, args.width, args.batch, steps=args.steps,
                               warmup=2 if args.warmup is None else args.warmup,
                               jit_compile=args.xla, precision=args.precision)
    return 0


_bench.configure = _bench_args


def _data_args(p):
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    synth = sub.add_parser("synth", help="render N synthetic people into TFRecord shards")
    synth.add_argument("--n", type=int, required=True)
    synth.add_argument("--out", required=True, help="output directory")
    synth.add_argument("--size", type=int, default=64, choices=(64, 128, 256))
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--shard-size", type=int, default=2000)
    show = sub.add_parser("show", help="contact sheet of a shard directory with skeletons, "
                                       "occluded joints and masks")
    show.add_argument("dir", help="directory written by 'dgpose data synth'")
    show.add_argument("--out", default="data_sheet.png")
    show.add_argument("--n", type=int, default=16)
    mot = sub.add_parser("motion", help="sheet of synthetic motion clips as projected 2-D poses")
    mot.add_argument("--out", default="motion_sheet.png")
    mot.add_argument("--seed", type=int, default=0)


@command("data", "write synthetic shards (synth), look at a data set (show) or at synthetic "
                 "motion (motion)")
def _data(args):
    from .data import shards

    if args.data_command == "synth":
        shards.write_synthetic(args.out, args.n, size=args.size, seed=args.seed,
                               shard_size=args.shard_size)
    elif args.data_command == "motion":
        from .data.motion import motion_sheet
        motion_sheet(args.out, seed=args.seed)
    else:
        shards.contact_sheet(args.dir, args.out, n=args.n)
    return 0


_data.configure = _data_args


def _train_args(p):
    from .fit import add_train_arguments
    add_train_arguments(p)


@command("train", "train a model from a config (dgpose_tf.fit.<family>; resumes an existing "
                  "run folder)")
def _train(args):
    from .fit import run_config, train_options
    run_config(args.config, **train_options(args))
    return 0


_train.configure = _train_args


def _evaluate_args(p):
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="a zoo name, a training run directory (config.json + weights) or a "
                        "weights file")
    p.add_argument("--seed", type=int, default=None, help="test-set seed (default: fixed)")
    p.add_argument("--n", type=int, default=1000, help="number of test people")
    p.add_argument("--out", default="dgpose_eval", help="folder for PNGs and metrics.json")
    p.add_argument("--pose-model", default="semi_dgpose_synthetic",
                   help="a Semi-DGPose (zoo name or run) that estimates the pose of "
                        "reconstructions and transfers (pose fidelity); default: the zoo's "
                        "semi_dgpose_synthetic")
    p.add_argument("--no-pose-model", action="store_true",
                   help="skip the pose-fidelity figures")
    p.add_argument("--bvh", nargs="+", metavar="FILE",
                   help="pose-sequence AE-GAN: motion-capture clips (BVH, CMU naming) to "
                        "evaluate on — real motion no training run sees")
    p.add_argument("--cameras", type=int, default=4, help="--bvh: projections per clip")
    p.add_argument("--steps", type=int, default=200, help="--bvh: inpainting steps")
    p.add_argument("--shifts", type=int, nargs="+", default=[1, 8, 24],
                   help="--bvh: window shifts to evaluate")
    p.add_argument("--ridge-pool", metavar="NPY",
                   help="--bvh: fit the ridge 12 → 16 baseline on these training windows "
                        "(N, 24, 28, 2), y up — e.g. a run's pool.npy, so the baseline learns "
                        "from the same motion as the model (default: synthetic motion)")
    _descent_args(p)
    p.add_argument("--occlusion-order", action="store_true",
                   help="VUNet: the pose-space ablation on counterfactual pairs (same 2-D "
                        "pose, one limb's occlusion flipped); give the arms as MODELs")
    p.add_argument("--pairs", type=int, default=256,
                   help="--occlusion-order: number of counterfactual pairs")
    p.add_argument("--data-dir", help="real-photo pose entries: the LSPET folder (joints.mat, "
                                      "images/); scored on its fixed test split")
    p.add_argument("--split", default="test", choices=("validation", "test"),
                   help="--data-dir: the LSPET split to score (validation for choices)")
    p.add_argument("--anchors", help="--data-dir: the JSON tests/benchmarks/blazepose_lspet.py "
                                     "writes (default: the anchors recorded on the card)")
    p.add_argument("--ablations", action="store_true",
                   help="--bvh: also the inpainting procedure's ablations (encoder vs random "
                        "init, Procrustes on/off, prior weight 0, learning rates 0.1 / 0.01)")


def _keras_model(target):
    """``(Keras model, name)`` of a zoo name or a training run folder / weights file."""
    from pathlib import Path

    from . import zoo
    from .fit import load_run

    if not Path(target).exists() and zoo._NAME.fullmatch(target):
        return zoo.load(target, format="keras"), target
    model, config = load_run(target)
    return model, config.get("name", Path(target).name)


@command("evaluate", "metrics table of models on a fresh synthetic test set, each figure next "
                     "to the answer that needs no model (marked ✗ where the model does not "
                     "beat it)")
def _evaluate(args):
    from pathlib import Path

    from .evaluate.dgpose import TEST_SEED, evaluate, format_table, synthetic_test_set

    if args.data_dir or any(_photo_entry(t) for t in args.models):
        return _evaluate_photos(args)
    if args.bvh or any(_family(t) == "pose_sequence_aegan" for t in args.models):
        return _evaluate_sequences(args)
    if any(_family(t) == "vunet" for t in args.models):
        return _evaluate_vunet(args)
    if any(_family(t) == "mirrornet" for t in args.models):
        return _evaluate_mirrornet(args)
    seed = TEST_SEED if args.seed is None else args.seed
    data = synthetic_test_set(args.n, seed)
    pose_model = None if args.no_pose_model else _keras_model(args.pose_model)[0]
    rows = []
    for target in args.models:
        model, name = _keras_model(target)
        rows.append(evaluate(model, args.n, seed, Path(args.out) / name, name, pose_model, data))
        print(f"{name}: wrote {Path(args.out) / name}/{{metrics.json, examples.png"
              f"{', pck_curve.png' if 'pck@0.5' in rows[-1] else ''}}}")
    print(f"{args.n} synthetic test people, seed {seed}"
          + ("" if pose_model is None else f"; pose fidelity by {args.pose_model}"))
    print(format_table(rows))
    return 0


_evaluate.configure = _evaluate_args


def _family(target):
    """The family of a zoo name or training run folder (None if unknown)."""
    import json
    from pathlib import Path

    from . import zoo

    p = Path(target)
    cfg = (p if p.is_dir() else p.parent) / "config.json"
    if cfg.is_file():
        return json.loads(cfg.read_text()).get("family")
    try:
        return zoo.info(target).get("family")
    except zoo.ZooError:
        return None


def _photo_entry(target):
    """Whether a zoo name or run folder is a real-photo pose entry (LSPET)."""
    import json
    from pathlib import Path

    from . import zoo

    p = Path(target)
    cfg = (p if p.is_dir() else p.parent) / "config.json"
    if cfg.is_file():
        return json.loads(cfg.read_text()).get("data", {}).get("source") == "lspet"
    try:
        return zoo.info(target).get("dataset", {}).get("protocol") == "lspet_photos"
    except zoo.ZooError:
        return False


def _evaluate_photos(args):
    """Real-photo pose entries on LSPET's split, beside the mean-pose floor and BlazePose."""
    import json
    from pathlib import Path

    from . import zoo
    from .evaluate import photos as ph
    from .photo_api import KerasPoseModel

    if not args.data_dir:
        raise ValueError("real-photo entries are scored on LSPET: pass --data-dir (the folder "
                         "with joints.mat and images/)")
    data = ph.load_split(args.data_dir, args.split)
    floor = ph.score(ph.mean_pose_floor(ph.load_split(args.data_dir, "train"), data), data)
    for target in args.models:
        if not Path(target).exists() and zoo._NAME.fullmatch(target):
            model, name, card = zoo.load(target), target, zoo.info(target)
        else:
            model = KerasPoseModel.from_run(target)
            name, card = Path(target).name, {}
        anchors, source = {}, ""
        if args.anchors:
            anchors, source = json.loads(Path(args.anchors).read_text())["anchors"], args.anchors
        elif card.get("metrics", {}).get("lspet_test", {}).get("anchors"):
            anchors = card["metrics"]["lspet_test"]["anchors"]
            source = f"{name}'s card (tests/benchmarks/blazepose_lspet.py)"
        if args.split != "test":
            anchors = {}                                     # anchors are measured on test
        figures = ph.score(ph.predict_entry(model, data["photos"]), data)
        print(f"\n{name} on LSPET {args.split} ({len(data['photos'])} whole photos)"
              + (f"; anchors from {source}" if anchors else ""))
        print(ph.format_photo_table(figures, floor, anchors))
        for a in ph.aims(figures, anchors):
            mark = {True: "✓", False: "✗", None: "?"}[a["met"]]
            print(f"{mark} {a['figure']} {a['what']}: {a['value_model']:.3f}"
                  + ("" if a["target"] is None else f" vs {a['target']:.3f}"))
    return 0


def _evaluate_mirrornet(args):
    """MirrorNet: an experiment folder of ``fit_mirrornet.py`` → the label-fraction table and
    the aims; a model (zoo name, arm weights) → its figures beside the mean pose / flat colour."""
    import json
    from pathlib import Path

    from .evaluate import mirrornet as em

    test = None
    for target in args.models:
        if _family(target) != "mirrornet":
            raise ValueError(f"{target} is not a MirrorNet; evaluate MirrorNets on their own")
        if (Path(target) / "data.npz").exists():
            res = em.label_fraction_table(target)
            print(f"{target}: recognizers of every arm on the experiment's test people "
                  "(PCK and AUC: mean over each arm's last evaluations)")
            print(em.format_table(res))
            for text, ok in em.check_aims(res):
                print(("✓ " if ok else "✗ ") + text)
            out = Path(args.out) / Path(target).name
            out.mkdir(parents=True, exist_ok=True)
            em.save(res, out / "label_fractions.json")
            em.plot_label_fractions(res, out / "label_fractions.png")
            print(f"wrote {out}/{{label_fractions.json, label_fractions.png}}")
            continue
        model, name = _keras_model(target)
        test = em.test_people(args.n, args.seed) if test is None else test
        res = em.evaluate_model(model, test)
        print(f"{name}: {args.n} synthetic test people")
        print(em.format_model_table(res, name))
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        em.example_sheet(out / "examples.png", model, test, res["_pred"])
        (out / "metrics.json").write_text(json.dumps(
            {k: v for k, v in res.items() if not k.startswith("_")}, indent=1, default=float))
        print(f"wrote {out}/{{metrics.json, examples.png}}")
    return 0


def _evaluate_vunet(args):
    import json
    from pathlib import Path

    from .evaluate.vunet import (TEST_SEED, evaluate_vunet, example_sheet, format_ablation,
                                 format_vunet_table, pose_space_ablation, test_pairs)

    seed = TEST_SEED if args.seed is None else args.seed
    models = {}
    for target in args.models:
        if _family(target) != "vunet":
            raise ValueError(f"{target} is not a VUNet; evaluate VUNets together, other "
                             "families separately")
        model, name = _keras_model(target)
        models[name] = model
    sizes = {m.image_size for m in models.values()}
    if len(sizes) > 1:
        raise ValueError(f"VUNets of different image sizes ({sorted(sizes)}) cannot share a test "
                         "set")
    n = min(args.n, 512)
    size = sizes.pop()
    data = test_pairs(n, seed, size)
    pose_model = None if args.no_pose_model or size != 64 else _keras_model(args.pose_model)[0]
    for name, model in models.items():
        res = evaluate_vunet(model, data, pose_model=pose_model)
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        example_sheet(out / "examples.png", data, res)
        (out / "metrics.json").write_text(json.dumps(
            {k: v for k, v in res.items() if not k.startswith("_")}, indent=1))
        print(f"{name} ({model.stickman} stickman): {n} test pairs, seed {seed}; appearances "
              "no training run saw")
        print(format_vunet_table(res, name))
        if res["below_trivial"]:
            print(f"✗ below the answer that needs no model: {', '.join(res['below_trivial'])}")
        print(f"wrote {out}/{{metrics.json, examples.png}}")
    if args.occlusion_order:
        rows = pose_space_ablation(models, n=n, n_pairs=args.pairs, seed=seed)
        print(f"\npose-space ablation: occlusion-order accuracy on {args.pairs} counterfactual "
              "pairs (same 2-D pose, one crossing limb's order flipped; 0.5 = cannot tell)")
        print(format_ablation(rows))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "pose_space_ablation.json").write_text(json.dumps(rows, indent=1))
    return 0


def _evaluate_sequences(args):
    import json
    from pathlib import Path

    from .evaluate.pose_sequence_aegan import (ablations, evaluate_clips, format_ablations,
                                               format_aims,
                                     format_clip_table, load_clip)

    if not args.bvh:
        raise ValueError("pose-sequence AE-GAN models are evaluated on real motion: pass "
                         "--bvh FILE … (e.g. the CMU clips, BVH at 120 fps)")
    missing = [f for f in args.bvh if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"BVH file(s) not found: {', '.join(missing)}")
    for target in args.models:
        if _family(target) != "pose_sequence_aegan":
            raise ValueError(f"{target} is not a pose-sequence AE-GAN; --bvh evaluates those")
        model, name = _keras_model(target)
        rec = {}
        if not Path(target).exists():
            from . import zoo
            rec = zoo.info(target).get("inpainting", {})
        lr = args.learning_rate if args.learning_rate is not None else \
            rec.get("learning_rate", 1.0)
        prior = args.prior_weight if args.prior_weight is not None else \
            rec.get("prior_weight", 0.5)
        seen = args.seen or rec.get("seen", "closest")
        print(f"latent descent: Adam learning rate {lr:g}, prior weight {prior:g}; observed "
              f"frames take the {seen} candidate")
        ridge = None
        if args.ridge_pool:
            import numpy as np

            from .evaluate.pose_sequence_aegan import ridge_baseline
            ridge = ridge_baseline(np.load(args.ridge_pool, mmap_mode="r"))
        results = evaluate_clips(model, args.bvh, cameras=args.cameras, shifts=args.shifts,
                                 steps=args.steps, lr=lr, weights=(10.0, 5.0, prior), seen=seen,
                                 ridge=ridge)
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(
            {"clips": [Path(f).name for f in args.bvh], "cameras": args.cameras,
             "steps": args.steps, "learning_rate": lr, "prior_weight": prior, "seen": seen,
             "ridge_pool": args.ridge_pool or "synthetic motion (200 sequences, seed 0)",
             "results": {str(k): v for k, v in results.items()}},
            indent=1))
        print(f"{name}: {len(args.bvh)} clip(s) × {args.cameras} cameras, 12 AlphaPose joints "
              f"with outlier bursts, swaps and gaps → 28 joints")
        print(format_clip_table(results))
        print()
        print(format_aims(results, method=f"AE-GAN s{8 if 8 in args.shifts else args.shifts[0]}"))
        if args.ablations:
            abl = ablations(model, {Path(f).name: load_clip(f) for f in args.bvh},
                            cameras=1, steps=args.steps)
            print("\ninpainting ablations (gaps of 0.5 s, shift 24, 1 camera per clip; loss "
                  "= 10·MPJPE + 5·MPJSE over the observed joints, normalised units):")
            print(format_ablations(abl))
            (out / "ablations.json").write_text(json.dumps(abl, indent=1))
        print(f"wrote {out / 'metrics.json'}")
    return 0


def _inpaint_args(p):
    p.add_argument("input", help="AlphaPose/COCO results JSON, a folder of OpenPose JSON, or npz")
    p.add_argument("--out", required=True, help="output file (folder for OpenPose)")
    p.add_argument("--format", choices=("alphapose", "openpose", "coco", "npz"),
                   help="input (and output) format; default from the path")
    p.add_argument("--track", type=int, help="person id to follow (AlphaPose idx, OpenPose "
                                             "person_id, or for untracked OpenPose the linked "
                                             "track in order of appearance); default: the "
                                             "longest track")
    p.add_argument("--shift", type=int, default=8, help="window shift in frames (1 = best, "
                                                        "slowest; 24 = chunks)")
    p.add_argument("--mode", choices=("fill", "refine"), default="fill",
                   help="fill: keep observed joints; refine: replace them too (thesis)")
    p.add_argument("--steps", type=int, default=200, help="latent descent steps")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="joints with a confidence at or below this are missing")
    p.add_argument("--model", default="pose_sequence_aegan_synthetic",
                   help="zoo name or training run folder of a pose-sequence AE-GAN")
    p.add_argument("--skeleton", help="the input's joint set by name when its keypoint count "
                                      "is ambiguous (e.g. BODY_25B, openpose25b); default by "
                                      "count")
    p.add_argument("--coordinates", choices=("image", "y_up"), default="image",
                   help="image: x right, y down, as detectors write (default); y_up: "
                        "projections of motion capture with y pointing up")
    _descent_args(p)


def _descent_args(p):
    p.add_argument("--learning-rate", type=float, default=None,
                   help="Adam rate of the latent descent (default: the zoo entry's recommended "
                        "setting, else the thesis's 1.0)")
    p.add_argument("--prior-weight", type=float, default=None,
                   help="weight of the critic's prior term γd (default: the zoo entry's "
                        "recommended setting, else the thesis's 0.5)")
    p.add_argument("--seen", choices=("closest", "mean"), default=None,
                   help="what a frame with observed joints gets: the window candidate closest "
                        "to them (the thesis) or the mean of the covering windows' candidates "
                        "(default: the zoo entry's setting, else the thesis's)")


@command("inpaint", "complete, clean and upsample 2-D pose sequences from a detector "
                    "(AlphaPose, OpenPose, COCO, npz) to 28 joints with the pose-sequence AE-GAN")
def _inpaint(args):
    from .inpaint_files import inpaint_detections

    inpaint_detections(args.input, args.out, args.format, args.track, args.shift, args.mode,
                       args.steps, args.model, args.threshold, args.learning_rate,
                       args.prior_weight, args.seen, args.coordinates, args.skeleton)
    return 0


_inpaint.configure = _inpaint_args


def _pose_args(p):
    p.add_argument("photos", nargs="+", help="photo files or folders of photos")
    p.add_argument("--model", required=True, help="a pose-capable zoo entry (dgpose zoo list)")
    p.add_argument("--out", required=True, help="JSON to write (COCO-results style; dgpose "
                                                "inpaint and dgpose transfer read it)")
    p.add_argument("--boxes", help="JSON {photo name: [x, y, w, h]} picking each person "
                                   "(default: the whole photo)")
    p.add_argument("--skeleton", help="joint set to write (default: the entry's; e.g. coco17)")
    p.add_argument("--draw", help="folder for overlay PNGs (limbs coloured left/right, unsure "
                                  "joints hollow)")
    p.add_argument("--min-confidence", type=float, default=0.3,
                   help="joints below this confidence are drawn hollow")


@command("pose", "estimate 2-D pose in photos with a zoo entry; writes JSON (+ overlays)")
def _pose(args):
    from .pose_files import pose_files

    pose_files(args.photos, args.model, args.out, args.boxes, args.skeleton, args.draw,
               args.min_confidence)
    return 0


_pose.configure = _pose_args


def _zoo_args(p):
    sub = p.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list the entries (with whether their files are here)")
    ls.add_argument("pattern", nargs="?", default="*")
    inf = sub.add_parser("info", help="an entry in brief: task, input, skeleton, figures beside "
                                      "their baselines, files, licence, how to train")
    inf.add_argument("name")
    inf.add_argument("--json", action="store_true", help="print the whole card as JSON")
    reg = sub.add_parser("register", help="register a training run as an entry in $DGPOSE_HOME")
    reg.add_argument("run", help="training run folder (config.json + weights)")
    reg.add_argument("--name", help="entry name (default: the run's config name)")
    reg.add_argument("--overwrite", action="store_true")
    cfg = sub.add_parser("serving-config", help="write the TF Serving models.config of a folder")
    cfg.add_argument("--base", default=None, help="model base folder (default: saved_models/)")


@command("zoo", "the model zoo: list, info, register a trained run, TF Serving config")
def _zoo(args):
    import json

    from . import zoo
    if args.zoo_command == "list":
        from .zoo_summary import status
        print(f"{'entry':36s} {'family':20s} status")
        for name in zoo.list_models(args.pattern):
            card = zoo.info(name)
            word, why = status(card)
            shown = word if word != "experimental" else f"experimental: {'; '.join(why)}"
            print(f"{name:36s} {card.get('family', ''):20s} {shown}")
    elif args.zoo_command == "info":
        if args.json:
            print(json.dumps(zoo.info(args.name), indent=1))
        else:
            from .zoo_summary import summary
            print(summary(zoo.info(args.name)))
    elif args.zoo_command == "register":
        card = zoo.register(args.run, args.name, args.overwrite)
        print(f"registered {card['name']} in {zoo.home() / card['name']}; "
              f"dgpose_tf.zoo.load({card['name']!r}) now finds it")
    else:
        from pathlib import Path

        from .serving import models_config
        base = Path(args.base) if args.base else zoo.BUNDLED_MODELS
        (base / "models.config").write_text(models_config(base))
        print(f"wrote {base / 'models.config'}")
    return 0


_zoo.configure = _zoo_args


def _export_args(p):
    p.add_argument("name", help="a zoo name or a training run folder")
    p.add_argument("--to", required=True, help="version folder to write, e.g. "
                                               "/srv/models/NAME/1")


@command("export", "export a model as a SavedModel with named signatures (TF Serving layout)")
def _export(args):
    from .serving import export

    model, _ = _keras_model(args.name)
    print(f"exported {export(model, args.to)}")
    return 0


_export.configure = _export_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dgpose", description="dgpose_tf: deep generative models for human-body analysis")
    parser.add_argument("--version", action="version", version=f"dgpose_tf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's start-up messages (oneDNN, CUDA probing, CPU "
                             "instruction hints), which a CPU machine prints as if they were "
                             "errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, func in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        getattr(func, "configure", lambda _: None)(p)
        p.set_defaults(func=func)
    return parser


#: commands that never load TensorFlow
_LIGHT = {"skeletons", "zoo"}


def _load_tensorflow_quietly():
    """Import TensorFlow and probe its devices with the process's stderr pointed at /dev/null:
    its C++ start-up lines (oneDNN, ``failed call to cuInit``, AVX hints) are written before its
    log level is read, so only the file descriptor can hold them back. Python errors raised
    afterwards print as usual."""
    sys.stderr.flush()
    fd = sys.stderr.fileno()
    saved, null = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(null)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    if args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # TensorFlow's C++ log: none
        if args.command not in _LIGHT and "tensorflow" not in sys.modules:
            try:
                _load_tensorflow_quietly()
            except (OSError, ValueError):                    # no real stderr (embedded use)
                pass
    from .fit.resume import ResumeError
    from .zoo import ZooError

    try:
        return int(args.func(args) or 0)
    except ArithmeticError as exc:          # a run stopped on a non-finite loss
        print(f"dgpose {args.command}: stopped: {exc}", file=sys.stderr)
        return 3
    except (ValueError, KeyError, TypeError, FileNotFoundError, FileExistsError, ZooError,
            OSError, ResumeError) as exc:
        print(f"dgpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
