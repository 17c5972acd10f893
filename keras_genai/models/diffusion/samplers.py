"""Samplers: small swappable objects that turn a trained denoiser and initial noise into samples
(what diffusers calls schedulers). ``get("ddim", eta=0.0)`` builds one by name.

==============  =======  ==================================================  =============  ==========
name            fits     method                                              deterministic  NFE
==============  =======  ==================================================  =============  ==========
``ddpm``        noise    ancestral sampling from the posterior (Ho et al.)   no             steps
``ddim``        noise    DDIM (Song et al.), ``eta`` in [0, ...): 0 is the   eta == 0       steps
                         ODE, 1 the DDPM posterior
``dpm_solver``  noise    DPM-Solver++ 2M (Lu et al.), data prediction,       yes            steps
                         multistep
``euler``       flow     Euler on the velocity ODE                           yes            steps
``heun``        flow     Heun's 2nd order, last step Euler (as in EDM)       yes            2 steps - 1
==============  =======  ==================================================  =============  ==========

"noise" samplers take ``predict(x_t, t) -> eps`` on a ``NoiseSchedule`` (``t`` float32 (B,) whole
timestep values in [0, T-1]); "flow" samplers take ``predict(x_t, t) -> velocity`` on a ``FlowPath``
(``t`` float32 (B,) in (0, 1]).

Timesteps. Noise samplers space their steps "trailing" by default (Lin et al. 2023, "Common
diffusion noise schedules and sample steps are flawed"; diffusers' ``timestep_spacing="trailing"``):
``t_i = round(T (steps - i) / steps) - 1``, i = 0 .. steps-1, so the first step is always at
T-1, the timestep the model was trained to denoise from pure noise. "leading" spacing (the DDPM /
DDIM papers and Stable Diffusion: ``t_i = (steps - 1 - i) * (T // steps)``) starts at
``T - T // steps`` instead, where a cosine schedule still keeps ``sqrt(alpha_bar) ~ 0.16`` of the
signal at 10 steps: the initial noise then does not match what the model expects, and few-step
samples lose contrast (measured on Gaussian data: ``tests/test_diffusion_samplers.py``). After the
last timestep each sampler goes to ``alpha_bar = 1``, so the final step returns the model's x0
prediction at the last timestep and adds no noise (diffusers' ``final_sigmas_type="zero"`` /
``set_alpha_to_one``); DPM-Solver++ takes that step, and its first, at first order, as diffusers
does with ``final_sigmas_type="zero"``.

Flow samplers step on ``t_i = shift(1 - i / steps)``, i = 0 .. steps, from 1 to 0, with
``shift(t) = shift * t / (1 + (shift - 1) t)`` (Esser et al. 2024, SD3; ``shift=1`` is uniform;
``shift > 1`` spends more steps near the noise).

Randomness. Stochastic samplers draw the noise of step ``i`` as
``tf.random.stateless_normal(tf.shape(x), seed=stateless_fold_in(stateless_fold_in(seed, STEP_NOISE_STREAM), i))``,
the same stream in every stochastic sampler. A stateless draw fills rows in order, so sample ``k``
never depends on the batch size. Draw the initial noise from ``seed`` itself (or any fold other than
``STEP_NOISE_STREAM``) so the two never coincide.

Speed. ``sample`` is one ``tf.while_loop`` over the steps (``steps`` may be a graph tensor, as in a
SavedModel signature). The timestep grid and every coefficient are computed once per call as
tensors (steps,); a step gathers its scalars and calls ``predict`` once (twice for Heun's
corrector, which runs as its own loop iteration, so the network is traced into the graph once).
"""

import collections
import inspect
import numbers

import numpy as np
import tensorflow as tf

from keras_genai.models.diffusion.schedules import FlowPath, NoiseSchedule

NAMES = ("ddpm", "ddim", "dpm_solver", "euler", "heun")
SPACINGS = ("trailing", "leading")
STEP_NOISE_STREAM = 0x5EED  # folded into the seed before the step index: per-step noise is its own stream
_KINDS = {"noise": (NoiseSchedule, "noise-prediction models (a NoiseSchedule)", "a noise-prediction model"),
          "flow": (FlowPath, "flow models (a FlowPath)", "a flow model")}


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _names_that_fit(fits):
    return [name for name in NAMES if _SAMPLERS[name].fits == fits]


