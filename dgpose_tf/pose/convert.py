"""Conversions between joint sets.

Every conversion is linear: each target joint is either a copy of the source joint with the same
canonical name, or a *named approximation* (a weighted mean of source joints) from
:data:`APPROXIMATIONS`, or missing. A conversion is therefore a ``(J_target, J_source)`` matrix,
applied the same way to NumPy arrays and tensors, with the rule used for each target joint kept
for inspection (``Conversion.approximations``, ``Conversion.missing``).

Visibility: a copied joint keeps its visibility; an approximated joint is visible only if every
source joint it uses is visible; a missing joint is invisible and its coordinates are NaN (or
``fill_value``) so that it cannot be used by accident.

Rules are tried in the order listed; the first whose sources are all in the source set is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .skeletons import Skeleton, get_skeleton

__all__ = ["APPROXIMATIONS", "Conversion", "conversion", "convert"]

#: target joint -> ordered list of (rule name, {source joint: weight}).
APPROXIMATIONS: dict[str, list[tuple[str, dict[str, float]]]] = {
    "pelvis": [("pelvis = mean of hips", {"left_hip": 0.5, "right_hip": 0.5})],
    "neck": [("neck ~ thorax", {"thorax": 1.0}),
             ("neck = mean of shoulders", {"left_shoulder": 0.5, "right_shoulder": 0.5})],
    "thorax": [("thorax ~ neck", {"neck": 1.0}),
               ("thorax = mean of shoulders", {"left_shoulder": 0.5, "right_shoulder": 0.5})],
    "spine": [("spine = centroid of hips and shoulders",
               {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25,
                "right_shoulder": 0.25})],
    "head": [("head ~ neck_nose", {"neck_nose": 1.0}),
             ("head = mean of ears", {"left_ear": 0.5, "right_ear": 0.5})],
    "neck_nose": [("neck_nose ~ head", {"head": 1.0}),
                  ("neck_nose ~ nose", {"nose": 1.0})],
    "nose": [("nose ~ neck_nose", {"neck_nose": 1.0})],
    "left_hand": [("left_hand ~ left_wrist", {"left_wrist": 1.0})],
    "right_hand": [("right_hand ~ right_wrist", {"right_wrist": 1.0})],
}


@dataclass(frozen=True)
class Conversion:
    """A linear map from one joint set to another (see module docstring)."""

    source: Skeleton
    target: Skeleton
    matrix: np.ndarray            # (J_target, J_source) weights
    approximations: dict          # target joint -> rule name, for approximated joints
    missing: tuple                # target joints with no source

    @property
    def valid(self) -> np.ndarray:
        """Bool per target joint: True unless missing."""
        return self.matrix.any(axis=1)

    def __call__(self, joints, visible=None, fill_value=np.nan):
        """Convert ``joints`` ``(..., J_source, D)`` (and ``visible`` ``(..., J_source)``).

        Returns ``(joints_target, visible_target)``; ``visible_target`` is all-True where the
        input had no visibility, except for missing joints.
        """
        joints = np.asarray(joints, dtype=np.float64)
        if joints.ndim < 2 or joints.shape[-2] != self.source.num_joints:
            raise ValueError(f"expected joints of shape (..., {self.source.num_joints}, D) for "
                             f"skeleton {self.source.name!r}, got {joints.shape}")
        out = np.einsum("ts,...sd->...td", self.matrix, np.nan_to_num(joints))
        if visible is None:
            visible = np.isfinite(joints).all(axis=-1)
        visible = np.asarray(visible).astype(bool)
        if visible.shape != joints.shape[:-1]:
            raise ValueError(f"visible has shape {visible.shape}, expected {joints.shape[:-1]}")
        used = self.matrix != 0  # (T, S)
        # a target joint is visible iff every source it uses is visible (and it uses one)
        vis_out = np.all(~used | visible[..., None, :], axis=-1) & self.valid
        out[..., ~self.valid, :] = fill_value
        return out, vis_out


@lru_cache(maxsize=None)
def _build(source_name: str, target_name: str) -> Conversion:
    source, target = get_skeleton(source_name), get_skeleton(target_name)
    matrix = np.zeros((target.num_joints, source.num_joints))
    approximations, missing = {}, []
    for t, joint in enumerate(target.joints):
        if joint in source:
            matrix[t, source.index(joint)] = 1.0
            continue
        for rule, weights in APPROXIMATIONS.get(joint, []):
            if all(j in source for j in weights):
                for j, w in weights.items():
                    matrix[t, source.index(j)] = w
                approximations[joint] = rule
                break
        else:
            missing.append(joint)
    matrix.setflags(write=False)
    return Conversion(source, target, matrix, approximations, tuple(missing))


def conversion(source: str | Skeleton, target: str | Skeleton) -> Conversion:
    """The :class:`Conversion` from ``source`` to ``target`` (cached)."""
    return _build(get_skeleton(source).name, get_skeleton(target).name)


def convert(joints, source, target, visible=None, fill_value=np.nan):
    """Convert joints between sets; see :class:`Conversion`."""
    return conversion(source, target)(joints, visible, fill_value)
