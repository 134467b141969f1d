import keras
import numpy as np
import pytest

from dgpose_tf.layers import ConvBlock, ResidualBlock
from dgpose_tf.models import semi_dgpose as S


@pytest.fixture(scope="module")
def paper_model():
    m = S.SemiDGPose(width=1.0)
    m.build()
    return m


def images(n=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 64, 64, 3)).astype("float32")


def chain(blocks, x):
    shapes = []
    for b in blocks:
        x = b(x)
        shapes.append(tuple(x.shape[1:]))
    return x, shapes


def test_table_a1_encoder_shapes(paper_model):
    _, shapes = chain(paper_model.encoder.blocks, images(1))
    assert shapes == [(30, 30, 64), (15, 15, 128), (8, 8, 256), (4, 4, 512), (2, 2, 512),
                      (1, 1, 512), (1, 1, 512), (1, 1, 512), (1, 1, 512), (1, 1, 512)]
    mu_z, s_z, mu_y, s_y = paper_model.encoder(images(1))
    assert mu_z.shape == s_z.shape == (1, 100) and mu_y.shape == s_y.shape == (1, 48)
    assert (np.asarray(s_z) > 0).all() and (np.asarray(s_y) > 0).all()


def test_table_a1_mapper_decoder_discriminator_shapes(paper_model):
    y = np.zeros((1, 48), "float32")
    hm, shapes = chain(paper_model.mapper.blocks, np.zeros((1, 1, 1, 48), "float32"))
    assert shapes == [(4, 4, 512), (8, 8, 256), (16, 16, 128), (32, 32, 64), (64, 64, 24)]
    hm = np.asarray(paper_model.mapper(y))
    assert hm.shape == (1, 64, 64, 24) and hm.min() >= 0 and hm.max() <= 1
    dec = paper_model.decoder
    x, shapes = chain(dec.up, np.zeros((1, 1, 1, 100), "float32"))
    assert shapes == [(4, 4, 512), (8, 8, 256), (16, 16, 128), (32, 32, 64), (64, 64, 128)]
    x, shapes = chain(dec.convs, np.concatenate([np.asarray(x), hm], -1))
    assert shapes == [(64, 64, 512), (64, 64, 256), (64, 64, 128), (64, 64, 128)]
    out = np.asarray(dec.out(x))
    assert out.shape == (1, 64, 64, 3) and np.abs(out).max() <= 1
    _, shapes = chain(paper_model.discriminator.blocks, images(1))
    assert shapes == [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512), (1, 1, 1)]


def test_layer_settings_follow_the_paper(paper_model):
    convs = [b for b in paper_model.encoder.blocks if isinstance(b, ConvBlock)]
    assert convs[0].kernel == 7 and convs[0].activation == "leaky_relu" and convs[0].slope == 0.01
    assert not convs[0].batch_norm and convs[1].batch_norm and convs[1].bn.momentum == 0.9
    assert convs[1].bn.center and convs[1].bn.scale                 # learnable affine
    assert isinstance(convs[0].conv.kernel_initializer, keras.initializers.HeNormal)
    assert paper_model.decoder.up[0].slope == 0.2
    assert paper_model.mapper.trainable is False and not paper_model.mapper.trainable_weights


@pytest.mark.parametrize("transpose,n,k,s,p", [(False, 64, 7, 2, 1), (False, 15, 3, 2, 1),
                                               (True, 1, 4, 1, 0), (True, 8, 4, 2, 1),
                                               (False, 64, 5, 1, 2)])
def test_caffe_arithmetic(transpose, n, k, s, p):
    block = ConvBlock(3, k, s, p, transpose=transpose)
    out = block(np.zeros((1, n, n, 2), "float32"))
    expected = (n - 1) * s - 2 * p + k if transpose else (n + 2 * p - k) // s + 1
    assert out.shape == (1, expected, expected, 3)
    assert block.compute_output_shape((1, n, n, 2)) == (1, expected, expected, 3)


def _caffe_deconv(x, w, s, p):
    """Caffe / PyTorch ConvTranspose2d by definition: scatter each input pixel times the kernel
    ``(k, k, in, out)`` at stride ``s``, then crop ``p`` on each side."""
    n, h, wd, cin = x.shape
    k, cout = w.shape[0], w.shape[3]
    full = np.zeros((n, (h - 1) * s + k, (wd - 1) * s + k, cout))
    for i in range(h):
        for j in range(wd):
            full[:, i * s:i * s + k, j * s:j * s + k] += np.einsum("nc,klco->nklo",
                                                                   x[:, i, j], w)
    return full[:, p:full.shape[1] - p, p:full.shape[2] - p] if p else full


def test_deconvolution_values_match_caffe_crop_arithmetic():
    """The decoder's DECONV(K4, S2, P1): values equal the scatter-and-crop definition, and every
    interior output pixel receives the same number of kernel taps (2 × 2), so the layer adds no
    checkerboard by uneven overlap (Odena et al. 2016); only the one-pixel border gets half."""
    block = ConvBlock(3, 4, 2, 1, transpose=True, kernel_initializer="glorot_uniform")
    x = np.random.default_rng(1).standard_normal((2, 5, 5, 2)).astype("float32")
    out = np.asarray(block(x))
    w = np.asarray(block.conv.kernel)          # (k, k, out, in)
    ref = _caffe_deconv(x, np.transpose(w, (0, 1, 3, 2)), 2, 1)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    ones = ConvBlock(1, 4, 2, 1, transpose=True, kernel_initializer="ones")
    taps = np.asarray(ones(np.ones((1, 8, 8, 1), "float32")))[0, ..., 0]
    assert taps.shape == (16, 16)
    np.testing.assert_array_equal(taps[1:-1, 1:-1], 4.0)
    np.testing.assert_array_equal(taps[0, 1:-1], 2.0)
    assert taps[0, 0] == 1.0


def test_residual_block_refuses_other_sizes():
    with pytest.raises(ValueError, match="1×1"):
        ResidualBlock(8)(np.zeros((1, 2, 2, 8), "float32"))
    with pytest.raises(ValueError, match=r"\(batch, 64, 64, 3\)"):
        S.SemiDGPose(width=0.125).estimate_pose(np.zeros((1, 128, 128, 3), "float32"))


def test_width_multiplier_and_config_round_trip():
    m = S.SemiDGPose(width=0.125)
    m.build()
    assert m.encoder.blocks[0].filters == 8 and m.decoder.convs[0].filters == 64
    assert m.mapper.blocks[-1].filters == 24 and m.decoder.out.filters == 3
    clone = S.SemiDGPose.from_config(m.get_config())
    clone.build()
    clone.set_weights(m.get_weights())
    x = images(3)
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(m(x)), atol=1e-6)
    for net in (m.encoder, m.mapper, m.decoder, m.discriminator):
        again = type(net).from_config(net.get_config())
        assert again.width == net.width


def test_sigma_init_starts_the_posterior_nearly_deterministic():
    x = images(4)
    default = S.Encoder(0.125)
    default.build()
    sharp = S.Encoder(0.125, sigma_init=0.05)
    sharp.build()
    assert float(np.mean(default(x)[1])) > 0.3        # softplus(0 ± …): σ ≈ 0.7
    assert float(np.mean(sharp(x)[1])) < 0.15 and float(np.mean(sharp(x)[3])) < 0.15
    assert S.Encoder.from_config(sharp.get_config()).sigma_init == 0.05
    m = S.SemiDGPose(width=0.125, sigma_init=0.05)
    assert S.SemiDGPose.from_config(m.get_config()).encoder.sigma_init == 0.05
    default.reset_sigma(0.2)                            # a warm start's restart: σ exactly 0.2
    np.testing.assert_allclose(np.asarray(default(x)[1]), 0.2, atol=1e-5)
    with pytest.raises(ValueError, match="sigma_init"):
        S.Encoder(0.125, sigma_init=0.0)


