"""Real photos in: reading and letterboxing photos, the LSPET split and augmentation, the photo
API (``pose_photos``), ``dgpose pose``, the real-photo protocol and the shared table row. Photos
and ``joints.mat`` are tiny files the tests write in the real formats."""

import json

import cv2
import numpy as np
import pytest

from dgpose_tf.data.photos import (LSPET_SPLITS, PhotoError, augment, letterbox, load_lspet,
                                   read_photo)
from dgpose_tf.evaluate import photos as protocol
from dgpose_tf.evaluate.table import Row, format_rows, losses


# ---- reading and letterboxing ----------------------------------------------------------------
def test_read_photo_converts_grey_rgba_float_and_names_bad_input(tmp_path):
    grey = np.full((5, 7), 200, np.uint8)
    assert read_photo(grey).shape == (5, 7, 3) and (read_photo(grey) == 200).all()
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255                   # opaque red
    rgba[0, 0, 3] = 0                                       # one transparent pixel → padding grey
    out = read_photo(rgba)
    assert tuple(out[1, 1]) == (255, 0, 0) and tuple(out[0, 0]) == (128, 128, 128)
    assert read_photo(np.full((3, 3, 3), 0.5)).max() == 128     # floats in [0, 1]
    path = tmp_path / "p.png"
    bgr = np.zeros((6, 9, 3), np.uint8)
    bgr[..., 2] = 255                                       # red in OpenCV's BGR
    cv2.imwrite(str(path), bgr)
    assert tuple(read_photo(path)[0, 0]) == (255, 0, 0)     # RGB out
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    for bad, words in ((tmp_path / "missing.jpg", "not found"),
                       (tmp_path / "bad.jpg", "not an image"),
                       (np.zeros((0, 5, 3), np.uint8), "empty"), (np.zeros((4, 4, 2)), "expected"),
                       (np.full((3, 3, 3), np.nan), "NaN"), (np.full((3, 3, 3), 300.0), "values")):
        with pytest.raises(PhotoError, match=words):
            read_photo(bad)


@pytest.mark.parametrize("shape,box", [((37, 211, 3), None), ((300, 90, 3), None),
                                       ((120, 160, 3), (30, 10, 50, 90))])
def test_letterbox_maps_a_pixel_to_where_it_lands(shape, box):
    photo = np.full(shape, 128, np.uint8)                   # the padding's grey
    x0, y0 = (0, 0) if box is None else box[:2]
    w, h = (shape[1], shape[0]) if box is None else box[2:]
    px, py = int(x0 + 0.6 * w), int(y0 + 0.3 * h)
    photo[max(py - 1, 0):py + 2, max(px - 1, 0):px + 2] = 255    # a 3×3 dot
    sq, lb = letterbox(photo, 64, box)
    assert sq.shape == (64, 64, 3)
    expected = lb.to_square([px, py])
    m = np.clip(sq[..., 0].astype(float) - 128, 0, None)
    ys, xs = np.mgrid[:64, :64]
    found = np.array([(xs * m).sum() / m.sum(), (ys * m).sum() / m.sum()])
    assert np.abs(found - expected).max() < 0.5
    np.testing.assert_allclose(lb.to_photo(lb.to_square([[px, py]])), [[px, py]], atol=1e-9)


def test_letterbox_names_a_box_outside_the_photo():
    photo = np.zeros((50, 40, 3), np.uint8)
    with pytest.raises(PhotoError, match="outside"):
        letterbox(photo, 32, (100, 0, 10, 10))
    with pytest.raises(PhotoError, match="positive"):
        letterbox(photo, 32, (0, 0, 0, 10))
    with pytest.raises(PhotoError, match="NaN"):
        letterbox(photo, 32, (0, np.nan, 10, 10))


def test_augment_moves_joints_with_the_image_and_swaps_sides_on_a_flip():
    from dgpose_tf.pose.skeletons import get_skeleton
    flip = get_skeleton("mpii16").flip_indices.tolist()
    img = np.zeros((80, 80, 3), np.uint8)
    joints = np.full((16, 2), 40.0)
    joints[3] = (20, 50)                                    # left hip: a marked dot
    img[49:52, 19:22] = 255
    vis = np.zeros(16, np.float32)
    vis[3] = 1
    seen_flip = False
    for seed in range(8):
        import tensorflow as tf
        tf.random.set_seed(seed)
        out, j, v = augment(img, joints, vis, 64, flip, colour=0.0)
        out, j, v = out.numpy(), j.numpy(), v.numpy()
        k = int(np.argmax(v)) if v.any() else None
        if k is None:
            continue                                        # the dot left the output
        seen_flip |= k == 2                                 # right hip: the image was mirrored
        m = np.clip((out[..., 0] + 1) / 2, 0, 1)
        m = np.where(m > 0.75, m, 0)                       # the dot, not the grey padding
        ys, xs = np.mgrid[:64, :64]
        found = np.array([(xs * m).sum() / m.sum(), (ys * m).sum() / m.sum()])
        assert np.abs(found - j[k]).max() < 1.5
    assert seen_flip


