"""Admin routes over raters and ratings: what the admin page's rater actions and exports call.

``GET /api/admin/raters`` lists raters with their status (``active``,
``deactivated``, ``revoked``, ``expired``); ``POST /api/admin/rater-actions``
with ``{"name": ..., "action": ...}`` deactivates, activates or revokes a
rater, makes them a new link, or gives them their headphone check attempts
back; ``GET /api/admin/ratings.csv`` exports the 1-4 star ratings as CSV
(``?campaign=`` for one campaign). Every route needs an admin token; the
action body is checked by :class:`~rl_editor.feedback.guard.BodyGuard` with
:data:`BODY_RULES` before it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from rl_editor.config import config_to_json
from rl_editor.feedback.guard import BodyRule
from rl_editor.feedback.storage import FeedbackStore

RATER_ACTION_BODY_MAX_BYTES = 2_048
BODY_RULES = {"/api/admin/rater-actions": BodyRule("admin", RATER_ACTION_BODY_MAX_BYTES)}

RaterAction = Literal["deactivate", "activate", "revoke", "new-link", "reset-headphones"]


class RaterActionBody(BaseModel):
    """``POST /api/admin/rater-actions`` body: which rater, and what to do."""

    name: str = Field(min_length=1, max_length=200)
    action: RaterAction
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


def admin_router(store: FeedbackStore, admin: Callable[[Request], None]) -> APIRouter:
    """The routes of this module over ``store``, each behind the ``admin`` dependency."""
    router = APIRouter(dependencies=[Depends(admin)])

    @router.get("/api/admin/raters")
    def raters() -> list[dict[str, Any]]:
        return [config_to_json(r) for r in store.list_raters()]

    @router.post("/api/admin/rater-actions", status_code=200)
    def rater_action(body: RaterActionBody, request: Request) -> dict[str, Any]:
        done: dict[str, Any] = {"name": body.name, "action": body.action}
        if body.action == "deactivate":
            done["tasks_handed_back"] = store.deactivate_rater(body.name)
        elif body.action == "activate":
            store.activate_rater(body.name)
        elif body.action == "revoke":
            done["tasks_handed_back"] = store.revoke_rater(body.name)
        elif body.action == "reset-headphones":
            done["attempts_cleared"] = store.reset_headphone_attempts(body.name)
        else:
            expires_in_s = body.expires_in_days * 86400 if body.expires_in_days is not None else None
            token = store.new_rater_link(body.name, expires_in_s=expires_in_s)
            done["link"] = (store.link_base("public_url") or str(request.base_url).rstrip("/")) + f"/r/{token}"
        return done

    @router.get("/api/admin/ratings.csv")
    def ratings_csv(campaign: str | None = None) -> Response:
        from rl_editor.feedback.export import ratings_to_csv

        return Response(
            ratings_to_csv(store.export_ratings(campaign=campaign)),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="ratings.csv"'},
        )

    return router
