"""Trains one small model of a family under tf.distribute and writes what it learned.

Run as a script by tests/test_distribute.py (each run needs a fresh process: logical devices
and multi-worker collectives are fixed when TensorFlow starts):

    python distributed_worker.py FAMILY OUTPUT.npz --devices N        # MirroredStrategy
    python distributed_worker.py FAMILY OUTPUT.npz --multi-worker     # TF_CONFIG from the env

The data, the initial weights and the global batch are the same in every configuration; the
output holds the initial and final trainable variables and the logged metrics per epoch.
"""

import argparse
import json
import os
import sys

import numpy as np

FAMILIES = ("gan", "wgan_gp", "vae", "pixelcnn", "gpt")
GLOBAL_BATCH = 16
STEPS = 3


def build(family):
    """(model, dataset) for a family: tiny networks, seeded weights, a fixed global batch."""
    import keras
    import tensorflow as tf

    from keras_genai import models

    def sgd(learning_rate=0.05):  # plain SGD: updates proportional to the gradients (Adam's are not)
        return keras.optimizers.SGD(learning_rate)

    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    images = rng.uniform(-1, 1, (GLOBAL_BATCH * STEPS, 28, 28, 1)).astype("float32")
    binary = (images > 0).astype("float32")
    if family == "gan":
        model = models.dcgan(base_filters=8, ema_decay=0.9, seed=0)
        model.compile(d_optimizer=sgd(), g_optimizer=sgd())
        data = images
    elif family == "wgan_gp":
        model = models.wgan_gp(base_filters=8, discriminator_steps=2, seed=0)
        model.compile(d_optimizer=sgd(), g_optimizer=sgd())
        data = images
    elif family == "vae":
        model = models.unconditional_vae(latent_dim=4, width=32, seed=0)
        model.compile(optimizer=sgd(1e-4))  # losses in nats per image: sums over 784 pixels
        data = binary
    elif family == "pixelcnn":
        model = models.gated_pixelcnn(filters=8, num_layers=2)
        model.compile(optimizer=sgd(1e-4))
        data = binary
    elif family == "gpt":
        model = models.GPT("abcdefgh", context_length=16, num_layers=1, num_heads=2, embed_dim=16, seed=0)
        model.compile(optimizer=sgd(0.5))
        tokens = rng.randint(0, 8, (GLOBAL_BATCH * STEPS, 17)).astype("int32")
        data = (tokens[:, :-1], tokens[:, 1:])
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(GLOBAL_BATCH, drop_remainder=True)
    return model, dataset


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("output")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--multi-worker", action="store_true")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.multi_worker:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(args.devices)])
    with strategy.scope():
        model, dataset = build(args.family)
    initial = [v.numpy() for v in model.trainable_variables]
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    final = [v.numpy() for v in model.trainable_variables]
    logs = {k: [float(x) for x in v] for k, v in history.history.items()}
    arrays = {f"initial_{i}": a for i, a in enumerate(initial)}
    arrays.update({f"final_{i}": a for i, a in enumerate(final)})
    arrays["logs"] = np.array(json.dumps(logs))
    arrays["replicas"] = np.array(strategy.num_replicas_in_sync)
    tmp = args.output + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
