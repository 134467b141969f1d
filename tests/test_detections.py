"""Detector-output readers and writers on hand-made files, and ``dgpose inpaint`` end to end."""

import json

import numpy as np
import pytest

from dgpose_tf.data import detections as D


def _kp(n, x0, frame_offset=0.0):
    kp = np.zeros((n, 3))
    kp[:, 0] = x0 + np.arange(n)
    kp[:, 1] = 100 + frame_offset
    kp[:, 2] = 0.9
    return kp.ravel().tolist()


def test_alphapose_nested_idx_and_track_choice(tmp_path):
    dets = []
    for f in range(5):
        # track 1 in every frame, with idx nested in the ways real files do
        idx = [1, 1.0, [1], [[1]], [1, 7]][f]
        dets.append({"image_id": f"{f}.jpg", "category_id": 1, "keypoints": _kp(17, 10, f),
                     "score": 2.5, "idx": idx})
        if f < 2:                                  # a second person in two frames
            dets.append({"image_id": f"{f}.jpg", "category_id": 1, "keypoints": _kp(17, 500),
                         "score": 3.0, "idx": [[2]]})
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(dets))
    tr = D.read_alphapose(path)
    assert tr.track == 1 and tr.skeleton == "coco17" and tr.joints.shape == (5, 17, 3)
    np.testing.assert_allclose(tr.joints[:, 0, 0], 10)
    np.testing.assert_allclose(tr.joints[:, 0, 1], 100 + np.arange(5))
    tr2 = D.read_alphapose(path, track=2)
    assert tr2.joints.shape[0] == 2 and tr2.joints[0, 0, 0] == 500


def test_alphapose_halpe26_missing_frames_and_no_ids(tmp_path):
    dets = [{"image_id": f"frame_{f:04d}.png", "keypoints": _kp(26, f), "score": 1.0}
            for f in (3, 4, 7)]
    dets.append({"image_id": "frame_0004.png", "keypoints": _kp(26, 900), "score": 0.2})
    path = tmp_path / "r.json"
    path.write_text(json.dumps(dets))
    tr = D.read_alphapose(path)
    assert tr.skeleton == "halpe26" and tr.frames.tolist() == [3, 4, 5, 6, 7]
    assert tr.joints[1, 0, 0] == 4                         # the better-scoring detection
    assert np.isnan(tr.joints[2:4, :, 0]).all() and (tr.joints[2:4, :, 2] == 0).all()


