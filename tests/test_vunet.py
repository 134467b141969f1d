"""The VUNet family: pose spaces, stickmen, part crops, the network, its loss and its evaluation."""

import pickle

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dgpose_tf.models import vunet as V  # noqa: E402
from dgpose_tf.models.perceptual import (PerceptualLoss, VGGFeatures, build_perceptual,  # noqa: E402
                                         load_lpips_vgg16)
from dgpose_tf.models.stickman import (CROP_PARTS, draw_stickman, line_width,  # noqa: E402
                                       numpy_stickman, part_crops)
from dgpose_tf.pose.three_layer import (LIMBS_25D, STICK_JOINTS, depth_only_labels,  # noqa: E402
                                        occlusion_labels, stick_joints)

J = {n: i for i, n in enumerate(STICK_JOINTS)}
TINY = dict(image_size=32, box_factor=1, bottleneck_factor=1, n_filters=4, max_filters=8,
            dropout=0.0)


def person(size=64):
    """A hand-made upright person facing the camera (13 stick joints, pixels) and its depths:
    arms hanging beside the torso, legs apart; everything 3 m away."""
    s = size / 64
    uv = {"left_shoulder": (40, 20), "right_shoulder": (24, 20), "left_elbow": (44, 31),
          "right_elbow": (20, 31), "left_wrist": (46, 42), "right_wrist": (18, 42),
          "left_hip": (37, 40), "right_hip": (27, 40), "left_knee": (39, 51),
          "right_knee": (25, 51), "left_ankle": (40, 62), "right_ankle": (24, 62),
          "head": (32, 10)}
    j = np.array([uv[n] for n in STICK_JOINTS], np.float32) * s
    return j, np.full(13, 3.0)


def forearm_across(j, z, dz):
    """The right forearm bent across the belly, ``dz`` metres nearer (−) or farther (+)."""
    j = j.copy()
    z = z.copy()
    j[J["right_wrist"]] = (38, 33)
    z[J["right_wrist"]] = 3.0 + dz
    z[J["right_elbow"]] = 3.0 + dz / 2
    return j, z


# ---- Three-Layer labels ---------------------------------------------------------------------------
def test_occlusion_rule_on_hand_made_poses():
    j, z = person()
    assert (occlusion_labels(j, z, 64, 4, 0.05) == 0).all()     # nothing crosses: all on plane
    ja, za = forearm_across(j, z, -0.3)
    lab = occlusion_labels(ja, za, 64, 4, 0.05)
    fore = [n for n, *_ in LIMBS_25D].index("right_lower_arm")
    assert lab[fore] == 1 and (np.delete(lab, fore) == 0).all()
    lab = occlusion_labels(*forearm_across(j, z, +0.3), 64, 4, 0.05)
    assert lab[fore] == -1
    # within the margin: on the plane
    assert occlusion_labels(*forearm_across(j, z, -0.03), 64, 4, 0.05)[fore] == 0
    # far in front but beside the body: the occlusion rule says 0, the depth-only rule +1
    z2 = z.copy()
    z2[[J["right_elbow"], J["right_wrist"]]] = 2.5
    assert occlusion_labels(j, z2, 64, 4, 0.05)[fore] == 0
    assert depth_only_labels(z2, 0.05)[fore] == 1


def test_forearm_crossing_limb_and_offsets_follow_render_order():
    j, z = person()
    ja, za = forearm_across(j, z, -0.3)
    fore = [n for n, *_ in LIMBS_25D].index("right_lower_arm")
    off = np.zeros(9)
    off[fore] = 1.0                         # drawn 1 m farther: now behind the torso
    assert occlusion_labels(ja, za, 64, 4, 0.05, z_offsets=off)[fore] == -1


def test_stick_joints_from_named_skeletons():
    j = np.random.default_rng(0).uniform(0, 64, (33, 2))
    j13, valid = stick_joints(j, "synthetic33")
    assert valid.all() and j13.shape == (13, 2)
    j[5] = np.nan
    coco = np.random.default_rng(1).uniform(0, 64, (2, 17, 2))
    j13, valid = stick_joints(coco, "coco17", visible=np.ones((2, 17), bool))
    assert j13.shape == (2, 13, 2) and valid.all()            # head from "nose"
    j13, valid = stick_joints(np.ones((12, 2)), "alphapose12")     # no head joint: invalid
    assert valid[:12].all() and not valid[12]
    with pytest.raises(ValueError, match="must be"):
        stick_joints(np.zeros((14, 2)), "synthetic33")


