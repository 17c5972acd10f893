"""Errors raised by the preset registry."""


class PresetError(ValueError):
    """Base class: a preset could not be found, verified or loaded."""


class UnknownPresetError(PresetError, KeyError):
    """No preset, folder or URL matches the given name."""

    def __str__(self):  # KeyError would quote the message
        return self.args[0]


class ChecksumError(PresetError):
    """A downloaded or shipped file does not have the expected sha256; nothing was loaded."""


class MissingWeightsError(PresetError):
    """The preset has no pretrained weights here (``pretrained=False`` builds it untrained)."""
