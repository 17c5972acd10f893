"""Adversarial losses as plain functions of discriminator logits.

Every function takes logits (unbounded reals, any shape with a leading batch axis) and
returns a scalar float32 tensor averaged over all elements. ``D(x) = sigmoid(logits)``.

Names follow one pattern (TF-GAN's): ``<loss>_discriminator_loss(real_logits, fake_logits)``
and ``<loss>_generator_loss(fake_logits)`` for each ``<loss>`` in ``ADVERSARIAL_LOSSES``
("non_saturating", "minimax", "wasserstein", "hinge"); the WGAN critic is the discriminator
here. A model takes a loss by its name (``GAN(loss="wasserstein")``), looked up in
``ADVERSARIAL_LOSSES`` by ``get`` (the name checked by ``keras_genai.lookup``); the name, not the functions, is what its config stores.
"""

import tensorflow as tf

from keras_genai import lookup


def _bce_with_logits(labels_value, logits):
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(labels_value, tf.float32))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def minimax_discriminator_loss(real_logits, fake_logits):
    """Standard GAN discriminator loss: ``-[log D(x) + log(1 - D(G(z)))]``, averaged.

    Minimising it maximises ``log D(x) + log(1 - D(G(z)))``.
    """
    return tf.reduce_mean(_bce_with_logits(1.0, real_logits)) + tf.reduce_mean(
        _bce_with_logits(0.0, fake_logits)
    )


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """The non-saturating GAN trains its discriminator as the minimax one does:
    ``-[log D(x) + log(1 - D(G(z)))]``, averaged (``minimax_discriminator_loss``)."""
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss: ``-log D(G(z))``, averaged."""
    return tf.reduce_mean(_bce_with_logits(1.0, fake_logits))


def minimax_generator_loss(fake_logits):
    """Original minimax generator loss: ``log(1 - D(G(z)))``, averaged (to be minimised)."""
    return -tf.reduce_mean(_bce_with_logits(0.0, fake_logits))


def wasserstein_discriminator_loss(real_scores, fake_scores):
    """WGAN critic (discriminator) loss: ``E[C(G(z))] - E[C(x)]`` (minimising it widens the gap)."""
    return tf.reduce_mean(tf.cast(fake_scores, tf.float32)) - tf.reduce_mean(tf.cast(real_scores, tf.float32))


def wasserstein_generator_loss(fake_scores):
    """WGAN generator loss: ``-E[C(G(z))]``."""
    return -tf.reduce_mean(tf.cast(fake_scores, tf.float32))


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge loss: ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``."""
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
    """Hinge generator loss: ``-E[D(G(z))]``."""
    return -tf.reduce_mean(tf.cast(fake_logits, tf.float32))


def gradient_penalty(critic, real, fake, epsilon):
    """WGAN-GP penalty ``E[(||grad_x C(x_hat)||_2 - 1)^2]`` (multiply by lambda, usually 10).

    Args:
        critic: function from images (batch, ...) to scores (batch, 1).
        real, fake: images of the same shape (batch, H, W, C).
        epsilon: (batch,) uniform [0, 1] weights; ``x_hat = eps * real + (1 - eps) * fake``.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    eps = tf.reshape(tf.cast(epsilon, tf.float32), [-1] + [1] * (len(real.shape) - 1))
    mixed = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = tf.cast(critic(mixed), tf.float32)
    grads = tape.gradient(scores, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=list(range(1, len(real.shape)))) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


# name -> (discriminator loss, generator loss); the GAN family picks one by name.
ADVERSARIAL_LOSSES = {
    "non_saturating": (non_saturating_discriminator_loss, non_saturating_generator_loss),
    "minimax": (minimax_discriminator_loss, minimax_generator_loss),
    "wasserstein": (wasserstein_discriminator_loss, wasserstein_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
}


def check_name(name):
    """Returns ``name`` if it names an adversarial loss; ``ValueError`` listing the names otherwise
    (``lookup.check_name``)."""
    return lookup.check_name(name, ADVERSARIAL_LOSSES, "loss")


def get(name):
    """The ``(discriminator_loss, generator_loss)`` functions of the loss called ``name``."""
    return ADVERSARIAL_LOSSES[check_name(name)]
