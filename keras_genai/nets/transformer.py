"""Decoder-only transformer parts: causal self-attention with a key/value cache, pre-LN blocks.

Every layer has three ways to run:

- ``call(x)``: the whole sequence at once (training, scoring), causal mask;
- ``prefill(x)``: the same, also returning each block's keys and values (batch, heads, L, head_dim);
- ``step(x, cache, position)``: one new position against a fixed-size cache of
  ``context_length`` positions, written in place at ``position``; one step costs one position.
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

    def step(self, x, keys, values, position):
        """One position. x (batch, 1, width); keys/values (batch, heads, context, head_dim) hold
        positions < ``position``; returns ``(y, keys, values)`` with this position written."""
        q, k, v = self._split_heads(self.qkv(x))
        context = tf.shape(keys)[2]
        at = tf.cast(tf.one_hot(position, context), keys.dtype)[None, None, :, None]
        keys = keys * (1 - at) + k * at
        values = values * (1 - at) + v * at
        mask = (tf.range(context) <= position)[None, None, None, :]
        return self._attend(q, keys, values, mask, training=False), keys, values


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

    def step(self, x, keys, values, position):
        attended, keys, values = self.attention.step(self.attention_norm(x), keys, values, position)
        x = x + attended
        return x + self._mlp(x, False), keys, values
