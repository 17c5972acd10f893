"""Settings given by name: the one check of a name against a table of named choices.

A model takes a loss or a likelihood by its name (``GAN(loss="hinge")``,
``VAE(likelihood="gaussian")``) and stores the name in its config; ``keras_genai.losses`` and
``keras_genai.models.vae.likelihoods`` check it here, so an unknown name reads the same
everywhere.
"""


def check_name(name, names, kind):
    """Returns ``name`` if it is one of ``names``; ``ValueError`` listing them otherwise.

    Args:
        name: the name given (anything; only a ``str`` in ``names`` passes, so functions,
            lists and other objects are refused, not looked up).
        names: the known names (a dict of name -> value, or a sequence of names).
        kind: what is named, for the message ("loss", "likelihood").
    Returns:
        ``name``.

    Example:

    ```python
    from keras_genai import losses, lookup

    lookup.check_name("hinge", losses.ADVERSARIAL_LOSSES, "loss")  # "hinge"
    lookup.check_name("lsgan", losses.ADVERSARIAL_LOSSES, "loss")
    # ValueError: unknown loss 'lsgan'; expected one of ['hinge', 'minimax', 'non_saturating',
    # 'wasserstein'] (a loss is given by its name)
    ```
    """
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {sorted(names)} (a {kind} is given by its name)")
    return name
