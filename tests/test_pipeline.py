import numpy as np
import pytest

from dgpose_tf.data import pipeline, shards
from dgpose_tf.data.synthetic import SyntheticPeople
from dgpose_tf.pose import conversion


@pytest.mark.parametrize("fraction", [1.0, 0.75, 0.5, 0.25, 0.0])
def test_labelled_fraction_is_exact_to_one_sample(fraction):
    for start, n in ((0, 1000), (137, 64), (5, 7)):
        m = pipeline.labelled_mask(np.arange(start, start + n), fraction)
        assert abs(m.sum() - fraction * n) <= 1.0 + 1e-9
    with pytest.raises(ValueError, match="fraction"):
        pipeline.labelled_mask([0], 1.5)


def test_synthetic_batches_match_the_renderer():
    ds = pipeline.synthetic_dataset(n=10, batch_size=4, size=64, seed=3, fraction=0.5)
    batches = list(ds.as_numpy_iterator())
    assert [len(b["image"]) for b in batches] == [4, 4, 2]
    b = batches[0]
    assert b["image"].dtype == np.float32 and b["image"].min() >= -1 and b["image"].max() <= 1
    assert b["heatmaps"].shape == (4, 64, 64, 24) and b["pose_vector"].shape == (4, 48)
    ref = SyntheticPeople(64, seed=3).batch(0, 4)
    np.testing.assert_allclose(b["image"], ref["image"] / 127.5 - 1.0, atol=1e-6)
    j14, v14 = conversion("synthetic33", "semi_dgpose14")(ref["joints2d"], ref["visible"])
    np.testing.assert_allclose(b["joints"], j14, atol=1e-5)
    np.testing.assert_array_equal(b["visible"], v14)
    np.testing.assert_array_equal(b["has_label"], pipeline.labelled_mask(np.arange(4), 0.5))
    np.testing.assert_array_equal(np.concatenate([x["index"] for x in batches]), np.arange(10))


def test_standard_normalisation_and_extras():
    b = next(pipeline.synthetic_dataset(n=2, batch_size=2, normalise="standard", heatmaps=False,
                                        extras=True).as_numpy_iterator())
    assert "heatmaps" not in b and b["limb_depth"].shape == (2, 8) and b["mask"].shape == (2, 64, 64)
    np.testing.assert_allclose(b["image"].mean((1, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(b["image"].std((1, 2, 3)), 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="normalise"):
        pipeline.synthetic_dataset(n=2, normalise="imagenet")


def test_shard_pipeline_gives_the_same_targets(tmp_path):
    shards.write_synthetic(tmp_path / "s", 6, seed=5, progress=False)
    a = next(pipeline.shard_dataset(tmp_path / "s", batch_size=6, fraction=0.25).as_numpy_iterator())
    b = next(pipeline.synthetic_dataset(n=6, batch_size=6, seed=5, fraction=0.25).as_numpy_iterator())
    for k in ("image", "joints", "visible", "pose_vector", "heatmaps", "has_label", "index"):
        np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=k)


def test_crop_person_maps_joints_with_the_pixels():
    img = np.zeros((200, 300, 3), np.uint8)
    joints = np.array([[100.0, 50.0], [140.0, 130.0], [120.0, 90.0]])
    for x, y in joints.astype(int):
        img[y, x] = 255
    crop, j = pipeline.crop_person(img, joints, np.ones(3, bool), 64, margin=1.25)
    assert crop.shape == (64, 64, 3)
    np.testing.assert_allclose(j[2], [31.5, 31.5])               # the box centre maps to the middle
    side = 1.25 * 80
    np.testing.assert_allclose(j[1] - j[0], (joints[1] - joints[0]) * 64 / side)
    with pytest.raises(ValueError, match="visible"):
        pipeline.crop_person(img, joints, np.zeros(3, bool), 64)


def test_records_dataset_crops_real_images(tmp_path):
    import cv2

    from dgpose_tf.data.records import PoseRecord
    from dgpose_tf.pose import get_skeleton

    lsp = get_skeleton("lsp14")
    recs = []
    for k in range(3):
        img = np.full((240, 320, 3), 40 * k, np.uint8)
        joints = np.array([[100 + 5 * i + 10 * k, 40 + 10 * i] for i in range(14)], float)
        cv2.circle(img, (int(joints[lsp.index("head_top"), 0]), int(joints[lsp.index("head_top"), 1])),
                   3, (0, 0, 255), -1)                      # red in RGB
        path = tmp_path / f"im{k}.jpg"
        cv2.imwrite(str(path), img)
        recs.append(PoseRecord(str(path), joints, np.ones(14, bool), "lsp14"))
    b = next(pipeline.records_dataset(recs, batch_size=3, size=64, fraction=0.5,
                                      cache=tmp_path / "cache").as_numpy_iterator())
    assert b["image"].shape == (3, 64, 64, 3) and b["heatmaps"].shape == (3, 64, 64, 24)
    head = b["joints"][0, 0]                                  # semi_dgpose14 starts with head top
    x, y = np.round(head).astype(int)
    assert b["image"][0, y, x, 0] > 0.5 and b["image"][0, y, x, 2] < 0   # the red dot moved along
    span = b["joints"][0].max(0) - b["joints"][0].min(0)
    assert span.max() == pytest.approx(64 / 1.25, rel=1e-3)
    np.testing.assert_array_equal(b["has_label"], pipeline.labelled_mask(np.arange(3), 0.5))
    bad = [PoseRecord(str(tmp_path / "missing.jpg"), recs[0].joints, recs[0].visible, "lsp14")]
    with pytest.raises(FileNotFoundError, match="1 of 1 images are missing"):
        pipeline.records_dataset(bad)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")           # there, but unreadable
    bad = [PoseRecord(str(tmp_path / "broken.jpg"), recs[0].joints, recs[0].visible, "lsp14")]
    with pytest.raises(Exception, match="cannot read image"):
        next(pipeline.records_dataset(bad).as_numpy_iterator())
