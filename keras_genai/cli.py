"""The ``keras-genai`` command line: list, info, sample, train, export."""

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time

EXAMPLES = """examples:
  keras-genai list
  keras-genai info dcgan_mnist
  keras-genai sample dcgan_mnist -n 64 --seed 0 --output samples.png
  keras-genai sample cgan_mnist -n 8 --labels 7 --output sevens.png
  keras-genai generate gpt_shakespeare --prompt "ROMEO:" -n 300 --temperature 0.8 --seed 0
  keras-genai train dcgan_mnist --epochs 1 --output my_dcgan --workdir runs/dcgan
  keras-genai evaluate dcgan_mnist --num-samples 10000 --features mnist
  keras-genai export dcgan_mnist --output export/dcgan_mnist --format all

A family's own sampling options pass through `sample` and `evaluate` as --NAME VALUE
(the conditions its sample() takes; diffusion: --steps, --sampler, --guidance):
  keras-genai sample ddpm_mnist --steps 10 --sampler ddim --seed 0

Offline data: set KERAS_GENAI_DATA_DIR to a folder with one sub-folder of original
dataset archives per dataset (for example <dir>/mnist/train-images-idx3-ubyte.gz).
"""


def main(argv=None):
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) not in OPTION_COMMANDS:
        parser.parse_args(argv)  # argparse's own message and exit for arguments it does not know
    if getattr(args, "command", None) in OPTION_COMMANDS:
        try:
            args.sample_options = _sample_options(extra)
        except ValueError as error:
            print(f"keras-genai {args.command}: error: {error}", file=sys.stderr)
            return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        _resolve_url_preset(args)
        if args.command not in FILE_ONLY_COMMANDS:
            _import_tensorflow(verbose=args.verbose)
        return args.run(args) or 0
    except (ValueError, KeyError, TypeError, OSError) as error:  # OSError: downloads, files
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"keras-genai {args.command}: error: {message}", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-genai",
        description="Generative models for Keras 3: load presets, sample, train, export.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("list", help="list the presets")
    p.set_defaults(run=_list)

    p = commands.add_parser("info", help="show a preset's metadata (recipe, metrics, weights)")
    p.add_argument("preset", help="preset name, folder or URL")
    _add_sha256(p)
    p.add_argument("--json", action="store_true", help="print the raw metadata as JSON")
    p.set_defaults(run=_info)

    p = commands.add_parser("sample", help="draw samples from a preset and save a PNG grid", epilog=OPTIONS_HELP)
    p.add_argument("preset", help="preset name, folder or URL")
    _add_sha256(p)
    p.add_argument("-n", "--num-samples", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=None, help="integer seed for reproducible samples")
    p.add_argument("--output", default="samples.png", help="PNG path (default samples.png)")
    p.add_argument("--npy", default=None, help="also save the uint8 array (n, H, W, C) as .npy")
    p.add_argument("--labels", default=None,
                   help="conditional presets: one class for all samples (7) or one per sample (0,1,2,...)")
    p.add_argument("--weights", default=None, help="a .weights.h5 path or URL to use instead")
    p.add_argument("--weights-sha256", default=None, metavar="HEX",
                   help="sha256 of --weights (required when it is a URL)")
    p.add_argument("--candidates", type=int, default=1,
                   help="GANs: keep the most real (by the discriminator) of this many draws per image (default 1)")
    p.set_defaults(run=_sample)

    p = commands.add_parser("generate", help="continue a prompt with a language-model preset (gpt_shakespeare)")
    p.add_argument("preset", help="preset name, folder or URL")
    _add_sha256(p)
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("-n", "--max-new-tokens", type=int, default=500, help="characters to add (default 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; default 0.8")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k most likely characters")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold in (0, 1]")
    p.add_argument("--seed", type=int, default=None, help="integer seed for reproducible text")
    p.set_defaults(run=_generate)

    p = commands.add_parser("train", help="train a preset's recipe (every stage, from scratch) and save the result",
                            description="Runs the preset's recipe, a list of stages (metadata.json 'recipe'), from "
                            "scratch and saves the result as a preset. --epochs, --batch-size, --steps-per-epoch, "
                            "--seed, --dtype and --learning-rate apply to every stage (quick runs).")
    p.add_argument("preset", help="preset whose architecture and recipe to train")
    _add_sha256(p)
    p.add_argument("--output", default=None, help="folder for the trained preset (required unless --dry-run)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan as JSON ({\"stages\": [...]}, with these flags applied) and train nothing")
    p.add_argument("--stop-after-stage", type=int, default=None, metavar="N",
                   help="run stages 1..N of the recipe only and save the model of stage N")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every stage (default: each stage's own)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size of every stage (default: each stage's)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="limit each epoch of every stage (quick runs)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the data order, initial weights and training noise of every stage "
                        "(default: each stage's)")
    p.add_argument("--workdir", default=None, help="checkpoints, sample grids, TensorBoard logs; a recipe of several "
                   "stages keeps each in <workdir>/stage_NN/ and a finished stage's model in <workdir>/stage_NN/preset; "
                   "rerunning with the same workdir skips finished stages and resumes an interrupted one")
    p.add_argument("--from-pretrained", action="store_true",
                   help="fine-tune the preset's weights with the recipe's last stage (its epochs and optimizers; "
                        "without its build, options and transform)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="peak learning rate instead of the recipe's (a schedule is scaled to it)")
    p.add_argument("--weight-averaging", type=float, default=None, metavar="DECAY",
                   help="keep an exponential moving average of the weights (e.g. 0.999) and save it; "
                   "single-optimizer presets (VAE, PixelCNN, GPT)")
    p.add_argument("--dtype", default=None, metavar="POLICY",
                   help="train every stage under this Keras dtype policy (default: each stage's), e.g. "
                        "mixed_bfloat16 (CPUs with AVX512-BF16, TPUs) or mixed_float16 (GPUs); the saved preset "
                        "computes in float32")
    p.add_argument("--data-dir", default=None, help="TFDS data_dir for prepared datasets")
    p.add_argument("--manual-dir", default=None, help="folder with the dataset's original archives (offline)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.set_defaults(run=_train)

    p = commands.add_parser("evaluate", help="measure FID, KID, IS, precision/recall of a preset's samples",
                            epilog=OPTIONS_HELP)
    p.add_argument("preset", help="preset name, folder or URL")
    _add_sha256(p)
    p.add_argument("--metrics", default="fid,kid,is,pr", help="comma separated: fid, kid, is, pr")
    p.add_argument("--num-samples", type=int, default=10_000, help="generated images (default 10000)")
    p.add_argument("--features", choices=["mnist", "inception"], default="mnist",
                   help="feature network: the shipped MNIST classifier (offline) or InceptionV3 (downloads)")
    p.add_argument("--reference", default=None, help="TFDS dataset/split to compare with (default: <preset dataset>/test)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--candidates", type=int, default=1,
                   help="GANs: evaluate discriminator-ranked samples, the most real of this many draws per "
                        "image; the card stores them apart from the plain samples (default 1)")
    p.add_argument("--output", default=None, help="write the results as JSON here")
    p.add_argument("--update-card", action="store_true",
                   help="store the results in the preset's metadata.json and re-render its model card")
    p.add_argument("--k", type=int, default=5000,
                   help="VAE presets: importance samples per test image for the NLL bound (default 5000)")
    p.add_argument("--num-examples", type=int, default=None,
                   help="VAE and PixelCNN presets: test images for the NLL (default: the whole test split)")
    p.add_argument("--litert", default=None, metavar="QUANTIZE",
                   help="evaluate samples drawn through the preset's LiteRT file, exported here with this "
                        "quantization (float32, float16, dynamic_int8, full_int8) at the default fixed batch; "
                        "the card stores them apart (key ..._litert_<quantize>)")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("floor", help="the same metrics for real data (train vs test): the best to expect")
    p.add_argument("dataset", help="TFDS image dataset, for example mnist")
    p.add_argument("--features", choices=["mnist", "inception"], default="mnist")
    p.add_argument("--num-samples", type=int, default=10_000, help="images of the train split (default 10000)")
    p.add_argument("--output", default=None, help="write the results as JSON here")
    p.add_argument("--update-card", action="store_true",
                   help="store the floor in the feature network's preset card (mnist_classifier)")
    p.set_defaults(run=_floor)

    p = commands.add_parser("export", help="export for TF Serving (SavedModel) and LiteRT, checked")
    p.add_argument("preset", help="preset name, folder or URL")
    _add_sha256(p)
    p.add_argument("--output", required=True, help="base folder; SavedModel goes to <output>/<version>/")
    p.add_argument("--format", choices=["saved_model", "tflite", "all"], default="all")
    p.add_argument("--version", type=int, default=1, help="TF Serving version folder (default 1)")
    p.add_argument("--quantize", default=None,
                   help="LiteRT variants, comma separated: float32, float16, dynamic_int8 (int8 weights), full_int8 "
                        "(integer-only, for NPUs and microcontrollers); default: every one the family offers")
    p.add_argument("--tflite-batch-size", default="1", metavar="N|dynamic",
                   help="the LiteRT files' fixed batch size (default 1), or 'dynamic' for a resizable batch "
                        "(much slower: LiteRT's XNNPACK skips dynamic shapes)")
    p.add_argument("--overwrite", action="store_true", help="replace existing export files")
    p.add_argument("--no-check", action="store_true", help="skip the fresh-process parity checks")
    p.set_defaults(run=_export)
    for command in commands.choices.values():
        command.add_argument("--verbose", action="store_true",
                             help="show TensorFlow's native log lines (hidden by default)")
    return parser


def _tflite_batch_size(text):
    """``--tflite-batch-size``: "dynamic" (None) or a positive integer (``export.validate_batch_size``)."""
    from keras_genai import export

    if text == "dynamic":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"--tflite-batch-size: expected a positive integer or 'dynamic', got {text!r}") from None
    export.validate_batch_size(value)
    return value


# Commands that read preset files only and never start TensorFlow (about a second, not five).
FILE_ONLY_COMMANDS = ("list", "info")


def _import_tensorflow(verbose=False):
    """Imports TensorFlow, Keras and the families before a command runs. Unless ``verbose`` (or
    the user set ``TF_CPP_MIN_LOG_LEVEL``), TensorFlow's native log lines are kept off the
    terminal: those written while it loads (before its logging starts, so no log level stops
    them: the oneDNN and CUDA banners) are dropped, or shown if the import fails, and later
    ones are filtered at level 3 (``failed call to cuInit`` on a machine without a GPU)."""
    if "tensorflow" in sys.modules or verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import keras_genai.models  # noqa: F401
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # inherited by the export checks' processes too
    with _native_stderr_dropped():
        import keras_genai.models  # noqa: F401 (imports tensorflow and keras)


@contextlib.contextmanager
def _native_stderr_dropped():
    """Sends whatever writes to file descriptor 2 (native code included) into a temporary file
    while the block runs; the file is shown on stderr if the block raises, dropped otherwise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# Commands whose unknown ``--NAME VALUE`` arguments are the model's own sample conditions
# (``GenerativeModel.sample_conditions``), checked once the model is loaded.
OPTION_COMMANDS = ("sample", "evaluate")
OPTIONS_HELP = ("a family's own sampling options pass through as --NAME VALUE: the conditions its sample() takes "
                "(diffusion: --steps 10 --sampler ddim --guidance 2); others are refused, naming the ones it takes")


def _sample_options(extra):
    """``{"name": value}`` from ``["--name", "value", "--other=value", ...]``: a value is an int,
    else a float, else the string. Dashes in names become underscores."""
    options, tokens = {}, list(extra)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--") or len(token) == 2:
            raise ValueError(f"unrecognized argument {token!r}; a sampling option is written --NAME VALUE")
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if not tokens or tokens[0].startswith("--"):
                raise ValueError(f"--{name} needs a value (--{name} VALUE)")
            value = tokens.pop(0)
        options[name.replace("-", "_")] = _option_value(value)
    return options


def _option_value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _add_sha256(parser):
    parser.add_argument("--sha256", default=None, metavar="HEX",
                        help="sha256 of the preset archive (required when the preset is a URL)")


def _resolve_url_preset(args):
    """A URL preset is downloaded (or found in the cache) and checked against ``--sha256`` once,
    before the command runs; the command then works on the verified local folder."""
    preset = getattr(args, "preset", None)
    if preset is None:
        return
    from keras_genai.zoo import remote

    if not remote.is_url(preset):
        if args.sha256:
            raise ValueError(f"--sha256 checks a URL preset's archive; {preset!r} is not a URL "
                             "(a shipped or local preset is checked against its own metadata.json)")
        return
    if getattr(args, "update_card", False):
        raise ValueError(f"--update-card writes into a preset folder; {preset} is a URL whose cached copy is "
                         "rebuilt from its archive on every use. Download and unpack it, then evaluate that folder")
    if not args.sha256:
        raise ValueError(f"{preset} is a URL: pass --sha256 HEX (the archive's sha256) so it can be checked "
                         "before anything is loaded")
    from keras_genai.zoo import registry

    args.preset = registry.resolve(preset, args.sha256)


def _list(args):
    """One row per preset, columns as wide as their longest entry, the description cut at a word
    to fit the terminal (``info`` shows it whole)."""
    from keras_genai import zoo

    rows = []
    for name in zoo.list():
        meta = zoo.info(name)
        rows.append((name, meta.get("family", ""), (meta.get("dataset") or {}).get("name", ""),
                     "pretrained" if meta["pretrained_available"] else "recipe only",
                     " ".join(meta.get("description", "").split())))
    header = ("preset", "family", "dataset", "weights", "description")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    room = max(30, shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * 4 - 1)
    for row in [header] + rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths)]
        print("  ".join(cells + [_cut_at_word(row[4], room)]).rstrip())


def _cut_at_word(text, width):
    """``text`` if it fits in ``width`` characters, else its longest prefix of whole words that
    fits with a closing "..."."""
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def _info(args):
    """A summary a person reads (family, data, weights, the recipe, headline metrics, how to use);
    ``--json`` prints the whole metadata. Reads files only: no TensorFlow."""
    from keras_genai import zoo

    meta = zoo.info(args.preset)
    if args.json:
        print(json.dumps(meta, indent=2))
        return
    name, dataset, weights = meta["name"], meta.get("dataset") or {}, meta.get("weights") or {}
    print(f"{name}: {meta.get('description', '')}")
    print(f"  family:     {meta.get('family', '?')}")
    if dataset:
        print(f"  data:       {dataset.get('name', '?')}/{dataset.get('split', 'train')}"
              + (" with labels" if "labels" in dataset else ""))
    if meta["pretrained_available"]:
        size = f"{weights['bytes'] / 1e6:.1f} MB, " if weights.get("bytes") else ""
        print(f"  weights:    available ({size}{meta.get('parameters', '?')} parameters)")
    else:
        print(f"  weights:    not available here: {weights.get('unavailable', 'none shipped')}")
    for line in _recipe_lines(meta):
        print(f"  {line}")
    for line in _metric_lines(meta.get("metrics") or {}):
        print(f"  {line}")
    print(f"  use:        keras_genai.zoo.load({name!r}); model card: {os.path.join(meta['path'], 'README.md')}")
    print(f"  (`keras-genai info {args.preset} --json` prints all the metadata)")


# Headline numbers of an evaluation (``metrics[key]`` of metadata.json), in the order shown.
HEADLINE = (("fid", "FID", "{:.3g}"), ("is_mean", "IS", "{:.3g}"), ("label_accuracy", "label accuracy", "{:.2%}"),
            ("nll", "test NLL", "{:.2f} nats"), ("bits_per_dim", "bits/dim", "{:.4f}"),
            ("accuracy", "accuracy", "{:.2%}"), ("bits_per_char", "bits/char", "{:.3f}"),
            ("perplexity", "perplexity", "{:.3g}"))


COUNTS = (("num_samples", "samples"), ("num_examples", "examples"), ("characters", "characters"))


def _metric_lines(metrics):
    """One line per stored evaluation with its headline numbers and counts, then the plain numbers."""
    lines = []
    for key, results in metrics.items():
        if not isinstance(results, dict):
            continue
        if isinstance(results.get("test"), dict):  # a language model's splits
            results = results["test"]
            key += " (test split)"
        numbers = [f"{label} {fmt.format(results[field])}" for field, label, fmt in HEADLINE
                   if isinstance(results.get(field), (int, float))]
        counts = [f"{results[field]} {unit}" for field, unit in COUNTS if results.get(field)]
        if numbers:
            lines.append(f"{key}: " + ", ".join(numbers) + (f" ({', '.join(counts)})" if counts else ""))
    scalars = [f"{key} {value:.4g}" for key, value in metrics.items() if isinstance(value, (int, float))]
    if scalars:
        lines.append(", ".join(scalars))
    if not lines:
        return ["metrics:    none measured yet"]
    return [f"metrics:    {lines[0]}"] + [f"            {line}" for line in lines[1:]]


def _recipe_lines(meta):
    """The plan ``keras-genai train`` runs for a preset, one line per stage (``stages.stage_line``)."""
    from keras_genai.zoo import stages

    try:
        plan = stages.filled(stages.stages_of(meta))  # as written; `train` checks it before it trains
    except ValueError as error:  # PresetError included
        return [f"recipe:     none: {error}"]
    epochs = sum(stage["epochs"] for stage in plan)
    heading = (f"recipe:     {len(plan)} stage{'s' if len(plan) > 1 else ''}, {epochs} epochs "
               f"(`keras-genai train {meta['name']} --dry-run` prints it as JSON)")
    return [heading] + ["  " + stages.stage_line(stage, number) for number, stage in enumerate(plan, 1)]


def _sample(args):
    import numpy as np

    from keras_genai import files, plot, zoo

    png, npy = _sample_outputs(args)  # checked before sampling: a bad path writes nothing
    model = zoo.load(args.preset, weights=args.weights, weights_sha256=args.weights_sha256, compile=False)
    _check_makes(model, "images", args.preset)
    kwargs = {}
    if args.labels is not None:
        try:
            labels = [int(v) for v in args.labels.split(",")]
        except ValueError:
            raise ValueError(f"--labels takes integers separated by commas, got {args.labels!r}") from None
        kwargs["labels"] = labels[0] if len(labels) == 1 else labels
    if args.candidates != 1:
        kwargs["candidates"] = args.candidates
    kwargs.update(_own_options(args, ("labels", "candidates")))
    images = model.sample(args.num_samples, seed=args.seed, **model.check_conditions(**kwargs))
    plot.save_grid(images, png)
    if npy:
        with files.atomic_write(npy, "wb") as f:
            np.save(f, images)
    print(f"saved {len(images)} samples {images.shape[1:]} uint8 to {png}" + (f" and {npy}" if npy else ""))


def _own_options(args, flagged):
    """The pass-through sampling options of ``args``, refusing those the command has a flag for."""
    options = dict(getattr(args, "sample_options", {}))
    for name in flagged:
        if name in options:
            raise ValueError(f"use --{name.replace('_', '-')} for {name} (it has its own flag), not the pass-through form")
    return options


# The command that shows each kind of output a model can make (``GenerativeModel.generates``).
COMMAND_FOR = {"images": "sample", "text": "generate"}


def _check_makes(model, kind, preset):
    """Refuses a command made for ``kind`` ("images", "text") on a model that makes something else,
    naming the command that fits it."""
    if model.generates == kind:
        return
    command = COMMAND_FOR.get(model.generates)
    hint = f"; use `keras-genai {command} {preset}`" if command else ""
    raise ValueError(f"{preset} generates {model.generates}, not {kind}{hint}")


def _sample_outputs(args):
    """The paths ``sample`` writes (the PNG grid, the .npy array or None), as ``savefig`` and
    ``np.save`` name them, after checking that both can be written."""
    from keras_genai import files, plot

    files.check_writable_file(args.output, "--output")
    png, _ = plot.image_format(args.output)
    files.check_writable_file(png, "--output")
    if not args.npy:
        return png, None
    files.check_writable_file(args.npy, "--npy")
    npy = args.npy if args.npy.endswith(".npy") else args.npy + ".npy"
    files.check_writable_file(npy, "--npy")
    if os.path.abspath(npy) == os.path.abspath(png):
        raise ValueError(f"--output and --npy are the same file ({png}); give two paths")
    return png, npy


def _generate(args):
    from keras_genai import zoo

    model = zoo.load(args.preset, compile=False)
    _check_makes(model, "text", args.preset)
    print(model.generate(args.prompt, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                         top_p=args.top_p, seed=args.seed))


# What --epochs, --batch-size and --steps-per-epoch are called on the command line.
TRAIN_COUNTS = {"epochs": "--epochs", "batch_size": "--batch-size", "steps_per_epoch": "--steps-per-epoch",
                "stop_after_stage": "--stop-after-stage"}


class _TrainingFailed(Exception):
    """A stage ended without a model worth saving; the message says what was kept."""


def _train(args):
    """``keras-genai train``: checks the counts, the plan (every stage of the recipe) and the
    --output target before anything is read or written, then trains with the workdir locked
    (one run per workdir; see ``_train_and_save``). ``--dry-run`` prints the plan and stops."""
    from keras_genai import callbacks, files

    for name, flag in TRAIN_COUNTS.items():
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value}")
    if args.dry_run:
        from keras_genai.zoo import stages

        print(json.dumps(stages.plan_summary(_training_plan(args)), indent=2))
        return None
    if not args.output:
        raise ValueError("--output is required: the folder for the trained preset (or pass --dry-run)")
    files.check_replaceable(args.output, args.overwrite, "preset", protected=(args.workdir,) if args.workdir else ())
    plan = _training_plan(args)
    if not args.workdir:
        return _train_and_save(args, plan)
    with callbacks.locked_workdir(args.workdir, _command_line()):
        return _train_and_save(args, plan)


def _training_plan(args):
    """The stages this run trains: the preset's recipe (``zoo.stages``), checked whole, with
    --from-pretrained (the last stage alone, on the preset's weights), --stop-after-stage and the
    per-stage overrides (--epochs, --batch-size, --seed, --dtype) applied."""
    from keras_genai import zoo
    from keras_genai.zoo import preset as preset_files, registry, stages

    meta = zoo.info(args.preset)
    config = preset_files.read_json(registry.resolve(args.preset), preset_files.CONFIG_FILE)
    plan = stages.check_plan(stages.stages_of(meta), config)
    if args.from_pretrained:
        plan = [{k: v for k, v in plan[-1].items() if k not in ("build", "options", "transform")}]
    if args.stop_after_stage is not None:
        if args.stop_after_stage > len(plan):
            raise ValueError(f"--stop-after-stage {args.stop_after_stage}: the plan has {len(plan)} stage(s)"
                             + (" (--from-pretrained trains the last stage only)" if args.from_pretrained else ""))
        plan = plan[:args.stop_after_stage]
    dtype = _dtype_policy(args.dtype) if args.dtype else None
    for stage in plan:
        for field, value in (("epochs", args.epochs), ("batch_size", args.batch_size), ("seed", args.seed),
                             ("dtype_policy", (dtype or "float32") if args.dtype else None)):
            if value is not None:
                stage[field] = value
    return plan


def _stage_folders(args, number, stages_in_recipe):
    """(run folder, finished-stage preset folder or None) of stage ``number``. A one-stage
    recipe runs in the workdir itself; a longer one in ``<workdir>/stage_NN``, whose ``preset``
    keeps the stage's model once it is done (the last stage's goes to --output)."""
    if not args.workdir:
        return None, None
    if stages_in_recipe == 1:
        return args.workdir, None
    folder = os.path.join(args.workdir, f"stage_{number:02d}")
    return folder, (os.path.join(folder, "preset") if number < stages_in_recipe else None)


def _train_and_save(args, plan):
    """Runs the stages of ``plan`` one after the other and saves the last one's model to
    --output. Each stage starts from the model the previous one ended with (``zoo.stages``),
    with fresh optimizers and its data order restarted at its seed. With a workdir a finished
    stage is kept as a preset in ``<workdir>/stage_NN/preset``: a rerun skips it (after checking
    it was made with the same settings) and resumes the interrupted stage from its backup.

    A run that cannot end in a good preset exits 1 and keeps what can be recovered: stopped by a
    non-finite loss, the last good checkpoint and backup; a finished training whose save failed,
    a copy of the preset (``_keep_trained_preset``) and the backup. The backup is removed only
    once the preset is in place, so a run killed while saving finishes without training again
    when the same command is run again."""
    import keras

    from keras_genai import zoo
    from keras_genai.zoo import registry, stages

    meta = zoo.info(args.preset)
    preset_folder = registry.resolve(args.preset)
    recipe_length = 1 if args.from_pretrained else len(stages.stages_of(meta))
    base_compile_config = zoo.training_recipe(args.preset)
    model, log, builder_options, transformed = None, [], {}, False
    for number, stage in enumerate(plan, 1):
        run_dir, finished = _stage_folders(args, number, recipe_length)
        builder_options.update(stage.get("options", {}))
        settings = {"preset": args.preset, "from_pretrained": bool(args.from_pretrained),
                    "batch_size": stage["batch_size"], "steps_per_epoch": args.steps_per_epoch, "seed": stage["seed"],
                    "learning_rate": args.learning_rate, "weight_averaging": args.weight_averaging,
                    "dtype": _dtype_policy(stage["dtype_policy"])}
        if recipe_length > 1:
            settings.update(stage=number, plan=stage)
        if finished and os.path.isdir(finished):
            model, entry = _finished_stage(finished, settings)
            print(f"stage {number} of {recipe_length}: done earlier, kept in {finished}; skipped", flush=True)
        else:
            dtype = _dtype_policy(stage["dtype_policy"])
            keras.utils.set_random_seed(stage["seed"])
            notes = {}
            if number == 1 and args.from_pretrained:
                noise_seed = stage["seed"] if _has_noise_seed(args.preset) else None
                model = zoo.load(args.preset, compile=False, dtype=dtype, seed=noise_seed)
            elif number == 1:
                model = stages.build_first(stage, stage["seed"], dtype, preset_folder)
            else:
                model, notes = stages.next_model(model, stage, plan[0], builder_options, transformed, stage["seed"],
                                                 dtype)
            try:
                model, entry = _run_stage(args, meta, stage, model, run_dir, settings, base_compile_config,
                                          number, recipe_length)
            except _TrainingFailed as failure:
                return _train_failed(str(failure))
            entry.update(notes)
            if number < len(plan) or finished:
                model = stages.copy_model(model, dtype="float32") if dtype else model
            if finished:  # kept for a rerun; its backup is no longer needed
                _save_finished_stage(model, meta, finished, settings, entry, dtype)
                shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)
        transformed = transformed or "transform" in stage
        log.append(entry)
    return _save_trained(args, meta, plan, log, model, recipe_length, preset_folder)


def _finished_stage(folder, settings):
    """(model, run-log entry) of a stage kept by an earlier run; refused when its settings differ."""
    from keras_genai import zoo

    kept = zoo.info(folder).get("training", {})
    if json.loads(json.dumps(settings)) != kept.get("settings"):
        raise ValueError(f"{folder} holds a finished stage made with other settings than this run's; rerun with "
                         "the same flags, or use another --workdir")
    return zoo.load(folder, compile=False), kept.get("stage_log", {})


def _save_finished_stage(model, meta, folder, settings, entry, dtype):
    from keras_genai import zoo

    stage_meta = {key: value for key, value in meta.items() if key not in ("path", "pretrained_available", "weights")}
    stage_meta.update(training={"settings": settings, "stage_log": entry}, metrics={})
    zoo.save_preset(model, folder, stage_meta, overwrite=True, samples=False, dtype="float32" if dtype else None)


def _run_stage(args, meta, stage, model, run_dir, settings, base_compile_config, number, count):
    """Compiles ``model`` with the stage's optimizers, builds the stage's training data, fits it
    (resuming from the backup in ``run_dir``) and returns ``(model, run-log entry)``; raises
    ``_TrainingFailed`` when the loss or the weights are not finite."""
    from keras_genai import callbacks, zoo
    from keras_genai.zoo import stages

    epochs, batch_size, seed = stage["epochs"], stage["batch_size"], stage["seed"]
    optimizers = stages.compile_config_for(stage.get("optimizers"), base_compile_config)
    if args.learning_rate is not None or args.weight_averaging is not None:
        optimizers = zoo.recipe.retuned(optimizers, args.learning_rate, args.weight_averaging)
    if optimizers:
        model.compile_from_config(optimizers)
    # An interrupted run (same --workdir) resumes at the backup's epoch; the step-keyed data
    # streams start exactly where the uninterrupted run would be, so it ends the same.
    # Resuming with another batch size, step count or seed would shift every batch: refused.
    backup_dir = os.path.join(run_dir, "backup") if run_dir else None
    start_epoch = callbacks.backup_epoch(backup_dir, settings) if backup_dir else 0
    if start_epoch > epochs:
        raise ValueError(f"{backup_dir} holds a run that finished {start_epoch} epochs, more than --epochs {epochs}; "
                         f"pass --epochs {start_epoch} or more to continue it, or use another --workdir")
    earlier_seconds = callbacks.backup_training_seconds(backup_dir) if start_epoch else 0.0
    earlier_logs = callbacks.backup_logs(backup_dir) if start_epoch else {}
    dataset = meta["dataset"]
    train, steps = model.training_data(dataset, stage, batch_size, seed, start_epoch=start_epoch,
                                       steps_per_epoch=args.steps_per_epoch, data_dir=args.data_dir,
                                       manual_dir=args.manual_dir)
    guard = callbacks.StopOnNonFinite()
    cbs = [guard]
    if run_dir:
        cbs += callbacks.standard(run_dir, start_epoch=start_epoch, settings=settings, keep_backup=True, model=model)
    if start_epoch == epochs:
        resuming = f", all {epochs} epochs done before the run was stopped: saving the preset"
    else:
        resuming = f", resuming after epoch {start_epoch}" if start_epoch else ""
    which = f"stage {number} of {count}: " if count > 1 else ""
    print(f"{which}training {args.preset} on {dataset['name']}/{dataset.get('split', 'train')}: "
          f"{epochs} epochs of {steps} steps, batch {batch_size}, seed {seed}{resuming}", flush=True)
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps, callbacks=cbs, shuffle=False,
                        verbose=1 if sys.stdout.isatty() else 2)
    wall = (earlier_seconds or 0.0) + time.perf_counter() - start
    if guard.failure:
        raise _TrainingFailed(f"training stopped: {guard.failure}; no preset was saved. "
                              f"{_kept_after_failure(args, run_dir)}. Lower --learning-rate (in another --workdir: "
                              "a backup resumes only its own settings) or check the data")
    broken = callbacks.non_finite_weights(model)
    if broken:
        raise _TrainingFailed(f"the trained weights hold non-finite values ({len(broken)} arrays: "
                              f"{', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); no preset was saved. "
                              f"{_kept_after_failure(args, run_dir)}")
    # Stopped after its last epoch, a resumed run trains nothing: the logs of that epoch are the backup's.
    final_logs = {k: round(float(v[-1]), 4) for k, v in history.history.items() if v} or \
        {k: round(float(v), 4) for k, v in earlier_logs.items()}
    entry = {"stage": number, "epochs": epochs, "steps_per_epoch": steps, "wall_time_s": round(wall, 1),
             "final_logs": final_logs}
    if start_epoch:
        if earlier_seconds is None:
            counted = (f"wall_time_s counts epochs {start_epoch + 1}-{epochs} only (the backup did not record "
                       "the time before)")
        else:
            counted = f"wall_time_s adds the {earlier_seconds:.0f} s of the completed epochs before it"
        entry["resumed"] = f"interrupted and resumed after epoch {start_epoch}; {counted}"
    return model, entry


def _save_trained(args, meta, plan, log, model, recipe_length, preset_folder):
    """Writes the run log (``training``) and saves the model of the last stage run to --output."""
    import keras

    from keras_genai import zoo
    from keras_genai.zoo import preset as preset_files, stages

    last = log[-1]
    dtypes = sorted({stage["dtype_policy"] for stage in plan})
    training = {
        "epochs": sum(entry["epochs"] for entry in log), "batch_size": plan[-1]["batch_size"],
        "seed": plan[-1]["seed"], "steps_per_epoch": args.steps_per_epoch,
        "command": _command_line(), "wall_time_s": round(sum(entry["wall_time_s"] for entry in log), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow "
                   f"{__import__('tensorflow').__version__}, Keras {keras.__version__}",
        "final_logs": last["final_logs"],
    }
    if dtypes != ["float32"]:
        training["dtype_policy"] = ", ".join(dtypes)
    if "resumed" in last:
        training["resumed"] = last["resumed"]
    if args.learning_rate is not None or args.weight_averaging is not None:
        training["retuned"] = {"learning_rate": args.learning_rate, "weight_averaging": args.weight_averaging}
    if args.from_pretrained:  # the card must say the weights had training before this run
        before = meta.get("training", {})
        training["continued_from"] = {"preset": meta["name"], "epochs": before.get("epochs"),
                                      "wall_time_s": before.get("wall_time_s")}
    if recipe_length > 1:
        training["stages_run"] = f"{len(plan)} of {recipe_length}"
        training["stages"] = log
        if len(plan) == recipe_length:
            training["architecture_matches_preset"] = stages.same_architecture(model, preset_folder)
    if training["command"] is None:
        del training["command"]
    dtype = _dtype_policy(plan[-1]["dtype_policy"])
    meta = {key: value for key, value in meta.items() if key not in ("path", "pretrained_available", "weights")}
    # The saved recipe is the path these weights took: the stages as run (with the flags applied),
    # after the source preset's own stages when it was fine-tuned.
    ran = [{key: value for key, value in stage.items()} for stage in plan]
    if args.from_pretrained:
        config = preset_files.read_json(preset_folder, preset_files.CONFIG_FILE)
        ran = stages.check_plan(stages.stages_of(meta), config) + ran
    meta["recipe"] = {**meta.get("recipe", {}), "stages": ran}
    meta.update(training=training, metrics={})
    meta.pop("sample_text", None)
    backup_dir = os.path.join(_stage_folders(args, len(plan), recipe_length)[0], "backup") if args.workdir else None
    try:  # from here on the training is done: whatever fails, it is kept (see _keep_trained_preset)
        meta.update(model.training_report(meta, data_dir=args.data_dir, manual_dir=args.manual_dir))
        zoo.save_preset(model, args.output, meta, overwrite=args.overwrite, dtype="float32" if dtype else None)
    except Exception as error:
        kept = _keep_trained_preset(model, meta, args, dtype, backup_dir)
        return _train_failed(f"could not save the trained preset to {args.output} ({type(error).__name__}: "
                             f"{error}). {kept}")
    if backup_dir:  # the preset is in place: nothing is left to resume
        shutil.rmtree(backup_dir, ignore_errors=True)
    print(f"saved the trained preset to {args.output} ({training['wall_time_s']:.0f} s of training)")


def _train_failed(message):
    """Reports a training run that ended without a preset; its exit status (1)."""
    print(f"keras-genai train: error: {message}", file=sys.stderr)
    return 1


def _kept_after_failure(args, run_dir=None):
    """What a failed run leaves to recover from, as a sentence; ``run_dir``: the stage's folder
    (default: the workdir)."""
    from keras_genai import callbacks

    if not args.workdir:
        return "Nothing was kept: pass --workdir to keep a checkpoint and a backup of every finished epoch"
    run_dir = run_dir or args.workdir
    checkpoint = os.path.join(run_dir, "checkpoints", "last.keras")
    backup = os.path.join(run_dir, "backup")
    epoch = callbacks.backup_epoch(backup)
    kept = [f"the last good checkpoint {checkpoint} (keras.saving.load_model)"] if os.path.exists(checkpoint) else []
    if epoch:
        kept.append(f"the backup {backup} of epoch {epoch}")
    return "Kept: " + " and ".join(kept) if kept else "No epoch had finished, so there is no checkpoint or backup"


def _keep_trained_preset(model, meta, args, dtype, backup_dir=None):
    """After the save to --output failed: saves the finished training as a preset where it can be
    recovered (``<workdir>/trained_preset-<time>``; without a workdir beside --output, else in the
    temporary folder) and returns a sentence saying where, and that the backup is kept."""
    import tempfile

    from keras_genai import zoo

    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.workdir:
        places = [os.path.join(args.workdir, f"trained_preset-{stamp}")]
    else:
        places = [f"{os.path.abspath(args.output).rstrip(os.sep)}.trained-{stamp}",
                  os.path.join(tempfile.gettempdir(), f"keras-genai-trained-{stamp}")]
    problems = []
    for place in places:
        try:
            zoo.save_preset(model, place, meta, dtype="float32" if dtype else None)
        except Exception as error:  # said in the message; the next place is tried
            problems.append(f"{place}: {type(error).__name__}: {error}")
            continue
        kept = f"The trained model was saved as a preset to {place} instead; move it where you want it"
        break
    else:
        kept = "Saving it elsewhere failed too (" + "; ".join(problems) + ")"
    if args.workdir:
        kept += (f". The backup {backup_dir or os.path.join(args.workdir, 'backup')} is kept: rerun the same command "
                 "with a free "
                 "--output (or --overwrite) to save the preset there without training again")
    return kept


def _has_noise_seed(preset):
    from keras_genai.zoo import preset as preset_files, registry

    return preset_files.has_noise_seed(preset_files.read_json(registry.resolve(preset), preset_files.CONFIG_FILE))


def _dtype_policy(name):
    """The --dtype policy name, None for float32 (the presets' own)."""
    from keras_genai.zoo import preset as preset_files

    if name is None:
        return None
    if name not in preset_files.DTYPE_POLICIES:
        raise ValueError(f"--dtype must be one of {', '.join(preset_files.DTYPE_POLICIES)}, got {name!r}")
    return None if name == "float32" else name


def _evaluate(args):
    """``keras-genai evaluate``: the family's default evaluation (``GenerativeModel.default_evaluation``),
    printed, written to --output and with --update-card stored in the card under the key it names."""
    from keras_genai import files, zoo

    if args.output:  # before minutes of evaluation, not after
        files.check_writable_file(args.output, "--output")
    meta = zoo.info(args.preset)
    model = zoo.load(args.preset, compile=False)
    if args.candidates != 1:
        model.check_conditions(candidates=args.candidates)
    conditions = _own_options(args, ("candidates",))
    if "labels" in conditions:
        raise ValueError("evaluate draws balanced labels itself (sample i gets label i % num_classes); "
                         "--labels is an option of sample")
    conditions = model.check_conditions(**conditions)
    if args.litert is not None:
        key, results = _evaluate_litert(args, meta, model, conditions)
    else:
        key, results = model.default_evaluation(
            meta, metrics=_metric_names(args.metrics), num_samples=args.num_samples,
            features=args.features, reference=args.reference, seed=args.seed, batch_size=args.batch_size,
            candidates=args.candidates, k=args.k, num_examples=args.num_examples, conditions=conditions)
    results["command"] = _command_line() or results.get("command")
    _report(results, args.output)
    count = results.get("num_samples")
    if "fid" in results and isinstance(count, int) and count < FID_PROTOCOL_SAMPLES:
        print(f"note: FID {results['fid']:.3g} from {count} samples; FID is biased upwards at small counts, so "
              f"compare it with figures measured on {FID_PROTOCOL_SAMPLES:,} samples (the model cards') only at "
              f"that count", file=sys.stderr)
    if args.update_card:
        _store_metrics(args.preset, key, results)


def _metric_names(text):
    """``--metrics`` ("fid,kid") as a tuple of names."""
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _evaluate_litert(args, meta, model, conditions):
    """``evaluate --litert Q``: the sample-quality protocol on images drawn through the preset's
    LiteRT file (exported to a temporary folder with quantization Q, at the default batch)."""
    from keras_genai import export
    from keras_genai.metrics import evaluate

    export.validate_quantize(args.litert)
    signature = model.check_edge_sampling()
    if args.candidates != 1 or conditions:
        raise ValueError("--litert evaluates the LiteRT file as exported (its sampling settings fixed in the graph); "
                         "drop --candidates and the sampling options")
    with tempfile.TemporaryDirectory() as folder:
        path = export.tflite(model, os.path.join(folder, "edge.tflite"), quantize=args.litert,
                             signature=signature)
        litert = {"quantize": args.litert, "signature": signature,
                  "batch_size": export.EDGE_BATCH_SIZE, "file_bytes": os.path.getsize(path)}
        key, results = evaluate.sample_quality(
            export.EdgeSampler(model, path), meta, metrics=_metric_names(args.metrics),
            num_samples=args.num_samples, features=args.features, reference=args.reference, seed=args.seed,
            batch_size=args.batch_size)
    results["litert"] = litert
    return f"{key}_litert_{args.litert}", results


# The sample count of the cards' FID, KID, IS and precision/recall.
FID_PROTOCOL_SAMPLES = 10_000


def _edge_files(model):
    """(signature, file stem) of each LiteRT file: the edge signature as ``model_*``, and one more
    per other signature of ``model.edge_signatures`` (a VAE's ``encode``)."""
    main = model.edge_signature
    return [(main, "model")] + [(s, s) for s in model.edge_signatures if s != main]


def _floor(args):
    from keras_genai import files
    from keras_genai.metrics import evaluate

    if args.output:
        files.check_writable_file(args.output, "--output")
    results = evaluate.real_data_floor(features=args.features, dataset=args.dataset, num_samples=args.num_samples)
    results["command"] = _command_line()
    _report(results, args.output)
    if args.update_card:
        if args.features != "mnist":
            raise ValueError("--update-card stores floors in the mnist_classifier card; use --features mnist")
        _store_metrics("mnist_classifier", f"real_data_floor_{args.dataset}", results)


def _command_line():
    """The command as typed, for model cards (None when not run as ``keras-genai``)."""
    if not sys.argv[0].endswith("keras-genai"):
        return None
    return "keras-genai " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _report(results, output):
    """Prints ``results`` as JSON and writes them to ``output`` (if given) atomically."""
    from keras_genai import files

    text = json.dumps(results, indent=2)
    print(text)
    if output:
        with files.atomic_write(output) as f:
            f.write(text)


def _store_metrics(preset_name, key, results):
    """Stores ``results`` under ``metrics[key]`` of a preset and re-renders its model card."""
    from keras_genai import zoo
    from keras_genai.zoo import preset

    meta = zoo.info(preset_name)
    folder = meta.pop("path")
    meta.pop("pretrained_available", None)
    meta.setdefault("metrics", {})[key] = results
    preset.write_metadata(folder, meta)
    print(f"updated {os.path.join(folder, 'metadata.json')} and the model card")


def _export(args):
    from keras_genai import export, files, zoo

    # Every argument and every target is checked before the first file is written.
    quantizations = _quantizations(args.quantize) if args.quantize is not None else None
    export.validate_version(args.version)
    batch_size = _tflite_batch_size(args.tflite_batch_size)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise ValueError(f"--output {args.output} is a file; export writes a folder (<output>/<version>/, "
                         "<output>/*.tflite)")
    model = zoo.load(args.preset, compile=False)
    if args.format in ("tflite", "all"):
        try:
            export.check_offered(model, quantizations or ())
        except ValueError as error:
            raise ValueError(f"--quantize: {args.preset}: {error}") from None
    quantizations = quantizations or model.edge_quantizations
    saved_model_target = export.saved_model_path(args.output, args.version)
    tflite_targets = [(quantize, signature, os.path.join(args.output, f"{stem}_{quantize}.tflite"), stem)
                      for quantize in quantizations for signature, stem in _edge_files(model)]
    if args.format in ("saved_model", "all"):
        files.check_replaceable(saved_model_target, args.overwrite, "saved_model")
    if args.format in ("tflite", "all"):
        for _, _, path, _ in tflite_targets:
            files.check_replaceable(path, args.overwrite, "tflite")
    reports = {}
    if args.format in ("saved_model", "all"):
        print("writing SavedModel ...", flush=True)
        path = export.saved_model(model, args.output, version=args.version, overwrite=args.overwrite)
        print(f"  {path}  signatures: {', '.join(model.export_signatures())}")
        if not args.no_check:
            reports.update(export.check_saved_model(model, path))
        print("  TF Serving REST body (POST /v1/models/<name>:predict):")
        example = "sample" if "sample" in model.export_signatures() else "serving_default"
        print("   ", export.rest_request_body(model, example, num_samples=2, seed=0))
    if args.format in ("tflite", "all"):
        for quantize, signature, path, stem in tflite_targets:
            print(f"writing LiteRT {quantize} ({signature}) ...", flush=True)
            export.tflite(model, path, quantize=quantize, overwrite=args.overwrite,
                          batch_size=batch_size, signature=signature)
            print(f"  {path}  ({os.path.getsize(path) / 1e6:.2f} MB)")
            if not args.no_check:
                report = export.check_tflite(model, path, quantize, signature=signature)
                reports.update({k if stem == "model" else f"{stem}.{k}": v for k, v in report.items()})
    for name, report in reports.items():
        print(f"check {name}: max |diff| {report['max_abs_diff']:.3g} <= tolerance {report['tolerance']}, "
              f"mean |diff| {report['mean_abs_diff']:.2g}")


def _quantizations(text):
    """The LiteRT variants of ``--quantize`` ("float32,float16"), in order, each once; refuses
    unknown names and an empty list."""
    from keras_genai import export

    names = list(dict.fromkeys(q.strip() for q in text.split(",") if q.strip()))
    unknown = [q for q in names if q not in export.QUANTIZATIONS]
    if unknown:
        raise ValueError(f"--quantize: unknown variant(s) {', '.join(map(repr, unknown))}; use a comma separated "
                         f"list of {', '.join(export.QUANTIZATIONS)}")
    if not names:
        raise ValueError("--quantize lists no variant; use a comma separated list of "
                         + ", ".join(export.QUANTIZATIONS))
    return names


if __name__ == "__main__":
    sys.exit(main())
