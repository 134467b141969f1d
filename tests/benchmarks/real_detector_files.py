"""``dgpose inpaint`` on real detector files, end to end, and what it did to them.

    python tests/benchmarks/real_detector_files.py --pose2sim DIR [--alphapose FILE]
        [--model NAME] [--out DIR]

* ``--pose2sim``: Pose2Sim's demo session (``Pose2Sim/S00_Demo_Session`` of perfanalytics/pose2sim,
  fetched outside the repository): OpenPose BODY_25B ``*_json`` folders, 4 cameras × 100 frames,
  one person (``S00_P00_T01_BalancingTrial``) and two people (``S00_P01_T02_Participants1-2``,
  untracked: every track seen in at least 90 % of the frames is inpainted);
* ``--alphapose``: an AlphaPose Halpe-26 ``alphapose-results.json`` from a real video.

Per run it prints frames, joints observed / filled, frames with no detection, and the jitter (mean
acceleration, px/frame²) of the observed joints before and after, in ``fill`` (the observed joints
kept) and ``refine`` (replaced by the model's, the thesis's mode), and of all 28 output joints.
Outputs (same format + sheet + report) go to ``--out``. Nothing here is a test: the data are not
in the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

TRIALS = {"one person": "S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial/pose",
          "two people": "S00_P01_MultiParticipants/S00_P01_T02_Participants1-2/pose"}


def _row(name, report):
    return (f"{name:38s} {report['frames']:6d} {report['observed_joint_frames']:8d} "
            f"{report['filled_joint_frames']:7d} {report['frames_without_any_detection']:6d} "
            f"{report['jitter_before']:9.2f} {report['jitter_after']:9.2f} "
            f"{report['jitter_after_all_28']:9.2f}")


def main(argv=None):
    from dgpose_tf.data.detections import read_detections
    from dgpose_tf.inpaint_files import inpaint_detections

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pose2sim", type=Path, help="the S00_Demo_Session folder")
    p.add_argument("--alphapose", type=Path, help="an AlphaPose results JSON")
    p.add_argument("--model", default="pose_sequence_aegan_synthetic")
    p.add_argument("--out", type=Path, default=Path("out/real_detector_files"))
    p.add_argument("--modes", nargs="+", default=["fill", "refine"])
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    jobs = []                                   # (label, source, track, skeleton)
    if a.pose2sim:
        for trial, sub in TRIALS.items():
            for cam in sorted((a.pose2sim / sub).glob("cam*_json")):
                frames = len(list(cam.glob("*.json")))
                tracks = [None]
                if trial == "two people":
                    tracks = []
                    for t in range(10):
                        try:
                            tr = read_detections(cam, "openpose", t, "BODY_25B")
                        except ValueError:
                            break
                        if (tr.joints[..., 2] > 0).any(-1).sum() >= 0.9 * frames:
                            tracks.append(t)
                for t in tracks:
                    label = f"{trial} {cam.name}" + (f" track {t}" if t is not None else "")
                    jobs.append((label, cam, t, "BODY_25B"))
    if a.alphapose:
        jobs.append((f"AlphaPose {a.alphapose.name}", a.alphapose, None, None))
    if not jobs:
        p.error("give --pose2sim and/or --alphapose")
    print(f"model {a.model}; jitter in px/frame² (observed joints before → after; all 28 after)")
    print(f"{'input':38s} {'frames':>6s} {'observed':>8s} {'filled':>7s} {'empty':>6s} "
          f"{'jit. in':>9s} {'jit. out':>9s} {'jit. 28':>9s}")
    reports = {}
    for mode in a.modes:
        print(f"-- {mode}")
        for label, source, track, skeleton in jobs:
            out = a.out / f"{mode}_{label.replace(' ', '_')}"
            out = out.with_suffix(".json") if source.is_file() else out
            if out.exists():
                import shutil
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            with contextlib.redirect_stdout(io.StringIO()):        # its own summary line
                report = inpaint_detections(source, out, track=track, mode=mode,
                                            model=a.model, skeleton=skeleton)
            reports[f"{mode} {label}"] = report
            print(_row(label, report), flush=True)
    (a.out / "summary.json").write_text(json.dumps(reports, indent=1))
    return reports


if __name__ == "__main__":
    main()
