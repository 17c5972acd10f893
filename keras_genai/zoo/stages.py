"""A preset's recipe as data: a list of training stages, checked before anything trains.

``metadata.json`` keeps the recipe (what to run) apart from the run log (what a run measured)::

    "recipe": {"stages": [
        {"epochs": 20, "batch_size": 128, "seed": 0, "dtype_policy": "float32",
         "build": {"builder": "dcgan", "arguments": {"image_shape": [28, 28, 1], "refine": true}},
         "optimizers": {"d_optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.0002, "beta_1": 0.5}},
                        "g_optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.0002, "beta_1": 0.5}}}},
        {"epochs": 15, "options": {"refine_discriminator": true}, "dtype_policy": "mixed_bfloat16"},
        {"epochs": 3, "transform": {"name": "fit_mixture_prior", "arguments": {"num_components": 30}}}
    ]},
    "training": {"command": ..., "wall_time_s": ..., "final_logs": {...}, "stages": [{...}, ...]}

Each stage trains its own ``epochs`` with fresh optimizer state and the data order restarted at
its ``seed``, starting from the model the previous stage ended with. A stage's fields:

- ``epochs`` (required, int >= 1); ``batch_size`` (int >= 1), ``seed`` (int; the data order, the
  first stage's initial weights and every stage's training noise) and ``dtype_policy`` (one of
  ``preset.DTYPE_POLICIES``): the previous stage's when absent (128, 0 and float32 for the first).
- ``build`` (first stage only): ``{"builder": NAME, "arguments": {...}}``, a builder registered
  with ``keras_genai.models.recipe_builder`` (``keras_genai.models.recipe_builders()``) called with
  these arguments (lists for tuples; ``seed`` comes from the stage). Without it the first stage
  builds the preset's own ``config.json``.
- ``options`` (later stages): changed arguments of the first stage's builder (the model is
  rebuilt with them and keeps the previous stage's weights for every network whose layers are
  unchanged, e.g. ``refine_discriminator`` gives a new, randomly initialised discriminator), or,
  without a builder or after a transform, changed entries of the model's config
  (``generator_top_k``).
- ``transform`` (later stages): ``{"name": NAME, "arguments": {...}}``, one of ``TRANSFORMS``,
  applied to the previous stage's model before this stage trains.
- ``optimizers``: one entry for each of the model class's ``optimizer_names`` (``{"optimizer": ...}``,
  a GAN's ``{"d_optimizer": ..., "g_optimizer": ...}``), each a Keras optimizer in its serialized
  form (``{"class_name": "Adam", "config": {...}}``, learning rates a number or a schedule such as
  ``HoldThenLinearDecay`` or ``PolynomialDecay``); the class is the one the first stage's builder
  is annotated to return, else the one the preset's config.json names.
  Absent: the previous stage's; for the first stage, the preset's ``compile_config``.
- ``sequence_length``, ``windows_per_epoch``: text data (language models).
- ``note``: prose for the card.

A plan is checked whole (``check_plan``) before the first stage trains: a typo in stage 9 is
refused before stage 1 starts.
"""

import copy
import inspect
import json
import numbers

from keras_genai.zoo.errors import PresetError

STAGE_FIELDS = ("epochs", "batch_size", "seed", "dtype_policy", "build", "options", "transform", "optimizers",
                "sequence_length", "windows_per_epoch", "note")
# Named transforms between stages: function of keras_genai.models taking the model first.
TRANSFORMS = ("fit_mixture_prior",)
DEFAULTS = {"batch_size": 128, "seed": 0, "dtype_policy": "float32"}


def recipe_stages(metadata, path="metadata.json"):
    """The raw stage list of a preset's metadata (``recipe.stages``); ``PresetError`` when the
    recipe section is missing or not a list of objects."""
    recipe = metadata.get("recipe")
    if not isinstance(recipe, dict) or not isinstance(recipe.get("stages"), list) or not recipe["stages"]:
        raise PresetError(f"{path}: 'recipe.stages' must be a non-empty list of training stages; this preset "
                          "has no recipe to train")
    for number, stage in enumerate(recipe["stages"], 1):
        if not isinstance(stage, dict):
            raise PresetError(f"{path}: recipe stage {number} must be an object, got {stage!r}")
    return recipe["stages"]