# ---- LSPET files ----------------------------------------------------------------------------
def write_lspet(root, n=9000, photos=(1, 2, 3, 8501, 8502), seed=0):
    """A joints.mat of LSP-extended's layout (14 × 3 × n, visible flags, 1-based) and a few
    photos of different sizes with a bright dot at each joint."""
    from scipy.io import savemat
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    joints = np.zeros((14, 3, n))
    for i in photos:
        h, w = int(rng.integers(60, 120)), int(rng.integers(40, 160))
        xy = np.stack([rng.uniform(5, w - 5, 14), rng.uniform(5, h - 5, 14)], 1)
        joints[:, :2, i - 1] = xy + 1.0
        joints[:, 2, i - 1] = 1
        img = np.full((h, w, 3), 60, np.uint8)
        cv2.imwrite(str(root / "images" / f"im{i:05d}.jpg"), img)
    savemat(str(root / "joints.mat"), {"joints": joints})
    return root


def test_load_lspet_keeps_the_fixed_split_and_maps_joints_into_the_square(tmp_path):
    root = write_lspet(tmp_path / "lspet")
    assert LSPET_SPLITS == {"train": (1, 8500), "validation": (8501, 9000), "test": (9001, 10000)}
    d = load_lspet(root, "validation", 48, progress=False, limit=2)
    assert list(d["index"]) == [8501, 8502] and d["image"].shape == (2, 48, 48, 3)
    inside = (d["joints"] >= -0.5) & (d["joints"] <= 47.5)
    assert inside.all()
    with pytest.raises(ValueError, match="split"):
        load_lspet(root, "training", 48)


# ---- the protocol and the table row -----------------------------------------------------------
def _fake_split(n=40, seed=1):
    rng = np.random.default_rng(seed)
    base = np.array([[40, 190], [45, 150], [50, 110], [70, 110], [75, 150], [80, 190],
                     [20, 120], [25, 90], [45, 60], [75, 60], [95, 90], [100, 120],
                     [60, 55], [60, 20]], float)
    joints = base[None] * rng.uniform(0.8, 1.2, (n, 1, 1)) + rng.uniform(0, 50, (n, 1, 2))
    joints += rng.normal(0, 6, joints.shape)
    return {"photos": [f"im{i:05d}.jpg" for i in range(n)], "joints": joints,
            "visible": rng.uniform(size=(n, 14)) > 0.1}


def test_protocol_scores_truth_one_floor_low_and_misses_wrong():
    train, test = _fake_split(200, 1), _fake_split(60, 2)
    truth = protocol.score(test["joints"], test)
    assert truth["pck_torso_12"] == 1.0 and truth["auc_torso_12"] > 0.95
    floor = protocol.score(protocol.mean_pose_floor(train, test), test)
    assert 0.0 < floor["pck_torso_12"] < 0.9
    missed = test["joints"].copy()
    missed[:30] = np.nan                                    # half the photos: no detection
    half = protocol.score(missed, test)
    assert half["pck_torso_12"] < 0.6
    table = protocol.format_photo_table(half, floor, {"blazepose_heavy": truth})
    assert "✗a" in table and "mean-pose floor" in table and "right_ankle" in table
    met = {a["what"]: a["met"] for a in protocol.aims(half, {"blazepose_heavy": truth})}
    assert met["≥ BlazePose heavy"] is False
    with pytest.raises(ValueError, match="shape"):
        protocol.score(test["joints"][:, :12], test)


def test_table_row_marks_losses_to_the_trivial_answer_and_to_the_anchor():
    rows = [Row("pck", 0.5, 0.1, 0.6), Row("pck2", 0.05, 0.1, 0.6), Row("error", 0.2, 0.3, 0.25,
                                                                      higher=False),
            Row("ssim", 0.7, 0.6, None, reference=0.9, reference_name="input blurred")]
    assert [r.mark for r in rows] == ["✗a", "✗", "", ""]
    assert losses(rows) == (["pck2"], ["pck"])
    text = format_rows(rows, "t")
    assert "input blurred (reference)" in text and "error ↓" in text and "✗a below" in text


