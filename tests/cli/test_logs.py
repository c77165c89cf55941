"""The calm terminal's parts without processes: which lines reach the terminal, the log files, `ecommerce logs`,
the restart back-off and the state file `ecommerce status` reads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecommerce.cli import app
from ecommerce.local import healing
from ecommerce.local.logfiles import LogFile, parse, readable
from ecommerce.local.supervisor import PUMP_CHUNK, Supervisor

runner = CliRunner()


def _record(event: str, level: str, second: int, service: str = "product-service", **extra: object) -> str:
    timestamp = f"2026-01-02T10:00:{second:02d}.000000Z"
    return json.dumps({"event": event, "level": level, "timestamp": timestamp, "service": service, **extra})


def test_a_json_record_reads_as_one_line_with_its_level_and_fields() -> None:
    line = parse(_record("peer call failed", "warning", 5, peer="order-service", exception="Traceback\nKeyError: 1"))
    assert line.loud and line.level == "warning"
    assert readable(line, "product-service") == (
        "10:00:05 product-service WARNING peer call failed peer=order-service (KeyError: 1)"
    )
    assert not parse(_record("Started server process", "info", 1)).loud
    assert parse("Traceback (most recent call last):").loud, "what is not a log record (a crash) is shown"


async def test_warnings_and_errors_reach_the_terminal_info_lines_only_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor = Supervisor(names=["product-service"], instances={}, data_dir=tmp_path, fork=False)
    (instance,) = supervisor.instances
    instance.log = LogFile(tmp_path / "logs" / "product-service.log")
    lines = [
        _record("Application startup complete.", "info", 1),
        _record("disk almost full", "warning", 2),
        _record("payment refused", "error", 3, order_id=7),
    ]
    stream = asyncio.StreamReader()
    stream.feed_data("".join(line + "\n" for line in lines).encode())
    stream.feed_eof()
    await supervisor._pump(instance, stream)
    instance.log.close()

    terminal = capsys.readouterr()
    assert "Application startup complete" not in terminal.err + terminal.out
    assert "10:00:02 product-service WARNING disk almost full" in terminal.err
    assert "10:00:03 product-service ERROR payment refused order_id=7" in terminal.err
    assert terminal.out == ""
    assert (tmp_path / "logs" / "product-service.log").read_text().splitlines() == lines


async def test_the_relay_keeps_lines_whole_across_reads_and_drops_only_an_overlong_one(tmp_path: Path) -> None:
    supervisor = Supervisor(names=["product-service"], instances={}, data_dir=tmp_path, fork=False)
    (instance,) = supervisor.instances
    instance.log = LogFile(tmp_path / "logs" / "product-service.log")
    first, second = _record("first", "info", 1), _record("second", "info", 2)
    stream = asyncio.StreamReader()
    pump = asyncio.create_task(supervisor._pump(instance, stream))
    stream.feed_data((first[:10]).encode())
    await asyncio.sleep(0)
    stream.feed_data((first[10:] + "\n" + "x" * (PUMP_CHUNK * 2)).encode())
    await asyncio.sleep(0)
    stream.feed_data(("\n" + second + "\n" + "last, unterminated").encode())
    stream.feed_eof()
    await pump
    instance.log.close()
    assert (tmp_path / "logs" / "product-service.log").read_text().splitlines() == [first, second, "last, unterminated"]


async def test_verbose_interleaves_every_line_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    supervisor = Supervisor(names=["product-service"], instances={}, data_dir=tmp_path, fork=False, verbose=True)
    (instance,) = supervisor.instances
    stream = asyncio.StreamReader()
    stream.feed_data((_record("Application startup complete.", "info", 1) + "\n").encode())
    stream.feed_eof()
    await supervisor._pump(instance, stream)
    assert "product-service     | " in capsys.readouterr().out


def test_logs_shows_one_component_or_all_interleaved_with_names(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "product-service.log").write_text(
        "\n".join([_record("first", "info", 1), _record("third", "warning", 3)]) + "\n"
    )
    (logs / "order-service.log").write_text(_record("second", "info", 2, service="order-service") + "\n")

    one = runner.invoke(app, ["logs", "product-service", "--data-dir", str(tmp_path)])
    assert one.exit_code == 0, one.output
    assert one.output.splitlines() == ["10:00:01 INFO first", "10:00:03 WARNING third"]

    every = runner.invoke(app, ["logs", "--data-dir", str(tmp_path), "-n", "10"])
    assert every.exit_code == 0, every.output
    assert every.output.splitlines() == [
        "10:00:01 product-service INFO first",
        "10:00:02 order-service INFO second",
        "10:00:03 product-service WARNING third",
    ]
    raw = runner.invoke(app, ["logs", "order-service", "--json", "--data-dir", str(tmp_path)])
    assert json.loads(raw.output)["event"] == "second"
    assert runner.invoke(app, ["logs", "user-service", "--data-dir", str(tmp_path)]).exit_code == 1
    assert runner.invoke(app, ["logs", "no-such-service", "--data-dir", str(tmp_path)]).exit_code == 2


def test_log_files_are_size_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ecommerce.local.logfiles.MAX_BYTES", 1000)
    log = LogFile(tmp_path / "logs" / "product-service.log")
    for number in range(200):
        log.write(_record(f"line {number}", "info", number % 60))
    log.close()
    files = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert files == ["product-service.log", "product-service.log.1"]
    assert all(path.stat().st_size <= 1000 for path in (tmp_path / "logs").iterdir())


def test_the_back_off_doubles_is_capped_resets_when_stable_and_gives_up() -> None:
    backoff = healing.Backoff()
    delays = [backoff.after_exit(ran_for=1) for _ in range(healing.GIVE_UP_AFTER)]
    assert delays == [1, 2, 4, 8, 16]
    assert all(delay is not None and delay <= healing.MAX_DELAY for delay in delays)
    assert backoff.after_exit(ran_for=1) is None, "gives up after GIVE_UP_AFTER quick crashes in a row"
    again = healing.Backoff(restarts=9, quick_crashes=4)
    assert again.after_exit(ran_for=healing.STABLE_AFTER) == healing.FIRST_DELAY, "a long run clears the count"
    assert again.restarts == 10
    capped = healing.Backoff()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(healing, "GIVE_UP_AFTER", 20)
        assert max(capped.after_exit(ran_for=0) or 0 for _ in range(10)) == healing.MAX_DELAY


def test_the_state_file_of_a_running_supervisor_only(tmp_path: Path) -> None:
    row = healing.InstanceState(name="product-service", component="product-service", url="http://x/", restarts=2)
    healing.SupervisorState(instances=[row]).write(tmp_path)
    state = healing.read_state(tmp_path)
    assert state is not None and state.pid == os.getpid() and state.instances == [row]
    healing.SupervisorState(pid=2**22 + 1, instances=[row]).write(tmp_path)  # above pid_max: no such process
    assert healing.read_state(tmp_path) is None
    assert healing.uptime(100.0, now=100.0 + 3725) == "1 h 02 min"
    assert healing.uptime(100.0, now=165.0) == "1 min 05 s"
    assert healing.uptime(None) == "-"


def test_logs_follow_prints_what_the_files_gain_across_a_rotation(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "product-service.log"
    log.write_text(_record("before", "info", 1) + "\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "ecommerce", "logs", "-f", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().strip() == "10:00:01 product-service INFO before"
        with log.open("a") as stream:
            stream.write(_record("appended", "warning", 2) + "\n")
        assert follower.stdout.readline().strip() == "10:00:02 product-service WARNING appended"
        log.rename(logs / "product-service.log.1")  # rotated: a new file starts
        log.write_text(_record("rotated", "error", 3) + "\n")
        (logs / "order-service.log").write_text(_record("a newcomer", "info", 4, service="order-service") + "\n")
        seen = {follower.stdout.readline().strip() for _ in range(2)}
        assert seen == {"10:00:03 product-service ERROR rotated", "10:00:04 order-service INFO a newcomer"}
    finally:
        follower.kill()
        follower.wait(10)
