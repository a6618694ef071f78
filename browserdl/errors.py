"""The one exception a user should ever see: a one-line message that says what to do."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the CLI prints it as one line and exits 2."""
