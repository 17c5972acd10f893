"""A small U-Net denoiser for diffusion and flow models (Ho et al., 2020; Nichol & Dhariwal, 2021).

``unet_denoiser(image_shape, ...)`` maps a noisy image ``x_t``, its time ``t`` and optionally
class labels to a prediction of the same shape as the image (the noise, the v target or the
velocity; the model decides which). The design, for 28x28 images on a CPU:

- levels of residual blocks (GroupNorm, SiLU, 3x3 conv, twice; between the two convolutions the
  time (and label) embedding scales and shifts the normalised features,
  ``h * (1 + scale) + shift``), ``len(channel_multipliers)`` levels of ``base_filters *
  multiplier`` channels; between levels a stride-2 convolution halves the resolution
  (28 -> 14 -> 7) and nearest-neighbour upsampling plus a 3x3 convolution doubles it on the way
  up, where each block also reads the matching skip connection;
- self-attention (one residual multi-head attention block) at the lowest resolution, in the
  last level and in the middle;
- the time: a sinusoidal embedding of ``t * time_scale`` (``SinusoidalEmbedding``, always
  float32) and a two-layer SiLU MLP; a class-conditional net adds an embedding of the labels,
  ``num_classes + 1`` rows, the last one (index ``num_classes``) being the "no label" token that
  classifier-free guidance uses for its unconditional prediction;
- the output convolution starts at zero and computes in float32, so the net predicts zero
  before training and its outputs stay float32 under ``mixed_bfloat16`` and ``mixed_float16``.
"""

import math

import keras
from keras import layers, ops



@keras.saving.register_keras_serializable(package="keras_genai")
class SinusoidalEmbedding(layers.Layer):
    """Sinusoidal features of a scalar time per example (Vaswani et al., 2017; Ho et al., 2020).

    ``t`` (batch,) float -> (batch, dim) float32: ``[sin(s t f_k), cos(s t f_k)]`` with
    ``s = scale`` and frequencies ``f_k = max_period ** (-k / (dim / 2))``, k = 0 .. dim/2 - 1.
    Always float32, whatever the dtype policy (bfloat16 cannot tell timestep 996 from 999).

    Args:
        dim: even number of features.
        scale: factor applied to ``t`` first (1000 for times in [0, 1], 1 for timesteps in [0, 1000)).
        max_period: the slowest period.

    Example:

    ```python
    import numpy as np
    import keras_genai

    features = keras_genai.nets.SinusoidalEmbedding(16)(np.array([0.0, 10.0, 999.0], np.float32))  # (3, 16)
    ```
    """

    def __init__(self, dim, scale=1.0, max_period=10_000.0, **kwargs):
        kwargs["dtype"] = "float32"  # a mixed-precision load passes the model's policy here
        super().__init__(**kwargs)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
        self.dim = dim
        self.scale = float(scale)
        self.max_period = float(max_period)

    def call(self, t):
        half = self.dim // 2
        frequencies = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * self.scale * frequencies[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "scale": self.scale, "max_period": self.max_period}


