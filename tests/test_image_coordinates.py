"""2-D joints from files and users are taken in image coordinates (x right, y down), as detectors
write them: a human-shaped y-down sequence through ``zoo.load(...).inpaint``, the SavedModel's
``inpaint`` signature and ``dgpose inpaint`` comes back as an upright body, and the y-up
convention of motion-capture projections is offered by name."""

import json

import numpy as np
import pytest

from dgpose_tf.evaluate import pose_sequence_aegan as es
from dgpose_tf import zoo
from dgpose_tf.pose import convert, get_skeleton

ENTRY = "pose_sequence_aegan_synthetic"
SK = get_skeleton("mpi_inf_3dhp28")
KEEP12 = es.KEEP12


@pytest.fixture(scope="module")
def walk_px():
    """A projected synthetic clip (a seed no config trains on) as a detector at 640×480 would
    write it: pixels, x right, y down. Returns (truth (T, 28, 2), truth y up in the camera's
    frame (T, 28, 2), (pixel scale, pixel offset))."""
    clip = next(iter(es.synthetic_test_motion(1, seed=4242).values()))[:72]
    up = es.clip_views(clip, 1, seed=7, coordinates="y_up")[0]
    scale, offset = 180.0, np.array([320.0, 240.0])
    return es.to_image(up) * scale + offset, up, (scale, offset)


@pytest.fixture(scope="module")
def model():
    return zoo.load(ENTRY)


def _pckh16(pred, truth):
    """PCKh@0.5 of the 16 joints no detector gives (the upsampled ones)."""
    h = es.head_size(truth)[:, None]
    d = np.linalg.norm(pred - truth, axis=-1) / h
    return float((d[:, ~KEEP12] <= 0.5).mean())


def _upright(joints):
    """Fraction of frames whose head top is above the neck and ankles below the knees (y down)."""
    y = lambda name: joints[:, SK.index(name), 1]
    ok = (y("head_top") < y("neck")) & (y("left_ankle") > y("left_knee")) & \
        (y("right_ankle") > y("right_knee"))
    return float(ok.mean())


def test_zoo_inpaint_takes_detector_coordinates(model, walk_px):
    truth, _, _ = walk_px
    assert _upright(truth) > 0.9
    joints12, _ = convert(truth, "mpi_inf_3dhp28", "alphapose12")
    out = model.inpaint(joints12, skeleton="alphapose12", shift=8, steps=60, mode="fill")
    assert _upright(out["joints"]) >= _upright(truth) - 0.05     # y up read as y down: 0.08
    assert _pckh16(out["joints"], truth) > 0.6           # y up read as y down: ≈ 0.1


def test_y_up_is_offered_by_name(model, walk_px):
    """The same motion given with y up (coordinates="y_up") is the mirror image of the
    image-coordinate answer."""
    truth, up, _ = walk_px
    j_img, _ = convert(truth, "mpi_inf_3dhp28", "alphapose12")
    j_up, _ = convert(up, "mpi_inf_3dhp28", "alphapose12")
    run = lambda j, c: model.inpaint(j, skeleton="alphapose12", shift=24, steps=20,
                                     mode="refine", coordinates=c)["joints"]
    a, b = run(j_img, "image"), run(j_up, "y_up")
    scale, offset = walk_px[2]
    np.testing.assert_allclose((es.to_image(b) * scale + offset), a, atol=0.5)   # pixels
    with pytest.raises(ValueError, match="coordinates"):
        run(j_img, "y_down")


def test_savedmodel_inpaint_signature_takes_image_coordinates(model, walk_px):
    truth, _, _ = walk_px
    assert model.card["input"]["coordinates"] == "image"
    observed = np.tile(KEEP12.astype("float32"), (len(truth), 1))
    x = np.where(observed[..., None] > 0, truth, 0).astype("float32")
    fn = model.signatures["inpaint"]
    args = dict(joints=x, observed=observed, shift=np.int32(8), steps=np.int32(60),
                fill=np.bool_(True), learning_rate=np.float32(1.0),
                prior_weight=np.float32(0.5), average_seen=np.bool_(False),
                bridge=np.bool_(False))
    out = fn(**{k: np.asarray(v) for k, v in args.items()})["joints"].numpy()
    assert _upright(out) >= _upright(truth) - 0.05
    assert _pckh16(out, truth) > 0.6


def test_dgpose_inpaint_reads_an_alphapose_file_as_written(tmp_path, walk_px):
    """A projected walk written as an AlphaPose (COCO-17) results file, pixels, y down."""
    from dgpose_tf.cli import main
    from dgpose_tf.data.detections import read_detections

    truth, _, _ = walk_px
    j17, _ = convert(truth, "mpi_inf_3dhp28", "coco17")      # face points: NaN (not in 28)
    score = np.isfinite(j17[..., :1]) * 0.9
    kp = np.concatenate([np.nan_to_num(j17), score], -1)
    kp[30:36] = 0                                            # a 0.25 s gap
    src = tmp_path / "alphapose-results.json"
    src.write_text(json.dumps([{"image_id": f"{f}.jpg", "category_id": 1, "idx": 1,
                                "score": 2.0, "keypoints": kp[f].ravel().tolist()}
                               for f in range(len(kp))]))
    out = tmp_path / "filled.json"
    assert main(["inpaint", str(src), "--out", str(out), "--model", ENTRY, "--steps", "60"]) == 0
    back = read_detections(out).joints[..., :2]
    assert back.shape == truth.shape
    assert _upright(back) >= _upright(truth) - 0.05
    assert _pckh16(back, truth) > 0.6
    report = json.loads((tmp_path / "filled.json.report.json").read_text())
    assert report["coordinates"] == "image"
