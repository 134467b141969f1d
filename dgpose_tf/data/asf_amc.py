"""CMU's native motion-capture format: an ASF skeleton and AMC motions (Acclaim; 120 fps).

ASF: ``:units`` (``length`` scale, ``angle deg|rad``), ``:root`` (``order`` of the root's six
channels, ``axis`` order, ``position``, ``orientation``), ``:bonedata`` (per bone: ``name``,
unit ``direction``, ``length``, ``axis`` angles + order, ``dof`` subset of rx ry rz), and
``:hierarchy`` (parent → children). AMC: optional header lines (``#``, ``:FULLY-SPECIFIED``,
``:DEGREES``), then per frame its number and one line per bone: ``name v1 v2 …`` in the bone's
``dof`` order.

Forward kinematics, as the Acclaim definition (and CMU's viewer): a bone's local frame is
``C = R(axis)``; its motion ``M = R(dof angles)`` in that frame; the global rotation is
``L = L_parent · C · M · C⁻¹`` and the bone's **end** is
``p = p_parent + L · direction · length``. Rotations compose in the listed axis order
(``axis XYZ`` → ``Rz · Ry · Rx`` applied to column vectors, x first). The root's end is its
translated position, so every bone end and the root give one point each.

:func:`to_synthetic` maps the points onto the synthetic33 joints with :data:`CMU_ASF_TABLE`, the
same anatomical points as :data:`dgpose_tf.data.bvh.CMU_TABLE` for CMU's BVH conversion (a BVH
joint's origin is the end of its parent ASF bone), then places the points CMU has none of its own
for (pelvis on the hip line, spine, clavicles; :func:`dgpose_tf.data.body.complete_from_anatomy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import body as B

__all__ = ["ASF", "parse_asf", "parse_amc", "load_asf", "load_amc", "forward_kinematics",
           "to_synthetic", "CMU_ASF_TABLE", "ASFError"]

#: synthetic33 joint → the ASF bone whose end is that point ("root": the root position).
CMU_ASF_TABLE = {
    "pelvis": "root", "spine": "root", "spine2": "lowerback", "spine3": "upperback",
    "spine4": "thorax", "neck": "lowerneck", "head": "upperneck", "head_top": "head",
    **{f"{s}_{j}": f"{c}{b}" for s, c in (("left", "l"), ("right", "r"))
       for j, b in (("clavicle", "thorax"), ("shoulder", "clavicle"), ("elbow", "humerus"),
                    ("wrist", "radius"), ("hand", "wrist"), ("hip", "hipjoint"),
                    ("knee", "femur"), ("ankle", "tibia"), ("foot", "foot"), ("toe", "toes"))},
}
# clavicles start at the end of the thorax (shared by both sides)
CMU_ASF_TABLE["left_clavicle"] = CMU_ASF_TABLE["right_clavicle"] = "thorax"


class ASFError(ValueError):
    """A malformed ASF or AMC file (the message names the file and line)."""


@dataclass
class ASF:
    names: list                 # bones, "root" first
    parents: np.ndarray         # parent index (-1 for the root)
    directions: np.ndarray      # (B, 3) unit directions
    lengths: np.ndarray         # (B,)
    axes: np.ndarray            # (B, 3, 3) C matrices
    dofs: list                  # per bone: channel names in AMC order
    root_order: list            # e.g. ["TX", "TY", "TZ", "RX", "RY", "RZ"]
    root_axis: str              # e.g. "XYZ"
    length_unit: float
    degrees: bool


def _rot(axis, angle):
    c, s = np.cos(angle), np.sin(angle)
    return {"X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis.upper()]


def _euler(angles, order):
    """Rotation applying the axes in ``order`` to column vectors, first axis first."""
    m = np.eye(3)
    for ax, a in zip(order, angles):
        m = _rot(ax, a) @ m
    return m


def parse_asf(text, source="<asf>"):
    lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
    section, bones, bone, hierarchy = None, [], None, []
    units = {"length": 1.0, "angle": "deg"}
    root = {"order": ["TX", "TY", "TZ", "RX", "RY", "RZ"], "axis": "XYZ"}
    for n, ln in enumerate(lines, 1):
        if not ln:
            continue
        if ln.startswith(":"):
            section = ln.split()[0][1:].lower()
            continue
        tok = ln.split()
        try:
            if section == "units" and len(tok) >= 2:
                units[tok[0]] = float(tok[1]) if tok[0] != "angle" else tok[1].lower()
            elif section == "root" and tok[0] in ("order", "axis"):
                root[tok[0]] = tok[1:] if tok[0] == "order" else tok[1]
            elif section == "bonedata":
                if tok[0] == "begin":
                    bone = {"dof": [], "axis": (np.zeros(3), "XYZ")}
                elif tok[0] == "end":
                    if bone is None or "name" not in bone or "direction" not in bone or \
                            "length" not in bone:
                        raise ASFError(f"{source}:{n}: bone without name, direction or length")
                    bones.append(bone)
                    bone = None
                elif bone is not None and tok[0] == "name":
                    bone["name"] = tok[1]
                elif bone is not None and tok[0] == "direction":
                    bone["direction"] = np.array([float(v) for v in tok[1:4]])
                elif bone is not None and tok[0] == "length":
                    bone["length"] = float(tok[1])
                elif bone is not None and tok[0] == "axis":
                    bone["axis"] = (np.array([float(v) for v in tok[1:4]]), tok[4])
                elif bone is not None and tok[0] == "dof":
                    bone["dof"] = [t.lower() for t in tok[1:]]
            elif section == "hierarchy" and tok[0] not in ("begin", "end"):
                hierarchy.append(tok)
        except (ValueError, IndexError):
            raise ASFError(f"{source}:{n}: cannot read {ln!r}") from None
    if not bones:
        raise ASFError(f"{source}: no :bonedata bones (not an ASF file?)")
    names = ["root"] + [b["name"] for b in bones]
    index = {nm: i for i, nm in enumerate(names)}
    parents = np.full(len(names), -2)
    parents[0] = -1
    for tok in hierarchy:
        if tok[0] not in index or any(c not in index for c in tok[1:]):
            raise ASFError(f"{source}: hierarchy names an unknown bone in {' '.join(tok)!r}")
        for c in tok[1:]:
            parents[index[c]] = index[tok[0]]
    if (parents == -2).any():
        raise ASFError(f"{source}: bones outside the hierarchy: "
                       f"{', '.join(n for n, p in zip(names, parents) if p == -2)}")
    degrees = units["angle"].startswith("deg")
    conv = np.deg2rad if degrees else (lambda a: a)
    axes = [np.eye(3)] + [_euler(conv(b["axis"][0]), b["axis"][1]) for b in bones]
    dirs = np.array([np.zeros(3)] + [b["direction"] / max(np.linalg.norm(b["direction"]), 1e-12)
                                     for b in bones])
    return ASF(names, parents, dirs, np.array([0.0] + [b["length"] for b in bones]),
               np.array(axes), [[]] + [b["dof"] for b in bones], [o.upper() for o in
                                                                   root["order"]],
               root["axis"], float(units["length"]), degrees)


def parse_amc(text, asf, source="<amc>"):
    """Per frame, ``{bone: values}`` → ``(F, channels)`` arrays: ``root`` (F, 6) in the root's
    ``order`` and per bone (F, len(dof))."""
    frames, cur = [], None
    for n, ln in enumerate(text.splitlines(), 1):
        ln = ln.strip()
        if not ln or ln.startswith(("#", ":")):
            continue
        tok = ln.split()
        if len(tok) == 1 and tok[0].isdigit():
            cur = {}
            frames.append(cur)
            continue
        if cur is None:
            raise ASFError(f"{source}:{n}: bone values before the first frame number")
        try:
            cur[tok[0]] = np.array([float(v) for v in tok[1:]])
        except ValueError:
            raise ASFError(f"{source}:{n}: cannot read {ln!r}") from None
    if not frames:
        raise ASFError(f"{source}: no frames")
    out = {}
    for b, name in enumerate(asf.names):
        width = 6 if name == "root" else len(asf.dofs[b])
        if width == 0:
            continue
        vals = np.zeros((len(frames), width))
        for f, fr in enumerate(frames):
            if name in fr:
                if len(fr[name]) != width:
                    raise ASFError(f"{source}: frame {f + 1}: {name} has {len(fr[name])} values, "
                                   f"the ASF gives it {width}")
                vals[f] = fr[name]
        out[name] = vals
    return out


def forward_kinematics(asf, motion):
    """Points ``(F, B, 3)`` in ASF length units: the root position and every bone's end."""
    n_f = len(motion["root"])
    conv = np.deg2rad if asf.degrees else (lambda a: a)
    pos = np.zeros((n_f, len(asf.names), 3))
    rot = np.zeros((n_f, len(asf.names), 3, 3))
    order = asf.root_order
    root = motion["root"]
    t = np.stack([root[:, order.index(c)] for c in ("TX", "TY", "TZ")], -1)
    r_cols = [order.index(c) for c in ("RX", "RY", "RZ")]
    for f in range(n_f):
        angles = conv(root[f, r_cols])
        pos[f, 0] = t[f]
        rot[f, 0] = _euler([angles["XYZ".index(a)] for a in asf.root_axis], asf.root_axis)
    for b in range(1, len(asf.names)):
        p = asf.parents[b]
        c, cinv = asf.axes[b], asf.axes[b].T
        dof = asf.dofs[b]
        vals = motion.get(asf.names[b])
        for f in range(n_f):
            if dof and vals is not None:
                angles = dict(zip(dof, conv(vals[f])))
                m = _euler([angles.get(f"r{a.lower()}", 0.0) for a in "XYZ"], "XYZ")
            else:
                m = np.eye(3)
            rot[f, b] = rot[f, p] @ c @ m @ cinv
            pos[f, b] = pos[f, p] + rot[f, b] @ asf.directions[b] * asf.lengths[b]
    return pos


