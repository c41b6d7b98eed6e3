"""The errors a user can act on.

Every error raised on purpose by `rag` is a `RagError`. Its message says what went
wrong *and* what to do about it, so the edges (the CLI, later the web app) only
print it: they never add a traceback and never look inside the message text.

This module holds no logic; it only names the failures.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a failure with a message meant for the person at the keyboard."""

    exit_code = 1


class ReadError(Exception):
    """A file that cannot be read: not a failure of the run (the file is skipped with this reason) but the
    reason shown to the user, in English; `vi` is the same in Vietnamese."""

    def __init__(self, reason: str, vi: str) -> None:
        super().__init__(reason)
        self.vi = vi


class ConfigError(RagError):
    """Settings or the model manifest are invalid."""

    exit_code = 2


class UnknownModelError(ConfigError):
    """A model name that the manifest does not know."""


class ModelMissingError(RagError):
    """A model that should be on disk is not there."""


class RegistryError(RagError):
    """The package registry could not be reached, or did not have a package."""


class ChecksumError(RagError):
    """Downloaded or installed bytes do not match the manifest."""


class DiskSpaceError(RagError):
    """Not enough free disk space to install a model."""


class ConversionError(RagError):
    """A model file is not in the format its converter expects."""


class LockedError(RagError):
    """Another `rag` process holds the lock on the same folder."""


class IndexMissingError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """The index on disk is damaged, inconsistent or of another format."""

    exit_code = 3


class IndexIncompatibleError(RagError):
    """The index was built with another embedder than the one configured."""

    exit_code = 3


class NothingToIndexError(RagError):
    """The paths given to `rag index` hold no readable document, and there is no index yet."""


class GeneratorError(RagError):
    """The language model could not be loaded or did not answer (local or over HTTP)."""


class PromptError(RagError):
    """A prompt file and the values given to it do not match (a bug, or an edited prompt file)."""


class QuestionError(RagError):
    """A question that cannot be asked (empty)."""

    exit_code = 2


class InputError(RagError):
    """A call of the API with an argument missing, of the wrong type, or not valid text; the message names it."""

    exit_code = 2


class BusyError(RagError):
    """The one local model was answering other questions for longer than a caller waits."""
