"""Every family under tf.distribute: 2 replicas train like 1 device on the same global batch.

Each configuration runs in its own process (tests/distributed_worker.py), because logical
devices and multi-worker collectives are fixed when TensorFlow starts. Every run is bounded by
a timeout. Tolerances: logged metrics within 1e-4 relative, weights within 1e-5 absolute
after 6 SGD steps (float32 sums in a different order; measured differences are below 3e-5
and 6e-7).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
FAMILIES = ["gan", "wgan_gp", "vae", "pixelcnn", "gpt"]
TIMEOUT_S = 240


def _env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)


def _run_worker(family, output, *args, env=None):
    result = subprocess.run([sys.executable, WORKER, family, str(output), *args], env=env or _env(),
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return _load(output)


def _load(path):
    data = np.load(path)
    count = len([k for k in data.files if k.startswith("final_")])
    return {
        "initial": [data[f"initial_{i}"] for i in range(count)],
        "final": [data[f"final_{i}"] for i in range(count)],
        "logs": json.loads(str(data["logs"])),
        "replicas": int(data["replicas"]),
    }


def _assert_same_training(one, many):
    for a, b in zip(one["initial"], many["initial"]):
        np.testing.assert_array_equal(a, b)
    assert one["logs"].keys() == many["logs"].keys()
    for name in one["logs"]:
        np.testing.assert_allclose(many["logs"][name], one["logs"][name], rtol=1e-4, atol=1e-5, err_msg=name)
    moved = max(float(np.abs(f - i).max()) for f, i in zip(one["final"], one["initial"]))
    assert moved > 1e-3, "training did not change the weights; the comparison would prove nothing"
    for a, b in zip(one["final"], many["final"]):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_two_mirrored_replicas_train_like_one_device(family, tmp_path):
    one = _run_worker(family, tmp_path / "one.npz", "--devices", "1")
    two = _run_worker(family, tmp_path / "two.npz", "--devices", "2")
    assert (one["replicas"], two["replicas"]) == (1, 2)
    _assert_same_training(one, two)


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_workers_on_loopback_agree_on_the_final_weights(tmp_path):
    workers = [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(subprocess.Popen(
            [sys.executable, WORKER, "gan", str(tmp_path / f"worker{index}.npz"), "--multi-worker"],
            env=_env(TF_CONFIG=json.dumps(config)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=TIMEOUT_S)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]
    first, second = _load(tmp_path / "worker0.npz"), _load(tmp_path / "worker1.npz")
    assert first["replicas"] == second["replicas"] == 2
    for a, b in zip(first["final"], second["final"]):
        np.testing.assert_array_equal(a, b)
    single = _run_worker("gan", tmp_path / "single.npz", "--devices", "1")
    _assert_same_training(single, first)


NOISE_SCRIPT = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from keras_genai import distribution
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    per_replica = strategy.run(tf.function(lambda: distribution.normal(4, (3,), seed=7, step=5, stream=1)))
    parts = [t.numpy() for t in strategy.experimental_local_results(per_replica)]
    single = distribution.normal(8, (3,), seed=7, step=5, stream=1).numpy()
    sizes = strategy.experimental_distribute_values_from_function(lambda ctx: [3, 2][ctx.replica_id_in_sync_group])
    uneven = strategy.run(tf.function(lambda n: distribution.normal(n, (3,), seed=7, step=5, stream=1)), args=(sizes,))
    uneven = np.concatenate([t.numpy() for t in strategy.experimental_local_results(uneven)])
    np.save({path!r}, np.stack([np.concatenate(parts), single]))
    np.save({path!r} + ".uneven.npy", np.stack([uneven, distribution.normal(5, (3,), seed=7, step=5, stream=1).numpy()]))
""")


def _run_script(script, path):
    """Runs one of the scripts above (two logical CPUs need a fresh process); it saves to ``path``."""
    result = subprocess.run([sys.executable, "-c", script.format(path=path)], env=_env(),
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]