def test_applications_are_consistent():
    m = S.SemiDGPose(width=0.125)
    m.build()
    x = images(3, seed=1)
    rec = np.asarray(m.reconstruct(x))
    assert rec.shape == (3, 64, 64, 3)
    np.testing.assert_allclose(np.asarray(m(x)), rec, atol=1e-6)
    np.testing.assert_allclose(np.asarray(m.transfer(x, x)), rec, atol=1e-6)
    np.testing.assert_allclose(np.asarray(m.manipulate(x, scale=1.0)), rec, atol=1e-5)
    assert not np.allclose(np.asarray(m.manipulate(x, scale=1.2)), rec, atol=1e-4)
    y, z = m.encode(x)
    joints = np.asarray(m.estimate_pose(x))
    np.testing.assert_allclose(joints, ((np.asarray(y)[:, :28].reshape(3, 14, 2) + 1) * 64 - 1) / 2,
                               rtol=1e-6)
    fixed = np.asarray(m.sample(3, pose=np.asarray(y)[0], appearance=np.asarray(z)[0]))
    np.testing.assert_allclose(fixed[1], rec[0], atol=1e-5)
    assert np.asarray(m.sample(4, seed=3)).shape == (4, 64, 64, 3)
    q_y, q_z = m.posterior(x)
    assert q_y.event_shape == (48,) and q_z.event_shape == (100,)
    with pytest.raises(ValueError, match="100 values"):
        m.sample(2, appearance=np.zeros(99))


def test_pose_map_head_soft_argmax_finds_the_peak_cell():
    head = S.PoseMapHead(0.0625)
    taps = [images(1), np.zeros((1, 15, 15, 8), "float32"), np.zeros((1, 8, 8, 16), "float32"),
            np.zeros((1, 4, 4, 32), "float32")]
    head.build([t.shape for t in taps])
    logits = np.full((1, 16, 16, 24), -50.0, "float32")
    logits[0, 3, 12, :] = 50.0                                   # row 3, column 12
    head.logits = lambda taps, training=None: logits             # the soft-argmax alone
    u = np.asarray(head(taps)).reshape(24, 2)
    # cell i's centre is (i + 1/2) / 8 − 1 in the pose vector's [−1, 1] coordinates
    np.testing.assert_allclose(u, np.tile([(12.5 / 8) - 1, (3.5 / 8) - 1], (24, 1)), atol=1e-5)


def test_pose_from_heatmaps_gives_a_pose_vector_and_names_bad_choices():
    m = S.SemiDGPose(width=0.0625, pose_from="heatmaps")
    m.build()
    mu_z, s_z, mu_y, s_y = m.encoder(images(2))
    assert mu_y.shape == s_y.shape == (2, 48) and np.abs(np.asarray(mu_y)).max() < 1
    assert not hasattr(m.encoder, "mu_y") and m.encoder.pose_map.built
    assert S.SemiDGPose.from_config(m.get_config()).pose_from == "heatmaps"
    with pytest.raises(ValueError, match="pose_from must be one of fc, heatmaps"):
        S.SemiDGPose(width=0.0625, pose_from="soft")


def test_soft_argmax_finds_the_peak_cell_of_a_32_grid():
    logits = np.full((2, 32, 32, 24), -50.0, "float32")
    logits[0, 5, 30, :] = 50.0                                   # row 5, column 30
    logits[1, :, :, :] = 0.0                                     # flat: the centre of the image
    u = np.asarray(S.soft_argmax(logits)).reshape(2, 24, 2)
    # cell i's centre is (i + 1/2) / 16 − 1
    np.testing.assert_allclose(u[0], np.tile([30.5 / 16 - 1, 5.5 / 16 - 1], (24, 1)), atol=1e-5)
    np.testing.assert_allclose(u[1], 0.0, atol=1e-5)
    joints = np.asarray(S.vector_to_joints(np.asarray(S.soft_argmax(logits))[:1]))
    np.testing.assert_allclose(joints[0, 0], [60.5, 10.5], atol=1e-4)   # pixels 60-61, 10-11


