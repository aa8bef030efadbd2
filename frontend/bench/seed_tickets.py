"""Seed one user with N processed tickets through the backend's models (no Zendesk).

Run from backend/ with its venv and the target DATABASE_URL:
    DATABASE_URL=sqlite:////tmp/x.db python ../frontend/bench/seed_tickets.py --tickets 10000
Prints the account's email and password as `email=` and `password=` lines.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

BACKEND = Path(__file__).resolve().parents[2] / "backend"
sys.path.insert(0, str(BACKEND))

EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"
SUBJECTS = (
    "Cannot log in after password reset",
    "Charged twice this month",
    "Feature request: export to Excel",
    "App crashes when uploading a file",
    "How do I add a teammate?",
    "Refund for the annual plan",
)


def seed(tickets: int, days: int, rng: random.Random) -> None:
    from app.database import get_engine
    from app.enums import AnalysisSource, Category, Sentiment, Urgency
    from app.models import Ticket, TicketAnalysis, User
    from app.core.security import hash_password
    from app.analytics import rollups

    # The schema the way start.sh builds it.
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=BACKEND, check=True)
    now = datetime.now(UTC)
    with Session(get_engine()) as db:
        user = User(email=EMAIL, hashed_password=hash_password(PASSWORD), timezone="UTC")
        db.add(user)
        db.flush()
        for number in range(1, tickets + 1):
            at = now - timedelta(seconds=rng.random() * days * 86400)
            category = rng.choices(list(Category), weights=(30, 15, 20, 30, 5))[0]
            urgency = rng.choices(list(Urgency), weights=(40, 40, 20))[0]
            rated = rng.random() < 0.03
            source = rng.choices(list(AnalysisSource)[:3], weights=(35, 60, 5))[0]
            ticket = Ticket(
                user_id=user.id,
                zendesk_ticket_id=number,
                subject=rng.choice(SUBJECTS),
                description="Hello, something is not working as expected. Please help.",
                status=rng.choice(("new", "open", "pending", "solved")),
                tags=[],
                zendesk_created_at=at - timedelta(minutes=5),
                zendesk_updated_at=at,
                created_at=at,
                updated_at=at,
            )
            ticket.analysis = TicketAnalysis(
                user_id=user.id,
                category=category,
                urgency=urgency,
                sentiment=rng.choices(list(Sentiment), weights=(15, 50, 35))[0],
                confidence=round(rng.uniform(0.4, 0.99), 3),
                summary="Customer reports a problem and asks for help.",
                source=source,
                input_tokens=rng.randrange(200, 900) if source == AnalysisSource.llm else 0,
                output_tokens=rng.randrange(50, 200) if source == AnalysisSource.llm else 0,
                cost_usd=Decimal(f"{rng.uniform(0, 0.002):.6f}")
                if source == AnalysisSource.llm
                else Decimal("0"),
                processing_time_ms=rng.randrange(5, 2500),
                feedback_category=(category if rng.random() < 0.85 else Category.other)
                if rated
                else None,
                feedback_at=at if rated else None,
                created_at=at,
                updated_at=at,
            )
            db.add(ticket)
            if number % 2000 == 0:
                db.flush()
        db.flush()
        rollups.rebuild_user(db, user_id=user.id)
        db.commit()
    print(f"email={EMAIL}")
    print(f"password={PASSWORD}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30, help="spread over the last N days")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    seed(args.tickets, args.days, random.Random(args.seed))


if __name__ == "__main__":
    main()
