"""Noising processes of the diffusion family: where a training example ``x0`` and its noise ``eps``
meet at time ``t``, and how one prediction converts to another.

``NoiseSchedule``: discrete-time, variance-preserving (DDPM), ``t = 0 .. T-1`` with
``x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps``; the network predicts ``eps`` (or
``v``, converted with ``epsilon_from_v``).

``FlowPath``: rectified flow / flow matching, continuous ``t`` in [0, 1] with ``t = 1`` pure noise:
``x_t = (1 - t) x0 + t eps``; the network predicts the velocity ``dx_t/dt = eps - x0``.

Tables are float64 NumPy arrays (exact enough to test against closed forms); what goes into a graph
is float32, gathered from constants, so it also runs inside a SavedModel or a LiteRT graph.
Coefficients are cast to the dtype of the tensors they multiply (bfloat16 under mixed precision).
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

KINDS = ("linear", "cosine")
COSINE_OFFSET = 0.008  # s of Nichol & Dhariwal (2021): keeps beta_0 from being vanishingly small
MAX_BETA = 0.999  # cosine betas are clipped here so the last step never destroys all signal at once


def _per_example(coefficient, like):
    """A per-example coefficient (batch,) or a scalar, shaped to broadcast against ``like`` (batch, ...)
    and cast to its dtype."""
    like = tf.convert_to_tensor(like)
    coefficient = tf.cast(coefficient, like.dtype)
    if coefficient.shape.rank == 0 or like.shape.rank is None:
        return coefficient
    return tf.reshape(coefficient, [-1] + [1] * (like.shape.rank - 1))


@keras.saving.register_keras_serializable(package="keras_genai")
class NoiseSchedule:
    """Discrete-time variance-preserving noise schedule, ``t = 0 .. T-1``:
    ``x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps``, ``alpha_bar[t] = prod_{s<=t} (1 - beta_s)``.

    Args:
        kind: "linear" (Ho et al. 2020: betas evenly from ``beta_start`` to ``beta_end``) or "cosine"
            (Nichol & Dhariwal 2021: ``alpha_bar`` follows ``cos^2(((t + 1) / T + s) / (1 + s) * pi / 2)``,
            s = 0.008, betas clipped at 0.999).
        num_timesteps: T >= 2.
        beta_start, beta_end: first and last beta of the linear schedule, 0 < beta_start <= beta_end < 1
            (kept but unused by the cosine schedule).

    Attributes:
        num_timesteps: T.
        betas: float64 (T,).
        alphas_cumprod: float64 (T,), ``alpha_bar``; strictly decreasing in (0, 1).

    Example:

    ```python
    import tensorflow as tf
    from keras_genai.models.diffusion.schedules import NoiseSchedule

    schedule = NoiseSchedule("cosine", num_timesteps=1000)
    x0 = tf.random.stateless_normal((4, 28, 28, 1), seed=(0, 1))
    eps = tf.random.stateless_normal((4, 28, 28, 1), seed=(0, 2))
    t = tf.constant([0, 10, 500, 999])
    x_t = schedule.add_noise(x0, eps, t)
    v = schedule.v_target(x0, eps, t)                      # the v-prediction target
    assert abs(float(tf.reduce_max(schedule.epsilon_from_v(x_t, v, t) - eps))) < 1e-4
    ```
    """

    def __init__(self, kind="cosine", num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if isinstance(num_timesteps, bool) or not isinstance(num_timesteps, numbers.Integral) or num_timesteps < 2:
            raise ValueError(f"num_timesteps must be an integer >= 2, got {num_timesteps!r}")
        for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
        if beta_start > beta_end:
            raise ValueError(f"beta_start must be <= beta_end, got beta_start={beta_start} > beta_end={beta_end}")
        self.kind = kind
        self.num_timesteps = int(num_timesteps)
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)
        if kind == "linear":
            self.betas = np.linspace(self.beta_start, self.beta_end, self.num_timesteps, dtype=np.float64)
        else:
            self.betas = _cosine_betas(self.num_timesteps)
        self.alphas_cumprod = np.cumprod(1.0 - self.betas)
        # 1 - alpha_bar from the betas, not by subtraction: exact to float64 where alpha_bar is near 1.
        self._log_alphas_cumprod = np.cumsum(np.log1p(-self.betas))
        self._one_minus_alphas_cumprod = -np.expm1(self._log_alphas_cumprod)

    # --- tables (float32 constants, gathered in the graph) ---

    def _gather(self, table, t):
        """``table`` at timesteps ``t``: gathered for integer ``t``, linearly interpolated for float
        ``t``; ``t`` is clipped to [0, T-1]."""
        table = tf.constant(table, tf.float32)
        t = tf.convert_to_tensor(t)
        last = self.num_timesteps - 1
        if t.dtype.is_integer:
            return tf.gather(table, tf.clip_by_value(tf.cast(t, tf.int32), 0, last))
        t = tf.clip_by_value(tf.cast(t, tf.float32), 0.0, float(last))
        low = tf.floor(t)
        low_index = tf.cast(low, tf.int32)
        below, above = tf.gather(table, low_index), tf.gather(table, tf.minimum(low_index + 1, last))
        return below + (t - low) * (above - below)

    def alpha_bar(self, t):
        """``alpha_bar`` at timesteps ``t`` (any shape): float32 of the shape of ``t``.

        ``t`` int: gathered; float: linearly interpolated between the neighbouring timesteps (exact at
        whole values). Clipped to [0, T-1]."""
        return self._gather(self.alphas_cumprod, t)

    def signal_and_noise_scales(self, t):
        """``(sqrt(alpha_bar[t]), sqrt(1 - alpha_bar[t]))``, float32 of the shape of ``t``; both from
        float64 tables (``1 - alpha_bar`` is interpolated, not subtracted), so the noise scale stays
        accurate near t = 0."""
        return tf.sqrt(self.alpha_bar(t)), tf.sqrt(self._gather(self._one_minus_alphas_cumprod, t))

    def log_alpha_bar(self, t):
        """``log(alpha_bar[t])``, float32 of the shape of ``t``, from a float64 table: differences of
        it give ``alpha_bar[t] / alpha_bar[s]`` without the cancellation of float32 ``alpha_bar`` near 1."""
        return self._gather(self._log_alphas_cumprod, t)

    def _scales(self, t, like):
        signal, noise = self.signal_and_noise_scales(t)
        return _per_example(signal, like), _per_example(noise, like)

    # --- training side and conversions; x (batch, ...), t (batch,) or scalar ---

    def add_noise(self, x0, noise, t):
        """``x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise``; t int32 (batch,)."""
        signal, scale = self._scales(t, x0)
        return signal * x0 + scale * noise

    def v_target(self, x0, noise, t):
        """The v-prediction target ``v = sqrt(alpha_bar) noise - sqrt(1 - alpha_bar) x0``
        (Salimans & Ho 2022)."""
        signal, scale = self._scales(t, x0)
        return signal * noise - scale * x0

    def epsilon_from_v(self, x_t, v, t):
        """The noise that ``v`` stands for: ``sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v``."""
        signal, scale = self._scales(t, x_t)
        return scale * x_t + signal * v

    def x0_from_v(self, x_t, v, t):
        """The clean example that ``v`` stands for: ``sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v``."""
        signal, scale = self._scales(t, x_t)
        return signal * x_t - scale * v

    def x0_from_epsilon(self, x_t, eps, t):
        """The clean example that ``eps`` stands for: ``(x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)``."""
        signal, scale = self._scales(t, x_t)
        return (x_t - scale * eps) / signal

    def epsilon_from_x0(self, x_t, x0, t):
        """The noise that ``x0`` stands for: ``(x_t - sqrt(alpha_bar) x0) / sqrt(1 - alpha_bar)``."""
        signal, scale = self._scales(t, x_t)
        return (x_t - signal * x0) / scale

    def get_config(self):
        return {"kind": self.kind, "num_timesteps": self.num_timesteps, "beta_start": self.beta_start,
                "beta_end": self.beta_end}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"NoiseSchedule(kind={self.kind!r}, num_timesteps={self.num_timesteps})"


def _cosine_betas(num_timesteps):
    """Betas whose ``alpha_bar[t]`` is ``f((t + 1) / T) / f(0)``, ``f(u) = cos^2((u + s) / (1 + s) pi / 2)``,
    each clipped at ``MAX_BETA``."""
    u = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    f = np.cos((u + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * math.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], MAX_BETA)


@keras.saving.register_keras_serializable(package="keras_genai")
class FlowPath:
    """Rectified flow / flow matching (Liu et al. 2022, Lipman et al. 2022): continuous ``t`` in [0, 1],
    ``t = 1`` pure noise, ``x_t = (1 - t) x0 + t eps``; the velocity ``dx_t/dt = eps - x0`` is the
    network's target. Sampling integrates the velocity from t = 1 down to t = 0.

    Example:

    ```python
    import tensorflow as tf
    from keras_genai.models.diffusion.schedules import FlowPath

    path = FlowPath()
    x0 = tf.random.stateless_normal((4, 28, 28, 1), seed=(0, 1))
    eps = tf.random.stateless_normal((4, 28, 28, 1), seed=(0, 2))
    t = tf.constant([0.0, 0.25, 0.5, 1.0])
    x_t = path.add_noise(x0, eps, t)
    v = path.velocity_target(x0, eps)
    assert float(tf.reduce_max(tf.abs(path.x0_from_velocity(x_t, v, t) - x0))) < 1e-5
    ```
    """

    def add_noise(self, x0, noise, t):
        """``x_t = (1 - t) x0 + t noise``; t float32 (batch,) in [0, 1]."""
        t = _per_example(t, x0)
        return (1.0 - t) * x0 + t * noise

    def velocity_target(self, x0, noise):
        """``dx_t/dt = noise - x0``, the same at every t."""
        return noise - x0

    def x0_from_velocity(self, x_t, velocity, t):
        """The clean example a velocity points at: ``x_t - t v``."""
        return x_t - _per_example(t, x_t) * velocity

    def epsilon_from_velocity(self, x_t, velocity, t):
        """The noise a velocity comes from: ``x_t + (1 - t) v``."""
        return x_t + (1.0 - _per_example(t, x_t)) * velocity

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "FlowPath()"
