"""Training under ``tf.distribute``: per-replica noise and step logs every strategy can reduce.

Noise. Inside a ``train_step`` run by ``tf.distribute`` (MirroredStrategy, MultiWorkerMirroredStrategy)
every replica executes the same code; a Keras ``SeedGenerator`` there hands every replica the
same numbers, so each replica would reuse the others' noise. Here the noise of the whole
*global* batch is drawn from a stateless seed ``(seed, step, stream)`` and each replica keeps
its own rows (at its offset in the global batch, found by gathering the replicas' batch sizes,
so uneven splits such as 128 rows over 3 replicas work too). Replicas therefore get distinct
noise, and N replicas together see exactly the noise one device draws for the same global batch.
Because the seed depends on the optimizer
step and not on hidden state, a run restored from a checkpoint draws the same noise again.

Logs. Keras reduces the values a ``train_step`` returns across replicas; under
``MultiWorkerMirroredStrategy`` it averages them along axis 0, which fails for scalars (Keras 3
with TF 2.16+, tensorflow/tensorflow#72388). ``step_logs`` hands Keras one-element vectors there.
"""

import random

import tensorflow as tf

# Independent draws per training step (noise for each discriminator step, mixing weights, ...).
STREAMS_PER_STEP = 64


def training_seed(seed):
    """The integer base seed of a model's training noise: ``seed`` itself, or a random one
    for ``seed=None`` (such runs differ from each other)."""
    if seed is None:
        return random.SystemRandom().randrange(2**31)
    return int(seed)


def replica_position():
    """(index, count) of the current replica in its synchronous group: scalar int32 tensors.
    (0, 1) outside ``tf.distribute``."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one logical copy
        return tf.constant(0, tf.int32), tf.constant(1, tf.int32)
    index = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return index, tf.constant(context.num_replicas_in_sync, tf.int32)


def global_batch(local_batch):
    """(offset of this replica's rows in the global batch, global batch size): int32 scalars.

    Replicas may hold different numbers of rows (tf.distribute splits 5 as 3 + 2); the sizes
    are gathered across replicas (one small collective). (0, local_batch) outside a strategy.
    """
    local = tf.reshape(tf.cast(local_batch, tf.int32), [1])
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), local[0]
    sizes = context.all_gather(local, axis=0)
    index = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return tf.reduce_sum(sizes[:index]), tf.reduce_sum(sizes)


def global_batch_mean(per_example):
    """This replica's share of the mean over the global batch: ``sum(per_example) / global size``.

    Summed over replicas (as gradients are) it is the global-batch mean, also when replicas
    hold different numbers of examples. ``per_example``: (local_batch,) float32.
    """
    _, total = global_batch(tf.shape(per_example)[0])
    return tf.reduce_sum(per_example) / tf.cast(total, per_example.dtype)


def replica_weight(local_batch):
    """``local_batch / global batch size`` (float32): turns a mean over this replica's rows into
    its share of the global-batch mean."""
    _, total = global_batch(local_batch)
    return tf.cast(local_batch, tf.float32) / tf.cast(total, tf.float32)


def _rows_of_this_replica(draw, local_batch, shape):
    local_batch = tf.cast(local_batch, tf.int32)
    offset, total = global_batch(local_batch)
    full = draw(tf.concat([[total], tf.cast(shape, tf.int32)], axis=0))
    return full[offset : offset + local_batch]


def skip_together(gradients, optimizer):
    """Gradients such that every replica skips a loss-scaled step when any replica overflowed.

    Under ``mixed_float16`` a ``LossScaleOptimizer`` skips steps whose gradients are not finite,
    but under ``tf.distribute`` it looks at one replica's gradients before they are summed; an
    overflow on another replica would then be applied and ruin the weights. Here a non-finite
    gradient anywhere makes every replica's gradients NaN, so all of them skip the step and the
    loss scale goes down. Other optimizers, or one replica: the gradients unchanged.
    """
    import keras

    context = tf.distribute.get_replica_context()
    if (not isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or context is None
            or context.num_replicas_in_sync == 1):
        return gradients
    bad = tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.float32)) for g in gradients if g is not None])
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
    return [None if g is None else tf.where(bad > 0, tf.fill(tf.shape(g), tf.constant(float("nan"), g.dtype)), g)
            for g in gradients]


def _stateless_seed(seed, step, stream):
    if not 0 <= stream < STREAMS_PER_STEP:
        raise ValueError(f"stream must be in [0, {STREAMS_PER_STEP}), got {stream}")
    counter = tf.cast(step, tf.int64) * STREAMS_PER_STEP + stream
    return tf.stack([tf.constant(seed, tf.int64), counter])


def normal(local_batch, shape, seed, step, stream):
    """Standard normal noise for this replica's rows of the global batch.

    Args:
        local_batch: rows this replica needs (its share of the global batch), int or scalar tensor.
        shape: the per-example shape, e.g. ``(latent_dim,)``.
        seed: the model's integer base seed (``training_seed``).
        step: the optimizer step (scalar int tensor); new noise every step.
        stream: int in [0, STREAMS_PER_STEP), one per independent draw within a step.
    Returns:
        float32 tensor (local_batch, *shape).
    """
    key = _stateless_seed(seed, step, stream)
    return _rows_of_this_replica(lambda s: tf.random.stateless_normal(s, seed=key), local_batch, shape)


def uniform(local_batch, shape, seed, step, stream):
    """Uniform [0, 1) noise for this replica's rows of the global batch; arguments as ``normal``."""
    key = _stateless_seed(seed, step, stream)
    return _rows_of_this_replica(lambda s: tf.random.stateless_uniform(s, seed=key), local_batch, shape)


def _multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def step_logs(metrics):
    """``{name: result}`` of a ``train_step``/``test_step`` for the given Keras metrics.

    Scalars, except under a multi-worker strategy, where each is a (1,) vector that Keras's
    cross-worker mean turns back into the scalar.
    """
    logs = {m.name: m.result() for m in metrics}
    if _multi_worker(tf.distribute.get_strategy()):
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs
