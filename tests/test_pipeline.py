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
