"""Pose-sequence inpainting with the AE-GAN (thesis §5–6): complete, clean and upsample a 2-D pose
sequence of any length by gradient descent on the latent code.

For a sequence ``(T, J, 2)`` in any units (pixels, say) and any joint set, in **image coordinates**
(x right, y down, as every 2-D detector writes them; ``coordinates="image"``, the default) or with
y up (``coordinates="y_up"``, e.g. motion-capture projections; the AE-GAN is trained in this
frame, so image coordinates are mirrored in y on the way in and back on the way out):

1. the joints are mapped onto the 28 MPI-INF-3DHP joints (:func:`to_model_joints`; joints the
   input does not have are missing, as are NaN, (0, 0) and low-confidence joints);
2. windows of F = 24 frames start every ``shift`` frames, the last one anchored to the end
   (Fig. 5; shorter sequences are padded with missing frames);
3. each window is brought into the model's frame (centred on its observed joints, scaled so they
   span :data:`OBSERVED_EXTENT`, the extent the 12 AlphaPose joints have in the training windows,
   or :data:`FULL_EXTENT` when an extremity is observed);
4. the latent code starts at E(window, mask) (or N(0, I), ``init="random"``) and Adam (α 1.0,
   β1 0.8, β2 0.999, ε 1e-8; §7.2.3) minimises ``γp·MPJPE + γs·MPJSE − γd·D`` over the observed
   joints (10, 5, 0.5), the generated window Procrustes-aligned (rotation, scale, translation;
   observed joints only) to the input at every step (§5.3); 200 steps;
5. per frame, among the windows covering it, the candidate closest (MPJPE over that frame's
   observed joints) to the input wins (§6); a frame with no observed joint (a gap, which the
   thesis does not treat) gets the mean of the windows' candidates, each weighted by how near
   that window's own observations are, averaged with the same procedure run at half the frame
   rate, whose windows span twice the time (:func:`inpaint_graph`; ``unseen="context"`` is the
   earlier single-window rule);
6. ``fill`` keeps observed joints as given; ``refine`` (the thesis) replaces them too.

Steps 2–6 run as **one compiled TensorFlow graph** over all windows at once (:func:`inpaint_graph`,
chunks of :data:`CHUNK` windows mapped inside the graph so memory stays bounded) — the same graph
the SavedModel's ``inpaint`` signature serves. The D term scores the aligned window, as the
thesis's ``D(G(z|x))``.
"""

from __future__ import annotations

import numpy as np

from ..pose import get_skeleton
from .pose_sequence_aegan import FRAMES, JOINTS, SKELETON, mpjpe, mpjse

__all__ = ["window_starts", "to_model_joints", "optimise_windows", "select_candidates",
           "prepare_windows", "inpaint_graph", "inpaint", "InpaintingError",
           "OBSERVED_EXTENT", "CHUNK", "COORDINATES", "check_coordinates", "bridge_residuals"]

#: Max |coordinate| of the observed joints (centred on their mean) in training windows, whose 28
#: joints span [−1, 1]²: the median over the windows of 100 synthetic training-style sequences
#: (seed 3) is 0.87 for the 12 AlphaPose joints and 0.99 for all 28 (the extremities — head
#: top, hands, feet, toes — set the extent).
OBSERVED_EXTENT = 0.87
FULL_EXTENT = 0.99
_EXTREMITIES = np.array([get_skeleton(SKELETON).index(j) for j in (
    "head_top", "left_hand", "right_hand", "left_foot", "right_foot", "left_toe", "right_toe")])
CHUNK = 512
#: The 2-D conventions :func:`inpaint` takes: ``"image"`` (x right, y down: detectors, photos) and
#: ``"y_up"`` (x right, y up: the projections the AE-GAN is trained on).
COORDINATES = ("image", "y_up")
WEIGHTS = (10.0, 5.0, 0.5)           # γp, γs, γd (§7.2.3)


