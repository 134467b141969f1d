"""``dgpose inpaint``: detector output in, the 28 inpainted joints out (same format), with a
before/after PNG sheet and a short report.

Reads AlphaPose / COCO results JSON, OpenPose folders or npz (:mod:`dgpose_tf.data.detections`),
follows one person (``--track``), completes, cleans and upsamples the sequence with a
pose-sequence AE-GAN (:mod:`dgpose_tf.models.inpainting`) and writes:

Joints are taken as detectors write them, in image coordinates (x right, y down);
``coordinates="y_up"`` (``--coordinates y_up``) is for projections of motion capture with y up.

* OUTPUT in the input's format with the 28 MPI-INF-3DHP joints (names in the file; score 1 where
  the joint was observed, 0.5 where it was inpainted);
* ``OUTPUT.png``: frames of the sequence, the input's observed joints (left) and the 28 joints
  (right) drawn in the same frame;
* ``OUTPUT.report.json`` and the same lines on stdout: frames, joints observed and filled, and the
  jitter (mean acceleration magnitude of the observed joints, input units per frame²) before and
  after (equal in ``fill`` mode, which keeps them), and of all 28 output joints.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .pose import conversion, get_skeleton

__all__ = ["inpaint_detections", "jitter", "before_after_sheet"]


def jitter(joints, mask=None):
    """Mean ‖second difference‖ over frames of ``joints`` (T, J, 2) (joints observed at the three
    frames only, if ``mask`` (T, J) is given)."""
    a = np.linalg.norm(np.diff(np.asarray(joints, np.float64), 2, axis=0), axis=-1)
    if mask is not None:
        m = np.asarray(mask, bool)
        ok = m[2:] & m[1:-1] & m[:-2]
        a = a[ok]
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def before_after_sheet(path, before, before_skeleton, after, frames=8, size=192,
                       coordinates="image"):
    """PNG: ``frames`` evenly spaced frames; top row the input joints (observed only), bottom row
    the 28 output joints, both in one frame fitted to the output's extent, drawn upright
    (``coordinates``: ``"image"``, y down, or ``"y_up"``)."""
    import cv2

    from .pose.draw import draw_skeleton, image_grid

    if coordinates == "y_up":
        before, after = (np.concatenate([a[..., :1], -a[..., 1:2], a[..., 2:]], -1)
                         for a in (np.asarray(before, np.float64), np.asarray(after, np.float64)))
    t = len(after)
    picks = np.unique(np.linspace(0, t - 1, min(frames, t)).round().astype(int))
    pts = after.reshape(-1, 2)
    lo, hi = np.nanmin(pts, 0), np.nanmax(pts, 0)
    scale = (size - 20) / max(float((hi - lo).max()), 1e-9)
    to_px = lambda p: (p - lo) * scale + 10
    tiles = []
    for row, (joints, skeleton) in enumerate(((before, before_skeleton),
                                              (after, "mpi_inf_3dhp28"))):
        for f in picks:
            j = np.asarray(joints[f][..., :2], np.float64)
            vis = np.isfinite(j).all(-1)
            if joints.shape[-1] == 3:
                vis &= joints[f][..., 2] > 0
            tile = np.full((size, size, 3), 30, np.uint8)
            tile = draw_skeleton(tile, np.where(vis[:, None], to_px(j), 0), vis,
                                 skeleton=skeleton, thickness=2)
            cv2.putText(tile, f"{'in' if row == 0 else 'out'} {f}", (4, 14),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
    cv2.imwrite(str(path), cv2.cvtColor(image_grid(np.stack(tiles), len(picks)),
                                        cv2.COLOR_RGB2BGR))
    return path


def inpaint_detections(source, out, format=None, track=None, shift=8, mode="fill", steps=200,
                       model="pose_sequence_aegan_synthetic", threshold=0.05, learning_rate=None,
                       prior_weight=None, seen=None, coordinates="image", skeleton=None):
    """Run the whole ``dgpose inpaint`` job (module docstring); returns the report dict.
    ``skeleton``: the input's joint set by name (e.g. ``"BODY_25B"``), default by keypoint
    count.
    ``coordinates``: ``"image"`` (x right, y down, as detectors write; default) or ``"y_up"``.
    ``learning_rate`` / ``prior_weight`` of the latent descent and ``seen`` (the candidate rule
    of frames with observed joints): default the zoo entry's ``inpainting`` settings, or the
    thesis's (1.0, 0.5, "closest") for a training run."""
    from . import zoo
    from .data.detections import read_detections, write_detections
    from .models.inpainting import check_coordinates

    check_coordinates(coordinates)
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another output (nothing was written)")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder {out.parent} does not exist")
    tr = read_detections(source, format, track, skeleton)
    if Path(str(model)).exists():
        from .fit import load_run
        keras_model, _ = load_run(model)
        from .models.inpainting import inpaint
        options = {"lr": 1.0 if learning_rate is None else learning_rate,
                   "weights": (10.0, 5.0, 0.5 if prior_weight is None else prior_weight),
                   "seen": seen or "closest"}
        result = inpaint(keras_model, tr.joints, skeleton=tr.skeleton, shift=shift, steps=steps,
                         mode=mode, threshold=threshold, coordinates=coordinates, **options)
    else:
        result = zoo.load(model).inpaint(tr.joints, skeleton=tr.skeleton, shift=shift,
                                         steps=steps, mode=mode, threshold=threshold,
                                         learning_rate=learning_rate, prior_weight=prior_weight,
                                         seen=seen, coordinates=coordinates)
    joints, observed = result["joints"], result["observed"]
    write_detections(out, tr, joints, observed, format=format or
                     ("npz" if Path(source).suffix == ".npz" else
                      "openpose" if Path(source).is_dir() else "alphapose"))
    conv = conversion(tr.skeleton, "mpi_inf_3dhp28")
    seen_in = np.isfinite(tr.joints[..., :2]).all(-1) & (tr.joints[..., 2] > threshold)
    before28 = np.where(observed[..., None], conv(np.where(seen_in[..., None],
                                                           tr.joints[..., :2], np.nan))[0], np.nan)
    report = {
        "input": str(source), "output": str(out), "frames": int(len(joints)),
        "input_joints": f"{tr.skeleton} ({get_skeleton(tr.skeleton).num_joints})",
        "output_joints": list(get_skeleton("mpi_inf_3dhp28").joints),
        "track": tr.track, "coordinates": coordinates, "shift": int(shift), "mode": mode, "steps": int(steps),
        "observed_joint_frames": int(observed.sum()),
        "filled_joint_frames": int((~observed).sum()),
        "frames_without_any_detection": int((~seen_in.any(-1)).sum()),
        "jitter_before": jitter(before28, observed),
        "jitter_after": jitter(np.where(observed[..., None], joints, np.nan), observed),
        "jitter_after_all_28": jitter(joints),
    }
    sheet = out.with_name(out.name + ".png")
    before_after_sheet(sheet, np.concatenate([np.where(seen_in[..., None], tr.joints[..., :2],
                                                       np.nan)], -1), tr.skeleton, joints,
                       coordinates=coordinates)
    out.with_name(out.name + ".report.json").write_text(json.dumps(report, indent=1))
    if len(joints) >= 3:
        jit = (f"jitter of the observed joints {report['jitter_before']:.3g} → "
               f"{report['jitter_after']:.3g}, all 28 joints {report['jitter_after_all_28']:.3g} "
               "(input units/frame²)")
    else:
        jit = f"jitter: n/a ({len(joints)} frame{'s' * (len(joints) != 1)}; it needs 3)"
    print(f"{report['frames']} frames of {report['input_joints']} → 28 MPI-INF-3DHP joints "
          f"(shift {shift}, {mode}, {steps} steps): {report['filled_joint_frames']} joint-frames "
          f"filled, {report['observed_joint_frames']} observed; {jit}")
    print(f"wrote {out}, {sheet}, {out.name}.report.json")
    return report
