"""MirrorNet: shapes, the paper's conversion rule, both readings of the labelled objective, the
curriculum's freezing, TFP distributions, heatmap coding, evaluation figures, bad input."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import publish_sandbox
from dgpose_tf.evaluate import mirrornet as em
from dgpose_tf.models import mirrornet_curriculum as mc
from dgpose_tf.models.mirrornet import (CONFIGS, JOINTS, MirrorNet, PoseRecognizer,
                                        check_images, decode, render_heatmaps, to_mirrornet16)
from dgpose_tf.pose.heatmaps import decode_heatmaps
from dgpose_tf.pose.skeletons import get_skeleton

TINY = dict(CONFIGS["cpu64"], width=4, a_dim=4, s_dim=4, z_dim=4, batch_size=8,
            labelled_per_batch=6)


@pytest.fixture(scope="module")
def pool():
    return mc.people(48, seed=5)


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(0)
    return MirrorNet(TINY)


def _batch(pool, n=6, labelled=None):
    b = {"image": pool["image"][:n].astype(np.float32) / 127.5 - 1.0,
         "joints": pool["joints"][:n], "visible": pool["labelled"][:n].astype(np.float32),
         "mask": pool["mask"][:n].astype(np.float32)}
    if labelled is not None:
        b["labelled"] = np.asarray(labelled, np.float32)
    return {k: tf.constant(v) for k, v in b.items()}


# ---- the model's parts ---------------------------------------------------------------------------
def test_component_shapes(model, pool):
    x = tf.constant(pool["image"][:3].astype(np.float32) / 127.5 - 1.0)
    hm = model.recognizer(x)
    assert hm.shape == (3, 16, 16, 16)
    fg, bg, mask = model.split(x, hm)
    assert fg.shape == bg.shape == (3, 32, 32, 3) and mask.shape == (3, 32, 32, 1)
    a, _ = model.q_a(fg)
    s, _ = model.q_s(bg)
    z, _ = model.q_z(hm)
    assert a.shape == (3, 4) and s.shape == (3, 4) and z.shape == (3, 4)
    assert model.pose_generator(z).shape == (3, 16, 16, 16)
    assert model.image_generator((hm, a, s)).shape == (3, 64, 64, 3)
    assert model.reconstruct(x).shape == (3, 64, 64, 3)
    assert model.pose_prior_score(hm).shape == (3,)
    joints, maxval, _ = model.estimate_pose(x)
    assert joints.shape == (3, 16, 2) and maxval.shape == (3, 16)


def test_simple_baseline_matches_table8():
    r = PoseRecognizer(CONFIGS["lsp256"])
    assert r(tf.zeros([1, 256, 256, 3])).shape == (1, 64, 64, 16)
    trainable = sum(int(np.prod(v.shape)) for v in r.trainable_weights)
    assert round(trainable / 1e6, 2) == 34.00      # Table 8: ResNet-50 SimpleBaseline 34.00 M


def test_paper_only_recognizers_and_bad_settings_are_named():
    with pytest.raises(ValueError, match="hourglass8.*not built"):
        PoseRecognizer(dict(CONFIGS["lsp256"], recognizer="hourglass8"))
    with pytest.raises(ValueError, match="unknown config"):
        MirrorNet("cpu32")
    with pytest.raises(ValueError, match="labelled_objective"):
        MirrorNet(TINY, labelled_objective="both")
    with pytest.raises(ValueError, match="unknown MirrorNet settings"):
        MirrorNet(TINY, lamda=2.0)
    with pytest.raises(ValueError, match="objective must be one of"):
        MirrorNet(TINY, objective="gan")


def test_bad_images_are_named():
    good = np.zeros((2, 64, 64, 3), np.float32)
    check_images(good, 64)
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\)"):
        check_images(good[:, :32], 64)
    with pytest.raises(TypeError, match="uint8"):
        check_images(good.astype(np.uint8), 64)
    with pytest.raises(ValueError, match="NaN"):
        check_images(np.where(good == 0, np.nan, good), 64)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        check_images(good + 3.0, 64)
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\)"):      # the evaluation's entry point
        mc.predict_joints(MirrorNet(TINY), np.zeros((2, 32, 32, 3), np.uint8))


def test_config_round_trip(model, tmp_path, pool):
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    again = MirrorNet.from_config(model.get_config())
    again.load_weights(path)
    x = tf.constant(pool["image"][:2].astype(np.float32) / 127.5 - 1.0)
    np.testing.assert_allclose(again.recognizer(x), model.recognizer(x), atol=1e-6)
    flat = MirrorNet.from_config(dict(TINY))        # a training run's flat "model" settings
    assert flat.cfg == model.cfg


# ---- poses ---------------------------------------------------------------------------------------
def test_conversion_is_the_papers_rule():
    lsp = get_skeleton("lsp14")
    j = np.random.default_rng(0).uniform(0, 64, (3, 14, 2))
    out, vis = to_mirrornet16(j, "lsp14")
    thorax, pelvis = JOINTS.index("thorax"), JOINTS.index("pelvis")
    np.testing.assert_allclose(out[:, thorax], 0.5 * (j[:, lsp.index("left_shoulder")]
                                                      + j[:, lsp.index("right_shoulder")]))
    np.testing.assert_allclose(out[:, pelvis], 0.5 * (j[:, lsp.index("left_hip")]
                                                      + j[:, lsp.index("right_hip")]))
    assert not np.allclose(out[:, thorax], j[:, lsp.index("neck")])   # not the neck
    np.testing.assert_allclose(out[:, JOINTS.index("neck")], j[:, lsp.index("neck")])
    assert vis.all()
    # a hidden shoulder hides the thorax built from it
    v = np.ones((3, 14), bool)
    v[0, lsp.index("left_shoulder")] = False
    _, vis = to_mirrornet16(j, "lsp14", v)
    assert not vis[0, thorax] and vis[1, thorax]
    # other sets go through LSP-14: the synthetic thorax is the shoulders' mean, not its neck
    s33 = get_skeleton("synthetic33")
    j33 = np.random.default_rng(1).uniform(0, 64, (2, 33, 2))
    out33, _ = to_mirrornet16(j33, "synthetic33")
    np.testing.assert_allclose(out33[:, thorax], 0.5 * (j33[:, s33.index("left_shoulder")]
                                                        + j33[:, s33.index("right_shoulder")]))


def test_heatmaps_round_trip_and_match_numpy_decoding():
    rng = np.random.default_rng(3)
    joints = rng.uniform(4, 60, (4, 16, 2)).astype(np.float32)
    vis = np.ones((4, 16), np.float32)
    vis[0, 5] = 0
    hm = render_heatmaps(joints, vis, 64, 16, "gaussian", 1.0)
    assert hm.shape == (4, 16, 16, 16) and float(tf.reduce_max(hm[0, :, :, 5])) == 0.0
    dec, maxval = decode(hm, 64)
    ok = vis > 0
    assert np.abs(dec.numpy()[ok] - joints[ok]).max() < 0.2          # sub-cell accurate
    ref, _ = decode_heatmaps(hm.numpy())
    np.testing.assert_allclose(dec.numpy()[ok], ((ref + 0.5) * 4 - 0.5)[ok], atol=1e-3)
    one = render_heatmaps(joints, vis, 64, 16, "one_hot")
    assert set(np.unique(one.numpy())) <= {0.0, 1.0}
    cell = np.round((joints + 0.5) / 4 - 0.5)
    d1, _ = decode(one, 64)
    np.testing.assert_allclose(d1.numpy()[ok], ((cell + 0.5) * 4 - 0.5)[ok])
    with pytest.raises(ValueError, match="heatmap_target"):
        render_heatmaps(joints, vis, 64, 16, "box")


# ---- objectives ----------------------------------------------------------------------------------
def _recognizer_grads(model, batch):
    with tf.GradientTape() as tape:
        obj, _ = model.objective_terms(batch, training=False)
        loss = -tf.reduce_mean(obj)
    return tape.gradient(loss, model.recognizer.trainable_variables)


def test_literal_reading_gives_the_baselines_recognizer_gradient(pool):
    tf.keras.utils.set_random_seed(1)
    m = MirrorNet(TINY, labelled_objective="literal")
    batch = _batch(pool)
    m.set_objective("recognizer")
    base = _recognizer_grads(m, batch)
    m.set_objective("supervised")
    literal = _recognizer_grads(m, batch)
    for a, b in zip(base, literal):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # the reflective reading sends the generative terms into the recognizer: it differs
    m.cfg["labelled_objective"] = "reflective"
    m.set_objective("supervised")
    reflective = _recognizer_grads(m, batch)
    diff = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(base, reflective))
    scale = max(float(tf.reduce_max(tf.abs(a))) for a in base)
    assert diff > 1e-4 * scale
    # without the image term and the pose prior the reflective reading is the baseline again
    m.cfg["use_image_term"], m.cfg["use_pose_prior"] = False, False
    bare = _recognizer_grads(m, batch)
    for a, b in zip(base, bare):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_semi_objective_uses_labels_only_where_given(pool):
    tf.keras.utils.set_random_seed(2)
    m = MirrorNet(TINY, objective="semi")
    tf.random.set_seed(5)
    all_lab, _ = m.objective_terms(_batch(pool, labelled=[1] * 6), training=False)
    tf.random.set_seed(5)
    none, _ = m.objective_terms(_batch(pool, labelled=[0] * 6), training=False)
    m.set_objective("recognizer")
    sup, _ = m.objective_terms(_batch(pool), training=False)
    np.testing.assert_allclose(all_lab - none, sup, rtol=1e-4)


def test_distributions_are_tfp_with_the_papers_variances(model, pool):
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    q = PoseRecognizer.distribution(tf.zeros([2, 16, 16, 16]))
    assert isinstance(q, tfd.Independent)
    np.testing.assert_allclose(q.stddev().numpy(), 0.1)                   # variance 0.01
    d = 16 * 16 * 16
    np.testing.assert_allclose(q.entropy().numpy(), 0.5 * d * np.log(2 * np.pi * np.e * 0.01),
                               rtol=1e-5)
    assert float(model.image_generator.distribution(tf.zeros([1, 4, 4, 3])).stddev()[0, 0, 0, 0]) == 1
    assert float(model.pose_generator.distribution(tf.zeros([1, 4, 4, 16])).stddev()[0, 0, 0, 0]) == 1
    x = tf.constant(pool["image"][:2].astype(np.float32) / 127.5 - 1.0)
    qa = model.q_a.distribution(model.reduce(x))
    assert isinstance(qa, tfd.MultivariateNormalDiag)
    kl = tfd.kl_divergence(qa, model.q_a.prior())
    mu, sd = qa.mean().numpy(), qa.stddev().numpy()
    np.testing.assert_allclose(kl, 0.5 * np.sum(mu ** 2 + sd ** 2 - 1 - 2 * np.log(sd), -1),
                               rtol=1e-4)


def test_curriculum_freezing(pool):
    tf.keras.utils.set_random_seed(3)
    m = MirrorNet(TINY)
    ds = tf.data.Dataset.from_tensors(_batch(pool)).repeat()
    for objective, trained in (("recognizer", {"q_y"}), ("mask", {"mask_estimator"}),
                               ("image_vae", {"q_a", "q_s", "p_theta"}),
                               ("pose_vae", {"q_z", "p_phi"}),
                               ("supervised", {"q_y", "q_a", "q_s", "q_z", "p_phi", "p_theta"})):
        m.set_objective(objective)
        m.compile(run_eagerly=True)           # no graph tracing: a test of what trains
        before = {k: [w.numpy().copy() for w in c.trainable_weights or c.weights]
                  for k, c in m.components.items()}
        m.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
        changed = {k for k, c in m.components.items()
                   if any(not np.array_equal(a, w.numpy())
                          for a, w in zip(before[k], c.trainable_weights or c.weights))}
        assert changed == trained, objective
        assert not m.mask_estimator.trainable or objective == "mask"


# ---- data and curriculum -------------------------------------------------------------------------
def test_people_and_label_split(pool):
    assert pool["image"].shape == (48, 64, 64, 3) and pool["joints"].shape == (48, 16, 2)
    assert pool["labelled"].mean() > 0.8 and (pool["visible"] <= pool["labelled"]).all()
    a, b = mc.label_split(100, 0.25, 0)
    assert len(a) == 25 and len(b) == 75 and not set(a) & set(b)
    np.testing.assert_array_equal(a, mc.label_split(100, 0.25, 0)[0])
    assert not np.array_equal(a, mc.label_split(100, 0.25, 1)[0])
    with pytest.raises(ValueError, match="label fraction"):
        mc.label_split(100, 0.0, 0)


def test_flips_mirror_joints_with_the_image(pool):
    idx = np.arange(8)
    ds = mc.training_dataset(pool, idx, 8, seed=0, unlabelled=np.arange(8, 12), unlabelled_batch=2)
    b = next(iter(ds))
    assert b["image"].shape == (10, 64, 64, 3)
    np.testing.assert_array_equal(b["labelled"].numpy(), [1] * 8 + [0] * 2)
    assert float(tf.reduce_sum(b["visible"][8:])) == 0
    flip = get_skeleton("mpii16").flip_indices
    originals = pool["image"].astype(np.float32) / 127.5 - 1
    for img, joints in zip(b["image"].numpy()[:8], b["joints"].numpy()[:8]):
        i = int(np.argmin([min(np.abs(img - o).max(), np.abs(img - o[:, ::-1]).max())
                           for o in originals[:8]]))
        if np.allclose(img, originals[i]):
            np.testing.assert_allclose(joints, pool["joints"][i])
        else:
            np.testing.assert_allclose(img, originals[i][:, ::-1])
            want = pool["joints"][i][flip] * [-1, 1] + [63, 0]
            np.testing.assert_allclose(joints, want, atol=1e-5)


def test_lsp_records_become_a_pool(tmp_path):
    import cv2
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    n = 3
    xy = rng.uniform(20, 80, (n, 14, 2))
    joints = np.zeros((3, 14, n))
    joints[0], joints[1] = xy[..., 0].T + 1, xy[..., 1].T + 1     # MATLAB 1-based
    savemat(tmp_path / "joints.mat", {"joints": joints})
    for i in range(n):
        cv2.imwrite(str(tmp_path / "images" / f"im{i + 1:04d}.jpg"),
                    rng.integers(0, 255, (100, 120, 3), dtype=np.uint8))
    p = mc.dataset_people({"source": "lsp", "dir": str(tmp_path)}, 64)
    assert p["image"].shape == (n, 64, 64, 3) and p["joints"].shape == (n, 16, 2)
    assert p["labelled"].all()
    with pytest.raises(FileNotFoundError, match="data directory"):
        mc.dataset_people({"source": "lsp", "dir": str(tmp_path / "nope")}, 64)
    with pytest.raises(ValueError, match="data.source"):
        mc.dataset_people({"source": "coco", "dir": str(tmp_path)}, 64)


def test_curriculum_runs_resumes_and_keeps_recognizer_updates_equal(pool, tmp_path):
    mask = MirrorNet(TINY).mask_estimator.get_weights()
    steps = {"pretrain": 2, "tail": 6, "image_vae": 1, "pose_vae": 1}
    test_images = pool["image"][:8]
    cur = mc.Curriculum(TINY, tmp_path / "run", pool, 0.5, 0, steps, test_images, mask,
                        log=lambda m: None, run_eagerly=True)
    preds = cur.run("semi")                       # runs step 1, the reflective arm's half, semi
    assert len(preds) == mc.N_LAST and preds[0].shape == (8, 16, 2)
    for f in ("step1.weights.h5", "step2_reflective.weights.h5", "semi.npz", "config.json"):
        assert (tmp_path / "run" / f).exists()
    again = mc.Curriculum(TINY, tmp_path / "run", pool, 0.5, 0, steps, test_images, mask)
    np.testing.assert_array_equal(np.stack(again.run("semi")), np.stack(preds))
    info = json.loads((tmp_path / "run" / "config.json").read_text())
    assert info["family"] == "mirrornet" and info["annotated"] == 24
    # an arm with other generator variances gets its own step-1 VAEs, the same recognizer
    cur.run("reflective_calibrated")
    from dgpose_tf.models.mirrornet import MirrorNet as M
    a, b = M(TINY), M(TINY)
    a.load_weights(tmp_path / "run" / "step1.weights.h5")
    b.load_weights(tmp_path / "run" / "step1_reflective_calibrated.weights.h5")
    for x, y in zip(a.recognizer.weights, b.recognizer.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert any(not np.array_equal(x.numpy(), y.numpy())
               for x, y in zip(a.pose_generator.weights, b.pose_generator.weights))


# ---- evaluation ----------------------------------------------------------------------------------
def test_plausibility_figures(pool):
    assert em.implausible_limb_rate(pool["joints"], pool) == 0.0        # true poses never fail
    stretched = pool["joints"].copy()
    wrist, elbow = JOINTS.index("right_wrist"), JOINTS.index("right_elbow")
    stretched[:, wrist] += 3 * (stretched[:, wrist] - stretched[:, elbow])
    assert em.implausible_limb_rate(stretched, pool) > 0.05
    assert em.pose_density_distance(pool["joints"], pool["joints"]) == 0.0
    assert em.pose_density_distance(stretched, pool["joints"]) > 0.1
    moved, lab = em.perturb(pool["joints"], pool["labelled"], "moved_joint",
                            np.random.default_rng(0))
    assert (np.abs(moved - pool["joints"]).max(-1) > 1).sum(1).tolist() == [1] * len(moved)
    swapped, _ = em.perturb(pool["joints"], pool["labelled"], "arms_swapped")
    np.testing.assert_allclose(swapped[:, JOINTS.index("left_wrist")], pool["joints"][:, wrist])


def test_pose_figures_floor_and_perfect_prediction(pool):
    f = em.pose_figures(pool["joints"], pool["joints"], pool["labelled"])
    assert f == {"pck@0.2_bbox": 1.0, "pck@0.1_bbox": 1.0, "pck@0.5_torso": 1.0, "auc": 1.0}
    floor = np.broadcast_to(em.mean_pose(pool["joints"], pool["labelled"]), pool["joints"].shape)
    g = em.pose_figures(floor, pool["joints"], pool["labelled"])
    assert 0.3 < g["pck@0.2_bbox"] < 0.95 and g["pck@0.1_bbox"] < g["pck@0.2_bbox"]


def test_label_fraction_table_and_aims(pool, tmp_path):
    test = {k: v[:20] for k, v in pool.items()}
    np.savez(tmp_path / "data.npz", **{f"pool_{k}": v for k, v in pool.items()},
             **{f"test_{k}": v for k, v in test.items()})
    run = tmp_path / "labels025_seed0"
    run.mkdir()
    noise = np.random.default_rng(0).normal(0, 1.0, test["joints"].shape)
    np.savez(run / "baseline.npz", preds=np.stack([test["joints"] + 3 * noise] * 3))
    np.savez(run / "reflective.npz", preds=np.stack([test["joints"] + noise] * 3))
    res = em.label_fraction_table(tmp_path)
    rows = res["table"][0.25]
    assert set(rows) == {"mean_pose", "baseline", "reflective"}
    assert rows["reflective"][0]["pck@0.1_bbox"] > rows["baseline"][0]["pck@0.1_bbox"]
    text = em.format_table(res)
    assert "mean pose (floor)" in text and "reflective" in text
    assert em.plot_label_fractions(res, tmp_path / "fractions.png").stat().st_size > 1000
    aims = dict(em.check_aims(res))
    gain = [k for k in aims if "supervised reflective" in k]
    assert gain and aims[gain[0]]


def test_savedmodel_signatures(model, pool, tmp_path):
    from dgpose_tf.serving import export

    export(model, tmp_path / "mirrornet" / "1", track=False)
    loaded = tf.saved_model.load(str(tmp_path / "mirrornet" / "1"))
    assert {"estimate_pose", "reconstruct", "pose_prior_score", "serving_default"} <= set(
        loaded.signatures)
    x = tf.constant(pool["image"][:3].astype(np.float32) / 127.5 - 1.0)
    got = loaded.signatures["estimate_pose"](images=x)
    joints, _, hm = model.estimate_pose(x)
    np.testing.assert_allclose(got["heatmaps"], hm, atol=1e-5)
    np.testing.assert_allclose(got["joints"], joints, atol=1e-3)
    vis = tf.constant(pool["labelled"][:3].astype(np.float32))
    score = loaded.signatures["pose_prior_score"](joints=tf.constant(pool["joints"][:3]),
                                                  visible=vis)["score"]
    np.testing.assert_allclose(score, model.pose_prior_score(
        model.heatmaps(pool["joints"][:3], vis)), rtol=1e-5)


def test_publish_chooses_an_arm_and_refuses_one_below_the_floor(tmp_path):
    publish, fake, _ = publish_sandbox(tmp_path, "mirrornet_synthetic")
    run = tmp_path / "labels025_seed0"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"family": "mirrornet", "model": TINY}))
    for arm in ("baseline", "reflective", "semi"):     # untrained: the mean pose beats them
        tf.keras.utils.set_random_seed(len(arm))
        MirrorNet(TINY).save_weights(run / f"{arm}.weights.h5")
    before = sorted(p.relative_to(fake) for p in fake.rglob("*"))
    with pytest.raises(publish.BelowTrivialError, match="does not beat .*nothing was written"):
        publish.publish(run, n=16, repo=fake)
    assert sorted(p.relative_to(fake) for p in fake.rglob("*")) == before
    published = publish.publish(run, n=16, repo=fake, experimental=True)
    assert "pck@0.1_bbox" in published["below_trivial"]
    choice = published["training"]["arm_selection"]["validation_pck@0.1_bbox"]
    assert set(choice) == {"reflective", "semi"}                 # the baseline is no candidate
    assert published["training"]["arm"].endswith(max(choice, key=choice.get))
    assert (fake / "saved_models" / "mirrornet_synthetic" / "keras-1.weights.h5").exists()
