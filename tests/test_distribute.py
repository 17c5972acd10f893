"""Every family under tf.distribute: 2 replicas train like 1 device on the same global batch.

Each configuration runs in its own process (tests/distributed_worker.py), because logical
devices and multi-worker collectives are fixed when TensorFlow starts: one process trains every
family on one device, one on two replicas (the two side by side), and the scripts that need two
logical CPUs share one more. Every process is bounded by a timeout. Tolerances: logged metrics
within 1e-4 relative, weights within 1e-5 absolute after 6 SGD steps (float32 sums in a different
order; measured differences are below 3e-5 and 6e-7).
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


def _start_worker(output_dir, families, *args, env=None):
    return subprocess.Popen([sys.executable, WORKER, str(output_dir), *families, *args], env=env or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process, families):
    try:
        output = process.communicate(timeout=TIMEOUT_S * len(families))[0]
    finally:
        process.kill()
    assert process.returncode == 0, output[-3000:]


def _load(output_dir, family):
    error = os.path.join(output_dir, f"{family}.error")
    assert not os.path.exists(error), open(error).read()[-3000:]
    data = np.load(os.path.join(output_dir, f"{family}.npz"))
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


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """devices -> the folder where every family's run on that many devices left its results."""
    folders = {devices: tmp_path_factory.mktemp(f"devices{devices}") for devices in (1, 2)}
    processes = [_start_worker(folder, FAMILIES, "--devices", str(devices)) for devices, folder in folders.items()]
    for process in processes:
        _finish(process, FAMILIES)
    return folders


@pytest.mark.parametrize("family", FAMILIES)
def test_two_mirrored_replicas_train_like_one_device(family, mirrored):
    one, two = _load(mirrored[1], family), _load(mirrored[2], family)
    assert (one["replicas"], two["replicas"]) == (1, 2)
    _assert_same_training(one, two)


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_workers_on_loopback_agree_on_the_final_weights(mirrored, tmp_path):
    workers = [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(_start_worker(tmp_path / f"worker{index}", ["gan"], "--multi-worker",
                                       env=_env(TF_CONFIG=json.dumps(config))))
    try:
        outputs = [p.communicate(timeout=TIMEOUT_S)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]
    first, second = _load(tmp_path / "worker0", "gan"), _load(tmp_path / "worker1", "gan")
    assert first["replicas"] == second["replicas"] == 2
    for a, b in zip(first["final"], second["final"]):
        np.testing.assert_array_equal(a, b)
    _assert_same_training(_load(mirrored[1], "gan"), first)  # the same run as on one device


# The scripts below need two logical CPUs, which only a fresh process can have: the fixture
# ``two_cpus`` runs all three in one, each with the name ``tf`` and its own globals.
NOISE_SCRIPT = textwrap.dedent("""
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


TWO_CPUS = textwrap.dedent("""
    import sys, traceback
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    for script, path in zip(sys.argv[1::2], sys.argv[2::2]):
        try:
            exec(script, {"tf": tf})
        except Exception:
            with open(path + ".error", "w") as f:
                f.write(traceback.format_exc())
""")


@pytest.fixture(scope="module")
def two_cpus(tmp_path_factory):
    """name -> the path where that script saved its results. The overflow script runs last: it
    sets the global dtype policy to mixed_float16."""
    folder = tmp_path_factory.mktemp("two_cpus")
    scripts = {"noise": NOISE_SCRIPT, "dropout": DROPOUT_SCRIPT, "overflow": OVERFLOW_SCRIPT}
    paths = {name: str(folder / f"{name}.npy") for name in scripts}
    args = [arg for name, script in scripts.items() for arg in (script.format(path=paths[name]), paths[name])]
    result = subprocess.run([sys.executable, "-c", TWO_CPUS, *args], env=_env(), capture_output=True, text=True,
                            timeout=TIMEOUT_S * len(scripts))
    assert result.returncode == 0, result.stderr[-3000:]
    return paths


def _saved_by(two_cpus, name):
    """The results path of script ``name``; the test fails with its traceback if it raised."""
    path = two_cpus[name]
    assert not os.path.exists(path + ".error"), open(path + ".error").read()[-3000:]
    return path


def test_training_noise_is_distinct_per_replica_and_splits_the_single_device_draw(two_cpus):
    path = _saved_by(two_cpus, "noise")
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
    import keras, numpy as np
    from keras_genai.nets.dropout import ReplicaDropout
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        ours, theirs = ReplicaDropout(0.5, seed=1), keras.layers.Dropout(0.5, seed=1)
    step = tf.function(lambda: (ours(tf.ones((4, 64)), training=True), theirs(tf.ones((4, 64)), training=True)))
    masks = [[t.numpy() for t in strategy.experimental_local_results(out)] for out in strategy.run(step)]
    np.save({path!r}, np.array(masks))
""")


def test_replica_dropout_masks_differ_between_replicas_unlike_keras_dropout(two_cpus):
    path = _saved_by(two_cpus, "dropout")
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


def test_a_float16_overflow_on_one_replica_skips_the_step_on_all(two_cpus):
    path = _saved_by(two_cpus, "overflow")
    finite, iterations = np.load(path)
    assert finite, "the overflowing replica's gradients reached the weights"
    assert iterations == 0, "the discriminator step should have been skipped"
