"""A 3-D kinematic body shared by the synthetic people and the synthetic motion.

Joints are the ``synthetic33`` set (the 28 MPI-INF-3DHP joints + nose, eyes, ears). A pose is a
vector of named joint angles in degrees (:data:`POSE_PARAMS`, each with anatomical limits) plus a
root translation; a body is a set of bone lengths and limb radii in metres. Forward kinematics is
vectorised over any leading batch shape.

Body frame (the person's own): x to the person's left, y up, z forward (the facing direction).
The root (pelvis) sits at the origin before root translation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..pose.skeletons import get_skeleton

__all__ = ["SKELETON", "POSE_PARAMS", "PARAM_INDEX", "LIMITS", "REST", "Body", "sample_body",
           "sample_pose", "clip_pose", "forward_kinematics", "LIMB_PARTS", "complete_from_anatomy"]

SKELETON = get_skeleton("synthetic33")
J = SKELETON.index

#: (name, min, max, rest) in degrees. Signs: flexion > 0 moves a limb forward (knee: bends back),
#: abduction > 0 moves it away from the body, root_yaw turns the person to their left.
_PARAMS = (
    ("root_yaw", -180, 180, 0), ("root_pitch", -20, 45, 0), ("root_roll", -20, 20, 0),
    ("spine_flex", -20, 60, 0), ("spine_side", -30, 30, 0), ("spine_twist", -40, 40, 0),
    ("neck_flex", -40, 50, 0), ("neck_side", -30, 30, 0), ("neck_turn", -70, 70, 0),
    ("left_shoulder_flex", -50, 180, 0), ("left_shoulder_abd", -10, 170, 8),
    ("left_shoulder_twist", -70, 70, 0), ("left_elbow", 0, 150, 10),
    ("right_shoulder_flex", -50, 180, 0), ("right_shoulder_abd", -10, 170, 8),
    ("right_shoulder_twist", -70, 70, 0), ("right_elbow", 0, 150, 10),
    ("left_hip_flex", -30, 125, 0), ("left_hip_abd", -20, 50, 3),
    ("left_hip_twist", -40, 40, 0), ("left_knee", 0, 150, 2), ("left_ankle", -30, 40, 0),
    ("right_hip_flex", -30, 125, 0), ("right_hip_abd", -20, 50, 3),
    ("right_hip_twist", -40, 40, 0), ("right_knee", 0, 150, 2), ("right_ankle", -30, 40, 0),
)
POSE_PARAMS = tuple(p[0] for p in _PARAMS)
PARAM_INDEX = {n: i for i, n in enumerate(POSE_PARAMS)}
LIMITS = np.array([[p[1], p[2]] for p in _PARAMS], np.float64)
REST = np.array([p[3] for p in _PARAMS], np.float64)

# (joint, parent, rest direction in the parent's frame, bone group); bone length = height × ratio
_BONES = (
    ("spine", "pelvis", (0, 1, 0), "spine", 0.060),
    ("spine2", "spine", (0, 1, 0), "spine", 0.060),
    ("spine3", "spine2", (0, 1, 0), "spine", 0.060),
    ("spine4", "spine3", (0, 1, 0), "spine", 0.065),
    ("neck", "spine4", (0, 1, 0.05), "neck", 0.055),
    ("head", "neck", (0, 1, 0.15), "head", 0.065),
    ("head_top", "head", (0, 1, -0.1), "head", 0.065),
    ("nose", "head", (0, -0.2, 1), "face", 0.055),
    ("left_eye", "head", (0.4, 0.35, 1), "face", 0.055),
    ("right_eye", "head", (-0.4, 0.35, 1), "face", 0.055),
    ("left_ear", "head", (1, 0.1, -0.1), "face", 0.045),
    ("right_ear", "head", (-1, 0.1, -0.1), "face", 0.045),
    ("left_clavicle", "spine4", (1, 0.3, 0), "shoulder", 0.030),
    ("left_shoulder", "left_clavicle", (1, 0, -0.1), "shoulder", 0.085),
    ("left_elbow", "left_shoulder", (0, -1, 0), "upper_arm", 0.175),
    ("left_wrist", "left_elbow", (0, -1, 0), "lower_arm", 0.150),
    ("left_hand", "left_wrist", (0, -1, 0), "hand", 0.055),
    ("right_clavicle", "spine4", (-1, 0.3, 0), "shoulder", 0.030),
    ("right_shoulder", "right_clavicle", (-1, 0, -0.1), "shoulder", 0.085),
    ("right_elbow", "right_shoulder", (0, -1, 0), "upper_arm", 0.175),
    ("right_wrist", "right_elbow", (0, -1, 0), "lower_arm", 0.150),
    ("right_hand", "right_wrist", (0, -1, 0), "hand", 0.055),
    ("left_hip", "pelvis", (1, -0.25, 0), "hip", 0.060),
    ("left_knee", "left_hip", (0, -1, 0), "upper_leg", 0.245),
    ("left_ankle", "left_knee", (0, -1, 0), "lower_leg", 0.245),
    ("left_foot", "left_ankle", (0, -0.5, 1), "foot", 0.075),
    ("left_toe", "left_foot", (0, -0.1, 1), "foot", 0.040),
    ("right_hip", "pelvis", (-1, -0.25, 0), "hip", 0.060),
    ("right_knee", "right_hip", (0, -1, 0), "upper_leg", 0.245),
    ("right_ankle", "right_knee", (0, -1, 0), "lower_leg", 0.245),
    ("right_foot", "right_ankle", (0, -0.5, 1), "foot", 0.075),
    ("right_toe", "right_foot", (0, -0.1, 1), "foot", 0.040),
)
BONE_GROUPS = ("spine", "neck", "head", "face", "shoulder", "upper_arm", "lower_arm", "hand",
               "hip", "upper_leg", "lower_leg", "foot")
_ORDER = [b[0] for b in _BONES]
_PARENT = np.array([J(b[1]) for b in _BONES])
_CHILD = np.array([J(b[0]) for b in _BONES])
_DIRS = np.array([np.array(b[2], float) / np.linalg.norm(b[2]) for b in _BONES])
_RATIO = np.array([b[4] for b in _BONES])
_GROUP = np.array([BONE_GROUPS.index(b[3]) for b in _BONES])

#: The 8 limbs of the Three-Layer Pose Space (2.5D thesis §3.2) and the others drawn as capsules:
#: name -> (joint a, joint b, radius group).
LIMB_PARTS = {
    "left_upper_arm": ("left_shoulder", "left_elbow", "upper_arm"),
    "left_lower_arm": ("left_elbow", "left_wrist", "lower_arm"),
    "right_upper_arm": ("right_shoulder", "right_elbow", "upper_arm"),
    "right_lower_arm": ("right_elbow", "right_wrist", "lower_arm"),
    "left_upper_leg": ("left_hip", "left_knee", "upper_leg"),
    "left_lower_leg": ("left_knee", "left_ankle", "lower_leg"),
    "right_upper_leg": ("right_hip", "right_knee", "upper_leg"),
    "right_lower_leg": ("right_knee", "right_ankle", "lower_leg"),
}


@dataclass(frozen=True, eq=False)   # hashed by identity: used as a cache key
class Body:
    """Per-person proportions: ``height`` (m), per-bone-group length factors, limb radii (m)."""

    height: float
    length_factors: tuple     # one per BONE_GROUPS entry, around 1
    radii: dict               # "upper_arm", "lower_arm", "upper_leg", "lower_leg", "torso", "head", ...

    def bone_lengths(self) -> np.ndarray:
        return self.height * _RATIO * np.asarray(self.length_factors)[_GROUP]


def sample_body(rng: np.random.Generator) -> Body:
    """A random adult: height 1.5–1.95 m, bone groups ±7 %, limb thickness ±25 %."""
    height = rng.uniform(1.5, 1.95)
    factors = tuple(np.clip(rng.normal(1.0, 0.035, len(BONE_GROUPS)), 0.9, 1.1))
    build = rng.uniform(0.8, 1.25)        # thin ... stocky
    radii = {"upper_arm": 0.045, "lower_arm": 0.035, "hand": 0.035, "upper_leg": 0.07,
             "lower_leg": 0.05, "foot": 0.04, "neck": 0.05, "head": 0.1, "torso": 0.17}
    radii = {k: v * height / 1.75 * (build if k != "head" else 1.0) * rng.uniform(0.92, 1.08)
             for k, v in radii.items()}
    return Body(height, factors, radii)


def clip_pose(params):
    """Clip joint angles ``(..., P)`` to their anatomical limits."""
    return np.clip(params, LIMITS[:, 0], LIMITS[:, 1])


def sample_pose(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Random static poses ``(n, P)`` (or ``(P,)``): mostly natural, sometimes extreme.

    Arms and legs move independently; each angle is the rest value plus a Gaussian whose spread is
    a third of the range, clipped to the limits; a quarter of the arms are raised high.
    """
    m = 1 if n is None else n
    span = LIMITS[:, 1] - LIMITS[:, 0]
    spread = span / 6.0
    spread[PARAM_INDEX["root_yaw"]] = 0.0               # the camera chooses the view
    for name, s in (("spine_flex", 12), ("spine_side", 6), ("spine_twist", 10), ("root_pitch", 6),
                    ("root_roll", 4), ("neck_side", 8), ("left_ankle", 10), ("right_ankle", 10),
                    ("left_hip_abd", 10), ("right_hip_abd", 10)):
        spread[PARAM_INDEX[name]] = s
    p = REST + rng.normal(size=(m, len(REST))) * spread
    for side in ("left", "right"):
        raised = rng.random(m) < 0.25
        p[raised, PARAM_INDEX[f"{side}_shoulder_abd"]] = rng.uniform(70, 170, raised.sum())
        # knees follow hips a little, so legs bend naturally when lifted
        p[:, PARAM_INDEX[f"{side}_knee"]] = np.abs(p[:, PARAM_INDEX[f"{side}_knee"]]) + \
            0.5 * np.maximum(p[:, PARAM_INDEX[f"{side}_hip_flex"]], 0)
        p[:, PARAM_INDEX[f"{side}_elbow"]] = np.abs(p[:, PARAM_INDEX[f"{side}_elbow"]])
    p = clip_pose(p)
    return p[0] if n is None else p


