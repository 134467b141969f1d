"""Pose-sequence AE-GAN: Table 1 shapes and counts, the rearrangement, losses, the training step,
and inpainting (window starts, candidate selection, masked Procrustes in the loop, bad input)."""

import numpy as np
import pytest

from dgpose_tf.data.motion import mirror
from dgpose_tf.models import inpainting as I
from dgpose_tf.models import pose_sequence_aegan as P


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    m = P.PoseSequenceAEGAN()
    m.build()
    return m


def _trainable(net):
    return sum(int(np.prod(v.shape)) for v in net.trainable_variables)


def test_table1_trainable_parameter_counts(model):
    assert _trainable(model.generator) == 1_148_480
    assert _trainable(model.critic) == 1_115_521
    assert _trainable(model.encoder) == 1_148_096
    # BN moving statistics are there but not trainable
    assert model.generator.count_params() > 1_148_480


def _main_shapes(shapes):
    """(name, (F, entries, C)) of the table's rows: convolutions after their crop, and the
    linear layer."""
    out, names = [], [n for n, _ in shapes]
    for i, (name, shape) in enumerate(shapes):
        if name.startswith(("conv", "deconv")) and not name.endswith("_pad"):
            nxt = names[i + 1] if i + 1 < len(names) else ""
            if nxt == f"{name}_crop":
                continue
            out.append(shape[1:])
        elif name.endswith("_crop") or name == "linear":
            out.append(shape[1:])
    return out


def test_table1_layer_output_shapes(model):
    # Table 1 writes C x F x entries; channels-last here is (F, entries, C)
    g = _main_shapes(model.generator.shapes((None, 128)))
    assert g == [(1, 1, 256), (3, 3, 256), (6, 5, 128), (12, 9, 64), (24, 18, 32), (24, 18, 4)]
    d = _main_shapes(model.critic.shapes((None, 24, 18, 8)))
    assert d == [(24, 18, 32), (12, 9, 64), (6, 5, 128), (3, 3, 256), (1, 1, 256), (1,)]
    e = _main_shapes(model.encoder.shapes((None, 24, 18, 6)))
    assert e[:-1] == d[:-1] and e[-1] == (128,)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 24, 28, 2)).astype("float32")
    assert tuple(model.generate(np.zeros((3, 128), "float32")).shape) == (3, 24, 28, 2)
    assert tuple(model.score(x).shape) == (3,)
    assert tuple(model.encode(x).shape) == (3, 128)


def test_rearrangement_round_trip_and_duplicates():
    x = np.random.default_rng(1).normal(size=(2, 24, 28, 2)).astype("float32")
    r = np.asarray(P.rearrange(x))
    assert r.shape == (2, 24, 18, 4)
    np.testing.assert_allclose(np.asarray(P.unrearrange(r)), x, atol=1e-6)
    head = [i for i, e in enumerate(P.ENTRIES) if e == ("head", "head")][0]
    np.testing.assert_array_equal(r[..., head, :2], r[..., head, 2:])
    # the generator's two versions of a non-dual joint are averaged
    r2 = r.copy()
    r2[..., head, 0] = 0.0
    back = np.asarray(P.unrearrange(r2))
    from dgpose_tf.pose import get_skeleton
    j = get_skeleton("mpi_inf_3dhp28").index("head")
    np.testing.assert_allclose(back[..., j, 0], x[..., j, 0] / 2, atol=1e-6)


def test_mirroring_commutes_with_rearrangement():
    x = np.random.default_rng(2).normal(size=(2, 24, 28, 2)).astype("float32")
    a = np.asarray(P.rearrange(mirror(x, "mpi_inf_3dhp28")))
    b = np.asarray(P.mirror_rearranged(P.rearrange(x)))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_losses_by_hand():
    x = np.zeros((1, 24, 28, 2), "float32")
    y = x.copy()
    y[0, :, :, 0] = 0.3                                   # constant offset: no speed error
    assert float(P.mpjpe(x, y)[0]) == pytest.approx(0.3, abs=1e-5)
    assert float(P.mpjse(x, y)[0]) == pytest.approx(0.0, abs=1e-4)
    y[0, 12:, 0, 1] = 1.0                                 # one joint jumps once by 1
    assert float(P.mpjse(x, y)[0]) == pytest.approx(1 / (24 * 28), rel=1e-3)
    mask = np.zeros((1, 24, 28), "float32")
    mask[0, :, 1] = 1
    assert float(P.mpjpe(x, y, mask)[0]) == pytest.approx(0.3, abs=1e-5)


