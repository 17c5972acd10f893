"""Adversarial losses as plain functions of discriminator logits.

Every function takes logits (unbounded reals, any shape with a leading batch axis) and
returns a scalar float32 tensor averaged over all elements. ``D(x) = sigmoid(logits)``.
"""

import tensorflow as tf


def _bce_with_logits(labels_value, logits):
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(labels_value, tf.float32))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def discriminator_loss(real_logits, fake_logits):
    """Standard GAN discriminator loss: ``-[log D(x) + log(1 - D(G(z)))]``, averaged.

    Minimising it maximises ``log D(x) + log(1 - D(G(z)))``.
    """
    return tf.reduce_mean(_bce_with_logits(1.0, real_logits)) + tf.reduce_mean(
        _bce_with_logits(0.0, fake_logits)
    )


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss: ``-log D(G(z))``, averaged."""
    return tf.reduce_mean(_bce_with_logits(1.0, fake_logits))


def minimax_generator_loss(fake_logits):
    """Original minimax generator loss: ``log(1 - D(G(z)))``, averaged (to be minimised)."""
    return -tf.reduce_mean(_bce_with_logits(0.0, fake_logits))
