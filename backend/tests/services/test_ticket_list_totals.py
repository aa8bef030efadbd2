"""A list page's total: exact for small results, "more than" past the count cap."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import Ticket, User
from app.pipeline import ticket_list
from tests.factories import UserFactory, create_analysed_ticket


def seven_tickets(db: Session, users: UserFactory) -> User:
    user = users.create()
    for number in range(1, 8):
        category = "bug" if number <= 5 else "billing"
        create_analysed_ticket(
            db, user, zendesk_ticket_id=number, subject=f"Problem {number}", category=category
        )
    db.flush()
    return user


def page_of(db: Session, user: User, page: int, page_size: int, **filters: object) -> tuple:
    rows, total, exact = ticket_list.list_tickets(
        db=db,
        user_id=user.id,
        page=page,
        page_size=page_size,
        sort="zendesk_ticket_id",
        count_cap=3,
        **filters,
    )
    return [row["zendesk_ticket_id"] for row in rows], total, exact


def test_total_within_the_cap_is_exact(db: Session, users: UserFactory) -> None:
    user = seven_tickets(db, users)
    assert page_of(db, user, 1, 2, category="billing") == ([6, 7], 2, True)
    assert page_of(db, user, 1, 2, text="Problem 3") == ([3], 1, True)


def test_total_past_the_cap_says_more_than(db: Session, users: UserFactory) -> None:
    user = seven_tickets(db, users)
    assert page_of(db, user, 1, 2) == ([1, 2], 3, False)
    assert page_of(db, user, 1, 2, category="bug") == ([1, 2], 3, False)
    assert page_of(db, user, 1, 2, text="problem") == ([1, 2], 3, False)


def test_a_page_past_the_cap_counts_to_its_end(db: Session, users: UserFactory) -> None:
    user = seven_tickets(db, users)
    assert page_of(db, user, 2, 2, category="bug") == ([3, 4], 4, False)
    assert page_of(db, user, 3, 2, category="bug") == ([5], 5, True)  # the last page
    assert page_of(db, user, 3, 2) == ([5, 6], 6, False)
    assert page_of(db, user, 4, 2) == ([7], 7, True)


def test_a_page_beyond_the_end_still_has_the_exact_total(db: Session, users: UserFactory) -> None:
    user = seven_tickets(db, users)
    assert page_of(db, user, 9, 2) == ([], 7, True)
    assert page_of(db, user, 1, 2, text="nothing like this") == ([], 0, True)


def test_a_subject_search_counts_to_1000_and_the_rest_to_10000(
    db: Session, users: UserFactory
) -> None:
    user = users.create()
    db.execute(
        insert(Ticket),
        [
            {"user_id": user.id, "zendesk_ticket_id": n, "subject": f"Refund {n}"}
            for n in range(1, 1003)
        ],
    )
    _, total, exact = ticket_list.list_tickets(
        db=db, user_id=user.id, page=1, page_size=25, sort="-updated_at", text="refund"
    )
    assert (total, exact) == (ticket_list.TEXT_COUNT_CAP, False) == (1000, False)
    _, total, exact = ticket_list.list_tickets(
        db=db, user_id=user.id, page=1, page_size=25, sort="-updated_at"
    )
    assert (total, exact) == (1002, True)


def test_a_number_search_counts_its_matches_with_the_page(db: Session, users: UserFactory) -> None:
    """Sorting a number search reads every match: the page's total comes from that count,
    capped as any other."""
    user = users.create()
    for number in range(1, 8):
        create_analysed_ticket(db, user, zendesk_ticket_id=number, subject=f"Order 77{number}")
    create_analysed_ticket(db, user, zendesk_ticket_id=8, subject="Order 1773")
    db.flush()
    search = {"text": "ORDER 77"}
    assert page_of(db, user, 1, 2, **search) == ([1, 2], 3, False)
    assert page_of(db, user, 3, 2, **search) == ([5, 6], 6, False)
    assert page_of(db, user, 4, 2, **search) == ([7], 7, True)  # the last page
    assert page_of(db, user, 9, 2, **search) == ([], 7, True)
    rows, total, exact = ticket_list.list_tickets(
        db=db, user_id=user.id, page=2, page_size=2, sort="subject", **search
    )
    assert ([row["zendesk_ticket_id"] for row in rows], total, exact) == ([3, 4], 7, True)
