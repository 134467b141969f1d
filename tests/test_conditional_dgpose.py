import keras
import numpy as np
import pytest
import tensorflow as tf

from dgpose_tf.data import pipeline
from dgpose_tf.models import get_family
from dgpose_tf.models.conditional_dgpose import ConditionalDGPose, heatmaps_from_joints


@pytest.fixture(scope="module")
def data():
    return next(iter(pipeline.synthetic_dataset(8, 8, seed=3)))


@pytest.fixture
def model():
    keras.utils.set_random_seed(0)
    m = ConditionalDGPose(width=0.125)
    m.compile()
    return m


def test_paper_width_shapes_reuse_semi_dgpose_blocks():
    m = ConditionalDGPose()
    m.build()
    assert m.encoder.blocks[0].trainable_weights[0].shape == (7, 7, 27, 64)   # image ⊕ heatmaps
    assert not m.encoder.pose_head and not hasattr(m.encoder, "mu_y")
    x = tf.zeros((2, 64, 64, 3))
    h = tf.zeros((2, 64, 64, 24))
    mu, sigma = m.encoder(tf.concat([x, h], -1))
    assert mu.shape == sigma.shape == (2, 100)
    assert m((x, h)).shape == (2, 64, 64, 3)
    assert get_family("conditional_dgpose") is ConditionalDGPose


def test_heatmaps_from_joints_match_the_pipeline(data):
    labelled = data["pose_mask"].numpy()[:, :28:2] > 0        # the 14 joints' label mask
    h = heatmaps_from_joints(data["joints"].numpy(), labelled)
    np.testing.assert_allclose(h, data["heatmaps"].numpy(), atol=1e-6)
    h128 = heatmaps_from_joints(data["joints"].numpy() * 2, labelled, size=128)
    np.testing.assert_allclose(h128, h, atol=1e-4)


def test_loss_terms_and_training_reduce_l1(model, data):
    out = model.generator_losses(data)
    np.testing.assert_allclose(out["loss"], out["kl_z"] + out["l1"] + out["g_gan"], rtol=1e-5)
    assert (out["kl_z"].numpy() > 0).all()
    hist = model.fit(tf.data.Dataset.from_tensors(data).repeat(), steps_per_epoch=6, epochs=3,
                     verbose=0).history
    assert hist["l1"][-1] < hist["l1"][0]
    assert np.isfinite(hist["d_loss"]).all()


def test_applications(model, data):
    x, h = data["image"], data["heatmaps"]
    rec = model.reconstruct(x, h)
    np.testing.assert_allclose(rec, model((x, h)), atol=1e-6)         # deterministic
    # transfer keeps the appearance code and changes the pose: G(E(x, h), h') with h' rolled
    h2 = tf.roll(h, 1, 0)
    np.testing.assert_allclose(model.transfer(x, h, h2), model.generate(h2, model.encode(x, h)),
                               atol=1e-6)
    assert not np.allclose(model.transfer(x, h, h2), rec)
    s1, s2 = model.sample(h, seed=1), model.sample(h, seed=2)
    assert s1.shape == (8, 64, 64, 3) and not np.allclose(s1, s2)
    assert np.abs(rec.numpy()).max() <= 1.0


def test_config_round_trip_and_bad_input(model, data):
    clone = ConditionalDGPose.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone((data["image"], data["heatmaps"])),
                               model((data["image"], data["heatmaps"])), atol=1e-5)
    with pytest.raises(ValueError, match="heatmaps of shape"):
        model.reconstruct(data["image"], data["heatmaps"][..., :14])
    with pytest.raises(ValueError, match="8 images but 4 heatmaps"):
        model.reconstruct(data["image"], data["heatmaps"][:4])
    with pytest.raises(ValueError, match="images of shape"):
        model.reconstruct(data["image"][:, :32], data["heatmaps"])


def test_body_hole_covers_the_rendered_person():
    from dgpose_tf.models.conditional_dgpose import body_hole

    b = next(iter(pipeline.synthetic_dataset(32, 32, seed=4, extras=True)))
    hole, person = body_hole(b["heatmaps"]).numpy()[..., 0], b["mask"].numpy() > 0
    assert hole.min() >= 0 and hole.max() == 1
    assert (hole[person] > 0).mean() > 0.97                  # the person is inside the hole
    assert (hole > 0).mean() < 0.5                           # and most of the image is not


def test_background_stream_keeps_the_source_outside_the_hole(data, tmp_path):
    from dgpose_tf.models.conditional_dgpose import body_hole

    keras.utils.set_random_seed(0)
    plain = ConditionalDGPose(width=0.125)
    plain.build()
    plain.save_weights(tmp_path / "plain.weights.h5")
    m = ConditionalDGPose(width=0.125, background_stream=True)
    m.load_warm_start(str(tmp_path / "plain.weights.h5"))          # grown: 4 zero channels
    assert m.decoder.convs[0].trainable_weights[0].shape[2] == \
        plain.decoder.convs[0].trainable_weights[0].shape[2] + 4
    x, h = data["image"], data["heatmaps"]
    h2 = tf.roll(h, 1, 0)
    hole = np.maximum(body_hole(h2).numpy(), body_hole(h).numpy())
    out = m.transfer(x, h, h2).numpy()
    # outside both poses' hole the appearance image is kept; inside, the grown model draws
    # exactly what the file's model draws (the new channels start at zero)
    np.testing.assert_allclose(out[hole[..., 0] == 0], x.numpy()[hole[..., 0] == 0], atol=1e-6)
    mixed = hole * plain.transfer(x, h, h2).numpy() + (1 - hole) * x.numpy()
    np.testing.assert_allclose(out, mixed, atol=1e-4)
    # without an appearance image the whole picture is drawn
    z = m.encode(x, h)
    np.testing.assert_allclose(m.generate(h, z), plain.generate(h, z), atol=1e-4)
    assert ConditionalDGPose.from_config(m.get_config()).background_stream
    with pytest.raises(ValueError, match="heatmaps"):
        m.generate(h, z, images=x, source_heatmaps=h[..., :3])
    with pytest.raises(ValueError, match="source_heatmaps"):
        m.generate(h, z, images=x)
    with pytest.raises(ValueError, match="hole_threshold"):
        ConditionalDGPose(width=0.125, background_stream=True, hole_threshold=1.5)
    m.compile()
    losses = m.generator_losses(data)
    assert np.isfinite(losses["loss"].numpy()).all()
    # a file of another width is refused with its name
    other = ConditionalDGPose(width=0.25)
    other.build()
    other.save_weights(tmp_path / "wide.weights.h5")
    with pytest.raises(ValueError):
        ConditionalDGPose(width=0.125, background_stream=True).load_warm_start(
            str(tmp_path / "wide.weights.h5"))