# ---- stickmen -------------------------------------------------------------------------------------
def test_2d_stickman_channels_as_the_reference():
    j, _ = person(128)
    img = numpy_stickman(j[None], np.ones((1, 13), bool), None, 128, "2d")[0]
    assert line_width(128) == 3 and line_width(256) == 6
    mid = lambda a, b: tuple(np.round((j[J[a]] + j[J[b]]) / 2).astype(int))
    x, y = mid("right_knee", "right_ankle")
    assert img[y, x, 0] == 255 and img[y, x, 1] == 0            # right side: channel 0
    x, y = mid("left_elbow", "left_wrist")
    assert img[y, x, 1] == 255 and img[y, x, 0] == 0            # left side: channel 1
    c = np.round(j[[J["left_hip"], J["right_hip"], J["left_shoulder"], J["right_shoulder"]]]
                 .mean(0)).astype(int)
    assert img[c[1], c[0], 2] == 255                            # torso filled: channel 2
    x, y = mid("head", "head")
    assert img[y + 4, x, 0] == 127 and img[y + 4, x, 1] == 127   # neck–head stroke at 127
    assert img[5, 5].sum() == 0


def test_three_layer_forearm_in_front_is_red_over_the_torso():
    j, z = person()
    ja, za = forearm_across(j, z, -0.3)
    lab = occlusion_labels(ja, za, 64, 4, 0.05)
    p = np.round(ja[J["right_wrist"]] * 0.7 + ja[J["right_elbow"]] * 0.3).astype(int)
    img = numpy_stickman(ja[None], np.ones((1, 13), bool), lab[None], 64, "three_layer")[0]
    assert tuple(img[p[1], p[0]]) == (255, 0, 0)                # in front: red over the torso
    lab_b = occlusion_labels(*forearm_across(j, z, 0.3), 64, 4, 0.05)
    img_b = numpy_stickman(ja[None], np.ones((1, 13), bool), lab_b[None], 64, "three_layer")[0]
    assert tuple(img_b[p[1], p[0]]) == (0, 255, 0)              # behind: the torso covers it
    fore = [n for n, *_ in LIMBS_25D].index("right_lower_arm")
    q = np.round(ja[J["right_elbow"]] * 0.8 + ja[J["right_wrist"]] * 0.2).astype(int)
    if img_b[q[1], q[0]].any() and not img[q[1], q[0], 1]:
        assert img_b[q[1], q[0], 2] == 255                      # visible part of it: blue
    assert lab_b[fore] == -1
    six = numpy_stickman(ja[None], np.ones((1, 13), bool), lab[None], 64, "2d_depth")[0]
    assert six.shape == (64, 64, 6) and six[p[1], p[0], 3] == 255 and six[p[1], p[0], 5] == 0


def test_stickman_bad_input_named():
    with pytest.raises(ValueError, match="kind"):
        draw_stickman(np.zeros((1, 13, 2)), np.ones((1, 13), bool), None, 64, "rgb")
    with pytest.raises(ValueError, match="labels"):
        draw_stickman(np.zeros((1, 13, 2)), np.ones((1, 13), bool), None, 64, "three_layer")
    with pytest.raises(ValueError, match=r"\(N, 13, 2\)"):
        draw_stickman(np.zeros((1, 14, 2)), np.ones((1, 14), bool), None, 64, "2d")
    # an invalid joint's strokes are not drawn
    j, _ = person()
    v = np.ones((1, 13), bool)
    v[0, J["left_wrist"]] = False
    img = numpy_stickman(j[None], v, None, 64, "2d")[0]
    x, y = np.round((j[J["left_elbow"]] + j[J["left_wrist"]]) / 2).astype(int)
    assert img[y, x, 1] == 0


