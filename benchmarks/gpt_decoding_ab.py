"""A/B of the GPT decoding loop against an earlier commit's, in one process.

    python benchmarks/gpt_decoding_ab.py --before cdfa862 [--preset gpt_shakespeare] [--repeats 9]

The earlier commit's ``models/gpt/model.py`` and ``nets/transformer.py`` are read with ``git show``
into a private package (``_before``), an instance of its ``GPT`` gets the preset's weights, and
both decode greedily the same ``--new-tokens`` after ``--prompt`` at batch 1 and 8 in alternation
(after a warm-up call each), with the PyTorch twin (``torch_twins.TorchGPT``) as a third party
when torch is installed. Prints per-pair ratios (median, min-max) and whether the ids are
identical, and writes JSON (default ``benchmarks/results/gpt_decoding_ab.json``).
"""

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

from report import environment, spread, write_json

_FILES = {"model.py": "keras_genai/models/gpt/model.py", "transformer.py": "keras_genai/nets/transformer.py"}


def _earlier_gpt_class(revision, folder):
    """The ``GPT`` class of ``revision``, imported from copies of its two files."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    package = os.path.join(folder, "_before")
    os.makedirs(package)
    open(os.path.join(package, "__init__.py"), "w").close()
    for name, path in _FILES.items():
        source = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True,
                                check=True, cwd=root).stdout
        source = source.replace("from keras_genai.nets.transformer import", "from _before.transformer import")
        # Registered under another package name, so the current classes stay the registered ones.
        source = source.replace('register_keras_serializable(package="keras_genai")',
                                'register_keras_serializable(package="keras_genai_before")')
        with open(os.path.join(package, name), "w") as f:
            f.write(source)
    sys.path.insert(0, folder)
    return importlib.import_module("_before.model").GPT


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--preset", default="gpt_shakespeare")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt", default="ROMEO:\n")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "gpt_decoding_ab.json"))
    args = parser.parse_args(argv)

    import numpy as np

    from keras_genai import zoo

    try:
        import torch

        from torch_twins import TorchGPT
    except ImportError:
        torch = None

    load_before = os.getloadavg()
    after = zoo.load(args.preset, compile=False)
    with tempfile.TemporaryDirectory() as folder:
        config = {key: value for key, value in after.get_config().items()
                  if key in ("vocabulary", "context_length", "num_layers", "num_heads", "embed_dim", "mlp_ratio",
                             "dropout", "tie_embeddings", "seed")}
        before = _earlier_gpt_class(args.before, folder)(**config)
        before.set_weights(after.get_weights())
        twin = TorchGPT.from_keras(after) if torch else None
        results = {"preset": args.preset, "before": args.before, "new_tokens": args.new_tokens, "prompt": args.prompt}
        print(f"{args.preset}: {args.new_tokens} new tokens after {args.prompt!r}, greedy; before = {args.before}")
        for batch in (1, 8):
            prompt = np.stack([after.encode(args.prompt)] * batch)
            calls = {"before": lambda: before.generate_ids(prompt, args.new_tokens, temperature=0),
                     "after": lambda: after.generate_ids(prompt, args.new_tokens, temperature=0)}
            if torch:
                calls["torch"] = lambda: twin.generate_greedy(prompt, args.new_tokens)
            ids = {name: fn() for name, fn in calls.items()}  # warm-up
            times = {name: [] for name in calls}
            for _ in range(args.repeats):
                for name, fn in calls.items():
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
            entry = {name: {"seconds": spread(t), "tokens_per_second": batch * args.new_tokens / statistics.median(t)}
                     for name, t in times.items()}
            speedup = [b / a for a, b in zip(times["after"], times["before"])]
            entry["speedup_after_over_before"] = spread(speedup)
            entry["identical_ids"] = bool(np.array_equal(ids["before"], ids["after"]))
            line = (f"  batch {batch}: before {entry['before']['tokens_per_second']:6.0f} tok/s   after "
                    f"{entry['after']['tokens_per_second']:6.0f} tok/s   after/before speed "
                    f"{statistics.median(speedup):.2f}x ({min(speedup):.2f}-{max(speedup):.2f})   identical ids "
                    f"{entry['identical_ids']}")
            if torch:
                for name in ("before", "after"):
                    ratio = [b / a for a, b in zip(times[name], times["torch"])]
                    entry[f"speed_ratio_{name}_over_torch"] = spread(ratio)
                line += (f"\n           torch {entry['torch']['tokens_per_second']:6.0f} tok/s   speed vs torch: "
                         f"before {entry['speed_ratio_before_over_torch']['median']:.2f}x, "
                         f"after {entry['speed_ratio_after_over_torch']['median']:.2f}x")
            print(line, flush=True)
            results[f"batch_{batch}"] = entry
    results["environment"] = environment()
    results["load_average_before"] = load_before
    write_json(results, args.output)


if __name__ == "__main__":
    main()
