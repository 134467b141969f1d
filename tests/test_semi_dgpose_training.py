
import keras
import numpy as np
import pytest
import tensorflow as tf

from dgpose_tf.models.semi_dgpose import SemiDGPose


def batch(n=8, labelled=0.5, seed=0):
    rng = np.random.default_rng(seed)
    has = (np.arange(n) < int(round(labelled * n))).astype("float32")
    return {"image": tf.constant(rng.uniform(-1, 1, (n, 64, 64, 3)), tf.float32),
            "pose_vector": tf.constant(rng.uniform(-0.8, 0.8, (n, 48)), tf.float32),
            "pose_mask": tf.ones((n, 48)), "has_label": tf.constant(has)}


@pytest.fixture
def model():
    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.125)
    m.compile()
    return m


def posterior_y_variables(m):
    return [m.encoder.mu_y.kernel, m.encoder.mu_y.bias, m.encoder.sigma_y.kernel,
            m.encoder.sigma_y.bias]


def decoder_side_gradients(m, b):
    with tf.GradientTape() as tape:
        out = m.generator_losses(b, training=True)
        loss = tf.reduce_sum(out["l1"] + out["g_gan"])      # the terms that pass the decoder
    return out, tape.gradient(loss, posterior_y_variables(m))


def test_labels_go_to_the_decoder_and_block_its_gradient(model):
    b = batch(labelled=1.0)
    out, grads = decoder_side_gradients(model, b)
    np.testing.assert_array_equal(out["y_decoded"].numpy(), b["pose_vector"].numpy())
    for g in grads:
        assert g is not None and not np.any(g.numpy())     # exactly zero
    # unlabelled samples do send decoder gradients into q(y|x): the check above can fail
    _, grads = decoder_side_gradients(model, batch(labelled=0.0))
    assert any(np.any(g.numpy()) for g in grads)


def test_loss_terms_by_supervision(model):
    b = batch(labelled=0.5)
    out = model.generator_losses(b)
    has = b["has_label"].numpy()
    assert (out["kl_y"].numpy()[has == 1] == 0).all() and (out["kl_y"].numpy()[has == 0] > 0).all()
    assert (out["pose_reg"].numpy()[has == 0] == 0).all()
    assert (out["pose_reg"].numpy()[has == 1] > 0).all()
    assert (out["kl_z"].numpy() > 0).all()


def test_a_few_steps_reduce_the_loss(model):
    ds = tf.data.Dataset.from_tensors(batch(labelled=0.5)).repeat()
    hist = model.fit(ds, steps_per_epoch=6, epochs=3, verbose=0).history
    assert hist["l1"][-1] < hist["l1"][0]
    assert hist["pose_reg"][-1] < hist["pose_reg"][0]
    assert np.isfinite(hist["d_loss"]).all()


def test_kl_warmup_ramps_the_kl_weight_and_defaults_to_the_paper():
    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625)
    m.compile()
    assert m.kl_weight() == 1.0                        # the paper: weight 1 from the start
    m.compile(kl_warmup=10, beta_1=0.5, label_smoothing=0.1)
    b = batch(4, labelled=0.5)
    out = m.generator_losses(b)
    assert float(m.kl_weight()) == 0.0                 # step 0: no KL pull yet
    expected = out["pose_reg"] + out["l1"] + out["g_gan"]   # γ = 1
    np.testing.assert_allclose(out["loss"], expected, rtol=1e-5)
    m.optimizer.iterations.assign(5)
    assert float(m.kl_weight()) == pytest.approx(0.5)
    m.optimizer.iterations.assign(50)
    assert float(m.kl_weight()) == 1.0
    assert m.optimizer.beta_1 == 0.5 and m.d_optimizer.beta_1 == 0.5
    with pytest.raises(ValueError, match="label_smoothing"):
        m.compile(label_smoothing=1.0)
    m.compile(alpha=100.0, alpha_per_pixel=True)       # α on a per-pixel-mean L1 scale
    assert m.alpha == 100.0 * 64 * 64 * 3
    out = m.generator_losses(b)
    has = b["has_label"].numpy()
    mu_y = m.encoder(b["image"], training=True)[2].numpy()
    sq = np.mean(np.square(mu_y - b["pose_vector"].numpy()), -1)
    np.testing.assert_allclose(out["pose_reg"], has * m.alpha * sq, rtol=1e-3)