@pytest.mark.parametrize("content, match", [
    ("[{\"image_id\": 1, \"keypoints\": [1, 2]}]", "multiple of 3"),
    ("[{\"image_id\": 1, \"keypoints\": " + json.dumps([0.0] * 30) + "}]", "keypoint counts"),
    ("[{\"image_id\": 1}]", "no 'keypoints'"),
    ("[{\"image_id\": 1, \"keypoints\": " + json.dumps([0.0] * 51), "not valid JSON"),
    ("{\"people\": []}", "list of detections"),
    ("[]", "no detections"),
    ("[{\"image_id\": 1, \"keypoints\": " + json.dumps([0.0] * 51) + ", \"idx\": \"x\"}]",
     "track id"),
])
def test_alphapose_bad_files_named(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(D.DetectionsError, match=match):
        D.read_alphapose(path)


def test_openpose_folder_body25_and_person_id(tmp_path):
    for f in range(4):
        people = [{"person_id": [-1], "pose_keypoints_2d": _kp(25, 10 * f)}]
        if f == 2:
            people = []                                       # nobody detected
        (tmp_path / f"clip_{f:012d}_keypoints.json").write_text(json.dumps({"people": people}))
    tr = D.read_openpose(tmp_path)
    assert tr.skeleton == "openpose25" and tr.joints.shape == (4, 25, 3)
    assert np.isnan(tr.joints[2, :, 0]).all()
    (tmp_path / "zz_keypoints.json").write_text(json.dumps({"people": [
        {"pose_keypoints_2d": _kp(18, 0)}]}))
    with pytest.raises(D.DetectionsError, match="after"):
        D.read_openpose(tmp_path)


def test_npz_and_missing_files(tmp_path):
    p = tmp_path / "seq.npz"
    np.savez(p, joints=np.ones((6, 12, 2)), visible=np.eye(6, 12, dtype=bool))
    tr = D.read_npz(p)
    assert tr.skeleton == "alphapose12" and tr.joints[0, 0, 2] == 1 and tr.joints[0, 1, 2] == 0
    np.savez(tmp_path / "odd.npz", joints=np.ones((6, 9, 2)))
    with pytest.raises(D.DetectionsError, match="skeleton"):
        D.read_npz(tmp_path / "odd.npz")
    (tmp_path / "trunc.npz").write_bytes(p.read_bytes()[:50])
    with pytest.raises(D.DetectionsError, match="readable"):
        D.read_npz(tmp_path / "trunc.npz")
    with pytest.raises(FileNotFoundError):
        D.read_detections(tmp_path / "nope.json")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder of an untrained AE-GAN (config.json + weights), for the CLI."""
    import keras

    from dgpose_tf.models.pose_sequence_aegan import PoseSequenceAEGAN

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("run")
    m = PoseSequenceAEGAN()
    m.build()
    m.save_weights(str(folder / "pose_sequence_aegan.weights.h5"))
    (folder / "config.json").write_text(json.dumps(
        {"name": "tiny", "family": "pose_sequence_aegan", "model": {}}))
    return folder


@pytest.mark.parametrize("fmt", ["alphapose", "openpose", "npz"])
def test_dgpose_inpaint_round_trip(tmp_path, tiny_run, fmt):
    from dgpose_tf.cli import main

    rng = np.random.default_rng(0)
    t = 30
    base = rng.uniform(50, 250, (12, 2))
    joints = base[None] + np.cumsum(rng.normal(0, 1, (t, 12, 2)), 0)
    if fmt == "alphapose":
        src = tmp_path / "in.json"
        kp = np.concatenate([joints, np.full((t, 12, 1), 0.9)], -1)
        kp[10:14] = 0                                            # a gap
        src.write_text(json.dumps([{"image_id": f"{f}.jpg", "keypoints": kp[f].ravel().tolist(),
                                    "idx": [[3]], "score": 1} for f in range(t)]))
        out = tmp_path / "out.json"
    elif fmt == "openpose":
        src = tmp_path / "op"
        src.mkdir()
        from dgpose_tf.pose import convert
        j18, _ = convert(joints, "alphapose12", "openpose18")
        kp = np.concatenate([np.nan_to_num(j18), np.isfinite(j18[..., :1]) * 0.9], -1)
        for f in range(t):
            (src / f"v_{f:012d}_keypoints.json").write_text(json.dumps(
                {"people": [{"pose_keypoints_2d": kp[f].ravel().tolist()}]}))
        out = tmp_path / "op_out"
    else:
        src = tmp_path / "in.npz"
        np.savez(src, joints=joints)
        out = tmp_path / "out.npz"
    code = main(["inpaint", str(src), "--out", str(out), "--model", str(tiny_run),
                 "--steps", "2", "--shift", "12"])
    assert code == 0
    back = D.read_detections(out, fmt if fmt != "alphapose" else None)
    assert back.joints.shape == (t, 28, 3)
    report = json.loads((tmp_path / f"{out.name}.report.json").read_text())
    assert report["frames"] == t and report["filled_joint_frames"] > 0
    assert (tmp_path / f"{out.name}.png").is_file()
    # the output exists: a second run refuses to overwrite it and writes nothing
    assert main(["inpaint", str(src), "--out", str(out), "--model", str(tiny_run),
                 "--steps", "1"]) == 2


def test_dgpose_evaluate_sequences_cli(tmp_path, tiny_run, capsys):
    from pathlib import Path

    from dgpose_tf.cli import main

    assert main(["evaluate", str(tiny_run)]) == 2
    assert "--bvh" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_run), "--bvh", str(tmp_path / "none.bvh")]) == 2
    assert "not found" in capsys.readouterr().err
    clip = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu_mocap" / "02_01.bvh"
    if not clip.is_file():
        pytest.skip("CMU clip not here")
    assert main(["evaluate", str(tiny_run), "--bvh", str(clip), "--cameras", "1", "--steps", "1",
                 "--shifts", "24", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PCHIP + Savitzky-Golay + ridge" in out and "AE-GAN s24 fill" in out
    assert (tmp_path / "tiny" / "metrics.json").is_file()


def test_untracked_openpose_people_are_linked_and_body25b_is_read_by_name(tmp_path):
    """Pose2Sim-style folders: BODY_25B keypoints (25, like BODY_25, in another order), two
    people with person_id -1 whose order in the file changes; the walking one is followed."""
    rng = np.random.default_rng(0)
    still = np.concatenate([rng.uniform(40, 80, (25, 2)), np.full((25, 1), 0.8)], 1)
    for f in range(12):
        walker = still.copy()
        walker[:, 0] += 400 + 6 * f                        # walks right, 6 px a frame
        people = [{"person_id": [-1], "pose_keypoints_2d": walker.ravel().tolist()},
                  {"person_id": [-1], "pose_keypoints_2d": still.ravel().tolist()}]
        if f % 2:
            people = people[::-1]                          # detection order is not identity
        if f == 5:
            people = people[1:] if f % 2 == 0 else people[:1]   # someone missed a frame
        (tmp_path / f"cam01.{f:04d}.json").write_text(json.dumps({"people": people}))
    ids = D.link_tracks([[np.asarray(p["pose_keypoints_2d"]).reshape(25, 3) for p in
                          json.loads((tmp_path / f"cam01.{f:04d}.json").read_text())["people"]]
                         for f in range(12)])
    assert max(max(i) for i in ids) == 1                    # two tracks, no third
    walker = D.read_openpose(tmp_path, track=0, skeleton="BODY_25B")
    assert walker.skeleton == "openpose25b"
    x, ok = walker.joints[:, 0, 0], np.isfinite(walker.joints[:, 0, 0])
    assert ok.sum() >= 11                                    # every frame it was detected in
    np.testing.assert_allclose(np.diff(x[ok]) / np.diff(walker.frames[ok]), 6.0)
    other = D.read_openpose(tmp_path, track=1, skeleton="BODY_25B")
    assert np.nanstd(other.joints[:, 0, 0]) < 1e-9           # the one standing still
    with pytest.raises(D.DetectionsError, match="18"):
        D.read_openpose(tmp_path, skeleton="openpose18")
    with pytest.raises(D.DetectionsError, match="unknown joint set"):
        D.read_openpose(tmp_path, skeleton="BODY_99")
