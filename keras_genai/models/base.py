"""``GenerativeModel``: the one contract between a model family and the zoo.

The registry, model cards, CLI, exporters and evaluation talk to a family only through the
methods and attributes below; they never name a family and never probe for attributes. A new
family subclasses ``GenerativeModel``, registers itself with
``keras.saving.register_keras_serializable`` and overrides what it does differently; the
defaults fit an image model that samples with ``sample(num_samples, seed=None, labels=None)``.

What the zoo asks, and who asks it:

- ``generates``: "images" (``sample``, sample grids) or "text" (``generate``): the CLI's
  ``sample`` / ``generate`` split and the default ``training_callbacks``.
- ``sample(num_samples, seed=None, **conditions)``, ``sample_conditions`` and
  ``check_conditions``: the CLI's ``sample`` and the sample-quality evaluation; a condition the
  model does not take is refused with a message that says which ones it takes.
- ``preview(num_samples, seed)``: the samples.png grid of ``zoo.save_preset`` (None: no grid).
- ``card_usage(metadata)``, ``card_preview(metadata)``, ``card_metrics(key, results)`` and
  ``card_metric_sections(metrics)`` (class methods, so that a card is rendered from
  metadata.json without building the model): the card's "Use" snippet, the section that shows
  what the model makes, the table of each evaluation, and all the evaluations' sections.
- ``export_signatures()``, ``example_inputs(signature, num_samples, seed)``, ``edge_signature``,
  ``edge_signatures``, ``edge_quantizations`` and ``export_tolerances``: ``keras_genai.export``
  and ``keras-genai export``.
- ``edge_sample_signature`` and ``sample_from_edge(run, num_samples, seed, labels)``: images drawn
  through a LiteRT file (``keras-genai evaluate --litert``, ``export.EdgeSampler``).
- ``default_evaluation(metadata, **options)``: what ``keras-genai evaluate`` runs, and under
  which key of the card's metrics it is stored.
- ``training_data(dataset, recipe, batch_size, seed, ...)``, ``training_callbacks(samples_dir,
  log_dir, every)`` and ``training_report(metadata, ...)``: the batches ``keras-genai train`` fits
  on, the samples it shows while training, and what it measures once training is done.
- ``optimizer_names`` and the builders registered with ``recipe_builder``: what a recipe's stages
  may set (``keras_genai.zoo.stages``).

Shared plumbing lives here once: the ``num_classes`` and label checks, latent noise drawn in
bounded chunks, the one-optimizer compile config, unpacking ``(images[, labels])`` batches, and
the labels (or ``num_samples``) and ``seed`` inputs of export signatures (``_export_signature``,
``_example_conditions``), so that a family writes each signature once for both kinds.
"""

import inspect
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_genai.models import images as image_utils
from keras_genai.models import optimizers, sampling


def check_num_classes(num_classes):
    """``num_classes`` of a (conditional) family: None (unconditional) or an integer >= 2;
    ``ValueError`` otherwise."""
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
                                    or num_classes < 2):
        raise ValueError(f"num_classes must be None or an integer >= 2, got {num_classes!r}")
    return None if num_classes is None else int(num_classes)


def check_latents(z, latent_dim):
    """Latent vectors as float32: a float array or tensor of shape (batch >= 1, latent_dim);
    ``TypeError`` for other dtypes, ``ValueError`` for other shapes."""
    if not tf.is_tensor(z):
        z = np.asarray(z)
        if not np.issubdtype(z.dtype, np.floating):
            raise TypeError(f"z must be a float array of shape (batch, {latent_dim}), got dtype {z.dtype}")
    elif not z.dtype.is_floating:
        raise TypeError(f"z must be a float tensor of shape (batch, {latent_dim}), got dtype {z.dtype.name}")
    if len(z.shape) != 2 or z.shape[-1] != latent_dim or z.shape[0] == 0:
        raise ValueError(f"z must have shape (batch, {latent_dim}) with batch >= 1, got {tuple(z.shape)}")
    return tf.cast(z, tf.float32)


