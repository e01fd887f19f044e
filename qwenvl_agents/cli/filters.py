"""The search filters as command-line options: one option per field of the one declaration.

``qwenvl search``, ``ask`` and ``chat`` take the same filters as :class:`~qwenvl_agents.retrieval.SearchFilters`
and the agent, under the same names (``--document``, ``--kind``, ``--language``, ``--date-from``, ...,
``--page``), because the options are made from :data:`~qwenvl_agents.filter_fields.FILTER_FIELDS` rather than
written per command: a filter added there reaches every command.

Example:
    >>> import typer
    >>> from typer.testing import CliRunner
    >>> app = typer.Typer()
    >>> @app.command()
    ... @filter_options
    ... def show(*, filters) -> None:
    ...     print(filters.as_dict())
    >>> print(CliRunner().invoke(app, ["--language", "zh", "--page", "2", "--page", "3"]).output.strip())
    {'languages': ['zh'], 'pages': [2, 3]}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvl_agents.cli.common import print_error
from qwenvl_agents.filter_fields import FILTER_FIELDS, FilterField

if TYPE_CHECKING:
    from qwenvl_agents.retrieval import SearchFilters


def make_filters(**values: Any) -> SearchFilters:
    """SearchFilters from the filter options' values (exits with status 2 and a message when they are bad)."""
    from qwenvl_agents.retrieval import SearchFilters

    try:
        return SearchFilters(**{name: value for name, value in values.items() if value is not None})
    except (TypeError, ValueError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc


def _option(spec: FilterField) -> Any:
    """``Annotated[type | None, typer.Option(...)]`` of one filter (a repeatable option for a list)."""
    kind: Any = spec.annotation(list) | None if spec.many else spec.annotation()
    names = [spec.option, *([spec.short] if spec.short else [])]
    return Annotated[kind, typer.Option(*names, help=spec.help + (" Repeatable." if spec.many else ""))]


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Replace a command's keyword-only ``filters`` parameter by one option per search filter; the command
    is called with them as one validated ``filters`` (a :class:`~qwenvl_agents.retrieval.SearchFilters`).

    Put it under ``@app.command()``; Typer reads the options from the signature this gives the command.
    """
    signature = inspect.signature(command)
    if "filters" not in signature.parameters:
        raise TypeError(f"{command.__name__} has no `filters` parameter to fill")
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.name == "filters":
            params += [
                inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_option(spec))
                for spec in FILTER_FIELDS
            ]
        else:
            # What inspect.signature(eval_str=True) would give; Typer no longer sees the command's own strings.
            annotation = param.annotation
            if isinstance(annotation, str):
                annotation = eval(annotation, command.__globals__)
            params.append(param.replace(annotation=annotation))

    @functools.wraps(command)
    def run(**values: Any) -> Any:
        filters = make_filters(**{spec.name: values.pop(spec.name, None) for spec in FILTER_FIELDS})
        return command(**values, filters=filters)

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}  # Typer reads the type hints as well
    return run
