"""The family contract (``keras_genai.models.GenerativeModel``), one suite for every family.

Each family (a tiny GAN, unconditional and conditional, VAE, PixelCNN, GPT, and the toy family
of ``tests/toy_family.py`` that the library does not know) goes through the same checks, as
keras-hub's ``run_model_saving_test`` / ``run_litert_export_test`` do: saved and loaded in a fresh
process (the same seeded output), seeded sampling, export parity (SavedModel and LiteRT through
``keras_genai.export.check_*``) and refused conditions. The toy family also goes through every
CLI command, so nothing in the zoo is specific to the shipped families.
"""

import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

import toy_family
from keras_genai import cli, export, models, zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
VOCABULARY = "".join(sorted(set("\nROMEO: abcde")))


def _build(name):
    keras.utils.set_random_seed(0)
    if name == "gan":
        return models.dcgan((28, 28, 1), latent_dim=4, base_filters=4, seed=0)
    if name == "conditional_gan":
        return models.conditional_dcgan((28, 28, 1), num_classes=3, latent_dim=4, base_filters=4, seed=0)
    if name == "vae":
        return models.conditional_vae(num_classes=3, latent_dim=4, width=(16,), seed=0)
    if name == "pixelcnn":
        return models.gated_pixelcnn((6, 6, 1), filters=4, num_layers=2, output_units=(8,), seed=0)
    if name == "gpt":
        return models.GPT(VOCABULARY, context_length=8, num_layers=1, num_heads=2, embed_dim=8, seed=0)
    if name in ("diffusion", "conditional_diffusion"):
        import test_diffusion

        return test_diffusion.contract_model(conditional=name == "conditional_diffusion")
    return toy_family.Gaussian(seed=0)


FAMILIES = ["gan", "conditional_gan", "vae", "pixelcnn", "gpt", "diffusion", "conditional_diffusion", "toy"]
CHECK_SAMPLES, CHECK_SEED = 2, 123  # what the export checks below ask of ``model.example_inputs``


def _conditions(model, num_samples):
    return {"labels": np.arange(num_samples) % model.num_classes} if model.conditional else {}


def seeded_output(model, seed=7, num_samples=3):
    """What the model makes with a fixed seed: uint8 images, or text as bytes."""
    if model.generates == "text":
        return np.frombuffer(model.generate("ab", 6, temperature=1.0, seed=seed).encode(), np.uint8)
    return model.sample(num_samples, seed=seed, **_conditions(model, num_samples))


# One fresh process does every fresh-process check of every family: it runs each SavedModel
# signature and each LiteRT file on the inputs the ``export.check_*`` functions will send (what
# ``python -m keras_genai.runtime`` would run), then loads each saved preset (its seeded output).
# What fails is kept per family as a traceback, so a broken family fails only its own tests.
FRESH = """
import pickle, sys, traceback
from keras_genai import runtime
requests, presets = pickle.load(open(sys.argv[1], "rb"))
results, seeded, errors = {}, {}, {}
for key, (kind, path, signature, inputs) in requests.items():
    try:
        results[key] = runtime.run_saved_model(path, inputs, signature) if kind == "saved_model" \\
            else runtime.run_tflite(path, inputs)
    except Exception:
        errors[key] = traceback.format_exc()
import toy_family, test_family_contract as suite
from keras_genai import zoo
for name, preset in presets.items():
    try:
        seeded[name] = suite.seeded_output(zoo.load(preset, compile=False))
    except Exception:
        errors[name, "seeded_output"] = traceback.format_exc()
pickle.dump((results, seeded, errors), open(sys.argv[2], "wb"))
"""


def _fresh_process(script, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, TESTS])}
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def _save_and_export(name, folder):
    """(model, requests): the family's tiny model, saved as a preset, a SavedModel and one LiteRT
    file per edge signature under ``folder``; what the fresh process is to run for its checks."""
    model = _build(name)
    zoo.save_preset(model, folder / "preset", _metadata(name))
    saved = export.saved_model(model, folder / "saved")
    requests = {("saved_model", signature): ("saved_model", saved, signature, _example(model, signature))
                for signature in model.export_signatures()}
    for signature in model.edge_signatures:
        path = export.tflite(model, folder / f"{signature}.tflite", signature=signature)
        requests[("tflite", path)] = ("tflite", path, None, _example(model, signature))
    return model, requests


