"""Edge speed of image presets: one sample per call, as an app on a device draws it.

For each ``--preset``, the graph its LiteRT files sample from (``edge_sample_signature``) run
five ways at batch 1, in alternating rounds after a warm-up each:

- Keras: the same endpoint as a ``tf.function`` on a (1, ...) input (the float reference);
- LiteRT files of every quantization the family offers at the default fixed batch of 1
  (``export.tflite``): float32, float16, dynamic_int8 (int8 weights) and full_int8
  (integer-only, int8 input and output);
- float32 and dynamic_int8 with a dynamic batch (``batch_size=None``) resized to 1: what the
  fixed default buys.

Only ``invoke`` is timed for LiteRT (input set before; for full_int8 the int8 input is
quantized once with ``runtime.quantize``), one ``tf.function`` call plus ``.numpy()`` for
Keras. Each round times ``--calls`` calls of each variant in turn; per call it prints the
median, min and max over rounds, and the per-round ratios Keras time / LiteRT time (above 1:
LiteRT faster). It writes ``benchmarks/results/litert_edge.json``; ``--update-card`` stores
each preset's figures as ``litert_speed_batch_1`` in its metadata.json and re-renders its card.

    python benchmarks/litert_edge.py --preset dcgan_mnist --preset cgan_mnist
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402

DEFAULT_PRESETS = ("gan_mnist", "dcgan_mnist", "cgan_mnist", "wgan_gp_mnist", "vae_mnist", "cvae_mnist")
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "litert_edge.json")
CARD_KEY = "litert_speed_batch_1"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_preset(name, rounds, calls, threads):
    import tensorflow as tf

    from ai_edge_litert.interpreter import Interpreter
    from keras_genai import export, runtime, zoo

    model = zoo.load(name, compile=False)
    signature = model.check_edge_sampling()
    inputs, _ = model.example_inputs(signature, num_samples=1, seed=0)
    endpoint, specs = model.export_signatures()[signature]
    keras_call = tf.function(endpoint, input_signature=[tf.TensorSpec([1, *s.shape[1:]], s.dtype, name=s.name)
                                                        for s in specs])
    feeds = [tf.constant(inputs[s.name]) for s in specs]
    runs = {"keras": lambda: {k: v.numpy() for k, v in keras_call(*feeds).items()}}
    sizes = {}
    variants = [(q, export.EDGE_BATCH_SIZE) for q in model.edge_quantizations]
    variants += [(q, None) for q in ("float32", "dynamic_int8") if q in model.edge_quantizations]
    with tempfile.TemporaryDirectory(prefix="bench_edge_") as folder:
        for quantize, batch in variants:
            key = f"litert_{quantize}" + ("_dynamic_batch" if batch is None else "")
            path = export.tflite(model, os.path.join(folder, f"{key}.tflite"), quantize=quantize, batch_size=batch,
                                 signature=signature)
            sizes[key] = os.path.getsize(path)
            interpreter = Interpreter(model_path=path, num_threads=threads)
            inputs_by_name = interpreter.get_signature_runner().get_input_details()  # {input name: detail}
            if batch is None:
                for detail in inputs_by_name.values():
                    interpreter.resize_tensor_input(detail["index"], [1, *detail["shape"][1:]])
            interpreter.allocate_tensors()
            for input_name, detail in inputs_by_name.items():
                interpreter.set_tensor(detail["index"], runtime.quantize(inputs[input_name], detail))
            runs[key] = interpreter.invoke  # the bound method keeps the interpreter alive
    for run in runs.values():  # warm-up
        run()
    seconds = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            seconds[key].append((time.perf_counter() - start) / calls)
    result = {"signature": signature, "batch_size": 1, "rounds": rounds, "calls_per_round": calls,
              "litert_num_threads": threads, "file_bytes": sizes, "per_call_ms": {}, "keras_over_litert": {}}
    for key, values in seconds.items():
        result["per_call_ms"][key] = {k: v * 1e3 for k, v in report.spread(values).items()}
        if key != "keras":
            result["keras_over_litert"][key] = report.spread([k / v for k, v in zip(seconds["keras"], values)])
    return result


def print_table(name, result):
    print(f"\n{name} ({result['signature']}), one sample per call, {result['rounds']} rounds of "
          f"{result['calls_per_round']} calls")
    print(f"  {'variant':<30} {'ms/call median (min-max)':>28} {'Keras/variant':>22} {'size':>9}")
    for key, ms in result["per_call_ms"].items():
        ratio = result["keras_over_litert"].get(key)
        ratio_text = f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else ""
        size = result["file_bytes"].get(key)
        size_text = f"{size / 1e6:.2f} MB" if size else ""
        print(f"  {key:<30} {ms['median']:>10.3f} ({ms['min']:.3f}-{ms['max']:.3f}) {ratio_text:>22} {size_text:>9}")


def store_on_card(name, result, command):
    from keras_genai import zoo
    from keras_genai.zoo import preset

    meta = zoo.info(name)
    folder = meta.pop("path")
    meta.pop("pretrained_available", None)
    meta.setdefault("metrics", {})[CARD_KEY] = {**result, "command": command}
    preset.write_metadata(folder, meta)
    log(f"updated {os.path.join(folder, 'metadata.json')} and its model card")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", help=f"preset (repeatable; default: {', '.join(DEFAULT_PRESETS)})")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (default %(default)s)")
    parser.add_argument("--calls", type=int, default=50, help="calls per variant and round (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="LiteRT interpreter threads (default %(default)s: one core, as on a small device)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSON results path (default: %(default)s)")
    parser.add_argument("--update-card", action="store_true", help="store each preset's figures on its card")
    args = parser.parse_args()
    command = "python benchmarks/litert_edge.py " + " ".join(sys.argv[1:])
    results = {"environment": report.environment(), "command": command, "presets": {}}
    for name in args.preset or DEFAULT_PRESETS:
        log(f"{name}: exporting and timing")
        result = bench_preset(name, args.rounds, args.calls, args.threads)
        results["presets"][name] = result
        print_table(name, result)
        if args.update_card:
            store_on_card(name, {**result, "load_average": results["environment"].get("load_average")}, command)
    report.write_json(results, args.output)


if __name__ == "__main__":
    main()
