"""Benchmark of discriminator-ranked GAN sampling on CPU: ``sample(n, candidates=m)`` against
plain ``sample(n)``.

    python benchmarks/ranked_sampling.py [--preset dcgan_mnist] [--num-samples 256] [--quick]

Each image of ``sample(n, candidates=m)`` is the most real of m generator draws by the
discriminator, so it runs the generator and the discriminator on n * m images. The script times
``sample(n, seed=0, candidates=m)`` for m in (1, 2, 4, 6) in one process (median of several
repeats after one warm-up call) and reports each median's ratio to m = 1. What the ranking buys
in quality is measured by ``keras-genai evaluate <preset> --candidates m`` (FID, IS), not here.

Prints a table and writes JSON (default ``benchmarks/results/ranked_sampling.json``).
"""

import argparse
import os

from report import environment, timed, write_json

CANDIDATES = (1, 2, 4, 6)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="dcgan_mnist")
    parser.add_argument("--num-samples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "ranked_sampling.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 3

    from keras_genai import zoo

    pretrained = zoo.info(args.preset)["pretrained_available"]
    model = zoo.load(args.preset, pretrained=pretrained, compile=False)
    if model.conditional:
        raise SystemExit(f"{args.preset} is conditional; this benchmark times unconditional GANs")
    results = {"preset": args.preset, "pretrained": pretrained, "num_samples": args.num_samples,
               "repeats": args.repeats, "candidates": {}}
    for m in CANDIDATES:
        median, times = timed(lambda m=m: model.sample(args.num_samples, seed=0, candidates=m), args.repeats)
        results["candidates"][str(m)] = {"seconds": median, "repeats_s": times,
                                         "images_per_second": args.num_samples / median}
    base = results["candidates"]["1"]["seconds"]
    for entry in results["candidates"].values():
        entry["time_ratio_to_plain"] = entry["seconds"] / base
    results["environment"] = environment()

    print(f"{args.preset}: sample({args.num_samples}, seed=0, candidates=m), median of {args.repeats}")
    print("   m   seconds   images/s   x plain")
    for m, entry in results["candidates"].items():
        print(f"  {m:>2}   {entry['seconds']:7.3f}   {entry['images_per_second']:8.0f}   "
              f"{entry['time_ratio_to_plain']:6.2f}x")
    write_json(results, args.output)


if __name__ == "__main__":
    main()