# ---- the photo API on a model ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_pose_model():
    from dgpose_tf.models.mirrornet import MirrorNet
    from dgpose_tf.photo_api import KerasPoseModel
    m = MirrorNet("cpu64", image_size=32, heatmap_size=8, reduced_size=16, width=4, a_dim=4,
                  s_dim=4, z_dim=4)
    return KerasPoseModel(m, "tiny")


def test_pose_photos_maps_joints_back_to_each_photo_of_any_shape(tiny_pose_model, tmp_path):
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 255, (37, 211), np.uint8),
              rng.integers(0, 255, (300, 90, 4), np.uint8),
              rng.integers(0, 255, (50, 50, 3), np.uint8)]
    cv2.imwrite(str(tmp_path / "a.jpg"), rng.integers(0, 255, (64, 48, 3), np.uint8))
    out = tiny_pose_model.pose_photos(photos + [tmp_path / "a.jpg"])
    j, c = out["joints"], out["confidence"]
    assert j.shape == (4, 16, 2) and c.shape == (4, 16) and out["skeleton"] == "mpii16"
    assert ((c >= 0) & (c <= 1)).all()
    for k, (w, h) in enumerate(out["sizes"]):              # inside the letterbox's square
        side = max(w, h)
        for axis, extent in ((0, w), (1, h)):
            cell = side / 32                                # one pixel of the 32² input
            lo, hi = (extent - side) / 2 - cell, (extent + side) / 2
            assert (j[k, :, axis] > lo).all() and (j[k, :, axis] < hi).all()
    # a box picks the person: the same crop elsewhere in a larger photo moves the joints with it
    big = np.zeros((120, 150, 3), np.uint8)
    big[30:80, 40:90] = photos[2]
    boxed = tiny_pose_model.pose_photos([big], boxes=[(40, 30, 50, 50)])["joints"][0]
    np.testing.assert_allclose(boxed, out["joints"][2] + [40, 30], atol=1e-3)
    coco = tiny_pose_model.pose_photos(photos[:1], skeleton="coco17")
    assert coco["skeleton"] == "coco17" and coco["joints"].shape == (1, 17, 2)
    for bad, words in (([], "no photos"), (np.zeros((0, 3)), "empty")):
        with pytest.raises(PhotoError, match=words):
            tiny_pose_model.pose_photos(bad)
    with pytest.raises(PhotoError, match="outside"):
        tiny_pose_model.pose_photos(photos[:1], boxes=[(500, 0, 5, 5)])
    with pytest.raises(PhotoError, match="boxes must be"):
        tiny_pose_model.pose_photos(photos[:2], boxes=[(0, 0, 5, 5)])


def test_dgpose_pose_writes_json_that_dgpose_inpaint_reads(tmp_path, capsys):
    from dgpose_tf.cli import main
    from dgpose_tf.data.detections import read_detections
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i, shape in enumerate([(90, 70, 3), (41, 233, 3), (128, 128, 3)]):
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), rng.integers(0, 255, shape, np.uint8))
    out = tmp_path / "poses.json"
    assert main(["pose", str(folder), "--model", "mirrornet_synthetic", "--out", str(out),
                 "--draw", str(tmp_path / "draw"), "--skeleton", "coco17"]) == 0
    recs = json.loads(out.read_text())
    assert len(recs) == 3 and recs[0]["skeleton"] == "coco17" and len(recs[0]["keypoints"]) == 51
    assert sorted(p.name for p in (tmp_path / "draw").iterdir()) == [
        "frame_000_pose.png", "frame_001_pose.png", "frame_002_pose.png"]
    track = read_detections(out)
    assert track.skeleton == "coco17" and track.joints.shape == (3, 17, 3)   # x, y, score
    assert main(["pose", str(tmp_path / "none"), "--model", "mirrornet_synthetic", "--out",
                 str(out)]) == 2
    assert "not found" in capsys.readouterr().err


def test_softmax_recognizer_log_likelihood_is_the_cross_entropy():
    import tensorflow as tf
    from dgpose_tf.models.mirrornet import MirrorNet
    m = MirrorNet("cpu64", image_size=32, heatmap_size=8, reduced_size=16, width=4, a_dim=4,
                  s_dim=4, z_dim=4, recognizer_likelihood="softmax")
    x = tf.random.uniform([2, 32, 32, 3], -1, 1)
    joints = tf.random.uniform([2, 16, 2], 2, 29)
    vis = tf.concat([tf.ones([2, 15]), tf.zeros([2, 1])], 1)
    mean, raw = m.recognize(x)
    y = m.heatmaps(joints, vis)
    got = m._log_q_y(mean, raw, y, vis).numpy()
    logits = tf.reshape(tf.transpose(raw, [0, 3, 1, 2]), [2, 16, -1]).numpy()
    t = tf.reshape(tf.transpose(y, [0, 3, 1, 2]), [2, 16, -1]).numpy()
    t = t / np.maximum(t.sum(-1, keepdims=True), 1e-6)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = (t * logp).sum(-1)[:, :15].sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    _, conf, _ = m.estimate_pose(x.numpy())
    assert ((conf.numpy() >= 0) & (conf.numpy() <= 1.0001)).all()


