"""Staff account and sign-in operations. They flush; the caller commits."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import (
    ApiToken,
    AuditEntry,
    LoginAttempt,
    User,
    UserRole,
    new_session_token,
)
from core.roles import Role, parse_roles, parse_scopes

MIN_PASSWORD_LENGTH = 12
# Checked against when the email is unknown, so a wrong email costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("labelkeeper-timing-equaliser")


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
                           "password")
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_roles(values: Iterable[str]) -> frozenset[Role]:
    try:
        roles = parse_roles(values)
    except ValueError as exc:
        raise ServiceError(str(exc).capitalize() + ".", "roles") from None
    if not roles:
        raise ServiceError("Choose at least one role.", "roles")
    return roles


def get_user_by_email(email: str) -> User | None:
    """The account with this email, if any."""
    return db.session.execute(
        select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def create_user(email: str, display_name: str, password: str, roles: Iterable[str],
                actor: User | None) -> User:
    """Create an active account with the given roles."""
    email = normalise_email(email)
    role_set = _check_roles(roles)
    lock("user:" + email)
    if get_user_by_email(email) is not None:
        raise ServiceError(f"An account with the email {email} already exists.", "email")
    user = User(email=email, display_name=display_name.strip(),
                password_hash=_hash_password(password),
                role_rows=[UserRole(role=r.value) for r in sorted(role_set)])
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", "user", user.id,
                 {"email": email, "display_name": user.display_name,
                  "roles": sorted(r.value for r in role_set)}, actor)
    return user


def _active_admin_count() -> int:
    return db.session.execute(
        select(func.count()).select_from(User).join(UserRole)
        .where(User.active.is_(True), UserRole.role == Role.ADMIN.value)
    ).scalar_one()


def _guard_last_admin(user: User) -> None:
    if user.active and Role.ADMIN.value in user.roles and _active_admin_count() <= 1:
        raise ServiceError("This is the last active administrator; "
                           "make another administrator first.", "roles")


def update_user(user: User, display_name: str, roles: Iterable[str], expected_version: int,
                actor: User) -> User:
    """Change an account's name and roles, refusing if someone else changed it meanwhile."""
    role_set = {r.value for r in _check_roles(roles)}
    if user.version != expected_version:
        raise ConflictError("Someone else changed this account while you were editing; "
                            "review the current values and save again.")
    lock("admins")
    if Role.ADMIN.value not in role_set:
        _guard_last_admin(user)
    before = sorted(user.roles)
    user.display_name = display_name.strip()
    user.role_rows = [r for r in user.role_rows if r.role in role_set] + [
        UserRole(role=r) for r in sorted(role_set - user.roles)]
    if set(before) != role_set:
        user.session_token = new_session_token()  # new roles take effect at next sign-in
    flush_or_conflict("account")
    audit.record("user.updated", "user", user.id,
                 {"display_name": user.display_name, "roles_before": before,
                  "roles_after": sorted(role_set)}, actor)
    return user


def set_active(user: User, active: bool, actor: User) -> User:
    """Activate or deactivate an account; deactivation ends its sessions at once."""
    if user.active == active:
        return user
    lock("admins")
    if not active:
        if user.id == actor.id:
            raise ServiceError("You cannot deactivate your own account.")
        _guard_last_admin(user)
    user.active = active
    user.session_token = new_session_token()
    flush_or_conflict("account")
    audit.record("user.activated" if active else "user.deactivated", "user", user.id,
                 {"email": user.email}, actor)
    return user


def reset_password(user: User, password: str, actor: User) -> User:
    """Set a new password and end the account's current sessions."""
    user.password_hash = _hash_password(password)
    user.session_token = new_session_token()
    flush_or_conflict("account")
    audit.record("user.password_reset", "user", user.id, {"email": user.email}, actor)
    return user


@dataclass(frozen=True)
class SignIn:
    """Outcome of a sign-in attempt: the user, or the message to show."""

    user: User | None
    message: str | None = None


