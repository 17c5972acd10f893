"""Recipes as data: the stages of metadata.json's "recipe", their plan (--dry-run), a multi-stage
run from scratch that resumes across stages, named transforms, and plans refused before training."""

import contextlib
import io
import json
import os

import keras
import pytest

from keras_genai import cli as cli_module, models, zoo
from keras_genai.zoo import stages

REPO_ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
needs_mnist = pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"),
                                 reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_module.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _dry_run(name, *flags):
    code, out, err = cli("train", os.path.join(REPO_ZOO, name), "--dry-run", *flags)
    assert code == 0, err
    return json.loads(out)


def test_dry_run_prints_the_nine_dcgan_stages_of_136_epochs_without_training(monkeypatch):
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("--dry-run trained"))
    plan = _dry_run("dcgan_mnist")
    assert [s["epochs"] for s in plan["stages"]] == [20, 30, 20, 15, 12, 12, 12, 12, 3] and plan["epochs"] == 136
    first = plan["stages"][0]
    assert first["build"] == {"builder": "dcgan", "arguments": {"image_shape": [28, 28, 1], "latent_dim": 100,
                                                                 "base_filters": 64, "refine": True}}
    assert (first["batch_size"], first["seed"], first["dtype_policy"]) == (128, 0, "float32")
    adam = {"class_name": "Adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5}}
    assert first["optimizers"] == {"d_optimizer": adam, "g_optimizer": adam}
    assert [s.get("options") for s in plan["stages"]][3:6] == [
        {"refine_discriminator": True}, {"generator_top_k": 0.6}, {"generator_top_k": 0.5}]
    assert plan["stages"][8]["transform"]["name"] == "fit_mixture_prior"
    assert {s["dtype_policy"] for s in plan["stages"][1:]} == {"mixed_bfloat16"}
    # The schedules of stages 2-9 end where the prose said: 2e-6, 1e-6, then 1/100 of each peak.
    ends = [s["optimizers"]["g_optimizer"]["config"]["learning_rate"]["config"]["end_learning_rate"]
            for s in plan["stages"][1:]]
    assert ends == [2e-6, 1e-6, 1e-6] + [5e-7] * 5
    quick = _dry_run("dcgan_mnist", "--epochs", "1", "--stop-after-stage", "2", "--dtype", "float32")
    assert [(s["epochs"], s["dtype_policy"]) for s in quick["stages"]] == [(1, "float32"), (1, "float32")]


def test_dry_run_prints_the_five_wgan_gp_stages():
    plan = _dry_run("wgan_gp_mnist")
    assert [s["epochs"] for s in plan["stages"]] == [45, 18, 24, 20, 6] and plan["epochs"] == 113
    assert plan["stages"][0]["build"]["builder"] == "wgan_gp"
    assert plan["stages"][3]["options"] == {"generator_top_k": 0.6}
    assert plan["stages"][4]["transform"]["name"] == "fit_mixture_prior"
    # Generator steps per stage (187 per epoch of 320): the decays last each stage's whole run.
    steps = [s["optimizers"]["g_optimizer"]["config"]["learning_rate"]["config"]["decay_steps"] for s in plan["stages"]]
    assert steps == [187 * s["epochs"] for s in plan["stages"]]


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(REPO_ZOO) if os.path.isfile(
    os.path.join(REPO_ZOO, n, "metadata.json"))))
def test_every_shipped_recipe_is_a_valid_plan_apart_from_its_run_log(name):
    with open(os.path.join(REPO_ZOO, name, "metadata.json")) as f:
        meta = json.load(f)
    with open(os.path.join(REPO_ZOO, name, "config.json")) as f:
        config = json.load(f)
    plan = stages.check_plan(stages.recipe_stages(meta), config)
    assert plan and all(s["epochs"] >= 1 for s in plan)
    assert "how_it_was_trained" not in meta["recipe"] and "stages" not in meta["recipe"].get("notes", "")
    for note in ("wall_time_s", "final_logs", "machine"):
        assert note not in json.dumps(meta["recipe"])  # the run log stays in "training"
    if len(plan) == 1 and "training" in meta and "wall_time_s" in meta["training"]:
        assert meta["training"]["epochs"] == plan[0]["epochs"]