def _or_list(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class Sampler:
    """Base of every sampler: validation, the seed, and the loop's contract.

    Attributes:
        name: "ddpm", "ddim", "dpm_solver", "euler" or "heun".
        fits: "noise" (``predict`` returns epsilon on a ``NoiseSchedule``) or "flow" (velocity on a
            ``FlowPath``).
        deterministic: True when the result depends only on the initial noise (``seed`` is ignored).

    Example:

    ```python
    import tensorflow as tf
    from keras_genai.models.diffusion import samplers
    from keras_genai.models.diffusion.schedules import NoiseSchedule

    schedule = NoiseSchedule("cosine")
    # The exact epsilon of data x0 ~ N(0, 0.5^2): any trained denoiser takes its place.
    def predict(x_t, t):
        alpha_bar = schedule.alpha_bar(t)[:, None]
        return tf.sqrt(1 - alpha_bar) * x_t / (alpha_bar * 0.25 + 1 - alpha_bar)
    noise = tf.random.stateless_normal((1000, 2), seed=(0, 0))
    x0 = samplers.get("dpm_solver").sample(predict, noise, steps=20, schedule=schedule)
    print(float(tf.math.reduce_std(x0)))  # about 0.5
    ddpm = samplers.get("ddpm")
    x0 = ddpm.sample(predict, noise, steps=50, schedule=schedule, seed=tf.constant([1, 2]))
    ```
    """

    name = None
    fits = None
    deterministic = True

    def __init__(self):
        self._options = {}

    def evaluations(self, steps):
        """Network evaluations (NFE) of ``steps`` steps; ``steps`` a Python integer >= 1."""
        return _python_steps(steps)

    def check_schedule(self, schedule):
        """Raises unless ``schedule`` is the kind this sampler fits (``TypeError`` for an object that
        is neither a ``NoiseSchedule`` nor a ``FlowPath``, ``ValueError`` for the other kind)."""
        if not isinstance(schedule, (NoiseSchedule, FlowPath)):
            raise TypeError(f"schedule must be a NoiseSchedule or a FlowPath, got {type(schedule).__name__}")
        kind, fits_text, _ = _KINDS[self.fits]
        if not isinstance(schedule, kind):
            other = "flow" if self.fits == "noise" else "noise"
            raise ValueError(f"{self.name} fits {fits_text}; this model is {_KINDS[other][2]} — use "
                             f"{_or_list(_names_that_fit(other))}")

    def check_steps(self, steps, schedule):
        """``steps`` as a Python int or an int32 scalar tensor, checked: a Python integer (or an eager
        tensor) must be >= 1 (and at most ``schedule.num_timesteps`` for a noise sampler); a graph
        tensor gets the same checks as assertions that fail when the graph runs."""
        upper = schedule.num_timesteps if isinstance(schedule, NoiseSchedule) else None
        if tf.is_tensor(steps):
            if not steps.dtype.is_integer:
                raise TypeError(f"steps must be an integer, got a {steps.dtype.name} tensor")
            if steps.shape.rank is not None and steps.shape.rank != 0:
                raise ValueError(f"steps must be a scalar, got a tensor of shape {steps.shape}")
            if not tf.is_symbolic_tensor(steps):
                return _python_steps(int(steps.numpy()), upper)
            steps = tf.cast(steps, tf.int32)
            checks = [tf.debugging.assert_greater_equal(steps, 1, message="steps must be >= 1")]
            if upper is not None:
                checks.append(tf.debugging.assert_less_equal(
                    steps, upper, message=f"steps must be <= num_timesteps ({upper}) of the schedule"))
            with tf.control_dependencies(checks):
                return tf.identity(steps)
        return _python_steps(steps, upper)

    def _check_seed(self, seed):
        if self.deterministic:
            return None
        if seed is None:
            raise ValueError(f"{self.name} is stochastic: pass seed, a (2,) int32/int64 tensor "
                             "(as tf.random.stateless_normal takes)")
        seed = tf.convert_to_tensor(seed)
        if seed.dtype not in (tf.int32, tf.int64):
            raise TypeError(f"seed must be a (2,) int32 or int64 tensor, got dtype {seed.dtype.name}")
        if seed.shape.rank is not None and seed.shape.as_list() not in ([2], [None]):
            raise ValueError(f"seed must be a (2,) int32 or int64 tensor, got shape {seed.shape}")
        return tf.random.experimental.stateless_fold_in(seed, STEP_NOISE_STREAM)

    def sample(self, predict, noise, steps, schedule, seed=None):
        """Samples from initial ``noise`` in ``steps`` steps.

        Args:
            predict: ``predict(x_t, t)`` -> epsilon (a "noise" sampler) or velocity (a "flow" sampler),
                the shape of ``x_t``; ``t`` float32 (B,): whole timestep values in [0, T-1] on a
                ``NoiseSchedule``, in (0, 1] on a ``FlowPath``. Its output is cast to float32.
            noise: the initial x, float (B, ...): standard normal for a trained model.
            steps: a Python integer >= 1 or an int scalar tensor (may be a graph tensor); at most
                ``num_timesteps`` on a ``NoiseSchedule``.
            schedule: the model's ``NoiseSchedule`` or ``FlowPath``.
            seed: (2,) int32/int64 tensor; required by stochastic samplers, ignored by deterministic ones.

        Returns:
            x0, float32, the shape of ``noise``.

        Runs eagerly and inside ``tf.function`` (one ``tf.while_loop``).
        """
        if not callable(predict):
            raise TypeError(f"predict must be a callable predict(x_t, t), got {type(predict).__name__}")
        self.check_schedule(schedule)
        steps = self.check_steps(steps, schedule)
        seed = self._check_seed(seed)
        noise = tf.convert_to_tensor(noise)
        if not noise.dtype.is_floating:
            raise TypeError(f"noise must be a float tensor, got dtype {noise.dtype.name}")
        if noise.shape.rank == 0:
            raise ValueError("noise must have a batch dimension, shape (B, ...), got a scalar")
        noise = tf.cast(noise, tf.float32)

        def predict_float32(x, t):
            return tf.cast(predict(x, tf.fill(tf.shape(x)[:1], t)), tf.float32)

        return self._loop(predict_float32, noise, steps, schedule, seed)

    def _loop(self, predict, x, steps, schedule, seed):
        raise NotImplementedError

    def get_config(self):
        """``{"name": ..., **options}``; ``get(**config)`` rebuilds the sampler."""
        return {"name": self.name, **self._options}

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in self._options.items())
        return f"{type(self).__name__}({options})"


