"""Benchmark of PixelCNN sampling on CPU: one compiled TensorFlow loop against the naive loop
that calls ``predict`` from Python once per pixel, in the same run, and the training step time.

    python benchmarks/pixelcnn_sampling.py [--preset pixelcnn_mnist] [--num-samples 64] [--quick]

1. Compiled: ``model.sample(n, seed)``: one ``tf.function`` with ``tf.while_loop`` over the
   pixels. For a gated network it runs the vertical stacks once per row and only the horizontal
   stacks and output layers per pixel (row cache). The first call includes tracing; the figure is
   the median of the calls after it. Also timed: the same compiled loop running the whole network
   (on the rows drawn so far) at every pixel.
2. Naive: ``model.sample_reference(n, seed)``: H * W calls of ``network.predict`` on the whole
   canvas from Python, with the same uniform numbers, so both must give the same images (checked).
3. Training: median time of one ``train_step`` at the recipe's batch size on binary images in memory,
   and the implied time of one epoch (60,000 images) on this machine.

Prints a table and writes JSON (default ``benchmarks/results/pixelcnn_sampling.json``). If the
preset has no weights, its untrained architecture is timed (speed does not depend on weights).
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

from report import write_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="pixelcnn_mnist")
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="timed compiled calls after the first")
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one timed compiled call, 4 training steps")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                         "pixelcnn_sampling.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.train_steps = 1, 4

    import keras
    import numpy as np
    import tensorflow as tf

    from keras_genai import zoo

    meta = zoo.info(args.preset)
    pretrained = meta["pretrained_available"]
    model = zoo.load(args.preset, pretrained=pretrained)
    n = args.num_samples
    results = {"preset": args.preset, "pretrained": pretrained, "num_samples": n, "seed": args.seed,
               "image_shape": list(model.image_shape), "parameters": model.count_params()}

    start = time.perf_counter()
    compiled = model.sample(n, seed=args.seed)
    first = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        compiled = model.sample(n, seed=args.seed)
        times.append(time.perf_counter() - start)
    results["compiled"] = {"seconds": statistics.median(times), "first_call_with_tracing_s": first,
                           "repeats_s": times}

    # The same compiled loop without the row cache: the whole network on the rows drawn so far,
    # once per pixel (what ``sample`` does for networks that are not a gated chain).
    loop = tf.function(model._sample_loop)
    uniforms = model.uniforms(n, args.seed)
    start = time.perf_counter()
    whole = (loop(uniforms) * 255).numpy().astype("uint8")
    first_whole = time.perf_counter() - start
    start = time.perf_counter()
    whole = (loop(uniforms) * 255).numpy().astype("uint8")
    results["compiled_whole_network_per_pixel"] = {"seconds": time.perf_counter() - start,
                                                   "first_call_with_tracing_s": first_whole,
                                                   "identical_to_compiled": bool(np.array_equal(whole, compiled))}

    start = time.perf_counter()
    naive = model.sample_reference(n, seed=args.seed)
    results["naive_predict_loop"] = {"seconds": time.perf_counter() - start,
                                     "predict_calls": int(np.prod(model.image_shape[:2]))}
    results["identical_images"] = bool(np.array_equal(compiled, naive))
    # float32 logits of differently shaped convolutions can differ in the last bits; a pixel
    # flips only if its uniform number falls in between (about 1e-7), so this should be 0.
    results["differing_pixels"] = int(np.sum(compiled != naive))
    results["speedup"] = results["naive_predict_loop"]["seconds"] / results["compiled"]["seconds"]

    batch = meta.get("training", {}).get("batch_size", 64)
    rng = np.random.default_rng(0)
    images = (rng.random((batch, *model.image_shape)) < 0.13).astype("float32")
    data = tf.data.Dataset.from_tensors(images).repeat(args.train_steps + 2)
    step_times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            step_times.append(time.perf_counter() - self.start)

    model.fit(data, epochs=1, verbose=0, callbacks=[Timer()])
    step = statistics.median(step_times[2:])
    results["train_step"] = {"batch_size": batch, "seconds": step, "images_per_second": batch / step,
                             "epoch_of_60000_s": step * 60000 / batch}

    results["environment"] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__, "keras": keras.__version__, "python": sys.version.split()[0],
        "platform": platform.platform(), "cpus": os.cpu_count(), "load_average": list(os.getloadavg()),
    }
    print(f"{args.preset}: {n} samples of {tuple(model.image_shape)} (pretrained: {pretrained})")
    print(f"  compiled tf.while_loop   {results['compiled']['seconds']:8.1f} s   (first call with tracing "
          f"{first:.1f} s)")
    print(f"  compiled, whole network per pixel (no row cache) "
          f"{results['compiled_whole_network_per_pixel']['seconds']:8.1f} s")
    print(f"  naive predict per pixel  {results['naive_predict_loop']['seconds']:8.1f} s   "
          f"({results['naive_predict_loop']['predict_calls']} predict calls)")
    print(f"  speedup {results['speedup']:.1f}x, identical images: {results['identical_images']} "
          f"({results['differing_pixels']} differing pixels)")
    print(f"  train step (batch {batch}): {step:.3f} s, {batch / step:.0f} images/s, "
          f"one epoch ~{step * 60000 / batch:.0f} s")
    write_json(results, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
