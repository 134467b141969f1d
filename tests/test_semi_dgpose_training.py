import subprocess
import sys
import textwrap

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


def test_mirrored_strategy_on_two_logical_cpus():
    code = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from dgpose_tf.models.semi_dgpose import SemiDGPose
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        rng = np.random.default_rng(0)
        b = {"image": rng.uniform(-1, 1, (8, 64, 64, 3)).astype("float32"),
             "pose_vector": rng.uniform(-1, 1, (8, 48)).astype("float32"),
             "pose_mask": np.ones((8, 48), "float32"),
             "has_label": (np.arange(8) % 2).astype("float32")}
        with strategy.scope():
            m = SemiDGPose(width=0.125)
            m.compile()
        before = [w.numpy().copy() for w in m.decoder.trainable_weights[:2]]
        h = m.fit(tf.data.Dataset.from_tensors(b).repeat(), steps_per_epoch=3, epochs=1, verbose=0)
        after = [w.numpy() for w in m.decoder.trainable_weights[:2]]
        print("replicas", strategy.num_replicas_in_sync)
        print("changed", all(not np.allclose(a, c) for a, c in zip(before, after)))
        print("finite", all(np.isfinite(v[-1]) for v in h.history.values()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2" in out.stdout and "changed True" in out.stdout and "finite True" in out.stdout
