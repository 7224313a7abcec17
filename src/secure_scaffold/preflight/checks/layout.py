"""The project's shape: prerequisites most code checks depend on."""

from __future__ import annotations

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register


@register("layout.application_package", controls=("AUTHZ-04", "DEPLOY-08", "AUTH-10", "DATA-07"))
def application_package(project: Project) -> Outcome:
    """There is one application package under src/ for the code checks to read."""
    if project.package_dir is None:
        return failed(
            Finding(
                "no application package found under src/",
                "keep the app in src/<package>/ (as secure-scaffold generates it), with security/ and web/ inside",
            )
        )
    return passed(f"application package {project.relative(project.package_dir)}")
