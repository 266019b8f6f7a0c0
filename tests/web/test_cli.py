"""Command-line tools: first admin, demo seed."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from app import scheduled_jobs
from core.db import db
from core.models import User
from vetting.models import Seller


def test_users_create_makes_the_first_admin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "Boss@Example.test", "--role", "admin",
                                 "--name", "The Boss", "--password", "a-very-long-secret"])
    assert result.exit_code == 0, result.output
    assert "Created boss@example.test with roles: admin" in result.output
    user = db.session.execute(select(User)).scalar_one()
    assert user.roles == {"admin"}
    assert user.display_name == "The Boss"


def test_users_create_refuses_bad_input_and_changes_nothing(app: Flask,
                                                            runner: FlaskCliRunner) -> None:
    bad_role = runner.invoke(args=["users", "create", "x@example.test", "--role", "root",
                                   "--password", "a-very-long-secret"])
    assert bad_role.exit_code != 0
    assert "'root' is not one of" in bad_role.output
    short = runner.invoke(args=["users", "create", "x@example.test", "--role", "admin",
                                "--password", "short"])
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    runner.invoke(args=["users", "create", "x@example.test", "--role", "admin",
                        "--password", "a-very-long-secret"])
    dup = runner.invoke(args=["users", "create", "X@example.test", "--role", "vetting",
                              "--password", "a-very-long-secret"])
    assert dup.exit_code == 1
    assert "already exists" in dup.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1


def test_demo_seed_is_idempotent_and_prints_passwords_once(app: Flask,
                                                          runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    for role in ("vetting", "inspector", "compliance", "admin", "approver"):
        assert f"{role}@labelkeeper.example" in first.output
        assert f"{role}-demo-2026" in first.output
    second = runner.invoke(args=["demo", "seed"])
    assert "-demo-2026" not in second.output
    assert "Sellers: 0 created, 3 already present." in second.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 5
    assert db.session.execute(select(func.count()).select_from(Seller)).scalar_one() == 3
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0
    assert "OK" in verify.output


def test_the_readme_and_the_scheduler_help_name_every_scheduled_job(
        runner: FlaskCliRunner) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    row = next(line for line in readme.splitlines()
               if line.startswith("| `flask --app app scheduler"))
    help_text = " ".join(runner.invoke(args=["scheduler", "--help"]).output.split())
    for job in scheduled_jobs():
        assert f"`{job.name}`" in row
        assert job.name.replace("-", " ").split()[0] in help_text.lower()
