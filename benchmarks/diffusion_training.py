"""Training speed of candidate diffusion U-Nets on CPU, to size the ``ddpm_mnist`` and
``flow_mnist`` recipes.

    python benchmarks/diffusion_training.py [--quick] [--candidates 32x2,32x1,48x2] [--output PATH]

For each candidate U-Net (``BASExBLOCKS``: ``base_filters`` and ``blocks_per_level`` of
``keras_genai.nets.unet_denoiser``, channel multipliers (1, 2, 2), attention at 7x7) and each dtype policy
(float32, mixed_bfloat16), a ``keras_genai.models.ddpm`` model on 28x28x1 images is built and
compiled with AdamW; one ``train_on_batch`` step at batch 128 on a batch held in memory is
timed (a step's cost does not depend on the pixel values, nor on the objective: epsilon, v and
flow differ only in a few elementwise ops; a class-conditional net adds one embedding lookup).
Steps are timed after a warm-up (tracing, first allocations), and the candidates are timed in
alternation, one step each per round, so that load from other processes hits them alike: the
figures are the median seconds per step, with the quartiles, minimum and maximum of the raw
times (kept in the JSON) and the load average before and after. The CPU seconds the process
spends per step are recorded too: unlike wall time they hardly depend on the other processes,
so ``cpu_seconds / cores`` bounds what a step takes on an idle machine. Timing ``fit`` over a short run
by wall clock instead would mostly measure tf.data's autotuning, so single steps are timed.

The JSON also gives each candidate's parameters and the hours that 60,000 images per epoch
take per epoch and for the epochs a recipe of a given length allows. Results are printed and
written as JSON (default ``benchmarks/results/diffusion_training.json``).
"""

import argparse
import os
import statistics
import time

from report import cpu_flags, environment, write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "diffusion_training.json")
BATCH = 128
IMAGES_PER_EPOCH = 60_000
POLICIES = ("float32", "mixed_bfloat16")
SETTINGS = {"quick": dict(warmup=2, rounds=6), "full": dict(warmup=3, rounds=15)}


def _build(base_filters, blocks_per_level, policy, seed=0):
    import keras

    from keras_genai import models

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(seed)
        model = models.ddpm((28, 28, 1), base_filters=base_filters, channel_multipliers=(1, 2, 2),
                            blocks_per_level=blocks_per_level,
                            attention_heads=4, seed=seed)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    model.compile(optimizer=keras.optimizers.AdamW(2e-4, weight_decay=0.0))
    return model


def _quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a third of the time)")
    parser.add_argument("--candidates", default="32x2,32x1,48x2",
                        help="U-Nets to compare, BASE_FILTERSxBLOCKS_PER_LEVEL, comma separated")
    parser.add_argument("--policies", default=",".join(POLICIES), help="dtype policies, comma separated")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    settings = SETTINGS["quick" if args.quick else "full"]
    import numpy as np

    widths = [tuple(int(v) for v in c.split("x")) for c in args.candidates.split(",")]
    policies = args.policies.split(",")
    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32")
    runs = {}
    for width, blocks in widths:
        for policy in policies:
            model = _build(width, blocks, policy)
            for _ in range(settings["warmup"]):
                model.train_on_batch(batch)
            runs[(width, blocks, policy)] = {"model": model, "times": [], "cpu": []}
            print(f"warmed up base_filters={width} blocks_per_level={blocks} {policy}", flush=True)
    for round_ in range(settings["rounds"]):
        for key, run in runs.items():
            start, cpu = time.perf_counter(), time.process_time()
            run["model"].train_on_batch(batch)
            run["times"].append(time.perf_counter() - start)
            run["cpu"].append(time.process_time() - cpu)
        print(f"round {round_ + 1}/{settings['rounds']}, load average {os.getloadavg()[0]:.2f}", flush=True)
    load_after = os.getloadavg()

    candidates = []
    print(f"\n{'U-Net':>6} {'policy':>15} {'params':>10} {'s/step':>8} {'q1':>7} {'q3':>7} {'cpu s':>7} {'img/s':>7} "
          f"{'h/epoch':>8}")
    for (width, blocks, policy), run in runs.items():
        times, cpu = run["times"], statistics.median(run["cpu"])
        median = statistics.median(times)
        q1, q3 = _quartiles(times)
        epoch_hours = median * (IMAGES_PER_EPOCH // BATCH) / 3600
        entry = {"base_filters": width, "channel_multipliers": [1, 2, 2], "blocks_per_level": blocks,
                 "attention_heads": 4, "policy": policy, "parameters": int(run["model"].denoiser.count_params()),
                 "seconds_per_step": {"median": median, "q1": q1, "q3": q3, "min": min(times), "max": max(times),
                                      "raw": times},
                 "cpu_seconds_per_step": {"median": cpu, "raw": run["cpu"]},
                 "images_per_second": BATCH / median, "hours_per_epoch": epoch_hours,
                 "epochs_in_2.5_hours": int(2.5 / epoch_hours)}
        candidates.append(entry)
        print(f"{width:>3}x{blocks:<2} {policy:>15} {entry['parameters']:>10,} {median:>8.3f} {q1:>7.3f} {q3:>7.3f} "
              f"{cpu:>7.3f} {BATCH / median:>7.1f} {epoch_hours:>8.3f}")
    results = {"batch_size": BATCH, "images_per_epoch": IMAGES_PER_EPOCH, "settings": settings,
               "load_average_before": load_before, "load_average_after": load_after, "cpu_flags": cpu_flags(),
               "environment": environment(), "candidates": candidates}
    write_json(results, args.output)


if __name__ == "__main__":
    main()
