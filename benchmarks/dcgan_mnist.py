"""Benchmark of a DCGAN preset on CPU: training, sampling (Keras, SavedModel, LiteRT), cold start.

    KERAS_GENAI_DATA_DIR=/path/to/data python benchmarks/dcgan_mnist.py [--quick] [--output PATH]

Measures, each as the median over several timed repeats after warm-up (raw repeats kept):

1. Training: milliseconds per train step on real MNIST batches of 128 from
   ``keras_genai.data.images("mnist")``, with the preset's architecture and optimizers
   (``zoo.load(preset, pretrained=False)``, compiled as the preset is), each step timed by a
   batch-end callback after warm-up (a short ``fit`` timed by the wall clock ends on the tf.data
   autotuner's sleeps, 10 ms x (2^k - 1)):
   - ``steady``: batches held in memory; ``from_pipeline``: straight from the TFDS pipeline;
   - references on the same batches, in alternating blocks: the keras-io DCGAN loop on copies
     of the preset's networks (``KerasIoGAN``) and, with torch installed (``[bench]`` extra),
     the PyTorch twin (``torch_twins.TorchDCGAN``); per-block ratios reference / preset.
2. Sampling throughput (images/s) at batch 256 from the same fixed z for: the Keras model
   (``model.generate(z)``), the exported SavedModel's ``serving_default`` signature (loaded
   once in this process) and LiteRT float32 / float16 / dynamic_int8 flatbuffers
   (``ai_edge_litert`` ``Interpreter`` loaded once, input resized to 256; only ``invoke``
   is timed). Each backend's output is compared with Keras (max |difference|).
3. Cold start: wall time of a fresh ``python -c`` process that imports keras_genai, loads
   the preset and draws 16 samples, next to a process that only imports keras_genai.

Also records the sizes of the exports and the environment. Results are printed as a table
and written as JSON (default ``benchmarks/results/dcgan_mnist.json`` next to this script).
If the preset has no pretrained weights, the untrained architecture is used throughout
(throughput does not depend on weight values) and the JSON says ``"pretrained": false``.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

from report import write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "dcgan_mnist.json")

TRAIN_BATCH = 128
SAMPLE_BATCH = 256
QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "full_int8")

# (quick, full) settings. Sampling adapts per backend: calls per repeat aim at
# ``sample_repeat_s`` seconds (at most ``sample_max_iters``), and a backend whose timed repeats
# would take more than ``sample_budget_s`` gets fewer repeats (at least 2). On a 2-core machine
# shared with a training job: quick ~1.5 minutes, full ~5 minutes.
SETTINGS = {
    "quick": dict(
        train_steps=5, train_repeats=3,
        sample_warmup=2, sample_max_iters=10, sample_repeats=3, sample_repeat_s=0.5, sample_budget_s=20,
        cold_repeats=3,
    ),
    "full": dict(
        train_steps=10, train_repeats=5,
        sample_warmup=5, sample_max_iters=50, sample_repeats=7, sample_repeat_s=2.0, sample_budget_s=90,
        cold_repeats=3,
    ),
}
MIN_REPEATS = 2
SLOW_CALL_S = 1.0  # a warm-up call slower than this ends the warm-up


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(values, unit):
    """Median and spread of repeat values, with the raw list."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "unit": unit,
        "repeats": list(values),
    }


def folder_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment():
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_genai

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "ai_edge_litert": package_version("ai-edge-litert"),
        "keras_genai": keras_genai.__version__,
        "git_commit": commit,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
    }


