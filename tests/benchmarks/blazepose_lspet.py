"""BlazePose (MediaPipe) on LSPET's test split: the anchor every real-photo pose figure stands
beside, scored by the package's own protocol (:mod:`dgpose_tf.evaluate.photos`).

MediaPipe pins its own numpy / OpenCV, so it runs in a virtualenv of its own and is never a
dependency of the package::

    python3.11 -m venv ~/venv-mediapipe
    ~/venv-mediapipe/bin/pip install mediapipe==0.10.14 scipy
    npm pack @mediapipe/pose && tar xzf mediapipe-pose-*.tgz     # lite / full / heavy .tflite
    ~/venv-mediapipe/bin/python tests/benchmarks/blazepose_lspet.py --data-dir ~/data/lspet \\
        --npm-dir package --out runs/anchors/blazepose_lspet_test.json

The PyPI wheel bundles only the *full* landmark model; ``--npm-dir`` copies the lite and heavy
ones from the npm package ``@mediapipe/pose`` into the wheel's module folder (offline; nothing is
downloaded). Whole photos (RGB), ``static_image_mode``, one person, the 12 limb joints mapped
from the 33 landmarks by their person-centric names; neck = the shoulders' midpoint; BlazePose has
no head top (NaN: the 14-joint figure is not comparable and is left out). A missed detection is
every joint wrong. Timing: milliseconds a photo at batch 1, photo decoding excluded, printed with
this machine's matmul rate so other machines compare by ratio.

Writes ``--out`` (JSON: figures of each variant, the mean-pose floor, ms a photo) and beside it
``<out>.npz`` (the predictions).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))     # the package, without TF

from dgpose_tf.evaluate import photos as protocol                 # noqa: E402

VARIANTS = {"lite": 0, "full": 1, "heavy": 2}
# LSP-14 order: r_ankle r_knee r_hip l_hip l_knee l_ankle r_wrist r_elbow r_shoulder l_shoulder
# l_elbow l_wrist neck head_top; BlazePose landmark indices (person-centric left/right)
FROM_BLAZEPOSE = (28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15)


def matmul_gflops(n=1024, reps=10):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(reps):
        a @ a
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def install_npm_models(npm_dir):
    import mediapipe
    dest = Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
    for name in ("pose_landmark_lite.tflite", "pose_landmark_heavy.tflite"):
        if not (dest / name).exists():
            src = Path(npm_dir) / name
            if not src.exists():
                raise FileNotFoundError(f"{src} not found (npm pack @mediapipe/pose)")
            shutil.copy(src, dest / name)


def run_variant(photos, complexity):
    import cv2
    import mediapipe as mp
    preds = np.full((len(photos), 14, 2), np.nan)
    times = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=complexity,
                                enable_segmentation=False) as pose:
        for i, path in enumerate(photos):
            img = cv2.imread(str(path))[..., ::-1].copy()
            h, w = img.shape[:2]
            t = time.perf_counter()
            res = pose.process(img)
            times.append(time.perf_counter() - t)
            if (i + 1) % 100 == 0:
                print(f"  {i + 1}/{len(photos)}", flush=True)
            if res.pose_landmarks is None:
                continue
            lm = np.array([[p.x * w, p.y * h] for p in res.pose_landmarks.landmark])
            # MediaPipe's normalised coordinates have pixel edges at 0 and 1: centres at −½
            preds[i, :12] = lm[list(FROM_BLAZEPOSE)] - 0.5
            preds[i, 12] = 0.5 * (lm[11] + lm[12]) - 0.5
    return preds, 1000.0 * float(np.median(times))


def time_only(files):
    """``--time PHOTO…``: the median ms a photo of each variant, as one JSON line (read by
    ``dgpose bench pose-photos``)."""
    import cv2
    import mediapipe as mp
    imgs = [cv2.imread(str(f))[..., ::-1].copy() for f in files]
    out = {}
    for name, c in VARIANTS.items():
        with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=c) as pose:
            pose.process(imgs[0])
            times = []
            for img in imgs:
                t = time.perf_counter()
                pose.process(img)
                times.append(time.perf_counter() - t)
        out[name] = 1000.0 * float(np.median(times))
    print(json.dumps(out))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--time":
        return time_only(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="LSPET folder (joints.mat, images/)")
    p.add_argument("--npm-dir", help="unpacked @mediapipe/pose (lite / heavy .tflite)")
    p.add_argument("--split", default="test", choices=("validation", "test"))
    p.add_argument("--variants", default="lite,full,heavy")
    p.add_argument("--out", default="runs/anchors/blazepose_lspet_test.json")
    args = p.parse_args(argv)
    if args.npm_dir:
        install_npm_models(args.npm_dir)
    data = protocol.load_split(args.data_dir, args.split)
    train = protocol.load_split(args.data_dir, "train")
    floor = protocol.score(protocol.mean_pose_floor(train, data), data)
    gflops = matmul_gflops()
    out = {"split": args.split, "photos": len(data["photos"]), "matmul_gflops": gflops,
           "mean_pose_floor": floor, "anchors": {}}
    preds = {}
    for name in args.variants.split(","):
        print(f"BlazePose {name} on {len(data['photos'])} {args.split} photos", flush=True)
        pred, ms = run_variant(data["photos"], VARIANTS[name])
        fig = protocol.score(pred, data)
        fig["pck_torso_14"] = None                       # no head top: not comparable
        fig["per_joint"][13] = None
        fig["ms_per_photo"] = ms
        fig["photos_per_s"] = 1000.0 / ms
        fig["missed"] = int(np.isnan(pred[:, 0, 0]).sum())
        out["anchors"][f"blazepose_{name}"] = fig
        preds[name] = pred
        print(f"  PCK@0.2 torso (12 limb joints) {fig['pck_torso_12']:.3f}, box "
              f"{fig['pck_box_12']:.3f}, AUC {fig['auc_torso_12']:.3f}; {ms:.1f} ms a photo; "
              f"{fig['missed']} missed", flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    np.savez(path.with_suffix(".npz"), **preds)
    print(f"mean-pose floor: PCK@0.2 torso (12 limb joints) {floor['pck_torso_12']:.3f}; "
          f"matmul {gflops:.0f} GFLOP/s; wrote {path}")


if __name__ == "__main__":
    main()
