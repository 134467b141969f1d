import numpy as np
import pytest

from dgpose_tf import pose
from dgpose_tf.pose import (POSE_VECTOR_DIM, SEMI_DGPOSE_CHANNELS, decode_heatmaps,
                            gaussian_heatmaps, get_skeleton, pose_vector, pose_vector_to_joints,
                            segment_heatmaps, semi_dgpose_heatmaps)

SKEL = get_skeleton("semi_dgpose14")


def standing(size=64):
    """A hand-placed standing person in the 64x64 frame."""
    p = {"head_top": (32, 6), "neck": (32, 16), "right_shoulder": (25, 17),
         "left_shoulder": (39, 17), "right_elbow": (22, 27), "left_elbow": (42, 27),
         "right_wrist": (21, 36), "left_wrist": (43, 36), "right_hip": (28, 36),
         "left_hip": (36, 36), "right_knee": (28, 47), "left_knee": (36, 47),
         "right_ankle": (28, 58), "left_ankle": (36, 58)}
    return np.array([p[j] for j in SKEL.joints], np.float32) * size / 64


def test_channel_layout_matches_the_paper():
    assert len(SEMI_DGPOSE_CHANNELS) == 24 and POSE_VECTOR_DIM == 48
    assert SEMI_DGPOSE_CHANNELS[:14] == SKEL.joints
    assert SEMI_DGPOSE_CHANNELS[14:] == (
        "head", "right_upper_arm", "right_lower_arm", "right_upper_leg", "right_lower_leg",
        "left_upper_arm", "left_lower_arm", "left_upper_leg", "left_lower_leg", "body")


def test_gaussian_values_by_hand():
    hm = gaussian_heatmaps(np.array([[10.0, 20.0]]), size=64, sigma=2.0)
    assert hm.shape == (64, 64, 1)
    assert hm[20, 10, 0] == pytest.approx(1.0)
    assert hm[20, 12, 0] == pytest.approx(np.exp(-4 / 8), rel=1e-6)   # row y=20, column x=12
    assert hm[23, 10, 0] == pytest.approx(np.exp(-9 / 8), rel=1e-6)


def test_segment_band_by_hand():
    hm = segment_heatmaps(np.array([[10.0, 10.0]]), np.array([[30.0, 10.0]]), size=64, sigma=2.0)
    assert hm[10, 20, 0] == pytest.approx(1.0)                  # on the segment
    assert hm[12, 20, 0] == pytest.approx(np.exp(-4 / 8), rel=1e-6)  # 2 px off its middle
    assert hm[10, 33, 0] == pytest.approx(np.exp(-9 / 8), rel=1e-6)  # 3 px past its end
    assert hm[13, 7, 0] == pytest.approx(np.exp(-18 / 8), rel=1e-6)  # diagonal from the start


def test_semi_dgpose_heatmaps_cover_joints_parts_and_body():
    j = standing()
    hm = semi_dgpose_heatmaps(j, size=64)
    assert hm.shape == (64, 64, 24) and hm.dtype == np.float32
    for k, (x, y) in enumerate(j.astype(int)):
        assert hm[y, x, k] == pytest.approx(1.0)
    # right upper arm band: midpoint of shoulder and elbow lies on it
    mid = ((j[SKEL.index("right_shoulder")] + j[SKEL.index("right_elbow")]) / 2).round().astype(int)
    assert hm[mid[1], mid[0], SEMI_DGPOSE_CHANNELS.index("right_upper_arm")] > 0.8
    # body covers the torso centre and not the corners
    assert hm[26, 32, 23] > 0.95
    assert hm[2, 2, 23] < 1e-3 and hm[60, 60, 23] < 1e-3
    # each part channel is empty far from its own segment
    assert hm[58, 28, SEMI_DGPOSE_CHANNELS.index("left_upper_arm")] < 1e-6


def test_invisible_joints_switch_channels_off():
    j = standing()
    vis = np.ones(14, bool)
    vis[SKEL.index("left_wrist")] = False
    hm = semi_dgpose_heatmaps(j, vis)
    assert hm[..., SKEL.index("left_wrist")].max() == 0
    assert hm[..., SEMI_DGPOSE_CHANNELS.index("left_lower_arm")].max() == 0
    assert hm[..., SEMI_DGPOSE_CHANNELS.index("left_upper_arm")].max() > 0.9


def test_batched_shapes_and_size_scaling():
    j = np.stack([standing(128)] * 6).reshape(2, 3, 14, 2)
    hm = semi_dgpose_heatmaps(j, size=128)
    assert hm.shape == (2, 3, 128, 128, 24)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_decode_recovers_subpixel_gaussians(sigma):
    rng = np.random.default_rng(0)
    pts = rng.uniform(2, 61, size=(5, 7, 2))
    hm = gaussian_heatmaps(pts, size=64, sigma=sigma)
    xy, val = decode_heatmaps(hm)
    np.testing.assert_allclose(xy, pts, atol=1e-3)
    assert (val >= np.exp(-0.25 / sigma**2) - 1e-6).all()  # at most half a pixel off per axis
    xy_q, _ = decode_heatmaps(hm, refine="quarter")
    assert np.abs(xy_q - pts).max() <= 0.75 + 1e-6
    xy_i, _ = decode_heatmaps(hm, refine=None)
    np.testing.assert_array_equal(xy_i, np.round(pts))


def test_decode_empty_border_and_bad_input():
    hm = np.zeros((16, 16, 2), np.float32)
    hm[0, 5, 1] = 1.0                   # maximum on the top border: no refinement along y
    hm[0, 6, 1] = 0.5
    xy, val = decode_heatmaps(hm)
    np.testing.assert_array_equal(xy[0], [-1, -1])
    assert val[0] == 0
    assert xy[1, 1] == 0 and 5 < xy[1, 0] < 5.5
    bad = hm.copy()
    bad[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        decode_heatmaps(bad)
    with pytest.raises(ValueError, match="refine"):
        decode_heatmaps(hm, refine="dark")


def test_pose_vector_by_hand():
    j = standing()
    v, mask = pose_vector(j, size=64)
    assert v.shape == (48,) and mask.all()
    # u = (2x + 1)/64 - 1: head top x=32 -> 1/64, y=6 -> -51/64
    np.testing.assert_allclose(v[:2], [1 / 64, -51 / 64])
    # part 0 (head) centre is the midpoint of head top and neck: (32, 11)
    np.testing.assert_allclose(v[28:30], [1 / 64, (23 / 64) - 1])
    # body centre = mean of shoulders and hips: (32, 26.5)
    np.testing.assert_allclose(v[46:48], [1 / 64, (54 / 64) - 1])
    np.testing.assert_allclose(pose_vector_to_joints(v, 64), j, atol=1e-5)
    np.testing.assert_allclose(pose.normalise_coords([[-0.5, 63.5]], 64), [[-1.0, 1.0]])


def test_pose_vector_masks_invisible_joints():
    j = standing()
    vis = np.ones(14, bool)
    vis[SKEL.index("head_top")] = False
    v, mask = pose_vector(j, vis)
    assert not mask[:2].any() and (v[:2] == 0).all()
    assert not mask[28:30].any()          # head part needs head top
    assert mask[2:28].all() and mask[30:].all()


def test_nan_marked_visible_is_an_error():
    j = standing()
    j[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        semi_dgpose_heatmaps(j, np.ones(14, bool))
    hm = semi_dgpose_heatmaps(j)  # without visibility, NaN means missing
    assert hm[..., 3].max() == 0
    with pytest.raises(ValueError, match="14 Semi-DGPose joints"):
        semi_dgpose_heatmaps(np.zeros((13, 2)))