@pytest.fixture(scope="module")
def every_family(request, tmp_path_factory):
    """name -> (model, folder, requests, fresh, failed) for every family a selected test asks for
    (``-k gpt`` builds only the GPT), or the exception its saving or export raised; ``fresh`` what
    the one fresh process got for it, ``failed`` the tracebacks of what raised there."""
    selected = {item.callspec.params.get("family") for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    built, requests, presets = {}, {}, {}
    for name in [name for name in FAMILIES if name in selected]:
        folder = tmp_path_factory.mktemp(name)
        try:
            model, asked = _save_and_export(name, folder)
        except Exception as error:  # noqa: BLE001 - raised again by that family's tests
            built[name] = error
            continue
        built[name] = (model, folder, asked)
        requests.update({(name, *key): to_run for key, to_run in asked.items()})
        presets[name] = str(folder / "preset")
    folder = tmp_path_factory.mktemp("fresh")
    with open(folder / "requests.pkl", "wb") as f:
        pickle.dump((requests, presets), f)
    _fresh_process(FRESH, str(folder / "requests.pkl"), str(folder / "results.pkl"))
    with open(folder / "results.pkl", "rb") as f:
        results, seeded, errors = pickle.load(f)
    for name, entry in built.items():
        if not isinstance(entry, Exception):
            fresh = {key[1:]: value for key, value in results.items() if key[0] == name}
            fresh["seeded_output"] = seeded.get(name)
            failed = [value for key, value in errors.items() if key[0] == name]
            built[name] = (*entry, fresh, failed)
    return built


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, every_family):
    """(name, model, folder, fresh): the family's tiny model, saved as a preset, a SavedModel and
    one LiteRT file per edge signature under ``folder``; ``fresh`` what the fresh process got."""
    name, entry = request.param, every_family[request.param]
    if isinstance(entry, Exception):
        raise entry
    model, folder, requests, fresh, failed = entry
    assert not failed, "in the fresh process:\n" + "\n".join(failed)[-3000:]
    return name, model, folder, {"requests": requests, **fresh}


def _metadata(name):
    return {"name": name, "family": name, "description": "contract test", "dataset": {"name": "none"}}


def _example(model, signature):
    return model.example_inputs(signature, num_samples=CHECK_SAMPLES, seed=CHECK_SEED)[0]


def test_a_saved_preset_gives_the_same_seeded_output_in_a_fresh_process(family):
    name, model, folder, fresh = family
    assert os.path.isfile(folder / "preset" / "samples.png") == (model.generates == "images")
    card = open(folder / "preset" / "README.md").read()
    assert all(line in card for line in type(model).card_usage(_metadata(name)))
    np.testing.assert_array_equal(fresh["seeded_output"], seeded_output(model))


def test_seeded_output_repeats_and_sample_k_does_not_depend_on_n(family):
    name, model, _, _ = family
    np.testing.assert_array_equal(seeded_output(model), seeded_output(model))
    assert not np.array_equal(seeded_output(model, seed=7), seeded_output(model, seed=8))
    if model.generates == "images":
        five = model.sample(5, seed=3, **_conditions(model, 5))
        np.testing.assert_array_equal(five[:2], model.sample(2, seed=3, **_conditions(model, 2)))
        images, _ = model.preview(4, seed=0)
        assert images.dtype == np.uint8 and images.shape[0] == 4
    else:
        assert model.preview(4, seed=0) is None


def test_exports_match_the_keras_model(family, monkeypatch):
    """``export.check_saved_model`` / ``check_tflite`` as they are, on the outputs the family's
    fresh process got for exactly the inputs these checks send (their own subprocess is replaced)."""
    name, model, folder, fresh = family
    asked = []

    def outputs_of_the_fresh_process(kind, path, inputs, *signature):
        key = (kind, signature[0]) if kind == "saved_model" else (kind, os.fspath(path))
        assert key in fresh["requests"], f"the check asked for {key}, which the fresh process did not run"
        sent = fresh["requests"][key][3]
        assert sorted(inputs) == sorted(sent)
        for input_name, value in inputs.items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(sent[input_name]))
        asked.append(key)
        return fresh[key]

    monkeypatch.setattr(export, "_run_fresh", outputs_of_the_fresh_process)
    report = export.check_saved_model(model, export.saved_model_path(folder / "saved"), num_samples=CHECK_SAMPLES,
                                      seed=CHECK_SEED)
    outputs = [model.example_inputs(s, num_samples=1, seed=0)[1] for s in model.export_signatures()]
    assert len(report) == sum(len(o) if isinstance(o, dict) else 1 for o in outputs)  # every output checked
    assert all(r["max_abs_diff"] <= r["tolerance"] for r in report.values())
    for signature in model.edge_signatures:
        lite = export.check_tflite(model, str(folder / f"{signature}.tflite"), "float32", num_samples=CHECK_SAMPLES,
                                   seed=CHECK_SEED, signature=signature)
        assert lite and all(r["max_abs_diff"] <= r["tolerance"] for r in lite.values())
    assert sorted(asked, key=str) == sorted(fresh["requests"], key=str)  # every export ran in the fresh process


