"""Sign-in, the home dashboard, staff account administration, the audit log, health."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, text
from werkzeug.wrappers import Response

from core import audit, dashboard, services
from core.db import db
from core.edges import run_service
from core.forms import (
    ApiTokenCreateForm,
    ConfirmForm,
    LoginForm,
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
)
from core.models import ApiToken, AuditEntry, User
from core.pagination import paginate
from core.roles import Role, any_role, public, roles_required

bp = Blueprint("core", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data,
                                       request.remote_addr or "unknown")
        db.session.commit()
        if result.user is not None:
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("core.home"))
        flash(result.message or "Sign-in failed.", "danger")
    return render_template("core/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@any_role
def logout() -> Response:
    if ConfirmForm().validate_on_submit():
        services.record_logout(current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("You have signed out.", "info")
    return redirect(url_for("core.login"))


@bp.route("/")
@any_role
def home() -> str:
    return render_template("core/home.html", panels=dashboard.panels_for(current_user.roles))


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users() -> str:
    q = request.args.get("q", "").strip()[:100]
    stmt = select(User).order_by(User.active.desc(), User.email)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(User.email.like(like) | User.display_name.ilike(like))
    return render_template("core/users.html", page=paginate(stmt), q=q)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_new() -> str | Response:
    form = UserCreateForm()
    if form.validate_on_submit():
        done = run_service(
            lambda: services.create_user(form.email.data, form.display_name.data,
                                         form.password.data, form.roles.data, current_user),
            form=form, success=lambda user: f"Account {user.email} created.",
            redirect_to=lambda user: url_for("core.user_edit", user_id=user.id))
        if done:
            return done
    return render_template("core/user_new.html", form=form)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_edit(user_id: int) -> str | Response:
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user, roles=sorted(user.roles))
    if form.validate_on_submit():
        done = run_service(lambda: services.update_user(
            user, form.display_name.data, form.roles.data, form.version.data, current_user),
            form=form, success="Changes saved.",
            redirect_to=url_for("core.user_edit", user_id=user.id))
        if done:
            return done
    return render_template("core/user_edit.html", user=user, form=form,
                           password_form=PasswordResetForm(prefix="pw"),
                           toggle_form=ConfirmForm(prefix="toggle"))


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def user_set_active(user_id: int) -> Response:
    user = db.get_or_404(User, user_id)
    if ConfirmForm(prefix="toggle").validate_on_submit():
        run_service(lambda: services.set_active(user, not user.active, current_user),
                    success=lambda _: f"{user.email} is now "
                                      f"{'active' if user.active else 'deactivated'}.")
    return redirect(url_for("core.user_edit", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@roles_required(Role.ADMIN)
def user_password(user_id: int) -> Response | tuple[str, int]:
    user = db.get_or_404(User, user_id)
    password_form = PasswordResetForm(prefix="pw")
    if password_form.validate_on_submit():
        services.reset_password(user, password_form.password.data, current_user)
        db.session.commit()
        flash(f"Password for {user.email} changed; their sessions have ended.", "success")
        return redirect(url_for("core.user_edit", user_id=user.id))
    form = UserEditForm(obj=user, roles=sorted(user.roles))
    return render_template("core/user_edit.html", user=user, form=form,
                           password_form=password_form,
                           toggle_form=ConfirmForm(prefix="toggle")), 400


@bp.route("/admin/api-tokens")
@roles_required(Role.ADMIN)
def api_tokens() -> str:
    return render_template("core/api_tokens.html", tokens=services.api_tokens(),
                           form=ApiTokenCreateForm(), revoke_form=ConfirmForm(prefix="revoke"))


@bp.route("/admin/api-tokens", methods=["POST"])
@roles_required(Role.ADMIN)
def api_token_create() -> str | tuple[str, int]:
    form = ApiTokenCreateForm()
    issued = None
    if form.validate_on_submit():
        issued = run_service(lambda: services.create_api_token(
            form.name.data, form.scopes.data, current_user), form=form)
        if issued is not None:
            form = ApiTokenCreateForm(formdata=None)
    # The secret goes into this one page only: never into a flash message, the session or a
    # redirect, and the page is sent with Cache-Control: no-store.
    return render_template("core/api_tokens.html", tokens=services.api_tokens(), form=form,
                           revoke_form=ConfirmForm(prefix="revoke"),
                           issued=issued), 200 if issued or not form.errors else 400


@bp.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(Role.ADMIN)
def api_token_revoke(token_id: int) -> Response:
    token = db.get_or_404(ApiToken, token_id)
    if ConfirmForm(prefix="revoke").validate_on_submit():
        run_service(lambda: services.revoke_api_token(token, current_user),
                    success=f"Token {token.name} revoked; calls with it are refused from now on.")
    return redirect(url_for("core.api_tokens"))


@bp.route("/audit")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def audit_log() -> str:
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
    action = request.args.get("action", "").strip()[:64]
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    return render_template("core/audit_log.html", page=paginate(stmt), action=action)


@bp.route("/healthz")
@public
def healthz() -> tuple[Response, int]:
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok"), 200


def register_panels(app: Flask) -> None:
    """The core panels of the home dashboard."""
    dashboard.register_panel(app, dashboard.Panel(
        "Staff accounts", frozenset({Role.ADMIN}), "core/_panel_accounts.html",
        lambda: {"users": services.count_users(),
                 "throttles": services.count_recent_throttles()}))
    dashboard.register_panel(app, dashboard.Panel(
        "Audit trail", frozenset({Role.COMPLIANCE, Role.ADMIN}), "core/_panel_audit.html",
        lambda: {"head": audit.head_hash(), "entries": audit.count_entries()}))
