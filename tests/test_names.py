"""Names: one name per setting from builder to constructor, losses in one pattern, losses and
likelihoods given by name, no module shadowed by a function, an ``Example:`` in every public class."""

import importlib
import inspect
import pkgutil
import re
import types

import pytest

import keras_genai
from keras_genai import callbacks, losses, models, nets
from keras_genai.models.vae import likelihoods

# Builder arguments that configure the networks only (no constructor argument to match).
_NETWORK_ONLY = {"refine_discriminator", "nets", "width"}


def _parameters(function):
    return set(inspect.signature(function).parameters) - {"self", "kwargs"}


def test_wgan_gp_takes_the_gan_argument_names():
    gan = models.wgan_gp((28, 28, 1), latent_dim=4, base_filters=4, discriminator_steps=3, gradient_penalty=5.0, seed=0)
    assert (gan.discriminator_steps, gan.gradient_penalty, gan.loss_name) == (3, 5.0, "wasserstein")
    assert gan.get_config()["discriminator_steps"] == 3 and gan.get_config()["gradient_penalty"] == 5.0
    for old in ({"critic_steps": 3}, {"penalty": 5.0}):
        with pytest.raises(TypeError, match="unexpected keyword"):
            models.wgan_gp((28, 28, 1), latent_dim=4, base_filters=4, **old)


@pytest.mark.parametrize("builder, model_class, networks", [
    (models.dcgan, models.GAN, (nets.dcgan_generator, nets.dcgan_discriminator)),
    (models.wgan_gp, models.GAN, (nets.dcgan_generator, nets.dcgan_discriminator)),
    (models.mlp_gan, models.GAN, (nets.mlp_generator, nets.mlp_discriminator)),
    (models.conditional_dcgan, models.GAN, (nets.dcgan_generator, nets.dcgan_discriminator)),
    (models.unconditional_vae, models.VAE, (nets.mlp_encoder, nets.conv_decoder)),
    (models.conditional_vae, models.VAE, (nets.mlp_encoder, nets.conv_decoder)),
    (models.gated_pixelcnn, models.PixelCNN, (nets.gated_pixelcnn,)),
    (models.masked_pixelcnn, models.PixelCNN, (nets.masked_pixelcnn,)),
])
def test_every_builder_argument_has_the_name_of_what_it_sets(builder, model_class, networks):
    known = _parameters(model_class.__init__).union(*map(_parameters, networks)) | _NETWORK_ONLY
    assert _parameters(builder) - known == set(), (
        f"{builder.__name__} has arguments named like no argument of {model_class.__name__} or its networks")


def test_losses_follow_one_pattern():
    assert set(losses.ADVERSARIAL_LOSSES) == {"non_saturating", "minimax", "wasserstein", "hinge"}
    for name, pair in losses.ADVERSARIAL_LOSSES.items():
        assert pair == (getattr(losses, f"{name}_discriminator_loss"), getattr(losses, f"{name}_generator_loss"))
        assert losses.get(name) == pair
    loss_functions = {n for n, f in vars(losses).items() if inspect.isfunction(f) and n.endswith("_loss")}
    expected = {f"{name}_{role}_loss" for name in losses.ADVERSARIAL_LOSSES for role in ("discriminator", "generator")}
    assert loss_functions == expected  # no discriminator_loss / wasserstein_critic_loss beside them


def test_losses_and_likelihoods_are_given_by_name(tiny_gan):
    generator, discriminator = tiny_gan.generator, tiny_gan.discriminator
    assert models.GAN(generator, discriminator, loss="hinge").loss_name == "hinge"
    for loss in (losses.hinge_generator_loss, "lsgan", ["hinge"]):
        with pytest.raises(ValueError, match="unknown loss .* given by its name"):
            models.GAN(generator, discriminator, loss=loss)
    assert likelihoods.check_name("gaussian") == "gaussian"
    for likelihood in (likelihoods.log_prob, "poisson"):
        with pytest.raises(ValueError, match="unknown likelihood .* given by its name"):
            models.unconditional_vae((8, 8, 1), latent_dim=2, width=4, likelihood=likelihood)


def test_no_module_is_shadowed_by_a_function_of_its_package():
    shadowed = []
    for info in pkgutil.walk_packages(keras_genai.__path__, "keras_genai."):
        importlib.import_module(info.name)
        parent, _, leaf = info.name.rpartition(".")
        if not isinstance(getattr(importlib.import_module(parent), leaf), types.ModuleType):
            shadowed.append(info.name)
    assert shadowed == []


def _public_classes():
    for module in (models, nets, callbacks):
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if not name.startswith("_") and inspect.isclass(obj) and obj.__module__.startswith("keras_genai"):
                yield f"{module.__name__}.{name}", obj


def test_the_public_classes_are_found():
    found = {name.rpartition(".")[2] for name, _ in _public_classes()}
    assert {"GAN", "VAE", "PixelCNN", "GPT", "HoldThenLinearDecay", "GaussianMixturePrior", "TransformerBlock",
            "SampleGrid", "TensorBoardImages", "TextSamples", "SafeCheckpoint", "ResumableBackup"} <= found


@pytest.mark.parametrize("name, cls", [pytest.param(name, cls, id=name) for name, cls in _public_classes()])
def test_every_public_class_has_an_example(name, cls):
    doc = inspect.getdoc(cls) or ""
    example = re.search(r"^Example:\n\n```python\n(.*?)\n```$", doc, re.S | re.M)
    assert example, f"{name}: the docstring needs an 'Example:' block with a ```python fence"
    code = example.group(1)
    compile(code, f"{name} example", "exec")  # valid Python (the examples are run by hand; see the report)
    assert "keras_genai." in code
