"""The one exception type that reaches the user as a single line (exit status 2)."""


class UserError(Exception):
    """Bad input from the user: an unknown name, an invalid value, a malformed or corrupted file.

    The message is one line that names the problem (which file, which case, what was expected)
    and, where there is one, what to do about it.
    """
