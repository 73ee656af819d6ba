"""User-facing errors.

Every error a user can cause (bad config, unknown target, missing API key, unreachable
URL, corrupt model file) is an :class:`AllegianceError`. The CLI prints its message as one
line and exits non-zero, with no traceback; anything else is a bug.
"""


class AllegianceError(Exception):
    """An error whose message tells the user what is wrong and what to do."""

    exit_code = 2


class ConfigError(AllegianceError):
    """The configuration file or a command-line value is invalid."""


class TargetError(AllegianceError):
    """A target cannot be resolved, built or reached."""


class SuiteError(AllegianceError):
    """A suite file is missing or malformed."""


class StoreError(AllegianceError):
    """The results database cannot be opened or does not hold what was asked for."""


class ModelFileError(AllegianceError):
    """An embedded or local model file is missing, corrupt or does not match its pin."""