class InpaintingError(ValueError):
    """Bad input to :func:`inpaint` (wrong shape, joint count, all joints missing, …)."""


def check_coordinates(coordinates):
    """``coordinates`` is one of :data:`COORDINATES` (else :class:`InpaintingError`)."""
    if coordinates not in COORDINATES:
        raise InpaintingError(f"coordinates must be one of {COORDINATES} (image: x right, y down, "
                              f"as detectors write; y_up: motion-capture projections), got "
                              f"{coordinates!r}")
    return coordinates


def window_starts(length, frames=FRAMES, shift=1):
    """Start frames of the windows of Fig. 5: every ``shift`` frames, plus one anchored to the end
    (``length`` ≥ ``frames``; shorter sequences have the single window 0)."""
    if shift < 1:
        raise InpaintingError(f"shift must be ≥ 1, got {shift}")
    if length <= frames:
        return np.zeros(1, np.int64)
    starts = list(range(0, length - frames + 1, shift))
    if starts[-1] != length - frames:
        starts.append(length - frames)
    return np.array(starts, np.int64)


def to_model_joints(joints, visible=None, skeleton="alphapose12", threshold=0.0):
    """``(T, J, 2)`` (or ``(T, J, 3)`` with a confidence column) in ``skeleton`` → ``(T, 28, 2)``
    float32 and a 0/1 ``(T, 28)`` observation mask. Missing: NaN or inf, exactly (0, 0),
    confidence (third column, or ``visible`` given as floats) ≤ ``threshold``, ``visible``
    False, or a joint ``skeleton`` does not have (only joints with the same canonical name are
    taken: an approximation such as "neck = mean of shoulders" would enter the loss as if it
    were observed)."""
    try:
        skel = get_skeleton(skeleton)
    except (KeyError, ValueError) as exc:
        raise InpaintingError(str(exc)) from None
    x = np.asarray(joints)
    if not np.issubdtype(x.dtype, np.number):
        raise InpaintingError(f"joints must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 3 or x.shape[-1] not in (2, 3) or x.shape[1] != skel.num_joints:
        raise InpaintingError(f"joints must be (frames, {skel.num_joints}, 2) for {skel.name!r} "
                              f"(or (frames, {skel.num_joints}, 3) with a confidence), got "
                              f"{x.shape}")
    if len(x) == 0:
        raise InpaintingError("joints is empty: no frames")
    ok = np.isfinite(x[..., :2]).all(-1) & ~(x[..., :2] == 0).all(-1)
    if x.shape[-1] == 3:
        ok &= np.nan_to_num(x[..., 2], nan=-np.inf) > threshold
    if visible is not None:
        v = np.asarray(visible)
        if v.shape != x.shape[:2]:
            raise InpaintingError(f"visible must be (frames, joints) = {x.shape[:2]}, got "
                                  f"{v.shape}")
        ok &= (v > threshold) if np.issubdtype(v.dtype, np.floating) else v.astype(bool)
    if not ok.any():
        raise InpaintingError("every joint of every frame is missing: nothing to inpaint from")
    target = get_skeleton(SKELETON)
    out = np.zeros((len(x), JOINTS, 2), np.float64)
    vis = np.zeros((len(x), JOINTS), bool)
    for t, name in enumerate(target.joints):
        if name in skel:                   # same anatomical point; no approximations (their
            s = skel.index(name)           # errors would enter the loss as observations)
            vis[:, t] = ok[:, s]
            out[:, t] = np.where(ok[:, s, None], x[:, s, :2], 0.0)
    if not vis.any():
        raise InpaintingError(f"none of the observed {skel.name!r} joints is one of the model's "
                              f"{SKELETON} joints")
    return out.astype(np.float32), vis.astype(np.float32)


def _adam(z, g, m, v, t, lr, b1, b2, eps):
    """One Adam step (Kingma & Ba; the update of ``keras.optimizers.Adam``) on a tensor."""
    import tensorflow as tf

    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * tf.square(g)
    t = tf.cast(t, z.dtype)
    lr_t = lr * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return z - lr_t * m / (tf.sqrt(v) + eps), m, v


def optimise_windows(model, x, mask, steps, lr=1.0, beta_1=0.8, beta_2=0.999, epsilon=1e-8,
                     weights=WEIGHTS, init="encoder", align=True, seed=0, trace=False):
    """The latent descent on a batch of normalised windows ``x`` (N, 24, 28, 2) with masks
    (N, 24, 28): returns ``(aligned G(z*|x) (N, 24, 28, 2), final per-window loss (N,))``, and
    with ``trace`` also the mean contextual loss (γp·MPJPE + γs·MPJSE, without the prior term, so
    variants compare) before each step and after the last ``(steps + 1,)``.
    ``init``: ``"encoder"`` or ``"random"``; ``align``: Procrustes inside the loop."""
    import tensorflow as tf

    from ..geometry import procrustes_align

    gp, gs = (tf.constant(w, x.dtype) for w in weights[:2])
    gd = tf.cast(weights[2], x.dtype)            # a number or a scalar tensor (the signature's)
    use_critic = not (isinstance(weights[2], (int, float)) and weights[2] == 0)
    lr = tf.cast(lr, x.dtype)
    n = tf.shape(x)[0]
    if init == "encoder":
        z = model.encoder([x * mask[..., None], mask], training=False)
    elif init == "random":
        z = tf.random.stateless_normal(tf.stack([n, model.latent]), [seed, 7], dtype=x.dtype)
    else:
        raise ValueError(f"init must be 'encoder' or 'random', got {init!r}")
    flat = lambda a, c: tf.reshape(a, tf.stack([n, FRAMES * JOINTS] + c))

    def window_loss(z):
        y = model.generator(z, training=False)
        if align:
            y = tf.reshape(procrustes_align(flat(y, [2]), flat(x, [2]), flat(mask, [])),
                           tf.shape(x))
        context = gp * mpjpe(x, y, mask) + gs * mpjse(x, y, mask)
        loss = context - gd * model.critic(y, training=False)[:, 0] if use_critic else context
        return loss, context, y

    def body(t, z, m, v, curve):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss, context, _ = window_loss(z)
            total = tf.reduce_sum(loss)                # windows are independent: Σ is per-window
        g = tape.gradient(total, z)
        curve = curve.write(t - 1, tf.reduce_mean(context)) if trace else curve
        z, m, v = _adam(z, g, m, v, t, lr, beta_1, beta_2, epsilon)
        return t + 1, z, m, v, curve

    zeros = tf.zeros_like(z)
    curve = tf.TensorArray(x.dtype, size=0, dynamic_size=True) if trace else tf.constant(0.0)
    _, z, _, _, curve = tf.while_loop(lambda t, *_: t <= steps, body,
                                      (tf.constant(1), z, zeros, zeros, curve))
    loss, context, y = window_loss(z)
    if trace:
        return y, loss, tf.concat([curve.stack(), [tf.reduce_mean(context)]], 0)
    return y, loss


def prepare_windows(joints, observed, shift):
    """Steps 2–3 of the module docstring in the graph: the windows of one sequence
    (``joints`` (T, 28, 2), ``observed`` (T, 28)) in the model's frame. Returns a dict: ``x``
    (N, 24, 28, 2) normalised (0 where unobserved), ``mask`` (N, 24, 28), ``raw`` windows in the
    caller's frame, ``frames`` (N, 24) frame of each window position, ``centre`` / ``scale``
    (N, 1, 1, 1) of each window, ``padded`` / ``padded_mask`` (the sequence padded to ≥ 24
    frames), ``length`` T, ``padded_length``, ``observed``."""
    import tensorflow as tf

    joints = tf.convert_to_tensor(joints, tf.float32)
    observed = tf.cast(tf.convert_to_tensor(observed), tf.float32)
    joints = tf.where(observed[..., None] > 0, joints, tf.zeros_like(joints))
    t_len = tf.shape(joints)[0]
    pad = tf.maximum(FRAMES - t_len, 0)
    xs = tf.pad(joints, [[0, pad], [0, 0], [0, 0]])
    ms = tf.pad(observed, [[0, pad], [0, 0]])
    length = t_len + pad
    shift = tf.maximum(tf.cast(shift, tf.int32), 1)
    starts = tf.range(0, length - FRAMES + 1, shift)
    last = length - FRAMES
    starts = tf.cond(starts[-1] < last, lambda: tf.concat([starts, [last]], 0), lambda: starts)
    idx = starts[:, None] + tf.range(FRAMES)[None]                          # (N, F)
    xw, mw = tf.gather(xs, idx), tf.gather(ms, idx)
    # normalise each window on its observed joints
    cnt = tf.maximum(tf.reduce_sum(mw, [1, 2]), 1.0)[:, None, None, None]
    centre = tf.reduce_sum(xw * mw[..., None], [1, 2], keepdims=True) / cnt
    dev = tf.reduce_max(tf.abs(xw - centre) * mw[..., None], [1, 2, 3], keepdims=True)
    extremity = tf.reduce_max(tf.gather(mw, _EXTREMITIES, axis=2), [1, 2])[:, None, None, None]
    extent = tf.where(extremity > 0, FULL_EXTENT, OBSERVED_EXTENT)
    scale = tf.where(dev > 0, dev / extent, tf.ones_like(dev))
    xn = (xw - centre) / scale * mw[..., None]
    return {"x": xn, "mask": mw, "raw": xw, "frames": idx, "centre": centre, "scale": scale,
            "padded": xs, "padded_mask": ms, "length": t_len, "padded_length": length,
            "observed": observed}


def _one_rate(model, joints, observed, shift, steps, chunk, unseen, options, seen="closest"):
    """Steps 2–5 at the sequence's own frame rate → (the padded sequence's result
    (T', 28, 2), padded joints, padded mask, windows covering each frame (T',), T)."""
    import tensorflow as tf

    w = prepare_windows(joints, observed, shift)
    xn, mw, xw, idx, centre, scale = (w[k] for k in ("x", "mask", "raw", "frames", "centre",
                                                     "scale"))
    length = w["padded_length"]
    # chunks of windows, optimised one after the other inside the graph
    n = tf.shape(xn)[0]
    chunk = tf.minimum(chunk, n)
    n_chunks = (n + chunk - 1) // chunk
    extra = n_chunks * chunk - n
    xc = tf.reshape(tf.pad(xn, [[0, extra], [0, 0], [0, 0], [0, 0]]),
                    tf.stack([n_chunks, chunk, FRAMES, JOINTS, 2]))
    mc = tf.reshape(tf.pad(mw, [[0, extra], [0, 0], [0, 0]]),
                    tf.stack([n_chunks, chunk, FRAMES, JOINTS]))
    out = tf.map_fn(lambda a: optimise_windows(model, a[0], a[1], steps, **options)[0],
                    (xc, mc), fn_output_signature=tf.float32, parallel_iterations=1)
    y = tf.reshape(out, tf.stack([n_chunks * chunk, FRAMES, JOINTS, 2]))[:n] * scale + centre
    result = select_candidates(y, xw, mw, idx, length, unseen, seen)
    frame = tf.reshape(idx, [-1])
    count = tf.math.unsorted_segment_sum(tf.ones_like(frame), frame, length)
    return result, w["padded"], w["padded_mask"], count, w["length"]


def bridge_residuals(result, joints, observed):
    """Fill mode's continuity at the edges of what was not observed (an option, not the
    thesis's): per joint and coordinate, the residual ``joints − result`` (the observation minus
    the model's own answer there) at the observed frames
    is interpolated linearly over the frames in between (held constant before the first and
    after the last observation) and added to ``result`` where the joint was not observed, so a
    filled stretch starts and ends where the observations do and the model supplies the shape
    in between — the offset blending of motion in-betweening. Joints never observed are left as
    they are. ``result``, ``joints`` (T, J, 2), ``observed`` (T, J) → (T, J, 2)."""
    import tensorflow as tf

    seen = tf.transpose(observed > 0)                                          # (J, T)
    t_len = tf.shape(seen)[1]
    t = tf.broadcast_to(tf.range(t_len)[None], tf.shape(seen))
    big = t_len + 1
    times = tf.sort(tf.where(seen, t, big), axis=1)                           # observed first
    count = tf.reduce_sum(tf.cast(seen, tf.int32), 1, keepdims=True)
    prev = tf.searchsorted(times, t, side="right") - 1                         # its position
    nxt = tf.searchsorted(times, t, side="left")
    prev_t = tf.gather(times, tf.maximum(prev, 0), batch_dims=1)
    next_t = tf.gather(times, tf.minimum(nxt, tf.maximum(count - 1, 0)), batch_dims=1)
    prev_t = tf.where(prev >= 0, prev_t, next_t)                               # before the first
    next_t = tf.where(nxt < count, next_t, prev_t)                             # after the last
    residual = tf.transpose(joints - result, [1, 0, 2])                       # (J, T, 2)
    r0 = tf.gather(residual, tf.clip_by_value(prev_t, 0, t_len - 1), batch_dims=1)
    r1 = tf.gather(residual, tf.clip_by_value(next_t, 0, t_len - 1), batch_dims=1)
    span = tf.cast(tf.maximum(next_t - prev_t, 1), result.dtype)
    a = tf.cast(t - prev_t, result.dtype) / span
    a = tf.where(next_t > prev_t, a, tf.zeros_like(a))[..., None]
    correction = tf.transpose(r0 * (1 - a) + r1 * a, [1, 0, 2])                # (T, J, 2)
    use = tf.transpose(~seen & (count > 0))[..., None]
    return tf.where(use, result + correction, result)


def inpaint_graph(model, joints, observed, shift, steps, fill, chunk=CHUNK, unseen="two_rate",
                  seen="closest", image_coordinates=False, bridge=False, **options):
    """Inpaint one sequence in the graph: ``joints`` (T, 28, 2) caller's frame (missing joints
    any value), ``observed`` (T, 28) 0/1, scalar ``shift``, ``steps``, ``fill`` (bool) →
    ``{"joints" (T, 28, 2), "observed" (T, 28), "candidates" (T,) windows covering each frame}``.
    ``bridge`` (fill mode; a scalar boolean tensor chooses in the graph): continuity at the
    edges of unobserved stretches, :func:`bridge_residuals`.
    ``image_coordinates``: the joints have y pointing down (x right, y down, as detectors write;
    the SavedModel's ``inpaint`` signature always); the AE-GAN's frame has y up, so y is mirrored
    on the way in and on the way out (windows are centred and scaled, so no image size is needed).

    ``unseen``: what a frame with no observed joint (inside a gap) gets — ``"average"`` or
    ``"context"`` (:func:`select_candidates`), or ``"two_rate"`` (default): the mean of
    ``"average"`` and the same procedure run on every second frame (half the frame rate, half
    the shift; linearly interpolated back), where a 24-frame window spans 2 s and so sees both
    sides of a gap of up to ~1.5 s. It runs only when the sequence has such a frame (twice
    the work then). Measured on validation motion (seed 555555, 4 sequences × 2 cameras, shift 8,
    the card's descent), gap error in head sizes for 0.25 / 0.5 / 1 s gaps: "two_rate" 0.205 /
    0.289 / 0.642, "average" 0.196 / 0.318 / 0.702, "context" 0.295 / 0.454 / 0.775; PCHIP +
    Savitzky–Golay + ridge 0.268 / 0.360 / 0.660. ``seen``: what a frame with observed joints
    gets (:func:`select_candidates`; a scalar boolean tensor chooses in the graph, True for
    ``"mean"`` — the SavedModel's ``average_seen`` input). ``options`` go to
    :func:`optimise_windows`."""
    import tensorflow as tf

    if unseen not in GAP_RULES:
        raise ValueError(f"unseen must be one of {GAP_RULES}, got {unseen!r}")
    _check_seen(seen)
    joints = tf.convert_to_tensor(joints, tf.float32)
    observed = tf.cast(tf.convert_to_tensor(observed), tf.float32)
    mirror = tf.constant([1.0, -1.0]) if image_coordinates else None
    if mirror is not None:
        joints = joints * mirror
    rule = "average" if unseen == "two_rate" else unseen
    result, xs, ms, count, t_len = _one_rate(model, joints, observed, shift, steps, chunk, rule,
                                             options, seen)
    if unseen == "two_rate":
        frame_seen = tf.reduce_max(ms, -1) > 0

        def with_half_rate():
            half, hx, hm, _, h_len = _one_rate(
                model, joints[::2], observed[::2], tf.maximum(tf.cast(shift, tf.int32) // 2, 1),
                steps, chunk, "average", options, seen)
            half = tf.where(hm[..., None] > 0, hx, half)[:h_len]
            pos = tf.cast(tf.range(tf.shape(result)[0]), tf.float32) / 2.0
            i0 = tf.minimum(tf.cast(tf.floor(pos), tf.int32), h_len - 1)
            i1 = tf.minimum(i0 + 1, h_len - 1)
            a = (pos - tf.cast(i0, tf.float32))[:, None, None]
            up = tf.gather(half, i0) * (1.0 - a) + tf.gather(half, i1) * a
            return tf.where(frame_seen[:, None, None], result, 0.5 * (result + up))

        result = tf.cond(tf.reduce_all(frame_seen[:t_len]), lambda: result, with_half_rate)
    if not (isinstance(bridge, bool) and not bridge):      # residuals of the model's answer
        result = tf.cond(tf.cast(fill, tf.bool) & tf.cast(bridge, tf.bool),
                         lambda: bridge_residuals(result, xs, ms), lambda: result)
    result = tf.cond(tf.cast(fill, tf.bool),
                     lambda: tf.where(ms[..., None] > 0, xs, result), lambda: result)
    if mirror is not None:
        result = result * mirror
    return {"joints": result[:t_len], "observed": observed, "candidates": count[:t_len]}


UNSEEN_RULES = ("average", "context")          # select_candidates
SEEN_RULES = ("closest", "mean")               # select_candidates
GAP_RULES = UNSEEN_RULES + ("two_rate",)       # inpaint_graph


def _check_seen(seen):
    """``seen`` is a rule name or a scalar boolean tensor (True: ``"mean"``)."""
    if isinstance(seen, str) or not hasattr(seen, "dtype"):
        if seen not in SEEN_RULES:
            raise ValueError(f"seen must be one of {SEEN_RULES} (or a boolean tensor, True for "
                             f"'mean'), got {seen!r}")


def select_candidates(y, x, mask, idx, length, unseen="average", seen="closest"):
    """Per frame, the candidate closest (MPJPE over the frame's observed joints) to the input
    (§6, ``seen="closest"``): ``y`` (N, F, J, 2) windows' outputs, ``x`` (N, F, J, 2) and
    ``mask`` (N, F, J) their inputs, ``idx`` (N, F) the frame of each window position →
    (length, J, 2); ties go to the earlier window. ``seen="mean"`` (an option, not the thesis):
    the mean of every covering window's candidate instead, as overlap-add of sliding windows
    does — one window per frame chosen by its observed joints lets the never-observed joints
    jump from window to window. Measured on validation motion (seed 555555, 4 sequences × 2
    cameras, shift 8, the card's descent): 16-joint PCKh@0.5 0.898 vs 0.893, AUC 0.780 vs 0.769,
    acceleration error 0.162 vs 0.200 head sizes (fill; refine 0.115 vs 0.173), gap errors alike.

    A frame with no observed joint (inside a gap) has nothing to compare with, and the thesis
    does not say what it gets. ``unseen``:

    * ``"average"`` (default here; :func:`inpaint_graph` adds a half-rate pass to it): the mean
      of every window's candidate for it, each weighted by
      1 / (1 + the distance in frames to the nearest frame that window observed) — a window that
      saw the frames just before or after the gap is trusted most, one lying wholly inside the
      gap (weight 1e-6) only if nothing else covers the frame. Measured on validation motion
      (seed 555555, 4 sequences × 2 cameras, shift 8, the card's descent): gap error 0.196 /
      0.318 / 0.702 head sizes for 0.25 / 0.5 / 1 s gaps, against 0.295 / 0.454 / 0.775 for
      ``"context"`` and 0.268 / 0.360 / 0.660 for PCHIP + Savitzky–Golay + ridge; the best single
      window per frame, picked with the truth, scored 0.186 / 0.281 / 0.638;
    * ``"context"``: the one window with the most observed frames, then the one in which the frame
      is most central (one window extrapolating from one side of the gap)."""
    import tensorflow as tf

    if unseen not in UNSEEN_RULES:
        raise ValueError(f"unseen must be one of {UNSEEN_RULES}, got {unseen!r}")
    _check_seen(seen)
    d = tf.sqrt(tf.reduce_sum(tf.square(y - x), -1) + 1e-12)                  # (N, F, J)
    n_seen = tf.reduce_sum(mask, -1)
    cost = tf.reduce_sum(d * mask, -1) / tf.maximum(n_seen, 1.0)
    f = tf.shape(idx)[1]
    pos = tf.cast(tf.range(f), cost.dtype)
    centrality = tf.abs(pos - tf.cast(f - 1, cost.dtype) / 2)[None]
    context = tf.reduce_sum(tf.cast(n_seen > 0, cost.dtype), -1, keepdims=True)  # (N, 1)
    unseen_cost = 1e9 + 1e3 * (tf.cast(f, cost.dtype) - context) + centrality
    cost = tf.where(n_seen > 0, cost, unseen_cost + 0 * cost)
    frame = tf.reshape(idx, [-1])
    flat_y = tf.reshape(y, tf.stack([-1, tf.shape(y)[2], 2]))
    cost = tf.reshape(cost, [-1])
    best = tf.math.unsorted_segment_min(cost, frame, length)
    flat_i = tf.range(tf.size(frame))
    pick = tf.where(cost <= tf.gather(best, frame), flat_i, tf.size(frame))
    choice = tf.math.unsorted_segment_min(pick, frame, length)                # (length,)
    chosen = tf.gather(flat_y, choice)
    frame_seen = tf.math.unsorted_segment_max(tf.reshape(n_seen, [-1]), frame, length) > 0
    if isinstance(seen, str):
        answer = tf.math.unsorted_segment_mean(flat_y, frame, length) if seen == "mean" \
            else chosen
    else:                       # a boolean tensor (the SavedModel's ``average_seen`` input)
        answer = tf.where(tf.cast(seen, tf.bool),
                          tf.math.unsorted_segment_mean(flat_y, frame, length), chosen)
    if unseen == "context":
        return tf.where(frame_seen[:, None, None], answer, chosen)
    # distance of each window position to the nearest position its window observed
    gaps = tf.abs(pos[:, None] - pos[None, :])                                # (F, F)
    big = tf.constant(1e6, cost.dtype)
    observed = tf.cast(n_seen > 0, cost.dtype)                                # (N, F)
    dist = tf.reduce_min(tf.where(observed[:, None, :] > 0, gaps[None], big), -1)
    weight = tf.where(dist < big, 1.0 / (1.0 + dist), 1e-6 * tf.ones_like(dist))
    weight = tf.reshape(weight, [-1])
    num = tf.math.unsorted_segment_sum(weight[:, None, None] * flat_y, frame, length)
    den = tf.math.unsorted_segment_sum(weight, frame, length)
    average = num / tf.maximum(den, 1e-12)[:, None, None]
    return tf.where(frame_seen[:, None, None], answer, average)


_COMPILED = {}


def inpaint(model, joints, visible=None, skeleton="alphapose12", shift=1, steps=200,
            mode="refine", threshold=0.0, coordinates="image", **options):
    """Inpaint a whole sequence with a :class:`~dgpose_tf.models.pose_sequence_aegan.
    PoseSequenceAEGAN` (module docstring): ``joints`` (T, J, 2|3) in ``skeleton``, any units,
    ``coordinates`` ``"image"`` (x right, y down, as detectors write; default) or ``"y_up"`` →
    ``{"joints": (T, 28, 2) MPI-INF-3DHP joints in the same frame, "observed": (T, 28) bool}``.
    ``options``: ``unseen`` (:func:`inpaint_graph`) and those of :func:`optimise_windows`."""
    import tensorflow as tf

    check_coordinates(coordinates)
    if mode not in ("refine", "fill"):
        raise InpaintingError(f"mode must be 'refine' or 'fill', got {mode!r}")
    if int(steps) < 0:
        raise InpaintingError(f"steps must be ≥ 0, got {steps}")
    x, m = to_model_joints(joints, visible, skeleton, threshold)
    window_starts(len(x), shift=int(shift))            # validates shift
    options = dict(options, image_coordinates=coordinates == "image")
    key = (id(model), tuple(sorted(options.items())))
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(
            lambda a, b, s, n, f: inpaint_graph(model, a, b, s, n, f, **options))
    out = _COMPILED[key](tf.constant(x), tf.constant(m), tf.constant(int(shift)),
                         tf.constant(int(steps)), tf.constant(mode == "fill"))
    return {"joints": out["joints"].numpy(), "observed": m > 0}


def serving_endpoints(model):
    """The AE-GAN's endpoints plus ``inpaint``: a fixed-step latent descent in the graph over
    every window of one sequence (:func:`inpaint_graph`), taking ``joints`` in image coordinates
    — x right, y down, as detectors write them — while the model's own endpoints work in its
    frame, y up; its Adam ``learning_rate`` and the prior weight γd are inputs (the thesis's are
    1.0 and 0.5), ``average_seen``: False for the thesis's closest candidate per observed frame,
    True for the mean of the covering windows' candidates (``select_candidates(seen=…)``);
    ``bridge``: fill mode's continuity at the edges of unobserved stretches
    (:func:`bridge_residuals`)."""
    import tensorflow as tf

    def run(joints, observed, shift, steps, fill, learning_rate, prior_weight, average_seen,
            bridge):
        return inpaint_graph(model, joints, observed, shift, steps, fill, lr=learning_rate,
                             weights=(10.0, 5.0, prior_weight), seen=average_seen,
                             image_coordinates=True, bridge=bridge)

    scalar = lambda dtype, name: tf.TensorSpec((), dtype, name)
    return {**model.serving_endpoints(),
            "inpaint": (run, [tf.TensorSpec((None, JOINTS, 2), tf.float32, "joints"),
                              tf.TensorSpec((None, JOINTS), tf.float32, "observed"),
                              scalar(tf.int32, "shift"), scalar(tf.int32, "steps"),
                              scalar(tf.bool, "fill"), scalar(tf.float32, "learning_rate"),
                              scalar(tf.float32, "prior_weight"),
                              scalar(tf.bool, "average_seen"), scalar(tf.bool, "bridge")])}