def test_training_noise_is_distinct_per_replica_and_splits_the_single_device_draw(tmp_path):
    path = str(tmp_path / "noise.npy")
    _run_script(NOISE_SCRIPT, path)
    replicas, single = np.load(path)
    assert not np.allclose(replicas[:4], replicas[4:]), "both replicas drew the same noise"
    np.testing.assert_array_equal(replicas, single)
    uneven, single = np.load(path + ".uneven.npy")  # 3 + 2 rows: no row drawn twice
    np.testing.assert_array_equal(uneven, single)


def test_training_noise_changes_with_step_and_stream():
    from keras_genai import distribution

    base = distribution.normal(4, (2,), seed=1, step=0, stream=0).numpy()
    np.testing.assert_array_equal(base, distribution.normal(4, (2,), seed=1, step=0, stream=0).numpy())
    assert not np.allclose(base, distribution.normal(4, (2,), seed=1, step=1, stream=0).numpy())
    assert not np.allclose(base, distribution.normal(4, (2,), seed=1, step=0, stream=1).numpy())
    assert not np.allclose(base, distribution.normal(4, (2,), seed=2, step=0, stream=0).numpy())
    with pytest.raises(ValueError, match="stream must be in"):
        distribution.normal(4, (2,), seed=1, step=0, stream=distribution.STREAMS_PER_STEP)


DROPOUT_SCRIPT = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from keras_genai.nets.dropout import ReplicaDropout
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        ours, theirs = ReplicaDropout(0.5, seed=1), keras.layers.Dropout(0.5, seed=1)
    step = tf.function(lambda: (ours(tf.ones((4, 64)), training=True), theirs(tf.ones((4, 64)), training=True)))
    masks = [[t.numpy() for t in strategy.experimental_local_results(out)] for out in strategy.run(step)]
    np.save({path!r}, np.array(masks))
""")


def test_replica_dropout_masks_differ_between_replicas_unlike_keras_dropout(tmp_path):
    path = str(tmp_path / "masks.npy")
    _run_script(DROPOUT_SCRIPT, path)
    (ours_0, ours_1), (theirs_0, theirs_1) = np.load(path)
    np.testing.assert_array_equal(theirs_0, theirs_1)  # what ReplicaDropout fixes
    assert not np.array_equal(ours_0, ours_1)
    for mask in (ours_0, ours_1):
        assert set(np.unique(mask)) <= {0.0, 2.0} and 0.3 < np.mean(mask == 0) < 0.7  # inverted dropout, rate 0.5


def test_replica_dropout_is_ordinary_dropout_on_one_device():
    import keras

    from keras_genai.nets.dropout import ReplicaDropout

    layer = ReplicaDropout(0.25, seed=3)
    x = np.ones((64, 32), np.float32)
    np.testing.assert_array_equal(layer(x, training=False), x)
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(np.unique(out), [0.0, 1.0 / 0.75], rtol=1e-6)
    assert 0.15 < np.mean(out == 0) < 0.35
    assert not np.array_equal(out, np.asarray(layer(x, training=True))), "a new mask every call"
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, ReplicaDropout) and clone.rate == 0.25


OVERFLOW_SCRIPT = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from keras_genai import models
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        gan = models.wgan_gp(base_filters=8, discriminator_steps=1, seed=0)  # no batch norm in the critic
        gan.compile()
    images = np.zeros((4, 28, 28, 1), np.float32)
    images[2:] = np.inf  # only the second replica's half overflows
    gan.fit(tf.data.Dataset.from_tensors(images), epochs=1, verbose=0)
    finite = all(np.isfinite(v.numpy()).all() for v in gan.discriminator.trainable_variables)  # the critic
    np.save({path!r}, np.array([finite, int(gan.d_optimizer.iterations.numpy())]))
""")


def test_a_float16_overflow_on_one_replica_skips_the_step_on_all(tmp_path):
    path = str(tmp_path / "overflow.npy")
    _run_script(OVERFLOW_SCRIPT, path)
    finite, iterations = np.load(path)
    assert finite, "the overflowing replica's gradients reached the weights"
    assert iterations == 0, "the discriminator step should have been skipped"
