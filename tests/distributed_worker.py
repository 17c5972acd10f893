"""Trains one small model per family under tf.distribute and writes what each learned.

Run as a script by tests/test_distribute.py (a configuration needs a fresh process: logical
devices and multi-worker collectives are fixed when TensorFlow starts; the families given train
one after another in that process):

    python distributed_worker.py OUTPUT_DIR FAMILY [FAMILY ...] --devices N   # MirroredStrategy
    python distributed_worker.py OUTPUT_DIR FAMILY --multi-worker             # TF_CONFIG from the env

The data, the initial weights and the global batch are the same in every configuration; each
family's OUTPUT_DIR/FAMILY.npz holds the initial and final trainable variables and the logged
metrics per epoch. A family that fails writes its traceback to OUTPUT_DIR/FAMILY.error instead,
and the next family still runs.
"""

import argparse
import json
import os
import sys
import traceback

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
    parser.add_argument("output_dir")
    parser.add_argument("families", nargs="+", choices=FAMILIES)
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
    os.makedirs(args.output_dir, exist_ok=True)
    for family in args.families:
        output = os.path.join(args.output_dir, f"{family}.npz")
        try:
            train(family, strategy, output)
        except Exception:  # noqa: BLE001 - reported to the family's test, the other families still run
            with open(os.path.join(args.output_dir, f"{family}.error"), "w") as f:
                f.write(traceback.format_exc())
    return 0


def train(family, strategy, output):
    """Trains ``family``'s model under ``strategy`` for 2 epochs and saves what it learned to ``output``."""
    with strategy.scope():
        model, dataset = build(family)
    initial = [v.numpy() for v in model.trainable_variables]
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    final = [v.numpy() for v in model.trainable_variables]
    logs = {k: [float(x) for x in v] for k, v in history.history.items()}
    arrays = {f"initial_{i}": a for i, a in enumerate(initial)}
    arrays.update({f"final_{i}": a for i, a in enumerate(final)})
    arrays["logs"] = np.array(json.dumps(logs))
    arrays["replicas"] = np.array(strategy.num_replicas_in_sync)
    tmp = output + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, output)


if __name__ == "__main__":
    sys.exit(main())
