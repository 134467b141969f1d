import numpy as np
import pytest

from dgpose_tf.data import body as B
from dgpose_tf.data import bvh, motion as M, pipeline
from dgpose_tf.pose import get_skeleton

J = B.SKELETON.index


@pytest.mark.parametrize("kind", M.CLIPS)
def test_every_clip_moves_within_limits(kind):
    p, h, v = M.clip(kind, 150, np.random.default_rng(0))
    assert p.shape == (150, len(B.POSE_PARAMS))
    assert (p >= B.LIMITS[:, 0]).all() and (p <= B.LIMITS[:, 1]).all()
    assert p.std(0).max() > 5.0                       # something moves
    assert np.abs(np.diff(p, axis=0)).max() < 30.0    # continuous at 50 Hz (fast arm swings ~1,200°/s)


def test_clip_character():
    rng = np.random.default_rng(1)
    walk = M.motion_sequence(rng, n_frames=250, kinds=["walk"])
    pelvis = walk["joints3d"][:, J("pelvis")]
    assert np.linalg.norm(pelvis[-1, [0, 2]] - pelvis[0, [0, 2]]) > 2.0   # walks away
    squat = M.motion_sequence(rng, n_frames=250, kinds=["squat"])
    y = squat["joints3d"][:, J("pelvis"), 1]
    assert y.max() - y.min() > 0.2                                          # goes down and up
    wave = M.motion_sequence(rng, n_frames=200, kinds=["wave"])["joints3d"]
    hand_above_head = (wave[:, [J("left_wrist"), J("right_wrist")], 1].max(1) >
                       wave[:, J("head"), 1])
    assert hand_above_head.mean() > 0.5


def test_sequence_is_variable_length_labelled_and_reproducible():
    a = M.SyntheticMotion(seed=3).sequence(5)
    b = M.SyntheticMotion(seed=3).sequence(5)
    c = M.SyntheticMotion(seed=3).sequence(6)
    np.testing.assert_array_equal(a["poses"], b["poses"])
    assert len(a["poses"]) != len(c["poses"]) or not np.array_equal(a["poses"], c["poses"])
    assert a["clips"].shape == (len(a["poses"]),) and set(a["clips"]) <= set(range(len(M.CLIPS)))


def test_projection_is_normalised_as_the_thesis_says():
    rng = np.random.default_rng(2)
    for _ in range(5):
        seq = M.motion_sequence(rng)["joints3d"]
        uv, cam = M.project_sequence(seq, rng)
        np.testing.assert_allclose(uv.reshape(-1, 2).mean(0), 0.0, atol=1e-9)
        assert np.abs(uv).max() == pytest.approx(1.0)
        assert -20 <= cam["pitch"] <= 20 and -10 <= cam["roll"] <= 10
    # the camera yaw points it at the mean joint position: the mean lies on the optical axis
    seq = M.motion_sequence(np.random.default_rng(3))["joints3d"]
    uv, cam = M.project_sequence(seq, np.random.default_rng(4), pitch=(0, 0), roll=(0, 0))
    centre = seq.reshape(-1, 3).mean(0)
    d = centre - cam["position"]
    assert np.rad2deg(np.arctan2(d[0], d[2])) == pytest.approx(cam["yaw"])


def test_mirror_and_windows():
    skel = get_skeleton("mpi_inf_3dhp28")
    x = np.random.default_rng(5).uniform(-1, 1, (30, 28, 2))
    m = M.mirror(x, skel.name)
    np.testing.assert_allclose(m[:, skel.index("left_wrist"), 0],
                               -x[:, skel.index("right_wrist"), 0])
    np.testing.assert_allclose(M.mirror(m, skel.name), x)
    w, starts = M.windows(x, 24)
    assert w.shape == (1, 24, 28, 2) and starts.tolist() == [0]
    w, starts = M.windows(np.arange(68), 24, shift=8, cover_end=True)   # thesis Fig. 5
    assert starts.tolist() == [0, 8, 16, 24, 32, 40, 44]
    assert M.windows(np.arange(10), 24)[0].shape == (0, 24)


def test_corruptions():
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (4, 24, 28, 2))
    c, obs = M.corrupt(x, rng, subset="alphapose12")
    assert obs.sum(-1).max() == 12 and np.isnan(c[~obs]).all()
    np.testing.assert_array_equal(c[obs], x[obs])
    c, obs = M.corrupt(x, rng, missing_rate=0.3)
    assert 0.25 < 1 - obs.mean() < 0.35
    c, obs = M.corrupt(x, rng, frame=0.8)
    assert (obs == (np.abs(x) <= 0.8).all(-1)).all()
    c, obs = M.corrupt(x, rng, jitter=0.01)
    assert 0.005 < np.std(c - x) < 0.015
    c, obs = M.corrupt(x, rng, swap_rate=1.0)
    np.testing.assert_array_equal(c, x[..., get_skeleton("mpi_inf_3dhp28").flip_indices, :])
    with pytest.raises(ValueError, match="28"):
        M.corrupt(x[..., :12, :], rng)


