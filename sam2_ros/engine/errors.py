"""Exceptions raised by sam2_ros. All derive from :class:`Sam2RosError`."""


class Sam2RosError(Exception):
    """Base class of every error sam2_ros raises on purpose."""


class ModelDirError(Sam2RosError):
    """A model directory is missing, incomplete, corrupt or of an unsupported version."""


class BackendError(Sam2RosError):
    """A backend is unknown, not installed, or failed to load or run a component."""


class InvalidInputError(Sam2RosError, ValueError):
    """An image or prompt given to the tracker is malformed; the tracker state is unchanged."""


class ExportError(Sam2RosError):
    """The export tool cannot build or write a model directory."""
