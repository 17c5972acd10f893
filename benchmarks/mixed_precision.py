"""Training speed of the preset recipes in float32 and under a mixed dtype policy, on CPU.

    python benchmarks/mixed_precision.py [--policy mixed_bfloat16] [--quick] [--output PATH]

For each preset (``dcgan_mnist``, ``vae_mnist``, ``pixelcnn_mnist``, ``gpt_shakespeare``) the
model is loaded twice, ``zoo.load(name)`` and ``zoo.load(name, dtype=policy)``, with the
pretrained weights and compiled with the preset's recipe. One ``train_on_batch`` step at the
recipe's batch size is timed on a batch held in memory (synthetic data of the right kind:
images in the model's value range, binary images for Bernoulli models, token windows for the
GPT; a step's cost does not depend on the values). The two policies are timed in alternation,
repeat after repeat, so that load from other processes hits both alike; the figures are
medians and the speed-up is the ratio of the medians. Before any training, the same weights
are run under both policies to show what the lower precision costs: the relative change of
the loss on one batch, or for a GAN the largest change of a generated pixel.

Speed-ups need hardware support: on x86 CPUs oneDNN runs bfloat16 convolutions and matrix
products fast with AVX512-BF16 or AMX (the JSON lists the CPU flags seen); without them
bfloat16 can be slower than float32. Results are printed and written as JSON (default
``benchmarks/results/mixed_precision.json``).
"""

import argparse
import datetime
import os
import platform
import statistics
import time

from report import cpu_flags, write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "mixed_precision.json")
PRESETS = ("dcgan_mnist", "vae_mnist", "pixelcnn_mnist", "gpt_shakespeare")
SETTINGS = {"quick": dict(warmup=2, repeats=5), "full": dict(warmup=3, repeats=12)}


def _batch(model, batch_size, rng):
    if hasattr(model, "vocabulary"):
        text = rng.integers(0, len(model.vocabulary), (batch_size, model.context_length + 1)).astype("int32")
        return text[:, :-1], text[:, 1:]
    shape = (batch_size, *model.image_shape) if hasattr(model, "image_shape") else (batch_size, 28, 28, 1)
    if getattr(model, "likelihood", None) == "bernoulli":
        return (rng.uniform(size=shape) < 0.3).astype("float32")
    low, high = getattr(model, "value_range", (-1.0, 1.0))
    return rng.uniform(low, high, shape).astype("float32")


def _precision_cost(models, policy, x, y):
    """How far ``policy`` moves the output from float32 with the same weights: the relative
    change of the loss on one batch, or for a GAN the largest change of a generated pixel
    (images in [-1, 1])."""
    import numpy as np

    reference, mixed = models["float32"], models[policy]
    if hasattr(reference, "generator"):
        z = reference.noise(64, seed=0)
        change = np.max(np.abs(np.asarray(reference.generate(z)) - np.asarray(mixed.generate(z))))
        return {"measure": "max |generated pixel change|, 64 images", "value": float(f"{change:.3g}")}
    losses = [float(model.test_on_batch(x, y, return_dict=True)["loss"]) for model in (reference, mixed)]
    change = abs(losses[1] - losses[0]) / abs(losses[0])
    return {"measure": "relative loss change, one batch", "value": float(f"{change:.3g}"),
            "loss": {"float32": round(losses[0], 5), policy: round(losses[1], 5)}}


def measure(name, policy, warmup, repeats):
    import keras
    import numpy as np

    from keras_genai import zoo

    keras.utils.set_random_seed(0)
    batch_size = zoo.info(name)["training"]["batch_size"]
    pretrained = zoo.info(name)["pretrained_available"]  # trained weights make the precision cost meaningful
    models = {"float32": zoo.load(name, pretrained=pretrained),
              policy: zoo.load(name, pretrained=pretrained, dtype=policy)}
    models[policy].set_weights(models["float32"].get_weights())
    data = _batch(models["float32"], batch_size, np.random.default_rng(0))
    x, y = data if isinstance(data, tuple) else (data, None)
    precision_cost = _precision_cost(models, policy, x, y)  # before training: the same weights
    times = {key: [] for key in models}
    for _ in range(warmup):
        for model in models.values():
            model.train_on_batch(x, y)
    for _ in range(repeats):
        for key, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in times.items()}
    return {
        "batch_size": batch_size, "pretrained": pretrained,
        "step_s": {key: round(value, 4) for key, value in medians.items()},
        "examples_per_s": {key: round(batch_size / value, 1) for key, value in medians.items()},
        "speedup": round(medians["float32"] / medians[policy], 3),
        "precision_cost": precision_cost,
        "raw_step_s": {key: [round(v, 4) for v in values] for key, values in times.items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="mixed_bfloat16", help="the mixed policy to compare with float32")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    settings = SETTINGS["quick" if args.quick else "full"]

    import keras
    import tensorflow as tf

    results = {}
    print(f"{'preset':<18} {'batch':>5} {'float32 s/step':>15} {args.policy + ' s/step':>22} {'speed-up':>9}  "
          "precision cost")
    for name in args.presets.split(","):
        r = measure(name, args.policy, **settings)
        results[name] = r
        print(f"{name:<18} {r['batch_size']:>5} {r['step_s']['float32']:>15.4f} {r['step_s'][args.policy]:>22.4f} "
              f"{r['speedup']:>8.2f}x  {r['precision_cost']['value']:.2e} ({r['precision_cost']['measure']})",
              flush=True)
    report = {
        "benchmark": "mixed_precision", "policy": args.policy, "settings": settings, "results": results,
        "environment": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(), "cpus": os.cpu_count(), "cpu_flags": cpu_flags(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "load_average": os.getloadavg(),
        },
    }
    write_json(report, args.output)


if __name__ == "__main__":
    main()
