"""The ``keras-genai`` command line: list, info, sample, train, export."""

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
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

Offline data: set KERAS_GENAI_DATA_DIR to a folder with one sub-folder of original
dataset archives per dataset (for example <dir>/mnist/train-images-idx3-ubyte.gz).
"""


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        _resolve_url_preset(args)
        return args.run(args) or 0
    except (ValueError, KeyError, TypeError, FileExistsError, FileNotFoundError) as error:
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

    p = commands.add_parser("sample", help="draw samples from a preset and save a PNG grid")
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

    p = commands.add_parser("train", help="train a preset's recipe and save the result as a preset")
    p.add_argument("preset", help="preset whose architecture and recipe to train")
    _add_sha256(p)
    p.add_argument("--output", required=True, help="folder for the trained preset")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="limit each epoch (quick runs)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the data order, initial weights and training noise (default: the recipe's)")
    p.add_argument("--workdir", default=None, help="checkpoints, sample grids, TensorBoard logs; "
                   "rerunning with the same workdir resumes an interrupted run")
    p.add_argument("--from-pretrained", action="store_true", help="fine-tune the preset's weights")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="peak learning rate instead of the recipe's (a schedule is scaled to it)")
    p.add_argument("--weight-averaging", type=float, default=None, metavar="DECAY",
                   help="keep an exponential moving average of the weights (e.g. 0.999) and save it; "
                   "single-optimizer presets (VAE, PixelCNN, GPT)")
    p.add_argument("--dtype", default=None, metavar="POLICY",
                   help="train under this Keras dtype policy, e.g. mixed_bfloat16 (CPUs with AVX512-BF16, "
                        "TPUs) or mixed_float16 (GPUs); the saved preset computes in float32")
    p.add_argument("--data-dir", default=None, help="TFDS data_dir for prepared datasets")
    p.add_argument("--manual-dir", default=None, help="folder with the dataset's original archives (offline)")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.set_defaults(run=_train)

    p = commands.add_parser("evaluate", help="measure FID, KID, IS, precision/recall of a preset's samples")
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
    p.add_argument("--quantize", default="float32,float16,dynamic_int8",
                   help="LiteRT variants, comma separated (float32, float16, dynamic_int8)")
    p.add_argument("--tflite-batch-size", type=int, default=None,
                   help="fix the LiteRT batch size (faster on CPU; default: dynamic batch)")
    p.add_argument("--overwrite", action="store_true", help="replace existing export files")
    p.add_argument("--no-check", action="store_true", help="skip the fresh-process parity checks")
    p.set_defaults(run=_export)
    return parser


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
    if not args.sha256:
        raise ValueError(f"{preset} is a URL: pass --sha256 HEX (the archive's sha256) so it can be checked "
                         "before anything is loaded")
    from keras_genai.zoo import registry

    args.preset = registry.resolve(preset, args.sha256)


def _list(args):
    from keras_genai import zoo

    print(f"{'preset':<18} {'family':<10} {'dataset':<10} {'weights':<12} description")
    for name in zoo.list():
        meta = zoo.info(name)
        weights = "pretrained" if meta["pretrained_available"] else "recipe only"
        print(f"{name:<18} {meta.get('family', ''):<10} {meta.get('dataset', {}).get('name', ''):<10} "
              f"{weights:<12} {meta.get('description', '').splitlines()[0][:70]}")


def _info(args):
    from keras_genai import zoo

    meta = zoo.info(args.preset)
    if args.json:
        print(json.dumps(meta, indent=2))
        return
    print(f"{meta['name']}: {meta.get('description', '')}")
    print(f"  folder:     {meta['path']}")
    print(f"  weights:    {'available' if meta['pretrained_available'] else 'not available here'}")
    for section in ("dataset", "training", "metrics"):
        for key, value in (meta.get(section) or {}).items():
            print(f"  {section}.{key}: {value}")
    print(f"  model card: {os.path.join(meta['path'], 'README.md')}")


def _sample(args):
    import numpy as np

    from keras_genai import files, plot, zoo

    png, npy = _sample_outputs(args)  # checked before sampling: a bad path writes nothing
    if args.candidates != 1:
        _refuse_candidates_unless_gan(args.preset, zoo.info(args.preset))
    model = zoo.load(args.preset, weights=args.weights, weights_sha256=args.weights_sha256, compile=False)
    if hasattr(model, "vocabulary"):
        raise ValueError(f"{args.preset} is a language model; use `keras-genai generate {args.preset} --prompt ...`")
    kwargs = {}
    if args.labels is not None:
        try:
            labels = [int(v) for v in args.labels.split(",")]
        except ValueError:
            raise ValueError(f"--labels takes integers separated by commas, got {args.labels!r}") from None
        kwargs["labels"] = labels[0] if len(labels) == 1 else labels
    if args.candidates != 1:
        kwargs["candidates"] = args.candidates
    images = model.sample(args.num_samples, seed=args.seed, **kwargs)
    plot.save_grid(images, png)
    if npy:
        with files.atomic_write(npy, "wb") as f:
            np.save(f, images)
    print(f"saved {len(images)} samples {images.shape[1:]} uint8 to {png}" + (f" and {npy}" if npy else ""))


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
    if not hasattr(model, "vocabulary"):
        raise ValueError(f"{args.preset} is not a language model; use `keras-genai sample {args.preset}`")
    print(model.generate(args.prompt, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                         top_p=args.top_p, seed=args.seed))


# Card entries about one training run (not the recipe), dropped when a new run starts from the preset.
RUN_NOTES = ("continued_from", "continuation", "wall_time_note", "total_epochs", "generator_steps", "retuned",
             "dtype_policy", "resumed", "previous_preset", "weight_averaging_effect", "how_it_was_trained")


# What --epochs, --batch-size and --steps-per-epoch are called on the command line.
TRAIN_COUNTS = {"epochs": "--epochs", "batch_size": "--batch-size", "steps_per_epoch": "--steps-per-epoch"}


def _train(args):
    """``keras-genai train``: checks the counts and the --output target before anything is read or
    written, then trains with the workdir locked (one run per workdir; see ``_train_and_save``)."""
    from keras_genai import callbacks, files

    for name, flag in TRAIN_COUNTS.items():
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be a positive integer, got {value}")
    files.check_replaceable(args.output, args.overwrite, "preset", protected=(args.workdir,) if args.workdir else ())
    if not args.workdir:
        return _train_and_save(args)
    with callbacks.locked_workdir(args.workdir, _command_line()):
        return _train_and_save(args)


def _train_and_save(args):
    """Trains and saves the preset. A run that cannot end in a good preset exits 1 and keeps what
    can be recovered: stopped by a non-finite loss, the last good checkpoint and backup; a finished
    training whose save failed, a copy of the preset (``_keep_trained_preset``) and the backup. The
    backup is removed only once the preset is in place, so a run killed while saving finishes
    without training again when the same command is run again."""
    import keras

    from keras_genai import callbacks, data, zoo

    meta = zoo.info(args.preset)
    recipe = dict(meta.get("training", {}))
    for note in RUN_NOTES:  # they describe the run that made the source preset, not this one
        recipe.pop(note, None)
    dataset = meta["dataset"]
    epochs = recipe.get("epochs", 1) if args.epochs is None else args.epochs
    batch_size = recipe.get("batch_size", 128) if args.batch_size is None else args.batch_size
    seed = recipe.get("seed", 0) if args.seed is None else args.seed
    keras.utils.set_random_seed(seed)
    dtype = _dtype_policy(args.dtype)
    # The run's seed also seeds the model's training noise (GAN latents, VAE codes, dropout).
    noise_seed = seed if _has_noise_seed(args.preset) else None
    model = zoo.load(args.preset, pretrained=args.from_pretrained, compile=False, dtype=dtype, seed=noise_seed)
    if dtype is not None:
        recipe["dtype_policy"] = dtype
    optimizers = zoo.training_recipe(args.preset)
    if args.learning_rate is not None or args.weight_averaging is not None:
        optimizers = zoo.recipe.retuned(optimizers, args.learning_rate, args.weight_averaging)
        recipe["retuned"] = {"learning_rate": args.learning_rate, "weight_averaging": args.weight_averaging}
    if optimizers:
        model.compile_from_config(optimizers)
    classifier = meta.get("family") == "classifier"
    with_labels = classifier or getattr(model, "conditional", False)
    # An interrupted run (same --workdir) resumes at the backup's epoch; the step-keyed data
    # streams start exactly where the uninterrupted run would be, so it ends the same.
    # Resuming with another batch size, step count or seed would shift every batch: refused.
    settings = {"preset": args.preset, "from_pretrained": bool(args.from_pretrained), "batch_size": batch_size,
                "steps_per_epoch": args.steps_per_epoch, "seed": seed, "learning_rate": args.learning_rate,
                "weight_averaging": args.weight_averaging, "dtype": dtype}
    backup_dir = os.path.join(args.workdir, "backup") if args.workdir else None
    start_epoch = callbacks.backup_epoch(backup_dir, settings) if backup_dir else 0
    if start_epoch > epochs:
        raise ValueError(f"{backup_dir} holds a run that finished {start_epoch} epochs, more than --epochs {epochs}; "
                         f"pass --epochs {start_epoch} or more to continue it, or use another --workdir")
    earlier_seconds = callbacks.backup_training_seconds(backup_dir) if start_epoch else 0.0
    earlier_logs = callbacks.backup_logs(backup_dir) if start_epoch else {}
    if meta.get("family") == "gpt":
        train, steps = _text_training_data(model, dataset, recipe, batch_size, seed, args, start_epoch)
    else:
        train, steps = _image_training_data(dataset, batch_size, seed, with_labels, args, start_epoch)
    kind = "text" if hasattr(model, "vocabulary") else "images"
    guard = callbacks.StopOnNonFinite()
    cbs = [guard]
    if args.workdir:
        cbs += callbacks.standard(args.workdir, kind=kind, start_epoch=start_epoch, settings=settings,
                                  keep_backup=True)
    if start_epoch == epochs:
        resuming = f", all {epochs} epochs done before the run was stopped: saving the preset"
    else:
        resuming = f", resuming after epoch {start_epoch}" if start_epoch else ""
    print(f"training {args.preset} on {dataset['name']}/{dataset.get('split', 'train')}: "
          f"{epochs} epochs of {steps} steps, batch {batch_size}, seed {seed}{resuming}", flush=True)
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps, callbacks=cbs, shuffle=False,
                        verbose=1 if sys.stdout.isatty() else 2)
    wall = (earlier_seconds or 0.0) + time.perf_counter() - start
    if guard.failure:
        return _train_failed(f"training stopped: {guard.failure}; no preset was saved. {_kept_after_failure(args)}. "
                             "Lower --learning-rate (in another --workdir: a backup resumes only its own settings) "
                             "or check the data")
    broken = _non_finite_weights(model)
    if broken:
        return _train_failed(f"the trained weights hold non-finite values ({len(broken)} arrays: "
                             f"{', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); no preset was saved. "
                             f"{_kept_after_failure(args)}")
    if start_epoch:
        if earlier_seconds is None:
            counted = (f"wall_time_s counts epochs {start_epoch + 1}-{epochs} only (the backup did not record "
                       "the time before)")
        else:
            counted = f"wall_time_s adds the {earlier_seconds:.0f} s of the completed epochs before it"
        recipe["resumed"] = f"interrupted and resumed after epoch {start_epoch}; {counted}"
    steps = steps if args.steps_per_epoch else None
    if args.from_pretrained:  # the card must say the weights had training before this run
        recipe["continued_from"] = {"preset": meta["name"], "epochs": meta.get("training", {}).get("epochs"),
                                    "wall_time_s": meta.get("training", {}).get("wall_time_s")}
    # Stopped after its last epoch, a resumed run trains nothing: the logs of that epoch are the backup's.
    final_logs = {k: round(float(v[-1]), 4) for k, v in history.history.items() if v} or \
        {k: round(float(v), 4) for k, v in earlier_logs.items()}
    recipe.update(
        epochs=epochs, batch_size=batch_size, seed=seed,
        steps_per_epoch=steps or recipe.get("steps_per_epoch"),
        command=_command_line() or recipe.get("command"),
        wall_time_s=round(wall, 1),
        machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow {__import__('tensorflow').__version__}, Keras {keras.__version__}",
        final_logs=final_logs,
    )
    meta.update(training=recipe)
    meta.pop("path", None)
    meta.pop("pretrained_available", None)
    meta.pop("weights", None)
    meta["metrics"] = {}
    try:  # from here on the training is done: whatever fails, it is kept (see _keep_trained_preset)
        if classifier:
            test = data.images(dataset["name"], split="test", batch_size=500, shuffle=False, with_labels=True,
                               drop_remainder=False, data_dir=args.data_dir, manual_dir=args.manual_dir)
            scores = model.evaluate(test, return_dict=True, verbose=0)
            meta["metrics"] = {"test_accuracy": round(float(scores["accuracy"]), 4),
                               "test_loss": round(float(scores["loss"]), 4)}
            print(f"test accuracy {scores['accuracy']:.4f}")
        if meta.get("family") == "gpt":
            meta["metrics"] = _text_metrics(model, meta, args.data_dir, args.manual_dir)
            meta["sample_text"] = _sample_text(model)
        zoo.save_preset(model, args.output, meta, overwrite=args.overwrite, samples=hasattr(model, "sample"),
                        dtype="float32" if dtype else None)
    except Exception as error:
        kept = _keep_trained_preset(model, meta, args, dtype)
        return _train_failed(f"could not save the trained preset to {args.output} ({type(error).__name__}: "
                             f"{error}). {kept}")
    if backup_dir:  # the preset is in place: nothing is left to resume
        shutil.rmtree(backup_dir, ignore_errors=True)
    print(f"saved the trained preset to {args.output} ({wall:.0f} s of training)")


def _train_failed(message):
    """Reports a training run that ended without a preset; its exit status (1)."""
    print(f"keras-genai train: error: {message}", file=sys.stderr)
    return 1


def _non_finite_weights(model):
    """Paths of the model's floating-point weights that hold NaN or infinity."""
    import numpy as np

    return [w.path for w in model.weights
            if "float" in str(w.dtype) and not np.isfinite(np.asarray(w.numpy(), np.float64)).all()]


