"""Generative adversarial networks as one subclassed ``keras.Model``.

``GAN`` owns a generator (z [, labels] -> images in [-1, 1]) and a discriminator
(images [, labels] -> logits or critic scores), two optimizers and a ``SeedGenerator``. One
design covers the variants by configuration:

- ``loss``: "non_saturating" (DCGAN), "minimax", "wasserstein" (WGAN) or "hinge";
- ``discriminator_steps``: discriminator updates per generator update; each one sees its own
  slice ``batch[i::steps]`` of the real batch (WGAN-GP uses 5);
- ``gradient_penalty``: lambda of the WGAN-GP penalty (0 disables it);
- ``ema_decay``: keep an exponential moving average of the generator weights, used for
  sampling and export;
- ``generator_top_k``: the generator loss averages only over the fraction of its fakes that
  the discriminator rates most real ("top-k training", Sinha et al. 2020);
- ``num_classes``: class-conditional GAN; both networks then take integer labels as their
  second input and training data must be (images, labels).
"""


import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_genai import distribution, losses
from keras_genai.models import images as image_utils
from keras_genai.models import optimizers, sampling
from keras_genai.models.base import GenerativeModel, check_latents, check_num_classes, latent_noise


@keras.saving.register_keras_serializable(package="keras_genai")
class GAN(GenerativeModel):
    """A GAN; see the module docstring for the variants.

    Args:
        generator: ``keras.Model`` mapping z (batch, latent_dim) [and labels (batch,) int32]
            to images (batch, H, W, C) in [-1, 1].
        discriminator: ``keras.Model`` mapping images [and labels] to (batch, 1) logits.
        loss: the name of a loss in ``keras_genai.losses.ADVERSARIAL_LOSSES`` (a string, as
            ``VAE`` takes its likelihood; functions are refused).
        discriminator_steps: int >= 1.
        gradient_penalty: float >= 0, weight of the WGAN-GP penalty.
        ema_decay: None, or a float in (0, 1) such as 0.999.
        generator_top_k: float in (0, 1]; each generator update keeps the
            ``ceil(generator_top_k * batch)`` fakes with the highest discriminator logits and
            drops the gradients of the rest. 1.0 (default) uses every fake. ``batch`` is the
            generator step's batch on one replica (with ``discriminator_steps > 1``, one slice
            of it), so under ``tf.distribute`` the choice is per replica, not over the global
            batch. In a conditional GAN the choice is made across classes.
        num_classes: None (unconditional) or the number of classes (>= 2).
        seed: seed of the training noise (see ``distribution``: distinct per replica, the same
            for one device or several on the same global batch) and of ``sample(seed=None)``.

    Example:

    ```python
    import numpy as np
    import keras_genai

    gan = keras_genai.models.GAN(
        keras_genai.nets.dcgan_generator((28, 28, 1), latent_dim=16, base_filters=8),
        keras_genai.nets.dcgan_discriminator((28, 28, 1), base_filters=8),
        loss="hinge", seed=0)  # or a builder: keras_genai.models.dcgan(), or keras_genai.zoo.load("dcgan_mnist")
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    gan.fit(images, batch_size=32, epochs=1)
    samples = gan.sample(4, seed=0)  # uint8 (4, 28, 28, 1)
    ```
    """

    def __init__(self, generator, discriminator, loss="non_saturating", discriminator_steps=1,
                 gradient_penalty=0.0, ema_decay=None, num_classes=None, seed=None,
                 generator_top_k=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(discriminator, dict):
            discriminator = keras.saving.deserialize_keras_object(discriminator)
        _check_options(loss, discriminator_steps, gradient_penalty, ema_decay, num_classes, generator_top_k)
        seed = sampling.check_seed(seed)
        self.generator = generator
        self.discriminator = discriminator
        self.loss_name = loss
        self.discriminator_steps = int(discriminator_steps)
        self.gradient_penalty = float(gradient_penalty)
        self.ema_decay = ema_decay
        self.generator_top_k = float(generator_top_k)
        self.num_classes = num_classes
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        _check_networks(generator, discriminator, self.image_shape, num_classes)
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        else:
            self.ema_generator = None
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._training_seed = distribution.training_seed(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.d_optimizer = None
        self.g_optimizer = None
        self._generate_fn = None
        self._ranked_fn = None
        self._scores_fn = None
        self.built = True

    @property
    def sampling_generator(self):
        """The generator used for sampling and export: the EMA copy when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    # ----------------------------------------------------------------- configuration
    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            loss=self.loss_name,
            discriminator_steps=self.discriminator_steps,
            gradient_penalty=self.gradient_penalty,
            ema_decay=self.ema_decay,
            generator_top_k=self.generator_top_k,
            num_classes=self.num_classes,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    optimizer_names = ("d_optimizer", "g_optimizer")  # the compile config's optimizers (recipe stages)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Sets the two optimizers. Defaults: Adam(2e-4, beta_1=0.5) as in DCGAN, or for the
        wasserstein loss Adam(1e-4, beta_1=0, beta_2=0.9) as in WGAN-GP.

        Under a ``mixed_float16`` policy both are wrapped in ``LossScaleOptimizer``.
        Extra keyword arguments (``jit_compile``, ``steps_per_execution``, ...) go to
        ``keras.Model.compile``.
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._loss_scaled(keras.optimizers.get(d_optimizer) if d_optimizer else self._default_optimizer())
        self.g_optimizer = self._loss_scaled(keras.optimizers.get(g_optimizer) if g_optimizer else self._default_optimizer())
        # Built now so that weights files and BackupAndRestore checkpoints load into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _loss_scaled(self, optimizer):
        # float16 gradients underflow without loss scaling (bfloat16 and float32 need none).
        if self.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def _default_optimizer(self):
        if self.loss_name == "wasserstein":
            return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.0, beta_2=0.9)
        return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        return {
            "d_optimizer": optimizers.serialize_recipe_optimizer(self.d_optimizer),
            "g_optimizer": optimizers.serialize_recipe_optimizer(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
        )

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        return trackers + ([self.gp_tracker] if self.gradient_penalty else [])

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _discriminate(self, images, labels, training=True):
        inputs = [images, labels] if self.conditional else images
        return self.discriminator(inputs, training=training)

    def _generate(self, generator, z, labels, training):
        return generator([z, labels] if self.conditional else z, training=training)

    def _noise_step(self):
        return self.g_optimizer.iterations

    def train_step(self, data):
        if self.d_optimizer is None:
            raise RuntimeError("call compile() before fit()")
        images, labels = self._unpack(data)
        d_loss_fn, g_loss_fn = losses.get(self.loss_name)
        steps = self.discriminator_steps
        step = self._noise_step()
        if steps > 1:
            enough = tf.debugging.assert_greater_equal(
                tf.shape(images)[0], steps, message=f"each replica's batch must hold at least discriminator_steps="
                f"{steps} images (one slice per discriminator step); use a larger (global) batch")
            with tf.control_dependencies([enough]):
                images = tf.identity(images)
        d_vars = self.discriminator.trainable_variables
        for k in range(steps):
            real = images[k::steps] if steps > 1 else images
            real_labels = (labels[k::steps] if steps > 1 else labels) if self.conditional else None
            batch_size = tf.shape(real)[0]
            # Losses are means over this replica's rows; weighted by its share of the global
            # batch, the gradients summed across replicas are those of the global-batch mean.
            share = distribution.replica_weight(batch_size)
            z = distribution.normal(batch_size, (self.latent_dim,), self._training_seed, step, 2 * k)
            with tf.GradientTape() as tape:
                fake = self._generate(self.generator, z, real_labels, training=True)
                real_logits = self._discriminate(real, real_labels)
                fake_logits = self._discriminate(fake, real_labels)
                d_loss = d_loss_fn(real_logits, fake_logits)
                total = d_loss
                if self.gradient_penalty:
                    epsilon = distribution.uniform(batch_size, (), self._training_seed, step, 2 * k + 1)
                    penalty = losses.gradient_penalty(
                        lambda x: self._discriminate(x, real_labels), real, fake, epsilon
                    )
                    total = d_loss + self.gradient_penalty * penalty
                scaled = self.d_optimizer.scale_loss(total * share)
            gradients = distribution.skip_together(tape.gradient(scaled, d_vars), self.d_optimizer)
            self.d_optimizer.apply(gradients, d_vars)

        z = distribution.normal(batch_size, (self.latent_dim,), self._training_seed, step, 2 * steps)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            g_logits = self._discriminate(self._generate(self.generator, z, real_labels, training=True), real_labels)
            g_loss = g_loss_fn(self._most_real(g_logits))
            scaled = self.g_optimizer.scale_loss(g_loss * share)
        gradients = distribution.skip_together(tape.gradient(scaled, g_vars), self.g_optimizer)
        self.g_optimizer.apply(gradients, g_vars)
        if self.ema_generator is not None:
            decay = self.ema_decay
            for average, weight in zip(self.ema_generator.weights, self.generator.weights):
                average.assign(decay * average + (1.0 - decay) * weight)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        # Probabilities D(x) for the logistic losses, raw critic scores for wasserstein/hinge.
        squash = tf.sigmoid if self.loss_name in ("non_saturating", "minimax") else tf.identity
        self.d_real_tracker.update_state(tf.reduce_mean(squash(tf.cast(real_logits, tf.float32))))
        self.d_fake_tracker.update_state(tf.reduce_mean(squash(tf.cast(fake_logits, tf.float32))))
        if self.gradient_penalty:
            self.gp_tracker.update_state(penalty)
        return distribution.step_logs(self.metrics)

    def _most_real(self, logits):
        """The ``ceil(generator_top_k * batch)`` rows of (batch, 1) logits that score most real."""
        if self.generator_top_k >= 1.0:
            return logits
        scores = tf.reshape(tf.cast(logits, tf.float32), [-1])
        batch = tf.cast(tf.shape(scores)[0], tf.float64)
        # The tolerance keeps ceil(0.15 * 100) at 15 despite 0.15 * 100 = 15.000000000000002.
        k = tf.cast(tf.math.ceil(self.generator_top_k * batch - 1e-9), tf.int32)
        return tf.math.top_k(scores, k=k, sorted=False).values[:, None]

    # ----------------------------------------------------------------- generation
    @property
    def sample_conditions(self):
        """``labels`` (conditional GANs) and ``candidates`` (discriminator-ranked sampling)."""
        return (*super().sample_conditions, "candidates")

    def generate(self, z, labels=None, batch_size=256):
        """Maps latent vectors (and labels) to images.

        Args:
            z: float array (batch, latent_dim).
            labels: conditional models only: int or (batch,) ints in [0, num_classes).
            batch_size: positive int, latent vectors per generator call.
        Returns:
            np.ndarray float32 (batch, H, W, C) in [-1, 1].
        """
        z = check_latents(z, self.latent_dim)
        labels = self.check_labels(labels, int(z.shape[0]))
        batch_size = image_utils.check_count(batch_size, "batch_size")
        generate = self._generate_function()
        chunks = []
        for i in range(0, int(z.shape[0]), batch_size):
            inputs = [z[i : i + batch_size], labels[i : i + batch_size]] if self.conditional else z[i : i + batch_size]
            chunks.append(generate(inputs))
        return tf.concat(chunks, axis=0).numpy()

    def _generate_function(self):
        if self._generate_fn is None:
            generator = self.sampling_generator
            self._generate_fn = tf.function(lambda inputs: generator(inputs, training=False), reduce_retracing=True)
        return self._generate_fn

    def sample(self, num_samples, seed=None, labels=None, batch_size=256, candidates=1):
        """Draws ``num_samples`` images.

        Args:
            num_samples: positive int. The uint8 result (num_samples * H * W * C bytes) must fit
                in ``sampling.result_limit()`` (the memory available, or ``MAX_SAMPLE_BYTES``);
                a larger request is refused with a ``ValueError`` before anything is drawn.
            seed: None for fresh randomness, or an int in the int64 range for reproducible
                samples (identical to the exported ``sample`` signature with the same seed);
                anything else is a ``TypeError`` (``sampling.check_seed``).
            labels: conditional models only (required there): an int for all samples or
                ``num_samples`` ints in [0, num_classes).
            batch_size: positive int, images per generator call (with candidates: at most this
                many candidates per call). The noise is drawn per call too, so memory stays
                bounded for any ``num_samples`` and ``candidates``; the images do not depend on it.
            candidates: positive int. Above 1, each image is the one of ``candidates``
                generator draws that the discriminator rates most real (discriminator-ranked
                sampling; see ``best_of_candidates``). It trades diversity for fidelity and
                runs both networks on ``num_samples * candidates`` images; equal to the
                exported ``sample_ranked`` signature, and like it refuses (``ValueError``) more
                than ``MAX_RANKED_DRAWS`` draws (``num_samples * candidates``) in one call. The
                draws are laid out per image, so ``sample(n, seed, candidates=m)`` is not a
                filtered ``sample(n, seed)``. With
                ``candidates > batch_size`` an image's candidates are scored ``batch_size`` at
                a time and the best one wins (the first of equal scores, as in one call).
        Returns:
            np.ndarray uint8 (num_samples, H, W, C) in [0, 255].
        """
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        candidates = image_utils.check_count(candidates, "candidates")
        labels = self.check_labels(labels, num_samples)
        sampling.check_result_bytes(num_samples * int(np.prod(self.image_shape)), f"sample({num_samples})")
        check_ranked_draws(num_samples, candidates)
        images = np.empty((num_samples, *self.image_shape), np.uint8)
        rows = self._noise_rows(seed)
        if candidates == 1:
            generate = self._generate_function()
            for i in range(0, num_samples, batch_size):
                count = min(batch_size, num_samples - i)
                z = rows(i, count)
                inputs = [z, labels[i : i + count]] if self.conditional else z
                images[i : i + count] = image_utils.to_uint8(generate(inputs)).numpy()
        elif candidates <= batch_size:
            self._ranked_chunks(images, rows, labels, candidates, batch_size)
        else:
            self._ranked_split(images, rows, labels, candidates, batch_size)
        return images

    def _ranked_chunks(self, images, rows, labels, candidates, batch_size):
        """``best_of_candidates`` for ``batch_size // candidates`` images per call, into ``images``."""
        if self._ranked_fn is None:
            generator, discriminator, conditional = self.sampling_generator, self.discriminator, self.conditional
            self._ranked_fn = tf.function(
                lambda z, labels, candidates: best_of_candidates(generator, discriminator, z, labels, candidates,
                                                                 conditional),
                reduce_retracing=True)
        per_chunk = batch_size // candidates
        num_samples = images.shape[0]
        for i in range(0, num_samples, per_chunk):
            count = min(per_chunk, num_samples - i)
            chunk_labels = labels[i : i + count] if self.conditional else tf.zeros([0], tf.int32)
            best = self._ranked_fn(rows(i * candidates, count * candidates), chunk_labels, candidates)
            images[i : i + count] = image_utils.to_uint8(best).numpy()

    def _ranked_split(self, images, rows, labels, candidates, batch_size):
        """Ranked sampling when one image has more than ``batch_size`` candidates: they are
        generated and scored ``batch_size`` at a time, keeping the best so far."""
        if self._scores_fn is None:
            generator, discriminator, conditional = self.sampling_generator, self.discriminator, self.conditional

            def scored(z, labels):
                fake = generator([z, labels] if conditional else z, training=False)
                scores = discriminator([fake, labels] if conditional else fake, training=False)
                return fake, tf.reshape(tf.cast(scores, tf.float32), [-1])

            self._scores_fn = tf.function(scored, reduce_retracing=True)
        for i in range(images.shape[0]):
            best_score, best_image = None, None
            for start in range(0, candidates, batch_size):
                count = min(batch_size, candidates - start)
                chunk_labels = np.full((count,), labels[i], np.int32) if self.conditional else tf.zeros([0], tf.int32)
                fake, scores = self._scores_fn(rows(i * candidates + start, count), chunk_labels)
                top = int(tf.argmax(scores, output_type=tf.int32))
                if best_score is None or float(scores[top]) > best_score:  # ties keep the earlier draw
                    best_score, best_image = float(scores[top]), fake[top]
            images[i] = image_utils.to_uint8(best_image).numpy()

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, input_signature)}``.

        Unconditional:
        - ``serving_default``: z (batch, latent_dim) float32 -> images float32 in [-1, 1];
        - ``sample``: num_samples int32 scalar, seed int64 scalar -> images uint8 (stateless);
        - ``sample_ranked``: num_samples, candidates int32 scalars, seed -> images uint8, equal
          to ``sample(num_samples, seed, candidates=candidates)``; more than ``MAX_RANKED_DRAWS``
          draws (``num_samples * candidates``, counted in int64) fail with InvalidArgumentError.
        Conditional: ``serving_default`` also takes labels (batch,) int32, and ``sample`` and
        ``sample_ranked`` take labels (n,) int32 in place of num_samples (one image per label).
        """
        generator, discriminator = self.sampling_generator, self.discriminator
        latent_dim, conditional = self.latent_dim, self.conditional

        def generate(z, labels):
            return {"images": self._generate(generator, z, labels, training=False)}

        def sample(num_samples, seed, labels):
            z = latent_noise(num_samples, seed, latent_dim)
            return {"images": image_utils.to_uint8(self._generate(generator, z, labels, training=False))}

        def sample_ranked(num_samples, candidates, seed, labels):
            draws, candidates = _served_request(num_samples, candidates)
            z = latent_noise(draws, seed, latent_dim)
            return {"images": image_utils.to_uint8(
                best_of_candidates(generator, discriminator, z, labels, candidates, conditional))}

        z_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="z")
        candidates_spec = tf.TensorSpec([], tf.int32, name="candidates")
        return {
            "serving_default": self._export_signature(generate, z_spec),
            "sample": self._export_signature(sample, draws=True),
            "sample_ranked": self._export_signature(sample_ranked, candidates_spec, draws=True),
        }

    edge_signature = edge_sample_signature = "serving_default"

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()``, and the Keras result
        they must give: ``(inputs, expected)``."""
        if signature == "serving_default":
            inputs, labels = self._example_conditions(num_samples)
            z = self.noise(num_samples, seed=seed).numpy()
            return {"z": z, **inputs}, self.generate(z, labels=labels)
        if signature in ("sample", "sample_ranked"):
            inputs, labels = self._example_conditions(num_samples, seed)
            candidates = EXAMPLE_CANDIDATES if signature == "sample_ranked" else 1
            if candidates > 1:
                inputs["candidates"] = np.int32(candidates)
            return inputs, self.sample(num_samples, seed=seed, labels=labels, candidates=candidates)
        raise self._unknown_signature(signature)