def _recent_failures(column: object, value: str, since: object) -> int:
    return db.session.execute(
        select(func.count()).select_from(LoginAttempt)
        .where(column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    ).scalar_one()


def authenticate(email: str, password: str, ip: str) -> SignIn:
    """Check credentials, counting failures per email and per address to throttle guessing."""
    cfg = current_app.config
    email = normalise_email(email)[:254]
    ip = ip[:64]
    now = utcnow()
    window = timedelta(seconds=cfg["LOGIN_THROTTLE_WINDOW"])
    # Both counts are read, then a failure written: serialise on the email AND the address,
    # or simultaneous guesses at many emails from one address all read the same count. Always
    # email first, then address, so two sign-ins never wait for each other in a cycle.
    lock("login:" + email)
    lock("login-ip:" + ip)
    last_ok = db.session.execute(
        select(func.max(LoginAttempt.at))
        .where(LoginAttempt.email == email, LoginAttempt.success.is_(True))
    ).scalar()
    since = max(now - window, last_ok) if last_ok else now - window
    by_email = _recent_failures(LoginAttempt.email, email, since)
    by_ip = _recent_failures(LoginAttempt.ip, ip, now - window)
    minutes = max(1, cfg["LOGIN_THROTTLE_WINDOW"] // 60)
    throttled = SignIn(None, "Too many failed sign-in attempts. "
                             f"Wait {minutes} minutes before trying again.")
    if by_email >= cfg["LOGIN_MAX_FAILURES"] or by_ip >= cfg["LOGIN_MAX_FAILURES_PER_IP"]:
        db.session.add(LoginAttempt(email=email, ip=ip, success=False, at=now))
        db.session.flush()
        return throttled

    user = get_user_by_email(email)
    password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and password_ok and user.active:
        db.session.add(LoginAttempt(email=email, ip=ip, success=True, at=now))
        audit.record("auth.login", "user", user.id, {"ip": ip}, user)
        return SignIn(user)

    db.session.add(LoginAttempt(email=email, ip=ip, success=False, at=now))
    db.session.flush()
    if by_email + 1 == cfg["LOGIN_MAX_FAILURES"] or by_ip + 1 == cfg["LOGIN_MAX_FAILURES_PER_IP"]:
        audit.record("auth.throttled", "login", email[:64],  # the entity id column holds 64
                     {"email": email, "ip": ip, "failures_for_email": by_email + 1,
                      "failures_from_ip": by_ip + 1,
                      "window_seconds": cfg["LOGIN_THROTTLE_WINDOW"]})
    if user is not None and password_ok and not user.active:
        return SignIn(None, "This account has been deactivated. "
                            "Ask an administrator to reactivate it.")
    return SignIn(None, "Email or password is incorrect.")


def record_logout(user: User) -> None:
    """End the account's sessions and note the sign-out in the audit trail.

    Session cookies are signed, not stored, so clearing this browser's cookie would leave a
    copy of it valid; rotating the session token refuses every copy (and signs the account out
    on its other devices too). The token is set with a plain UPDATE, without the row version,
    so a sign-out never makes an administrator's open edit of the account stale.
    """
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_token=new_session_token()))
    audit.record("auth.logout", "user", user.id, {}, user)


def load_session_user(session_id: str) -> User | None:
    """Resolve a session identity ("id:token") to an active user, or None."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def count_users() -> dict[str, int]:
    """Active and inactive account counts for the admin dashboard."""
    rows = db.session.execute(select(User.active, func.count()).group_by(User.active)).all()
    counts = {bool(active): n for active, n in rows}
    return {"active": counts.get(True, 0), "inactive": counts.get(False, 0)}


def count_recent_throttles(hours: int = 24) -> int:
    """Sign-in throttles recorded in the audit trail in the last `hours`."""
    return db.session.execute(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.action == "auth.throttled",
               AuditEntry.at >= utcnow() - timedelta(hours=hours))
    ).scalar_one()


# ---------------------------------------------------------------- API tokens

TOKEN_PREFIX = "lk_"  # noqa: S105 - the visible start of every token, not a secret
_TOKEN_RE = re.compile(r"lk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})", re.ASCII)
_TOKEN_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def _hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A newly created token and its full value, which exists only in this object."""

    token: ApiToken
    secret: str


def create_api_token(name: str, scopes: Iterable[str], actor: User | None) -> IssuedToken:
    """Create a token; only its SHA-256 is stored, so the returned secret is shown once."""
    name = name.strip().lower()
    if not _TOKEN_NAME_RE.fullmatch(name):
        raise ServiceError("Token names are 1 to 64 lower-case letters, digits, dots, dashes "
                           "or underscores, starting with a letter or digit.", "name")
    try:
        scope_set = parse_scopes(scopes)
    except ValueError as exc:
        raise ServiceError(str(exc).capitalize() + ".", "scopes") from None
    if not scope_set:
        raise ServiceError("Choose at least one scope.", "scopes")
    lock("api-token:" + name)
    if db.session.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
        raise ServiceError(f"A token named {name} exists already; names are never reused.",
                           "name")
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(name=name, prefix=prefix, secret_hash=_hash_secret(secret),
                     scopes=",".join(sorted(s.value for s in scope_set)),
                     created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(token)
    flush_or_conflict("token", "A token with this name was just created by someone else.")
    audit.record("api_token.created", "api_token", token.id,
                 {"name": name, "prefix": prefix, "scopes": sorted(token.scope_set)}, actor)
    return IssuedToken(token, secret)


def revoke_api_token(token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke a token for good; calls with it are refused from now on."""
    if token.revoked_at is not None:
        raise ServiceError(f"Token {token.name} was revoked already.")
    token.revoked_at = utcnow()
    db.session.flush()
    audit.record("api_token.revoked", "api_token", token.id,
                 {"name": token.name, "prefix": token.prefix}, actor)
    return token


def find_api_token(secret: str) -> ApiToken | None:
    """The active token whose secret this is, or None (unknown, malformed or revoked)."""
    match = _TOKEN_RE.fullmatch(secret)
    if match is None:
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.prefix == match.group(1))).scalar_one_or_none()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    return token if token.revoked_at is None else None


def token_needs_touch(token: ApiToken, now: datetime) -> bool:
    """True when last_used_at is older than the touch interval (so reads rarely write)."""
    return token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL


def touch_api_token(token_id: int, now: datetime) -> None:
    """Note that a token was used at `now`."""
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                       .values(last_used_at=now))


def api_tokens() -> list[ApiToken]:
    """All tokens, active ones first, newest first."""
    return list(db.session.execute(
        select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(),
                                  ApiToken.id.desc())).scalars())