def _rot(axis, deg):
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def _local_rotations(params):
    """Per-joint local rotations ``(..., 33, 3, 3)`` from angles ``(..., P)``."""
    P = lambda name: params[..., PARAM_INDEX[name]]
    lead = params.shape[:-1]
    R = np.broadcast_to(np.eye(3), lead + (SKELETON.num_joints, 3, 3)).copy()
    R[..., J("pelvis"), :, :] = _rot("y", P("root_yaw")) @ _rot("x", P("root_pitch")) @ \
        _rot("z", P("root_roll"))
    spine = _rot("y", P("spine_twist") / 3) @ _rot("z", -P("spine_side") / 3) @ \
        _rot("x", P("spine_flex") / 3)
    for j in ("spine", "spine2", "spine3"):
        R[..., J(j), :, :] = spine
    R[..., J("neck"), :, :] = _rot("y", P("neck_turn")) @ _rot("z", -P("neck_side")) @ \
        _rot("x", P("neck_flex"))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        R[..., J(f"{side}_shoulder"), :, :] = (
            _rot("z", sign * P(f"{side}_shoulder_abd")) @ _rot("x", -P(f"{side}_shoulder_flex"))
            @ _rot("y", sign * P(f"{side}_shoulder_twist")))
        R[..., J(f"{side}_elbow"), :, :] = _rot("x", -P(f"{side}_elbow"))
        R[..., J(f"{side}_hip"), :, :] = (
            _rot("z", sign * P(f"{side}_hip_abd")) @ _rot("x", -P(f"{side}_hip_flex"))
            @ _rot("y", sign * P(f"{side}_hip_twist")))
        R[..., J(f"{side}_knee"), :, :] = _rot("x", P(f"{side}_knee"))
        R[..., J(f"{side}_ankle"), :, :] = _rot("x", -P(f"{side}_ankle"))
    return R