def stages_of(metadata):
    """The stages of a preset's recipe (``recipe.stages``, raw). A preset saved before recipes
    were data (no ``recipe`` section) is one stage of its ``training`` section's epochs,
    batch_size, seed, sequence_length and windows_per_epoch."""
    if "recipe" in metadata:
        return recipe_stages(metadata)
    training = metadata.get("training") or {}
    stage = {"epochs": training.get("epochs", 1)}
    stage.update({key: training[key] for key in ("batch_size", "seed", "sequence_length", "windows_per_epoch")
                  if isinstance(training.get(key), int)})
    return [stage]


def check_plan(stages, config=None):
    """The stages with every default filled in (a new list; ``stages`` is left unchanged).

    Args:
        stages: the recipe's stages (list of dicts, see the module docstring).
        config: the preset's ``config.json`` (dict) or None; the options of a plan without a
            builder, and the optimizers of one without ``optimizers``, are checked against it.
    Raises:
        ValueError naming the stage and the field: unknown fields, non-positive counts, unknown
        builders, transforms, options or optimizers, arguments the builder or transform does
        not take.
    """
    if not isinstance(stages, list) or not stages:
        raise ValueError("a recipe is a non-empty list of stages")
    compile_config = (config or {}).get("compile_config") or {}
    model_options = set((config or {}).get("config", {}))
    model_class = _registered_class(config)  # the preset's; the first stage's builder says its own
    builder = None
    transformed = False
    for number, raw in enumerate(stages, 1):
        where = f"recipe stage {number}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be an object, got {raw!r}")
        unknown = sorted(set(raw) - set(STAGE_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; a stage has "
                             f"{', '.join(STAGE_FIELDS)}")
        stage = copy.deepcopy(raw)
        if "epochs" not in stage:
            raise ValueError(f"{where}: 'epochs' is required (a positive integer)")
        for field in ("epochs", "batch_size", "sequence_length", "windows_per_epoch"):
            if field in stage:
                _check_positive(stage[field], f"{where}: '{field}'")
        if "seed" in stage and (isinstance(stage["seed"], bool) or not isinstance(stage["seed"], numbers.Integral)):
            raise ValueError(f"{where}: 'seed' must be an integer, got {stage['seed']!r}")
        if "dtype_policy" in stage:
            from keras_genai.zoo.preset import DTYPE_POLICIES

            if stage["dtype_policy"] not in DTYPE_POLICIES:
                raise ValueError(f"{where}: 'dtype_policy' must be one of {', '.join(DTYPE_POLICIES)}, "
                                 f"got {stage['dtype_policy']!r}")
        if "build" in stage:
            if number != 1:
                raise ValueError(f"{where}: only the first stage builds a model ('build'); later stages change "
                                 "it with 'options' or a 'transform'")
            builder = _check_call(stage["build"], "builder", builders(), where, "build", first_is_model=False)
            model_class = builder_class(builder) or model_class
            if "seed" in stage["build"].get("arguments", {}):
                raise ValueError(f"{where}: put the seed in the stage's 'seed', not in the builder's arguments "
                                 "(it seeds the initial weights and the training noise)")
        if "transform" in stage:
            if number == 1:
                raise ValueError(f"{where}: a transform changes the previous stage's model; the first stage has "
                                 "none (give it a 'build' instead)")
            _check_call(stage["transform"], "name", transforms(), where, "transform", first_is_model=True)
            transformed = True
        if "options" in stage:
            if number == 1:
                raise ValueError(f"{where}: the first stage sets its model's options in 'build'; 'options' "
                                 "changes them in later stages")
            _check_options(stage["options"], builder, transformed, model_options, where)
        if "optimizers" in stage:
            _check_optimizers(stage["optimizers"], where, compile_config, model_class)
    return filled(stages)


def filled(stages):
    """The stages with every default filled in, unchecked (a new list): each stage's batch size,
    seed and dtype policy are its own or the previous stage's (``DEFAULTS`` for the first), and
    a stage without ``optimizers`` gets the previous stage's, written out, so that each stage
    reads alone. No TensorFlow is imported (``keras-genai info`` prints this); ``check_plan``
    checks the stages first."""
    current = dict(DEFAULTS)
    current_optimizers = None
    plan = []
    for raw in stages:
        stage = copy.deepcopy(raw)
        if "optimizers" in stage:
            current_optimizers = stage["optimizers"]
        elif current_optimizers is not None:
            stage["optimizers"] = copy.deepcopy(current_optimizers)
        for field in DEFAULTS:
            current[field] = stage.get(field, current[field])
        stage.update({field: current[field] for field in DEFAULTS})
        plan.append(stage)
    return plan


def _check_positive(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def builders():
    """The builders a recipe's first stage may call, ``{name: function}``: those registered with
    ``keras_genai.models.recipe_builder`` (the shipped families' are registered when
    ``keras_genai.models`` is imported)."""
    import keras_genai.models

    return keras_genai.models.recipe_builders()


def transforms():
    """The named transforms between stages, ``{name: function}`` (``TRANSFORMS``)."""
    import keras_genai.models

    return {name: getattr(keras_genai.models, name) for name in TRANSFORMS}


def builder_class(builder):
    """The ``GenerativeModel`` class a builder's return annotation names (``-> GAN``), None without one."""
    from keras_genai.models.base import GenerativeModel

    try:
        returns = inspect.signature(builder, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError, SyntaxError):  # an annotation that does not resolve
        return None
    return returns if isinstance(returns, type) and issubclass(returns, GenerativeModel) else None


def _registered_class(config):
    """The ``GenerativeModel`` class a config.json dict names, None when it names none."""
    if not config:
        return None
    from keras_genai.models.base import GenerativeModel
    from keras_genai.zoo import preset

    family = preset.family_of_config(config)
    return None if family is GenerativeModel else family


def _check_call(call, key, functions, where, field, first_is_model):
    """Checks a ``{key: NAME, "arguments": {...}}`` call of one of ``functions`` ({name: function})
    against the function's signature; returns the function."""
    if not isinstance(call, dict) or set(call) - {key, "arguments"} or not isinstance(call.get(key), str):
        raise ValueError(f"{where}: '{field}' must be {{\"{key}\": NAME, \"arguments\": {{...}}}}, got {call!r}")
    if call[key] not in functions:
        raise ValueError(f"{where}: unknown {field} {call[key]!r}; known: {', '.join(functions)}")
    arguments = call.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ValueError(f"{where}: '{field}.arguments' must be an object, got {arguments!r}")
    function = functions[call[key]]
    parameters = list(inspect.signature(function).parameters)[1 if first_is_model else 0:]
    unknown = sorted(set(arguments) - set(parameters))
    if unknown:
        raise ValueError(f"{where}: {call[key]} takes no argument(s) {', '.join(map(repr, unknown))}; "
                         f"it takes {', '.join(parameters)}")
    return function


def _check_options(options, builder, transformed, model_options, where):
    if not isinstance(options, dict) or not options:
        raise ValueError(f"{where}: 'options' must be a non-empty object of model options, got {options!r}")
    if builder is not None and not transformed:
        known, what = set(inspect.signature(builder).parameters) - {"seed"}, f"arguments of {builder.__name__}"
    else:
        known, what = model_options - {"name", "trainable", "dtype", "seed"}, "entries of the model's config"
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {', '.join(map(repr, unknown))}; options are {what}: "
                         f"{', '.join(sorted(known))}")


def _check_optimizers(optimizers, where, compile_config, model_class):
    """A stage's optimizers: those of ``model_class.optimizer_names``, each of them; when the class
    is not known, names of some family's optimizers, those of ``compile_config`` if it has any."""
    if model_class is not None:
        names = tuple(model_class.optimizer_names)
        if not isinstance(optimizers, dict) or sorted(optimizers) != sorted(names):
            raise ValueError(f"{where}: 'optimizers' must be an object with {', '.join(map(repr, names))} (the "
                             f"optimizers of {model_class.__name__}), got {optimizers!r}")
    else:
        names = optimizer_names()
        if not isinstance(optimizers, dict) or not optimizers or set(optimizers) - set(names):
            raise ValueError(f"{where}: 'optimizers' must be an object of a model's optimizers "
                             f"({', '.join(map(repr, names))}), got {optimizers!r}")
        expected = [key for key in names if key in compile_config]
        if expected and sorted(optimizers) != sorted(expected):
            raise ValueError(f"{where}: this model trains with {', '.join(expected)}; the stage gives "
                             f"{', '.join(sorted(optimizers))}")
    for key, optimizer in optimizers.items():
        try:
            deserialize_optimizer(optimizer)
        except Exception as error:  # Keras raises ValueError, TypeError or KeyError for bad configs
            raise ValueError(f"{where}: 'optimizers.{key}' is not a Keras optimizer config: {error}") from None


def optimizer_names():
    """Every optimizer name of the known families (``GenerativeModel.optimizer_names`` of each
    subclass), in a stable order: ``("optimizer", "d_optimizer", "g_optimizer", ...)``."""
    import keras_genai.models  # noqa: F401 (the shipped families)
    from keras_genai.models.base import GenerativeModel

    names, pending = list(GenerativeModel.optimizer_names), [GenerativeModel]
    while pending:
        family = pending.pop(0)
        names += [name for name in family.optimizer_names if name not in names]
        pending += family.__subclasses__()
    return tuple(names)


def deserialize_optimizer(config):
    """A Keras optimizer from its serialized form; schedules may be named by class
    (``HoldThenLinearDecay`` or a Keras schedule such as ``PolynomialDecay``)."""
    import keras

    from keras_genai.models import schedules

    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"expected {{\"class_name\": ..., \"config\": {{...}}}}, got {config!r}")
    named = {name: getattr(keras.optimizers.schedules, name) for name in dir(keras.optimizers.schedules)
             if isinstance(getattr(keras.optimizers.schedules, name), type)}
    named["HoldThenLinearDecay"] = schedules.HoldThenLinearDecay
    optimizer = keras.optimizers.deserialize(copy.deepcopy(config), custom_objects=named)
    if not isinstance(optimizer, keras.optimizers.Optimizer):  # unknown names can come back as strings
        raise ValueError(f"{config['class_name']!r} is not a Keras optimizer (for example Adam, AdamW, SGD)")
    return optimizer


