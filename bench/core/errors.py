"""The error hierarchy: one root, a few children, messages that name the next step."""


class BenchError(Exception):
    """Root of every error accelbench raises on purpose."""


class ConfigError(BenchError):
    """A config file, a command-line value or a parameter is wrong."""


class BackendUnavailable(BenchError):
    """A backend cannot run on this machine (missing library, device or key)."""


class BackendError(BenchError):
    """A backend failed while preparing or running a case."""


class MissingExtra(BackendUnavailable):
    """An optional dependency is not installed."""


class UnsupportedCase(BenchError):
    """A backend cannot run this workload at all (not a failure)."""


class CorrectnessError(BenchError):
    """A backend's output disagrees with the reference beyond the tolerance."""


class SchemaVersionError(BenchError):
    """A results file was written with another schema version."""


class RecordFormatError(BenchError):
    """A results file holds a key or a value that its schema version does not define."""