def test_part_crops_normalise_the_part_upright():
    j, _ = person()
    img = np.full((1, 64, 64, 3), -1.0, np.float32)
    import cv2

    canvas = np.zeros((64, 64, 3), np.float32)
    a, b = j[J["left_shoulder"]], j[J["left_elbow"]]
    cv2.line(canvas, tuple(int(v) for v in a), tuple(int(v) for v in b), (1, 1, 1), 3)
    img[0] = canvas * 2 - 1
    crops = part_crops(img, j[None], np.ones((1, 13), bool), 32).numpy()
    assert crops.shape == (1, 32, 32, 24)
    k = [n for n, *_ in CROP_PARTS].index("left_upper_arm")
    c = crops[0, :, :, 3 * k:3 * k + 3].mean(-1)
    assert c[8:24, 15:17].mean() > 0.5                          # the arm runs down the centre
    assert c[8:24, :4].mean() < -0.5 and c[8:24, -4:].mean() < -0.5
    v = np.ones((1, 13), bool)
    v[0, J["left_elbow"]] = False
    crops = part_crops(img, j[None], v, 32).numpy()
    assert (crops[0, :, :, 3 * k:3 * k + 3] == 0).all()         # invalid part: zeros


# ---- the network ----------------------------------------------------------------------------------
def derived_count(image_size, box_factor, bottleneck_factor, n_filters=32, max_filters=128,
                  stick=3, L=2, trim=False):
    """Trainable parameters of a VUNet counted from the architecture, not from the code."""
    wn = lambda k, cin, cout: k * k * cin * cout + 2 * cout
    res = lambda c, a=None, k=3: (wn(1, a, c) + wn(k, 2 * c, c)) if a else wn(k, c, c)
    ns = 1 + int(np.log2(image_size)) - bottleneck_factor
    f = [min(n_filters * 2 ** i, max_filters) for i in range(ns)]
    e = [min(n_filters * 2 ** box_factor * 2 ** i, max_filters) for i in range(ns - box_factor)]
    n = wn(1, stick, f[0]) + sum(2 * res(c) for c in f) + sum(wn(3, f[i], f[i + 1])
                                                             for i in range(ns - 1))
    n += wn(1, 24, e[0]) + sum(2 * res(c) for c in e) + sum(wn(3, e[i], e[i + 1])
                                                           for i in range(len(e) - 1))
    er = e[::-1]
    n += wn(1, er[0], er[0])
    for l in range(L):
        n += res(er[l], er[l]) + wn(3, er[l], er[l])             # skip block, posterior mean
        if l + 1 < L:
            n += res(er[l], 2 * er[l]) + wn(3, er[l], 4 * er[l + 1])
    fr = f[::-1]
    size = [image_size // 2 ** i for i in range(ns)][::-1]
    n += wn(1, fr[0], fr[0])
    for l in range(ns):
        c = fr[l]
        n += 2 * res(c, c)                                        # the two skip blocks
        if l < L:
            n += wn(1, 2 * c, c)                                  # [h, z] → width
            if size[l] == 1:
                n += wn(3, c, c)
            else:
                k = 1 if trim and size[l] == 2 else 3
                n += res(c) + 4 * wn(k, 4 * c, c) + 3 * res(4 * c, c, k)
        if l + 1 < ns:
            n += wn(3, c, 4 * fr[l + 1])
    return n + wn(3, fr[-1], 3)


@pytest.mark.parametrize("name", ["deepfashion256", "market128", "cpu64"])
def test_configs_latent_shapes_and_parameter_count(name):
    cfg = V.CONFIGS[name]
    m = V.VUNet(**cfg)
    m.build()
    want = {"deepfashion256": [(4, 4, 128), (8, 8, 128)], "market128": [(2, 2, 128), (4, 4, 128)],
            "cpu64": [(2, 2, 64), (4, 4, 64)]}[name]
    qs = m.appearance(tf.zeros((1, m.crop_size, m.crop_size, 24)))
    assert [tuple(q.shape[1:]) for q in qs] == want
    assert V.latent_shapes(cfg["image_size"], cfg["bottleneck_factor"],
                           cfg.get("max_filters", 128)) == want
    count = sum(int(np.prod(v.shape)) for v in m.trainable_variables)
    assert count == derived_count(cfg["image_size"], cfg["box_factor"], cfg["bottleneck_factor"],
                                  max_filters=cfg.get("max_filters", 128),
                                  trim=cfg.get("trim_dead_taps", False))


def test_weight_norm_conv_is_scale_invariant():
    conv = V.WNConv2D(5, 3)
    x = tf.random.normal((2, 8, 8, 4), seed=1)
    y = conv(x)
    conv.v.assign(conv.v * 7.0)
    np.testing.assert_allclose(conv(x).numpy(), y.numpy(), atol=1e-5)
    w = conv.v.numpy() / np.sqrt((conv.v.numpy() ** 2).sum((0, 1, 2), keepdims=True))
    ref = tf.nn.conv2d(x, w, 1, "SAME") * conv.g + conv.b
    np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-5)


