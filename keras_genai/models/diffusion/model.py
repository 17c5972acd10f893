"""Diffusion and flow models as one subclassed ``keras.Model``.

``Diffusion`` owns a denoiser network (``x_t``, ``t`` [, labels] -> a prediction of the image's
shape), an exponential moving average (EMA) copy of it, one optimizer and a ``SeedGenerator``.
One design covers the variants by configuration, as ``GAN`` does:

- ``objective="epsilon"``: DDPM (Ho et al. 2020); the network predicts the noise ``eps`` of
  ``x_t = sqrt(ab[t]) x0 + sqrt(1 - ab[t]) eps`` on a ``NoiseSchedule`` (linear or cosine),
  ``t`` a whole timestep in [0, T-1];
- ``objective="v"``: v-prediction (Salimans & Ho 2022) on the same schedule, target
  ``v = sqrt(ab) eps - sqrt(1 - ab) x0``; samplers get ``eps = sqrt(1 - ab) x_t + sqrt(ab) v``;
- ``objective="flow"``: flow matching / rectified flow (Lipman et al. 2022, Liu et al. 2022) on a
  ``FlowPath``, ``x_t = (1 - t) x0 + t eps``, ``t`` in [0, 1], target the velocity ``eps - x0``.

The loss is the mean squared error between prediction and target, per example averaged over
the pixels, and over the *global* batch (``tf.distribute``: per-replica noise and times from
``keras_genai.distribution``). ``num_classes`` makes a class-conditional model: the denoiser's
third input is the label, replaced during training with probability ``label_dropout`` by the
"no label" token ``num_classes``, so that one network gives both predictions of classifier-free
guidance (Ho & Salimans 2022).

Sampling (``sample``, ``generate``) and every export use the EMA network and one of the
samplers of ``keras_genai.models.diffusion.samplers``; the whole sampler loop is one
``tf.function`` (a ``tf.while_loop`` over the steps), stateless and seeded.
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_genai import distribution
from keras_genai.models import images as image_utils
from keras_genai.models import sampling
from keras_genai.models.base import GenerativeModel, check_num_classes
from keras_genai.models.diffusion import samplers as sampler_lookup
from keras_genai.models.diffusion.schedules import FlowPath, NoiseSchedule

OBJECTIVES = ("epsilon", "v", "flow")
# The sampler and steps of ``sample`` when the model does not name its own: DPM-Solver++ 2M for
# noise-prediction models, Heun for flow models.
DEFAULT_SAMPLING = {"noise": ("dpm_solver", 20), "flow": ("heun", 20)}
# Stochastic samplers draw each step's noise for a whole batch from one seed, so that rows do not
# depend on how the batch is split they run on blocks of this many rows (block b: sampler seed
# ``[seed, 1 + b]``), in ``sample`` and in the exported ``sample`` signature alike.
NOISE_BLOCK = 256
# The EMA's decay at update n (1, 2, ...) is min(ema_decay, (1 + n) / (EMA_WARMUP + n)): early
# averages forget the random initialisation quickly, later ones average over about
# 1 / (1 - ema_decay) updates.
EMA_WARMUP = 10


@keras.saving.register_keras_serializable(package="keras_genai")
class Diffusion(GenerativeModel):
    """A diffusion (epsilon or v) or flow-matching model; see the module docstring.

    Args:
        denoiser: ``keras.Model``: ``[x_t (batch, H, W, C) float32, t (batch,) float32]`` and, for
            a conditional model, ``labels (batch,) int32`` in [0, num_classes] (num_classes: no
            label) -> (batch, H, W, C) float predictions (``keras_genai.nets.unet_denoiser``). ``t`` is a
            whole timestep in [0, T-1] for "epsilon" and "v", a time in [0, 1] for "flow".
        objective: "epsilon", "v" or "flow".
        schedule: noise objectives: a ``NoiseSchedule``, its config, or a kind ("cosine",
            "linear"; 1000 timesteps); "flow": None (the ``FlowPath``).
        ema_decay: None (sample with the trained network itself) or a float in (0, 1) such as
            0.999; the decay of update n is ``min(ema_decay, (1 + n) / (10 + n))``.
        num_classes: None (unconditional) or the number of classes (>= 2).
        label_dropout: conditional models: the probability in [0, 1) that a training label is
            replaced by the "no label" token (0 disables classifier-free guidance).
        sampler: the default sampler of ``sample`` and of the exported ``sample`` signature (a
            name of ``samplers.NAMES`` that fits the objective); None: "dpm_solver" for noise
            objectives, "heun" for "flow".
        steps: the default number of sampler steps (None: 20).
        guidance: conditional models: the default guidance weight w >= 0 (None: 1.0, the
            conditional prediction alone); see ``sample``.
        seed: seed of the training noise (distinct per replica, see ``distribution``) and of
            ``sample(seed=None)``.

    Example:

    ```python
    import numpy as np
    import keras_genai

    model = keras_genai.models.ddpm((12, 12, 1), base_filters=8, channel_multipliers=(1, 2), seed=0)
    model.compile()  # or keras_genai.zoo.load("ddpm_mnist")
    images = np.random.default_rng(0).uniform(-1, 1, (64, 12, 12, 1)).astype("float32")
    model.fit(images, batch_size=32, epochs=1)
    samples = model.sample(4, seed=0, steps=10)  # uint8 (4, 12, 12, 1)
    samples = model.sample(4, seed=0, sampler="ddim", steps=10)
    ```
    """

    def __init__(self, denoiser, objective="epsilon", schedule="cosine", ema_decay=0.999, num_classes=None,
                 label_dropout=0.1, sampler=None, steps=None, guidance=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(denoiser, dict):
            denoiser = keras.saving.deserialize_keras_object(denoiser)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.objective = objective
        self.schedule = _schedule(objective, schedule)
        if ema_decay is not None and (isinstance(ema_decay, bool) or not isinstance(ema_decay, numbers.Real)
                                      or not 0.0 < ema_decay < 1.0):
            raise ValueError(f"ema_decay must be None or a number in (0, 1), got {ema_decay!r}")
        self.num_classes = check_num_classes(num_classes)
        if (isinstance(label_dropout, bool) or not isinstance(label_dropout, numbers.Real)
                or not 0.0 <= label_dropout < 1.0):
            raise ValueError(f"label_dropout must be a number in [0, 1), got {label_dropout!r}")
        self.image_shape = _check_denoiser(denoiser, self.num_classes)
        self.denoiser = denoiser
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.label_dropout = float(label_dropout)
        self.ema_denoiser = _ema_copy(denoiser) if self.ema_decay is not None else None
        default_sampler, default_steps = DEFAULT_SAMPLING[self.fits]
        self.sampler = sampler if sampler is not None else default_sampler
        if not isinstance(self.sampler, str):
            raise TypeError(f"sampler (the default) must be a sampler's name, one of "
                            f"{', '.join(sampler_lookup.NAMES)}; got {sampler!r} (sample() also takes Sampler objects)")
        self._samplers = {}
        self.steps = self._check_steps(steps if steps is not None else default_steps,
                                       self._check_sampler(self.sampler, what="default sampler"))
        self.guidance = None if guidance is None else _check_guidance_value(guidance)
        if self.guidance is not None and not self.conditional:
            raise ValueError("guidance is a default of class-conditional models; this model has num_classes=None")
        self.seed = sampling.check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._training_seed = distribution.training_seed(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._functions = {}
        self.built = True

    @property
    def fits(self):
        """"noise" (epsilon and v objectives: noise-prediction samplers) or "flow"."""
        return "flow" if self.objective == "flow" else "noise"

    @property
    def sampling_denoiser(self):
        """The network used for sampling and export: the EMA copy when there is one."""
        return self.ema_denoiser if self.ema_denoiser is not None else self.denoiser

    @property
    def default_guidance(self):
        """The guidance weight ``sample`` uses when given none (conditional models; None otherwise)."""
        if not self.conditional:
            return None
        return 1.0 if self.guidance is None else self.guidance

    def set_sampling(self, sampler=None, steps=None, guidance=None):
        """Changes the defaults of ``sample`` (and so of ``preview``, ``keras-genai evaluate`` and
        the exported ``sample`` signatures): the ``sampler`` name, the ``steps`` and, for a
        conditional model, the ``guidance``; None keeps a setting. Checked as ``sample`` checks
        them; saved with the model (its config).

        Example: ``model.set_sampling("ddim", steps=10)`` before evaluating 10-step DDIM samples.
        """
        name = self.sampler if sampler is None else sampler
        if not isinstance(name, str):
            raise TypeError(f"sampler must be a sampler's name, one of {', '.join(sampler_lookup.NAMES)}; got {name!r}")
        steps = self._check_steps(self.steps if steps is None else steps, self._check_sampler(name))
        if guidance is not None and not self.conditional:
            raise ValueError("guidance needs a class-conditional model; this model is unconditional")
        self.guidance = self.guidance if guidance is None else _check_guidance_value(guidance)
        self.sampler, self.steps = name, steps

    # ----------------------------------------------------------------- configuration
    def get_config(self):
        config = super().get_config()
        config.update(
            denoiser=keras.saving.serialize_keras_object(self.denoiser),
            objective=self.objective,
            schedule=self.schedule.get_config() if self.fits == "noise" else None,
            ema_decay=self.ema_decay,
            num_classes=self.num_classes,
            label_dropout=self.label_dropout,
            sampler=self.sampler,
            steps=self.steps,
            guidance=self.guidance,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------------------------- the network
    def _network_inputs(self, x_t, t, labels):
        t = tf.cast(t, tf.float32)
        return [x_t, t, labels] if self.conditional else [x_t, t]

    def call(self, inputs, training=False):
        """``[x_t, t(, labels)]`` -> the trained (not the EMA) network's prediction, float32."""
        return tf.cast(self.denoiser(inputs, training=training), tf.float32)

    def denoise(self, x_t, t, labels=None, batch_size=256):
        """One call of the sampling (EMA) network: its raw prediction for ``x_t`` at time ``t``.

        Args:
            x_t: float (n, H, W, C), noisy images.
            t: float (n,) or one number: whole timesteps in [0, T-1] ("epsilon", "v") or times
                in [0, 1] ("flow").
            labels: conditional models: an int or n ints in [0, num_classes], num_classes being
                the "no label" token (the unconditional prediction).
            batch_size: positive int, images per network call.
        Returns:
            np.ndarray float32 (n, H, W, C): the predicted noise ("epsilon"), v ("v") or velocity
            ("flow"), as the model was trained.
        """
        x_t = self._check_images(x_t, "x_t")
        n = int(x_t.shape[0])
        t = self._check_times(t, n)
        if self.conditional:
            labels = image_utils.check_labels(labels, n, self.num_classes + 1, type(self).__name__)
        else:
            labels = self.check_labels(labels, n)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        fn = self._function("denoise", lambda x, t, y: tf.cast(
            self.sampling_denoiser(self._network_inputs(x, t, y), training=False), tf.float32))
        parts = []
        for start in range(0, n, batch_size):
            chunk = labels[start: start + batch_size] if labels is not None else None
            parts.append(fn(x_t[start: start + batch_size], t[start: start + batch_size], chunk).numpy())
        return np.concatenate(parts)

    def _function(self, name, fn):
        if name not in self._functions:
            self._functions[name] = tf.function(fn, reduce_retracing=True)
        return self._functions[name]

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return [self.loss_tracker]

    def noisy_batch(self, images, labels=None, step=0):
        """What ``train_step`` fits at optimizer step ``step``: ``(x_t, t, target, labels)``.

        Per example (from the model's training seed and ``step``; under ``tf.distribute`` each
        replica gets its own rows): noise ``eps``, a time ``t`` (a whole timestep uniform in
        [0, T-1] as float32, or uniform in [0, 1) for "flow"), ``x_t`` on the schedule, the
        target (``eps``, ``v`` or the velocity ``eps - x0``) and, for a conditional model, the
        labels with a fraction ``label_dropout`` replaced by the "no label" token ``num_classes``.

        Args:
            images: float (batch, H, W, C) in [-1, 1].
            labels: conditional models: int (batch,) in [0, num_classes); otherwise None.
            step: int or int scalar tensor.
        Returns:
            x_t, target float32 (batch, H, W, C); t float32 (batch,); labels int32 (batch,) or None.
        """
        images = tf.cast(images, tf.float32)
        labels = None if labels is None else tf.cast(labels, tf.int32)
        batch = tf.shape(images)[0]
        seed = self._training_seed
        noise = distribution.normal(batch, self.image_shape, seed, step, 0)
        u = distribution.uniform(batch, (), seed, step, 1)
        if self.fits == "flow":
            t = u
            x_t = self.schedule.add_noise(images, noise, t)
            target = self.schedule.velocity_target(images, noise)
        else:
            last = self.schedule.num_timesteps - 1
            timesteps = tf.minimum(tf.cast(u * self.schedule.num_timesteps, tf.int32), last)
            x_t = self.schedule.add_noise(images, noise, timesteps)
            target = noise if self.objective == "epsilon" else self.schedule.v_target(images, noise, timesteps)
            t = tf.cast(timesteps, tf.float32)
        if self.conditional and self.label_dropout:
            dropped = distribution.uniform(batch, (), seed, step, 2) < self.label_dropout
            labels = tf.where(dropped, tf.fill(tf.shape(labels), self.num_classes), labels)
        return x_t, t, target, labels

    def _per_example_loss(self, network, x_t, t, target, labels, training):
        prediction = tf.cast(network(self._network_inputs(x_t, t, labels), training=training), tf.float32)
        return tf.reduce_mean(tf.square(prediction - target), axis=list(range(1, len(self.image_shape) + 1)))

    def _check_label_range(self, labels):
        if labels is None:
            return []
        return [tf.debugging.assert_less(labels, self.num_classes,
                                         message=f"training labels must be in [0, {self.num_classes})"),
                tf.debugging.assert_greater_equal(labels, 0,
                                                  message=f"training labels must be in [0, {self.num_classes})")]

    def train_step(self, data):
        if getattr(self, "optimizer", None) is None:
            raise RuntimeError("call compile() before fit()")
        images, labels = self._unpack(data)
        with tf.control_dependencies(self._check_label_range(labels)):
            images = tf.identity(images)
        step = self.optimizer.iterations
        x_t, t, target, labels = self.noisy_batch(images, labels, step)
        variables = self.denoiser.trainable_variables
        with tf.GradientTape() as tape:
            per_example = self._per_example_loss(self.denoiser, x_t, t, target, labels, training=True)
            # Averaged over the global batch: gradients summed over replicas are the one-device ones.
            loss = distribution.global_batch_mean(per_example)
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in self.losses]))
            scaled = self.optimizer.scale_loss(loss)  # mixed_float16: the LossScaleOptimizer's scale
        gradients = distribution.skip_together(tape.gradient(scaled, variables), self.optimizer)
        self.optimizer.apply(gradients, variables)
        if self.ema_denoiser is not None:
            self._update_ema(self.optimizer.iterations)
        self.loss_tracker.update_state(tf.reduce_mean(per_example), sample_weight=tf.shape(per_example)[0])
        return distribution.step_logs(self.metrics)

    def ema_decay_at(self, update):
        """The EMA decay of update ``update`` (1, 2, ...): ``min(ema_decay, (1 + n) / (10 + n))``."""
        n = tf.cast(update, tf.float32)
        return tf.minimum(tf.constant(self.ema_decay, tf.float32), (1.0 + n) / (EMA_WARMUP + n))

    def _update_ema(self, update):
        decay = self.ema_decay_at(update)
        for average, weight in zip(self.ema_denoiser.weights, self.denoiser.weights):
            average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))

    def test_step(self, data):
        images, labels = self._unpack(data)
        step = tf.constant(0, tf.int64)
        x_t, t, target, labels = self.noisy_batch(images, labels, step)
        per_example = self._per_example_loss(self.sampling_denoiser, x_t, t, target, labels, training=False)
        self.loss_tracker.update_state(tf.reduce_mean(per_example), sample_weight=tf.shape(per_example)[0])
        return distribution.step_logs(self.metrics)

    # ----------------------------------------------------------------- checks
    def _check_images(self, images, name):
        if not tf.is_tensor(images):
            images = np.asarray(images)
            if not np.issubdtype(images.dtype, np.floating):
                raise TypeError(f"{name} must be a float array of shape (n, {', '.join(map(str, self.image_shape))}), "
                                f"got dtype {images.dtype}")
        elif not images.dtype.is_floating:
            raise TypeError(f"{name} must be a float tensor, got dtype {images.dtype.name}")
        if tuple(images.shape[1:]) != self.image_shape or images.shape[0] == 0:
            raise ValueError(f"{name} must have shape (n, {', '.join(map(str, self.image_shape))}) with n >= 1, "
                             f"got {tuple(images.shape)}")
        return tf.cast(images, tf.float32)

    def _check_times(self, t, n):
        t = np.asarray(t.numpy() if tf.is_tensor(t) else t)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"t must be numbers, got dtype {t.dtype}")
        t = np.broadcast_to(t, (n,)) if t.ndim == 0 else t
        if t.shape != (n,):
            raise ValueError(f"expected {n} times t (one per image) or one number, got shape {t.shape}")
        high = 1.0 if self.fits == "flow" else float(self.schedule.num_timesteps - 1)
        if not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > high:
            raise ValueError(f"t must be in [0, {high:g}] for this {self.objective} model, got values from "
                             f"{t.min()} to {t.max()}")
        return tf.constant(t.astype(np.float32))

    def _check_sampler(self, sampler, what="sampler"):
        """The ``Sampler`` for a name (cached per name) or a ``Sampler`` object, checked to fit."""
        if isinstance(sampler, sampler_lookup.Sampler):
            resolved = sampler
        elif isinstance(sampler, str) and sampler in sampler_lookup.NAMES:
            if sampler not in self._samplers:
                resolved = sampler_lookup.get(sampler)
                if resolved.fits == "noise":  # x0 predictions kept in the images' range (diffusers' clip_sample)
                    resolved = sampler_lookup.get(sampler, clip_x0=1.0)
                self._samplers[sampler] = resolved
            resolved = self._samplers[sampler]
        else:
            raise ValueError(f"unknown {what} {sampler!r}; the samplers are {', '.join(sampler_lookup.NAMES)} "
                             "(or a keras_genai.models.diffusion.samplers.Sampler)")
        resolved.check_schedule(self.schedule)  # ValueError naming the samplers that fit
        return resolved

    def _check_steps(self, steps, sampler):
        return sampler.check_steps(steps, self.schedule)

    def _check_guidance(self, guidance, labels):
        if guidance is None:
            return self.default_guidance
        if not self.conditional:
            raise ValueError("guidance needs a class-conditional model (classifier-free guidance mixes the "
                             "prediction for the labels with the unconditional one); this model is unconditional")
        if labels is None:
            raise ValueError(f"guidance needs labels: pass labels (ints in [0, {self.num_classes})) with it")
        return _check_guidance_value(guidance)

    def _sampling_seed(self, seed):
        """An int seed: ``seed`` checked, or for None one drawn from the model's ``SeedGenerator``."""
        seed = sampling.check_seed(seed)
        if seed is None:
            return int(keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator))
        return seed

    # ----------------------------------------------------------------- sampling
    @property
    def sample_conditions(self):
        """``steps`` and ``sampler``; a conditional model also takes ``labels`` and ``guidance``."""
        return ("labels", "steps", "sampler", "guidance") if self.conditional else ("steps", "sampler")

    def _predictor(self, labels, guidance):
        """``predict(x_t, t)`` for the samplers: epsilon (noise objectives) or velocity ("flow")
        of the sampling network, float32, with classifier-free guidance ``uncond + w (cond -
        uncond)`` for a conditional model. ``guidance`` is a Python float (the branch is chosen
        when tracing) or a float32 scalar tensor (chosen in the graph); w == 1 runs the
        conditional prediction alone."""
        network = self.sampling_denoiser

        def run(x_t, t, y):
            return tf.cast(network(self._network_inputs(x_t, t, y), training=False), tf.float32)

        def guided(x_t, t):
            cond = run(x_t, t, labels)
            unconditional_labels = tf.fill(tf.shape(labels), tf.constant(self.num_classes, labels.dtype))

            def mixed():
                uncond = run(x_t, t, unconditional_labels)
                return uncond + guidance * (cond - uncond)

            if not tf.is_tensor(guidance):
                return cond if guidance == 1.0 else mixed()
            return tf.cond(tf.equal(guidance, 1.0), lambda: cond, mixed)

        def predict(x_t, t):
            prediction = guided(x_t, t) if self.conditional else run(x_t, t, None)
            if self.objective == "v":
                prediction = self.schedule.epsilon_from_v(x_t, prediction, t)
            return prediction

        return predict

    def _generate_graph(self, sampler, noise, labels, steps, guidance, seed, first_block=0):
        """The sampler loop on ``noise``: float32 images (n, H, W, C) clipped to [-1, 1].

        A stochastic sampler runs on blocks of ``NOISE_BLOCK`` rows, block b seeded with
        ``[seed, 1 + first_block + b]`` (``seed`` int64 scalar; ``first_block``: the index of the
        first row's block in the whole draw), so rows never depend on how a draw is split."""
        if sampler.deterministic:
            x0 = sampler.sample(self._predictor(labels, guidance), noise, steps, self.schedule)
            return tf.clip_by_value(x0, -1.0, 1.0)
        n = tf.shape(noise)[0]
        blocks = (n + NOISE_BLOCK - 1) // NOISE_BLOCK
        seed = tf.cast(seed, tf.int64)

        def body(b, parts):
            start = b * NOISE_BLOCK
            count = tf.minimum(NOISE_BLOCK, n - start)
            block_labels = labels[start: start + count] if labels is not None else None
            block_seed = tf.stack([seed, tf.cast(b + first_block, tf.int64) + 1])
            x0 = sampler.sample(self._predictor(block_labels, guidance), noise[start: start + count], steps,
                                self.schedule, seed=block_seed)
            return b + 1, parts.write(b, tf.clip_by_value(x0, -1.0, 1.0))

        parts = tf.TensorArray(tf.float32, size=blocks, infer_shape=False,
                               element_shape=tf.TensorShape([None, *self.image_shape]))
        _, parts = tf.while_loop(lambda b, _: b < blocks, body, (tf.constant(0), parts))
        return parts.concat()

    def _compiled_generate(self, sampler):
        key = f"generate_{id(sampler)}"
        if key not in self._functions:
            self._samplers[key] = sampler  # kept, so that its id is not reused by another sampler
            self._functions[key] = tf.function(
                lambda noise, labels, steps, guidance, seed, first_block: self._generate_graph(
                    sampler, noise, labels, steps, guidance, seed, first_block), reduce_retracing=True)
        return self._functions[key]

    def _resolve(self, num_samples, steps, sampler, guidance, labels):
        """Checked ``(sampler, steps, guidance, labels)`` of a ``sample`` / ``generate`` call."""
        sampler = self._check_sampler(self.sampler if sampler is None else sampler)
        steps = self._check_steps(self.steps if steps is None else steps, sampler)
        guidance = self._check_guidance(guidance, labels)
        labels = self.check_labels(labels, num_samples)
        return sampler, steps, guidance, labels

    def _chunks(self, n, batch_size, sampler, noise_rows, labels, steps, guidance, seed, dtype, finish):
        """Runs the compiled loop on chunks of rows (``noise_rows(start, count)``) into an array of
        ``dtype``; ``finish`` turns a chunk's float images into it."""
        size = batch_size if sampler.deterministic else NOISE_BLOCK
        generate = self._compiled_generate(sampler)
        # Tensors, so one trace serves every step count and guidance, as in the exported graph.
        steps = tf.constant(steps, tf.int32)
        guidance = tf.constant(1.0 if guidance is None else guidance, tf.float32)
        seed = tf.constant(seed, tf.int64)
        out = np.empty((n, *self.image_shape), dtype)
        for start in range(0, n, size):
            count = min(size, n - start)
            chunk_labels = None if labels is None else tf.constant(labels[start: start + count])
            images = generate(noise_rows(start, count), chunk_labels, steps, guidance, seed,
                              tf.constant(start // NOISE_BLOCK, tf.int32))
            out[start: start + count] = finish(images)
        return out

    def generate(self, noise, labels=None, steps=None, sampler=None, guidance=None, seed=0, batch_size=256):
        """Runs the sampler from given initial noise.

        Args:
            noise: float (n, H, W, C), standard normal initial noise (``sample`` draws
                ``tf.random.stateless_normal((n, H, W, C), [seed, 0])``).
            labels, steps, sampler, guidance: as in ``sample``.
            seed: int, the step noise of a stochastic sampler (ignored by deterministic ones).
            batch_size: positive int, images per compiled loop (deterministic samplers; stochastic
                ones run on blocks of ``NOISE_BLOCK`` rows); the images do not depend on it.
        Returns:
            np.ndarray float32 (n, H, W, C) in [-1, 1].
        """
        noise = self._check_images(noise, "noise")
        n = int(noise.shape[0])
        sampler, steps, guidance, labels = self._resolve(n, steps, sampler, guidance, labels)
        seed = sampling.check_seed(seed)
        if seed is None:
            raise TypeError("seed must be an integer (generate is seeded), got None")
        batch_size = image_utils.check_count(batch_size, "batch_size")
        return self._chunks(n, batch_size, sampler, lambda start, count: noise[start: start + count], labels, steps,
                            guidance, seed, np.float32, lambda x: x.numpy())

    def sample(self, num_samples, seed=None, steps=None, sampler=None, guidance=None, labels=None, batch_size=256):
        """Draws ``num_samples`` images with a sampler of ``keras_genai.models.diffusion.samplers``.

        Args:
            num_samples: positive int. The uint8 result (num_samples * H * W * C bytes) must fit
                in ``sampling.result_limit()``; a larger request is refused before anything runs.
            seed: None (fresh randomness) or an int in the int64 range: the initial noise is
                ``tf.random.stateless_normal((num_samples, H, W, C), [seed, 0])`` (sample k does
                not depend on num_samples) and the same seed gives the same images as the exported
                ``sample`` signature. Anything else is a ``TypeError``.
            steps: positive int (at most the schedule's timesteps for noise objectives); None:
                the model's ``steps``. Network evaluations: ``sampler.evaluations(steps)`` (twice
                that with guidance other than 1).
            sampler: a name ("ddpm", "ddim", "dpm_solver" for "epsilon"/"v" models; "euler",
                "heun" for "flow" models) or a ``Sampler`` (``samplers.get("ddim", eta=0.5)``);
                None: the model's ``sampler``. Named noise samplers clip their x0 predictions to
                [-1, 1], the images' range (``clip_x0=1.0``, diffusers' ``clip_sample``).
            guidance: conditional models only: the classifier-free guidance weight w >= 0; the
                prediction is ``uncond + w * (cond - uncond)``, so w = 1 is the conditional
                prediction alone (one network call per evaluation), w = 0 the unconditional one
                and w > 1 strengthens the class. None: the model's ``guidance`` (default 1).
            labels: conditional models only (required there): an int or ``num_samples`` ints in
                [0, num_classes).
            batch_size: positive int, images per compiled sampler loop (deterministic samplers);
                stochastic samplers run on blocks of ``NOISE_BLOCK`` rows. Memory stays bounded
                and the images do not depend on it.
        Returns:
            np.ndarray uint8 (num_samples, H, W, C) in [0, 255].
        """
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        sampler, steps, guidance, labels = self._resolve(num_samples, steps, sampler, guidance, labels)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        sampling.check_result_bytes(num_samples * int(np.prod(self.image_shape)), f"sample({num_samples})")
        seed = self._sampling_seed(seed)
        rows = sampling.StatelessRows("normal", tf.constant([seed, 0], tf.int64), self.image_shape)
        return self._chunks(num_samples, batch_size, sampler, rows, labels, steps, guidance, seed, np.uint8,
                            lambda x: image_utils.to_uint8(x).numpy())

    def sample_reference(self, num_samples, seed, steps=None, sampler=None, guidance=None, labels=None):
        """The naive loop: the same sampler run eagerly, one network call per evaluation from
        Python, on the same noise as ``sample`` (the same images up to float round-off). Slow;
        for tests and the benchmark. Returns uint8 (num_samples, H, W, C)."""
        num_samples = image_utils.check_count(num_samples)
        sampler, steps, guidance, labels = self._resolve(num_samples, steps, sampler, guidance, labels)
        seed = self._sampling_seed(seed)
        noise = tf.random.stateless_normal((num_samples, *self.image_shape), seed=[seed, 0])
        labels = None if labels is None else tf.constant(labels)
        parts = []
        for start in range(0, num_samples, NOISE_BLOCK):
            count = min(NOISE_BLOCK, num_samples - start)
            block_labels = None if labels is None else labels[start: start + count]
            x0 = sampler.sample(self._predictor(block_labels, guidance), noise[start: start + count], steps,
                                self.schedule,
                                seed=None if sampler.deterministic else
                                tf.constant([seed, start // NOISE_BLOCK + 1], tf.int64))
            parts.append(image_utils.to_uint8(tf.clip_by_value(x0, -1.0, 1.0)).numpy())
        return np.concatenate(parts)

    # ----------------------------------------------------------------- the zoo's questions
    @classmethod
    def card_usage(cls, metadata):
        conditional = "labels" in metadata.get("dataset", {})
        labels = ", labels=list(range(10)) + list(range(6))" if conditional else ""
        lines = [f"images = model.sample(16, seed=0{labels})  # uint8 (16, H, W, C): model.sampler, model.steps steps",
                 f"images = model.sample(16, seed=0{labels}, steps=10)  # fewer network evaluations; also sampler=: "
                 "ddpm, ddim, dpm_solver (noise models), euler, heun (flow models)"]
        if conditional:
            lines.append(f"images = model.sample(16, seed=0{labels}, guidance=3.0)  # classifier-free guidance: "
                         "uncond + w * (cond - uncond); w=1 is the conditional prediction alone")
        lines.append("prediction = model.denoise(x_t, t" + (", labels=labels" if conditional else "") +
                     ")  # one network call: the noise, v or velocity")
        return lines

    def default_evaluation(self, metadata, conditions=None, **options):
        """The sample-quality evaluation of the base, with the sampling settings written out:
        ``conditions`` (``--steps``, ``--sampler``, ``--guidance`` of ``keras-genai evaluate``)
        over the model's own ``sampler``, ``steps`` (and ``guidance``), so that every stored
        evaluation says how its samples were drawn and the card can table FID against steps
        (key ``<features>_features_[guidance_<w>_]sampler_<name>_steps_<n>``)."""
        settings = {"sampler": self.sampler, "steps": self.steps}
        if self.conditional:
            settings["guidance"] = self.default_guidance
        settings.update(conditions or {})
        if not isinstance(settings["sampler"], str):
            raise TypeError("an evaluation stored on a card names its sampler: pass a sampler's name "
                            f"({', '.join(sampler_lookup.NAMES)}), got {settings['sampler']!r}")
        return super().default_evaluation(metadata, conditions=settings, **options)

    @classmethod
    def card_metric_sections(cls, metrics):
        """The evaluations drawn with a named sampler and steps as one table, FID against steps
        for each sampler (rows by sampler, then steps), then any other evaluation as the base
        shows it."""
        swept = {key: results for key, results in metrics.items() if isinstance(results, dict)
                 and {"sampler", "steps"} <= set(results.get("conditions") or {})}
        lines = super().card_metric_sections({k: v for k, v in metrics.items() if k not in swept})
        if not swept:
            return lines
        first = next(iter(swept.values()))
        conditional = any("label_accuracy" in results for results in swept.values())
        lines += ["", "### FID against sampler steps", "",
                  f"{first.get('features')} features; {first.get('num_samples')} samples per row (seed "
                  f"{first.get('seed')}) against {first.get('reference')}. NFE: network evaluations per image "
                  "(twice that with a guidance weight other than 1).", "",
                  "| sampler | steps | NFE | " + ("guidance | " if conditional else "") + "FID | IS | precision / recall |"
                  + (" requested class |" if conditional else ""),
                  "| --- | --- | --- | " + ("--- | " if conditional else "") + "--- | --- | --- |"
                  + (" --- |" if conditional else "")]

        def order(item):
            settings = item[1]["conditions"]
            name = settings["sampler"]
            return (sampler_lookup.NAMES.index(name) if name in sampler_lookup.NAMES else len(sampler_lookup.NAMES),
                    str(name), int(settings["steps"]), float(settings.get("guidance") or 0))

        for _, results in sorted(swept.items(), key=order):
            settings = results["conditions"]
            name, steps = settings["sampler"], int(settings["steps"])
            nfe = sampler_lookup.get(name).evaluations(steps) if name in sampler_lookup.NAMES else "?"
            cells = [f"`{name}`", str(steps), str(nfe)]
            if conditional:
                cells.append(f"{settings.get('guidance', '')}")
            cells += [f"{results['fid']:.3g}" if "fid" in results else "",
                      f"{results['is_mean']:.3g}" if "is_mean" in results else "",
                      f"{results['precision']:.3f} / {results['recall']:.3f}" if "precision" in results else ""]
            if conditional:
                cells.append(f"{results['label_accuracy']:.2%}" if "label_accuracy" in results else "")
            lines.append("| " + " | ".join(cells) + " |")
        floor = first.get("real_data_floor")
        if floor:
            lines += ["", f"Real-data floor under the same protocol: FID {floor['fid']:.3g}, IS {floor['is_mean']:.3g}."]
        commands = sorted({results.get("command") for results in swept.values() if results.get("command")})
        if commands:
            lines += ["", "Measured with " + "; ".join(f"`{command}`" for command in commands) + "."]
        return lines

    # ----------------------------------------------------------------- export
    @property
    def edge_sampler(self):
        """The deterministic sampler of the LiteRT ``sample_from_noise`` graph: the model's
        ``sampler`` when it is deterministic, else "ddim" (eta=0) or "euler"."""
        sampler = self._check_sampler(self.sampler)
        if sampler.deterministic:
            return sampler
        return self._check_sampler("ddim" if self.fits == "noise" else "euler")

    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, input_signature)}``.

        - ``serving_default``: ``x_t`` (batch, H, W, C) float32, ``t`` (batch,) float32
          [, ``labels`` (batch,) int32 in [0, num_classes]] -> ``prediction`` float32, one call of
          the EMA network (``denoise``);
        - ``sample``: ``num_samples`` () int32 (conditional: ``labels`` (n,) int32 instead, one
          image per label), ``steps`` () int32 [, ``guidance`` () float32] and ``seed`` () int64
          -> ``images`` uint8, the whole loop of the model's ``sampler`` in the graph, equal to
          ``sample(n, seed, steps=steps[, guidance=guidance, labels=labels])``;
        - ``sample_from_noise`` (the LiteRT graph): ``noise`` (batch, H, W, C) float32
          [, ``labels``] -> ``images`` float32 in [-1, 1]: ``edge_sampler`` with the model's
          ``steps`` (and guidance) fixed at export, no random ops, equal to ``generate(noise, ...)``.
        """
        shape = self.image_shape
        network, sampler, edge = self.sampling_denoiser, self._check_sampler(self.sampler), self.edge_sampler
        edge_steps = self.steps
        edge_guidance = 1.0 if self.default_guidance is None else self.default_guidance

        def denoise(x_t, t, labels):
            return {"prediction": tf.cast(network(self._network_inputs(x_t, t, labels), training=False), tf.float32)}

        def sample(num_samples, steps, *guidance_seed_labels):
            *guidance, seed, labels = guidance_seed_labels  # guidance: conditional models only
            noise = tf.random.stateless_normal(tf.concat([[num_samples], shape], 0),
                                               seed=tf.stack([seed, tf.constant(0, tf.int64)]))
            x0 = self._generate_graph(sampler, noise, labels, steps, guidance[0] if guidance else 1.0, seed)
            return {"images": image_utils.to_uint8(x0)}

        def sample_from_noise(noise, labels):
            return {"images": self._generate_graph(edge, noise, labels, edge_steps, edge_guidance, 0)}

        steps_spec = tf.TensorSpec([], tf.int32, name="steps")
        guidance_spec = [tf.TensorSpec([], tf.float32, name="guidance")] if self.conditional else []
        return {
            "serving_default": self._export_signature(denoise, tf.TensorSpec([None, *shape], tf.float32, name="x_t"),
                                                      tf.TensorSpec([None], tf.float32, name="t")),
            "sample": self._export_signature(sample, steps_spec, *guidance_spec, draws=True),
            "sample_from_noise": self._export_signature(
                sample_from_noise, tf.TensorSpec([None, *shape], tf.float32, name="noise")),
        }

    # LiteRT files: the denoiser and the whole fixed-step deterministic sampler.
    edge_signatures = ("serving_default", "sample_from_noise")
    # Integer-only would quantize the timestep t (0-999) to 256 levels and compound int8 errors
    # over every step of the sampler loop; not offered until measured on trained weights.
    edge_quantizations = ("float32", "float16", "dynamic_int8")
    edge_quantization_notes = {"full_int8": "the timestep input would be quantized to 256 levels and the sampler "
                                            "loop compounds int8 errors over its steps"}
    # Its images come from ``edge_sampler`` with the model's steps, not from ``sampler``.
    edge_sample_signature = "sample_from_noise"

    def _edge_noise(self, num_samples, seed):
        return {"noise": tf.random.stateless_normal((num_samples, *self.image_shape), seed=[seed, 0]).numpy()}

    # The fixed-step sampler compounds the per-call differences of a LiteRT network over its steps.
    export_tolerances = {"images": {"tflite_float32": (2e-3, 2e-4), "tflite_float16": (0.25, 0.02),
                                    "tflite_dynamic_int8": (1.0, 0.1)}}

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()`` and the Keras result they
        must give: ``(inputs, expected)``."""
        noise = tf.random.stateless_normal((num_samples, *self.image_shape), seed=[seed, 0]).numpy()
        if signature == "serving_default":
            high = 1.0 if self.fits == "flow" else float(self.schedule.num_timesteps - 1)
            t = np.linspace(0.0, high, num_samples)
            t = (t if self.fits == "flow" else np.round(t)).astype(np.float32)
            inputs, labels = self._example_conditions(num_samples)
            if self.conditional:  # the last example asks for the unconditional prediction
                labels[-1] = self.num_classes
            return {"x_t": noise, "t": t, **inputs}, {"prediction": self.denoise(noise, t, labels=labels)}
        if signature == "sample":
            inputs, labels = self._example_conditions(num_samples, seed)
            inputs["steps"] = np.int32(self.steps)
            if self.conditional:
                inputs["guidance"] = np.float32(self.default_guidance)
            return inputs, self.sample(num_samples, seed=seed, labels=labels)
        if signature == "sample_from_noise":
            inputs, labels = self._example_conditions(num_samples)
            expected = self.generate(noise, labels=labels, sampler=self.edge_sampler)
            return {"noise": noise, **inputs}, {"images": expected}
        raise self._unknown_signature(signature)


def _schedule(objective, schedule):
    """The noising process of ``objective``: a ``NoiseSchedule`` (from an object, a config or a
    kind) for "epsilon" and "v", the ``FlowPath`` for "flow"."""
    if objective == "flow":
        if schedule not in (None, "flow") and not isinstance(schedule, FlowPath) and schedule != {}:
            raise ValueError(f"a flow model moves along the FlowPath x_t = (1 - t) x0 + t eps; pass schedule=None, "
                             f"got {schedule!r}")
        return FlowPath()
    if isinstance(schedule, NoiseSchedule):
        return schedule
    if isinstance(schedule, dict):
        return NoiseSchedule.from_config(schedule)
    if isinstance(schedule, str):
        return NoiseSchedule(schedule)
    raise ValueError(f"an {objective} model needs a NoiseSchedule, its config or a kind ('cosine', 'linear'); "
                     f"got {schedule!r}")


def _ema_copy(denoiser):
    """A copy of ``denoiser`` named ``ema_<name>`` (so the model's two networks have two names),
    holding its weights, not trained by the optimizer."""
    config = keras.saving.serialize_keras_object(denoiser)
    config["config"]["name"] = f"ema_{denoiser.name}"
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(denoiser.get_weights())
    copy.trainable = False
    return copy


def _check_denoiser(denoiser, num_classes):
    """The image shape of a denoiser with the inputs ``num_classes`` asks for; ``ValueError`` otherwise."""
    if not isinstance(denoiser, keras.Model):
        raise TypeError(f"denoiser must be a keras.Model, got {type(denoiser).__name__}")
    expected = 3 if num_classes is not None else 2
    if len(denoiser.inputs) != expected:
        kind = "conditional (inputs [x_t, t, labels])" if num_classes is not None else "unconditional (inputs [x_t, t])"
        raise ValueError(f"the denoiser has {len(denoiser.inputs)} inputs but the model is {kind}")
    image_shape = tuple(int(d) for d in denoiser.inputs[0].shape[1:])
    output_shape = tuple(int(d) for d in denoiser.outputs[0].shape[1:])
    if output_shape != image_shape:
        raise ValueError(f"the denoiser must predict the shape of its input x_t {image_shape}; it gives {output_shape}")
    return image_shape


def _check_guidance_value(guidance):
    if (isinstance(guidance, bool) or not isinstance(guidance, numbers.Real) or not math.isfinite(guidance)
            or guidance < 0):
        raise ValueError(f"guidance must be a finite number >= 0 (1: the conditional prediction alone), "
                         f"got {guidance!r}")
    return float(guidance)
