"""Real motion capture as AE-GAN training windows, on tiny BVH files written here in the layouts of
the Bandai-Namco Research Motion dataset (every joint with six channels, centimetres) and of
Poser-style CMU conversions (``hip``, ``abdomen``, ``rCollar`` …)."""

import json

import numpy as np
import pytest

from dgpose_tf.data import bvh, mocap
from dgpose_tf.pose import get_skeleton

J33 = get_skeleton("synthetic33").index

#: (name, parent, offset in cm, y up, standing, facing +z, the actor's left at +x)
BANDAI = [("joint_Root", None, (0, 0, 0)), ("Hips", "joint_Root", (0, 95, 0)),
          ("Spine", "Hips", (0, 15, 0)), ("Chest", "Spine", (0, 15, 0)),
          ("Neck", "Chest", (0, 22, 0)), ("Head", "Neck", (0, 10, 0))]
for side, sx in (("L", 1), ("R", -1)):
    BANDAI += [(f"Shoulder_{side}", "Chest", (sx * 5, 18, 0)),
               (f"UpperArm_{side}", f"Shoulder_{side}", (sx * 13, 0, 0)),
               (f"LowerArm_{side}", f"UpperArm_{side}", (0, -28, 0)),
               (f"Hand_{side}", f"LowerArm_{side}", (0, -25, 0)),
               (f"UpperLeg_{side}", "Hips", (sx * 9, -5, 0)),
               (f"LowerLeg_{side}", f"UpperLeg_{side}", (0, -42, 0)),
               (f"Foot_{side}", f"LowerLeg_{side}", (0, -40, 0)),
               (f"Toes_{side}", f"Foot_{side}", (0, -6, 12))]
LEAVES = {"Head", "Hand_L", "Hand_R", "Toes_L", "Toes_R"}


def bandai_bvh(frames=60, rate=30.0, seed=0):
    """A Bandai-style BVH: six channels on every joint, position channels holding the offsets,
    rotations a slow sway; the root walks along +z."""
    rng = np.random.default_rng(seed)
    children = {}
    for name, parent, _ in BANDAI:
        children.setdefault(parent, []).append(name)
    offsets = {n: o for n, _, o in BANDAI}
    lines = ["HIERARCHY"]

    def write(name, depth, root=False):
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(str(v) for v in offsets[name])}")
        lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
                     f"Yrotation")
        for child in children.get(name, []):
            write(child, depth + 1)
        if name in LEAVES:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 0 0",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write("joint_Root", 0, root=True)
    order = []

    def walk(name):
        order.append(name)
        for child in children.get(name, []):
            walk(child)

    walk("joint_Root")
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / rate:.7f}"]
    phase = rng.uniform(0, 2 * np.pi, len(order))
    for f in range(frames):
        row = []
        for k, name in enumerate(order):
            pos = list(offsets[name])
            if name == "Hips":
                pos[2] += 1.5 * f                        # walking forward
            rot = [0.0, 10 * np.sin(0.2 * f + phase[k]), 0.0] if name != "joint_Root" else \
                [0.0, 0.0, 0.0]
            row += pos + rot
        lines.append(" ".join(f"{v:.5f}" for v in row))
    return "\n".join(lines) + "\n"


POSER = """HIERARCHY
ROOT hip
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT abdomen
  {
    OFFSET 0 20 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT chest
    {
      OFFSET 0 12 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT neck
      {
        OFFSET 0 22 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT head
        {
          OFFSET 0 7 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          End Site
          {
            OFFSET 0 8 0
          }
        }
      }
      JOINT rCollar
      {
        OFFSET -3 19 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT rShldr
        {
          OFFSET -12 0 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          End Site
          {
            OFFSET -28 0 0
          }
        }
      }
    }
  }
  JOINT rThigh
  {
    OFFSET -9 -2 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT rShin
    {
      OFFSET 0 -42 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 -40 0
      }
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.0083333
0 95 0 0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0
"""


def test_bandai_position_channels_hold_the_bones():
    b = bvh.parse_bvh(bandai_bvh(frames=2))
    assert bvh.table_for(b)[0] == "bandai"
    pos = b.positions()
    i = b.names.index
    # frame 0 has the Hips at (0, 95, 0) and the Spine 15 cm above it: a bone is not doubled
    np.testing.assert_allclose(pos[0, i("Hips")], [0, 95, 0], atol=1e-4)
    assert np.linalg.norm(pos[0, i("Spine")] - pos[0, i("Hips")]) == pytest.approx(15, abs=1e-3)
    assert np.linalg.norm(pos[0, i("LowerLeg_L")] - pos[0, i("UpperLeg_L")]) == \
        pytest.approx(42, abs=1e-3)
    rest = b.rest_positions()
    assert rest[i("Head"), 1] - rest[i("Foot_L"), 1] == pytest.approx(15 + 15 + 22 + 10 + 5 + 82)


def test_bandai_to_synthetic_in_metres_with_the_missing_points_placed():
    joints = bvh.to_synthetic(bvh.parse_bvh(bandai_bvh(frames=3)))
    f = joints[0]
    assert np.isfinite(f[[J33(n) for n in ("head_top", "left_hand", "right_toe", "pelvis",
                                             "spine2", "left_clavicle")]]).all()
    np.testing.assert_allclose(f[J33("left_hip")], [0.09, 0.90, 0], atol=0.01)  # centimetres
    assert f[J33("left_shoulder"), 0] > 0 > f[J33("right_shoulder"), 0]       # left at +x
    assert f[J33("head_top"), 1] > f[J33("head"), 1] > f[J33("neck"), 1]      # placed above
    assert f[J33("left_hand"), 1] < f[J33("left_wrist"), 1]                  # beyond the wrist