def test_pose_warm_start_learns_from_labelled_samples_only():
    from dgpose_tf.models.semi_dgpose import PoseTrainer

    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625)
    m.build()
    trainer = PoseTrainer(m.encoder, weight_decay=0.0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [v.numpy().copy() for v in m.encoder.trainable_variables]
    trainer.train_step(batch(4, labelled=0.0))
    # no label in the batch: nothing to learn from, no weight moves
    for a, v in zip(before, m.encoder.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())
    before = [v.numpy().copy() for v in m.encoder.mu_y.trainable_variables]
    b = batch(8, labelled=1.0)
    losses = [float(trainer.train_step(b)["loss"]) for _ in range(30)]
    assert losses[-1] < losses[0]
    assert any(not np.allclose(a, v.numpy()) for a, v in
               zip(before, m.encoder.mu_y.trainable_variables))


def test_pose_phase_never_runs_the_network_on_unlabelled_samples():
    from dgpose_tf.models.semi_dgpose import PoseTrainer, pose_regression_error

    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625)
    m.build()
    trainer = PoseTrainer(m.encoder, weight_decay=0.0)
    b = batch(6, labelled=0.5)
    poisoned = dict(b, image=tf.concat([b["image"][:3], tf.fill((3, 64, 64, 3), np.nan)], 0))
    loss = float(trainer.phase_loss(poisoned))       # NaN images of unlabelled samples: unused
    assert np.isfinite(loss)
    mu_y = m.encoder(b["image"][:3], training=True)[2]
    want = pose_regression_error(mu_y, b["pose_vector"][:3], b["pose_mask"][:3])
    np.testing.assert_allclose(loss, float(tf.reduce_mean(want)), rtol=1e-5)
    assert float(trainer.phase_loss(batch(4, labelled=0.0))) == 0.0