def _groups(channels, groups):
    """The largest number of groups <= ``groups`` that divides ``channels``."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


def _residual_block(x, embedding, filters, groups, dropout, name):
    h = layers.GroupNormalization(_groups(x.shape[-1], groups), epsilon=1e-5, name=f"{name}_norm1")(x)
    h = layers.Activation("silu", name=f"{name}_silu1")(h)
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(h)
    h = layers.GroupNormalization(_groups(filters, groups), epsilon=1e-5, name=f"{name}_norm2")(h)
    # Scale and shift after the normalisation (Dhariwal & Nichol's scale-shift norm): a shift added
    # before it would be removed with each group's mean.
    scale = layers.Dense(filters, name=f"{name}_scale")(embedding)
    shift = layers.Dense(filters, name=f"{name}_shift")(embedding)
    scale = layers.Reshape((1, 1, filters), name=f"{name}_scale_map")(scale)
    shift = layers.Reshape((1, 1, filters), name=f"{name}_shift_map")(shift)
    h = layers.Add(name=f"{name}_modulated")([h, layers.Multiply(name=f"{name}_scaled")([h, scale]), shift])
    h = layers.Activation("silu", name=f"{name}_silu2")(h)
    if dropout:
        h = layers.Dropout(dropout, name=f"{name}_dropout")(h)
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(h)
    if x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    return layers.Add(name=f"{name}_out")([x, h])


def _attention_block(x, heads, groups, name):
    height, width, channels = x.shape[1:]
    h = layers.GroupNormalization(_groups(channels, groups), epsilon=1e-5, name=f"{name}_norm")(x)
    h = layers.Reshape((height * width, channels), name=f"{name}_tokens")(h)
    h = layers.MultiHeadAttention(heads, key_dim=max(1, channels // heads), name=f"{name}_attention")(h, h)
    h = layers.Reshape((height, width, channels), name=f"{name}_map")(h)
    return layers.Add(name=f"{name}_out")([x, h])


def check_unet_options(image_shape, base_filters, channel_multipliers, blocks_per_level, attention_heads,
                       num_classes, groups, dropout, time_scale):
    """Refuses (``ValueError``) U-Net options that cannot build; returns the image shape as a tuple."""
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in image_shape):
        raise ValueError(f"image_shape must be (height, width, channels) of positive integers, got {image_shape}")
    for name, value in (("base_filters", base_filters), ("blocks_per_level", blocks_per_level),
                        ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    multipliers = tuple(channel_multipliers)
    if not multipliers or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in multipliers):
        raise ValueError(f"channel_multipliers must be a non-empty sequence of positive integers, got "
                         f"{channel_multipliers!r}")
    factor = 2 ** (len(multipliers) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(f"{len(multipliers)} levels halve the resolution {len(multipliers) - 1} times: height and "
                         f"width must be divisible by {factor}, got {image_shape[:2]}")
    if attention_heads is not None and (isinstance(attention_heads, bool) or not isinstance(attention_heads, int)
                                        or attention_heads < 1):
        raise ValueError(f"attention_heads must be None (no attention) or a positive integer, got {attention_heads!r}")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or num_classes < 2):
        raise ValueError(f"num_classes must be None or an integer >= 2, got {num_classes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not time_scale > 0:
        raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
    return image_shape


def unet_denoiser(image_shape=(28, 28, 1), base_filters=32, channel_multipliers=(1, 2, 2), blocks_per_level=2,
                  attention_heads=4, num_classes=None, groups=8, dropout=0.0, time_scale=1.0, name="unet"):
    """Builds the U-Net denoiser (see the module docstring).

    Args:
        image_shape: (H, W, C); H and W divisible by ``2 ** (len(channel_multipliers) - 1)``.
        base_filters: channels of the first level.
        channel_multipliers: channels of each level as multiples of ``base_filters``; one level
            per entry, the resolution halving between levels ((1, 2, 2): 28, 14 and 7).
        blocks_per_level: residual blocks per level on the way down (one more on the way up).
        attention_heads: heads of the self-attention at the lowest resolution; None: no attention.
        num_classes: None (inputs ``[x_t, t]``) or the number of classes (inputs
            ``[x_t, t, labels]``, labels int32 in [0, num_classes], ``num_classes`` = no label).
        groups: GroupNorm groups (the largest divisor of each width up to this).
        dropout: dropout rate inside the residual blocks.
        time_scale: ``t`` is multiplied by it before the sinusoidal embedding: 1 for discrete
            timesteps in [0, T), about 1000 for continuous times in [0, 1].
        name: the model's name.
    Returns:
        A functional ``keras.Model``: ``x_t`` (batch, H, W, C) float32, ``t`` (batch,) float32
        [, ``labels`` (batch,) int32] -> (batch, H, W, C) float32.

    Example:

    ```python
    import numpy as np
    import keras_genai

    net = keras_genai.nets.unet_denoiser((12, 12, 1), base_filters=8, channel_multipliers=(1, 2), num_classes=10)
    x = np.zeros((2, 12, 12, 1), np.float32)
    prediction = net([x, np.array([0.0, 500.0], np.float32), np.array([3, 10], np.int32)])  # (2, 12, 12, 1)
    ```
    """
    image_shape = check_unet_options(image_shape, base_filters, channel_multipliers, blocks_per_level,
                                     attention_heads, num_classes, groups, dropout, time_scale)
    multipliers = tuple(channel_multipliers)
    x_t = keras.Input(image_shape, name="x_t")
    t = keras.Input((), name="t")
    inputs = [x_t, t]
    width = 4 * base_filters
    embedding = SinusoidalEmbedding(base_filters + base_filters % 2, scale=time_scale, name="time_features")(t)
    embedding = layers.Dense(width, name="time_dense1")(embedding)
    embedding = layers.Activation("silu", name="time_silu")(embedding)
    embedding = layers.Dense(width, name="time_dense2")(embedding)
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        label_embedding = layers.Embedding(num_classes + 1, width, name="label_embedding")(labels)
        embedding = layers.Add(name="time_and_label")([embedding, label_embedding])
    embedding = layers.Activation("silu", name="embedding_silu")(embedding)

    x = layers.Conv2D(base_filters, 3, padding="same", name="conv_in")(x_t)
    skips = [x]
    lowest = len(multipliers) - 1
    for level, multiplier in enumerate(multipliers):
        for block in range(blocks_per_level):
            x = _residual_block(x, embedding, base_filters * multiplier, groups, dropout, f"down{level}_{block}")
            if level == lowest and attention_heads:
                x = _attention_block(x, attention_heads, groups, f"down{level}_{block}_attn")
            skips.append(x)
        if level != lowest:
            x = layers.Conv2D(x.shape[-1], 3, strides=2, padding="same", name=f"down{level}_downsample")(x)
            skips.append(x)

    middle = base_filters * multipliers[-1]
    x = _residual_block(x, embedding, middle, groups, dropout, "middle_0")
    if attention_heads:
        x = _attention_block(x, attention_heads, groups, "middle_attn")
    x = _residual_block(x, embedding, middle, groups, dropout, "middle_1")

    for level in reversed(range(len(multipliers))):
        for block in range(blocks_per_level + 1):
            x = layers.Concatenate(name=f"up{level}_{block}_concat")([x, skips.pop()])
            x = _residual_block(x, embedding, base_filters * multipliers[level], groups, dropout, f"up{level}_{block}")
            if level == lowest and attention_heads:
                x = _attention_block(x, attention_heads, groups, f"up{level}_{block}_attn")
        if level:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}_upsample")(x)
            x = layers.Conv2D(x.shape[-1], 3, padding="same", name=f"up{level}_upsample_conv")(x)

    x = layers.GroupNormalization(_groups(x.shape[-1], groups), epsilon=1e-5, name="norm_out")(x)
    x = layers.Activation("silu", name="silu_out")(x)
    prediction = layers.Conv2D(image_shape[-1], 3, padding="same", kernel_initializer="zeros", dtype="float32",
                               name="prediction")(x)
    return keras.Model(inputs, prediction, name=name)