def _kept_after_failure(args):
    """What a failed run leaves to recover from, as a sentence."""
    from keras_genai import callbacks

    if not args.workdir:
        return "Nothing was kept: pass --workdir to keep a checkpoint and a backup of every finished epoch"
    checkpoint = os.path.join(args.workdir, "checkpoints", "last.keras")
    backup = os.path.join(args.workdir, "backup")
    epoch = callbacks.backup_epoch(backup)
    kept = [f"the last good checkpoint {checkpoint} (keras.saving.load_model)"] if os.path.exists(checkpoint) else []
    if epoch:
        kept.append(f"the backup {backup} of epoch {epoch}")
    return "Kept: " + " and ".join(kept) if kept else "No epoch had finished, so there is no checkpoint or backup"


def _keep_trained_preset(model, meta, args, dtype):
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
            zoo.save_preset(model, place, meta, samples=hasattr(model, "sample"), dtype="float32" if dtype else None)
        except Exception as error:  # said in the message; the next place is tried
            problems.append(f"{place}: {type(error).__name__}: {error}")
            continue
        kept = f"The trained model was saved as a preset to {place} instead; move it where you want it"
        break
    else:
        kept = "Saving it elsewhere failed too (" + "; ".join(problems) + ")"
    if args.workdir:
        kept += (f". The backup {os.path.join(args.workdir, 'backup')} is kept: rerun the same command with a free "
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


def _text_metrics(model, meta, data_dir=None, manual_dir=None):
    """Validation and test loss of a language model on its preset's dataset: {"language": {...}}."""
    from keras_genai.metrics import language

    results = language.evaluate_splits(model, meta["dataset"]["name"], data_dir=data_dir, manual_dir=manual_dir)
    for split, scores in results.items():
        print(f"{split}: {scores['nats_per_char']:.4f} nats/char, {scores['bits_per_char']:.4f} bits/char, "
              f"perplexity {scores['perplexity']:.3f}")
    return {"language": {**results, "command": f"keras-genai evaluate {meta['name']} --update-card"}}


def _evaluate_language(args, meta):
    from keras_genai import zoo

    model = zoo.load(args.preset, compile=False)
    results = _text_metrics(model, meta)["language"]
    results["command"] = _command_line() or results["command"]
    _report(results, args.output)
    if args.update_card:
        _store_metrics(args.preset, "language", results)


SAMPLE_PROMPT = "ROMEO:\n"


def _sample_text(model, prompt=SAMPLE_PROMPT, max_new_tokens=400, temperature=0.8, seed=0):
    """A sample for the model card, with the settings that made it."""
    prompt = prompt if not set(prompt) - set(model.vocabulary) else model.vocabulary[0]
    text = model.generate(prompt, max_new_tokens, temperature=temperature, seed=seed)
    return {"prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed,
            "text": text}


def _text_training_data(model, dataset, recipe, batch_size, seed, args, start_epoch):
    """(stream of random windows of the preset's text split, steps per epoch), from ``start_epoch``."""
    from keras_genai import data

    text = data.text(dataset["name"], split=dataset.get("split", "train"), data_dir=args.data_dir,
                     manual_dir=args.manual_dir)
    length = recipe.get("sequence_length", model.context_length)
    if length > model.context_length:
        raise ValueError(f"the recipe's sequence_length {length} is longer than the model's context "
                         f"({model.context_length})")
    ids = model.encode(text)
    windows = recipe.get("windows_per_epoch") or len(ids) // length
    steps = args.steps_per_epoch or max(1, windows // batch_size)
    train, _ = data.text_window_stream(ids, length, batch_size, seed=seed, start_step=start_epoch * steps,
                                       windows=windows)
    return train, steps


def _image_training_data(dataset, batch_size, seed, with_labels, args, start_epoch):
    """(training batches of the preset's image split, steps per epoch), from ``start_epoch``.

    Splits that fit in memory stream step-keyed batches (an interrupted run resumes bit for bit);
    larger ones (CelebA) use ``data.images``, whose resumed epochs see a new order.
    """
    from keras_genai import data

    name, split = dataset["name"], dataset.get("split", "train")
    count, stored = data.split_size(name, split, args.data_dir, args.manual_dir)
    steps = args.steps_per_epoch or count // batch_size
    options = dict(split=split, batch_size=batch_size, seed=seed, with_labels=with_labels, data_dir=args.data_dir,
                   manual_dir=args.manual_dir, **_image_options(dataset))
    if stored <= data.STREAM_MEMORY_LIMIT:
        train, _ = data.image_stream(name, start_step=start_epoch * steps, **options)
        return train, steps
    return data.images(name, **options).repeat(), steps


def _image_options(dataset):
    """Optional pixel options of a preset's dataset section: value_range, binarize."""
    options = {}
    if dataset.get("value_range"):
        options["value_range"] = tuple(dataset["value_range"])
    if dataset.get("binarize"):
        options["binarize"] = dataset["binarize"]
    return options


def _evaluate(args):
    from keras_genai import files, zoo
    from keras_genai.metrics import evaluate

    if args.output:  # before minutes of evaluation, not after
        files.check_writable_file(args.output, "--output")
    meta = zoo.info(args.preset)
    if args.candidates != 1:
        _refuse_candidates_unless_gan(args.preset, meta)
    if meta.get("family") == "vae":
        return _evaluate_vae(args, meta)
    if meta.get("family") == "pixelcnn":
        return _evaluate_pixelcnn(args, meta)
    if meta.get("family") == "gpt":
        return _evaluate_language(args, meta)
    reference = args.reference or f"{meta['dataset']['name']}/test"
    name, _, split = reference.partition("/")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    model = zoo.load(args.preset, compile=False)
    results = evaluate.evaluate(model, metrics=metrics, num_samples=args.num_samples, features=args.features,
                                reference=(name, split or "test"), batch_size=args.batch_size, seed=args.seed,
                                candidates=args.candidates)
    results["command"] = _command_line()
    if args.features == "mnist":
        floor = zoo.info("mnist_classifier").get("metrics", {}).get(f"real_data_floor_{name}")
        if floor:
            results["real_data_floor"] = {k: floor[k] for k in ("fid", "is_mean", "candidate", "reference")}
    _report(results, args.output)
    if args.update_card:
        ranked = f"_ranked_best_of_{args.candidates}" if args.candidates != 1 else ""
        _store_metrics(args.preset, f"{args.features}_features{ranked}", results)


def _refuse_candidates_unless_gan(preset, meta):
    if meta.get("family") != "gan":
        raise ValueError(f"--candidates ranks GAN samples with the discriminator; {preset} is a "
                         f"{meta.get('family')} preset, so leave it at 1")


def _edge_files(model):
    """(signature, file stem) of each LiteRT file: the edge signature as ``model_*``, and for
    families with several edge graphs (VAE: ``encode``) one more per signature."""
    main = model.edge_signature
    return [(main, "model")] + [(s, s) for s in getattr(model, "edge_signatures", ()) if s != main]


def _evaluate_vae(args, meta):
    """VAE presets: ELBO and importance-weighted NLL on the fixed binarization of the test split,
    and for conditional ones the label accuracy of samples under the MNIST classifier."""
    from keras_genai import zoo
    from keras_genai.metrics import vae as vae_metrics

    model = zoo.load(args.preset, compile=False)
    results = vae_metrics.evaluate_vae(model, meta["dataset"], k=args.k, num_examples=args.num_examples,
                                       num_samples=args.num_samples, batch_size=args.batch_size, seed=args.seed)
    results["command"] = _command_line()
    _report(results, args.output)
    if args.update_card:
        _store_metrics(args.preset, "test_likelihood", results)


def _evaluate_pixelcnn(args, meta):
    """PixelCNN presets: the exact test NLL (nats per image, bits/dim) on the fixed binarization
    of the test split."""
    from keras_genai import zoo
    from keras_genai.metrics import pixelcnn as pixelcnn_metrics

    model = zoo.load(args.preset, compile=False)
    results = pixelcnn_metrics.evaluate_pixelcnn(model, meta["dataset"], num_examples=args.num_examples,
                                                 batch_size=args.batch_size)
    results["command"] = _command_line()
    _report(results, args.output)
    if args.update_card:
        _store_metrics(args.preset, "test_likelihood", results)


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
    quantizations = _quantizations(args.quantize)
    export.validate_version(args.version)
    export.validate_batch_size(args.tflite_batch_size)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise ValueError(f"--output {args.output} is a file; export writes a folder (<output>/<version>/, "
                         "<output>/*.tflite)")
    model = zoo.load(args.preset, compile=False)
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
                          batch_size=args.tflite_batch_size, signature=signature)
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
