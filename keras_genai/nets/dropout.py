"""Dropout whose masks differ between ``tf.distribute`` replicas.

A Keras ``Dropout`` draws its mask from a ``SeedGenerator`` whose state is mirrored, so every
replica of a ``MirroredStrategy`` applies the same masks to its own examples. ``ReplicaDropout``
folds the replica's index into the seed; on one device it is ordinary inverted dropout.
"""

import keras
import tensorflow as tf

from keras_genai import distribution


@keras.saving.register_keras_serializable(package="keras_genai")
class ReplicaDropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` (same arguments) with masks distinct per replica.

    Example:

    ```python
    import numpy as np
    import keras_genai

    dropout = keras_genai.nets.ReplicaDropout(0.5, seed=0)
    x = np.ones((2, 4), "float32")
    y = dropout(x, training=True)  # entries 0 or 2; under tf.distribute each replica draws its own mask
    ```
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        index, _ = distribution.replica_position()
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(index, tf.int64))
        noise_shape = None
        if self.noise_shape is not None:
            shape = tf.shape(inputs)
            noise_shape = tf.stack([shape[i] if d is None else d for i, d in enumerate(self.noise_shape)])
        return tf.nn.experimental.stateless_dropout(inputs, rate=self.rate, seed=seed, noise_shape=noise_shape)