def test_mapper_loss_is_the_papers_l2_or_binary_cross_entropy():
    from dgpose_tf.models.semi_dgpose import Mapper, MapperTrainer

    mapper = Mapper(0.0625)
    mapper.build()
    rng = np.random.default_rng(0)
    batch = {"pose_vector": tf.constant(rng.normal(size=(2, 48)), tf.float32),
             "heatmaps": tf.constant(rng.uniform(size=(2, 64, 64, 24)), tf.float32)}
    p = mapper(batch["pose_vector"], training=True).numpy().astype(np.float64)
    y = batch["heatmaps"].numpy()
    l2 = float(MapperTrainer(mapper).phase_loss(batch))
    bce = float(MapperTrainer(mapper, loss="bce").phase_loss(batch))
    np.testing.assert_allclose(l2, np.mean((p - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(bce, -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rtol=1e-3)
    with pytest.raises(ValueError, match="Mapper's loss must be one of l2, bce"):
        MapperTrainer(mapper, loss="l1")


def test_mapper_phases_continue_with_overrides_and_name_unknown_keys():
    from dgpose_tf.fit.semi_dgpose import mapper_phases

    phases = mapper_phases({"steps": 4000, "learning_rate": 1e-3,
                            "then": [{"loss": "bce", "steps": 1750}]}, {"learning_rate": 1e-4})
    assert phases == [{"steps": 4000, "loss": "l2", "learning_rate": 1e-3},
                      {"steps": 1750, "loss": "bce", "learning_rate": 1e-3}]
    assert mapper_phases({}, {"learning_rate": 5e-4}) == [
        {"steps": 2000, "loss": "l2", "learning_rate": 5e-4}]
    with pytest.raises(ValueError, match=r"mapper.then: unknown key\(s\) \['batch'\]"):
        mapper_phases({"then": [{"batch": 8}]}, {})


def test_pose_phase_with_a_frozen_trunk_moves_only_the_pose_map():
    from dgpose_tf.models.semi_dgpose import PoseTrainer

    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625, pose_from="heatmaps")
    m.build()
    for block in m.encoder.blocks:
        block.trainable = False
    trainer = PoseTrainer(m.encoder, weight_decay=0.0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    trunk = [v.numpy().copy() for blk in m.encoder.blocks for v in blk.weights]
    head = [v.numpy().copy() for v in m.encoder.pose_map.trainable_variables]
    b = batch(8, labelled=1.0)
    losses = [float(trainer.train_step(b)["loss"]) for _ in range(20)]
    assert losses[-1] < losses[0]
    for a, v in zip(trunk, [v for blk in m.encoder.blocks for v in blk.weights]):
        np.testing.assert_array_equal(a, v.numpy())               # BN statistics included
    assert any(not np.allclose(a, v.numpy())
               for a, v in zip(head, m.encoder.pose_map.trainable_variables))


def test_background_stream_training_step_is_finite_and_frozen_parts_stay():
    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625, background_stream=True)
    m.compile()
    m.encoder.trainable = False
    before = [v.numpy().copy() for v in m.encoder.weights]
    logs = m.train_step(batch(4, labelled=1.0))
    assert np.isfinite(float(logs["loss"]))
    for a, v in zip(before, m.encoder.weights):
        np.testing.assert_array_equal(a, v.numpy())


def test_part_colours_training_step_moves_the_new_decoder_inputs():
    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625, background_stream=True, part_colours=True)
    m.compile(learning_rate=1e-3)
    m.encoder.trainable = False
    kernel = m.decoder.convs[0].conv.kernel
    kernel.assign(np.concatenate([kernel.numpy()[:, :, :-3],
                                  np.zeros(kernel.shape[:2] + (3, kernel.shape[3]))], 2))
    logs = m.train_step(batch(4, labelled=1.0))
    assert np.isfinite(float(logs["loss"]))
    assert np.any(kernel.numpy()[:, :, -3:] != 0)          # the painted colours reach the loss


def test_map_targets_are_gaussians_on_the_label_summing_to_one():
    from dgpose_tf.models.semi_dgpose import map_targets

    u = np.zeros((1, 48), "float32")
    u[0, :2] = (10.5 / 16 - 1, 20.5 / 16 - 1)            # point 0 on the centre of cell (20, 10)
    t = np.asarray(map_targets(u, 32, sigma=1.0)).reshape(1, 24, 32, 32)
    np.testing.assert_allclose(t.sum((2, 3)), 1.0, rtol=1e-5)
    assert np.unravel_index(t[0, 0].argmax(), (32, 32)) == (20, 10)
    g = np.exp(-0.5 * np.arange(-2, 3) ** 2)               # σ = 1 cell along the row
    np.testing.assert_allclose(t[0, 0, 20, 8:13] / t[0, 0, 20, 10], g, rtol=1e-4)
    np.testing.assert_allclose(t[0, 0, 18:23, 10] / t[0, 0, 20, 10], g, rtol=1e-4)


def test_pose_phase_map_loss_is_the_cross_entropy_to_the_targets():
    from dgpose_tf.models.semi_dgpose import (PoseTrainer, map_targets, pose_regression_error,
                                              soft_argmax)

    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625, pose_from="residual")
    m.build()
    b = batch(2, labelled=1.0)
    mask = np.ones((2, 48), "float32")
    mask[1, 6:8] = 0.0                                     # point 3 of sample 1 unlabelled
    b["pose_mask"] = tf.constant(mask)
    logits = m.encoder.pose_net.logits(b["image"], training=True).numpy()
    p = tf.nn.log_softmax(logits.transpose(0, 3, 1, 2).reshape(2, 24, -1), -1).numpy()
    t = np.asarray(map_targets(b["pose_vector"], 32, 1.5))
    ce = -(t * p).sum(-1) * mask[:, ::2]
    reg = np.asarray(pose_regression_error(soft_argmax(logits), b["pose_vector"], mask))
    want = np.mean(reg + 0.5 * ce.sum(-1) / mask[:, ::2].sum(-1))
    got = float(PoseTrainer(m.encoder, map_weight=0.5, map_sigma=1.5).phase_loss(b))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    with pytest.raises(ValueError, match="map_weight needs an encoder with pose_from='residual'"):
        PoseTrainer(SemiDGPose(width=0.0625).encoder, map_weight=1.0)


