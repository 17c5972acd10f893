"""Variational autoencoders (Kingma & Welling, 2014) on TensorFlow Probability.

``VAE`` owns an encoder (images [, labels] -> mean, log-variance of a diagonal Gaussian
q(z | x)), a decoder (z [, labels] -> parameters of p(x | z)), an optimizer and a
``SeedGenerator``. The prior is a standard normal; the KL term is analytic
(``tfd.kl_divergence``). ``fit`` maximises the ELBO

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))

with one reparameterised sample per example; the objective minimised is
``reconstruction + beta_t * KL`` where ``beta_t`` rises linearly from 0 to ``beta`` over
``kl_warmup_steps`` optimizer steps (β-VAE for beta != 1; warm-up 0 disables it).

Likelihoods (``keras_genai.models.vae.likelihoods``): "bernoulli" for binarized images in {0, 1},
"gaussian" or "logistic" (discretized, 256 levels) for continuous images in [-1, 1]. All
log-probabilities are in nats per image. ``num_classes`` makes a conditional VAE: both networks
take integer labels and training data are ``(images, labels)`` pairs.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_genai import distribution
from keras_genai.metrics import likelihood as likelihood_metrics
from keras_genai.models import images as image_utils
from keras_genai.models import sampling
from keras_genai.models.base import GenerativeModel, check_latents, check_num_classes, latent_noise
from keras_genai.models.vae import likelihoods


@keras.saving.register_keras_serializable(package="keras_genai")
class VAE(GenerativeModel):
    """A (β-, conditional) VAE; see the module docstring.

    Args:
        encoder: ``keras.Model``: images (batch, H, W, C) [, labels (batch,) int32] ->
            [mean, log_variance], each (batch, latent_dim).
        decoder: ``keras.Model``: z (batch, latent_dim) [, labels] ->
            (batch, H, W, C * params_per_pixel) likelihood parameters.
        likelihood: "bernoulli", "gaussian" or "logistic".
        beta: weight of the KL term (> 0; 1 is the plain VAE).
        kl_warmup_steps: optimizer steps over which the KL weight grows from 0 to ``beta``.
        num_classes: None, or the number of classes (>= 2) of a conditional VAE.
        seed: seed of the training noise (distinct per ``tf.distribute`` replica, see
            ``distribution``) and of ``sample(seed=None)``.

    Example:

    ```python
    import numpy as np
    import keras_genai

    vae = keras_genai.models.unconditional_vae((28, 28, 1), latent_dim=8, likelihood="bernoulli", width=64, seed=0)
    vae.compile()  # or keras_genai.zoo.load("vae_mnist")
    images = (np.random.default_rng(0).uniform(size=(64, 28, 28, 1)) > 0.5).astype("float32")  # {0, 1}
    vae.fit(images, batch_size=32, epochs=1)
    samples = vae.sample(4, seed=0)  # uint8 (4, 28, 28, 1)
    z = vae.encode(images[:2])  # posterior means (2, 8)
    ```
    """

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, kl_warmup_steps=0, num_classes=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if isinstance(decoder, dict):
            decoder = keras.saving.deserialize_keras_object(decoder)
        likelihoods.check_name(likelihood)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta > 0:
            raise ValueError(f"beta must be a number > 0, got {beta!r}")
        if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise ValueError(f"kl_warmup_steps must be an integer >= 0, got {kl_warmup_steps!r}")
        check_num_classes(num_classes)
        seed = sampling.check_seed(seed)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.num_classes = num_classes
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.image_shape = tuple(int(d) for d in encoder.inputs[0].shape[1:])
        _check_networks(encoder, decoder, self.image_shape, self.latent_dim, likelihood, num_classes)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._training_seed = distribution.training_seed(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.beta_tracker = keras.metrics.Mean(name="beta")
        self._functions = {}
        self.built = True

    # XLA drops the graph assertions that refuse images outside the likelihood's range.
    jit_compile_default = False

    @property
    def value_range(self):
        """(low, high) of the images this VAE models (set by the likelihood)."""
        return likelihoods.RANGES[self.likelihood]

    # ----------------------------------------------------------------- configuration
    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            likelihood=self.likelihood,
            beta=self.beta,
            kl_warmup_steps=self.kl_warmup_steps,
            num_classes=self.num_classes,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------------------------- the model
    def _encode(self, images, labels, training=False):
        inputs = [images, labels] if self.conditional else images
        mean, log_variance = self.encoder(inputs, training=training)
        return tf.cast(mean, tf.float32), tf.cast(log_variance, tf.float32)

    def _decode(self, z, labels, training=False):
        inputs = [z, labels] if self.conditional else z
        return tf.cast(self.decoder(inputs, training=training), tf.float32)

    def posterior(self, mean, log_variance):
        """q(z | x): ``tfd.MultivariateNormalDiag`` with the encoder's mean and log-variance."""
        return likelihoods.distributions().MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_variance))

    def prior(self):
        """p(z): standard normal over ``latent_dim`` dimensions."""
        zeros = tf.zeros((self.latent_dim,), tf.float32)
        return likelihoods.distributions().MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))

    def call(self, inputs, training=False):
        """images [, labels] -> mean reconstructions (decoded posterior means)."""
        images, labels = (inputs[0], inputs[1]) if self.conditional else (inputs, None)
        mean, _ = self._encode(images, labels, training=training)
        return likelihoods.mean(self.likelihood, self._decode(mean, labels, training=training))

    def _terms(self, images, labels, noise, training):
        """Per-example reconstruction (-log p(x|z)) and KL, both (batch,) float32 nats."""
        mean, log_variance = self._encode(images, labels, training=training)
        z = mean + tf.exp(0.5 * log_variance) * noise
        params = self._decode(z, labels, training=training)
        reconstruction = -likelihoods.log_prob(self.likelihood, params, images)
        kl = likelihoods.distributions().kl_divergence(self.posterior(mean, log_variance), self.prior())
        return reconstruction, kl

    def kl_weight(self, step):
        """The KL weight ``beta_t`` at optimizer step ``step`` (linear warm-up to ``beta``)."""
        if not self.kl_warmup_steps:
            return tf.constant(self.beta, tf.float32)
        progress = (tf.cast(step, tf.float32) + 1.0) / float(self.kl_warmup_steps)
        return self.beta * tf.minimum(1.0, progress)

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return [self.loss_tracker, self.elbo_tracker, self.reconstruction_tracker, self.kl_tracker, self.beta_tracker]

    def _check_batch(self, images):
        low, high = self.value_range
        return [
            tf.debugging.assert_greater_equal(images, low, message=f"{self.likelihood} VAE: images below {low}"),
            tf.debugging.assert_less_equal(images, high, message=f"{self.likelihood} VAE: images above {high}"),
        ]

    def _update_metrics(self, loss, reconstruction, kl, beta):
        # Weighted by the batch size, so a partial last batch counts per image.
        count = tf.shape(reconstruction)[0]
        self.loss_tracker.update_state(loss, sample_weight=count)
        self.elbo_tracker.update_state(-tf.reduce_mean(reconstruction + kl), sample_weight=count)
        self.reconstruction_tracker.update_state(tf.reduce_mean(reconstruction), sample_weight=count)
        self.kl_tracker.update_state(tf.reduce_mean(kl), sample_weight=count)
        self.beta_tracker.update_state(beta)
        return distribution.step_logs(self.metrics)

    def train_step(self, data):
        if getattr(self, "optimizer", None) is None:
            raise RuntimeError("call compile() before fit()")
        images, labels = self._unpack(data)
        with tf.control_dependencies(self._check_batch(images)):
            images = tf.identity(images)
        step = self.optimizer.iterations
        noise = distribution.normal(tf.shape(images)[0], (self.latent_dim,), self._training_seed, step, 0)
        beta = self.kl_weight(step)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            reconstruction, kl = self._terms(images, labels, noise, training=True)
            # Per-example objective averaged over the *global* batch, so gradients summed over
            # replicas of a tf.distribute strategy equal the single-device gradient.
            loss = distribution.global_batch_mean(reconstruction + beta * kl)
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in self.losses]))
            scaled = self.optimizer.scale_loss(loss)  # mixed precision: LossScaleOptimizer
        self.optimizer.apply(distribution.skip_together(tape.gradient(scaled, variables), self.optimizer), variables)
        return self._update_metrics(tf.reduce_mean(reconstruction + beta * kl), reconstruction, kl, beta)

    def test_step(self, data):
        images, labels = self._unpack(data)
        noise = keras.random.normal((tf.shape(images)[0], self.latent_dim), seed=self.seed_generator)
        reconstruction, kl = self._terms(images, labels, noise, training=False)
        return self._update_metrics(tf.reduce_mean(reconstruction + self.beta * kl), reconstruction, kl,
                                    tf.constant(self.beta, tf.float32))

    # ----------------------------------------------------------------- checks
    def check_images(self, images):
        """Validates images: float (batch, H, W, C) inside the likelihood's value range."""
        return likelihoods.check_images(self.likelihood, images, self.image_shape)

    def _function(self, name, fn):
        if name not in self._functions:
            self._functions[name] = tf.function(fn, reduce_retracing=True)
        return self._functions[name]

    def _batched(self, name, fn, arrays, labels, batch_size):
        batch_size = image_utils.check_count(batch_size, "batch_size")
        compiled = self._function(name, fn)
        outputs = []
        for i in range(0, int(arrays.shape[0]), batch_size):
            chunk_labels = labels[i : i + batch_size] if labels is not None else None
            outputs.append(compiled(arrays[i : i + batch_size], chunk_labels))
        if isinstance(outputs[0], (tuple, list)):
            return tuple(tf.concat(parts, axis=0).numpy() for parts in zip(*outputs))
        return tf.concat(outputs, axis=0).numpy()

    # ----------------------------------------------------------------- encode / decode
    def encode(self, images, labels=None, distribution=False, batch_size=500):
        """Encodes images.

        Args:
            images: float (n, H, W, C) in the likelihood's range ([0, 1] for bernoulli,
                [-1, 1] for gaussian and logistic).
            labels: conditional models only: an int or n ints in [0, num_classes).
            distribution: return q(z | x) as a ``tfd.MultivariateNormalDiag`` (batch shape (n,))
                instead of its mean.
            batch_size: positive int, images per encoder call.
        Returns:
            np.ndarray float32 (n, latent_dim), the posterior means; or the distribution.
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, int(images.shape[0]))
        mean, log_variance = self._batched("encode", lambda x, y: self._encode(x, y), images, labels, batch_size)
        if distribution:
            return self.posterior(tf.constant(mean), tf.constant(log_variance))
        return mean

    def decode(self, z, labels=None, batch_size=500):
        """Decodes latent vectors to the mean images of p(x | z).

        Args:
            z: float (n, latent_dim).
            labels: conditional models only: an int or n ints in [0, num_classes).
            batch_size: positive int, latent vectors per decoder call.
        Returns:
            np.ndarray float32 (n, H, W, C) in the likelihood's range (pixel probabilities in
            [0, 1] for bernoulli, [-1, 1] otherwise).
        """
        z = check_latents(z, self.latent_dim)
        labels = self.check_labels(labels, int(z.shape[0]))
        return self._batched("decode", self._decoded_means, z, labels, batch_size)

    def _decoded_means(self, z, labels):
        return likelihoods.mean(self.likelihood, self._decode(z, labels))

    def reconstruct(self, images, labels=None, batch_size=500):
        """Decoded posterior means: float32 (n, H, W, C) in the likelihood's range, ``batch_size``
        (a positive int) images per call."""
        images = self.check_images(images)
        labels = self.check_labels(labels, int(images.shape[0]))
        return self._batched("reconstruct", lambda x, y: self.call([x, y] if self.conditional else x), images,
                             labels, batch_size)

    def sample(self, num_samples, seed=None, labels=None, batch_size=500):
        """Draws ``num_samples`` images: z from the prior, decoded to the mean of p(x | z).

        Args:
            num_samples: positive int. The uint8 result (num_samples * H * W * C bytes) must fit
                in ``sampling.result_limit()`` (the memory available, or ``MAX_SAMPLE_BYTES``);
                a larger request is refused with a ``ValueError`` before anything is drawn.
            seed: None (fresh randomness) or an int in the int64 range (reproducible, equal to
                the export); anything else is a ``TypeError`` (``sampling.check_seed``).
            labels: conditional models only (required there): an int or ``num_samples`` ints.
            batch_size: positive int, images per decoder call; z is drawn per call too, so
                memory stays bounded. The images do not depend on it.
        Returns:
            np.ndarray uint8 (num_samples, H, W, C) in [0, 255].
        """
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        labels = self.check_labels(labels, num_samples)
        sampling.check_result_bytes(num_samples * int(np.prod(self.image_shape)), f"sample({num_samples})")
        images = np.empty((num_samples, *self.image_shape), np.uint8)
        rows = self._noise_rows(seed)
        decode = self._function("decode", self._decoded_means)
        for start in range(0, num_samples, batch_size):
            count = min(batch_size, num_samples - start)
            z = tf.cast(rows(start, count), tf.float32)
            means = decode(z, labels[start : start + count] if labels is not None else None)
            images[start : start + count] = likelihoods.to_uint8(self.likelihood, means).numpy()
        return images

    def interpolate(self, x1, x2, steps=8, labels=None):
        """Decodes the straight line between the posterior means of two images.

        Args:
            x1, x2: float images (H, W, C) in the likelihood's range.
            steps: number of points (>= 2), the two ends included.
            labels: conditional models only: one int used for every point.
        Returns:
            np.ndarray float32 (steps, H, W, C) in the likelihood's range.
        """
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
            raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
        x1, x2 = np.asarray(x1, np.float32), np.asarray(x2, np.float32)
        if x1.shape != self.image_shape or x2.shape != self.image_shape:
            raise ValueError(f"interpolate takes two single images of shape {self.image_shape}, got {x1.shape} "
                             f"and {x2.shape}")
        pair = self.check_images(np.stack([x1, x2]))
        if labels is not None and not (isinstance(labels, numbers.Integral) and not isinstance(labels, bool)):
            raise ValueError(f"interpolate takes one int label for the whole path, got {labels!r}")
        ends = self.encode(pair, labels=labels if labels is None else np.full((2,), labels))
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        return self.decode((1.0 - t) * ends[0] + t * ends[1], labels=labels if labels is None else int(labels))

    # ----------------------------------------------------------------- likelihood estimates
    def elbo(self, images, labels=None, seed=0, batch_size=500):
        """Single-sample ELBO terms per image (nats), seeded.

        Args:
            images: float (n, H, W, C) in the likelihood's range; labels: conditional models only.
            seed: int (int64 range); batch ``i`` (of ``batch_size`` images, a positive int) uses
                the noise ``tf.random.stateless_normal((batch, latent_dim), seed=[seed, i])``.
        Returns:
            dict of np.ndarray float64 (n,): ``elbo``, ``reconstruction`` (-E_q log p(x|z),
            one sample) and ``kl`` (analytic), with ``elbo = -(reconstruction + kl)``.
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, int(images.shape[0]))
        seed = _check_int_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        terms = self._function("elbo", lambda x, y, e: self._terms(x, y, e, training=False))
        reconstruction, kl = [], []
        for index, start in enumerate(range(0, int(images.shape[0]), batch_size)):
            x = images[start : start + batch_size]
            noise = tf.random.stateless_normal((int(x.shape[0]), self.latent_dim), seed=[seed, index])
            r, k = terms(x, labels[start : start + batch_size] if labels is not None else None, noise)
            reconstruction.append(r.numpy())
            kl.append(k.numpy())
        reconstruction = np.concatenate(reconstruction).astype(np.float64)
        kl = np.concatenate(kl).astype(np.float64)
        return {"elbo": likelihood_metrics.elbo(-reconstruction, kl), "reconstruction": reconstruction, "kl": kl}

    def log_weights(self, images, labels=None, k=1, seed=0, max_decodes=20_000):
        """Importance log-weights ``log p(x, z_i) - log q(z_i | x)``, z_i ~ q(z | x).

        Args:
            images: float (n, H, W, C) in the likelihood's range (n small: one batch).
            k: importance samples per image (>= 1).
            seed: int (int64 range); chunk ``i`` of samples uses ``seed=[seed, i]``.
            max_decodes: positive int, decoder evaluations per call; samples are drawn in chunks
                of ``max(1, max_decodes // n)`` so memory stays bounded for any k.
        Returns:
            np.ndarray float32 (n, k).
        """
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k (importance samples) must be an integer >= 1, got {k!r}")
        images = self.check_images(images)
        n = int(images.shape[0])
        labels = self.check_labels(labels, n)
        seed = _check_int_seed(seed)
        max_decodes = image_utils.check_count(max_decodes, "max_decodes")
        fn = self._function("log_weights", self._log_weights)
        mean, log_variance = self._function("encode", lambda x, y: self._encode(x, y))(images, labels)
        chunk = max(1, int(max_decodes) // n)
        parts = []
        for index, start in enumerate(range(0, int(k), chunk)):
            count = min(chunk, int(k) - start)
            noise = tf.random.stateless_normal((count, n, self.latent_dim), seed=[seed, index])
            parts.append(fn(images, labels, mean, log_variance, noise))
        return tf.concat(parts, axis=1).numpy()

    def _log_weights(self, images, labels, mean, log_variance, noise):
        count, n = tf.shape(noise)[0], tf.shape(noise)[1]
        z = mean + tf.exp(0.5 * log_variance) * noise  # (count, n, latent)
        flat_z = tf.reshape(z, (-1, self.latent_dim))
        flat_labels = tf.tile(labels, [count]) if labels is not None else None
        params = self._decode(flat_z, flat_labels)
        flat_images = tf.tile(images, [count, 1, 1, 1])
        log_px = tf.reshape(likelihoods.log_prob(self.likelihood, params, flat_images), (count, n))
        log_w = log_px + self.prior().log_prob(z) - self.posterior(mean, log_variance).log_prob(z)
        return tf.transpose(log_w)  # (n, count)

    def importance_weighted_nll(self, images, labels=None, k=5000, seed=0, batch_size=100, max_decodes=20_000,
                                progress=False):
        """Importance-weighted estimate of ``-log p(x)`` per image (Burda et al., 2016), nats.

        An upper bound on the NLL in expectation, tighter as ``k`` grows; ``k=1`` is the negative
        single-sample ELBO. Images are processed ``batch_size`` at a time and samples in chunks
        (see ``log_weights``), so memory is bounded for k=5000.

        Args:
            images: float (n, H, W, C) in the likelihood's range.
            labels: conditional models only: n ints.
            k: importance samples per image (>= 1).
            seed: int (int64 range); the same seed gives the same estimate. Batch ``i`` uses
                ``log_weights(seed=seed * 1_000_003 + i)`` (wrapped into the int64 range).
            batch_size: positive int, images per ``log_weights`` call.
        Returns:
            np.ndarray float64 (n,).
        """
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k (importance samples) must be an integer >= 1, got {k!r}")
        images = self.check_images(images)
        labels = self.check_labels(labels, int(images.shape[0]))
        seed = _check_int_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        max_decodes = image_utils.check_count(max_decodes, "max_decodes")
        bar = keras.utils.Progbar(int(images.shape[0]), unit_name="image") if progress else None
        results = []
        for index, start in enumerate(range(0, int(images.shape[0]), batch_size)):
            x = images[start : start + batch_size]
            y = labels[start : start + batch_size] if labels is not None else None
            log_w = self.log_weights(x, y, k=k, seed=sampling.wrap_seed(seed * 1_000_003 + index),
                                     max_decodes=max_decodes)
            results.append(likelihood_metrics.importance_weighted_nll(log_w))
            if bar is not None:
                bar.add(int(x.shape[0]))
        return np.concatenate(results)

    # ----------------------------------------------------------------- the zoo's questions
    @classmethod
    def card_usage(cls, metadata):
        conditional = "labels" in metadata.get("dataset", {})
        labels, label_arg = ("labels = list(range(10)) + list(range(6))\n", ", labels=labels") if conditional else ("", "")
        data_arg = ", labels=y" if conditional else ""
        low, high = metadata.get("dataset", {}).get("value_range", [-1, 1])
        binarized = " (binarized: keras_genai.data.images(..., binarize='fixed', value_range=(0, 1)))" if low == 0 else ""
        lines = (labels + f"images = model.sample(16, seed=0{label_arg})  # uint8, (16, H, W, C)\n"
                 f"# x: float images (n, H, W, C) in [{low}, {high}]{binarized}\n"
                 f"z = model.encode(x{data_arg})  # posterior means (n, latent_dim)\n"
                 f"means = model.decode(z{data_arg})  # mean images in [{low}, {high}]\n"
                 f"nll = model.importance_weighted_nll(x{data_arg}, k=5000)  # nats per image")
        return lines.split("\n")

    @classmethod
    def card_metrics(cls, key, results):
        """A likelihood evaluation (``default_evaluation``: NLL bound, ELBO) as its table; others as
        the base's."""
        from keras_genai.zoo import preset

        return preset.likelihood_table(key, results) if "nll" in results else super().card_metrics(key, results)

    def default_evaluation(self, metadata, k=5000, num_examples=None, num_samples=10_000, batch_size=500, seed=0,
                           **options):
        """``keras-genai evaluate``: the ELBO and importance-weighted NLL bound on the test split
        (binarized as the preset's dataset says), and for a conditional MNIST model the label
        accuracy of its samples (``metrics.vae.evaluate_vae``); stored as ``test_likelihood``."""
        from keras_genai.metrics import vae as vae_metrics

        return "test_likelihood", vae_metrics.evaluate_vae(self, metadata["dataset"], k=k, num_examples=num_examples,
                                                           num_samples=num_samples, batch_size=batch_size, seed=seed)

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, input_signature)}``.

        - ``serving_default`` and ``decode``: z (batch, latent_dim) float32 [, labels (batch,)
          int32] -> ``images`` float32 (batch, H, W, C), mean of p(x | z) in the likelihood's range;
        - ``encode``: images (batch, H, W, C) float32 [, labels] -> ``mean`` and
          ``log_variance`` (batch, latent_dim) float32;
        - ``sample``: num_samples () int32 (or labels (batch,) int32 for a conditional VAE)
          and seed () int64 -> ``images`` uint8 in [0, 255], equal to ``sample(n, seed)``.
        """
        encoder, decoder, name = self.encoder, self.decoder, self.likelihood
        latent_dim = self.latent_dim

        def decode(z, labels):
            params = decoder([z, labels] if labels is not None else z, training=False)
            return {"images": likelihoods.mean(name, params)}

        def encode(images, labels):
            mean, log_variance = encoder([images, labels] if labels is not None else images, training=False)
            return {"mean": tf.cast(mean, tf.float32), "log_variance": tf.cast(log_variance, tf.float32)}

        def sample(num_samples, seed, labels):
            images = decode(latent_noise(num_samples, seed, latent_dim), labels)["images"]
            return {"images": likelihoods.to_uint8(name, images)}

        z_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="z")
        images_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        return {
            "serving_default": self._export_signature(decode, z_spec),
            "decode": self._export_signature(decode, z_spec),
            "encode": self._export_signature(encode, images_spec),
            "sample": self._export_signature(sample, draws=True),
        }

    # Latent means and log-variances are not bounded like images; with dynamic-range int8 weights
    # their mean |difference| is larger than the image tolerance allows. Measured on cvae_mnist
    # (1,000 inputs): max 0.084 / mean 0.013 (means), 0.060 / 0.008 (log-variances).
    # full_int8 encoders (vae_mnist, cvae_mnist; 1,000 decoded samples): mean max 1.01 / mean
    # 0.040, log_variance 0.32 / 0.025 (values up to 3.4 and 6.0).
    export_tolerances = {"mean": {"tflite_dynamic_int8": (0.4, 0.03), "tflite_full_int8": (1.5, 0.06)},
                         "log_variance": {"tflite_dynamic_int8": (0.4, 0.03), "tflite_full_int8": (0.5, 0.04)}}

    # LiteRT files written by the CLI: the decoder (z in) and the encoder (mean, log-variance out).
    edge_signatures = ("serving_default", "encode")
    edge_sample_signature = "serving_default"

    def _edge_images_to_uint8(self, images):
        return likelihoods.to_uint8(self.likelihood, images).numpy()

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()`` and the Keras result they
        must give: ``(inputs, expected)``; ``expected`` is a dict of outputs for ``encode``."""
        extra, labels = self._example_conditions(num_samples)
        if signature in ("serving_default", "decode"):
            z = self.noise(num_samples, seed=seed).numpy()
            return {"z": z, **extra}, self.decode(z, labels=labels)
        if signature == "encode":
            images = self.decode(self.noise(num_samples, seed=seed), labels=labels)  # in range by construction
            mean, log_variance = self._encode(tf.constant(images), None if labels is None else tf.constant(labels))
            return {"images": images, **extra}, {"mean": mean.numpy(), "log_variance": log_variance.numpy()}
        if signature == "sample":
            return self._example_conditions(num_samples, seed)[0], self.sample(num_samples, seed=seed, labels=labels)
        raise self._unknown_signature(signature)


