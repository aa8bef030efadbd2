"""The slim runtime: the API and the worker's analysis path run where scikit-learn and scipy
cannot be imported (requirements.txt, the API image); only retraining needs them, and a
retrain attempted without them fails clearly and changes nothing.

Each check runs in a subprocess whose import system refuses `sklearn` and `scipy`, on the
suite's database (the environment conftest set) and the Zendesk simulator over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from app.analysis.offline_analyzer import DEFAULT_ARTIFACT_PATH
from app.config import BACKEND_DIR
from app.database import session_scope
from app.models import User, UserModel
from sandbox.zendesk import ZendeskSimulator
from tests.factories import DEFAULT_PASSWORD, open_ticket_ids
from tests.worker.conftest import committed_user, count

__all__ = ["committed_user"]

BLOCK_TRAINING_EXTRAS = """
import importlib.abc, sys

class NoTrainingExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("sklearn", "scipy"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, NoTrainingExtras())
for name in [n for n in sys.modules if n.partition(".")[0] in ("sklearn", "scipy")]:
    del sys.modules[name]
try:
    import sklearn  # noqa: F401
except ModuleNotFoundError:
    print("training extras blocked", file=sys.stderr)
else:
    raise SystemExit("the blocker did not work")
"""

ANALYSE_THROUGH_THE_API = """
import json, sys
from fastapi.testclient import TestClient
from app.main import create_app

email, password, ticket_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
with TestClient(create_app()) as client:
    token = client.post(
        "/auth/login", data={"username": email, "password": password}
    ).json()["access_token"]
    response = client.post(
        "/tickets/process", json={"ticket_id": ticket_id},
        headers={"Authorization": f"Bearer {token}"},
    )
loaded = sorted(n for n in sys.modules if n.partition(".")[0] in ("sklearn", "scipy"))
print(json.dumps({"status": response.status_code, "body": response.json(), "loaded": loaded}))
"""

RUN_A_BATCH_AS_THE_WORKER_DOES = """
import json, sys
from app.batch import jobs, runner
from app.database import session_scope
from app.models import BatchJob

user_id, ticket_ids = int(sys.argv[1]), [int(t) for t in sys.argv[2].split(",")]
with session_scope() as db:
    job_id = jobs.create_job(db=db, user_id=user_id, zendesk_ticket_ids=ticket_ids).id
runner.run_job(job_id, worker_id="slim")
with session_scope() as db:
    job = db.get(BatchJob, job_id)
    state, done = str(job.state), job.done
loaded = sorted(n for n in sys.modules if n.partition(".")[0] in ("sklearn", "scipy"))
print(json.dumps({"state": state, "done": done, "loaded": loaded}))
"""

RETRAIN_IN_THE_WORKER_TASK = """
import json, sys
from app.analysis.tasks import retrain_user_model

print(json.dumps(retrain_user_model(int(sys.argv[1]))))
"""


TRIAGE_RETRAIN = """
import sys
from app.cli import main

sys.exit(main(["retrain", "--user", sys.argv[1]]))
"""


def run_without_training_extras(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TRAINING_EXTRAS + script, *args],
        cwd=BACKEND_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_api_analyses_a_ticket_without_scikit_learn_or_scipy(
    committed_user: User, zendesk_sim: ZendeskSimulator, engine: Engine
) -> None:
    user = committed_user
    ticket_id = open_ticket_ids(zendesk_sim, 1)[0]
    result = run_without_training_extras(
        ANALYSE_THROUGH_THE_API, user.email, DEFAULT_PASSWORD, str(ticket_id)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training extras blocked" in result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 200, outcome["body"]
    analysis = outcome["body"]["analysis"]
    assert analysis["category"] in {"bug", "feature", "billing", "support", "other"}
    assert analysis["urgency"] in {"low", "medium", "high"}
    assert outcome["loaded"] == []
    stored = count(
        engine,
        "SELECT count(*) FROM ticket_analyses a JOIN tickets t ON t.id = a.ticket_id"
        " WHERE t.user_id = :u AND t.zendesk_ticket_id = :z",
        u=user.id,
        z=ticket_id,
    )
    assert stored == 1
    assert outcome["body"]["write_back_status"] == "written"


def test_the_workers_batch_path_analyses_tickets_without_scikit_learn_or_scipy(
    committed_user: User, zendesk_sim: ZendeskSimulator
) -> None:
    ticket_ids = open_ticket_ids(zendesk_sim, 3)
    result = run_without_training_extras(
        RUN_A_BATCH_AS_THE_WORKER_DOES,
        str(committed_user.id),
        ",".join(str(ticket_id) for ticket_id in ticket_ids),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"state": "succeeded", "done": 3, "loaded": []}


def test_a_retrain_without_the_training_extras_is_logged_and_keeps_the_model(
    committed_user: User, engine: Engine
) -> None:
    user_id = committed_user.id
    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    with session_scope() as db:
        db.add(
            UserModel(
                user_id=user_id,
                version=1,
                model_version="user-v1-kept",
                artifact=Path(DEFAULT_ARTIFACT_PATH).read_bytes(),
                metrics={},
                active=True,
                created_at=a_day_ago,  # past the retrain cooldown: the retrain would train
                activated_at=a_day_ago,
            )
        )
    result = run_without_training_extras(RETRAIN_IN_THE_WORKER_TASK, str(user_id))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["promoted"] is False and outcome["version"] is None
    assert "scikit-learn, scipy not installed" in outcome["reason"]
    assert f"retrain of user {user_id} not run" in result.stderr  # logged by the worker
    command = run_without_training_extras(TRIAGE_RETRAIN, committed_user.email)
    assert command.returncode == 2 and "Traceback" not in command.stderr
    assert "triage: retraining needs the training extras" in command.stderr
    with session_scope() as db:
        versions = db.execute(
            select(UserModel.version, UserModel.active).where(UserModel.user_id == user_id)
        ).all()
    assert [tuple(row) for row in versions] == [(1, True)]
