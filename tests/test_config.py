"""Config: defaults, layering, env overrides, strict keys, secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nbamcp.config import CONFIG_DIR, Config, Secret, _decode, _read_toml, load_config
from nbamcp.errors import ConfigError


def test_default_toml_equals_struct_defaults() -> None:
    # An installed wheel has no configs/: the Struct defaults must be the same thing.
    assert _decode(_read_toml(CONFIG_DIR / "default.toml"), "default.toml") == Config()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environment_files_decode(env: str) -> None:
    cfg = load_config(environ={"NBAMCP_ENV": env})
    assert cfg.env == env


def test_prod_points_at_nats() -> None:
    assert load_config(environ={"NBAMCP_ENV": "prod"}).bus.url.startswith("nats://")


def test_env_overrides(tmp_path: Path) -> None:
    cfg = load_config(
        environ={
            "NBAMCP_HOME": str(tmp_path / "home"),
            "NBAMCP_DATA_DIR": str(tmp_path / "data"),
            "NBAMCP_BUS_URL": "nats://127.0.0.1:4999",
            "NBAMCP_LOG_LEVEL": "warning",
        }
    )
    assert cfg.home == tmp_path / "home"
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.bus.url == "nats://127.0.0.1:4999"
    assert cfg.log.level == "warning"


def test_extra_file_layers_over_defaults(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text("[server]\nport = 9100\n")
    cfg = load_config(f, environ={})
    assert cfg.server.port == 9100
    assert cfg.server.host == "127.0.0.1"  # untouched keys keep their defaults


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[server]\nprot = 1\n", "unknown field `prot`"),
        ("[server]\nport = 'x'\n", "server.port"),
        ("[bogus]\na = 1\n", "unknown field `bogus`"),
        ("[log]\nlevel = 'loud'\n", "log.level"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f, environ={})
    assert needle in str(err.value)
    assert str(f) in str(err.value)


def test_unknown_environment() -> None:
    with pytest.raises(ConfigError, match="NBAMCP_ENV='staging'"):
        load_config(environ={"NBAMCP_ENV": "staging"})


def test_secret_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t\n")
    monkeypatch.delenv("NBAMCP_NATS_TOKEN", raising=False)
    monkeypatch.setenv("NBAMCP_NATS_TOKEN_FILE", str(token_file))
    secret = load_config(environ={}).nats_token()
    assert isinstance(secret, Secret)
    assert secret.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in f"{secret}"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbamcp.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_bad_config_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[server]\nport = 'eighty'\n")
    proc = _cli("--config", str(f), "serve")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nbamcp: config error:") and "server.port" in lines[0]
    assert proc.stdout == ""


def test_cli_unreachable_nats_is_one_line() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    proc = _cli("serve", "--bus", url)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert url in last and "bus_unreachable" in last, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_worker_refuses_memory_bus() -> None:
    proc = _cli("worker", "stats", "--bus", "memory://")
    assert proc.returncode == 2
    assert "needs a shared bus" in proc.stderr