def forward_kinematics(params, body, root=None):
    """World joints ``(..., 33, 3)`` in metres for angles ``(..., P)``.

    ``body`` is a :class:`Body` or bone lengths ``(..., 32)`` (one body per sample, e.g. stacked
    :meth:`Body.bone_lengths`); ``root`` ``(..., 3)`` translates the pelvis (default: origin).
    """
    params = np.asarray(params, np.float64)
    if params.shape[-1] != len(POSE_PARAMS):
        raise ValueError(f"pose parameters must be (..., {len(POSE_PARAMS)}), got {params.shape}")
    local = _local_rotations(params)
    lengths = body.bone_lengths() if isinstance(body, Body) else np.asarray(body, np.float64)
    lead = params.shape[:-1]
    glob = np.empty_like(local)
    pos = np.zeros(lead + (SKELETON.num_joints, 3))
    glob[..., J("pelvis"), :, :] = local[..., J("pelvis"), :, :]
    for k, child in enumerate(_CHILD):
        parent = _PARENT[k]
        offset = glob[..., parent, :, :] @ _DIRS[k] * lengths[..., k, None]
        pos[..., child, :] = pos[..., parent, :] + offset
        glob[..., child, :, :] = glob[..., parent, :, :] @ local[..., child, :, :]
    if root is not None:
        pos = pos + np.asarray(root, np.float64)[..., None, :]
    return pos


# --- motion-capture skeletons --------------------------------------------------------------------

_SPINE_CHAIN = ("pelvis", "spine", "spine2", "spine3", "spine4", "neck")