def compile_config_for(stage_optimizers, base_compile_config):
    """The compile config of a stage: ``base_compile_config`` (the preset's, with its loss and
    metrics) with the stage's optimizers in place of its own (each in Keras's full form)."""
    from keras_genai.models import optimizers

    config = copy.deepcopy(base_compile_config or {})
    for key, optimizer in (stage_optimizers or {}).items():
        config[key] = optimizers.serialize_recipe_optimizer(deserialize_optimizer(optimizer))
    return config or None


def plan_summary(plan):
    """The plan as ``--dry-run`` prints it: ``{"stages": [...], "epochs": total}``."""
    return {"stages": plan, "epochs": sum(stage["epochs"] for stage in plan)}


# ---------------------------------------------------------------- models between stages
def build_first(stage, seed, dtype, preset_folder):
    """The untrained model of the first stage, computing under ``dtype`` (None: float32)."""
    import keras

    from keras_genai.zoo import preset

    keras.utils.set_random_seed(seed)
    if "build" not in stage:
        noise_seed = seed if preset.has_noise_seed(preset.read_json(preset_folder, preset.CONFIG_FILE)) else None
        model, _ = preset.build_model(preset_folder, dtype=dtype, seed=noise_seed)
        return model
    builder = builders()[stage["build"]["builder"]]
    model = builder(**_builder_arguments(builder, stage["build"].get("arguments", {}), seed))
    return copy_model(model, dtype=dtype, seed=seed) if dtype else model


