"""Tickets endpoints."""

from fastapi import APIRouter

router = APIRouter(prefix="/tickets", tags=["tickets"])
