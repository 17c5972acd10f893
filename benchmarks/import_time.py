"""What ``import keras_genai`` costs on top of ``import tensorflow, keras``, side by side.

Each repeat starts two fresh Python processes in alternating order (A B, then B A, ...): A imports
TensorFlow and Keras, B imports them and keras_genai. Each process times its own imports with
``time.perf_counter`` (interpreter start-up is not counted). Prints the medians and spreads, the
median of the paired differences B - A, and which heavy optional packages ``import keras_genai``
loaded; writes the JSON.

    python benchmarks/import_time.py --repeats 7 --output benchmarks/results/import_time.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

# Packages a user may never need: imported when first used, not by ``import keras_genai``.
OPTIONAL = ("tensorflow_probability", "tf_keras", "tensorflow_datasets", "matplotlib.pyplot", "nbformat")

TIMER = """
import json, sys, time
start = time.perf_counter()
import tensorflow, keras
middle = time.perf_counter()
{extra}
end = time.perf_counter()
print(json.dumps({{"tf_keras_s": middle - start, "extra_s": end - middle, "total_s": end - start,
                  "loaded": [m for m in {optional!r} if m in sys.modules]}}))
"""


def run(extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", TIMER.format(extra=extra, optional=OPTIONAL)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "import_time.json"))
    args = parser.parse_args()

    plain, ours = [], []
    for repeat in range(args.repeats):
        pair = [("plain", ""), ("ours", "import keras_genai")]
        for name, extra in pair if repeat % 2 == 0 else pair[::-1]:
            (plain if name == "plain" else ours).append(run(extra))
    plain_total = [r["total_s"] for r in plain]
    ours_total = [r["total_s"] for r in ours]
    added = [r["extra_s"] for r in ours]  # keras_genai's own import, after TF and Keras, in the same process
    differences = [b - a for a, b in zip(plain_total, ours_total)]
    results = {
        "environment": report.environment(),
        "repeats": args.repeats,
        "import_tensorflow_keras_s": {"median": statistics.median(plain_total), "min": min(plain_total),
                                      "max": max(plain_total)},
        "import_tensorflow_keras_keras_genai_s": {"median": statistics.median(ours_total), "min": min(ours_total),
                                                  "max": max(ours_total)},
        "keras_genai_after_tf_keras_s": {"median": statistics.median(added), "min": min(added), "max": max(added)},
        "paired_difference_s": {"median": statistics.median(differences), "min": min(differences),
                                "max": max(differences)},
        "optional_packages_loaded_by_import_keras_genai": sorted(set().union(*(r["loaded"] for r in ours))),
        "optional_packages_loaded_by_tf_keras": sorted(set().union(*(r["loaded"] for r in plain))),
    }
    print(f"import tensorflow, keras:              median {results['import_tensorflow_keras_s']['median']:.2f} s")
    print(f"... and keras_genai:                   median {results['import_tensorflow_keras_keras_genai_s']['median']:.2f} s")
    print(f"keras_genai itself (same process):     median {results['keras_genai_after_tf_keras_s']['median']:.3f} s "
          f"(range {min(added):.3f}-{max(added):.3f})")
    print(f"paired difference of the totals:       median {results['paired_difference_s']['median']:.3f} s "
          f"(range {min(differences):.3f}-{max(differences):.3f})")
    print(f"optional packages loaded by keras_genai: {results['optional_packages_loaded_by_import_keras_genai']} "
          f"(by TF + Keras alone: {results['optional_packages_loaded_by_tf_keras']})")
    print(f"load average {os.getloadavg()[0]:.2f}")
    report.write_json(results, args.output)


if __name__ == "__main__":
    main()
