"""Shared plumbing of sampling: the one seed check, seeded noise drawn in chunks, and the bound
on what one ``sample`` / ``generate`` call may return.

Seeds. Every family takes ``seed=None`` (fresh randomness from the model's ``SeedGenerator``) or
an integer; the seed reaches TensorFlow's stateless random ops (and the exported signatures) as
an int64, so ``check_seed`` accepts any integer (Python or NumPy, not bool) in the int64 range:
``TypeError`` for anything else (``"5"``, ``1.7``, ``True``), ``ValueError`` outside the range.

Chunks. ``StatelessRows`` hands out rows ``[start, start + count)`` of
``tf.random.stateless_normal((N, *row_shape), seed)`` (or ``stateless_uniform``) for any
``N >= start + count`` without drawing the rows before ``start``: the stateless Philox kernels
fill element ``e`` of the flat output from counter ``counter0 + e // 4`` (4 numbers per Philox
call), so skipping ``g`` groups is adding ``g`` to the counter. A sample drawn in chunks is
therefore bit-identical to the same sample drawn in one call, and sample ``k`` of a seed does not
depend on how many are drawn with it.

Bound. A request whose result cannot fit in memory is refused before anything is allocated
(``check_result_bytes``): the result must be at most ``MAX_SAMPLE_BYTES`` bytes when that is set,
else ``$KERAS_GENAI_MAX_SAMPLE_BYTES`` when that is set, else the memory available when the call
starts (``MemAvailable`` of ``/proc/meminfo`` on Linux, the physical memory elsewhere). A fixed
number would refuse what a large machine can do or let a small one run out of memory; the memory
available is what decides whether the result fits. The result alone is checked: sampling itself works in
chunks of ``batch_size`` on top of it, so a result that barely fits can still run out of memory.
"""

import math
import numbers
import os

import numpy as np
import tensorflow as tf

SEED_RANGE = (-(2**63), 2**63 - 1)  # int64, the dtype of every seed handed to TensorFlow

# Largest result (bytes) one sample/generate call may return; None: $KERAS_GENAI_MAX_SAMPLE_BYTES
# if set, else the memory available when the call starts. Set it (for example
# ``keras_genai.models.sampling.MAX_SAMPLE_BYTES = 8 * 2**30``) to fix the bound whatever the
# machine's state.
MAX_SAMPLE_BYTES = None
MAX_SAMPLE_BYTES_ENV = "KERAS_GENAI_MAX_SAMPLE_BYTES"

_PHILOX_GROUP = 4  # numbers per Philox call in TensorFlow's stateless float kernels
_AUTO_SELECT = 3  # tf.random.Algorithm.AUTO_SELECT: what tf.random.stateless_* use by default


def check_seed(seed, name="seed"):
    """``seed`` as an int, or None: ``TypeError`` unless it is None or an integer (``bool``,
    ``str`` and floats such as 1.7 are refused), ``ValueError`` outside the int64 range."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None or an integer, got {seed!r} ({type(seed).__name__})")
    low, high = SEED_RANGE
    if not low <= int(seed) <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}] (int64), got {seed}")
    return int(seed)


def wrap_seed(value):
    """An integer derived from seeds (``seed + i``, ``seed * k + i``) wrapped into the int64 range
    (two's complement), so derived seeds of every valid seed are valid; unchanged when in range."""
    return (int(value) + 2**63) % 2**64 - 2**63


def keras_seed(seed_generator):
    """The (2,) int32 seed that ``keras.random.normal(..., seed=seed_generator)`` uses on the
    TensorFlow backend (advancing the generator the same way), for drawing that noise in chunks."""
    state = seed_generator.next()
    return tf.cast(tf.math.floormod(state, tf.int32.max - 1), tf.int32)


class StatelessRows:
    """Rows of one seeded stateless draw, handed out in chunks.

    ``StatelessRows("normal", seed, (latent_dim,))(start, count)`` equals
    ``tf.random.stateless_normal((N, latent_dim), seed)[start : start + count]`` for every
    ``N >= start + count``; only ``count`` rows are drawn.

    Args:
        distribution: "normal" (standard normal) or "uniform" ([0, 1)).
        seed: (2,) int32 or int64 seed of ``tf.random.stateless_*``.
        row_shape: shape of one row, e.g. ``(latent_dim,)`` or ``(H, W, C)``.
        dtype: float dtype of the draw (float32 by default).
    """

    def __init__(self, distribution, seed, row_shape, dtype=tf.float32):
        if distribution not in ("normal", "uniform"):
            raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
        self._op = (tf.raw_ops.StatelessRandomNormalV2 if distribution == "normal"
                    else tf.raw_ops.StatelessRandomUniformV2)
        self.row_shape = tuple(int(d) for d in row_shape)
        self.row_size = math.prod(self.row_shape)
        self.dtype = tf.as_dtype(dtype)
        self._key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=tf.convert_to_tensor(seed))
        self._counter = [int(c) for c in counter.numpy()]

    def _skipped(self, groups):
        low = self._counter[0] + groups  # the counter is 128 bits: two uint64 words, low first
        words = [low % 2**64, (self._counter[1] + low // 2**64) % 2**64] + self._counter[2:]
        return tf.constant(np.array(words, np.uint64))

    def __call__(self, start, count):
        """Rows ``[start, start + count)``: a tensor (count, *row_shape) of ``dtype``."""
        groups, lead = divmod(int(start) * self.row_size, _PHILOX_GROUP)
        flat = self._op(shape=[lead + int(count) * self.row_size], key=self._key, counter=self._skipped(groups),
                        alg=_AUTO_SELECT, dtype=self.dtype)
        # tf.random.stateless_normal/uniform scale and shift the raw draw; done identically here.
        flat = flat * tf.constant(1.0, self.dtype) + tf.constant(0.0, self.dtype)
        return tf.reshape(flat[lead:], (int(count), *self.row_shape))


def available_memory():
    """Bytes of memory available now: ``MemAvailable`` on Linux, else the physical memory; None
    where neither is known."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _limit_source():
    if MAX_SAMPLE_BYTES is not None:
        return MAX_SAMPLE_BYTES, "MAX_SAMPLE_BYTES"
    text = os.environ.get(MAX_SAMPLE_BYTES_ENV, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"${MAX_SAMPLE_BYTES_ENV} must be a positive integer (bytes), got {text!r}")
        return value, f"${MAX_SAMPLE_BYTES_ENV}"
    return available_memory(), "the memory available now"


def result_limit():
    """The most bytes one call may return: ``MAX_SAMPLE_BYTES``, else ``$KERAS_GENAI_MAX_SAMPLE_BYTES``,
    else the available memory (None where unknown: no bound)."""
    return _limit_source()[0]


def _size(nbytes):
    return f"{nbytes:,} bytes ({nbytes / 2**30:.3g} GiB)"


def check_result_bytes(nbytes, what, hint="ask for fewer at a time"):
    """Refuses (``ValueError``) a result of ``nbytes`` bytes above ``result_limit()``; ``what``
    names the request (``"sample(10**9)"``), ``hint`` says what to do instead."""
    limit, source = _limit_source()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{what} needs {_size(nbytes)} for its result, more than the {_size(limit)} allowed "
                         f"({source}; see keras_genai.models.sampling.MAX_SAMPLE_BYTES); {hint}")
