"""The one error type the engine raises for anything a user can fix."""


class PoetryError(Exception):
    """A readable, user-facing error (bad input, missing or corrupt files).

    The CLI prints it as one line and exits with code 2; the app shows it with st.error.
    """
