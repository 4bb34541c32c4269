"""The error classes a user can meet. Each carries a message that names the file, line and field."""


class SectorTagError(Exception):
    """Base class of every error sectortag raises on purpose."""


class DataError(SectorTagError):
    """An input or training file cannot be read or does not follow the schema."""


class ModelError(SectorTagError):
    """A model bundle is missing, damaged, foreign or incompatible."""


class ConfigError(SectorTagError):
    """The training configuration is missing a value or holds a wrong one."""


class Interrupted(SectorTagError):
    """A job was stopped (Ctrl-C); the message says what had and had not changed."""


class ModelMismatchWarning(UserWarning):
    """The project's champion file and the registry's champion alias disagreed (the message says which was used)."""
