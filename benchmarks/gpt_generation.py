"""Benchmark of the character GPT on CPU against a PyTorch twin in the same run: decoding with the
key/value cache, and the training step.

    python benchmarks/gpt_generation.py [--preset gpt_shakespeare] [--new-tokens 256] [--quick]

The reference is ``torch_twins.TorchGPT``: the same layers and weights in PyTorch, decoding with
a preallocated key/value cache the nanoGPT way (one position written in place per step,
attention over the filled part only) under the same context policy. ``torch`` comes with the
``[bench]`` extra; without it only the Keras figures are printed.

1. Decoding, greedy, after ``--prompt``, at batch 1 and 8: ``model.generate_ids`` (one compiled
   ``tf.while_loop``) and the twin's ``generate_greedy``, called in alternation (A, B, A, B, ...)
   after a warm-up call each. Per pair the ratio twin time / Keras time (above 1: Keras faster);
   medians with min-max ranges. The ids of both are compared (the same greedy text unless float
   round-off flips a near tie). Keras's cache-free decoding (``use_cache=False``, the whole window
   every step) is timed once for the speed-up of the cache.
2. Training, at the recipe's batch and sequence length, on random ids held in memory: the Keras
   ``train_step`` (the preset's optimizer) timed per step by a batch-end callback inside one
   ``fit`` (steps after the first two), against the twin's step (forward, cross-entropy,
   backward, per-tensor gradient clipping at 1.0 as Keras's ``clipnorm``, AdamW) timed per step,
   in alternating blocks.

Prints a table and writes JSON (default ``benchmarks/results/gpt_generation.json``), with the
load average before and after. If the preset has no weights, its untrained architecture is timed.
"""

import argparse
import os
import statistics
import time

from report import environment, keras_step_times, spread, write_json