def _python_steps(steps, upper=None):
    if not _is_integer(steps):
        raise TypeError(f"steps must be an integer >= 1, got {steps!r} ({type(steps).__name__})")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if upper is not None and steps > upper:
        raise ValueError(f"steps must be <= num_timesteps ({upper}) of the schedule, got {steps}")
    return int(steps)


def _check_clip(clip_x0):
    if clip_x0 is None:
        return None
    if isinstance(clip_x0, bool) or not isinstance(clip_x0, numbers.Real) or not clip_x0 > 0:
        raise ValueError(f"clip_x0 must be None or a number > 0, got {clip_x0!r}")
    return float(clip_x0)


def _check_spacing(spacing):
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    return spacing


# --- noise-prediction samplers ---


def noise_timesteps(steps, num_timesteps, spacing="trailing"):
    """The timesteps a noise sampler visits, descending: int32 (steps,) in [0, T-1].

    "trailing": ``round(T (steps - i) / steps) - 1`` (starts at T-1); "leading":
    ``(steps - 1 - i) * (T // steps)`` (ends at 0). ``steps`` a Python int or int32 scalar tensor."""
    _check_spacing(spacing)
    if not tf.is_tensor(steps):
        _python_steps(steps, num_timesteps)
    steps = tf.cast(steps, tf.int32)
    remaining = steps - tf.range(steps)  # steps, steps-1, ..., 1
    if spacing == "trailing":
        # Integer numerator, one correctly rounded division: ties are exact and round half to even.
        fraction = tf.cast(num_timesteps * remaining, tf.float32) / tf.cast(steps, tf.float32)
        return tf.cast(tf.round(fraction), tf.int32) - 1
    return (remaining - 1) * (num_timesteps // steps)


class _NoiseGrid(collections.namedtuple(
        "_NoiseGrid", "timesteps signal_now signal_next scale_now scale_next ratio step_beta")):
    """Per-step tables (steps,) of a noise sampler; ``ratio = ab_now / ab_next``,
    ``step_beta = 1 - ratio``."""


class _NoiseSampler(Sampler):
    fits = "noise"

    def __init__(self, clip_x0=None, spacing="trailing"):
        super().__init__()
        self.clip_x0 = _check_clip(clip_x0)
        self.spacing = _check_spacing(spacing)
        self._options = {"clip_x0": self.clip_x0, "spacing": self.spacing}

    def _grid(self, steps, schedule):
        """What the loop gathers from: the visited timesteps (steps,) float32, and per step i the
        scales ``sqrt(ab)``, ``sqrt(1 - ab)`` now and next, and ``ab_now / ab_next`` (steps,); after
        the last timestep comes clean data (ab = 1)."""
        timesteps = noise_timesteps(steps, schedule.num_timesteps, self.spacing)
        signal, scale = schedule.signal_and_noise_scales(timesteps)
        signal, scale = tf.concat([signal, [1.0]], 0), tf.concat([scale, [0.0]], 0)
        log_alpha_bar = tf.concat([schedule.log_alpha_bar(timesteps), [0.0]], 0)
        ratio = tf.exp(log_alpha_bar[:-1] - log_alpha_bar[1:])
        step_beta = -tf.math.expm1(log_alpha_bar[:-1] - log_alpha_bar[1:])  # 1 - ratio, without cancellation
        return _NoiseGrid(tf.cast(timesteps, tf.float32), signal[:-1], signal[1:], scale[:-1], scale[1:], ratio,
                          step_beta)

    def _denoised(self, x, eps, signal, scale):
        """(x0, eps) predicted at scales (signal, scale); with ``clip_x0`` x0 is clipped and eps made
        consistent with it."""
        x0 = (x - scale * eps) / signal
        if self.clip_x0 is not None:
            x0 = tf.clip_by_value(x0, -self.clip_x0, self.clip_x0)
            eps = (x - signal * x0) / scale
        return x0, eps


class DDPM(_NoiseSampler):
    """Ancestral sampling (Ho et al. 2020) on the visited timesteps: each step draws
    ``x_next ~ q(x_next | x_t, x0_hat)``, the Gaussian posterior of the forward process with the
    model's x0 prediction, variance ``(1 - ab_next) / (1 - ab_t) * (1 - ab_t / ab_next)`` ("fixed
    small"); the last step returns x0_hat. Stochastic.

    Args:
        clip_x0: None or c > 0: x0 predictions are clipped to [-c, c] (images in [-1, 1]: 1.0).
        spacing: "trailing" (default) or "leading" timesteps.
    """

    name = "ddpm"
    deterministic = False

    def _loop(self, predict, x, steps, schedule, seed):
        grid = self._grid(steps, schedule)
        # Posterior q(x_next | x_t, x0): mean x0_weight x0 + x_weight x_t, deviation^2 the variance.
        x0_weight = grid.signal_next * grid.step_beta / tf.square(grid.scale_now)
        x_weight = tf.sqrt(grid.ratio) * tf.square(grid.scale_next / grid.scale_now)
        deviation = (grid.scale_next / grid.scale_now) * tf.sqrt(grid.step_beta)

        def body(i, x):
            x0, _ = self._denoised(x, predict(x, grid.timesteps[i]), grid.signal_now[i], grid.scale_now[i])
            fresh = tf.random.stateless_normal(tf.shape(x), seed=tf.random.experimental.stateless_fold_in(seed, i))
            return i + 1, x0_weight[i] * x0 + x_weight[i] * x + deviation[i] * fresh

        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x))[1]


