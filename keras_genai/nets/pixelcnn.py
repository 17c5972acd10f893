"""Autoregressive image networks: masked convolutions (PixelCNN) and gated PixelCNN blocks.

Pixels are ordered in raster scan (row by row, left to right). Every network here maps
images (batch, H, W, C) [, labels (batch,)] to per-pixel outputs (batch, H, W, C * params)
such that the output at pixel (i, j) depends only on pixels that come before (i, j): the
channels of one pixel are predicted together from the previous pixels (no ordering inside
a pixel), which is exact for the single-channel images the Bernoulli PixelCNN models.

- ``MaskedConv2D`` (van den Oord et al., 2016, "Pixel Recurrent Neural Networks"): a
  ``Conv2D`` whose kernel is zero below the centre row and right of the centre in the
  centre row; type "A" also zeroes the centre (first layer: a pixel never sees itself),
  type "B" keeps it (later layers: a feature at (i, j) already only depends on the past).
  A stack of them has a *blind spot*: pixels above-right of (i, j) are never reached.
- ``GatedPixelCNNBlock`` (van den Oord et al., 2016, "Conditional Image Generation with
  PixelCNN Decoders"): a vertical stack (rows above, all columns of the kernel's width)
  and a horizontal stack (the current row, columns to the left), gated activations
  ``tanh(a) * sigmoid(b)``, the vertical stack fed into the horizontal one after a one-row
  shift down, a residual connection on the horizontal stack and an optional conditioning
  vector (a class embedding) added to both stacks. No blind spot.

Both causal structures only ever look up, never down: the output rows 0..i are the same
whether or not rows below i are given, which the compiled sampling loop uses to run the
network on the rows sampled so far only.
"""

import keras
import numpy as np
from keras import layers, ops