def test_training_step_runs_and_corruption_respects_the_subset(model):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    m = P.PoseSequenceAEGAN.from_config(model.get_config())
    m.compile(corruption={"subset_p": 1.0, "joint_drop": 0.0, "gap_p": 0.0})
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (8, 24, 28, 2)).astype("float32")
    mask = np.asarray(m.corrupt(tf.constant(x)))
    np.testing.assert_array_equal(mask, np.broadcast_to(P.ALPHAPOSE_IN_28, mask.shape))
    before = [v.numpy().copy() for v in m.critic.trainable_variables[:1]]
    logs = m.train_step({"poses": x})
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert not np.allclose(before[0], m.critic.trainable_variables[0].numpy())
    with pytest.raises(ValueError, match="corruption"):
        m.compile(corruption={"bogus": 1})


def test_window_starts_fig5():
    assert I.window_starts(68, 24, 8).tolist() == [0, 8, 16, 24, 32, 40, 44]
    assert I.window_starts(48, 24, 24).tolist() == [0, 24]
    assert I.window_starts(10, 24, 8).tolist() == [0]
    with pytest.raises(I.InpaintingError, match="shift"):
        I.window_starts(68, 24, 0)


def test_candidate_selection():
    import tensorflow as tf

    # two windows of 3 frames over a 4-frame sequence: starts 0 and 1
    idx = np.array([[0, 1, 2], [1, 2, 3]])
    x = np.zeros((2, 3, 2, 2), "float32")
    mask = np.ones((2, 3, 2), "float32")
    y = np.zeros((2, 3, 2, 2), "float32")
    y[0] += 0.5                                      # window 0 is worse everywhere …
    y[1] += 0.1
    y[0, 1] = 0.0                                    # … except at its frame 1 (sequence frame 1)
    mask[:, 2] = 0                                   # window-0 frame 2 and window-1 frame 2 unseen
    out = np.asarray(I.select_candidates(tf.constant(y), tf.constant(x), tf.constant(mask),
                                         tf.constant(idx), 4))
    np.testing.assert_allclose(out[0], 0.5)          # only window 0 covers frame 0
    np.testing.assert_allclose(out[1], 0.0)          # window 0 (exact) beats window 1 (0.1)
    # frame 2: window 0 (position 2, unseen) vs window 1 (position 1, seen) → window 1
    np.testing.assert_allclose(out[2], 0.1)
    # frame 3: only window 1 covers it, though unseen there
    np.testing.assert_allclose(out[3], 0.1)
    # seen="mean": an observed frame gets the mean of every covering window's candidate
    mean = np.asarray(I.select_candidates(tf.constant(y), tf.constant(x), tf.constant(mask),
                                          tf.constant(idx), 4, seen="mean"))
    np.testing.assert_allclose(mean[[0, 3]], out[[0, 3]])          # one window covers these
    np.testing.assert_allclose(mean[1], (0.0 + 0.1) / 2, rtol=1e-6)
    np.testing.assert_allclose(mean[2], (0.5 + 0.1) / 2, rtol=1e-6)
    # the SavedModel's average_seen input: a boolean tensor picks the rule in the graph
    for flag, want in ((True, mean), (False, out)):
        got = I.select_candidates(tf.constant(y), tf.constant(x), tf.constant(mask),
                                  tf.constant(idx), 4, seen=tf.constant(flag))
        np.testing.assert_allclose(np.asarray(got), want)
    with pytest.raises(ValueError, match="seen"):
        I.select_candidates(tf.constant(y), tf.constant(x), tf.constant(mask),
                            tf.constant(idx), 4, seen="median")
    # a frame no window observed (a gap): "context" takes the window with the most observed
    # frames; "average" weights every covering window by 1 / (1 + frames to its nearest
    # observed frame), a window wholly inside the gap by 1e-6
    idx = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    mask = np.ones((3, 3, 2), "float32")
    mask[:, :] *= np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]], "float32")[..., None]
    mask[1, 1:] = 0
    mask[2, :2] = 0                                  # frame 2 unseen by all (gap), frame 3 too
    y = np.stack([np.full((3, 2, 2), v) for v in (0.3, 0.6, 9.0)]).astype("float32")
    x = np.zeros((3, 3, 2, 2), "float32")
    args = [tf.constant(a) for a in (y, x, mask, idx)] + [5]
    ctx = np.asarray(I.select_candidates(*args, unseen="context"))
    avg = np.asarray(I.select_candidates(*args))
    np.testing.assert_allclose(ctx[2], 0.3)          # window 0: 2 observed frames
    # frame 2: window 0 at position 2 (nearest observed 1 frame away → ½), window 1 at position
    # 1 (1 away → ½), window 2 at position 0 (2 away → ⅓)
    np.testing.assert_allclose(avg[2], (0.3 / 2 + 0.6 / 2 + 9.0 / 3) / (1 / 2 + 1 / 2 + 1 / 3),
                               rtol=1e-5)
    # frame 3: window 1 at position 2 (2 away → ⅓), window 2 at position 1 (1 away → ½)
    np.testing.assert_allclose(avg[3], (0.6 / 3 + 9.0 / 2) / (1 / 3 + 1 / 2), rtol=1e-5)
    np.testing.assert_allclose(avg[[0, 1, 4]], ctx[[0, 1, 4]])   # observed frames: §6 unchanged
    with pytest.raises(ValueError, match="unseen"):
        I.select_candidates(*args, unseen="nearest")
    # a window lying wholly inside a gap counts only where nothing else covers the frame
    idx = np.array([[0, 1, 2], [1, 2, 3]])
    mask = np.ones((2, 3, 2), "float32")
    mask[0, 1:] = 0                                  # window 0 sees only its first frame
    mask[1] = 0                                      # window 1 sees nothing
    y = np.stack([np.full((3, 2, 2), 0.3), np.full((3, 2, 2), 9.0)]).astype("float32")
    for rule in I.UNSEEN_RULES:
        out = np.asarray(I.select_candidates(tf.constant(y), tf.constant(x[:2] * 0),
                                             tf.constant(mask), tf.constant(idx), 4, rule))
        np.testing.assert_allclose(out[1:3], 0.3, rtol=1e-4)   # not window 1's 9.0
        np.testing.assert_allclose(out[3], 9.0)                # only window 1 covers frame 3