def next_model(previous, stage, first_stage, builder_options, transformed_before, seed, dtype):
    """The model a later stage starts from: ``previous`` (float32, trained) after the stage's
    transform and options, rebuilt under ``dtype`` (None: float32) with the stage's noise ``seed``.

    ``builder_options``: the options of every stage so far, this one's included (a builder is
    called with all of them); ``transformed_before``: whether an earlier stage had a transform.
    Returns ``(model, notes)``: notes name the networks kept and the new ones."""
    import keras

    notes = {}
    model = previous
    if "transform" in stage:
        transform = transforms()[stage["transform"]["name"]]
        model = transform(model, **_json_arguments(stage["transform"].get("arguments", {})))
    if "options" in stage:
        if "build" in first_stage and not transformed_before and "transform" not in stage:
            builder = builders()[first_stage["build"]["builder"]]
            arguments = {**first_stage["build"].get("arguments", {}), **builder_options}
            keras.utils.set_random_seed(seed)
            rebuilt = builder(**_builder_arguments(builder, arguments, seed))
            notes = transfer_unchanged_networks(model, rebuilt)
            model = rebuilt
        else:
            model = copy_model(model, options=stage["options"])
    return copy_model(model, dtype=dtype, seed=seed), notes


def _builder_arguments(builder, arguments, seed):
    arguments = _json_arguments(arguments)
    if "seed" in inspect.signature(builder).parameters:
        arguments["seed"] = seed
    return arguments