class DDIM(_NoiseSampler):
    """DDIM (Song et al. 2021): ``x_next = sqrt(ab_next) x0_hat + sqrt(1 - ab_next - s^2) eps_hat + s z``,
    ``s = eta sqrt((1 - ab_next) / (1 - ab_t) (1 - ab_t / ab_next))``. ``eta = 0`` is deterministic (the
    probability-flow ODE at first order); ``eta = 1`` has the variance of the DDPM posterior, so it
    samples like ``ddpm``. The last step returns x0_hat.

    Args:
        eta: >= 0.
        clip_x0: None or c > 0: x0 predictions are clipped to [-c, c].
        spacing: "trailing" (default) or "leading" timesteps.
    """

    name = "ddim"

    def __init__(self, eta=0.0, clip_x0=None, spacing="trailing"):
        super().__init__(clip_x0=clip_x0, spacing=spacing)
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not eta >= 0:
            raise ValueError(f"eta must be a number >= 0, got {eta!r}")
        self.eta = float(eta)
        self.deterministic = self.eta == 0.0
        self._options = {"eta": self.eta, **self._options}

    def _loop(self, predict, x, steps, schedule, seed):
        grid = self._grid(steps, schedule)
        deviation = self.eta * (grid.scale_next / grid.scale_now) * tf.sqrt(grid.step_beta)
        direction = tf.sqrt(tf.maximum(tf.square(grid.scale_next) - tf.square(deviation), 0.0))

        def body(i, x):
            x0, eps = self._denoised(x, predict(x, grid.timesteps[i]), grid.signal_now[i], grid.scale_now[i])
            x = grid.signal_next[i] * x0 + direction[i] * eps
            if not self.deterministic:
                x += deviation[i] * tf.random.stateless_normal(
                    tf.shape(x), seed=tf.random.experimental.stateless_fold_in(seed, i))
            return i + 1, x

        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x))[1]


