"""``python -m qwenvl_agents.cli``: the ``qwenvl`` command."""

from qwenvl_agents.cli import app

if __name__ == "__main__":
    app()