def _json_arguments(arguments):
    """Builder arguments from JSON: lists become tuples (image shapes)."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in arguments.items()}


def copy_model(model, dtype=None, seed=None, options=None):
    """A new model from ``model``'s config (with ``options`` replacing config entries, the dtype
    policy ``dtype`` (None: as it is) and the noise ``seed``) holding ``model``'s weights."""
    import keras

    from keras_genai.zoo import preset

    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    config["config"].update(options or {})
    if seed is not None and preset.has_noise_seed(config):
        config["config"]["seed"] = seed
    if dtype is not None:
        config = preset.with_dtype_policy(config, dtype)
    copy_ = keras.saving.deserialize_keras_object(config, safe_mode=True)
    copy_.set_weights(model.get_weights())
    return copy_


def network_signature(network):
    """What two networks must share to exchange weights: each layer's class and weight shapes."""
    layers = getattr(network, "layers", None) or [network]
    return [(type(layer).__name__, [tuple(w.shape) for w in layer.weights]) for layer in layers]


def transfer_unchanged_networks(source, target):
    """Copies into ``target`` the weights of every network (sub-model) of ``source`` whose
    layers are unchanged; returns ``{"kept": [...], "new": [...]}`` (network names)."""
    sources = {layer.name: layer for layer in source.layers}
    kept, new = [], []
    for layer in target.layers:
        match = sources.get(layer.name)
        if match is not None and network_signature(match) == network_signature(layer):
            layer.set_weights(match.get_weights())
            kept.append(layer.name)
        else:
            new.append(layer.name)
    return {"networks_kept": kept, "networks_new": new}


def same_architecture(model, preset_folder):
    """Whether ``model`` has the networks of the preset's config.json: the same class, the same
    networks by name, each with the same layer classes and weight shapes (automatic layer names
    may differ)."""
    from keras_genai.zoo import preset

    expected, _ = preset.build_model(preset_folder)

    def structure(m):
        return type(m).__name__, [(layer.name, network_signature(layer)) for layer in m.layers]

    return structure(model) == structure(expected)


