"""Synthetic people: a deterministic renderer of 3-D posed bodies seen by a random camera.

Every sample has ground truth the real datasets lack: the image, the person mask, 2-D joints with
per-joint visibility (occluded by another body part, or out of frame), 3-D joints in camera
coordinates, a depth label per limb in {−1, 0, +1} (the Three-Layer Pose Space of the 2.5D thesis:
behind the torso, on its plane, in front), and the appearance and scene ids.

Rendering: body parts are filled capsules, circles and the torso polygon, drawn with OpenCV into a
part-label image in depth order (far first), so limbs occlude each other; the label image is then
coloured by the appearance (skin, hair, top and bottom colours with solid / stripes / checks
patterns, shoes, optional hat) with a little depth shading, over the scene (colour, gradient or
texture background plus clutter shapes). Clothing patterns are laid out in image coordinates.

:func:`render` is public: render person A (appearance) in person B's pose (pose, camera) to get a
ground-truth pose-transfer target. :class:`SyntheticPeople` indexes an endless, reproducible
dataset: sample ``i`` of seed ``s`` is always the same bytes, whatever the batch it is drawn in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import body as B

__all__ = ["Appearance", "Scene", "Camera", "Sample", "render", "render_batch",
           "sample_camera", "camera_matrices", "SyntheticPeople", "PARTS", "LIMBS_25D",
           "PART_GROUPS", "part_labels"]

# ---- parts and materials ------------------------------------------------------------------------
PARTS = ("background", "torso", "neck", "head", "hair", *B.LIMB_PARTS, "left_hand", "right_hand",
         "left_foot", "right_foot", "hat")
P = {name: i for i, name in enumerate(PARTS)}
LIMBS_25D = tuple(B.LIMB_PARTS)   # the 8 limbs labelled in {-1, 0, +1}
#: part ids whose material never depends on the appearance's cut (sleeves, trousers)
PART_GROUPS = {"top": [P["torso"]], "bottom": [P["left_upper_leg"], P["right_upper_leg"]],
               "skin": [P["head"], P["neck"], P["left_hand"], P["right_hand"]]}
SKIN, HAIR, TOP, BOTTOM, SHOES, ACCESSORY = range(6)

_J = B.SKELETON.index
_OWN = {  # parts a joint may be seen on without being occluded
    **{j: ("torso", "neck") for j in ("pelvis", "spine", "spine2", "spine3", "spine4",
                                      "left_clavicle", "right_clavicle")},
    "neck": ("torso", "neck", "head", "hair"),
    **{j: ("head", "hair", "hat", "neck") for j in ("head", "head_top")},
    **{j: ("head", "hair", "hat") for j in ("nose", "left_eye", "right_eye", "left_ear",
                                            "right_ear")},
}
for _side in ("left", "right"):
    _OWN.update({
        f"{_side}_shoulder": ("torso", f"{_side}_upper_arm"),
        f"{_side}_elbow": (f"{_side}_upper_arm", f"{_side}_lower_arm"),
        f"{_side}_wrist": (f"{_side}_lower_arm", f"{_side}_hand"),
        f"{_side}_hand": (f"{_side}_lower_arm", f"{_side}_hand"),
        f"{_side}_hip": ("torso", f"{_side}_upper_leg"),
        f"{_side}_knee": (f"{_side}_upper_leg", f"{_side}_lower_leg"),
        f"{_side}_ankle": (f"{_side}_lower_leg", f"{_side}_foot"),
        f"{_side}_foot": (f"{_side}_lower_leg", f"{_side}_foot"),
        f"{_side}_toe": (f"{_side}_foot",),
    })
_OWN_MASK = np.zeros((B.SKELETON.num_joints, len(PARTS)), bool)
for _j, _parts in _OWN.items():
    _OWN_MASK[_J(_j), [P[p] for p in _parts]] = True
_OWN_MASK[:, 0] = True                      # background at a joint's pixel: not occluded
_FACE = np.array([_J(j) for j in ("nose", "left_eye", "right_eye")])
_EARS = np.array([_J("left_ear"), _J("right_ear")])
_TORSO4 = np.array([_J(j) for j in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")])
_LIMB_IDX = np.array([[_J(a), _J(b)] for a, b, _ in B.LIMB_PARTS.values()])

_SKIN_TONES = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 135], [198, 134, 96],
                        [160, 104, 70], [120, 76, 48], [90, 56, 38]], np.float32)
_HAIR = np.array([[20, 16, 14], [60, 40, 25], [110, 70, 40], [180, 140, 80], [220, 200, 150],
                  [150, 150, 150], [170, 50, 30]], np.float32)


# ---- explicit parameters ------------------------------------------------------------------------
@dataclass(frozen=True)
class Appearance:
    """Who the person is: body proportions and clothing. ``Appearance.from_id(i)`` is fixed per i."""

    id: int
    body: B.Body
    skin: tuple
    hair: tuple
    hair_long: bool
    top: tuple
    top_alt: tuple
    top_pattern: str          # "solid" | "stripes" | "checks"
    sleeves: str              # "long" | "short" | "none"
    bottom: tuple
    bottom_alt: tuple
    bottom_pattern: str
    trousers: bool            # False: shorts
    shoes: tuple
    hat: tuple | None = None  # accessory colour, or None
    pattern_period: float = 0.12   # fraction of the image size
    pattern_angle: float = 0.0

    @classmethod
    def from_id(cls, appearance_id: int) -> "Appearance":
        return _appearance(int(appearance_id))

    @classmethod
    def _make(cls, appearance_id: int) -> "Appearance":
        rng = np.random.default_rng([0xA99EA2, int(appearance_id)])
        colour = lambda: tuple(float(c) for c in rng.integers(15, 246, 3))
        skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.93, 1.05)
        hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15)
        return cls(
            id=int(appearance_id), body=B.sample_body(rng),
            skin=tuple(np.clip(skin, 0, 255).tolist()), hair=tuple(np.clip(hair, 0, 255).tolist()),
            hair_long=bool(rng.random() < 0.35),
            top=colour(), top_alt=colour(),
            top_pattern=str(rng.choice(["solid", "solid", "stripes", "checks"])),
            sleeves=str(rng.choice(["long", "short", "none"], p=[0.45, 0.4, 0.15])),
            bottom=colour(), bottom_alt=colour(),
            bottom_pattern=str(rng.choice(["solid", "solid", "solid", "stripes", "checks"])),
            trousers=bool(rng.random() < 0.7), shoes=colour(),
            hat=colour() if rng.random() < 0.15 else None,
            pattern_period=float(rng.uniform(0.07, 0.16)),
            pattern_angle=float(rng.uniform(0, np.pi)),
        )


@dataclass(frozen=True)
class Scene:
    """The background: ``kind`` in {"solid", "gradient", "texture"} plus clutter shapes."""

    id: int
    kind: str
    colour: tuple
    colour2: tuple
    angle: float
    texture_seed: int
    clutter: tuple = field(default=())   # (shape, x, y, w, h, colour) with x..h in [0, 1]

    @classmethod
    def from_id(cls, scene_id: int) -> "Scene":
        return _scene(int(scene_id))

    @classmethod
    def _make(cls, scene_id: int) -> "Scene":
        rng = np.random.default_rng([0x5CE7E, int(scene_id)])
        colour = lambda: tuple(float(c) for c in rng.integers(0, 256, 3))
        clutter = tuple((str(rng.choice(["rect", "ellipse"])), *rng.uniform(0, 1, 2).tolist(),
                         *rng.uniform(0.05, 0.35, 2).tolist(), colour())
                        for _ in range(rng.integers(0, 5)))
        return cls(int(scene_id), str(rng.choice(["solid", "gradient", "texture"])), colour(),
                   colour(), float(rng.uniform(0, 2 * np.pi)), int(rng.integers(1 << 31)), clutter)

    def background(self, size: int) -> np.ndarray:
        """``(size, size, 3)`` uint8 RGB (cached per scene and size, read-only)."""
        return _background(self, size)


@lru_cache(maxsize=None)
def _appearance(appearance_id: int) -> Appearance:
    return Appearance._make(appearance_id)


@lru_cache(maxsize=None)
def _scene(scene_id: int) -> Scene:
    return Scene._make(scene_id)


@lru_cache(maxsize=2048)
def _background(scene: Scene, size: int) -> np.ndarray:
    import cv2

    c1, c2 = np.array(scene.colour, np.float32), np.array(scene.colour2, np.float32)
    if scene.kind == "solid":
        img = np.broadcast_to(c1, (size, size, 3)).copy()
    else:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
        if scene.kind == "gradient":
            t = np.cos(scene.angle) * (xx - 0.5) + np.sin(scene.angle) * (yy - 0.5) + 0.5
        else:
            noise = np.random.default_rng(scene.texture_seed).random((6, 6)).astype(np.float32)
            t = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
        t = np.clip(t, 0, 1)[..., None]
        img = c1 * (1 - t) + c2 * t
    for shape, x, y, w, h, colour in scene.clutter:
        centre = (int(x * size), int(y * size))
        axes = (max(1, int(w * size / 2)), max(1, int(h * size / 2)))
        if shape == "rect":
            cv2.rectangle(img, (centre[0] - axes[0], centre[1] - axes[1]),
                          (centre[0] + axes[0], centre[1] + axes[1]), colour, -1)
        else:
            cv2.ellipse(img, centre, axes, 0, 0, 360, colour, -1)
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    img.setflags(write=False)
    return img


@dataclass(frozen=True)
class Camera:
    """Where the camera is, relative to the person's pelvis: angles in degrees, distance in m.

    ``fill`` is the fraction of the crop taken by the person's larger extent and ``shift`` the
    person's offset from the crop centre (fractions of the crop), as in person-centred crops.
    """

    yaw: float = 0.0
    pitch: float = 5.0
    roll: float = 0.0
    distance: float = 4.0
    fill: float = 0.85
    shift: tuple = (0.0, 0.0)

    def rotation_and_centre(self, target):
        """World-to-camera ``R`` and camera centre ``T`` (Human3.6M convention, OpenCV axes)."""
        R, T = camera_matrices([self], np.asarray(target, np.float64)[None])
        return R[0], T[0]


def camera_matrices(cameras, targets):
    """``R (n, 3, 3)`` and centres ``T (n, 3)`` of cameras looking at ``targets (n, 3)``.

    The camera sits ``distance`` from the target at ``yaw`` around the vertical (0: in front of
    the person, who faces +z) and ``pitch`` above the horizon, rolled by ``roll``; axes as OpenCV
    (x right, y down, z forward).
    """
    yaw, pitch, roll, dist = (np.deg2rad([getattr(c, a) for c in cameras]) if a != "distance"
                              else np.array([c.distance for c in cameras])
                              for a in ("yaw", "pitch", "roll", "distance"))
    offset = np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)], -1)
    f = -offset
    r = np.stack([-f[:, 2], np.zeros_like(yaw), f[:, 0]], -1)       # f × (0, 1, 0)
    r /= np.linalg.norm(r, axis=-1, keepdims=True)
    d = np.cross(f, r)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    R = np.stack([c * r - s * d, s * r + c * d, f], 1)
    return R, np.asarray(targets) + dist[:, None] * offset


def sample_camera(rng: np.random.Generator) -> Camera:
    """Any yaw, pitch −10…35°, roll ±8°, distance 2.5–8 m, fill 0.75–0.9, shift ±4 %."""
    return Camera(float(rng.uniform(-180, 180)), float(rng.uniform(-10, 35)),
                  float(np.clip(rng.normal(0, 4), -8, 8)), float(rng.uniform(2.5, 8.0)),
                  float(rng.uniform(0.75, 0.9)), tuple(rng.uniform(-0.04, 0.04, 2).tolist()))


# ---- rendering ----------------------------------------------------------------------------------
@dataclass
class Sample:
    image: np.ndarray          # (S, S, 3) uint8 RGB
    mask: np.ndarray           # (S, S) uint8 {0, 1}
    joints2d: np.ndarray       # (33, 2) float32 pixels (synthetic33 order)
    visible: np.ndarray        # (33,) bool: in frame and not occluded
    joints3d: np.ndarray       # (33, 3) float32 camera coordinates, metres
    limb_depth: np.ndarray     # (8,) int8 in {-1, 0, +1}, LIMBS_25D order
    appearance_id: int
    scene_id: int
    intrinsics: np.ndarray     # (4,) fx, fy, cx, cy of the crop
    parts: np.ndarray | None = None   # (S, S) uint8 part label (index into PARTS; 0 background)


def _project(cam_pts, camera: Camera, size: int, margin):
    """Perspective projection of camera points, fitted into a person-centred crop."""
    uv = cam_pts[..., :2] / cam_pts[..., 2:3]
    lo = (uv - margin[..., None]).min(-2)
    hi = (uv + margin[..., None]).max(-2)
    scale = camera.fill * size / (hi - lo).max(-1)
    centre = 0.5 * (lo + hi)
    c = size / 2.0 - 0.5 + np.asarray(camera.shift) * size - scale[..., None] * centre
    return uv * scale[..., None, None] + c[..., None, :], scale, c


def _spec(part, kind, points, radius, factor, depth_joints, offset=0.0):
    return (P[part], kind, tuple(_J(p) if isinstance(p, str) else p for p in points), radius,
            factor, tuple(_J(j) for j in depth_joints), offset)


_HAIR_POINT = B.SKELETON.num_joints          # index of the extra drawing point (hair centre)
_TORSO_HULL = tuple(_J(n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip",
                                    "spine4", "pelvis"))
#: static description of the drawn parts: (part id, kind, point indices, radius key, radius
#: factor, joints whose mean camera depth orders the part, depth offset in m)
_SPECS = (
    (P["torso"], "torso", _TORSO_HULL, "torso", 0.55,
     tuple(_J(j) for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")), 0.0),
    _spec("neck", "capsule", ("spine4", "head"), "neck", 1.0, ("neck",), 0.01),
    _spec("head", "circle", ("head",), "head", 1.0, ("head",)),
    *(_spec(name, "capsule", (a, b), rad, 1.0, (a, b)) for name, (a, b, rad) in B.LIMB_PARTS.items()),
    *(_spec(f"{s}_hand", "circle", (f"{s}_hand",), "hand", 1.0, (f"{s}_hand",))
      for s in ("left", "right")),
    *(_spec(f"{s}_foot", "capsule", (f"{s}_ankle", f"{s}_toe"), "foot", 1.0, (f"{s}_foot",))
      for s in ("left", "right")),
)
_SPEC_DEPTH = [np.array(s[5]) for s in _SPECS]


def _primitives(app: Appearance, z, px_per_m):
    """(part id, kind, point indices, radius px, depth) for every body part; point indices refer
    to the 33 joints and, last, the hair centre."""
    radii = app.body.radii
    prims = [(part, kind, pts, max(1.0, radii[key] * factor * px_per_m),
              float(z[didx].mean()) + off)
             for (part, kind, pts, key, factor, _, off), didx in zip(_SPECS, _SPEC_DEPTH)]
    # hair sits behind the face when the face looks at the camera, in front of it otherwise
    head_r = max(1.0, radii["head"] * px_per_m)
    zh = float(z[_J("head")])
    hair_depth = zh + (0.02 if z[_J("nose")] < zh else -0.02)
    prims.append((P["hair"], "circle", (_HAIR_POINT,), head_r * 0.95, hair_depth))
    if app.hair_long:
        prims.append((P["hair"], "capsule", (_J("head"), _J("spine4")), head_r * 0.85, zh + 0.03))
    if app.hat is not None:
        prims.append((P["hat"], "circle", (_J("head_top"),), head_r * 0.75, hair_depth - 0.05))
    return prims


_SHIFT = 3                                   # OpenCV sub-pixel bits


def _draw_labels(prims, ip, size, ss):
    """Part-label image ``(size·ss)²`` drawn far to near; ``ip`` integer points (shifted)."""
    import cv2

    label = np.zeros((size * ss, size * ss), np.uint8)
    k = ss * (1 << _SHIFT)
    pts = [tuple(p) for p in ip.tolist()]
    for part, kind, idx, rad, _ in sorted(prims, key=lambda p: -p[4]):
        rr = int(rad * k)
        if kind == "circle":
            cv2.circle(label, pts[idx[0]], rr, part, -1, cv2.LINE_8, _SHIFT)
        elif kind == "capsule":   # OpenCV's thick lines have round caps: a capsule
            cv2.line(label, pts[idx[0]], pts[idx[1]], part, max(1, int(round(2 * rad * ss))),
                     cv2.LINE_8, _SHIFT)
        else:  # torso: convex hull of shoulders/hips/spine + a thick spine for side views
            hull = cv2.convexHull(ip[list(idx)].astype(np.int32))
            cv2.fillConvexPoly(label, hull, part, cv2.LINE_8, _SHIFT)
            cv2.line(label, pts[idx[4]], pts[idx[5]], part, max(1, int(round(2 * rad * ss))),
                     cv2.LINE_8, _SHIFT)
    return label


def _materials(app: Appearance):
    mat = np.full(len(PARTS), SKIN)
    mat[P["hair"]] = HAIR
    mat[P["torso"]] = TOP
    mat[P["hat"]] = ACCESSORY
    for side in ("left", "right"):
        mat[P[f"{side}_upper_arm"]] = TOP if app.sleeves != "none" else SKIN
        mat[P[f"{side}_lower_arm"]] = TOP if app.sleeves == "long" else SKIN
        mat[P[f"{side}_upper_leg"]] = BOTTOM
        mat[P[f"{side}_lower_leg"]] = BOTTOM if app.trousers else SKIN
        mat[P[f"{side}_foot"]] = SHOES
    return mat


_ANGLES, _PERIODS = 8, 6   # patterns come from a small cached bank of orientations and periods


@lru_cache(maxsize=256)
def _pattern(kind: str, angle_bin: int, period_bin: int, size: int) -> np.ndarray:
    if kind == "solid":
        return np.zeros((size, size), bool)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = np.pi * angle_bin / _ANGLES
    half = 0.5 * (0.07 + 0.09 * period_bin / (_PERIODS - 1))
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    out = (np.floor(u / half) % 2).astype(bool)
    if kind == "checks":
        out ^= (np.floor(v / half) % 2).astype(bool)
    return out


@lru_cache(maxsize=512)
def _pattern_code(top: str, bottom: str, angle_bin: int, period_bin: int, size: int):
    """Pattern-code plane ``(S, S)`` uint8: bit 0 top pattern, bit 1 bottom pattern."""
    code = (_pattern(top, angle_bin, period_bin, size).astype(np.uint8)
            | (_pattern(bottom, angle_bin, period_bin, size).astype(np.uint8) << 1))
    code.setflags(write=False)
    return code


@lru_cache(maxsize=16384)
def _appearance_tables(app: Appearance, size: int):
    """Colour table ``(P·4, 3)`` indexed by ``part·4 + pattern code`` and the code plane."""
    mat = _materials(app)
    hat = app.hat if app.hat is not None else app.hair
    prim = np.array([app.skin, app.hair, app.top, app.bottom, app.shoes, hat], np.float32)
    table = np.repeat(prim[mat][:, None, :], 4, axis=1)          # (P, 4, 3)
    top, bottom = mat == TOP, mat == BOTTOM
    table[top, 1] = table[top, 3] = app.top_alt
    table[bottom, 2] = table[bottom, 3] = app.bottom_alt
    a = int(app.pattern_angle / np.pi * _ANGLES) % _ANGLES
    q = int(np.clip((app.pattern_period - 0.07) / 0.09 * (_PERIODS - 1), 0, _PERIODS - 1))
    table.setflags(write=False)
    return table.reshape(-1, 3), _pattern_code(app.top_pattern, app.bottom_pattern, a, q, size)


def render(pose, appearance: Appearance, scene: Scene, camera: Camera, size: int = 64,
           root=None, supersample: int = 2) -> Sample:
    """Render one person: joint angles ``pose`` (``(27,)``, see :mod:`.body`) of ``appearance``
    (whose body proportions are used) in ``scene`` seen by ``camera``, into a ``size`` crop."""
    return render_batch(np.asarray(pose)[None], [appearance], [scene], [camera], size,
                        None if root is None else np.asarray(root)[None], supersample)[0]


def render_batch(poses, appearances, scenes, cameras, size=64, roots=None, supersample=2,
                 depth_offsets=None):
    """:func:`render` for a batch (forward kinematics and projection are vectorised).

    ``depth_offsets`` ``(n, len(PARTS))`` (metres, optional) is added to each part's drawing depth:
    the hook that forces a limb's draw order the other way — same joints, flipped occlusion (the
    counterfactual renders of the 2.5D evaluation). Joint visibility follows the drawn order."""
    import cv2

    if size not in (64, 128, 256):
        raise ValueError(f"size must be 64, 128 or 256, got {size}")
    poses = np.asarray(poses, np.float64)
    n = len(poses)
    if not (len(appearances) == len(scenes) == len(cameras) == n):
        raise ValueError("poses, appearances, scenes and cameras must have the same length")
    if not np.isfinite(poses).all():
        raise ValueError("pose parameters contain NaN or inf")
    lengths = np.stack([a.body.bone_lengths() for a in appearances])
    world = B.forward_kinematics(B.clip_pose(poses), lengths, roots)
    target = world[:, _J("pelvis")] + np.array([0.0, 0.1, 0.0])
    R, T = camera_matrices(cameras, target)
    cam = np.einsum("nij,nkj->nki", R, world - T[:, None, :])
    margin = np.array([a.body.radii["head"] for a in appearances])[:, None] / cam[..., 2]
    samples = []
    k = supersample * (1 << _SHIFT)
    for i in range(n):
        uv, scale, c = _project(cam[i], cameras[i], size, margin[i])
        z = cam[i, :, 2]
        app = appearances[i]
        prims = _primitives(app, z, scale / z[_J("pelvis")])
        # the shading follows the true depths: an offset changes the draw order only, so the
        # counterfactual render differs from the original exactly where the flipped limb
        # overlaps another part (shading by the offset depth recoloured the whole limb, and
        # through the near/far range the whole body)
        true_depth = np.zeros(len(PARTS), np.float32)
        for part, _, _, _, d in prims:
            true_depth[part] = d
        if depth_offsets is not None:
            prims = [(part, kind, pts, rad, d + float(depth_offsets[i][part]))
                     for part, kind, pts, rad, d in prims]
        hair = 0.6 * uv[_J("head_top")] + 0.4 * uv[_J("head")]
        ip = np.rint((np.concatenate([uv, hair[None]]) + 0.5) * k - k / (2 * supersample))
        label_ss = _draw_labels(prims, ip.astype(np.int64), size, supersample)
        table, code = _appearance_tables(app, size * supersample)
        depth = np.zeros(len(PARTS), np.float32)     # drawing depths: joint visibility below
        for part, _, _, _, d in prims:
            depth[part] = d
        near, far = true_depth[true_depth > 0].min(), true_depth[true_depth > 0].max()
        shade = 1.0 - 0.25 * (true_depth - near) / max(far - near, 1e-6)
        lut = np.zeros((256, 1, 3), np.uint8)   # part·4 + code < 256 (18 parts)
        lut[:len(table), 0] = np.clip(table * np.repeat(shade, 4)[:, None] + 0.5, 0, 255)
        idx = (label_ss << 2) | code
        fg_ss = cv2.compare(label_ss, 0, cv2.CMP_GT)               # 0 / 255
        image_ss = scenes[i].background(size * supersample).copy()
        cv2.copyTo(cv2.LUT(cv2.merge((idx, idx, idx)), lut), fg_ss, image_ss)
        if supersample > 1:
            image = cv2.resize(image_ss, (size, size), interpolation=cv2.INTER_AREA)
            fg = cv2.resize(fg_ss, (size, size), interpolation=cv2.INTER_AREA)
            label = label_ss[supersample // 2::supersample, supersample // 2::supersample]
        else:
            image, fg, label = image_ss, fg_ss, label_ss
        # visibility: in frame, and not covered by a nearer part that is not its own
        ij = np.round(uv).astype(int)
        inside = ((ij >= 0) & (ij < size)).all(-1)
        on = label[np.clip(ij[:, 1], 0, size - 1), np.clip(ij[:, 0], 0, size - 1)]
        covered = ~_OWN_MASK[np.arange(len(on)), on] & (depth[on] < z)
        visible = inside & ~covered
        facing = z[_J("nose")] < z[_J("head")] - 1e-3
        visible[_FACE] &= facing
        head = cam[i, _J("head")]
        visible[_EARS] &= ((cam[i, _EARS] - head) @ -head) > 0
        torso_z = z[_TORSO4].mean()
        tau = 0.5 * appearances[i].body.radii["torso"]
        limb_z = z[_LIMB_IDX].mean(-1)
        limb_depth = np.where(torso_z - limb_z > tau, 1, np.where(limb_z - torso_z > tau, -1, 0))
        samples.append(Sample(
            image=image, mask=(fg >= 128).astype(np.uint8), joints2d=uv.astype(np.float32),
            visible=visible, joints3d=cam[i].astype(np.float32),
            limb_depth=limb_depth.astype(np.int8), appearance_id=appearances[i].id,
            scene_id=scenes[i].id,
            intrinsics=np.array([scale, scale, c[0], c[1]], np.float32), parts=label))
    return samples


class SyntheticPeople:
    """An endless, reproducible set of synthetic people.

    Sample ``i`` draws its pose, camera, appearance id (of ``n_appearances``) and scene id (of
    ``n_scenes``) from a generator seeded by ``(seed, i)``: the same seed gives byte-identical
    samples in any batching; different seeds give different people.
    """

    def __init__(self, size=64, seed=0, n_appearances=5000, n_scenes=1000, supersample=2):
        if size not in (64, 128, 256):
            raise ValueError(f"size must be 64, 128 or 256, got {size}")
        self.size, self.seed, self.supersample = size, int(seed), supersample
        self.n_appearances, self.n_scenes = n_appearances, n_scenes

    def parameters(self, index):
        """``(pose, appearance, scene, camera)`` of sample ``index``."""
        rng = np.random.default_rng([self.seed, int(index)])
        pose = B.sample_pose(rng)
        camera = sample_camera(rng)
        app = Appearance.from_id(int(rng.integers(self.n_appearances)))
        scene = Scene.from_id(int(rng.integers(self.n_scenes)))
        return pose, app, scene, camera

    def batch(self, start, n):
        """Samples ``start … start+n-1`` stacked into a dict of arrays."""
        params = [self.parameters(i) for i in range(start, start + n)]
        poses, apps, scenes, cams = zip(*params)
        samples = render_batch(np.stack(poses), apps, scenes, cams, self.size,
                               supersample=self.supersample)
        return stack(samples, poses=np.stack(poses))

    def __getitem__(self, index):
        pose, app, scene, camera = self.parameters(index)
        return render(pose, app, scene, camera, self.size, supersample=self.supersample)


def part_labels(params, size=64):
    """Part-label images ``(n, S, S)`` of ``(pose, appearance, scene, camera)`` tuples."""
    poses, apps, scenes, cams = zip(*params)
    return np.stack([s.parts for s in render_batch(np.stack(poses), apps, scenes, cams, size)])


def stack(samples, **extra):
    """Stack :class:`Sample` objects into a dict of arrays (ids as int64 arrays)."""
    out = {name: np.stack([getattr(s, name) for s in samples])
           for name in ("image", "mask", "joints2d", "visible", "joints3d", "limb_depth",
                        "intrinsics")}
    out["appearance_id"] = np.array([s.appearance_id for s in samples], np.int64)
    out["scene_id"] = np.array([s.scene_id for s in samples], np.int64)
    out.update(extra)
    return out
