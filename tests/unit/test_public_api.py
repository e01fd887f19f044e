"""What `qwenvl_agents` exports is what its names say: classes and functions, never a subpackage by accident."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import qwenvl_agents


@pytest.mark.parametrize("name", sorted(set(qwenvl_agents.__all__) - {"__version__"}))
def test_every_export_resolves_to_a_class_or_function(name):
    value = getattr(qwenvl_agents, name)
    assert inspect.isclass(value) or inspect.isfunction(value), f"{name} is {type(value).__name__}"


def test_exports_hold_whatever_was_imported_before():
    # Importing a subpackage binds its name on the package; an export of the same name would then turn
    # into the module. Import every subpackage first, then check again, in a fresh interpreter.
    code = (
        "import importlib, inspect, pkgutil, qwenvl_agents as q\n"
        "for m in pkgutil.iter_modules(q.__path__): importlib.import_module('qwenvl_agents.' + m.name)\n"
        "bad = [n for n in q.__all__ if n != '__version__' and inspect.ismodule(getattr(q, n))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert importlib.import_module("qwenvl_agents.agent").DocumentChat is qwenvl_agents.DocumentChat