def load_asf(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ASF file not found: {path}")
    return parse_asf(path.read_text(errors="replace"), str(path))


def load_amc(path, asf):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AMC file not found: {path}")
    return parse_amc(path.read_text(errors="replace"), asf, str(path))


def to_synthetic(asf, motion, table=None, height=1.75, complete=None):
    """``(F, 33, 3)`` synthetic33 joints in metres, y up (NaN where ``table`` has no entry);
    the scale makes the rest pose ``height`` tall (as :func:`dgpose_tf.data.bvh.to_synthetic`).
    ``complete`` (default: with the CMU table) places the points CMU's skeleton has no point of
    its own for with the synthetic body's proportions
    (:func:`dgpose_tf.data.body.complete_from_anatomy`)."""
    complete = table is None if complete is None else complete
    table = CMU_ASF_TABLE if table is None else table
    pos = forward_kinematics(asf, motion)
    rest = forward_kinematics(asf, {"root": np.zeros((1, 6))})[0]
    units_per_metre = (rest[:, 1].max() - rest[:, 1].min()) / height
    index = {n: k for k, n in enumerate(asf.names)}
    if not any(v in index for v in table.values()):
        raise ASFError(f"none of the table's bones are in this ASF (it has "
                       f"{', '.join(asf.names[:8])}, …)")
    out = np.full((len(pos), B.SKELETON.num_joints, 3), np.nan)
    for joint, bone in table.items():
        if bone in index:
            out[:, B.SKELETON.index(joint)] = pos[:, index[bone]] / units_per_metre
    return B.complete_from_anatomy(out) if complete else out