def test_trimmed_prior_is_the_same_function():
    """A 'same' 3×3 conv on a 1×1 map uses only its centre tap: the trimmed 1×1 layer with the
    centre weights gives the same output."""
    a, b = V.WNConv2D(6, 3), V.WNConv2D(6, 1)
    x = tf.random.normal((3, 1, 1, 5), seed=2)
    a(x), b(x)
    centre = a.v.numpy()[1:2, 1:2]
    b.v.assign(centre)
    b.g.assign(a.g * np.sqrt((centre ** 2).sum((0, 1, 2))) /
               np.sqrt((a.v.numpy() ** 2).sum((0, 1, 2))))
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), atol=1e-5)


def tiny(stickman="three_layer", **kw):
    m = V.VUNet(**{**TINY, "stickman": stickman, **kw})
    m.build()
    return m


def test_prior_is_autoregressive_and_teacher_forced():
    m = tiny()
    gs = m.dec_up(tf.random.normal((2, 32, 32, 3), seed=3))
    qs = m.appearance(tf.random.normal((2, 16, 16, 24), seed=4))
    _, ps, zs = m.dec_down(gs, qs)
    assert all(np.allclose(z, q) for z, q in zip(zs, qs))        # the posterior is what is used
    l = 1                                                         # the 4×4 latent: 4 groups
    groups = V._split_groups(qs[l])
    p_groups = V._split_groups(ps[l])
    for g in range(4):
        changed = list(groups)
        changed[g] = changed[g] + 5.0
        qs2 = list(qs)
        qs2[l] = V._merge_groups(changed)
        _, ps2, _ = m.dec_down(gs, qs2)
        p2 = V._split_groups(ps2[l])
        for h in range(4):                          # group h's prior sees only groups < h
            same = np.allclose(p2[h].numpy(), p_groups[h].numpy(), atol=1e-5)
            assert same == (h <= g), (g, h)
    # sampling (no posterior) gives prior samples, different per call
    a, _, _ = m.dec_down(gs)
    b, _, _ = m.dec_down(gs)
    assert not np.allclose(a.numpy(), b.numpy())


def test_kl_is_the_unit_variance_gaussian_kl():
    m = tiny()
    q = [tf.random.normal((3, 2, 2, 8), seed=5)]
    p = [tf.random.normal((3, 2, 2, 8), seed=6)]
    want = 0.5 * ((q[0] - p[0]) ** 2).numpy().sum((1, 2, 3)).mean()
    assert abs(float(m.kl_terms(q, p)[0]) - want) < 1e-3


def test_schedules_as_the_reference():
    m = tiny()
    m.compile(steps=1000, lr_decay_begin=100, learning_rate=1e-3)
    lr = lambda s: float(m.schedules(s)[0])
    w = lambda s: float(m.schedules(s)[1])
    assert lr(0) == pytest.approx(1e-3) and lr(100) == pytest.approx(1e-3)
    assert lr(550) == pytest.approx(5e-4) and lr(1000) == pytest.approx(0.0)
    assert w(0) == pytest.approx(1e-6) and w(500) == pytest.approx(1e-6)
    assert w(625) == pytest.approx(0.5, abs=1e-3) and w(750) == pytest.approx(1.0)
    assert w(900) == pytest.approx(1.0)
    assert float(m.posterior_noise(0)) == 1.0                    # the reference: always 1
    m.compile(steps=1000, lr_decay_begin=100, posterior_noise_ramp=True)
    noise = lambda s: float(m.posterior_noise(s))
    assert noise(0) == 0.0 and noise(500) == 0.0 and noise(625) == pytest.approx(0.5)
    assert noise(750) == 1.0 and noise(1000) == 1.0
    m.compile(steps=1000, lr_decay_begin=100, kl_max=0.01)        # a capped ramp
    assert w(500) == pytest.approx(1e-6) and w(625) == pytest.approx(0.005, abs=1e-5)
    assert w(750) == pytest.approx(0.01) and w(1000) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="kl_max"):
        m.compile(steps=1000, kl_max=0.0)


