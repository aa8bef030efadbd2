"""requirements.txt alone must run the service: what the API and the Redis worker import.

The suite's environment has the dev requirements too, which can hide a runtime
dependency (kombu's Redis transport needs `packaging`, declared only under its `redis`
extra). This resolves requirements.txt's closure from the installed metadata and checks
every module the processes import comes from a distribution in it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

BACKEND_DIR = Path(__file__).resolve().parents[1]

# Modules of distributions outside requirements.txt's closure cannot be imported: optional
# imports (rich, pygments...) fall back as they would in production, required ones fail.
IMPORTS = """
import json, sys
from importlib import metadata
allowed = set(json.loads(sys.argv[1]))
owners = metadata.packages_distributions()
canonical = lambda name: name.replace("_", "-").replace(".", "-").lower()

class OnlyRequirements:
    def find_spec(self, name, path=None, target=None):
        dists = owners.get(name.split(".")[0])
        if dists and not any(canonical(dist) in allowed for dist in dists):
            raise ModuleNotFoundError(f"{name} is not installed by requirements.txt", name=name)
        return None

sys.meta_path.insert(0, OnlyRequirements())
from app.main import create_app
create_app()
import app.worker, app.intake.tasks, app.batch.tasks, app.analysis.tasks
import kombu.transport.redis, kombu.transport.sqlalchemy, celery.backends.redis
import celery.backends.database
print("imported", len(sys.modules))
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure() -> set[str]:
    """Distributions requirements.txt installs: its pins, their dependencies and extras."""
    pending = [
        Requirement(line.split("#")[0].strip())
        for line in (BACKEND_DIR / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    seen: dict[str, set[str]] = {}
    while pending:
        requirement = pending.pop()
        name = canonical(requirement.name)
        extras = set(requirement.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        for raw in metadata.requires(requirement.name) or []:
            dependency = Requirement(raw)
            marker = dependency.marker
            if marker is None or any(
                marker.evaluate({"extra": extra}) for extra in {"", *seen[name]}
            ):
                pending.append(dependency)
    # The project itself (installed editable for its `triage` command) is not a dependency.
    return set(seen) | {"ticket-triage"}


def test_the_api_and_worker_import_with_only_requirements_txt() -> None:
    closure = runtime_closure()
    assert {"fastapi", "celery", "redis"} <= closure
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS, json.dumps(sorted(closure))],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("imported")


def test_the_training_extras_are_kept_out_of_the_runtime_requirements() -> None:
    """scikit-learn and scipy only retrain models: requirements-training.txt adds them to
    the runtime, and the development set includes it."""
    closure = runtime_closure()
    assert not {"scikit-learn", "scipy"} & closure
    training = (BACKEND_DIR / "requirements-training.txt").read_text().splitlines()
    assert "-r requirements.txt" in training
    assert {canonical(line.split("==")[0]) for line in training if "==" in line} >= {
        "scikit-learn",
        "scipy",
    }
    dev = (BACKEND_DIR / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements-training.txt" in dev