def _check_networks(encoder, decoder, image_shape, latent_dim, likelihood, num_classes):
    expected_inputs = 2 if num_classes is not None else 1
    for name, net in (("encoder", encoder), ("decoder", decoder)):
        if len(net.inputs) != expected_inputs:
            kind = "conditional (inputs [x, labels])" if num_classes is not None else "unconditional (one input)"
            raise ValueError(f"the {name} has {len(net.inputs)} inputs but the VAE is {kind}")
    if len(encoder.outputs) != 2 or any(int(o.shape[-1]) != latent_dim for o in encoder.outputs):
        shapes = [tuple(o.shape) for o in encoder.outputs]
        raise ValueError(f"the encoder must output [mean, log_variance], each (batch, {latent_dim}); got {shapes}")
    expected = (*image_shape[:2], image_shape[2] * likelihoods.PARAMS_PER_PIXEL[likelihood])
    got = tuple(int(d) for d in decoder.outputs[0].shape[1:])
    if got != expected:
        raise ValueError(f"the {likelihood} likelihood needs decoder outputs of shape (batch, {', '.join(map(str, expected))})"
                         f" for images {image_shape}; the decoder gives (batch, {', '.join(map(str, got))})")


def _check_int_seed(seed):
    """The seed of a likelihood estimate: an int (None is refused: estimates are always seeded)."""
    if seed is None:
        raise TypeError("seed must be an integer (likelihood estimates are seeded), got None")
    return sampling.check_seed(seed)

