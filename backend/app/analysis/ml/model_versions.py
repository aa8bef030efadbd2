"""A user's model versions: which one is active, switching, rollback and pruning old ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.analysis import cascade
from app.analysis.ml import user_models
from app.analysis.offline_analyzer import OfflineAnalyzer, get_offline_analyzer
from app.config import get_settings
from app.errors import NotFound
from app.models import User, UserModel, utcnow


def active_model(*, db: Session, user_id: int) -> UserModel | None:
    return db.scalar(
        select(UserModel).where(UserModel.user_id == user_id, UserModel.active.is_(True))
    )


def list_models(*, db: Session, user_id: int) -> list[UserModel]:
    return list(
        db.scalars(
            select(UserModel).where(UserModel.user_id == user_id).order_by(UserModel.version)
        )
    )


def lock_user(db: Session, user_id: int) -> None:
    """One retrain or rollback per user at a time (PostgreSQL; SQLite serialises writers)."""
    query = select(User.id).where(User.id == user_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if db.scalar(query) is None:
        raise NotFound(f"User {user_id} not found")


def judged_analyzer(db: Session, user_id: int) -> tuple[OfflineAnalyzer, str]:
    """The model in use as it was judged on the user's held-out rows (a refit model served
    after its promotion trained on those rows, so the gate compares with the model it was
    refitted from), and its label."""
    active = active_model(db=db, user_id=user_id)
    if active is None:
        return get_offline_analyzer(), "shared"
    return user_models.judged_analyzer_from_bytes(active.artifact), f"v{active.version}"


def activate(db: Session, user_id: int, target: UserModel | None) -> None:
    for row in db.scalars(
        select(UserModel).where(UserModel.user_id == user_id, UserModel.active.is_(True))
    ):
        row.active = False
    if target is not None:
        db.flush()
        target.active = True
        target.activated_at = utcnow()
    db.flush()
    cascade.invalidate(user_id)


def prune(db: Session, user_id: int, keep: int | None = None) -> None:
    """Keep `keep` versions (default: the `keep_model_versions` setting): the active one,
    whatever its age, and the newest others."""
    if keep is None:
        keep = get_settings().keep_model_versions
    stale = db.scalars(
        select(UserModel)
        .where(UserModel.user_id == user_id, UserModel.active.is_(False))
        .order_by(UserModel.version.desc())
        .offset(max(0, keep - 1))
    ).all()
    for row in stale:
        db.delete(row)


def rollback(*, db: Session, user_id: int, to_version: int | None = None) -> UserModel | None:
    """Re-activate `to_version` (0: the shared model), by default the version that was active
    before the current one (or the shared model when there is none). Returns the active row."""
    lock_user(db, user_id)
    current = active_model(db=db, user_id=user_id)
    if to_version == 0:
        activate(db, user_id, None)
        return None
    if to_version is not None:
        target = db.scalar(
            select(UserModel).where(UserModel.user_id == user_id, UserModel.version == to_version)
        )
        if target is None:
            raise NotFound(f"User {user_id} has no model version {to_version}")
    elif current is None:
        return None  # already on the shared model
    else:
        target = db.scalar(
            select(UserModel)
            .where(
                UserModel.user_id == user_id,
                UserModel.activated_at.is_not(None),
                UserModel.version < current.version,
            )
            .order_by(UserModel.version.desc())
            .limit(1)
        )
    activate(db, user_id, target)
    return target


def last_trained_at(db: Session, user_id: int) -> datetime | None:
    """When the user's newest model version was trained (None: never)."""
    return db.scalar(select(func.max(UserModel.created_at)).where(UserModel.user_id == user_id))
