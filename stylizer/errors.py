"""Errors the command line turns into one clear line and an exit code (never a traceback)."""


class StylizerError(Exception):
    """Base class: the message is shown to the user as is."""

    exit_code = 1


class UsageError(StylizerError):
    """Bad command-line usage or unusable inputs given by the user (exit 2)."""

    exit_code = 2


class InputError(StylizerError):
    """An input file cannot be read or is not usable (one item fails; a batch goes on)."""

    exit_code = 2


class WeightsError(StylizerError):
    """The VGG16 weights cannot be obtained or failed verification."""

    exit_code = 2


class OutputError(StylizerError):
    """The output cannot be written (unwritable folder, disk full, locked by another run)."""

    exit_code = 1


class NumericalError(StylizerError):
    """The loss or gradient became NaN or infinite."""

    exit_code = 1