def test_procrustes_inside_the_loop_ignores_masked_joints(model):
    import tensorflow as tf

    rng = np.random.default_rng(4)
    x = rng.uniform(-0.5, 0.5, (2, 24, 28, 2)).astype("float32")
    mask = (rng.random((2, 24, 28)) < 0.5).astype("float32")
    x2 = x.copy()
    x2[mask == 0] = 99.0                              # garbage where unobserved
    outs = [np.asarray(I.optimise_windows(model, tf.constant(a * mask[..., None]),
                                          tf.constant(mask), 3)[0]) for a in (x, x2)]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    # the aligned output is at least as close to the observed joints as the raw generation
    y, loss = I.optimise_windows(model, tf.constant(x * mask[..., None]), tf.constant(mask), 0)
    raw = model.generate(model.encode(x * mask[..., None], mask))
    e_al = float(tf.reduce_mean(P.mpjpe(x, y, mask)))
    e_raw = float(tf.reduce_mean(P.mpjpe(x, raw, mask)))
    assert e_al <= e_raw + 1e-6


def test_adam_step_matches_keras():
    import keras
    import tensorflow as tf

    z = tf.Variable([[0.5, -1.0]])
    opt = keras.optimizers.Adam(1.0, 0.8, 0.999, 1e-8)
    ours, m, v = tf.constant([[0.5, -1.0]]), tf.zeros((1, 2)), tf.zeros((1, 2))
    for t in range(1, 4):
        g = tf.constant([[0.3 * t, -0.2]])
        opt.apply_gradients([(g, z)])
        ours, m, v = I._adam(ours, g, m, v, t, 1.0, 0.8, 0.999, 1e-8)
    np.testing.assert_allclose(ours.numpy(), z.numpy(), rtol=1e-5)


