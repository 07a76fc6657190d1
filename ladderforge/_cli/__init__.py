"""The command-line face: parses, calls the library, renders, maps errors to exit codes.

Each command lives in its own module with a ``register(app)`` function; ``main.py`` lists them.
"""
