import json

import numpy as np
import pytest
from scipy.io import savemat

from dgpose_tf.data import coco, deepfashion, h36m, lsp, mpi_inf_3dhp, mpii
from dgpose_tf.data.records import to_skeleton
from dgpose_tf.pose import get_skeleton


def test_lsp_original_third_row_is_occlusion(tmp_path):
    j = np.zeros((3, 14, 2))
    j[0, :, 0], j[1, :, 0] = np.arange(1, 15), np.arange(101, 115)   # 1-based
    j[2, 3, 0] = 1                                                    # left hip occluded
    j[0, :, 1], j[1, :, 1] = 50, 60
    savemat(tmp_path / "joints.mat", {"joints": j})
    recs = lsp.load_lsp(tmp_path / "joints.mat")
    assert len(recs) == 2 and recs[0].extra["variant"] == "lsp"
    np.testing.assert_array_equal(recs[0].joints[:, 0], np.arange(14))
    np.testing.assert_array_equal(recs[0].joints[:, 1], np.arange(100, 114))
    assert recs[0].visible.all() and recs[0].occluded.tolist() == [i == 3 for i in range(14)]
    assert get_skeleton("lsp14").joints[3] == "left_hip"
    assert recs[1].image.endswith("images/im0002.jpg")


def test_lsp_extended_third_column_is_visibility(tmp_path):
    j = np.zeros((14, 3, 3))
    j[:, 0, :], j[:, 1, :] = 11, 21
    j[:, 2, :] = 1
    j[13, 2, 2] = 0                                                   # head top invisible
    savemat(tmp_path / "joints.mat", {"joints": j})
    recs = lsp.load_lsp(tmp_path / "joints.mat", image_dir=tmp_path)
    assert recs[0].extra["variant"] == "lsp_extended" and recs[0].occluded is None
    assert recs[2].visible.tolist() == [True] * 13 + [False]
    np.testing.assert_array_equal(recs[0].joints[0], [10, 20])
    assert recs[2].image.endswith("im00003.jpg")
    savemat(tmp_path / "bad.mat", {"joints": np.zeros((2, 14, 3))})
    with pytest.raises(ValueError, match="3x14xN"):
        lsp.load_lsp(tmp_path / "bad.mat")
    with pytest.raises(FileNotFoundError):
        lsp.load_lsp(tmp_path / "none.mat")


def test_mpii_json_is_one_based(tmp_path):
    joints = [[i + 1.0, 2 * i + 1.0] for i in range(16)]
    vis = [1] * 15 + [0]
    (tmp_path / "train.json").write_text(json.dumps([
        {"image": "a.jpg", "center": [11, 21], "scale": 1.5, "joints": joints, "joints_vis": vis}]))
    r = mpii.load_mpii_json(tmp_path / "train.json")[0]
    np.testing.assert_array_equal(r.joints[9], [9, 18])                 # head top, 0-based
    assert r.visible.tolist() == [True] * 15 + [False]
    np.testing.assert_array_equal(r.extra["center"], [10, 20])
    assert r.skeleton == "mpii16" and r.image.endswith("a.jpg")


def test_mpii_official_mat(tmp_path):
    point = lambda i, x, y, v: {"id": i, "x": x, "y": y, "is_visible": v}
    points = np.empty(3, dtype=object)
    points[:] = [point(0, 101.0, 201.0, 1), point(9, 51.0, 11.0, 0), point(13, 81.0, 91.0, "1")]
    rect = {"x1": 41.0, "y1": 1.0, "x2": 61.0, "y2": 21.0, "scale": 2.0,
            "objpos": {"x": 71.0, "y": 121.0}, "annopoints": {"point": points}}
    annolist = np.empty(2, dtype=object)
    annolist[:] = [{"image": {"name": "000001.jpg"}, "annorect": rect},
                   {"image": {"name": "000002.jpg"}, "annorect": np.empty(0)}]
    savemat(tmp_path / "mpii.mat", {"RELEASE": {"annolist": annolist, "img_train": np.array([1, 0])}})
    recs = mpii.load_mpii_mat(tmp_path / "mpii.mat")
    assert len(recs) == 1
    r = recs[0]
    np.testing.assert_array_equal(r.joints[0], [100, 200])              # right ankle
    np.testing.assert_array_equal(r.joints[13], [80, 90])               # left shoulder
    assert r.visible.sum() == 3 and r.visible[[0, 9, 13]].all()
    assert r.occluded[9] and not r.occluded[0] and not r.occluded[13]
    np.testing.assert_array_equal(r.extra["head_box"], [40, 0, 60, 20])
    assert r.extra["train"] and r.image.endswith("000001.jpg")


