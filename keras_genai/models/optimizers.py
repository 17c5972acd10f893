"""How the families save their optimizers in a compile config."""

import keras


def serialize_recipe_optimizer(optimizer):
    """The serialized ``optimizer`` without the ``LossScaleOptimizer`` that ``compile`` wraps it
    in under ``mixed_float16``: the recipe stays the same whatever dtype policy trained the
    model, and compiling again adds loss scaling back where the policy needs it."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return keras.saving.serialize_keras_object(optimizer)