def _alternate(calls, repeats):
    """Times each of ``calls`` ({name: fn}) ``repeats`` times in alternation after one warm-up
    call each; returns {name: [seconds, ...]}."""
    for fn in calls.values():
        fn()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _torch_step_times(twin, tokens, targets, batch, steps):
    import torch
    from torch.nn import functional as F

    optimizer = twin.optimizer
    times = []
    twin.train()
    for i in range(steps):
        x = torch.from_numpy(tokens[i * batch:(i + 1) * batch]).long()
        y = torch.from_numpy(targets[i * batch:(i + 1) * batch]).long()
        start = time.perf_counter()
        logits = twin(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in twin.parameters()]
        norms = torch._foreach_norm(grads)
        torch._foreach_mul_(grads, [torch.clamp(1.0 / (n + 1e-12), max=1.0) for n in norms])
        optimizer.step()
        times.append(time.perf_counter() - start)
    twin.eval()
    return times[2:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt_shakespeare")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt", default="ROMEO:\n")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--train-steps", type=int, default=12, help="steps per timed training block")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 1 minute)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "gpt_generation.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.train_steps = 3, 6

    import numpy as np
    import tensorflow as tf

    from keras_genai import zoo

    try:
        import torch

        from torch_twins import TorchGPT
    except ImportError:
        torch = None
        print("torch is not installed (pip install -e '.[bench]'): Keras figures only")

    load_before = os.getloadavg()
    meta = zoo.info(args.preset)
    pretrained = meta["pretrained_available"]
    model = zoo.load(args.preset, pretrained=pretrained)
    twin = TorchGPT.from_keras(model) if torch else None
    results = {"preset": args.preset, "pretrained": pretrained, "new_tokens": args.new_tokens,
               "prompt": args.prompt, "context_length": model.context_length, "parameters": model.count_params(),
               "reference": "PyTorch twin (benchmarks/torch_twins.py), torch " + (torch.__version__ if torch else "-"),
               "threads": {"torch": torch.get_num_threads() if torch else None}}
    if torch:
        results["parameters_twin"] = sum(p.numel() for p in twin.parameters())

    print(f"{args.preset}: {args.new_tokens} new tokens after {args.prompt!r}, greedy; medians (min-max)")
    for batch in (1, 8):
        prompt = np.stack([model.encode(args.prompt)] * batch)
        outputs = {}

        def keras_cached():
            outputs["keras"] = model.generate_ids(prompt, args.new_tokens, temperature=0)

        def torch_cached():
            outputs["torch"] = twin.generate_greedy(prompt, args.new_tokens)

        calls = {"keras": keras_cached, **({"torch": torch_cached} if torch else {})}
        times = _alternate(calls, args.repeats)
        entry = {name: {"seconds": spread(t), "tokens_per_second": batch * args.new_tokens / statistics.median(t),
                        "repeats_s": t} for name, t in times.items()}
        line = f"  batch {batch}: keras {entry['keras']['tokens_per_second']:7.0f} tok/s"
        if torch:
            ratios = [b / a for a, b in zip(times["keras"], times["torch"])]
            entry["speed_ratio_keras_over_torch"] = spread(ratios)
            entry["same_ids_fraction"] = float(np.mean(outputs["keras"] == outputs["torch"]))
            line += (f"   torch {entry['torch']['tokens_per_second']:7.0f} tok/s   keras/torch speed "
                     f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})   same ids "
                     f"{entry['same_ids_fraction']:.3f}")
        print(line, flush=True)
        results[f"decoding_batch_{batch}"] = entry

    recomputed = _alternate({"recomputed": lambda: model.generate_ids(
        np.stack([model.encode(args.prompt)]), args.new_tokens, temperature=0, use_cache=False)},
        max(2, args.repeats // 3))["recomputed"]
    results["recomputed_batch_1"] = {"seconds": spread(recomputed),
                                     "tokens_per_second": args.new_tokens / statistics.median(recomputed)}
    results["cache_speedup_batch_1"] = (statistics.median(recomputed)
                                        / results["decoding_batch_1"]["keras"]["seconds"]["median"])
    results["cache_bytes_batch_1"] = model.cache_bytes(1)
    print(f"  batch 1 without the cache: {results['recomputed_batch_1']['tokens_per_second']:.0f} tok/s "
          f"(the cache is {results['cache_speedup_batch_1']:.1f}x faster)")

    stage = meta.get("recipe", {}).get("stages", [{}])[0]
    batch, length = stage.get("batch_size", 32), stage.get("sequence_length", model.context_length)
    rng = np.random.default_rng(0)
    steps = args.train_steps + 2
    windows = rng.integers(0, model.vocabulary_size, (steps * batch, length + 1)).astype("int32")
    tokens, targets = windows[:, :-1], windows[:, 1:]
    dataset = tf.data.Dataset.from_tensor_slices((tokens, targets)).batch(batch).cache()
    model.fit(dataset.take(1), epochs=1, verbose=0)  # builds the optimizer, traces train_step
    if torch:
        twin.optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.05)
        _torch_step_times(twin, tokens, targets, batch, 3)  # warm-up
    train = {"keras": [], "torch": []}
    for _ in range(3):
        train["keras"] += keras_step_times(model, dataset)
        if torch:
            train["torch"] += _torch_step_times(twin, tokens, targets, batch, steps)
    keras_step = statistics.median(train["keras"])
    results["training"] = {"batch_size": batch, "sequence_length": length,
                           "keras_seconds_per_step": spread(train["keras"]),
                           "keras_tokens_per_second": batch * length / keras_step}
    line = f"  training {batch}x{length}: keras {keras_step * 1000:.0f} ms/step"
    if torch:
        torch_step = statistics.median(train["torch"])
        results["training"].update({"torch_seconds_per_step": spread(train["torch"]),
                                    "speed_ratio_keras_over_torch": torch_step / keras_step})
        line += f"   torch {torch_step * 1000:.0f} ms/step   keras/torch speed {torch_step / keras_step:.2f}x"
    print(line)
    results["environment"] = environment()
    results["load_average_before"] = load_before
    print(f"  load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    write_json(results, args.output)


if __name__ == "__main__":
    main()