def test_coco_visibility_semantics(tmp_path):
    kp = np.zeros((17, 3))
    kp[5] = [10, 20, 2]                       # left shoulder, visible
    kp[6] = [30, 20, 1]                       # right shoulder, labelled but hidden
    data = {"images": [{"id": 7, "file_name": "x.jpg"}],
            "annotations": [{"id": 1, "image_id": 7, "keypoints": kp.ravel().tolist(),
                             "num_keypoints": 2, "iscrowd": 0, "bbox": [0, 0, 40, 80]},
                            {"id": 2, "image_id": 7, "keypoints": kp.ravel().tolist(),
                             "num_keypoints": 2, "iscrowd": 1}]}
    (tmp_path / "kp.json").write_text(json.dumps(data))
    recs = coco.load_coco(tmp_path / "kp.json")
    assert len(recs) == 1 and recs[0].person_id == 1
    r = recs[0]
    assert r.visible.tolist() == [i in (5, 6) for i in range(17)]
    assert r.occluded[6] and not r.occluded[5]
    np.testing.assert_array_equal(r.joints[6], [30, 20])
    lsp_view = to_skeleton(r, "lsp14")
    assert lsp_view.joints[get_skeleton("lsp14").index("right_shoulder")].tolist() == [30, 20]
    assert lsp_view.occluded[get_skeleton("lsp14").index("right_shoulder")]


def test_deepfashion_y_before_x_and_pairs(tmp_path):
    ys = list(range(100, 118))
    xs = list(range(10, 28))
    ys[4] = -1                                # right wrist missing
    (tmp_path / "ann.csv").write_text(f"name:keypoints_y:keypoints_x\nimg1.jpg: {ys}: {xs}\n")
    r = deepfashion.load_deepfashion_annotations(tmp_path / "ann.csv")[0]
    op = get_skeleton("openpose18")
    np.testing.assert_array_equal(r.joints[op.index("neck")], [11, 101])
    assert not r.visible[op.index("right_wrist")] and r.visible.sum() == 17
    assert np.isnan(r.joints[op.index("right_wrist")]).all()
    (tmp_path / "pairs.csv").write_text("from,to\na.jpg,b.jpg\nc.jpg,d.jpg\n")
    assert deepfashion.load_deepfashion_pairs(tmp_path / "pairs.csv") == [("a.jpg", "b.jpg"),
                                                                           ("c.jpg", "d.jpg")]
    (tmp_path / "bad.csv").write_text("name,x,y\n")
    with pytest.raises(ValueError, match="header"):
        deepfashion.load_deepfashion_annotations(tmp_path / "bad.csv")


def test_h36m_npz_split_and_semi_dgpose_subset(tmp_path):
    part = np.zeros((3, 17, 3))
    part[..., 0] = np.arange(17)
    part[..., 2] = 1
    S = np.zeros((3, 17, 4))
    S[..., 2] = 5000
    names = np.array(["S1_Walking_1.54138969_000001.jpg", "S9_Eating.55011271_000011.jpg",
                      "S11_Sitting_2.60457274_000021.jpg"])
    np.savez(tmp_path / "h36m.npz", imgname=names, part=part, S=S, center=np.zeros((3, 2)),
             scale=np.ones(3))
    test = h36m.load_h36m_npz(tmp_path / "h36m.npz", split="test")
    assert [r.extra["subject"] for r in test] == ["S9", "S11"]
    assert test[0].extra["camera_id"] == "55011271"
    assert len(h36m.load_h36m_npz(tmp_path / "h36m.npz", split="train")) == 1
    s14 = h36m.to_semi_dgpose14(test[0])
    sk = get_skeleton("semi_dgpose14")
    assert s14.joints[sk.index("head_top"), 0] == 10             # H36M joint 10 "Head"
    assert s14.joints[sk.index("neck"), 0] == 8                  # thorax approximates the neck
    assert s14.joints[sk.index("left_shoulder"), 0] == 11
    assert s14.joints3d.shape == (14, 3)
    np.savez(tmp_path / "bad.npz", imgname=names, part=np.zeros((3, 24, 3)))
    with pytest.raises(ValueError, match="17, 3"):
        h36m.load_h36m_npz(tmp_path / "bad.npz")