def test_perceptual_terms_on_the_reference_scale():
    loss = build_perceptual("random_vgg16")
    assert loss.tap_scales[0] == 127.5 and len(loss.tap_scales) == 6
    assert loss.tap_scales[1] == pytest.approx(255 * 0.226, rel=1e-3)   # torch → caffe inputs
    x = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=12)
    y = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=13)
    terms = [float(t) for t in loss.per_tap(x, y)]
    assert terms[0] == pytest.approx(float(tf.reduce_mean(tf.abs(x - y))), rel=1e-5)
    want = 5.0 * sum(c * t for c, t in zip(loss.tap_scales, terms))
    assert float(loss(x, y)) == pytest.approx(want, rel=1e-4)
    heavy = build_perceptual("random_vgg16", tap_weights=[10, 1, 1, 1, 1, 1])
    heavy.features = loss.features                     # the same random network
    assert float(heavy(x, y)) == pytest.approx(want + 5.0 * 9 * 127.5 * terms[0], rel=1e-4)


def test_every_perceptual_tap_sends_gradient_into_the_generator():
    m = tiny()
    loss = build_perceptual("random_vgg16")
    x = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=7)
    crops = tf.random.normal((2, 16, 16, 24), seed=8)
    stick = tf.random.normal((2, 32, 32, 3), seed=9)
    for t in range(1 + len(loss.features.taps)):
        with tf.GradientTape() as tape:
            y = m((crops, stick), training=True)
            term = loss.per_tap(x, y)[t]
        g = tape.gradient(term, m.out_conv.v)
        assert g is not None and float(tf.reduce_max(tf.abs(g))) > 0, t


def test_vgg_weights_file_restricted_and_checked(tmp_path):
    bad = tmp_path / "bad.ckpt"
    import os

    bad.write_bytes(pickle.dumps({"x": os.getcwd}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_lpips_vgg16(bad)
    convs, cin = {}, 3
    for i, c in enumerate([64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]):
        convs[f"Conv_{i}"] = {"kernel": np.full((3, 3, cin, c), 0.01, np.float32),
                              "bias": np.zeros(c, np.float32)}
        cin = c
    good = tmp_path / "vgg16.ckpt"
    good.write_bytes(pickle.dumps({"VGG16_0": convs}))
    w = load_lpips_vgg16(good)
    assert len(w) == 13 and w[12][0].shape == (3, 3, 512, 512)
    feats = VGGFeatures("vgg16")
    feats.set_conv_weights(w)
    assert len(feats(tf.zeros((1, 32, 32, 3)))) == 6           # input + 5 taps
    convs["Conv_3"]["kernel"] = np.zeros((3, 3, 64, 64), np.float32)
    good.write_bytes(pickle.dumps({"VGG16_0": convs}))
    with pytest.raises(ValueError, match="Conv_3"):
        load_lpips_vgg16(good)
    with pytest.raises(FileNotFoundError):
        load_lpips_vgg16(tmp_path / "missing.ckpt")
    with pytest.warns(UserWarning, match="L1"):
        assert build_perceptual("vgg16", tmp_path / "missing.ckpt").kind == "l1_ssim"
    with pytest.raises(FileNotFoundError):
        build_perceptual("vgg16", tmp_path / "missing.ckpt", fallback=None)


def test_bad_model_input_named():
    with pytest.raises(ValueError, match="stickman"):
        V.VUNet(stickman="rgb")
    with pytest.raises(ValueError, match="power of two"):
        V.VUNet(image_size=100)
    m = tiny("2d_depth")
    with pytest.raises(ValueError, match=r"stickman must be \(N, 32, 32, 6\)"):
        m.check_inputs(tf.zeros((1, 16, 16, 24)), tf.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="part crops"):
        m.check_inputs(tf.zeros((1, 16, 16, 21)), tf.zeros((1, 32, 32, 6)))
    with pytest.raises(ValueError, match="part crops"):            # crops of a 64² config
        m.appearance(tf.zeros((1, 32, 32, 24)))
    with pytest.raises(ValueError, match="stickman must be"):      # a 2-D stickman for 2d_depth
        m.generate(tf.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="images must be"):        # an image size not configured
        m.prepare(tf.zeros((1, 64, 64, 3)), np.zeros((1, 13, 2)), np.ones((1, 13), bool))


def test_config_round_trip_and_weights(tmp_path):
    m = tiny("2d", trim_dead_taps=True)
    m2 = V.VUNet.from_config(m.get_config())
    m2.build()
    path = tmp_path / "w.weights.h5"
    m.save_weights(str(path))
    m2.load_weights(str(path))
    inp = (tf.random.normal((1, 16, 16, 24), seed=10), tf.random.normal((1, 32, 32, 3), seed=11))
    np.testing.assert_allclose(m(inp).numpy(), m2(inp).numpy(), atol=1e-5)


def test_data_init_normalises_activations_and_training_runs():
    m = tiny()
    rng = np.random.default_rng(0)
    batch = {"image": tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32),
             "crops": tf.constant(rng.uniform(-1, 1, (4, 16, 16, 24)), tf.float32),
             "stickman": tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)}
    m.data_init(batch)
    h = m.du_in(batch["stickman"]).numpy()
    assert abs(h.mean()) < 1e-3 and abs(h.std() - 1) < 1e-2
    m.compile(PerceptualLoss(None), steps=4, lr_decay_begin=1)
    hist = m.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=2, epochs=1,
                 verbose=0)
    assert np.isfinite(hist.history["loss"]).all() and int(m.step_var.numpy()) == 2