def test_poser_table_is_chosen_by_the_joint_names():
    b = bvh.parse_bvh(POSER)
    assert bvh.table_for(b)[0] == "poser"
    joints = bvh.to_synthetic(b)
    assert joints[0, J33("head_top"), 1] > joints[0, J33("head"), 1]
    assert joints[0, J33("right_knee"), 1] < joints[0, J33("right_hip"), 1]
    with pytest.raises(ValueError, match="no joint-name table"):
        bvh.table_for(bvh.parse_bvh(POSER.replace("hip", "pelvisX").replace("rThigh", "a")
                                    .replace("rShin", "b").replace("rCollar", "c")
                                    .replace("rShldr", "d").replace("abdomen", "e")
                                    .replace("chest", "f").replace("neck", "g")
                                    .replace("head", "h")))


def test_resample():
    x = np.arange(121, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    np.testing.assert_allclose(mocap.resample(x, 120, 24)[:, 0, 0], np.arange(0, 121, 5))
    y = mocap.resample(x[:31], 30, 24)                         # 1 s at 30 fps → 25 frames
    assert len(y) == 25
    np.testing.assert_allclose(y[:, 0, 0], np.arange(25) * 30 / 24)
    with pytest.raises(ValueError, match="positive"):
        mocap.resample(x, 0, 24)


def test_clip_windows_are_projected_normalised_and_mirrored(tmp_path):
    path = tmp_path / "dataset-1_walk_normal_001.bvh"
    path.write_text(bandai_bvh(frames=90))
    joints = mocap.load_motion(path, fps=24)
    assert joints.shape == (72, 28, 3)                          # 3 s at 30 fps → 24 fps
    w = mocap.clip_windows(joints, np.random.default_rng(0), shift=12, views=2)
    assert w.shape == (2 * 2 * 5, 24, 28, 2) and w.dtype == np.float32
    assert np.abs(w).max() <= 1 + 1e-6
    np.testing.assert_allclose(w[:10].reshape(10, -1, 2).mean(1), 0, atol=1e-6)


def test_training_pool_from_bvh_keeps_validation_and_evaluation_clips_out(tmp_path):
    from dgpose_tf.evaluate import pose_sequence_aegan as es

    root = tmp_path / "mocap"
    (root / "bandai").mkdir(parents=True)
    for i, style in enumerate(("normal", "active", "elderly")):
        (root / "bandai" / f"dataset-2_walk_{style}_001.bvh").write_text(
            bandai_bvh(frames=60, seed=i))
    data = {"source": "bvh", "dir": str(root), "files": ["bandai/*.bvh"],
            "validation": ["bandai/*_elderly_*.bvh"], "views": 1}
    pool = es.training_pool(data)
    assert pool.shape[1:] == (24, 28, 2)
    val = es.mocap_windows(data, data["validation"])
    assert len(pool) == 2 * len(val)                           # two training clips, one held out
    # CMU evaluation motion is refused by name
    (root / "cmu").mkdir()
    for name in ("01_01.bvh", "02_01.bvh", "011/011_02.bvh", "07_01.bvh"):
        (root / "cmu" / name).parent.mkdir(exist_ok=True)
        (root / "cmu" / name).write_text(POSER)
    with pytest.raises(ValueError, match="evaluation"):
        mocap.select_files(root, ["cmu/**/*.bvh"])
    assert [p.name for p in mocap.select_files(root, ["cmu/07_*.bvh"])] == ["07_01.bvh"]
    with pytest.raises(FileNotFoundError, match="no BVH"):
        mocap.select_files(root, ["nothing/*.bvh"])
    with pytest.raises(ValueError, match="--data-dir"):
        es.training_pool({**data, "dir": None})


def test_mocap_config_names_its_sources():
    from pathlib import Path

    from dgpose_tf.fit import check_config

    path = Path(__file__).parents[1] / "training" / "configs" / "pose_sequence_aegan_mocap.json"
    config = json.loads(path.read_text())
    check_config(config)
    assert config["data"]["source"] == "bvh" and config["data"]["validation"]
    assert "CC BY-NC" in config["about"]


def test_fit_from_bvh_with_held_out_curves(tmp_path):
    """``dgpose train`` of a ``data.source: "bvh"`` config: the pool from the training clips,
    the learning curves on the held-out ones (cached beside the run)."""
    from dgpose_tf.fit import run_config

    root = tmp_path / "mocap"
    root.mkdir()
    for i, style in enumerate(("normal", "active", "elderly")):
        (root / f"dataset-2_walk_{style}_001.bvh").write_text(bandai_bvh(frames=60, seed=i))
    config = {"name": "tiny_mocap", "family": "pose_sequence_aegan", "model": {},
              "data": {"source": "bvh", "dir": None, "files": ["*.bvh"],
                       "validation": ["*_elderly_*.bvh"], "views": 1},
              "train": {"steps": 2, "steps_per_epoch": 2, "batch_size": 8, "eval_every": 2},
              "seed": 0, "output": str(tmp_path / "run")}
    path = tmp_path / "tiny_mocap.json"
    path.write_text(json.dumps(config))
    run_config(path, data_dir=root)
    run = tmp_path / "run"
    curves = (run / "curves.csv").read_text().splitlines()
    assert curves[0].startswith("step") and len(curves) == 2
    val = np.load(run / "validation_pool.npy")
    assert val.shape[1:] == (24, 28, 2) and len(np.load(run / "pool.npy")) == 2 * len(val)