def latent_noise(num_samples, seed, latent_dim):
    """Stateless standard normal noise, shape (num_samples, latent_dim) float32.

    The same ``seed`` (an integer) gives the same noise in Keras and in every export.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=seed)


_RECIPE_BUILDERS = {}


def recipe_builder(function_or_name):
    """Registers a builder that a recipe's first stage may call by name (``"build": {"builder": NAME}``).

    ``@recipe_builder`` registers the decorated function under its ``__name__``,
    ``@recipe_builder("name")`` under ``name``; the function is returned unchanged. A builder
    returns an untrained, uncompiled model; annotate it with that model's class (``-> GAN``) so
    that a recipe's ``optimizers`` are checked against the class's ``optimizer_names`` before
    anything is built (without the annotation they are checked against those of every family).
    Registering another function under a name already taken raises ``ValueError`` (the same
    function again, or its new definition when its module is reloaded, replaces it).

    Example:

    ```python
    @keras_genai.models.recipe_builder
    def tiny_gaussian(image_shape=(4, 4, 1), seed=None) -> Gaussian:
        return Gaussian(image_shape, seed=seed)

    keras_genai.models.recipe_builders()["tiny_gaussian"]  # the function
    ```
    """
    if isinstance(function_or_name, str):
        name = function_or_name
        if not name.isidentifier():
            raise ValueError(f"a recipe builder's name must be a Python identifier, got {name!r}")
        return lambda function: _register_builder(name, function)
    return _register_builder(getattr(function_or_name, "__name__", None), function_or_name)


def _register_builder(name, function):
    if not callable(function) or not isinstance(name, str):
        raise TypeError(f"recipe_builder registers a function (a builder of a model), got {function!r}")
    known = _RECIPE_BUILDERS.get(name)
    if known is not None and known is not function and \
            (known.__module__, known.__qualname__) != (function.__module__, function.__qualname__):
        raise ValueError(f"a recipe builder named {name!r} is registered already ({known.__module__}."
                         f"{known.__qualname__}); give {function.__module__}.{function.__qualname__} another name "
                         "(@recipe_builder(\"other_name\"))")
    _RECIPE_BUILDERS[name] = function
    return function


def recipe_builders():
    """The registered recipe builders, ``{name: function}`` (a copy; see ``recipe_builder``)."""
    return dict(_RECIPE_BUILDERS)


class GenerativeModel(keras.Model):
    """Base class of every family: states what the zoo needs from it (module docstring).

    Subclasses set ``num_classes`` (None: unconditional) and, for latent families,
    ``latent_dim`` and ``seed_generator``; they implement ``sample`` (or ``generate``),
    ``export_signatures`` and ``example_inputs``, and override the defaults that do not fit.

    Example:

    ```python
    @keras.saving.register_keras_serializable(package="my_project")
    class Gaussian(keras_genai.models.GenerativeModel):
        ...  # see tutorials/adding_a_family.md and tests/toy_family.py
    ```
    """

    # What the model makes: "images" (``sample``) or "text" (``generate``).
    generates = "images"
    # None for an unconditional model; the number of classes of a class-conditional one.
    num_classes = None
    # The signature a LiteRT file is converted from, and every signature the CLI writes one for.
    edge_signature = "serving_default"
    # Export tolerances an output needs beyond ``keras_genai.export.TOLERANCE``:
    # {output name: {"tflite_<quantize>" or "saved_model": (max |diff|, mean |diff|)}}.
    export_tolerances = {}
    # ``jit_compile`` of the one-optimizer ``compile`` when the caller does not set it.
    jit_compile_default = "auto"
    # The compile-config keys of the model's optimizers: those a recipe stage's ``optimizers`` sets.
    optimizer_names = ("optimizer",)

    @property
    def conditional(self):
        """Whether ``sample`` needs class labels."""
        return self.num_classes is not None

    # The LiteRT quantizations ``keras_genai.export.tflite`` offers for this family's edge graphs
    # (``export.QUANTIZATIONS`` less those its graphs do not keep accurate), and why one is left out.
    edge_quantizations = ("float32", "float16", "dynamic_int8", "full_int8")
    edge_quantization_notes = {}
    # The edge signature that turns noise alone into images (``sample_from_edge``); None where
    # sampling runs outside the LiteRT graph (one autoregressive step of logits).
    edge_sample_signature = None

    @property
    def edge_signatures(self):
        """The signatures ``keras-genai export`` writes a LiteRT file for (the first is the main one)."""
        return (self.edge_signature,)

    def sample_from_edge(self, run, num_samples, seed=0, labels=None):
        """uint8 images (num_samples, H, W, C) drawn through ``edge_sample_signature`` by ``run``.

        ``run`` maps the signature's inputs ({name: numpy}) to its outputs; with
        ``lambda inputs: keras_genai.runtime.run_tflite(path, inputs)`` the images come from a
        LiteRT file (``export.EdgeSampler``). The noise is the one of ``sample(num_samples,
        seed)``, so a GAN or VAE file that computed exactly would give ``sample``'s images.

        Example: ``model.sample_from_edge(lambda x: runtime.run_tflite("g.tflite", x), 16, seed=0)``.
        """
        self.check_edge_sampling()
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        if seed is None:
            raise TypeError("sample_from_edge needs an integer seed (the noise of sample(num_samples, seed))")
        labels = self.check_labels(labels, num_samples)
        inputs = self._edge_noise(num_samples, seed)
        if labels is not None:
            inputs["labels"] = labels
        return self._edge_images_to_uint8(run(inputs)["images"])

    def check_edge_sampling(self):
        """``edge_sample_signature``, or a ``ValueError`` for a family whose LiteRT files do not
        draw images from noise."""
        if self.edge_sample_signature is None:
            raise ValueError(f"the LiteRT files of {type(self).__name__} do not draw images from noise "
                             f"(their graphs: {', '.join(self.edge_signatures)}); sampling runs outside them")
        return self.edge_sample_signature

    def _edge_noise(self, num_samples, seed):
        """The noise inputs of ``edge_sample_signature`` for ``sample(num_samples, seed)``."""
        return {"z": self.noise(num_samples, seed=seed).numpy()}

    def _edge_images_to_uint8(self, images):
        """The edge graph's float images as ``sample`` returns them (uint8)."""
        return image_utils.to_uint8(tf.constant(images)).numpy()

    # ----------------------------------------------------------------- sampling
    def sample(self, num_samples, seed=None, **conditions):
        """``num_samples`` uint8 images (num_samples, H, W, C); ``seed`` None or an int64 integer;
        ``conditions`` among ``sample_conditions``."""
        raise ValueError(f"{type(self).__name__} generates {self.generates}, it does not sample images")

    @property
    def sample_conditions(self):
        """Names of the keyword conditions ``sample`` takes: ``("labels",)`` for a conditional model."""
        return ("labels",) if self.conditional else ()

    def check_conditions(self, **conditions):
        """Refuses (``ValueError``) a condition ``sample`` does not take, saying which ones it takes.
        Returns the conditions."""
        unsupported = sorted(set(conditions) - set(self.sample_conditions))
        if unsupported:
            takes = ", ".join(self.sample_conditions) or "no conditions"
            kind = "conditional" if self.conditional else "unconditional"
            raise ValueError(f"this {kind} {type(self).__name__} does not take {', '.join(unsupported)}; "
                             f"its sample takes {takes}")
        return conditions

    def check_labels(self, labels, num_samples):
        """Class labels for ``num_samples`` examples: None for an unconditional model; for a
        conditional one an int (for every example) or ``num_samples`` ints in [0, num_classes).
        Returns int32 numpy or None."""
        return image_utils.check_labels(labels, num_samples, self.num_classes, type(self).__name__)

    def preview(self, num_samples=64, seed=0):
        """What ``zoo.save_preset`` draws into samples.png: ``(uint8 images (n, H, W, C), columns)``,
        or None for a model without a sample grid. A conditional model cycles through its
        classes, so each column shows one class."""
        if self.generates != "images":
            return None
        if not self.conditional:
            return self.sample(num_samples, seed=seed), None
        labels = np.arange(num_samples) % self.num_classes
        return self.sample(num_samples, seed=seed, labels=labels), self.num_classes

    # Latent families (``latent_dim``, ``seed_generator``): the prior noise.
    def noise(self, num_samples, seed=None):
        """Latent vectors z, shape (num_samples, latent_dim) float32, standard normal.

        ``seed=None`` draws from the model's ``SeedGenerator`` (new noise every call); an
        integer seed gives the same noise every time, the noise of the exported signatures
        (see ``latent_noise``).
        """
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        sampling.check_result_bytes(num_samples * self.latent_dim * 4, f"noise({num_samples})")
        if seed is None:
            return keras.random.normal((num_samples, self.latent_dim), seed=self.seed_generator)
        return latent_noise(num_samples, seed, self.latent_dim)

    def _noise_rows(self, seed):
        """``StatelessRows`` of the noise ``noise(N, seed)`` for every N (``seed`` checked; None
        advances the model's ``SeedGenerator`` once, as ``noise`` does)."""
        if seed is None:
            return sampling.StatelessRows("normal", sampling.keras_seed(self.seed_generator), (self.latent_dim,),
                                          keras.config.floatx())
        return sampling.StatelessRows("normal", tf.constant([seed, 0], tf.int64), (self.latent_dim,))

    # ----------------------------------------------------------------- model card
    @classmethod
    def card_usage(cls, metadata):
        """The lines after ``model = keras_genai.zoo.load(name)`` in the card's "Use" snippet."""
        return ["images = model.sample(16, seed=0)  # uint8, (16, H, W, C)"]

    @classmethod
    def card_preview(cls, metadata):
        """The card's section showing what the model makes (Markdown lines; [] for none)."""
        return ["## Samples", "", "![samples](samples.png)", "", "`model.preview(64, seed=0)`", ""]

    @classmethod
    def card_metrics(cls, key, results):
        """The card's Markdown lines for one evaluation, ``metrics[key]`` of metadata.json (a dict;
        plain numbers of ``metrics`` are listed by the card itself). The default is the table of
        the sample-quality protocol (FID, KID, IS, precision/recall; ``default_evaluation``), or
        of the edge speed (``benchmarks/litert_edge.py``)."""
        from keras_genai.zoo import preset

        if "per_call_ms" in results:  # benchmarks/litert_edge.py --update-card
            return preset.edge_speed_table(key, results)
        return preset.sample_quality_table(key, results)

    @classmethod
    def card_metric_sections(cls, metrics):
        """The card's Markdown lines for all the evaluations of ``metrics`` (metadata.json's: a
        dict whose dict values are evaluations): ``card_metrics`` of each in turn. A family that
        shows several evaluations as one table overrides it (``Diffusion``: FID against steps)."""
        lines = []
        for key, results in metrics.items():
            if isinstance(results, dict):
                lines += cls.card_metrics(key, results)
        return lines

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, [tf.TensorSpec, ...])}``; ``serving_default``
        is the main one. Every TensorSpec is named (the SavedModel's input names)."""
        raise ValueError(f"{type(self).__name__} has no export signatures")

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()`` and the Keras result they
        must give: ``(inputs, expected)``, ``expected`` an array (the ``images`` output) or
        {output name: array}. The export checks compare the exports with it."""
        raise ValueError(f"{type(self).__name__} has no export signatures")

    def _unknown_signature(self, signature):
        return KeyError(f"unknown signature {signature!r}; expected one of {sorted(self.export_signatures())}")

    def _export_signature(self, function, *inputs, draws=False):
        """One entry of ``export_signatures()``, ``(endpoint, [tf.TensorSpec, ...])``, with the
        inputs a class-conditional model adds, so that a family writes each signature once.

        Args:
            function: the outputs ({name: tensor}) of ``(*inputs, labels)``, or with ``draws`` of
                ``(num_samples, *inputs, seed, labels)``; ``labels`` is None for an
                unconditional model.
            inputs: the signature's own inputs, named ``tf.TensorSpec`` objects.
            draws: whether the signature draws samples. Unconditional, it then takes
                ``num_samples`` () int32 first and ``seed`` () int64 last; conditional, ``labels``
                (n,) int32 in place of ``num_samples`` (one sample per label). Without ``draws`` a
                conditional model takes ``labels`` (batch,) int32 after ``inputs``.
        The endpoint's parameters are named as its inputs (as the SavedModel signature's are).

        Example:

        ```python
        def sample(num_samples, seed, labels):
            return {"images": ...}

        self._export_signature(sample, draws=True)
        # unconditional: endpoint(num_samples, seed), [num_samples () int32, seed () int64]
        # conditional:   endpoint(labels, seed),      [labels (None,) int32, seed () int64]
        ```
        """
        labels_spec = tf.TensorSpec([None], tf.int32, name="labels")
        if draws:
            seed_spec = tf.TensorSpec([], tf.int64, name="seed")
            if self.conditional:
                specs = [labels_spec, *inputs, seed_spec]

                def endpoint(labels, *values):
                    return function(tf.shape(labels)[0], *values, labels)
            else:
                specs = [tf.TensorSpec([], tf.int32, name="num_samples"), *inputs, seed_spec]

                def endpoint(*values):
                    return function(*values, None)
        elif self.conditional:
            specs = [*inputs, labels_spec]

            def endpoint(*values):
                return function(*values)
        else:
            specs = list(inputs)

            def endpoint(*values):
                return function(*values, None)
        endpoint.__signature__ = inspect.Signature(
            [inspect.Parameter(spec.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for spec in specs])
        return endpoint, specs

    def _example_conditions(self, num_samples, seed=None):
        """What ``example_inputs`` feeds a signature of ``_export_signature`` besides its own
        inputs, and the labels that means: ``(inputs, labels)``. A conditional model takes the
        labels ``0, 1, ...`` modulo ``num_classes`` (int32; ``{"labels": ...}``), an unconditional
        one none (labels None). ``seed``: for a signature that draws, its seed (``{"seed": ...}``,
        and ``{"num_samples": ...}`` when unconditional); None for the others."""
        labels = np.arange(num_samples, dtype=np.int32) % self.num_classes if self.conditional else None
        inputs = {"labels": labels} if self.conditional else {}
        if seed is not None:
            if not self.conditional:
                inputs["num_samples"] = np.int32(num_samples)
            inputs["seed"] = np.int64(seed)
        return inputs, labels

    # ----------------------------------------------------------------- evaluation
    def default_evaluation(self, metadata, **options):
        """What ``keras-genai evaluate`` runs: ``(key, results)``, results stored under
        ``metrics[key]`` of the card with ``--update-card``.

        The default is the sample-quality protocol (FID, KID, IS, precision/recall through a
        feature network; ``keras_genai.metrics.evaluate.sample_quality``). ``options`` are the
        CLI's: metrics, num_samples, features, reference, seed, batch_size, candidates, k,
        num_examples; a family uses those it needs.
        """
        from keras_genai.metrics import evaluate

        return evaluate.sample_quality(self, metadata, **options)

    # ----------------------------------------------------------------- training
    def fit(self, x=None, y=None, *args, shuffle=None, **kwargs):
        """``keras.Model.fit``. A ``tf.data.Dataset`` is read in its own order (shuffle it with
        ``Dataset.shuffle``, as ``keras_genai.data.images`` does), so Keras is not asked to
        shuffle it and does not warn that it would ignore ``shuffle=True``; arrays are shuffled
        unless ``shuffle=False``."""
        if shuffle is None:
            shuffle = not isinstance(x, tf.data.Dataset)
        return super().fit(x, y, *args, shuffle=shuffle, **kwargs)

    def training_data(self, dataset, recipe, batch_size, seed, start_epoch=0, steps_per_epoch=None, data_dir=None,
                      manual_dir=None):
        """The batches ``keras-genai train`` fits on: ``(batches, steps per epoch)``, starting at
        ``start_epoch`` (a resumed run sees the batches the uninterrupted one would).

        ``dataset`` and ``recipe`` are the preset's metadata sections. The default streams the
        images of ``dataset["name"]`` / ``dataset["split"]`` (with labels for a conditional
        model; pixel options ``value_range`` and ``binarize``; ``keras_genai.data.preset_images``).
        """
        from keras_genai import data

        return data.preset_images(dataset, batch_size, seed, with_labels=self.conditional, start_epoch=start_epoch,
                                  steps_per_epoch=steps_per_epoch, data_dir=data_dir, manual_dir=manual_dir)

    def training_report(self, metadata, data_dir=None, manual_dir=None):
        """Metadata entries ``keras-genai train`` stores after training (e.g. ``{"metrics": ...}``);
        the default measures nothing: ``{}``."""
        return {}

    def training_callbacks(self, samples_dir, log_dir=None, every=1):
        """The callbacks that show how training goes (``keras_genai.callbacks.standard`` adds them):
        for a model that ``generates`` images a PNG grid in ``samples_dir`` every ``every`` epochs
        (``SampleGrid``) and, with a TensorBoard ``log_dir``, the same images there
        (``TensorBoardImages``); for text a continuation of a fixed prompt (``TextSamples``); none
        otherwise. All from fixed seeds, so that epochs compare."""
        from keras_genai import callbacks

        if self.generates == "images":
            shown = [callbacks.SampleGrid(samples_dir, every=every)]
            return shown + ([callbacks.TensorBoardImages(log_dir)] if log_dir is not None else [])
        if self.generates == "text":
            return [callbacks.TextSamples(samples_dir, every=every)]
        return []

    # ----------------------------------------------------------------- one optimizer
    # The defaults for families trained by one optimizer (a family with more overrides them).
    def compile(self, optimizer=None, **kwargs):
        """Sets the optimizer (default Adam, learning rate 1e-3); other keyword arguments
        (``steps_per_execution``, ``jit_compile``, ...) go to ``keras.Model.compile``
        (``jit_compile`` defaults to the family's ``jit_compile_default``)."""
        optimizer = keras.optimizers.get(optimizer) if optimizer else keras.optimizers.Adam(learning_rate=1e-3)
        kwargs.setdefault("jit_compile", self.jit_compile_default)
        super().compile(optimizer=optimizer, **kwargs)
        # Built now so that weights files and BackupAndRestore checkpoints load into it.
        self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {"optimizer": optimizers.serialize_recipe_optimizer(self.optimizer)}

    def compile_from_config(self, config):
        self.compile(optimizer=keras.saving.deserialize_keras_object(config["optimizer"]))

    def _unpack(self, data):
        """``(images float32, labels int32 or None)`` of a training batch: ``(images, labels)``
        for a conditional model (images alone are refused), the images otherwise."""
        if self.conditional:
            if not (isinstance(data, (tuple, list)) and len(data) > 1):
                raise ValueError(f"a conditional {type(self).__name__} trains on (images, labels) batches; "
                                 "got images only")
            return tf.cast(data[0], tf.float32), tf.cast(data[1], tf.int32)
        return tf.cast(image_utils.images_from_batch(data), tf.float32), None
