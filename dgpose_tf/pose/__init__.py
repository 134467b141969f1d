"""Pose geometry without TensorFlow: skeletons, conversions, heatmaps, drawing."""

from .convert import APPROXIMATIONS, Conversion, conversion, convert
from .heatmaps import (BODY_SEGMENTS, POSE_VECTOR_DIM, SEMI_DGPOSE_CHANNELS, SEMI_DGPOSE_PARTS,
                       decode_heatmaps, denormalise_coords, gaussian_heatmaps, normalise_coords,
                       pose_vector, pose_vector_to_joints, segment_heatmaps, semi_dgpose_heatmaps)
from .skeletons import SKELETONS, Skeleton, get_skeleton, list_skeletons

__all__ = [
    "APPROXIMATIONS", "BODY_SEGMENTS", "Conversion", "POSE_VECTOR_DIM", "SEMI_DGPOSE_CHANNELS",
    "SEMI_DGPOSE_PARTS", "SKELETONS", "Skeleton", "conversion", "convert", "decode_heatmaps",
    "denormalise_coords", "gaussian_heatmaps", "get_skeleton", "list_skeletons",
    "normalise_coords", "pose_vector", "pose_vector_to_joints", "segment_heatmaps",
    "semi_dgpose_heatmaps",
]