def test_inpaint_short_sequence_fill_and_refine(model):
    rng = np.random.default_rng(5)
    joints = rng.uniform(100, 300, (10, 12, 2)).astype("float32")   # pixels, AlphaPose 12
    joints[3, 4] = np.nan
    out = I.inpaint(model, joints, skeleton="alphapose12", shift=8, steps=2, mode="fill")
    assert out["joints"].shape == (10, 28, 2) and out["observed"].shape == (10, 28)
    assert out["observed"].sum() == 10 * 12 - 1
    from dgpose_tf.pose import conversion
    to28, _ = conversion("alphapose12", "mpi_inf_3dhp28")(joints)
    seen = out["observed"]
    np.testing.assert_allclose(out["joints"][seen], to28[seen], atol=1e-3)
    assert np.isfinite(out["joints"]).all()
    refined = I.inpaint(model, joints, skeleton="alphapose12", shift=8, steps=2, mode="refine")
    assert not np.allclose(refined["joints"][seen], to28[seen])
    # the output lives in the caller's frame (pixels), not the model's [-1, 1]
    assert 50 < np.median(refined["joints"]) < 350


def test_gap_frames_two_rate_is_the_mean_of_both_passes(model):
    """A frame inside a gap gets the mean of the full-rate "average" answer and the half-rate
    pass (every second frame, half the shift, interpolated back); frames with observations keep
    the full-rate answer, and a sequence without gaps never runs the second pass."""
    import tensorflow as tf

    rng = np.random.default_rng(6)
    t = 40
    base = rng.uniform(-0.5, 0.5, (1, 28, 2))
    joints = (base + 0.01 * np.arange(t)[:, None, None]).astype("float32")
    observed = np.ones((t, 28), "float32")
    observed[12:26] = 0                                              # a 14-frame gap
    run = lambda j, o, shift, unseen: {k: np.asarray(v) for k, v in I.inpaint_graph(
        model, tf.constant(j), tf.constant(o), shift, 1, False, unseen=unseen).items()}
    full = run(joints, observed, 8, "average")["joints"]
    both = run(joints, observed, 8, "two_rate")["joints"]
    half = run(joints[::2], observed[::2], 4, "average")["joints"]
    half = np.where(observed[::2, :, None] > 0, joints[::2], half)      # the half pass is filled
    pos = np.arange(t) / 2
    up = np.stack([np.stack([np.interp(pos, np.arange(len(half)), half[:, j, c])
                             for c in range(2)], -1) for j in range(28)], 1)
    gap = observed.max(1) == 0
    np.testing.assert_allclose(both[~gap], full[~gap], atol=1e-5)
    np.testing.assert_allclose(both[gap], 0.5 * (full[gap] + up[gap]), atol=1e-4)
    assert not np.allclose(both[gap], full[gap], atol=1e-3)
    no_gap = np.ones((t, 28), "float32")
    np.testing.assert_allclose(run(joints, no_gap, 8, "two_rate")["joints"],
                               run(joints, no_gap, 8, "average")["joints"], atol=1e-6)
    with pytest.raises(ValueError, match="unseen"):
        run(joints, observed, 8, "nearest")


@pytest.mark.parametrize("joints, kwargs, match", [
    (np.zeros((30, 17, 2)), {"skeleton": "alphapose12"}, r"\(frames, 12, 2\)"),
    (np.full((30, 12, 2), np.nan), {}, "every joint of every frame is missing"),
    (np.zeros((30, 12, 2)), {}, "every joint of every frame is missing"),
    (np.zeros((0, 12, 2)), {}, "empty"),
    (np.ones((30, 12)), {}, r"\(frames, 12, 2\)"),
    (np.array([["a"] * 2] * 12 * 30).reshape(30, 12, 2), {}, "numbers"),
    (np.ones((30, 12, 2)), {"mode": "smooth"}, "mode"),
    (np.ones((30, 12, 2)), {"shift": 0}, "shift"),
    (np.ones((30, 12, 2)), {"skeleton": "nope"}, "nope"),
    (np.ones((30, 12, 3)) * [1, 1, 0.1], {"threshold": 0.3}, "missing"),
])
def test_inpaint_bad_input_named_errors(model, joints, kwargs, match):
    with pytest.raises(I.InpaintingError, match=match):
        I.inpaint(model, joints, steps=1, **kwargs)