class DPMSolver(_NoiseSampler):
    """DPM-Solver++ 2M (Lu et al. 2022): the exponential integrator of the probability-flow ODE in
    ``lambda = log(sqrt(ab) / sqrt(1 - ab))`` on the model's x0 predictions, second order from the
    previous step's prediction (multistep, one evaluation per step). The first step and the last
    (which lands on clean data and returns x0_hat) are first order, i.e. DDIM steps. Deterministic.

    Args:
        clip_x0: None or c > 0: x0 predictions are clipped to [-c, c].
        spacing: "trailing" (default) or "leading" timesteps.
    """

    name = "dpm_solver"

    def _loop(self, predict, x, steps, schedule, seed):
        grid = self._grid(steps, schedule)
        x_weight = grid.scale_next / grid.scale_now
        x0_weight = grid.signal_next - grid.signal_now * x_weight  # sqrt(ab_next) (1 - exp(-h))
        log_snr = tf.math.log(grid.signal_now) - tf.math.log(grid.scale_now)  # lambda at the visited timesteps
        h = log_snr[1:] - log_snr[:-1]  # of steps 0 .. steps-2 (the last step's h is infinite)
        # The x0 estimate of step i is x0_i + w_i (x0_{i-1} - x0_i), w_i = -h_i / (2 h_{i-1}) for
        # i = 1 .. steps-2; w = 0 on the first and the last step (first order).
        previous_weight = tf.concat([[0.0], -0.5 * h[1:] / h[:-1], [0.0]], 0)[:steps]

        def body(i, x, previous_x0):
            x0, _ = self._denoised(x, predict(x, grid.timesteps[i]), grid.signal_now[i], grid.scale_now[i])
            estimate = x0 + previous_weight[i] * (previous_x0 - x0)
            return i + 1, x_weight[i] * x + x0_weight[i] * estimate, x0

        return tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), x, tf.zeros_like(x)))[1]


# --- flow samplers ---


def flow_times(steps, shift=1.0):
    """The times a flow sampler visits, from 1 down to 0: float32 (steps + 1,),
    ``shift(1 - i / steps)`` with ``shift(t) = shift t / (1 + (shift - 1) t)``."""
    if not tf.is_tensor(steps):
        _python_steps(steps)
    steps = tf.cast(steps, tf.int32)
    t = 1.0 - tf.cast(tf.range(steps + 1), tf.float32) / tf.cast(steps, tf.float32)
    if shift != 1.0:
        t = shift * t / (1.0 + (shift - 1.0) * t)
    return t


