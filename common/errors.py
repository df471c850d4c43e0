"""The project's user-facing error type, at the bottom so every floor may raise it."""


class DataError(ValueError):
    """Bad input data: the message names the file, flag, line or id and says what to do."""
