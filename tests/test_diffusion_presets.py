"""The diffusion presets' recipes, end to end through the CLI on MNIST: ``keras-genai train`` runs
the shipped recipe for a few steps (its U-Net, mixed_bfloat16, optimizer and schedule), and the
trained folder samples and evaluates with the family's own sampling options passed through the
CLI (``--steps``, ``--sampler``, ``--guidance``), equal to ``model.sample`` with the same options.
"""

import json

import numpy as np
import pytest

from keras_genai import cli, zoo


@pytest.fixture(scope="module")
def trained_flow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flow") / "flow_mnist_short"
    code = cli.main(["train", "flow_mnist", "--output", str(folder), "--epochs", "1", "--steps-per-epoch", "2",
                     "--batch-size", "16"])
    assert code == 0
    return folder


def test_the_recipes_build_what_their_cards_describe():
    for name, objective in (("ddpm_mnist", "v"), ("flow_mnist", "flow")):
        meta = zoo.info(name)
        assert not meta["pretrained_available"] and "keras-genai train " + name in meta["weights"]["unavailable"]
        model = zoo.load(name, pretrained=False)
        assert model.objective == objective and model.image_shape == (28, 28, 1)
        assert int(model.denoiser.count_params()) == meta["parameters"]
    assert zoo.load("flow_mnist", pretrained=False).default_guidance == 2.0


def test_a_short_run_of_the_flow_recipe_samples_with_the_options_given_on_the_command_line(trained_flow, tmp_path,
                                                                                        capsys):
    meta = zoo.info(str(trained_flow))
    assert meta["training"]["steps_per_epoch"] == 2 and meta["pretrained_available"]
    model = zoo.load(str(trained_flow), compile=False)
    assert model.dtype_policy.name == "float32" and model.sampler == "heun"

    npy = tmp_path / "s.npy"
    assert cli.main(["sample", str(trained_flow), "-n", "4", "--seed", "3", "--labels", "7", "--steps", "2",
                     "--sampler", "euler", "--guidance", "3", "--output", str(tmp_path / "s.png"),
                     "--npy", str(npy)]) == 0
    expected = model.sample(4, seed=3, labels=7, steps=2, sampler="euler", guidance=3.0)
    np.testing.assert_array_equal(np.load(npy), expected)
    # (Two training steps leave the U-Net's zero-initialised output layer near zero, so the options'
    # effect on the images is tested on trained models in test_diffusion.py; that the CLI hands them
    # to the model shows in what the model refuses.)

    capsys.readouterr()
    assert cli.main(["sample", str(trained_flow), "--labels", "1", "--sampler", "ddim",
                     "--output", str(tmp_path / "bad.png")]) == 1
    assert "this model is a flow model — use euler or heun" in capsys.readouterr().err
    assert cli.main(["sample", str(trained_flow), "--labels", "1", "--steps", "0",
                     "--output", str(tmp_path / "bad.png")]) == 1
    assert "steps" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_evaluating_with_sampling_options_records_them_and_stores_them_apart(trained_flow, tmp_path, capsys):
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert cli.main(["evaluate", str(trained_flow), "--num-samples", "200", "--batch-size", "100", "--metrics", "fid",
                     "--steps", "2", "--sampler", "euler", "--output", str(out), "--update-card"]) == 0
    assert "from 200 samples; FID is biased upwards at small counts" in capsys.readouterr().err
    results = json.load(open(out))
    # The model's own guidance (2) is written out beside the sampler and steps given.
    assert results["conditions"] == {"guidance": 2.0, "sampler": "euler", "steps": 2} and results["num_samples"] == 200
    stored = zoo.info(str(trained_flow))["metrics"]
    assert stored["mnist_features_guidance_2.0_sampler_euler_steps_2"]["fid"] == results["fid"]
    card = (trained_flow / "README.md").read_text()
    assert "### FID against sampler steps" in card
    assert f"| `euler` | 2 | 2 | 2.0 | {results['fid']:.3g} |" in card