@functools.lru_cache(maxsize=1)
def _rest_anatomy():
    """Ratios of the synthetic body's rest skeleton (average proportions) that
    :func:`complete_from_anatomy` places missing points with."""
    rest = forward_kinematics(REST, Body(1.75, (1.0,) * len(BONE_GROUPS), {}))
    hips = rest[[J("left_hip"), J("right_hip")]].mean(0)
    chain = np.stack([hips] + [rest[J(j)] for j in _SPINE_CHAIN])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=-1))])

    def dist(a, b):
        return float(np.linalg.norm(rest[J(b)] - rest[J(a)]))

    to_spine4 = dist("left_clavicle", "spine4")
    clav = to_spine4 / (to_spine4 + dist("left_clavicle", "left_shoulder"))
    return {"spine": arc[1:-1] / arc[-1],    # pelvis … spine4 on hip-midpoint → neck
            "clavicle": clav,                # spine4 → shoulder
            "head_top": dist("head", "head_top") / dist("neck", "head"),
            "hand": dist("left_wrist", "left_hand") / dist("left_elbow", "left_wrist"),
            "toe": dist("left_foot", "left_toe") / dist("left_ankle", "left_foot")}


def _along(points, fractions):
    """Points at arc-length ``fractions`` of the polylines ``points`` ``(F, K, 3)`` (consecutive
    duplicates take no length) → ``(F, len(fractions), 3)``."""
    seg = np.linalg.norm(np.diff(points, axis=1), axis=-1)               # (F, K-1)
    arc = np.concatenate([np.zeros((len(points), 1)), np.cumsum(seg, 1)], 1)
    target = arc[:, -1:] * np.asarray(fractions)[None]                   # (F, n)
    k = np.clip((arc[:, None, :] <= target[..., None]).sum(-1) - 1, 0, seg.shape[1] - 1)
    start = np.take_along_axis(arc, k, 1)
    length = np.take_along_axis(seg, k, 1)
    t = np.clip((target - start) / np.maximum(length, 1e-12), 0, 1)[..., None]
    a = np.take_along_axis(points, k[..., None], 1)
    b = np.take_along_axis(points, k[..., None] + 1, 1)
    return a + t * (b - a)


def complete_from_anatomy(joints, tol=1e-6):
    """Place the synthetic33 points a motion-capture skeleton has no point of its own for, with
    the synthetic body's rest proportions (never with any motion). ``joints`` ``(F, 33, 3)`` in
    metres as a reader's table maps them (NaN where absent); returns a completed copy.

    CMU's skeletons (BVH conversion and ASF/AMC) differ from the synthetic33 / MPI-INF-3DHP
    points in four ways, each fixed here only where the points it needs are present:

    * the root lies ~10 cm above the hip joints (the synthetic pelvis is on the hip line) and
      the BVH's LowerBack and Neck joints have zero length: pelvis, spine … spine4 are placed on
      the polyline hip midpoint → mapped pelvis → spine2 → spine3 → spine4 → neck (duplicates
      take no length) at the arc-length fractions the synthetic body has on hip midpoint → neck;
    * the clavicles start at the thorax: placed between spine4 and the shoulder at the
      synthetic fraction;
    * zero-length end sites: where head_top, a hand or a toe coincides with its parent (head,
      wrist, foot), it is placed beyond it along neck → head, elbow → wrist, ankle → foot by the
      synthetic ratio of the two bones.
    """
    x = np.array(joints, np.float64, copy=True)
    if x.ndim != 3 or x.shape[1:] != (SKELETON.num_joints, 3):
        raise ValueError(f"joints must be (F, {SKELETON.num_joints}, 3), got {x.shape}")
    a = _rest_anatomy()
    have = np.isfinite(x).all(-1).all(0)                                  # (33,) present in every frame

    def ok(*names):
        return all(have[J(n)] for n in names)

    if ok("left_hip", "right_hip", *_SPINE_CHAIN):
        hips = x[:, [J("left_hip"), J("right_hip")]].mean(1, keepdims=True)
        chain = np.concatenate([hips, x[:, [J(j) for j in _SPINE_CHAIN]]], 1)
        x[:, [J(j) for j in _SPINE_CHAIN[:-1]]] = _along(chain, a["spine"])
    for side in ("left", "right"):
        if ok("spine4", f"{side}_shoulder", f"{side}_clavicle"):
            s4, sh = x[:, J("spine4")], x[:, J(f"{side}_shoulder")]
            x[:, J(f"{side}_clavicle")] = s4 + a["clavicle"] * (sh - s4)
    ends = [("head_top", "head", "neck", a["head_top"])]
    for side in ("left", "right"):
        ends += [(f"{side}_hand", f"{side}_wrist", f"{side}_elbow", a["hand"]),
                 (f"{side}_toe", f"{side}_foot", f"{side}_ankle", a["toe"])]
    for end, parent, grand, r in ends:
        if ok(end, parent, grand) and \
                np.linalg.norm(x[:, J(end)] - x[:, J(parent)], axis=-1).max() <= tol:
            x[:, J(end)] = x[:, J(parent)] + r * (x[:, J(parent)] - x[:, J(grand)])
    return x

