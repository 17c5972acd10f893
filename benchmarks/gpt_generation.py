"""Benchmark of the character GPT on CPU: decoding with the key/value cache against recomputing
the whole prefix at every step, the cache's memory, and the training step time.

    python benchmarks/gpt_generation.py [--preset gpt_shakespeare] [--new-tokens 256] [--quick]

1. Generation: ``model.generate(prompt, new_tokens, temperature=0)`` with ``use_cache=True``
   (each step attends one new position against the cache) and ``use_cache=False`` (each step
   runs the whole current window through the network). Both are the same compiled
   ``tf.while_loop`` and use the same context windows, so the texts must be identical (checked).
   Median wall time of several repeats after one warm-up call; tokens/s = new_tokens / time.
2. Cache memory: layers x 2 (keys, values) x batch x context x width x 4 bytes.
3. Training: median time of one ``train_step`` (the preset's optimizer, batch and sequence
   length from its recipe) over batches held in memory, and the implied time of the recipe
   (epochs x windows_per_epoch / batch steps) on this machine.

Prints a table and writes JSON (default ``benchmarks/results/gpt_generation.json``). If the
preset has no weights, its untrained architecture is timed (speed does not depend on weights).
"""

import argparse
import os

from report import environment, timed, write_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt_shakespeare")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt", default="ROMEO:\n")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 1 minute)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "gpt_generation.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.train_steps = 2, 4

    import numpy as np
    import tensorflow as tf

    from keras_genai import zoo

    meta = zoo.info(args.preset)
    pretrained = meta["pretrained_available"]
    model = zoo.load(args.preset, pretrained=pretrained)
    results = {"preset": args.preset, "pretrained": pretrained, "new_tokens": args.new_tokens,
               "prompt": args.prompt, "context_length": model.context_length, "parameters": model.count_params()}

    texts = {}
    for use_cache in (True, False):
        def run(use_cache=use_cache):
            texts[use_cache] = model.generate(args.prompt, args.new_tokens, temperature=0, use_cache=use_cache)

        median, times = timed(run, args.repeats)
        key = "cached" if use_cache else "recomputed"
        results[key] = {"seconds": median, "tokens_per_second": args.new_tokens / median, "repeats_s": times}
    results["identical_text"] = texts[True] == texts[False]
    results["speedup"] = results["recomputed"]["seconds"] / results["cached"]["seconds"]
    results["cache_bytes_batch_1"] = model.cache_bytes(1)

    recipe = meta.get("training", {})
    batch, length = recipe.get("batch_size", 32), recipe.get("sequence_length", model.context_length)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, model.vocabulary_size, (args.train_steps * batch, length + 1)).astype("int32")
    batches = tf.data.Dataset.from_tensor_slices((tokens[:, :-1], tokens[:, 1:])).batch(batch).cache()
    model.fit(batches.take(1), epochs=1, verbose=0)  # builds the optimizer, traces train_step
    step, step_times = timed(lambda: model.fit(batches, epochs=1, verbose=0), 2)
    step /= args.train_steps
    steps = recipe.get("epochs", 1) * (recipe.get("windows_per_epoch") or 0) // batch
    results["training"] = {"batch_size": batch, "sequence_length": length, "seconds_per_step": step,
                           "tokens_per_second": batch * length / step, "recipe_steps": steps,
                           "recipe_minutes_at_this_speed": steps * step / 60}
    results["environment"] = environment()

    print(f"{args.preset}: {args.new_tokens} new tokens after {args.prompt!r}, batch 1, greedy")
    print(f"  with cache     {results['cached']['seconds']:.3f} s  {results['cached']['tokens_per_second']:8.1f} tok/s")
    print(f"  recomputed     {results['recomputed']['seconds']:.3f} s  "
          f"{results['recomputed']['tokens_per_second']:8.1f} tok/s")
    print(f"  speed-up       {results['speedup']:.2f}x   identical text: {results['identical_text']}")
    print(f"  cache memory   {results['cache_bytes_batch_1'] / 1e6:.2f} MB per sequence")
    print(f"  training       {step * 1000:.0f} ms/step ({batch}x{length}), {batch * length / step:.0f} tok/s; "
          f"recipe of {steps} steps: {steps * step / 60:.1f} min at this speed")
    write_json(results, args.output)


if __name__ == "__main__":
    main()
