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
    """The output cannot be written (unwritable folder, disk full, locked by another run).

    ``whole_run``: no later item could be written either (the disk is full or read-only), so a batch stops;
    otherwise only this item fails (a sub-folder without permission, a name the file system refuses)."""

    exit_code = 1

    def __init__(self, message: str, whole_run: bool = True):
        super().__init__(message)
        self.whole_run = whole_run


class NumericalError(StylizerError):
    """The loss or gradient became NaN or infinite."""

    exit_code = 1