def test_sequence_pipeline_batches():
    ds = pipeline.pose_sequence_dataset(n_sequences=2, batch_size=8, seed=1,
                                        corruption={"subset": "alphapose12"}, shuffle=0)
    b = next(ds.as_numpy_iterator())
    assert b["poses"].shape == (8, 24, 28, 2) and b["observed"].shape == (8, 24, 28)
    assert (b["observed"].sum(-1) == 12).all()
    assert (b["observed_poses"][b["observed"] == 0] == 0).all()
    np.testing.assert_array_equal(b["observed_poses"][b["observed"] == 1],
                                  b["poses"][b["observed"] == 1])


BVH_TEXT = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT LeftUpLeg
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftLeg
    {
      OFFSET 0 -40 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 -40 0
      }
    }
  }
  JOINT LowerBack
  {
    OFFSET 0 20 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 50 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.02
0 90 0  0 0 0  0 0 0  0 0 0  0 0 0
5 90 0  0 0 0  90 0 0  0 0 0  0 0 0
"""


def test_bvh_forward_kinematics_by_hand():
    b = bvh.parse_bvh(BVH_TEXT)
    assert b.names == ["Hips", "LeftUpLeg", "LeftLeg", "LeftLeg_end", "LowerBack",
                       "LowerBack_end"]
    assert b.fps == pytest.approx(50)
    pos = b.positions()
    np.testing.assert_allclose(pos[0, 2], [10, 90 - 40, 0])
    # frame 2: root moved 5 in x; LeftUpLeg rotated +90° about z turns its child offset (0,-40,0)
    # into (40, 0, 0)
    np.testing.assert_allclose(pos[1, 2], [15 + 40, 90, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 3], [15 + 80, 90, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 5], [5, 90 + 70, 0], atol=1e-9)


def test_bvh_to_synthetic_with_the_cmu_table(tmp_path):
    path = tmp_path / "walk.bvh"
    path.write_text(BVH_TEXT)
    seq = bvh.to_synthetic(bvh.load_bvh(path), height=1.8)
    assert seq.shape == (2, 33, 3)
    # rest height: from the knee's end (y = -80) to the back's end (y = +70) = 150 units = 1.8 m
    np.testing.assert_allclose(seq[0, J("left_knee")], np.array([10, 50, 0]) * 1.8 / 150)
    np.testing.assert_allclose(seq[0, J("left_hip")], np.array([10, 90, 0]) * 1.8 / 150)
    assert np.isnan(seq[:, J("nose")]).all() and np.isnan(seq[:, J("right_knee")]).all()
    with pytest.raises(ValueError, match="none of the table"):
        bvh.to_synthetic(bvh.load_bvh(path), table={"pelvis": "Root"})
    with pytest.raises(ValueError, match="MOTION has"):
        bvh.parse_bvh(BVH_TEXT.replace("5 90 0", "5 90"))


def test_motion_sheet_command(tmp_path):
    import cv2

    from dgpose_tf import cli

    out = tmp_path / "m.png"
    assert cli.main(["data", "motion", "--out", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img.shape[0] > 7 * 128 and img.std() > 5


ASF_TEXT = """# a two-bone leg and a back, CMU style
:version 1.10
:name test
:units
  mass 1.0
  length 1.0
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name lfemur
     direction 0 -1 0
     length 40
     axis 0 0 90 XYZ
    dof rx ry rz
  end
  begin
     id 2
     name ltibia
     direction 0 -1 0
     length 40
     axis 0 0 0 XYZ
    dof rx
  end
  begin
     id 3
     name lowerback
     direction 0 1 0
     length 50
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root lfemur lowerback
    lfemur ltibia
  end
"""

AMC_TEXT = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 0 80 0 0 0 0
lfemur 0 0 0
ltibia 0
2
root 5 80 0 0 90 0
lfemur 0 0 0
ltibia 90
"""


def test_asf_amc_forward_kinematics_by_hand():
    from dgpose_tf.data import asf_amc

    asf = asf_amc.parse_asf(ASF_TEXT)
    assert asf.names == ["root", "lfemur", "ltibia", "lowerback"]
    assert asf.parents.tolist() == [-1, 0, 1, 0] and asf.dofs[2] == ["rx"]
    motion = asf_amc.parse_amc(AMC_TEXT, asf)
    assert motion["root"].shape == (2, 6) and motion["ltibia"].shape == (2, 1)
    pos = asf_amc.forward_kinematics(asf, motion)
    # frame 1: rest, the leg hangs straight down, the back points up
    np.testing.assert_allclose(pos[0], [[0, 80, 0], [0, 40, 0], [0, 0, 0], [0, 130, 0]],
                               atol=1e-9)
    # frame 2: root moved 5 in x and turned 90° about y; the knee bent 90° about x
    np.testing.assert_allclose(pos[1, 0], [5, 80, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 1], [5, 40, 0], atol=1e-9)
    shin = pos[1, 2] - pos[1, 1]
    np.testing.assert_allclose(np.linalg.norm(shin), 40, atol=1e-9)
    assert abs(shin[1]) < 1e-9                       # horizontal: the knee bent by 90°
    # L_tibia = L_femur·Rx(90°) with L_femur = L_root = Ry(90°) (the femur's C·I·C⁻¹ = I):
    # Rx(90°)·(0, −1, 0) = (0, 0, −1); Ry(90°)·(0, 0, −1) = (−1, 0, 0)
    np.testing.assert_allclose(shin, [-40, 0, 0], atol=1e-9)


def test_asf_amc_errors_and_synthetic_mapping(tmp_path):
    from dgpose_tf.data import asf_amc

    with pytest.raises(asf_amc.ASFError, match="no :bonedata"):
        asf_amc.parse_asf(":units\n length 1\n")
    asf = asf_amc.parse_asf(ASF_TEXT)
    with pytest.raises(asf_amc.ASFError, match="values"):
        asf_amc.parse_amc("1\nroot 0 0 0 0 0 0\nlfemur 1 2\n", asf)
    with pytest.raises(asf_amc.ASFError, match="before the first frame"):
        asf_amc.parse_amc("root 0 0 0 0 0 0\n", asf)
    with pytest.raises(FileNotFoundError):
        asf_amc.load_asf(tmp_path / "none.asf")
    j = asf_amc.to_synthetic(asf, asf_amc.parse_amc(AMC_TEXT, asf))
    from dgpose_tf.data.body import SKELETON
    knee = j[0, SKELETON.index("left_knee")]
    ankle = j[0, SKELETON.index("left_ankle")]
    assert np.isfinite(knee).all() and np.isnan(j[0, SKELETON.index("right_knee")]).all()
    # rest height (130 units, back top to foot) is scaled to 1.75 m
    np.testing.assert_allclose(np.linalg.norm(knee - ankle), 40 * 1.75 / 130, rtol=1e-9)


def _average_body_motion(n=64, seed=3):
    rng = np.random.default_rng(seed)
    body = B.Body(1.75, (1.0,) * len(B.BONE_GROUPS), {})
    return B.forward_kinematics(B.sample_pose(rng, n), body, rng.normal(0, 1, (n, 3)))


def test_complete_from_anatomy_keeps_a_synthetic_body_and_restores_cmu_style_points():
    x = _average_body_motion()
    same = B.complete_from_anatomy(x)
    # the spine chain keeps its bone lengths in every pose: placed by arc length, it is exact
    chain = [J(j) for j in ("pelvis", "spine", "spine2", "spine3", "spine4")]
    np.testing.assert_allclose(same[:, chain], x[:, chain], atol=1e-9)
    clav = [J("left_clavicle"), J("right_clavicle")]
    assert np.linalg.norm(same[:, clav] - x[:, clav], axis=-1).max() < 0.015   # not colinear
    others = [j for j in range(33) if j not in chain + clav]
    np.testing.assert_array_equal(same[:, others], x[:, others])   # distinct end points stay

    # what CMU's BVH gives: zero-length end sites and spine joints, the root above the hips
    cmu = x.copy()
    cmu[:, J("head_top")] = x[:, J("head")]
    for side in ("left", "right"):
        cmu[:, J(f"{side}_hand")] = x[:, J(f"{side}_wrist")]
        cmu[:, J(f"{side}_toe")] = x[:, J(f"{side}_foot")]
        cmu[:, J(f"{side}_clavicle")] = x[:, J("spine3")]
    cmu[:, J("spine4")] = x[:, J("spine3")]
    cmu[:, J("pelvis")] = cmu[:, J("spine")] = x[:, J("spine")] + [0, 0.05, 0]
    fixed = B.complete_from_anatomy(cmu)
    err = np.linalg.norm(fixed - x, axis=-1)                       # metres, (F, 33)
    raw = np.linalg.norm(cmu - x, axis=-1)
    for name, tol in (("head_top", 0.04), ("left_hand", 1e-9), ("right_toe", 0.04),
                      ("pelvis", 0.06), ("spine4", 0.04), ("left_clavicle", 0.04)):
        assert err[:, J(name)].max() < tol, name
        assert err[:, J(name)].mean() < raw[:, J(name)].mean(), name
    with pytest.raises(ValueError, match=r"\(F, 33, 3\)"):
        B.complete_from_anatomy(x[:, :28])


def test_the_readers_complete_only_with_the_cmu_table(tmp_path):
    path = tmp_path / "walk.bvh"
    path.write_text(BVH_TEXT)
    b = bvh.load_bvh(path)
    table = {"pelvis": "Hips", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg",
             "left_ankle": "LeftLeg_end"}
    np.testing.assert_array_equal(bvh.to_synthetic(b, table=table),
                                  bvh.to_synthetic(b, table=table, complete=False))
    # the CMU table on a skeleton without a spine: nothing to place, nothing moves
    np.testing.assert_array_equal(bvh.to_synthetic(b), bvh.to_synthetic(b, complete=False))
