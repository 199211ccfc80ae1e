"""The one exception family the command line turns into a clear message without a traceback."""

from __future__ import annotations


class EmusifyError(Exception):
    """A problem the user can fix (bad file, missing model, busy camera): show the message only."""


class ModelError(EmusifyError):
    """A model folder is missing, incomplete, corrupt or does not fit the feature extractor."""


class CameraError(EmusifyError):
    """The camera cannot be opened, or it stopped delivering frames during a window."""


class AudioError(EmusifyError):
    """No audio device, or a track cannot be played."""


class DataError(EmusifyError):
    """Input data (an image, a sample file, a data folder) is missing or unreadable."""