# ---- renderer hook, data and evaluation -----------------------------------------------------------
def test_renderer_forced_draw_order_flips_occlusion_only():
    from dgpose_tf.evaluate.vunet import counterfactual_pairs

    p = counterfactual_pairs(4, size=64)
    assert (p["o_labels"] != p["f_labels"]).any(1).all()
    changed = np.abs(p["o_image"].astype(int) - p["f_image"].astype(int)).sum(-1) > 30
    assert (changed.sum((1, 2)) >= 12).all()
    # the changed pixels lie on the person, and joints are shared (one 2-D pose per pair)
    assert (p["mask"][changed] > 0).all()


def test_depth_offset_changes_only_the_moved_limbs_pixels():
    # the shading follows the true depths: pulling a limb that is already in front (+1) a metre
    # nearer changes no pixel but those the limb (or its hand/foot) covers in one of the renders
    # — where it now also covers its own neighbours; shading by the offset depth recoloured the
    # whole body
    from dgpose_tf.data.pipeline import FLIP_WITH, vunet_people
    from dgpose_tf.data.synthetic import PARTS, SyntheticPeople, render_batch

    cv2 = pytest.importorskip("cv2")
    people = SyntheticPeople(64, seed=3)
    for i in range(40):
        base = people.batch(i, 1)
        labels = vunet_people(base, 64, "occlusion")["labels"][0]
        if (labels > 0).any():
            break
    limb = int(np.flatnonzero(labels > 0)[0])
    pose, app, scene, cam = people.parameters(i)
    off = np.zeros((1, len(PARTS)))
    name = LIMBS_25D[limb][0]
    off[0, PARTS.index(name)] = -1.0
    if name in FLIP_WITH:
        off[0, PARTS.index(FLIP_WITH[name])] = -1.0
    moved = [PARTS.index(name)] + ([PARTS.index(FLIP_WITH[name])] if name in FLIP_WITH else [])
    s0 = render_batch(pose[None], [app], [scene], [cam], 64)[0]
    s1 = render_batch(pose[None], [app], [scene], [cam], 64, depth_offsets=off)[0]
    np.testing.assert_array_equal(s0.image, base["image"][0])
    changed = (s0.image != s1.image).any(-1)
    near = np.zeros_like(changed)                   # the moved parts, grown by the antialiasing
    for parts in (s0.parts, s1.parts):
        near |= np.isin(parts, moved)
    near = cv2.dilate(near.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert changed.sum() < 100 and (changed <= near).all()


def test_vunet_data_and_labels_rules():
    from dgpose_tf.data.pipeline import vunet_people
    from dgpose_tf.data.synthetic import LIMBS_25D as RENDER_LIMBS, SyntheticPeople

    assert tuple(n for n, *_ in LIMBS_25D) == RENDER_LIMBS
    batch = SyntheticPeople(64, seed=3).batch(0, 6)
    occ = vunet_people(batch, 64, "occlusion")
    dep = vunet_people(batch, 64, "depth", background="scene")
    assert (dep["labels"] == batch["limb_depth"]).all()
    assert occ["image"].shape == (6, 64, 64, 3) and occ["valid"].all()
    bg = occ["mask"] == 0
    assert (occ["image"][bg] == 128).all() or (occ["image"][bg] == 127).all()
    assert (dep["image"] == batch["image"]).all()
    with pytest.raises(ValueError, match="rule"):
        vunet_people(batch, 64, "nearest")


def test_depth_labels_from_world_frame_and_label_files(tmp_path):
    from dgpose_tf.data.depth_labels import labels_for, load_label_file, record_labels
    from dgpose_tf.data.records import PoseRecord

    j, z = person()
    ja, za = forearm_across(j, z, -300.0 / 1000)
    sk_names = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                "right_ankle", "head"]
    from dgpose_tf.pose import get_skeleton

    sk = get_skeleton("synthetic33")
    joints = np.zeros((33, 2), np.float32)
    cam = np.zeros((33, 3))
    cam[:, 2] = 3000.0
    for i, n in enumerate(sk_names):
        joints[sk.index(n)] = ja[i]
        cam[sk.index(n), 2] = za[i] * 1000.0
    theta = 0.4
    R = np.array([[np.cos(theta), 0, np.sin(theta)], [0, 1, 0], [-np.sin(theta), 0, np.cos(theta)]])
    T = np.array([100.0, 200.0, -50.0])
    world = cam @ R + T                                      # X_cam = R (X_world − T)
    rec = PoseRecord("img.jpg", joints, np.ones(33, bool), "synthetic33", joints3d=world,
                     camera={"R": R, "T": T})
    lab = record_labels(rec, size=64, thickness=4, margin=50.0)
    fore = [n for n, *_ in LIMBS_25D].index("right_lower_arm")
    assert lab[fore] == 1 and (np.delete(lab, fore) == 0).all()
    with pytest.raises(ValueError, match="camera"):
        record_labels(PoseRecord("a.jpg", joints, np.ones(33, bool), "synthetic33",
                                 joints3d=world))
    f = tmp_path / "labels.csv"
    f.write_text("# name, 8 labels\nimg.jpg,1,0,0,-1,0,0,0,0\n")
    assert load_label_file(f)["img.jpg"].tolist() == [1, 0, 0, -1, 0, 0, 0, 0]
    assert labels_for([rec], f)[0].tolist() == [1, 0, 0, -1, 0, 0, 0, 0]
    f.write_text("img.jpg,1,0,2,0,0,0,0,0\n")
    with pytest.raises(ValueError, match="-1, 0 or 1"):
        load_label_file(f)
    f.write_text("img.jpg,1,0\n")
    with pytest.raises(ValueError, match="8 labels"):
        load_label_file(f)