# ---- training on photos, end to end ----------------------------------------------------------
def test_fit_on_lspet_files_resumes_and_dgpose_evaluate_prints_the_protocol(tmp_path, capsys):
    """A tiny LSPET (the real files' layout) → ``dgpose train`` of the photo recognizer (killed
    and resumed) → ``dgpose evaluate RUN --data-dir`` prints the table beside the floor."""
    from dgpose_tf.cli import main
    root = write_lspet(tmp_path / "lspet", photos=(1, 2, 3, *range(8501, 9001)))
    cfg = json.loads(open("training/configs/mirrornet_lspet.json").read())
    cfg["model"] = {"config": "cpu128_vgg16", "image_size": 32, "heatmap_size": 8,
                    "recognizer_init": None}
    cfg["data"].update(store_size=40, limit=3)
    cfg["train"].update(steps=2, batch_size=2, warmup=1, checkpoint_every=1, validate_every=2,
                        precision="float32", init_backbone=None)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    run = tmp_path / "run"
    assert main(["train", str(path), "--data-dir", str(root), "--output", str(run)]) == 0
    history = json.loads((run / "validation.json").read_text())
    assert [h["step"] for h in history] == [2] and 0 <= history[0]["pck12"] <= 1
    assert (run / "best.weights.h5").exists() and (run / "mirrornet.weights.h5").exists()
    assert json.loads((run / "config.json").read_text())["model"]["recognizer_init"] is None
    assert main(["train", str(path), "--data-dir", str(root), "--output", str(run),
                 "--steps", "3"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--data-dir", str(root), "--split", "validation"]) == 0
    out = capsys.readouterr().out
    assert "mean-pose floor" in out and "pck_torso_12" in out and "left_wrist" in out


def test_flip_test_makes_the_estimate_mirror_equivariant():
    """With ``flip_test`` the answer for a mirrored photo is the mirrored answer, left and right
    swapped — exactly, whatever the weights (without it, an untrained net is far from it)."""
    from dgpose_tf.models.mirrornet import SKELETON, MirrorNet
    kw = dict(image_size=32, heatmap_size=8, reduced_size=16, width=4, a_dim=4, s_dim=4,
              z_dim=4, recognizer_likelihood="softmax")
    x = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    for flip_test in (True, False):
        m = MirrorNet("cpu64", flip_test=flip_test, **kw)
        j = m.estimate_pose(x)[0].numpy()
        jm = m.estimate_pose(x[:, :, ::-1].copy())[0].numpy()[:, SKELETON.flip_indices]
        jm[..., 0] = 31.0 - jm[..., 0]
        err = np.abs(j - jm).max()
        assert (err < 1e-3) if flip_test else (err > 0.5)


def test_float16_storage_halves_the_weights_and_reloads_in_shards(tmp_path):
    """``export(storage="float16")``: every float32 weight stored once as float16 bits (int16,
    which TF restores from sharded checkpoints, where float16 is refused); the SavedModel and
    the Keras model rebuilt from it agree exactly and differ from float32 only by rounding."""
    import os
    import tensorflow as tf
    from dgpose_tf.models.mirrornet import MirrorNet
    from dgpose_tf.serving import export
    from dgpose_tf.zoo import assign_saved_model_variables
    kw = dict(image_size=32, heatmap_size=8, reduced_size=16, width=4, a_dim=4, s_dim=4, z_dim=4)
    m = MirrorNet("cpu64", **kw)
    size = lambda d: sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d)
                         for f in fs if "variables.data" in f)
    export(m, tmp_path / "32", track=False, max_shard_bytes=20_000)
    export(m, tmp_path / "16", track=False, max_shard_bytes=20_000, storage="float16")
    assert len(list((tmp_path / "16" / "variables").glob("variables.data-*"))) > 1   # sharded
    assert size(tmp_path / "16") < 0.6 * size(tmp_path / "32")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    got = tf.saved_model.load(str(tmp_path / "16")).signatures["estimate_pose"](
        images=tf.constant(x))["heatmaps"].numpy()
    m2 = assign_saved_model_variables(MirrorNet("cpu64", **kw), tmp_path / "16")
    np.testing.assert_array_equal(got, m2.estimate_pose(x)[2].numpy())
    assert 0 < np.abs(got - m.estimate_pose(x)[2].numpy()).max() < 1e-2