def test_pose_from_residual_has_its_own_pose_network_on_the_image():
    m = S.SemiDGPose(width=0.0625, pose_from="residual")
    m.build()
    mu_z, s_z, mu_y, s_y = m.encoder(images(2))
    assert mu_y.shape == s_y.shape == (2, 48) and np.abs(np.asarray(mu_y)).max() < 1
    assert not hasattr(m.encoder, "mu_y") and not hasattr(m.encoder, "pose_map")
    assert m.encoder.pose_net.logits(images(1)).shape == (1, 32, 32, 24)
    # μ_y does not depend on the Table A1 trunk: zeroing it leaves the pose unchanged
    for v in m.encoder.blocks[0].weights:
        v.assign(np.zeros(v.shape, "float32"))
    np.testing.assert_allclose(m.encoder(images(2))[2], mu_y, atol=1e-6)
    assert S.SemiDGPose.from_config(m.get_config()).pose_from == "residual"


def test_grown_model_keeps_the_file_and_the_appearance_image_outside_the_hole(tmp_path):
    from dgpose_tf.models.background_stream import body_hole

    keras.utils.set_random_seed(0)
    plain = S.SemiDGPose(width=0.0625)
    plain.build()
    plain.save_weights(tmp_path / "plain.weights.h5")
    m = S.SemiDGPose(width=0.0625, background_stream=True, pose_from="heatmaps")
    m.load_warm_start(str(tmp_path / "plain.weights.h5"))
    for name in ("conv1", "res10"):                              # the trunk is the file's
        a = {v.path.split("/", 1)[1]: v for v in plain.encoder.weights}
        for v in m.encoder.weights:
            if name in v.path:
                np.testing.assert_array_equal(v.numpy(), a[v.path.split("/", 1)[1]].numpy())
    x = images(4)
    y, z = plain.encode(x)
    y_b = np.roll(np.asarray(y), 1, 0)
    out = m.generate(y_b, z, images=x, source_pose=y).numpy()
    hole = np.maximum(body_hole(m.mapper(y_b)).numpy(), body_hole(m.mapper(y)).numpy())
    outside = hole[..., 0] == 0
    assert outside.any()
    np.testing.assert_allclose(out[outside], x[outside], atol=1e-6)
    mixed = hole * plain.generate(y_b, z).numpy() + (1 - hole) * x   # zero new channels
    np.testing.assert_allclose(out, mixed, atol=1e-4)
    np.testing.assert_allclose(m.generate(y_b, z), plain.generate(y_b, z), atol=1e-4)
    with pytest.raises(ValueError, match="source_pose"):
        m.generate(y_b, z, images=x)
    with pytest.raises(ValueError, match="hole_threshold"):
        S.SemiDGPose(width=0.0625, background_stream=True, hole_dilation=0)
    assert S.SemiDGPose.from_config(m.get_config()).background_stream
    # a file of the paper's model without either option still loads as before
    S.SemiDGPose(width=0.0625).load_warm_start(str(tmp_path / "plain.weights.h5"))


def test_part_colours_paint_each_parts_mean_colour_at_the_pose_to_draw():
    from dgpose_tf.models.background_stream import PAINT_FLOOR, PART_THRESHOLD, part_colours

    img = np.zeros((1, 64, 64, 3), "float32")
    img[0, :32] = (1.0, -1.0, 0.0)                 # top half red-ish, bottom half blue-ish
    img[0, 32:] = (-1.0, 0.0, 1.0)
    src = np.zeros((1, 64, 64, 24), "float32")
    src[0, 4:12, 4:12, 0] = 1.0                    # part 0 sits in the top half
    src[0, 40:48, 40:56, 1] = 0.5                  # part 1 in the bottom half (weights ∝)
    src[0, 20:44, 20:24, 2] = 1.0                  # part 2 on both halves: the mean
    dst = np.zeros_like(src)
    dst[0, 50:60, 0:10, 0] = 1.0                   # part 0 drawn bottom left
    dst[0, 0:10, 50:60, 1] = 1.0                   # part 1 top right
    dst[0, 30:31, 30:31, 1] = 0.5                  # parts 1 and 2 overlapping
    dst[0, 30:31, 30:31, 2] = 0.5
    dst[0, 0:4, 0:4, 2] = 0.5                      # faint: its weight below the floor, faded
    dst[0, 60:64, 60:64, 0] = PART_THRESHOLD       # not a part at all
    out = np.asarray(part_colours(img, src, dst))
    np.testing.assert_allclose(out[0, 55, 5], (1, -1, 0), atol=1e-3)
    np.testing.assert_allclose(out[0, 5, 55], (-1, 0, 1), atol=1e-3)
    both = np.array([0.0, -0.5, 0.5])                             # part 2: half and half
    np.testing.assert_allclose(out[0, 30, 30], (np.array([-1, 0, 1]) + both) / 2, atol=1e-3)
    faint = (0.5 - PART_THRESHOLD) / (1 - PART_THRESHOLD) / PAINT_FLOOR
    np.testing.assert_allclose(out[0, 2, 2], faint * both, atol=1e-3)
    np.testing.assert_allclose(out[0, 62, 62], 0.0)
    np.testing.assert_allclose(out[0, 20, 40], 0.0)                 # no heat: nothing painted


