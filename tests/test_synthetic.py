import numpy as np
import pytest

from dgpose_tf.data import body as B
from dgpose_tf.data import synthetic as S

J = B.SKELETON.index


def test_bone_lengths_are_kept_in_any_pose():
    rng = np.random.default_rng(0)
    body = B.sample_body(rng)
    poses = B.sample_pose(rng, 20)
    world = B.forward_kinematics(poses, body)
    lengths = body.bone_lengths()
    for k, (child, parent) in enumerate(zip(B._CHILD, B._PARENT)):
        np.testing.assert_allclose(np.linalg.norm(world[:, child] - world[:, parent], axis=-1),
                                   lengths[k], rtol=1e-9)
    assert (poses >= B.LIMITS[:, 0]).all() and (poses <= B.LIMITS[:, 1]).all()


def test_joint_angle_signs():
    body = B.sample_body(np.random.default_rng(1))
    p = B.REST.copy()
    p[B.PARAM_INDEX["left_hip_flex"]] = 90
    p[B.PARAM_INDEX["left_shoulder_abd"]] = 90
    w = B.forward_kinematics(p, body)
    assert w[J("left_knee"), 2] > w[J("left_hip"), 2] + 0.2        # thigh forward
    assert w[J("left_wrist"), 0] > w[J("left_shoulder"), 0] + 0.25  # arm out to the left
    assert w[J("head_top"), 1] > w[J("neck"), 1] > w[J("pelvis"), 1] > w[J("left_ankle"), 1]
    assert w[J("nose"), 2] > w[J("head"), 2]                       # the face looks forward
    assert w[J("left_hip"), 0] > 0 > w[J("right_hip"), 0]           # x is the person's left


def test_same_seed_same_bytes_in_any_batching_and_seeds_differ():
    a = S.SyntheticPeople(64, seed=7).batch(3, 4)
    b = S.SyntheticPeople(64, seed=7)
    for i in range(4):
        s = b[3 + i]
        assert s.image.tobytes() == a["image"][i].tobytes()
        np.testing.assert_array_equal(s.joints2d, a["joints2d"][i])
        np.testing.assert_array_equal(s.visible, a["visible"][i])
    c = S.SyntheticPeople(64, seed=8).batch(3, 4)
    assert not np.array_equal(a["image"], c["image"])
    assert not np.allclose(a["joints3d"], c["joints3d"])


@pytest.mark.parametrize("size", [64, 128, 256])
def test_sample_fields_and_person_centred_crop(size):
    b = S.SyntheticPeople(size, seed=1).batch(0, 6)
    assert b["image"].shape == (6, size, size, 3) and b["image"].dtype == np.uint8
    assert b["mask"].shape == (6, size, size) and set(np.unique(b["mask"])) <= {0, 1}
    assert b["joints2d"].shape == (6, 33, 2) and b["joints3d"].shape == (6, 33, 3)
    assert set(np.unique(b["limb_depth"])) <= {-1, 0, 1} and b["limb_depth"].shape == (6, 8)
    assert (b["joints3d"][..., 2] > 0).all()
    frac = b["mask"].mean((1, 2))
    assert (frac > 0.03).all() and (frac < 0.6).all()
    centre = 0.5 * (b["joints2d"].min(1) + b["joints2d"].max(1))
    assert np.abs(centre - (size - 1) / 2).max() < 0.15 * size


def test_intrinsics_reproduce_the_2d_joints():
    b = S.SyntheticPeople(64, seed=2).batch(0, 5)
    fx, fy, cx, cy = np.moveaxis(b["intrinsics"], -1, 0)
    X = b["joints3d"].astype(np.float64)
    uv = np.stack([fx[:, None] * X[..., 0] / X[..., 2] + cx[:, None],
                   fy[:, None] * X[..., 1] / X[..., 2] + cy[:, None]], -1)
    np.testing.assert_allclose(uv, b["joints2d"], atol=1e-3)


def side_view(yaw):
    app = S.Appearance.from_id(3)
    scene = S.Scene.from_id(0)
    return S.render(B.REST, app, scene, S.Camera(yaw=yaw, pitch=0, distance=5), 128)


def test_occlusion_and_depth_labels_in_a_side_view():
    s = side_view(90)      # camera on the person's left: the right arm is behind the body
    assert not s.visible[J("right_elbow")] and not s.visible[J("right_wrist")]
    assert s.visible[J("left_elbow")] and s.visible[J("left_wrist")]
    labels = dict(zip(S.LIMBS_25D, s.limb_depth))
    assert labels["left_upper_arm"] == 1 and labels["right_upper_arm"] == -1
    assert labels["left_lower_leg"] == 1 and labels["right_lower_leg"] == -1
    front = side_view(0)
    assert set(front.limb_depth) == {0}
    assert front.visible[J("nose")] and not side_view(180).visible[J("nose")]


def test_out_of_frame_joints_are_invisible():
    app, scene = S.Appearance.from_id(1), S.Scene.from_id(1)
    s = S.render(B.REST, app, scene, S.Camera(yaw=0, shift=(0.45, 0.0)), 64)
    out = (s.joints2d[:, 0] > 63.5)
    assert out.any() and not s.visible[out].any()


def test_pose_transfer_targets_keep_the_appearance():
    ds = S.SyntheticPeople(64, seed=3)
    pose_a, app_a, scene_a, cam_a = ds.parameters(0)
    pose_b, app_b, _, cam_b = ds.parameters(1)
    target = S.render(pose_b, app_a, scene_a, cam_b, 64)
    assert target.appearance_id == app_a.id and target.scene_id == scene_a.id
    original_b = ds[1]
    assert not np.array_equal(target.image, original_b.image)
    # the same pose and camera on another body moves the joints only by the proportions
    assert np.abs(target.joints2d - original_b.joints2d).mean() < 6.0


def test_appearance_and_scene_are_fixed_per_id():
    assert S.Appearance.from_id(42) == S.Appearance.from_id(42)
    assert S.Appearance.from_id(42) != S.Appearance.from_id(43)
    assert S.Scene.from_id(5).background(64).tobytes() == S.Scene.from_id(5).background(64).tobytes()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="size"):
        S.SyntheticPeople(100)
    bad = B.REST.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        S.render(bad, S.Appearance.from_id(0), S.Scene.from_id(0), S.Camera())
    with pytest.raises(ValueError, match="pose parameters"):
        B.forward_kinematics(np.zeros(5), B.sample_body(np.random.default_rng(0)))