def test_mpi_inf_3dhp_annot_and_calibration(tmp_path):
    a2 = np.empty((2, 1), dtype=object)
    a3 = np.empty((2, 1), dtype=object)
    for k in range(2):
        a2[k, 0] = np.arange(3 * 56, dtype=float).reshape(3, 56) + 1000 * k
        a3[k, 0] = np.arange(3 * 84, dtype=float).reshape(3, 84)
    savemat(tmp_path / "annot.mat", {"annot2": a2, "annot3": a3, "univ_annot3": a3,
                                     "cameras": np.array([0, 8]), "frames": np.arange(3)})
    (tmp_path / "camera.calibration").write_text(
        "Skeletool Camera Calibration File V1.0\nname          0\n  sensor      10 10\n"
        "  size        2048 2048\n  animated    0\n"
        "  intrinsic   1497.7 0 1024.7 0 0 1497.1 1051.4 0 0 0 1 0 0 0 0 1\n"
        "  extrinsic   1 0 0 10 0 1 0 20 0 0 1 30 0 0 0 1\n  radial      0\n"
        "name          8\n  size        2048 2048\n"
        "  intrinsic   1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n"
        "  extrinsic   1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n")
    recs = mpi_inf_3dhp.load_mpi_inf_3dhp(tmp_path / "annot.mat", tmp_path / "camera.calibration",
                                          cameras=[8], every=2)
    assert len(recs) == 2 and recs[1].extra == {"camera_id": 8, "frame": 2}
    np.testing.assert_array_equal(recs[0].joints[1], [1002, 1003])   # spine4 = joint 1
    np.testing.assert_array_equal(recs[1].joints3d[0], [168, 169, 170])
    assert recs[0].image.endswith("video_8/frame_000001.jpg")
    cal = mpi_inf_3dhp.load_calibration(tmp_path / "camera.calibration")
    np.testing.assert_array_equal(cal[0]["t"], [10, 20, 30])
    assert cal[0]["K"][0, 2] == pytest.approx(1024.7) and cal[8]["size"] == (2048, 2048)


def test_chictopia_layout_and_joints(tmp_path):
    import cv2

    from dgpose_tf.data import chictopia

    split = tmp_path / "val"
    split.mkdir()
    for i in (0, 1, 10):
        cv2.imwrite(str(split / f"{i:04d}_image:png.png"), np.zeros((286, 286, 3), np.uint8))
        cv2.imwrite(str(split / f"{i:04d}_label_vis:png.png"), np.zeros((286, 286, 3), np.uint8))
    j = np.zeros((3, 14))
    j[0], j[1], j[2] = np.arange(14), 100 + np.arange(14), 1
    j[2, 13] = 0
    np.save(split / "0001_joints:npy.npy", j)
    recs = chictopia.load_chictopia(tmp_path, "val")
    assert [r.person_id for r in recs] == [0, 1, 10]
    assert recs[0].extra["files"]["label_vis:png"].endswith("0000_label_vis:png.png")
    assert not recs[0].visible.any()
    np.testing.assert_array_equal(recs[1].joints[5], [5, 105])
    assert recs[1].visible.tolist() == [True] * 13 + [False] and recs[1].skeleton == "lsp14"
    with pytest.raises(FileNotFoundError):
        chictopia.load_chictopia(tmp_path, "train")