def test_evaluation_figures_and_two_d_arm_at_one_half():
    from dgpose_tf.evaluate.vunet import (counterfactual_pairs, evaluate_vunet,
                                          format_vunet_table, occlusion_order, test_pairs)

    m = tiny("2d", image_size=64)
    data = test_pairs(8, size=64)
    res = evaluate_vunet(m, data)
    for k in ("reconstruction_masked_ssim", "transfer_masked_ssim", "transfer_masked_l1"):
        assert np.isfinite(res[k])
    assert set(res["trivial"]) == {"flat mean colour", "copy appearance image"}
    assert len(res["kl_per_scale"]) == 2
    assert "transfer" in res["part_colour_error"]
    assert "copy appearance image" in format_vunet_table(res)
    pairs = counterfactual_pairs(6, size=64)
    acc, (lo, hi), per, d = occlusion_order(m, pairs, details=True)
    # the 2-D stickman cannot tell the pair apart: both outputs are the same image, so the two
    # directions' fractions add to at most 1 (ties count for neither)
    assert acc <= 0.5 + 1e-9 and lo <= acc <= hi and per.shape == (6,)
    assert d["between_outputs"] == 0 and d["truth_gap"] > 30
    assert d["to_right"] + d["to_wrong"] >= d["truth_gap"] - 1e-6     # the triangle inequality