def test_the_card_renders_one_row_per_stage():
    with open(os.path.join(REPO_ZOO, "dcgan_mnist", "README.md")) as f:
        card = f.read()
    rows = [line for line in card.splitlines() if line.startswith("| ") and "mixed_bfloat16" in line
            or line.startswith("| 1 | 20 | 128 | 0 | float32")]
    assert len(rows) == 9
    assert "fit_mixture_prior(previous stage, num_components=30" in card
    assert "keras-genai train dcgan_mnist --output dcgan_mnist --workdir runs/dcgan_mnist" in card


def _toy_preset(folder, recipe, split="train[:256]"):
    """A tiny DCGAN preset whose config.json is the architecture the two-stage toy recipe ends with:
    a 3-component mixture prior (fit_mixture_prior) in front of the generator."""
    gan = models.dcgan(latent_dim=8, base_filters=4, seed=0)
    final = models.fit_mixture_prior(gan, num_components=3, num_samples=60, seed=0)
    final.compile()
    meta = {"name": "toy", "family": "gan", "description": "toy", "recipe": {"stages": recipe},
            "dataset": {"name": "mnist", "split": split}}
    zoo.save_preset(final, folder, meta, samples=False)
    return str(folder)


TOY_RECIPE = [
    {"epochs": 1, "batch_size": 16, "seed": 0,
     "build": {"builder": "dcgan", "arguments": {"latent_dim": 8, "base_filters": 4}}},
    {"epochs": 2, "options": {"generator_top_k": 0.5},
     "transform": {"name": "fit_mixture_prior", "arguments": {"num_components": 3, "num_samples": 60, "seed": 0}},
     "optimizers": {"d_optimizer": {"class_name": "Adam", "config": {"learning_rate": 1e-4, "beta_1": 0.5}},
                    "g_optimizer": {"class_name": "Adam", "config": {"learning_rate": 5e-5, "beta_1": 0.5}}}},
]


@needs_mnist
def test_a_two_stage_recipe_runs_from_scratch_resumes_across_stages_and_ends_with_the_preset_architecture(
        tmp_path, monkeypatch):
    source = _toy_preset(tmp_path / "toy", TOY_RECIPE)
    run, args = tmp_path / "run", ["--steps-per-epoch", "2", "--workdir", str(tmp_path / "run")]
    code, out, err = cli("train", source, "--output", str(tmp_path / "first"), "--stop-after-stage", "1", *args)
    assert code == 0, err[-3000:]
    kept = run / "stage_01" / "preset"
    assert (kept / "model.weights.h5").is_file() and not (run / "stage_01" / "backup").exists()
    stage_1 = zoo.load(str(kept), compile=False)
    assert "mixture_prior" not in [layer.name for layer in stage_1.generator.layers]  # built, not transformed
    stamp = os.path.getmtime(kept / "model.weights.h5")

    fits = []
    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **k: fits.append(k["epochs"]) or fit(self, *a, **k))
    code, out, err = cli("train", source, "--output", str(tmp_path / "out"), *args)
    assert code == 0, err[-3000:]
    assert "stage 1 of 2: done earlier" in out and fits == [2], out  # stage 1 was skipped, not retrained
    assert os.path.getmtime(kept / "model.weights.h5") == stamp
    trained = zoo.load(str(tmp_path / "out"), compile=False)
    assert "mixture_prior" in [layer.name for layer in trained.generator.layers]  # the transform ran
    assert trained.generator_top_k == 0.5
    assert stages.same_architecture(trained, source)
    meta = zoo.info(str(tmp_path / "out"))
    log = meta["training"]
    assert log["architecture_matches_preset"] is True and log["stages_run"] == "2 of 2" and log["epochs"] == 3
    assert [entry["stage"] for entry in log["stages"]] == [1, 2]
    assert [s["epochs"] for s in meta["recipe"]["stages"]] == [1, 2]  # the recipe as run
    # Other flags than the kept stage's are refused instead of mixing two runs.
    code, _, err = cli("train", source, "--output", str(tmp_path / "other"), "--seed", "3", *args)
    assert code == 1 and "other settings" in err and not (tmp_path / "other").exists()


