"""The controls catalog: every security-checklist requirement as a control with a stable id.

`catalog.yaml` splits each line of `checklist.md` (a copy of the security
checklist, shipped with the package) into controls: what to do, who owns it,
which projects it applies to, which compliance references it supports, and --
once a generated project really does it -- the code that implements it and the
test that proves it. Preflight and the docs read it through `load_catalog()`.
"""

from ..errors import AnswersError, CatalogError
from ._checklist import CLOSING_SECTION, Checklist, ChecklistLine, parse_checklist
from ._loader import FAMILIES, OWNERS, load_catalog
from ._model import PACKAGE_PLACEHOLDER, Catalog, Control
from ._render import REGENERATE_COMMAND, catalog_as_json, render_markdown, render_text_table

__all__ = [
    "CLOSING_SECTION",
    "FAMILIES",
    "OWNERS",
    "PACKAGE_PLACEHOLDER",
    "REGENERATE_COMMAND",
    "AnswersError",
    "Catalog",
    "CatalogError",
    "Checklist",
    "ChecklistLine",
    "Control",
    "catalog_as_json",
    "load_catalog",
    "parse_checklist",
    "render_markdown",
    "render_text_table",
]
