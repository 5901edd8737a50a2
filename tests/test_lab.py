"""`runbook lab`: bad input is refused before anything starts; the mirrors are found only where they are."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from runbook_lib import lab
from runbook_lib.sandbox import server

from .conftest import ROOT


@pytest.fixture
def run_lab(monkeypatch, capsys):
    """``runbook lab ARGS`` as the CLI runs it, in this process (the refusals come before anything starts; should
    one not, the fast tier's guard stops the JupyterLab or sandbox it would start): (exit code, stdout, stderr)."""
    from runbook_lib import cli

    def run(args: list[str], sandbox_dir) -> subprocess.CompletedProcess:
        monkeypatch.setenv("RUNBOOK_SANDBOX_DIR", str(sandbox_dir))
        monkeypatch.chdir(ROOT)
        capsys.readouterr()
        code = cli.main(["lab", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["runbook", "lab", *args], code, out, err)
    return run


def test_a_port_in_use_is_refused_and_nothing_starts(tmp_path, run_lab):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_lab(["--port", str(port)], tmp_path / "sandbox")
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "runbook lab --port N" in proc.stderr and "Nothing was started" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert server.status(tmp_path / "sandbox") is None and not (tmp_path / "sandbox").exists()
    assert "JupyterLab:" not in proc.stdout


def test_not_a_port_a_bad_org_and_no_notebooks_are_refused_before_anything_starts(tmp_path, run_lab):
    bad = run_lab(["--port", "70000"], tmp_path / "sandbox")
    assert bad.returncode == 2 and "--port 70000 is not a TCP port" in bad.stderr
    (tmp_path / "org.yaml").write_text("namespace: [\n")
    port = server._free_port()
    org = run_lab(["--port", str(port), "--org", str(tmp_path / "org.yaml")], tmp_path / "sandbox")
    assert org.returncode == 2 and "org.yaml" in org.stderr and "Traceback" not in org.stderr
    empty = run_lab(["--port", str(port), "--notebooks", str(tmp_path)], tmp_path / "sandbox")
    assert empty.returncode == 2 and f"no notebooks in {tmp_path}" in empty.stderr
    assert not (tmp_path / "sandbox").exists()


def test_the_mirrors_are_set_only_when_unset_and_present(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    assert lab.MODULE_MIRROR_ENV not in lab.mirror_environment(project, {})
    (tmp_path / "shared" / "module-mirror").mkdir(parents=True)
    found = lab.mirror_environment(project, {})
    assert found[lab.MODULE_MIRROR_ENV] == str(project / "build" / "module-mirror")   # a checked copy is built there
    assert lab.mirror_environment(project, {lab.MODULE_MIRROR_ENV: "/elsewhere", lab.MIRROR_ENV: "/mine"}) == {}
    if lab.DEFAULT_PROVIDER_MIRROR.is_dir():
        assert found[lab.MIRROR_ENV] == str(lab.DEFAULT_PROVIDER_MIRROR)


def test_the_installed_frontend_matches_ipywidgets():
    assert "jupyterlab_widgets" in lab.check_frontend()


@pytest.mark.jupyterlab
def test_ctrl_c_stops_the_lab_even_when_its_shell_ignored_sigint(tmp_path):
    """A lab started in the background (SIGINT ignored, as a shell does for `make lab &`) still stops on SIGINT."""
    import re
    import signal
    import time

    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(tmp_path / "sandbox"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "lab", "--port", str(server._free_port()),
                             "--notebooks", str(ROOT / "notebooks")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline, lines = time.monotonic() + 180, []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if not line or re.search(r"JupyterLab: http://127\.0\.0\.1:\d+/lab\?token=", line):
                break
        assert any("JupyterLab: http" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        assert "JupyterLab stopped" in rest and "Sandbox stopped" in rest, rest
        assert server.status(tmp_path / "sandbox") is None
    finally:
        if proc.poll() is None:
            proc.kill()
            server.stop(tmp_path / "sandbox")