def test_bad_seeds_labels_and_conditions_are_refused(family):
    name, model, _, _ = family
    if model.generates == "text":
        with pytest.raises(TypeError, match="seed must be None or an integer"):
            model.generate("ab", 2, seed="5")
        with pytest.raises(ValueError, match="generates text"):
            model.sample(2, seed=0)
        return
    for seed in ("5", 1.5, True):
        with pytest.raises(TypeError, match="seed must be None or an integer"):
            model.sample(2, seed=seed, **_conditions(model, 2))
    with pytest.raises(ValueError, match="does not take colour; its sample takes"):
        model.check_conditions(colour="red")
    if model.conditional:
        with pytest.raises(ValueError, match=rf"labels must be in \[0, {model.num_classes}\)"):
            model.sample(2, seed=0, labels=[0, model.num_classes])
        with pytest.raises(ValueError, match="is conditional: pass labels"):
            model.sample(2, seed=0)
    elif "labels" not in model.sample_conditions:
        with pytest.raises(ValueError, match="does not take labels"):
            model.check_conditions(labels=[0, 1])
        with pytest.raises(ValueError, match="unconditional"):
            model.sample(2, seed=0, labels=[0, 1])


# --------------------------------------------------------------------------- the toy family and the CLI
def test_the_toy_family_goes_through_every_cli_command(tmp_path, capsys):
    model = toy_family.Gaussian(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    folder = tmp_path / "toy"
    zoo.save_preset(model, folder, toy_family.toy_metadata())

    assert cli.main(["info", str(folder)]) == 0
    assert "Independent Gaussian pixels" in capsys.readouterr().out

    assert cli.main(["sample", str(folder), "-n", "6", "--seed", "1", "--output", str(tmp_path / "s.png"),
                     "--npy", str(tmp_path / "s.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), model.sample(6, seed=1))
    assert cli.main(["sample", str(folder), "--labels", "1", "--output", str(tmp_path / "l.png")]) == 1
    assert "does not take labels" in capsys.readouterr().err
    # The family's own sampling options pass through the CLI untouched by it (--NAME VALUE).
    assert cli.main(["sample", str(folder), "-n", "6", "--seed", "1", "--temperature", "0", "--output",
                     str(tmp_path / "t.png"), "--npy", str(tmp_path / "t.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), model.sample(6, seed=1, temperature=0))
    assert len(np.unique(np.load(tmp_path / "t.npy"))) < len(np.unique(np.load(tmp_path / "s.npy")))
    assert cli.main(["sample", str(folder), "--steps", "3", "--output", str(tmp_path / "b.png")]) == 1
    assert "does not take steps; its sample takes temperature" in capsys.readouterr().err
    assert cli.main(["sample", str(folder), "--temperature", "--output", str(tmp_path / "b.png")]) == 2
    assert "--temperature needs a value" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()
    assert cli.main(["generate", str(folder), "--prompt", "a"]) == 1
    assert "generates images, not text; use `keras-genai sample" in capsys.readouterr().err

    trained = tmp_path / "trained"
    assert cli.main(["train", str(folder), "--output", str(trained)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(trained), "--output", str(tmp_path / "eval.json"), "--update-card"]) == 0
    results = json.load(open(tmp_path / "eval.json"))
    untrained = model.default_evaluation(toy_family.toy_metadata())[1]
    assert results["mean_error"] < untrained["mean_error"] / 2  # trained towards the target it synthesised
    assert zoo.info(str(trained))["metrics"]["moments"]["mean_error"] == results["mean_error"]
    # The card of a preset the user trained loads that folder, not a shipped preset of the same name.
    assert f'model = keras_genai.zoo.load("{os.path.realpath(trained)}")  # this folder' in (trained / "README.md").read_text()
    assert cli.main(["evaluate", str(trained), "--temperature", "0", "--output", str(tmp_path / "cold.json")]) == 0
    cold = json.load(open(tmp_path / "cold.json"))  # temperature 0: every sample is mu, without spread
    assert cold["std_error"] > 0.75 * toy_family.TARGET_STD

    assert cli.main(["export", str(trained), "--output", str(tmp_path / "export"), "--quantize", "float32"]) == 0
    out = capsys.readouterr().out
    assert "signatures: serving_default, sample" in out and "check tflite_float32" in out