def _judged_model(weight=2.0):
    keras.utils.set_random_seed(0)
    # an untrained Mapper's maps are ~0.5 everywhere: a hole threshold below that cuts a hole
    m = SemiDGPose(width=0.0625, pose_from="residual", background_stream=True, part_colours=True,
                   hole_threshold=0.45)
    m.compile(learning_rate=1e-3, pose_consistency=weight)
    m.encoder.trainable = False
    return m


def test_pose_consistency_draws_a_transfer_the_pose_network_judges():
    from dgpose_tf.models.semi_dgpose import map_loss, map_targets

    m = _judged_model(2.0)
    b = batch(4, labelled=1.0)
    x, y = b["image"], b["pose_vector"]
    z = tf.random.normal((4, 100))
    heat = m.mapper(y)
    drawn, y_to = m._swapped(x, y, z, heat, training=False)
    # the drawing a training step judges is what transfer draws: the next sample's pose,
    # this sample's background and part colours
    np.testing.assert_array_equal(y_to.numpy(), np.roll(y.numpy(), 1, 0))
    np.testing.assert_allclose(drawn.numpy(), m.generate(y_to, z, images=x, source_pose=y).numpy(),
                               atol=1e-5)
    out = m.generator_losses(b, training=True)
    assert out["x_fake"].shape[0] == 8                     # D calls both drawings fake
    with tf.GradientTape() as tape:
        term = tf.reduce_sum(m.generator_losses(b, training=True)["pose_consistency"])
    grads = tape.gradient(term, m.decoder.trainable_variables)
    assert float(term) > 0 and any(np.any(g.numpy()) for g in grads if g is not None)
    # a judge whose maps are the targets of the pose asked for scores below a blind one
    sharp = tf.transpose(tf.reshape(map_targets(y_to, 32), (4, 24, 32, 32)), (0, 2, 3, 1))
    np.testing.assert_array_less(map_loss(tf.math.log(sharp + 1e-6), y_to, b["pose_mask"]),
                                 map_loss(tf.zeros((4, 32, 32, 24)), y_to, b["pose_mask"]))


def test_pose_consistency_is_off_by_default_and_checked():
    m = SemiDGPose(width=0.0625, pose_from="residual", background_stream=True)
    m.compile()
    out = m.generator_losses(batch(4, labelled=0.5))
    assert not np.any(out["pose_consistency"].numpy()) and out["x_fake"].shape[0] == 4
    with pytest.raises(ValueError, match="pose_consistency needs pose_from='residual'"):
        SemiDGPose(width=0.0625).compile(pose_consistency=1.0)
    with pytest.raises(ValueError, match="pose_consistency must be ≥ 0"):
        SemiDGPose(width=0.0625, pose_from="residual").compile(pose_consistency=-1.0)


def test_pose_consistency_step_trains_the_decoder_not_the_frozen_judge():
    m = _judged_model(5.0)
    before = [v.numpy().copy() for v in m.encoder.weights]
    dec = [v.numpy().copy() for v in m.decoder.trainable_variables]
    logs = m.train_step(batch(4, labelled=0.25))
    assert np.isfinite(float(logs["loss"])) and float(logs["pose_consistency"]) > 0
    assert np.isfinite(float(logs["d_loss"]))
    for a, v in zip(before, m.encoder.weights):
        np.testing.assert_array_equal(a, v.numpy())
    assert any(np.any(a != v.numpy()) for a, v in zip(dec, m.decoder.trainable_variables))


def test_pose_consistency_asks_for_every_point_of_an_estimate_and_the_labelled_points():
    m = _judged_model(1.0)
    b = batch(4, labelled=0.5)                            # samples 0, 1 labelled; 2, 3 not
    b["pose_mask"] = tf.zeros((4, 48))                     # no point labelled anywhere
    term = m.generator_losses(b, training=False)["pose_consistency"].numpy()
    # sample k is drawn in sample k-1's pose: 1 and 2 in labelled poses with no labelled point,
    # 3 and 0 in estimates (samples 2 and 3), whose every point counts
    np.testing.assert_array_equal(term[[1, 2]], 0.0)
    assert (term[[0, 3]] > 0).all()