@pytest.mark.parametrize("change, message", [
    (lambda r: r[1].update(transform={"name": "fit_mixture_priors", "arguments": {}}), "unknown transform"),
    (lambda r: r[1].update(epochs=0), "'epochs' must be a positive integer"),
    (lambda r: r[1].update(options={"refine_discriminatr": True}), "unknown option"),
    (lambda r: r[0].update(epoch=3), "unknown field"),
    (lambda r: r[1]["transform"]["arguments"].update(components=3), "takes no argument"),
    (lambda r: r[0].update(build={"builder": "os.system", "arguments": {}}), "unknown build"),
    (lambda r: r[1]["optimizers"]["g_optimizer"].update(class_name="Adamm"), "not a Keras optimizer"),
])
def test_bad_plans_are_refused_before_training_with_the_stage_named(change, message, tmp_path, monkeypatch):
    recipe = json.loads(json.dumps(TOY_RECIPE))
    change(recipe)
    source = _toy_preset(tmp_path / "toy", recipe)
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    stages.check_plan(TOY_RECIPE, config)  # the recipe without the change is a good one
    with pytest.raises(ValueError, match=message):
        stages.check_plan(recipe, config)
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("a bad plan trained"))
    code, _, err = cli("train", source, "--output", str(tmp_path / "out"), "--workdir", str(tmp_path / "run"))
    assert code == 1 and "recipe stage" in err and message.split("'")[0] in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


def test_stop_after_stage_beyond_the_plan_is_refused():
    code, _, err = cli("train", os.path.join(REPO_ZOO, "gan_mnist"), "--dry-run", "--stop-after-stage", "2")
    assert code == 1 and "the plan has 1 stage" in err


# --------------------------------------------------------------------------- builders of the families
SHIPPED_BUILDERS = ("dcgan", "mlp_gan", "wgan_gp", "conditional_dcgan", "unconditional_vae", "conditional_vae",
                    "gated_pixelcnn", "masked_pixelcnn")
ADAM = {"class_name": "Adam", "config": {"learning_rate": 0.05}}


def test_the_families_register_their_builders():
    registered = models.recipe_builders()
    assert set(SHIPPED_BUILDERS) <= set(registered)
    assert all(registered[name] is getattr(models, name) for name in SHIPPED_BUILDERS)
    assert stages.builder_class(registered["wgan_gp"]) is models.GAN
    assert stages.builder_class(registered["gated_pixelcnn"]) is models.PixelCNN


def test_a_builder_name_is_registered_once(monkeypatch):
    from keras_genai.models import base

    monkeypatch.setattr(base, "_RECIPE_BUILDERS", dict(base._RECIPE_BUILDERS))

    @models.recipe_builder("tiny_dcgan")
    def small(seed=None):
        return models.dcgan(latent_dim=4, base_filters=4, seed=seed)

    assert models.recipe_builders()["tiny_dcgan"] is small
    with pytest.raises(ValueError, match="a recipe builder named 'dcgan' is registered already"):
        models.recipe_builder("dcgan")(small)
    # Without a return annotation the class is unknown: any family's optimizer names pass, others do not.
    stage = {"epochs": 1, "build": {"builder": "tiny_dcgan", "arguments": {}}}
    stages.check_plan([{**stage, "optimizers": {"optimizer": ADAM}}])
    with pytest.raises(ValueError, match="'optimizers' must be an object of a model's optimizers"):
        stages.check_plan([{**stage, "optimizers": {"critic_optimizer": ADAM}}])