class _FlowSampler(Sampler):
    fits = "flow"

    def __init__(self, shift=1.0):
        super().__init__()
        if isinstance(shift, bool) or not isinstance(shift, numbers.Real) or not shift > 0:
            raise ValueError(f"shift must be a number > 0, got {shift!r}")
        self.shift = float(shift)
        self._options = {"shift": self.shift}


class Euler(_FlowSampler):
    """Euler steps on the velocity ODE, t from 1 to 0: ``x_next = x + (t_next - t) v(x, t)``; the last
    step lands on t = 0, the model's x0 prediction at the last time. Deterministic.

    Args:
        shift: > 0, the time shift of ``flow_times`` (1.0: uniform steps).
    """

    name = "euler"

    def _loop(self, predict, x, steps, schedule, seed):
        times = flow_times(steps, self.shift)
        step_sizes = times[1:] - times[:-1]

        def body(i, x):
            return i + 1, x + step_sizes[i] * predict(x, times[i])

        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), x))[1]


class Heun(_FlowSampler):
    """Heun's second-order method (Karras et al. 2022, EDM) on the velocity ODE: an Euler predictor
    to ``t_next``, then the average of the two velocities; the last step (to t = 0) is Euler alone.
    2 steps - 1 evaluations. Deterministic.

    Args:
        shift: > 0, the time shift of ``flow_times`` (1.0: uniform steps).
    """

    name = "heun"

    def evaluations(self, steps):
        return 2 * _python_steps(steps) - 1

    def _loop(self, predict, x, steps, schedule, seed):
        # One loop iteration per network evaluation, so the network is in the graph once: evaluation
        # k belongs to step k // 2; even k is the predictor at t_i (on the last step, the whole step),
        # odd k the corrector at t_{i+1} on the predictor's point.
        times = flow_times(steps, self.shift)
        evaluations = 2 * steps - 1
        k = tf.range(evaluations)
        step = k // 2
        corrector = tf.equal(k % 2, 1)
        step_size = tf.gather(times[1:] - times[:-1], step)
        eval_times = tf.where(corrector, tf.gather(times, step + 1), tf.gather(times, step))
        commits = corrector | tf.equal(k, evaluations - 1)  # the evaluation ends a step: x moves

        def body(k, x, probe, first_velocity):
            velocity = predict(probe, eval_times[k])
            if_predictor = x + step_size[k] * velocity
            if_corrector = x + (0.5 * step_size[k]) * (first_velocity + velocity)
            probe = tf.where(corrector[k], if_corrector, if_predictor)
            x = tf.where(commits[k], probe, x)
            first_velocity = tf.where(corrector[k], first_velocity, velocity)
            return k + 1, x, probe, first_velocity

        return tf.while_loop(lambda k, *_: k < evaluations, body, (tf.constant(0), x, x, tf.zeros_like(x)))[1]


_SAMPLERS = {sampler.name: sampler for sampler in (DDPM, DDIM, DPMSolver, Euler, Heun)}


def get(name, **options):
    """The sampler called ``name`` with ``options``; a ``Sampler`` is returned as it is (no options).

    Options: ``ddpm(clip_x0=None, spacing="trailing")``, ``ddim(eta=0.0, clip_x0=None,
    spacing="trailing")``, ``dpm_solver(clip_x0=None, spacing="trailing")``, ``euler(shift=1.0)``,
    ``heun(shift=1.0)``.

    Example:

    ```python
    from keras_genai.models.diffusion import samplers

    ddim = samplers.get("ddim", eta=0.0)
    assert ddim.deterministic and ddim.fits == "noise" and ddim.evaluations(10) == 10
    assert samplers.get("heun").evaluations(10) == 19
    ```
    """
    if isinstance(name, Sampler):
        if options:
            raise TypeError(f"options {sorted(options)} cannot be given with a Sampler object ({name!r})")
        return name
    if not isinstance(name, str) or name not in _SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; the samplers are {', '.join(NAMES)}")
    cls = _SAMPLERS[name]
    known = list(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)} for sampler {name!r}; "
                        f"its options are {', '.join(known)}")
    return cls(**options)