# ---------------------------------------------------------------- the card
def card_lines(metadata):
    """The card's Training section, rendered from ``recipe.stages`` and the run log ``training``."""
    recipe = metadata.get("recipe") or {}
    stages = recipe.get("stages") or []
    log = metadata.get("training") or {}
    if not stages and not log:
        return []
    lines = ["## Training", ""]
    if stages:
        try:
            stages = check_plan(stages)  # every field written out, as the run reads it
        except ValueError:
            pass
        total = sum(s.get("epochs", 0) for s in stages if isinstance(s, dict))
        lines += [f"Recipe: {len(stages)} stage{'s' if len(stages) > 1 else ''}, {total} epochs "
                  f"(`keras-genai train {metadata.get('name')} --dry-run` prints it as JSON).", ""]
        if recipe.get("notes"):
            lines += [recipe["notes"], ""]
        lines += ["| stage | epochs | batch | seed | dtype | model | optimizers |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for number, stage in enumerate(stages, 1):
            lines.append(f"| {number} | {stage.get('epochs')} | {stage.get('batch_size', '')} | {stage.get('seed', '')} "
                         f"| {stage.get('dtype_policy', '')} | {_model_cell(stage, number)} | "
                         f"{_optimizers_cell(stage, number)} |")
        notes = [(n, s["note"]) for n, s in enumerate(stages, 1) if isinstance(s, dict) and s.get("note")]
        if notes:
            lines.append("")
            lines += [f"- stage {n}: {note}" for n, note in notes]
        lines += ["", "Reproduce from scratch:", "", "```bash",
                  f"keras-genai train {metadata.get('name')} --output {metadata.get('name')} "
                  f"--workdir runs/{metadata.get('name')}", "```", ""]
    if log:
        lines += ["### Run log", ""]
        lines += [f"- {key}: {card_value(value)}" for key, value in log.items() if key not in ("command", "stages")]
        per_stage = log.get("stages") or []
        if per_stage:
            keys = [k for k in ("epochs", "wall_time_s", "scores", "note") if any(k in s for s in per_stage)]
            lines += ["", "| stage | " + " | ".join(keys) + " |", "| --- " * (len(keys) + 1) + "|"]
            for entry in per_stage:
                lines.append(f"| {entry.get('stage', '')} | " + " | ".join(_cell(entry.get(k, "")) for k in keys) + " |")
        if log.get("command"):
            lines += ["", "Command of the run:", "", "```bash", log["command"], "```"]
        lines.append("")
    return lines


def stage_line(stage, number):
    """Stage ``number`` of a checked plan in one line, as ``keras-genai info`` prints it (the cells
    of its row in the card's table): ``stage 1: 20 epochs, batch 128, seed 0, float32; model: ...;
    optimizers: ...``."""
    return (f"stage {number}: {stage.get('epochs')} epochs, batch {stage.get('batch_size', '')}, "
            f"seed {stage.get('seed', '')}, {stage.get('dtype_policy', '')}; model: {_model_cell(stage, number)}; "
            f"optimizers: {_optimizers_cell(stage, number)}")


def _model_cell(stage, number):
    parts = []
    if "build" in stage:
        parts.append(_call_text(stage["build"]["builder"], stage["build"].get("arguments", {})))
    if "transform" in stage:
        parts.append(_call_text(stage["transform"]["name"], stage["transform"].get("arguments", {}), "previous stage"))
    if "options" in stage:
        parts.append(", ".join(f"{k}={_json_text(v)}" for k, v in stage["options"].items()))
    if parts:
        return "; ".join(parts)
    return "the preset's config.json, untrained" if number == 1 else "the previous stage's"


def _call_text(name, arguments, first=None):
    args = ([first] if first else []) + [f"{k}={_json_text(v)}" for k, v in arguments.items()]
    return f"`{name}({', '.join(args)})`"


def _optimizers_cell(stage, number):
    optimizers = stage.get("optimizers")
    if not optimizers:
        return "the preset's compile config" if number == 1 else "the previous stage's"
    texts = {key: _optimizer_text(value) for key, value in optimizers.items()}
    if len(set(texts.values())) == 1 and len(texts) > 1:
        return "both: " + next(iter(texts.values()))
    return "; ".join(f"{key.replace('_optimizer', '')}: {text}" for key, text in texts.items())


def _optimizer_text(optimizer):
    """``Adam(beta_1=0.5), 0.0002 -> 2e-06 linearly over 14040 steps``."""
    config = dict(optimizer.get("config", {}))
    rate = config.pop("learning_rate", None)
    if isinstance(rate, dict):
        fields = rate.get("config", {})
        if rate.get("class_name") in ("HoldThenLinearDecay", "PolynomialDecay") and fields.get("power", 1.0) == 1.0:
            held = f"held {fields['hold_steps']} steps, then " if fields.get("hold_steps") else ""
            rate = (f"{held}{fields.get('initial_learning_rate'):g} -> {fields.get('end_learning_rate', 0):g} "
                    f"linearly over {fields.get('decay_steps')} steps")
        else:
            rate = f"{rate.get('class_name')}({', '.join(f'{k}={_json_text(v)}' for k, v in fields.items())})"
    elif isinstance(rate, (int, float)):
        rate = f"{rate:g} constant"
    extras = ", ".join(f"{k}={_json_text(v)}" for k, v in config.items())
    return f"{optimizer.get('class_name')}({extras}), {rate}"


def _json_text(value):
    return json.dumps(value) if not isinstance(value, str) else value


def _cell(value):
    return card_value(value).replace("|", "/")


def card_value(value):
    """How a metadata value reads on a model card: floats to 4 significant digits, lists and
    dicts as inline JSON, anything else as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value) + "`"
    return str(value)
