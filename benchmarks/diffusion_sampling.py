"""Diffusion sampling time against steps on CPU: the compiled sampler loop against a Python loop.

    python benchmarks/diffusion_sampling.py [--preset ddpm_mnist] [--steps 5,10,20,50] [--quick]

For each sampler that fits the preset's model and each number of steps, three ways of drawing the
same ``--num-samples`` images from the same initial noise are timed in alternation:

- ``compiled``: ``model.sample``, the whole sampler one ``tf.function`` holding a ``tf.while_loop``
  over the steps (what the exported ``sample`` signature runs);
- ``python_loop_call``: ``model.sample_reference``, the same sampler stepped from Python with one
  eager network call per evaluation;
- ``python_loop_predict``: the same again, each network call a ``denoiser.predict`` (the keras-io
  style loop), for ``--predict-steps`` only (it is the slowest).

The first call of each is a warm-up (tracing); figures are medians over ``--repeats`` with the
minimum and maximum, per image and per network evaluation (NFE), and the ratio of each Python
loop to the compiled one. The compiled and eager images are compared (they agree up to float
round-off). A preset without shipped weights is timed untrained: the time does not depend on the
weights. Results are printed and written as JSON (default benchmarks/results/diffusion_sampling.json).
"""

import argparse
import os
import statistics
import time

from report import environment, write_json

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "diffusion_sampling.json")


def _predict_loop(model, sampler, num_samples, steps, seed, labels):
    """The sampler stepped from Python with ``denoiser.predict`` for every network evaluation."""
    import numpy as np
    import tensorflow as tf

    from keras_genai.models import images as image_utils

    network = model.sampling_denoiser

    def predict(x_t, t):
        inputs = model._network_inputs(x_t, t, labels)
        prediction = tf.constant(network.predict(inputs, batch_size=num_samples, verbose=0), tf.float32)
        if model.objective == "v":
            prediction = model.schedule.epsilon_from_v(x_t, prediction, t)
        return prediction

    noise = tf.random.stateless_normal((num_samples, *model.image_shape), seed=[seed, 0])
    x0 = sampler.sample(predict, noise, steps, model.schedule,
                        seed=None if sampler.deterministic else tf.constant([seed, 1], tf.int64))
    return np.asarray(image_utils.to_uint8(tf.clip_by_value(x0, -1.0, 1.0)))


def _summary(times, images, evaluations):
    median = statistics.median(times)
    return {"median_s": median, "min_s": min(times), "max_s": max(times), "raw_s": times,
            "ms_per_image": 1000 * median / images, "ms_per_evaluation": 1000 * median / evaluations}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="ddpm_mnist")
    parser.add_argument("--steps", default="5,10,20,50", help="numbers of steps, comma separated")
    parser.add_argument("--predict-steps", type=int, default=10, help="steps of the predict() loop (0: skip it)")
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="steps 5,10, 2 repeats")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    import numpy as np

    from keras_genai import zoo
    from keras_genai.models.diffusion import samplers as sampler_lookup

    steps_list = [5, 10] if args.quick else [int(s) for s in args.steps.split(",")]
    repeats = 2 if args.quick else args.repeats
    meta = zoo.info(args.preset)
    pretrained = bool(meta["pretrained_available"])
    model = zoo.load(args.preset, pretrained=pretrained, compile=False)
    n = args.num_samples
    labels = np.arange(n) % model.num_classes if model.conditional else None
    conditions = {"labels": labels} if model.conditional else {}
    names = [name for name in sampler_lookup.NAMES if sampler_lookup.get(name).fits == model.fits]
    load_before = os.getloadavg()
    rows = []
    print(f"{args.preset} ({'pretrained' if pretrained else 'untrained'}), {n} images, {repeats} repeats")
    print(f"{'sampler':>10} {'steps':>5} {'NFE':>4} {'compiled s':>10} {'python s':>9} {'ratio':>6} "
          f"{'predict s':>9} {'ratio':>6} {'max |diff|':>10}")
    for name in names:
        sampler = model._check_sampler(name)
        for steps in steps_list:
            evaluations = sampler.evaluations(steps)
            ways = {"compiled": lambda: model.sample(n, seed=0, steps=steps, sampler=name, **conditions),
                    "python_loop_call": lambda: model.sample_reference(n, 0, steps=steps, sampler=name, **conditions)}
            if steps == args.predict_steps:
                import tensorflow as tf

                predict_labels = None if labels is None else tf.constant(labels, tf.int32)
                ways["python_loop_predict"] = lambda: _predict_loop(model, sampler, n, steps, 0, predict_labels)
            outputs = {way: fn() for way, fn in ways.items()}  # warm-up: tracing, first allocations
            times = {way: [] for way in ways}
            for _ in range(repeats):
                for way, fn in ways.items():
                    start = time.perf_counter()
                    fn()
                    times[way].append(time.perf_counter() - start)
            row = {"sampler": name, "steps": steps, "evaluations": evaluations,
                   **{way: _summary(t, n, evaluations) for way, t in times.items()},
                   "max_abs_difference_uint8": int(np.abs(outputs["compiled"].astype(int)
                                                          - outputs["python_loop_call"].astype(int)).max())}
            compiled = row["compiled"]["median_s"]
            for way in ways:
                if way != "compiled":
                    row[way]["ratio_to_compiled"] = row[way]["median_s"] / compiled
            rows.append(row)
            predict = row.get("python_loop_predict")
            print(f"{name:>10} {steps:>5} {evaluations:>4} {compiled:>10.3f} {row['python_loop_call']['median_s']:>9.3f} "
                  f"{row['python_loop_call']['ratio_to_compiled']:>6.2f} "
                  + (f"{predict['median_s']:>9.3f} {predict['ratio_to_compiled']:>6.2f}" if predict else f"{'':>16}")
                  + f" {row['max_abs_difference_uint8']:>10}", flush=True)
    results = {"preset": args.preset, "pretrained": pretrained, "num_samples": n, "repeats": repeats,
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "environment": environment(), "rows": rows}
    write_json(results, args.output)


if __name__ == "__main__":
    main()
