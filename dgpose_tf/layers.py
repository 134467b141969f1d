"""Keras 3 building blocks shared by the model families (channels-last).

Convolutions follow Caffe's arithmetic exactly, as the papers' tables give it: a convolution with
zero padding P gives ``⌊(n + 2P − K) / S⌋ + 1`` (explicit padding then a 'valid' convolution), a
transposed convolution gives ``(n − 1)·S − 2P + K`` (a 'valid' transposed convolution cropped by
P on each side). Batch normalisation uses the papers' running-average coefficient 0.9 (Keras
``momentum``) with a learnable affine; its epsilon, on which the tables are silent, is Caffe's and
PyTorch's 1e-5. A convolution followed by BN has no bias (BN's shift replaces it).
"""

from __future__ import annotations

import keras
from keras import layers, ops

__all__ = ["ConvBlock", "ResidualBlock", "ResBlock", "scaled"]

_ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh")


def scaled(channels: int, width: float) -> int:
    """Channel count times the width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ConvBlock(layers.Layer):
    """CONV or DECONV (Caffe padding) → optional BN → activation.

    Args:
        filters, kernel, stride, pad: as in the papers' tables (N, K, S, P).
        transpose: DECONV instead of CONV.
        batch_norm: add BN (momentum 0.9, learnable affine).
        activation: "linear", "relu", "leaky_relu" (with ``slope``), "sigmoid" or "tanh".
        kernel_initializer: He-normal by default (the papers' initialisation for conv/deconv).
    """

    def __init__(self, filters, kernel, stride=1, pad=0, transpose=False, batch_norm=False,
                 activation="linear", slope=0.2, kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        self.filters, self.kernel, self.stride, self.pad = int(filters), int(kernel), int(stride), int(pad)
        self.transpose, self.batch_norm = bool(transpose), bool(batch_norm)
        self.activation, self.slope = activation, float(slope)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        conv = layers.Conv2DTranspose if self.transpose else layers.Conv2D
        self.conv = conv(self.filters, self.kernel, strides=self.stride, padding="valid",
                         use_bias=not self.batch_norm, kernel_initializer=self.kernel_initializer,
                         name="conv")
        self.bn = (layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")
                   if self.batch_norm else None)

    def build(self, input_shape):
        shape = list(input_shape)
        if not self.transpose and self.pad:
            shape[1] = None if shape[1] is None else shape[1] + 2 * self.pad
            shape[2] = None if shape[2] is None else shape[2] + 2 * self.pad
        self.conv.build(tuple(shape))
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(tuple(shape)))

    def call(self, x, training=None):
        p = self.pad
        if not self.transpose and p:
            x = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
        x = self.conv(x)
        if self.transpose and p:
            x = x[:, p:-p, p:-p, :]
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.activation == "relu":
            x = ops.relu(x)
        elif self.activation == "leaky_relu":
            x = ops.leaky_relu(x, negative_slope=self.slope)
        elif self.activation == "sigmoid":
            x = ops.sigmoid(x)
        elif self.activation == "tanh":
            x = ops.tanh(x)
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        k, s, p = self.kernel, self.stride, self.pad
        size = (lambda d: None if d is None else (d - 1) * s - 2 * p + k) if self.transpose else \
            (lambda d: None if d is None else (d + 2 * p - k) // s + 1)
        return (n, size(h), size(w), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel": self.kernel,
                "stride": self.stride, "pad": self.pad, "transpose": self.transpose,
                "batch_norm": self.batch_norm, "activation": self.activation,
                "slope": self.slope,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ResidualBlock(layers.Layer):
    """Semi-DGPose Table A2: CONV(N, K3, S1, P1)-BN-ReLU → CONV(N, K3, S2, P1)-BN → SUM with the
    input. The second convolution's stride 2 keeps the size only on 1×1 maps, which is where the
    encoder uses the block for 64×64 images; other sizes are refused with a clear error."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.conv1 = ConvBlock(filters, 3, 1, 1, batch_norm=True, activation="relu", name="conv1")
        self.conv2 = ConvBlock(filters, 3, 2, 1, batch_norm=True, name="conv2")

    def build(self, input_shape):
        if input_shape[1] not in (None, 1) or input_shape[2] not in (None, 1):
            raise ValueError(f"the Table A2 residual block (stride-2 second convolution) needs 1×1 "
                             f"inputs, got {input_shape[1]}×{input_shape[2]}: the encoder is "
                             f"defined for 64×64 images")
        if input_shape[-1] != self.filters:
            raise ValueError(f"residual block of {self.filters} channels got {input_shape[-1]}")
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, x, training=None):
        return x + self.conv2(self.conv1(x, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ResBlock(layers.Layer):
    """He et al.'s basic residual block: 3×3 conv-BN-ReLU → 3×3 conv-BN, plus the input (1×1
    projection when the stride or width changes), ReLU ('same' padding; BN with Keras's default
    epsilon, which MirrorNet's shipped weights were trained with)."""

    def __init__(self, filters, stride=1, project=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = int(filters), int(stride)
        self.project = self.stride != 1 if project is None else bool(project)
        self.proj = (layers.Conv2D(self.filters, 1, self.stride, use_bias=False, name="proj")
                     if self.project else None)
        self.c1 = layers.Conv2D(filters, 3, stride, "same", use_bias=False, name="conv1")
        self.b1 = layers.BatchNormalization(momentum=0.9, name="bn1")
        self.c2 = layers.Conv2D(filters, 3, 1, "same", use_bias=False, name="conv2")
        self.b2 = layers.BatchNormalization(momentum=0.9, name="bn2")

    def build(self, input_shape):
        if not self.project and input_shape[-1] != self.filters:
            raise ValueError(f"a residual block of {self.filters} channels without projection "
                             f"got {input_shape[-1]} channels")

    def call(self, x, training=None):
        h = ops.relu(self.b1(self.c1(x), training=training))
        h = self.b2(self.c2(h), training=training)
        return ops.relu(h + (x if self.proj is None else self.proj(x)))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride,
                "project": self.project}