# --------------------------------------------------------------------------- training
class KerasIoGAN:
    """The reference: the keras-io DCGAN example's training step ("DCGAN overriding train_step")
    on copies of the preset's networks: one discriminator update on generated and real images
    concatenated (noisy labels), one generator update on new noise, binary cross-entropy on
    logits, Adam with the preset's betas."""

    @staticmethod
    def build(model, learning_rate=1e-4):
        import keras
        import tensorflow as tf

        generator = keras.models.clone_model(model.generator)
        discriminator = keras.models.clone_model(model.discriminator)
        latent_dim = model.latent_dim
        bce = keras.losses.BinaryCrossentropy(from_logits=True)

        class Loop(keras.Model):
            def __init__(self):
                super().__init__()
                self.generator, self.discriminator = generator, discriminator
                self.d_optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.5)
                self.g_optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.5)
                self.seed_generator = keras.random.SeedGenerator(0)

            def train_step(self, real):
                batch = tf.shape(real)[0]
                z = keras.random.normal((batch, latent_dim), seed=self.seed_generator)
                combined = tf.concat([self.generator(z), real], axis=0)
                labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
                labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
                with tf.GradientTape() as tape:
                    d_loss = bce(labels, self.discriminator(combined, training=True))
                d_vars = self.discriminator.trainable_weights
                self.d_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)
                z = keras.random.normal((batch, latent_dim), seed=self.seed_generator)
                with tf.GradientTape() as tape:
                    g_loss = bce(tf.zeros((batch, 1)), self.discriminator(self.generator(z, training=True),
                                                                           training=True))
                g_vars = self.generator.trainable_weights
                self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
                return {"d_loss": d_loss, "g_loss": g_loss}

        loop = Loop()
        loop.compile(jit_compile=False)
        return loop


def bench_training(preset, settings):
    """Seconds per train step, each after warm-up and timed per step (never a short ``fit`` by
    the wall clock): the preset's ``train_step`` on real batches held in memory and straight
    from the TFDS pipeline, against references on the same batches in alternating blocks: the
    keras-io loop (``KerasIoGAN``) and, with torch installed, the PyTorch twin
    (``torch_twins.TorchDCGAN``). Ratios are per block: reference step / preset step (above 1:
    the preset is faster)."""
    import numpy as np

    import keras_genai
    from report import keras_step_times

    try:
        import torch

        from torch_twins import TorchDCGAN
    except ImportError:
        torch = None
        log("torch is not installed (pip install -e '.[bench]'): no PyTorch reference")

    log("training: loading MNIST and the untrained preset")
    ds = keras_genai.data.images("mnist", batch_size=TRAIN_BATCH)
    model = keras_genai.zoo.load(preset, pretrained=False)  # compiled with the preset's optimizers
    steps, repeats = settings["train_steps"], settings["train_repeats"]
    in_memory = ds.take(steps + 2).cache()
    batches = [np.asarray(images) for images in in_memory]  # also fills the cache
    keras_io = KerasIoGAN.build(model)
    contenders = {"preset": lambda: keras_step_times(model, in_memory),
                  "keras_io": lambda: keras_step_times(keras_io, in_memory)}
    if torch:
        twin = TorchDCGAN.from_keras(model)
        channels_first = [torch.from_numpy(np.array(b.transpose(0, 3, 1, 2))) for b in batches]

        def torch_steps():
            times = []
            for images in channels_first:
                start = time.perf_counter()
                twin.train_step(images)
                times.append(time.perf_counter() - start)
            return times[2:]

        contenders["torch"] = torch_steps
    for name, run in contenders.items():  # warm-up: tracing, optimizer slots
        run()
    per_step = {name: [] for name in contenders}
    block_medians = {name: [] for name in contenders}
    for i in range(repeats):
        for name, run in contenders.items():
            times = run()
            per_step[name] += times
            block_medians[name].append(statistics.median(times))
        log(f"training block {i + 1}/{repeats}: " + ", ".join(
            f"{name} {1000 * block_medians[name][-1]:.0f} ms/step" for name in contenders))
    pipeline = keras_step_times(model, ds.take(steps + 2))

    def ms(values):
        return summary([1000 * v for v in values], "ms/step")

    result = {
        "batch_size": TRAIN_BATCH,
        "steps_per_block": steps,
        "blocks": repeats,
        "generator_params": model.generator.count_params(),
        "discriminator_params": model.discriminator.count_params(),
        "steady": ms(per_step["preset"]),
        "images_per_second": TRAIN_BATCH / statistics.median(per_step["preset"]),
        "from_pipeline": ms(pipeline),
        "keras_io": ms(per_step["keras_io"]),
        "ratio_keras_io_over_preset": summary(
            [r / p for r, p in zip(block_medians["keras_io"], block_medians["preset"])], "x"),
    }
    if torch:
        result.update({
            "torch": ms(per_step["torch"]),
            "torch_trainable_params": sum(p.numel() for p in twin.parameters()),
            "ratio_torch_over_preset": summary(
                [r / p for r, p in zip(block_medians["torch"], block_medians["preset"])], "x"),
            "torch_version": torch.__version__, "torch_threads": torch.get_num_threads(),
        })
    return result