def best_of_candidates(generator, discriminator, z, labels, candidates, conditional):
    """Discriminator-ranked generation: of each run of ``candidates`` consecutive rows of ``z``,
    the generated image the discriminator rates most real.

    A fixed-size relative of discriminator rejection sampling (Azadi et al. 2019): instead of
    accepting each draw with a probability, it keeps the best of a fixed number, so it gives
    one image per request in one graph without a data-dependent loop, at a known cost. It
    trades diversity for fidelity.

    Args:
        generator: z [, labels] -> float images in [-1, 1].
        discriminator: images [, labels] -> (batch, 1) scores, higher meaning more real
            (logits or critic values).
        z: float32 (num_samples * candidates, latent_dim); rows ``i * candidates`` to
            ``(i + 1) * candidates - 1`` are the candidates for image ``i``.
        labels: conditional models: int32 (num_samples,), one per image (each candidate gets
            its image's label); otherwise ignored.
        candidates: positive int or int32 scalar tensor.
        conditional: whether both networks take labels as their second input.
    Returns:
        float images (num_samples, H, W, C) in [-1, 1].
    """
    if conditional:
        labels = tf.repeat(labels, candidates)
        images = generator([z, labels], training=False)
        scores = discriminator([images, labels], training=False)
    else:
        images = generator(z, training=False)
        scores = discriminator(images, training=False)
    scores = tf.reshape(tf.cast(scores, tf.float32), [-1, candidates])
    best = tf.argmax(scores, axis=1, output_type=tf.int32) + tf.range(tf.shape(scores)[0]) * candidates
    return tf.gather(images, best)