@pytest.mark.parametrize("builder, optimizers, message", [
    ("gaussian_toy", {"d_optimizer": ADAM, "g_optimizer": ADAM}, "with 'optimizer' \\(the optimizers of Gaussian\\)"),
    ("dcgan", {"optimizer": ADAM}, "with 'd_optimizer', 'g_optimizer' \\(the optimizers of GAN\\)"),
    ("dcgan", {"d_optimizer": ADAM}, "with 'd_optimizer', 'g_optimizer'"),
])
def test_a_stage_sets_the_optimizers_of_the_class_its_builder_returns(builder, optimizers, message):
    import toy_family  # noqa: F401 (registers gaussian_toy)

    stage = {"epochs": 1, "build": {"builder": builder, "arguments": {}}}
    with pytest.raises(ValueError, match=f"recipe stage 1: 'optimizers' must be an object {message}"):
        stages.check_plan([{**stage, "optimizers": optimizers}])


def test_a_family_outside_the_library_trains_a_recipe_through_its_own_builder(tmp_path, monkeypatch):
    import toy_family

    untrained = toy_family.Gaussian(seed=0)
    untrained.compile(optimizer=keras.optimizers.Adam(1e-4))  # the preset's own; the stage's replaces it
    meta = toy_family.toy_metadata()
    meta["recipe"] = {"stages": [{"epochs": 2, "batch_size": 32, "seed": 0, "optimizers": {"optimizer": ADAM},
                                  "build": {"builder": "gaussian_toy", "arguments": {"image_shape": [2, 2, 1]}}}]}
    zoo.save_preset(untrained, tmp_path / "toy", meta)

    code, out, err = cli("info", str(tmp_path / "toy"))
    assert code == 0 and "stage 1: 2 epochs, batch 32, seed 0, float32; model: `gaussian_toy(image_shape=[2, 2, 1])`" \
        in out, err
    plan = _dry_run(str(tmp_path / "toy"))
    assert plan["stages"][0]["build"]["builder"] == "gaussian_toy"
    bad = {"epochs": 1, "build": {"builder": "gaussian_toy", "arguments": {}},
           "optimizers": {"d_optimizer": ADAM, "g_optimizer": ADAM}}
    meta["recipe"] = {"stages": [bad]}
    zoo.save_preset(untrained, tmp_path / "bad", meta)
    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("a bad plan trained"))
    code, _, err = cli("train", str(tmp_path / "bad"), "--output", str(tmp_path / "bad_out"))
    assert code == 1 and "the optimizers of Gaussian" in err and not (tmp_path / "bad_out").exists()
    monkeypatch.setattr(keras.Model, "fit", fit)

    run = tmp_path / "run"
    code, out, err = cli("train", str(tmp_path / "toy"), "--output", str(tmp_path / "trained"), "--workdir", str(run))
    assert code == 0, err[-3000:]
    trained = zoo.load(str(tmp_path / "trained"))
    assert isinstance(trained, toy_family.Gaussian) and trained.image_shape == (2, 2, 1)  # the builder's, not config's
    assert float(trained.optimizer.learning_rate) == pytest.approx(0.05)  # the stage's optimizer
    assert not (run / ".lock").exists()  # a finished run leaves the workdir unlocked and clean of its lock

    code, _, err = cli("evaluate", str(tmp_path / "trained"), "--update-card")
    assert code == 0, err[-3000:]
    card = (tmp_path / "trained" / "README.md").read_text()
    error = zoo.info(str(tmp_path / "trained"))["metrics"]["moments"]["mean_error"]
    assert f"| mean error | {error:.4f} |" in card  # the family's own table (card_metrics)
