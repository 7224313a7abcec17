"""secure-scaffold: generate web applications that are secure on their first commit.

The public surface is the `secure-scaffold` command (`secure_scaffold.cli`);
`generate_project` is the same operation for Python callers.
"""

from ._generate import generate_project

__all__ = ["__version__", "generate_project"]

__version__ = "0.2.0"
