"""The one Jinja2 environment of the HTML report and the web pages.

Templates live in `views/templates/` (package data): `base.html` is the layout every page
extends, `macros.html` the shared pieces (figure cards, tables, the map, the charts).
Autoescaping is on for every template, whatever its name: a value is always escaped unless
it is a `markupsafe.Markup`, which only our own code builds. Undefined variables are errors
(`StrictUndefined`), so a misspelt name fails in tests rather than printing nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from affectation.views.formatting import fr_int, fr_num, fr_pct


@cache
def environment() -> Environment:
    """The shared environment (built once): autoescape on, French number filters
    (`fr_int`, `fr_num`, `fr_pct`), strict undefined variables."""
    env = Environment(
        loader=PackageLoader("affectation.views", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fr_int=fr_int, fr_num=fr_num, fr_pct=fr_pct)
    return env


def render(template: str, **context: Any) -> str:
    """`template` (a name under `views/templates/`) rendered with `context`."""
    return environment().get_template(template).render(**context)