# The candidates per image that ``example_inputs`` (and so the export checks) use. The
# SavedModel and Keras pick the same image unless two candidates' scores tie to within
# float round-off, which the random draws of a check make vanishingly unlikely.
EXAMPLE_CANDIDATES = 3


# The most generator draws (``num_samples * candidates``) one ranked sampling call makes: the
# served graph holds them in one tensor whose shape, row indices and gather indices are int32.
MAX_RANKED_DRAWS = 2**31 - 1
_TOO_MANY_DRAWS = (f"num_samples * candidates must be at most {MAX_RANKED_DRAWS} generator draws per call (they "
                   "are indexed in int32); ask for fewer images or candidates per call")


def check_ranked_draws(num_samples, candidates):
    """Refuses (``ValueError``) a ranked request of more than ``MAX_RANKED_DRAWS`` draws, which the
    exported ``sample_ranked`` signature could not make either."""
    if num_samples * candidates > MAX_RANKED_DRAWS:
        raise ValueError(f"sample({num_samples}, candidates={candidates}) needs {num_samples * candidates:,} draws; "
                         + _TOO_MANY_DRAWS)


def _served_request(num_samples, candidates):
    """A served ranked request, checked in the graph before anything is drawn or repeated:
    ``candidates`` at least 1, and ``num_samples * candidates`` (multiplied in int64, since an
    int32 product would wrap around) at most ``MAX_RANKED_DRAWS``. Returns ``(draws,
    candidates)`` as int32 scalars that depend on both checks, so that no op sized by either
    (the noise, the repeated labels) runs for a refused request."""
    draws = tf.cast(num_samples, tf.int64) * tf.cast(candidates, tf.int64)
    checks = [
        tf.debugging.assert_greater_equal(candidates, 1, message="candidates must be a positive integer"),
        tf.debugging.assert_less_equal(draws, tf.constant(MAX_RANKED_DRAWS, tf.int64), message=_TOO_MANY_DRAWS),
    ]
    with tf.control_dependencies(checks):
        return tf.cast(draws, tf.int32), tf.identity(candidates)


