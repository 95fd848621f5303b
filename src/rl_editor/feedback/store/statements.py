"""Core statements of the per-request paths (handing out a task, recording a judgment).

Every rater request runs some of these; as plain Core statements they return
rows without building ORM objects or tracking them in a session.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

from rl_editor.feedback.models import Assignment, EditRecord, Judgment, Rater, Task

_J, _T, _A, _R, _E = (Judgment.__table__, Task.__table__, Assignment.__table__, Rater.__table__, EditRecord.__table__)

JUDGMENT_BY_CLIENT = select(_J.c.id, _J.c.rater_id).where(_J.c.client_id == bindparam("cid"))
TASK_BY_ID = select(_T).where(_T.c.id == bindparam("tid"))
ASSIGNMENT_LOCKED = (
    select(_A.c.id, _A.c.presented_order, _A.c.judged_at)
    .where(_A.c.task_id == bindparam("tid"), _A.c.rater_id == bindparam("rid"))
    .with_for_update()
)
EDITS_BY_ID = select(_E).where(_E.c.edit_id.in_(bindparam("ids", expanding=True)))
RATER_NAME = select(_R.c.name).where(_R.c.id == bindparam("rid"))
INSERT_JUDGMENT = insert(_J).returning(_J.c.id)
MARK_JUDGED = update(_A).where(_A.c.id == bindparam("aid")).values(judged_at=bindparam("at"))
BUMP_JUDGED = update(_T).where(_T.c.id == bindparam("tid")).values(n_judged=_T.c.n_judged + 1)
