"""Versions of the certification checklist: the one in force and saving a new one.

Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from core import audit
from core.db import db, lock
from core.errors import ServiceError
from core.models import User
from vetting.checklist import (
    DEFAULT_CHECKLIST,
    ChecklistItemSpec,
)
from vetting.models import (
    ChecklistTemplate,
    ChecklistTemplateItem,
)

MAX_ITEM_CODE_LENGTH = 20
DEFAULT_NOTE = "Default checklist"
MAX_ITEM_TITLE_LENGTH = 200


def current_template() -> ChecklistTemplate:
    """The newest checklist version, or the default checklist (unsaved, so reading never
    writes) until the first application or edit saves it as version 1."""
    template = _newest_template()
    return template if template is not None else _checklist_version(DEFAULT_CHECKLIST,
                                                                     DEFAULT_NOTE, None, 1)


def stored_template() -> ChecklistTemplate:
    """The newest saved checklist version, saving the default checklist first if none is."""
    lock("checklist_templates")  # new versions are numbered one at a time
    return _newest_template() or _save_version(DEFAULT_CHECKLIST, DEFAULT_NOTE, None)


def _newest_template() -> ChecklistTemplate | None:
    return db.session.execute(
        select(ChecklistTemplate).order_by(ChecklistTemplate.version.desc()).limit(1)
    ).scalar_one_or_none()


def _checklist_version(specs: Sequence[ChecklistItemSpec], note: str, actor: User | None,
                       version: int) -> ChecklistTemplate:
    return ChecklistTemplate(version=version, note=note.strip(),
                             created_by_id=actor.id if actor else None, items=[
        ChecklistTemplateItem(position=i, code=s.code, title=s.title, guidance=s.guidance,
                              category=s.category.value, required=s.required,
                              evidence_required=s.evidence_required)
        for i, s in enumerate(specs, start=1)])


def create_template_version(specs: Sequence[ChecklistItemSpec], note: str,
                            actor: User | None) -> ChecklistTemplate:
    """Save a checklist as a new version; applications keep the version they started with."""
    codes = [s.code for s in specs]
    if not specs:
        raise ServiceError("A checklist needs at least one item.")
    if any(not s.code or not s.title for s in specs):
        raise ServiceError("Every item needs both a code and a title.")
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ServiceError(f"Item codes must be unique; repeated: {', '.join(duplicates)}.")
    for spec in specs:
        # Codes are stored in capitals, which can be longer ("ß" becomes "SS").
        if len(spec.code) > MAX_ITEM_CODE_LENGTH:
            raise ServiceError(f"Item code {spec.code} is longer than {MAX_ITEM_CODE_LENGTH} "
                               "characters.")
        if len(spec.title) > MAX_ITEM_TITLE_LENGTH:
            raise ServiceError(f"The title of {spec.code} is longer than "
                               f"{MAX_ITEM_TITLE_LENGTH} characters.")
    stored_template()  # the default the editor started from becomes version 1 first
    return _save_version(specs, note, actor)


def _save_version(specs: Sequence[ChecklistItemSpec], note: str,
                  actor: User | None) -> ChecklistTemplate:
    """Store the next checklist version; the caller holds the checklist lock."""
    latest = db.session.execute(select(func.max(ChecklistTemplate.version))).scalar() or 0
    template = _checklist_version(specs, note, actor, latest + 1)
    db.session.add(template)
    db.session.flush()
    audit.record("checklist.version_created", "checklist_template", template.id, {
        "version": template.version, "note": template.note,
        "items": [{"code": s.code, "title": s.title, "category": s.category.value,
                   "required": s.required, "evidence_required": s.evidence_required}
                  for s in specs]}, actor)
    return template