def causal_mask(kernel_size, in_channels, out_channels, mask_type):
    """The (kh, kw, in, out) 0/1 mask of a raster-scan masked convolution."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolutions need odd kernel sizes, got {kernel_size}")
    mask = np.zeros((kh, kw, in_channels, out_channels), np.float32)
    mask[: kh // 2] = 1.0  # rows above the centre
    mask[kh // 2, : kw // 2] = 1.0  # left of the centre in the centre row
    if mask_type == "B":
        mask[kh // 2, kw // 2] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="keras_genai")
class MaskedConv2D(layers.Conv2D):
    """``Conv2D`` with a raster-scan causal mask on its kernel ("A": excludes the centre
    pixel, "B": includes it). Stride 1, odd kernel, ``padding="same"``.

    Example:

    ```python
    import numpy as np
    import keras_genai

    conv = keras_genai.nets.MaskedConv2D(8, 5, mask_type="A")  # "A": the centre pixel is hidden too
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    y = conv(x)  # (2, 8, 8, 8); y[:, i, j] depends only on the pixels before (i, j) in raster order
    ```
    """

    def __init__(self, filters, kernel_size, mask_type="B", **kwargs):
        kwargs.setdefault("padding", "same")
        if kwargs["padding"] != "same" or kwargs.get("strides", 1) not in (1, (1, 1)):
            raise ValueError("MaskedConv2D needs padding='same' and strides 1")
        super().__init__(filters, kernel_size, **kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        self.mask_type = mask_type

    def build(self, input_shape):
        super().build(input_shape)
        self.mask = ops.convert_to_tensor(
            causal_mask(self.kernel_size, int(input_shape[-1]), self.filters, self.mask_type))

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self.mask, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        config["mask_type"] = self.mask_type
        return config


def shift_down(x):
    """Moves every row one down (zeros in the top row): row i then holds row i - 1."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(x):
    """Moves every column one right (zeros in the first column)."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def gate(x):
    """Gated activation: tanh of the first half of the channels times sigmoid of the second."""
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


@keras.saving.register_keras_serializable(package="keras_genai")
class GatedPixelCNNBlock(layers.Layer):
    """One gated PixelCNN layer: ``[vertical, horizontal(, condition)] -> [vertical, horizontal]``.

    The vertical output at row i depends on the vertical input at rows <= i (columns within
    ``kernel_size // 2``); the horizontal output at (i, j) on the horizontal input at row i,
    columns <= j (``first``: columns < j) and on the vertical input at rows < i. With the
    image as both inputs of the first block, the horizontal stack at (i, j) therefore sees
    exactly the pixels before (i, j), with no blind spot.

    Args:
        filters: channels of both stacks.
        kernel_size: odd int; the vertical kernel is (k // 2 + 1, k), the horizontal (1, k // 2 + 1).
        first: the first block (horizontal stack shifted right: a pixel does not see itself;
            no residual connection).
        conditional: the block takes a third input, a conditioning vector (batch, d) added
            (through a linear map) to both stacks before the gates.

    Example:

    ```python
    import numpy as np
    import keras_genai

    first = keras_genai.nets.GatedPixelCNNBlock(8, kernel_size=7, first=True)
    block = keras_genai.nets.GatedPixelCNNBlock(8)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    vertical, horizontal = block(first([x, x]))  # both (2, 8, 8, 8)
    ```
    """

    def __init__(self, filters, kernel_size=3, first=False, conditional=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd positive int, got {kernel_size!r}")
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        self.filters, self.kernel_size, self.first, self.conditional = filters, kernel_size, bool(first), bool(conditional)
        half = kernel_size // 2
        self.vertical = layers.Conv2D(2 * filters, (half + 1, kernel_size), padding="valid", name="vertical",
                                      dtype=self.dtype_policy)
        self.horizontal = layers.Conv2D(2 * filters, (1, half + 1), padding="valid", name="horizontal",
                                        dtype=self.dtype_policy)
        self.vertical_to_horizontal = layers.Conv2D(2 * filters, 1, name="vertical_to_horizontal",
                                                    dtype=self.dtype_policy)
        self.horizontal_out = layers.Conv2D(filters, 1, name="horizontal_out", dtype=self.dtype_policy)
        if self.conditional:
            self.condition_vertical = layers.Dense(2 * filters, use_bias=False, name="condition_vertical",
                                                   dtype=self.dtype_policy)
            self.condition_horizontal = layers.Dense(2 * filters, use_bias=False, name="condition_horizontal",
                                                     dtype=self.dtype_policy)

    def build(self, input_shapes):
        vertical_shape, horizontal_shape = tuple(input_shapes[0]), tuple(input_shapes[1])
        self.vertical.build(vertical_shape[:-3] + (None, None, vertical_shape[-1]))
        self.horizontal.build(horizontal_shape[:-3] + (None, None, horizontal_shape[-1]))
        self.vertical_to_horizontal.build(vertical_shape[:-3] + (None, None, 2 * self.filters))
        self.horizontal_out.build(horizontal_shape[:-3] + (None, None, self.filters))
        if self.conditional:
            self.condition_vertical.build(tuple(input_shapes[2]))
            self.condition_horizontal.build(tuple(input_shapes[2]))
        if not self.first and int(horizontal_shape[-1]) != self.filters:
            raise ValueError(f"a residual block needs {self.filters} horizontal channels, got {horizontal_shape[-1]}")

    def vertical_features(self, vertical, condition=None):
        """The vertical stack before its gate (batch, rows, W, 2 * filters): row i from the
        vertical input at rows i - k // 2 .. i."""
        half = self.kernel_size // 2
        v = self.vertical(ops.pad(vertical, [[0, 0], [half, 0], [half, half], [0, 0]]))
        if self.conditional:  # the same vector at every pixel: no effect on the causal order
            v = v + self.condition_vertical(condition)[:, None, None, :]
        return v

    def link(self, vertical_features):
        """What the vertical stack adds to the horizontal one: its features one row down."""
        return self.vertical_to_horizontal(shift_down(vertical_features))

    def horizontal_features(self, horizontal, link, condition=None):
        """The horizontal stack's output from its input (row i, columns <= j, or < j in the
        first block) and ``link`` (the vertical stack's contribution at the same pixels)."""
        half = self.kernel_size // 2
        h_in = _shift_right(horizontal) if self.first else horizontal
        h = self.horizontal(ops.pad(h_in, [[0, 0], [0, 0], [half, 0], [0, 0]]))
        if self.conditional:
            h = h + self.condition_horizontal(condition)[:, None, None, :]
        h_out = self.horizontal_out(gate(h + link))
        return h_out if self.first else h_out + horizontal

    def call(self, inputs):
        vertical, horizontal = inputs[0], inputs[1]
        condition = inputs[2] if self.conditional else None
        v = self.vertical_features(vertical, condition)
        return [gate(v), self.horizontal_features(horizontal, self.link(v), condition)]

    def compute_output_shape(self, input_shapes):
        shape = tuple(input_shapes[0][:-1]) + (self.filters,)
        return [shape, tuple(input_shapes[1][:-1]) + (self.filters,)]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, first=self.first,
                      conditional=self.conditional)
        return config


def _check_shape(image_shape):
    if len(tuple(image_shape)) != 3 or any(int(d) < 1 for d in image_shape):
        raise ValueError(f"image_shape must be (H, W, C) with positive sizes, got {image_shape!r}")
    return tuple(int(d) for d in image_shape)


def _inputs(image_shape, num_classes):
    images = keras.Input(image_shape, name="images")
    if num_classes is None:
        return [images], None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be None or an int >= 2, got {num_classes!r}")
    labels = keras.Input((), dtype="int32", name="labels")
    return [images, labels], labels


def _head(x, image_shape, params_per_pixel, output_units):
    for index, units in enumerate(output_units):
        x = layers.Conv2D(units, 1, activation="relu", name=f"output_{index}")(layers.ReLU()(x) if index == 0 else x)
    if not output_units:
        x = layers.ReLU()(x)
    return layers.Conv2D(image_shape[-1] * params_per_pixel, 1, dtype="float32", name="logits")(x)  # full precision


def gated_pixelcnn(image_shape=(28, 28, 1), filters=64, num_layers=7, kernel_size=3, first_kernel_size=7,
                   output_units=(256,), num_classes=None, params_per_pixel=1, name="gated_pixelcnn"):
    """A gated PixelCNN network (no blind spot): images [, labels] -> (batch, H, W, C * params).

    Args:
        filters: channels of the vertical and horizontal stacks.
        num_layers: gated blocks (the first uses ``first_kernel_size``, the rest ``kernel_size``).
        output_units: hidden widths of the 1x1 output layers (ReLU) before the logits.
        num_classes: None, or the number of classes of a class-conditional network (the label
            is embedded and added to every gated block).
        params_per_pixel: outputs per channel (1: Bernoulli logits).
    """
    image_shape = _check_shape(image_shape)
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
    inputs, labels = _inputs(image_shape, num_classes)
    condition = layers.Embedding(num_classes, filters, name="label_embedding")(labels) if labels is not None else None
    extra = [condition] if condition is not None else []
    vertical = horizontal = inputs[0]
    for index in range(num_layers):
        block = GatedPixelCNNBlock(filters, first_kernel_size if index == 0 else kernel_size, first=index == 0,
                                   conditional=condition is not None, name=f"gated_{index}")
        vertical, horizontal = block([vertical, horizontal, *extra])
    outputs = _head(horizontal, image_shape, params_per_pixel, tuple(output_units))
    return keras.Model(inputs if labels is not None else inputs[0], outputs, name=name)


def masked_pixelcnn(image_shape=(28, 28, 1), filters=64, num_layers=7, kernel_size=3, first_kernel_size=7,
                    output_units=(256,), num_classes=None, params_per_pixel=1, name="pixelcnn"):
    """The original PixelCNN network: a type-A masked 7x7 convolution, then residual blocks
    (1x1, masked type-B ``kernel_size``, 1x1) and 1x1 output layers. It has the blind spot of
    stacked masked convolutions. ``num_classes`` adds a label embedding after the first layer."""
    image_shape = _check_shape(image_shape)
    inputs, labels = _inputs(image_shape, num_classes)
    x = MaskedConv2D(2 * filters, first_kernel_size, mask_type="A", name="masked_a")(inputs[0])
    if labels is not None:
        embedding = layers.Embedding(num_classes, 2 * filters, name="label_embedding")(labels)
        x = x + layers.Reshape((1, 1, 2 * filters))(embedding)
    for index in range(num_layers - 1):
        y = layers.Conv2D(filters, 1, activation="relu", name=f"res_{index}_in")(layers.ReLU()(x))
        y = MaskedConv2D(filters, kernel_size, mask_type="B", activation="relu", name=f"res_{index}_masked_b")(y)
        x = x + layers.Conv2D(2 * filters, 1, name=f"res_{index}_out")(y)
    outputs = _head(x, image_shape, params_per_pixel, tuple(output_units))
    return keras.Model(inputs if labels is not None else inputs[0], outputs, name=name)
