"""What the benchmarks share: timing a call or Keras train steps, describing the machine (versions, CPU flags), and
writing the results as JSON atomically, so an interrupted run leaves no half-written file."""

import datetime
import json
import os
import platform
import statistics
import sys
import time


def timed(fn, repeats):
    """Calls ``fn`` once to warm up (tracing, first allocations), then ``repeats`` times.
    Returns (median seconds, list of each repeat's seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def spread(values):
    """Median, min and max of repeated measurements (or of their paired ratios)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def keras_step_times(model, dataset, skip=2):
    """Seconds of each ``train_step`` of one ``model.fit(dataset)``, from batch-end times (the
    first ``skip`` dropped). Per-step times, unlike the wall time of a short ``fit``, do not
    include the tf.data autotuner's sleep at the end of an epoch."""
    import keras

    ends = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not ends:
                ends.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(dataset, epochs=1, verbose=0, callbacks=[Clock()])
    return [b - a for a, b in zip(ends, ends[1:])][skip:]


def cpu_flags():
    """The CPU's vector and matrix extensions that decide what mixed precision buys (Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(flag for flag in flags if flag.startswith(("avx512_bf16", "amx", "avx512f", "avx512_vnni")))


def environment():
    """TF and Keras versions, CPUs, platform, Python, UTC date and load average, for the JSON."""
    import keras
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count(),
        "platform": platform.platform(), "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(),
    }


def write_json(results, path):
    """Write ``results`` (JSON-serialisable) to ``path``, creating its folder; print where it went."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".part"
    try:
        with open(partial, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    print(f"wrote {path}", flush=True)