def test_part_colours_grow_from_a_stream_model_and_need_the_stream(tmp_path):
    keras.utils.set_random_seed(0)
    stream = S.SemiDGPose(width=0.0625, background_stream=True, pose_from="heatmaps")
    stream.build()
    stream.save_weights(tmp_path / "stream.weights.h5")
    m = S.SemiDGPose(width=0.0625, background_stream=True, pose_from="heatmaps",
                     part_colours=True)
    m.load_warm_start(str(tmp_path / "stream.weights.h5"))       # grown: 3 zero channels
    assert m.decoder.extra_channels == 7
    x = images(3)
    np.testing.assert_allclose(m.reconstruct(x), stream.reconstruct(x), atol=1e-5)
    np.testing.assert_allclose(m.transfer(x, x[::-1]), stream.transfer(x, x[::-1]), atol=1e-5)
    k = m.decoder.convs[0].conv.kernel.numpy()                   # layer 8's new inputs: zero
    assert np.all(k[:, :, -3:] == 0) and np.any(k[:, :, :-3] != 0)
    again = S.SemiDGPose.from_config(m.get_config())
    assert again.part_colours and again.decoder.extra_channels == 7
    m.save_weights(tmp_path / "colours.weights.h5")
    again.load_warm_start(str(tmp_path / "colours.weights.h5"))   # its own file: as is
    np.testing.assert_allclose(again.reconstruct(x), m.reconstruct(x), atol=1e-5)
    with pytest.raises(ValueError, match="part_colours works in .* needs background_stream"):
        S.SemiDGPose(width=0.0625, part_colours=True)


def test_residual_pose_network_grows_from_a_map_head_file_with_part_colours(tmp_path):
    keras.utils.set_random_seed(0)
    kw = dict(width=0.0625, background_stream=True, part_colours=True)
    old = S.SemiDGPose(pose_from="heatmaps", **kw)
    old.build()
    old.save_weights(tmp_path / "map.weights.h5")
    m = S.SemiDGPose(pose_from="residual", **kw)
    m.load_warm_start(str(tmp_path / "map.weights.h5"))
    x = images(3)
    y, z = old.encode(x)
    y_b = np.roll(np.asarray(y), 1, 0)
    # the same poses and codes draw the same pictures: mapper, decoder and z heads are the file's
    np.testing.assert_allclose(m.generate(y_b, z, images=x, source_pose=y),
                               old.generate(y_b, z, images=x, source_pose=y), atol=1e-5)
    np.testing.assert_allclose(m.encode(x)[1], z, atol=1e-5)
    assert m.encoder.pose_net.built and not hasattr(m.encoder, "pose_map")
    m.save_weights(tmp_path / "residual.weights.h5")
    again = S.SemiDGPose.from_config(m.get_config())
    again.load_warm_start(str(tmp_path / "residual.weights.h5"))  # its own file: as is
    np.testing.assert_allclose(again.estimate_pose(x), m.estimate_pose(x), atol=1e-5)
