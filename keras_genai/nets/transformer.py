"""Decoder-only transformer parts: causal self-attention with a key/value cache, pre-LN blocks.

Every layer has three ways to run:

- ``call(x)``: the whole sequence at once (training, scoring), causal mask;
- ``prefill(x)``: the same, also returning each block's keys and values (batch, heads, L, head_dim);
- ``step(x, keys, values, position, weights)``: one new position, x (batch, width), against
  fixed-size caches of ``context_length`` positions, written at ``position``; one step costs one
  position. ``weights`` (``decoding_weights()``) are read once per decoding loop, not per step.
  ``xla=True`` when the step is traced inside an XLA-compiled function (``jit_compile=True``).
"""

import math

import keras
import tensorflow as tf

from keras_genai.nets.dropout import ReplicaDropout

_MASKED = -1e9  # logits of masked positions (softmax is computed in float32)


@keras.saving.register_keras_serializable(package="keras_genai")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention in which position i sees positions <= i.

    Args:
        num_heads: heads; the model width must be divisible by it.
        dropout: dropout rate on the attention weights and the output (training only).
    Input (batch, length, width) -> output (batch, length, width).

    Example:

    ```python
    import numpy as np
    import keras_genai

    attention = keras_genai.nets.CausalSelfAttention(num_heads=2)
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype("float32")  # (batch, length, embed_dim)
    y = attention(x)  # (2, 5, 16); y[:, t] depends on x[:, :t + 1] only
    ```
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.attention_dropout = ReplicaDropout(self.dropout, dtype=self.dtype_policy)
        self.output_dropout = ReplicaDropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        width = int(input_shape[-1])
        if width % self.num_heads:
            raise ValueError(f"width {width} is not divisible by num_heads {self.num_heads}")
        self.head_dim = width // self.num_heads
        self.qkv = keras.layers.Dense(3 * width, name="qkv", dtype=self.dtype_policy)
        self.qkv.build(input_shape)
        self.projection = keras.layers.Dense(width, name="projection", dtype=self.dtype_policy)
        self.projection.build(input_shape)
        super().build(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout}

    def _split_heads(self, x):
        """(batch, length, 3 * width) -> q, k, v each (batch, heads, length, head_dim)."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, length, 3, self.num_heads, self.head_dim])
        q, k, v = tf.unstack(tf.transpose(x, [2, 0, 3, 1, 4]))
        return q, k, v

    def _attend(self, q, k, v, mask, training):
        """Scaled dot-product attention; ``mask`` broadcasts to (batch, heads, Lq, Lk), True = visible."""
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_dim)
        scores = tf.where(mask, tf.cast(scores, tf.float32), _MASKED)
        weights = tf.cast(tf.nn.softmax(scores, axis=-1), v.dtype)
        weights = self.attention_dropout(weights, training=training)
        y = tf.matmul(weights, v)  # (batch, heads, Lq, head_dim)
        batch, length = tf.shape(y)[0], tf.shape(y)[2]
        y = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [batch, length, self.num_heads * self.head_dim])
        return self.output_dropout(self.projection(y), training=training)

    def prefill(self, x, training=False):
        """Full causal attention over x (batch, L, width): ``(y, keys, values)``."""
        q, k, v = self._split_heads(self.qkv(x))
        length = tf.shape(x)[1]
        mask = tf.cast(tf.linalg.band_part(tf.ones([length, length]), -1, 0), tf.bool)
        return self._attend(q, k, v, mask, training), k, v

    def call(self, x, training=False):
        return self.prefill(x, training=training)[0]

    def decoding_weights(self):
        """The weights ``step`` multiplies by, read once and cut into column blocks
        (``column_blocks``): pass them to every ``step`` of a decoding loop."""
        return {"qkv": column_blocks(self.qkv), "projection": column_blocks(self.projection)}

    def step(self, x, keys, values, position, weights=None, xla=False):
        """One position. x (batch, width) at ``position``; keys/values (batch, heads, context,
        head_dim) hold positions < ``position``; ``weights`` from ``decoding_weights()`` (read
        here when None); ``xla``: True when traced for XLA (see ``write_position``). Returns
        ``(y (batch, width), keys, values)`` with this position written. The same numbers as
        ``call`` gives at that position: on 2-D tensors (each projection one matrix product, no
        reshapes around it) and with the products in column blocks."""
        weights = weights or self.decoding_weights()
        qkv = dense_in_column_blocks(self.qkv, x, weights["qkv"])
        q, k, v = tf.unstack(tf.reshape(qkv, [-1, 3, self.num_heads, 1, self.head_dim]), axis=1)
        keys = write_position(keys, k, position, xla)
        values = write_position(values, v, position, xla)
        mask = (tf.range(tf.shape(keys)[2]) <= position)[None, None, None, :]
        scores = tf.matmul(q, keys, transpose_b=True) / math.sqrt(self.head_dim)
        scores = tf.where(mask, tf.cast(scores, tf.float32), _MASKED)
        attention = tf.cast(tf.nn.softmax(scores, axis=-1), values.dtype)
        y = tf.reshape(tf.matmul(attention, values), [-1, self.num_heads * self.head_dim])
        return dense_in_column_blocks(self.projection, y, weights["projection"]), keys, values


# oneDNN (TensorFlow's ``ExecuteSingleThreadedGemm``) runs a matrix product on the calling thread
# when its operands and result take fewer bytes than this, and splits larger ones over the intra-op
# threads. The products of one decoding step are tiny, and handing each to another thread and
# back costs more than the arithmetic it shares.
_ONE_THREAD_GEMM_BYTES = 8 * 32 * 1024


def column_blocks(dense, rows=8):
    """A ``keras.layers.Dense``'s kernel and bias, read once (in its compute dtype) and cut into
    column blocks small enough that oneDNN multiplies up to ``rows`` input rows by each on the
    calling thread: a list of ``(kernel (in, w), bias (w,) or None)``."""
    inputs, units = dense.kernel.shape
    widest = max(1, (_ONE_THREAD_GEMM_BYTES // 4 - 1 - inputs * rows) // (rows + inputs))
    count = -(-units // widest)
    edges = [units * i // count for i in range(count + 1)]
    kernel = tf.cast(tf.convert_to_tensor(dense.kernel), dense.compute_dtype)
    bias = None if dense.bias is None else tf.cast(tf.convert_to_tensor(dense.bias), dense.compute_dtype)
    return [(kernel[:, a:b], None if bias is None else bias[a:b]) for a, b in zip(edges, edges[1:])]


def dense_in_column_blocks(dense, x, blocks):
    """``dense(x)`` for x (batch, in), one product per block of ``column_blocks(dense)``: the same
    numbers, since each output column is the same sum in the same order.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_genai.nets.transformer import column_blocks, dense_in_column_blocks

    dense = keras.layers.Dense(768, activation="gelu")
    x = np.random.default_rng(0).standard_normal((1, 192)).astype("float32")
    y = dense(x)  # builds the layer
    blocks = column_blocks(dense)  # 3 blocks of 256 columns
    np.testing.assert_array_equal(dense_in_column_blocks(dense, x, blocks), y)
    ```
    """
    outputs = []
    for kernel, bias in blocks:
        y = keras.ops.matmul(x, kernel)
        if bias is not None:
            y = keras.ops.add(y, bias)
        outputs.append(y if dense.activation is None else dense.activation(y))
    return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=-1)


def write_position(cache, new, position, xla=False):
    """cache (batch, heads, context, head_dim) with ``new`` (batch, heads, 1, head_dim) written at
    ``position`` (int32 scalar) of the context axis. In a TensorFlow graph one strided-slice update
    (XLA wants its bounds known when compiling); with ``xla=True`` a dynamic-update-slice, which
    XLA performs in place on a loop's cache (the TensorFlow kernel of that op copies the cache)."""
    if xla:
        return keras.ops.slice_update(cache, [0, 0, position, 0], new)
    begin = tf.stack([0, 0, position, 0])
    return tf.raw_ops.TensorStridedSliceUpdate(input=cache, begin=begin, end=begin + [0, 0, 1, 0],
                                               strides=[1, 1, 1, 1], value=new, begin_mask=0b1011, end_mask=0b1011)


@keras.saving.register_keras_serializable(package="keras_genai")
class TransformerBlock(keras.layers.Layer):
    """Pre-layer-norm block: x + attention(norm(x)), then x + MLP(norm(x)) with GELU.

    Args:
        num_heads: attention heads.
        mlp_dim: hidden width of the MLP (usually 4 x width).
        dropout: dropout rate (training only).

    Example:

    ```python
    import numpy as np
    import keras_genai

    block = keras_genai.nets.TransformerBlock(num_heads=2, mlp_dim=32)
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype("float32")  # (batch, length, embed_dim)
    y = block(x)  # (2, 5, 16); position t sees positions <= t only
    ```
    """

    def __init__(self, num_heads, mlp_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.mlp_dim = int(mlp_dim)
        self.dropout = float(dropout)
        self.attention = CausalSelfAttention(self.num_heads, self.dropout, name="attention", dtype=self.dtype_policy)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm", dtype=self.dtype_policy)
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="mlp_norm", dtype=self.dtype_policy)
        self.mlp_dropout = ReplicaDropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        width = int(input_shape[-1])
        for layer in (self.attention_norm, self.attention, self.mlp_norm):
            layer.build(input_shape)
        self.mlp_in = keras.layers.Dense(self.mlp_dim, activation="gelu", name="mlp_in", dtype=self.dtype_policy)
        self.mlp_in.build(input_shape)
        self.mlp_out = keras.layers.Dense(width, name="mlp_out", dtype=self.dtype_policy)
        self.mlp_out.build((*input_shape[:-1], self.mlp_dim))
        super().build(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "dropout": self.dropout}

    def _mlp(self, x, training):
        return self.mlp_dropout(self.mlp_out(self.mlp_in(self.mlp_norm(x))), training=training)

    def prefill(self, x, training=False):
        attended, keys, values = self.attention.prefill(self.attention_norm(x), training=training)
        x = x + attended
        return x + self._mlp(x, training), keys, values

    def call(self, x, training=False):
        return self.prefill(x, training=training)[0]

    def decoding_weights(self):
        """The weights ``step`` multiplies by, read once in column blocks (see
        ``CausalSelfAttention.decoding_weights``)."""
        return {**self.attention.decoding_weights(), "mlp_in": column_blocks(self.mlp_in),
                "mlp_out": column_blocks(self.mlp_out)}

    def step(self, x, keys, values, position, weights=None, xla=False):
        """One position: x (batch, width) -> ``(y (batch, width), keys, values)``; ``weights``
        and ``xla`` as in ``CausalSelfAttention.step``."""
        weights = weights or self.decoding_weights()
        attended, keys, values = self.attention.step(self.attention_norm(x), keys, values, position, weights, xla)
        x = x + attended
        hidden = dense_in_column_blocks(self.mlp_in, self.mlp_norm(x), weights["mlp_in"])
        return x + dense_in_column_blocks(self.mlp_out, hidden, weights["mlp_out"]), keys, values
