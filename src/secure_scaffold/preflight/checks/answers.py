"""The answers file matches the tree (GOV-05): code an answer says is absent is not silently unguarded.

Which controls apply is decided by `.copier-answers.yml`. Editing it (say to
`payment_provider: none`) while `src/<pkg>/billing/` stays would switch the
billing controls off for code that still runs. The runner keeps those controls
applicable (`Project.answer_variants`); this check makes the edit itself a
blocking failure that names the cause, so nobody has to infer it from a dozen
billing findings.
"""

from __future__ import annotations

from .._model import Finding, Outcome, failed, passed
from .._project import ANSWERS_FILE, Project
from .._registry import register


@register("answers.match_tree", controls=("GOV-05",))
def answers_match_tree(project: Project) -> Outcome:
    """Every package directory the template generates from an answer exists only when that answer generates it."""
    if not project.contradictions:
        return passed("the answers file agrees with the package directories in the tree")
    return failed(
        *(
            Finding(
                contradiction.message,
                f"restore the answer the project was generated with (`git log -p {ANSWERS_FILE}` shows the edit): "
                "answers change through `copier update --data KEY=VALUE`, which re-renders the tree, never by "
                f"editing the file; until then the controls guarding {contradiction.directory} stay applicable",
                path=ANSWERS_FILE,
            )
            for contradiction in project.contradictions
        )
    )