# --------------------------------------------------------------------------- sampling
def time_calls(fn, label, settings):
    """Throughput of ``fn`` (one call = SAMPLE_BATCH images): warm-up, then timed repeats.

    Returns (images/s per repeat, details). Slow backends get one warm-up call and fewer
    calls/repeats so that each stays within the time budget.
    """
    per_call = None
    for _ in range(settings["sample_warmup"]):
        start = time.perf_counter()
        fn()
        per_call = time.perf_counter() - start
        if per_call > SLOW_CALL_S:
            break
    iters = max(1, min(settings["sample_max_iters"], round(settings["sample_repeat_s"] / per_call)))
    repeats = settings["sample_repeats"]
    if repeats * iters * per_call > settings["sample_budget_s"]:
        repeats = max(MIN_REPEATS, min(repeats, int(settings["sample_budget_s"] // (iters * per_call))))
    values = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        values.append(iters * SAMPLE_BATCH / (time.perf_counter() - start))
    log(f"sampling {label}: median {statistics.median(values):.0f} images/s ({repeats} x {iters} calls)")
    return values, {"calls_per_repeat": iters, "last_warmup_call_s": per_call}


def max_abs_diff(a, b):
    import numpy as np

    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def bench_sampling_and_exports(preset, pretrained, settings, tflite_threads):
    import tensorflow as tf

    import keras_genai
    from ai_edge_litert.interpreter import Interpreter
    from keras_genai import runtime

    model = keras_genai.zoo.load(preset, pretrained=pretrained)
    z = model.noise(SAMPLE_BATCH, seed=0).numpy()
    reference = model.generate(z)
    results, sizes, export_seconds = {}, {}, {}

    def record(key, values, details, output=None):
        results[key] = summary(values, "images/s")
        results[key].update(details)
        if output is not None:
            results[key]["max_abs_diff_vs_keras"] = max_abs_diff(output, reference)

    record("keras_generate", *time_calls(lambda: model.generate(z), "keras", settings))

    with tempfile.TemporaryDirectory(prefix="bench_dcgan_") as tmp:
        log("exporting SavedModel")
        start = time.perf_counter()
        saved_path = keras_genai.export.saved_model(model, os.path.join(tmp, "saved_model"), version=1)
        export_seconds["saved_model"] = time.perf_counter() - start
        sizes["saved_model"] = folder_size(saved_path)

        loaded = tf.saved_model.load(saved_path)  # kept alive while its signature is used
        serving = loaded.signatures["serving_default"]
        z_tensor = tf.constant(z)
        values, details = time_calls(lambda: serving(z=z_tensor)["images"].numpy(), "saved_model", settings)
        record("saved_model_serving_default", values, details, serving(z=z_tensor)["images"].numpy())
        del serving, loaded

        for quantize in QUANTIZATIONS:
            for fixed_batch in (None, SAMPLE_BATCH):
                key = f"tflite_{quantize}" + ("_fixed_batch" if fixed_batch else "")
                log(f"exporting LiteRT {quantize} (batch {fixed_batch or 'dynamic'})")
                path = os.path.join(tmp, f"{key}.tflite")
                start = time.perf_counter()
                keras_genai.export.tflite(model, path, quantize=quantize, batch_size=fixed_batch)
                export_seconds[key] = time.perf_counter() - start
                sizes[key] = os.path.getsize(path)

                interpreter = Interpreter(model_path=path, num_threads=tflite_threads)
                (input_detail,) = interpreter.get_input_details()
                (output_detail,) = interpreter.get_output_details()
                if not fixed_batch:
                    interpreter.resize_tensor_input(input_detail["index"], [SAMPLE_BATCH, z.shape[1]])
                interpreter.allocate_tensors()
                interpreter.set_tensor(input_detail["index"], runtime.quantize(z, input_detail))
                values, details = time_calls(interpreter.invoke, key, settings)
                # The output of the last invoke, on the same z (full_int8: int8 in and out).
                record(key, values, details,
                       runtime.dequantize(interpreter.get_tensor(output_detail["index"]), output_detail))
                del interpreter

    return {
        "batch_size": SAMPLE_BATCH,
        "tflite_num_threads": tflite_threads,
        "throughput": results,
        "export_seconds_single_run": export_seconds,
        "sizes_bytes": sizes,
        "notes": (
            "keras: model.generate(z) returning numpy; saved_model: signature call plus .numpy(); "
            "tflite: interpreter.invoke() only (input set before timing). Same z (seed 0) for all."
        ),
    }


# --------------------------------------------------------------------------- cold start
COLD_START_CODE = """\
import json, time
t0 = time.perf_counter()
import keras_genai
t1 = time.perf_counter()
{body}
t2 = time.perf_counter()
print("BENCH_JSON " + json.dumps({{"import_s": t1 - t0, "after_import_s": t2 - t1}}))
"""


def run_fresh_process(body, repeats, label):
    code = COLD_START_CODE.format(body=body)
    walls, inner = [], []
    for i in range(repeats):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
        walls.append(time.perf_counter() - start)
        if result.returncode:
            raise RuntimeError(f"cold-start process ({label}) failed:\n{result.stderr[-3000:]}")
        line = next(l for l in result.stdout.splitlines() if l.startswith("BENCH_JSON "))
        inner.append(json.loads(line[len("BENCH_JSON "):]))
        log(f"cold start {label} {i + 1}/{repeats}: {walls[-1]:.2f} s")
    return {
        "wall": summary(walls, "s"),
        "in_process_import": summary([r["import_s"] for r in inner], "s"),
        "in_process_after_import": summary([r["after_import_s"] for r in inner], "s"),
    }


def bench_cold_start(preset, pretrained, repeats):
    load_sample = f"m = keras_genai.zoo.load({preset!r}, pretrained={pretrained!r}); m.sample(16, seed=0)"
    import_only = run_fresh_process("pass", repeats, "import only")
    full = run_fresh_process(load_sample, repeats, "import+load+sample")
    return {
        "pretrained": pretrained,
        "import_only_code": "import keras_genai",
        "load_and_sample_code": f"import keras_genai; {load_sample}",
        "import_only": import_only,
        "import_load_sample": full,
        "load_and_sample_extra_s": full["wall"]["median"] - import_only["wall"]["median"],
    }


# --------------------------------------------------------------------------- report
def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def print_table(report):
    env, train, sampling, cold = report["environment"], report["training"], report["sampling"], report["cold_start"]
    lines = [
        f"DCGAN benchmark: preset {report['preset']} (pretrained weights: {report['pretrained']}), "
        f"{'quick' if report['quick'] else 'full'} run",
        f"TF {env['tensorflow']}, Keras {env['keras']}, {env['cpu_count']} CPUs ({env['cpu_model']}), "
        f"{env['platform']}, {env['date_utc']}",
        f"load average at start {env['load_average_at_start']}, at end {report['load_average_at_end']}",
        "",
        f"{'measurement':<46}{'median':>10}{'min':>10}{'max':>10}{'repeats':>9}  unit",
        "-" * 92,
    ]

    def row(name, s, fmt="{:.0f}"):
        lines.append(
            f"{name:<46}{fmt.format(s['median']):>10}{fmt.format(s['min']):>10}{fmt.format(s['max']):>10}"
            f"{len(s['repeats']):>9}  {s['unit']}"
        )

    row(f"train step, batch {train['batch_size']}, in-memory batches", train["steady"])
    row(f"train step, batch {train['batch_size']}, TFDS pipeline", train["from_pipeline"])
    row("  reference: keras-io loop, same networks", train["keras_io"])
    row("  keras-io step / preset step, per block", train["ratio_keras_io_over_preset"], "{:.2f}")
    if "torch" in train:
        row("  reference: PyTorch twin", train["torch"])
        row("  PyTorch step / preset step, per block", train["ratio_torch_over_preset"], "{:.2f}")
    for key, s in sampling["throughput"].items():
        row(f"sample, batch {sampling['batch_size']}, {key}", s)
    row("cold start: import keras_genai", cold["import_only"]["wall"], "{:.2f}")
    row("cold start: import + load + sample(16)", cold["import_load_sample"]["wall"], "{:.2f}")
    lines.append(f"{'  difference of the medians':<46}{cold['load_and_sample_extra_s']:>10.2f}{'':>29}  s")
    row("  in that process: import keras_genai", cold["import_load_sample"]["in_process_import"], "{:.2f}")
    row("  in that process: load + sample(16)", cold["import_load_sample"]["in_process_after_import"], "{:.2f}")
    lines += ["", "export sizes (export time, one run):"]
    for key, size in sampling["sizes_bytes"].items():
        lines.append(f"  {key:<24}{human_bytes(size):>12}   ({sampling['export_seconds_single_run'][key]:.1f} s)")
    diffs = {k: v["max_abs_diff_vs_keras"] for k, v in sampling["throughput"].items() if "max_abs_diff_vs_keras" in v}
    lines.append("max |output - Keras| at batch 256: " + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()))
    if not report["pretrained"]:
        lines.append("note: no pretrained weights; untrained weights used for sampling, exports and cold start.")
    print("\n".join(lines), flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (1-2 minutes on 2 CPUs)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSON results path (default: %(default)s)")
    parser.add_argument("--preset", default="dcgan_mnist", help="preset name or folder (default: %(default)s)")
    parser.add_argument(
        "--tflite-threads", type=int, default=os.cpu_count() or 1,
        help="num_threads of the LiteRT interpreters (default: CPU count, %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    settings = SETTINGS["quick" if args.quick else "full"]
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    started = time.perf_counter()

    import keras_genai

    env = environment()
    try:
        pretrained = bool(keras_genai.zoo.info(args.preset)["pretrained_available"])
        pretrained_note = None
    except Exception as error:  # e.g. weights URL unreachable offline
        pretrained, pretrained_note = False, f"{type(error).__name__}: {error}"
    if not pretrained:
        log(f"{args.preset} has no pretrained weights available; using pretrained=False throughout")

    report = {
        "benchmark": "dcgan_mnist",
        "preset": args.preset,
        "pretrained": pretrained,
        "pretrained_note": pretrained_note,
        "quick": args.quick,
        "settings": settings,
        "environment": env,
    }
    report["training"] = bench_training(args.preset, settings)
    report["sampling"] = bench_sampling_and_exports(args.preset, pretrained, settings, args.tflite_threads)
    report["cold_start"] = bench_cold_start(args.preset, pretrained, settings["cold_repeats"])
    report["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["total_seconds"] = time.perf_counter() - started

    write_json(report, output)
    print_table(report)
    print(f"total {report['total_seconds']:.0f} s", flush=True)
    return report


if __name__ == "__main__":
    main()
