"""The rhip command line: set-up commands, errors, and documentation of every command."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cli import rhip
from node import NodeHome, create_app


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(rhip, list(args), input=input, catch_exceptions=False)


def test_init_add_user_token_and_use_it(tmp_path: Path) -> None:
    home = tmp_path / "clinic"
    r = run("node", "init", "--home", str(home), "--clinic", "511321100", "--name", "南隆镇卫生院")
    assert r.exit_code == 0, r.output
    key = home / "keys" / "node.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pw = tmp_path / "pw.txt"
    pw.write_text("s3cret-password\n")
    r = run(
        "node",
        "add-user",
        "--home",
        str(home),
        "--user",
        "wangli",
        "--role",
        "doctor",
        "--password-file",
        str(pw),
    )
    assert r.exit_code == 0, r.output
    r = run(
        "node",
        "add-user",
        "--home",
        str(home),
        "--user",
        "zhaoq",
        "--role",
        "nurse",
        input="another-password\nanother-password\n",
    )
    assert r.exit_code == 0, r.output
    r = run("node", "token", "--home", str(home), "--user", "wangli")
    assert r.exit_code == 0
    token = r.stdout.strip().splitlines()[-1]
    h = NodeHome.open(home)
    db = h.database()
    with TestClient(app=create_app(db, h.store(db))) as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"] == "wangli"


def test_clear_errors(tmp_path: Path) -> None:
    r = CliRunner().invoke(rhip, ["node", "token", "--home", str(tmp_path / "none"), "--user", "x"])
    assert r.exit_code != 0 and "not a node home" in r.output
    home = tmp_path / "c"
    run("node", "init", "--home", str(home), "--clinic", "511321100", "--name", "x")
    r = CliRunner().invoke(
        rhip, ["node", "init", "--home", str(home), "--clinic", "511321100", "--name", "x"]
    )
    assert r.exit_code != 0 and "refusing to overwrite" in r.output
    r = CliRunner().invoke(
        rhip, ["node", "add-user", "--home", str(home), "--user", "a", "--role", "doctor"], input="pw\npw\n"
    )
    assert r.exit_code != 0
    r = CliRunner().invoke(
        rhip,
        ["node", "add-user", "--home", str(home), "--user", "bob", "--role", "doctor"],
        input="short\nshort\n",
    )
    assert r.exit_code != 0 and "password" in r.output
    r = CliRunner().invoke(
        rhip, ["node", "add-user", "--home", str(home), "--user", "bob", "--role", "chief"]
    )
    assert r.exit_code == 2 and "--role" in r.output
    r = CliRunner().invoke(rhip, ["node", "token", "--home", str(home), "--user", "nobody"])
    assert r.exit_code != 0 and "no active account" in r.output


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


@pytest.mark.parametrize(
    "path,cmd", _commands(rhip), ids=lambda x: " ".join(x) if isinstance(x, tuple) else ""
)
def test_every_command_has_help_with_an_example(path: tuple[str, ...], cmd: click.Command) -> None:
    r = run(*path, "-h")
    assert r.exit_code == 0
    assert "Example" in r.output and "rhip " in r.output.split("Example", 1)[1], (
        f"rhip {' '.join(path)} lacks an example"
    )
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden and param.name not in ("help",):
            assert param.help, f"rhip {' '.join(path)} {param.opts[0]} is undocumented"