def _check_options(loss, discriminator_steps, gradient_penalty, ema_decay, num_classes, generator_top_k):
    losses.check_name(loss)
    most = distribution.STREAMS_PER_STEP // 2 - 1  # two noise streams per step, one for the generator
    if (isinstance(discriminator_steps, bool) or not isinstance(discriminator_steps, int)
            or not 1 <= discriminator_steps <= most):
        raise ValueError(f"discriminator_steps must be an integer in [1, {most}], got {discriminator_steps!r}")
    if not gradient_penalty >= 0:
        raise ValueError(f"gradient_penalty must be >= 0, got {gradient_penalty!r}")
    if ema_decay is not None and not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must be None or in (0, 1), got {ema_decay!r}")
    if (isinstance(generator_top_k, bool) or not isinstance(generator_top_k, numbers.Real)
            or not 0.0 < generator_top_k <= 1.0):
        raise ValueError(f"generator_top_k must be a fraction in (0, 1], got {generator_top_k!r}")
    check_num_classes(num_classes)


def _check_networks(generator, discriminator, image_shape, num_classes):
    expected_inputs = 2 if num_classes is not None else 1
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if len(net.inputs) != expected_inputs:
            kind = "conditional (inputs [x, labels])" if num_classes is not None else "unconditional (one input)"
            raise ValueError(f"the {name} has {len(net.inputs)} inputs but the GAN is {kind}")
    disc_shape = tuple(discriminator.inputs[0].shape[1:])
    if disc_shape != image_shape:
        raise ValueError(f"generator makes images of shape {image_shape} but the discriminator expects {disc_shape}")