def test_training_stops_at_stop_at_with_the_full_schedule(tmp_path):
    # train.stop_at ends the run early while the learning rate and KL ramps still run to steps
    # (the synthetic entries' stage 1: 3,500 of 4,000)
    import json

    from dgpose_tf import cli
    from dgpose_tf.fit import load_run

    config = {"name": "tiny_vunet", "family": "vunet",
              "model": {"image_size": 64, "stickman": "three_layer", "box_factor": 1,
                        "bottleneck_factor": 1, "n_filters": 8, "max_filters": 8},
              "data": {"source": "synthetic", "seed": 1, "size": 64},
              "loss": {"kind": "l1_ssim"},
              "train": {"steps": 8, "stop_at": 3, "lr_decay_begin": 1, "steps_per_epoch": 3,
                        "batch_size": 2},
              "seed": 0, "output": str(tmp_path / "run")}
    path = tmp_path / "tiny_vunet.json"
    path.write_text(json.dumps(config))
    assert cli.main(["train", str(path)]) == 0
    model, _ = load_run(tmp_path / "run")
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("ckpt-*.index"))
    assert ckpts[-1] == "ckpt-3.index"
    model.compile(steps=8, lr_decay_begin=1)
    lr, _ = model.schedules(3)
    assert abs(float(lr) - 1e-3 * 5 / 7) < 1e-9            # the 8-step schedule at step 3
    config["train"]["stop_at"] = 9
    path.write_text(json.dumps(config))
    assert cli.main(["train", str(path), "--restart"]) == 2       # named before anything runs
    assert (tmp_path / "run" / "checkpoints" / "ckpt-3.index").exists()   # the run is kept


def test_pose_space_ablation_rows_and_table():
    from dgpose_tf.evaluate.vunet import format_ablation, pose_space_ablation

    arms = {"three": tiny("three_layer", image_size=64), "flat": tiny("2d", image_size=64)}
    rows = pose_space_ablation(arms, n=24, n_pairs=4)
    for name, r in rows.items():
        a, b = r["no_crossing_pairs"]
        assert 0 < a < 24 and 0 < b < 24           # ~16 % of people have no ±1 limb
        assert r["ci95"][0] <= r["occlusion_order"] <= r["ci95"][1]
        assert np.isfinite([r["masked_ssim_no_crossing"], r["transfer_masked_ssim_no_crossing"],
                            r["masked_ssim_all"], r["transfer_masked_ssim_all"]]).all()
    assert rows["flat"]["pixel_distances"]["between_outputs"] == 0
    d, (lo, hi) = rows["flat"]["vs_first"]["masked_ssim_no_crossing"]
    assert rows["flat"]["vs_first"]["reference"] == "three" and "vs_first" not in rows["three"]
    assert lo <= d <= hi
    assert d == pytest.approx(rows["flat"]["masked_ssim_no_crossing"]
                              - rows["three"]["masked_ssim_no_crossing"], abs=1e-6)
    table = format_ablation(rows)
    assert "three" in table and "flat" in table and "truths apart" in table
    assert "paired" in table


def test_paired_difference_known_answers():
    from dgpose_tf.evaluate.vunet import paired_difference

    a = np.array([0.5, 0.6, 0.7, np.nan, 0.9])
    d, (lo, hi) = paired_difference(a, a - 0.01)            # a constant shift: no spread
    assert d == pytest.approx(0.01) and lo == pytest.approx(0.01) and hi == pytest.approx(0.01)
    rng = np.random.default_rng(1)
    b = rng.normal(size=400)
    d, (lo, hi) = paired_difference(b + 0.1 + rng.normal(0, 0.05, 400), b)
    assert lo < 0.1 < hi and hi - lo < 0.02                 # pairing removes b's spread
