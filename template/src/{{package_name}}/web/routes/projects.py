"""`/api/projects[/{id}]`: the tenant-scoped sample resource (DESIGN section 5).

The tenant is never read from the request: bodies ignore unknown fields (a
forged `tenant` or `tenant_id` is dropped) and query strings are not
consulted; every handler opens `services.data.begin(principal)`, which
takes the tenant from the validated token. Another tenant's project id
answers 404, exactly like an id that does not exist. ABAC conditions of
roles.yaml (owner-only delete for members) are checked against the loaded
record before anything changes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ...projects import NAME_MAX_LENGTH, Project, ProjectRepository
from ...security.policy import Record, authorize
from ...security.principal import Principal
from ..authz import require

router = APIRouter(prefix="/api/projects", tags=["projects"])


class ProjectBody(BaseModel):
    """Only `name` is read; anything else (a forged `tenant`, `tenant_id`, `id`) is ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)


def _json(project: Project) -> dict[str, Any]:
    return {"id": str(project.id), "name": project.name, "tenant": project.tenant}


def _record(project: Project) -> Record:
    return Record(owner=project.created_by)


@router.get("")
def list_projects(request: Request, principal: Annotated[Principal, require("projects:read")]) -> dict[str, Any]:
    with request.app.state.services.data.begin(principal) as tx:
        projects = ProjectRepository(tx).list()
    point = request.app.state.authz
    visible = [p for p in projects if point.decide(principal, "projects:read", _record(p)).allowed]
    return {"projects": [_json(project) for project in visible]}


@router.post("", status_code=201)
def create_project(
    request: Request, body: ProjectBody, principal: Annotated[Principal, require("projects:write")]
) -> dict[str, Any]:
    with request.app.state.services.data.begin(principal) as tx:
        project = ProjectRepository(tx).add(body.name, created_by=principal.subject)
    return _json(project)


@router.get("/{project_id}")
def read_project(
    request: Request, project_id: uuid.UUID, principal: Annotated[Principal, require("projects:read")]
) -> dict[str, Any]:
    with request.app.state.services.data.begin(principal) as tx:
        project = ProjectRepository(tx).get(project_id)
    authorize(request.app.state.authz, principal, "projects:read", _record(project))
    return _json(project)


@router.patch("/{project_id}")
def rename_project(
    request: Request,
    project_id: uuid.UUID,
    body: ProjectBody,
    principal: Annotated[Principal, require("projects:write")],
) -> dict[str, Any]:
    with request.app.state.services.data.begin(principal) as tx:
        repository = ProjectRepository(tx)
        authorize(request.app.state.authz, principal, "projects:write", _record(repository.get(project_id)))
        project = repository.rename(project_id, body.name)
    return _json(project)


@router.delete("/{project_id}", status_code=204)
def delete_project(
    request: Request, project_id: uuid.UUID, principal: Annotated[Principal, require("projects:delete")]
) -> Response:
    with request.app.state.services.data.begin(principal) as tx:
        repository = ProjectRepository(tx)
        authorize(request.app.state.authz, principal, "projects:delete", _record(repository.get(project_id)))
        repository.delete(project_id)
    return Response(status_code=204)
