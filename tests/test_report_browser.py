"""The review report in a real headless browser: no console error, no network request, rows.

Runs Debian's ``chromium`` (or Chrome) with ``--dump-dom``: console messages
come from ``--enable-logging=stderr``, requests from ``--log-net-log``. A
control page with a console error and a remote image shows that the probe
sees both. Skips when no browser is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pairwise._report import render_report
from report_fixtures import demo_results, with_audit
from report_html import parse_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium or chrome installed")


def _open(page: Path, folder: Path) -> tuple[str, list[str], list[str]]:
    """Load ``page``: its DOM after load, its console messages, the http(s) URLs it asked for."""
    net = folder / f"{page.stem}.netlog.json"
    profile = folder / f"{page.stem}.profile"
    proc = subprocess.run(
        [
            str(BROWSER),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={net}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0 and not proc.stdout:
        pytest.skip(f"the browser could not run here: {proc.stderr.strip()[-300:]}")
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console, _page_requests(net)


def _page_requests(netlog: Path) -> list[str]:
    """URLs of http(s) requests the page started (the browser's own background ones excluded).

    The browser's own requests (time sync, accounts) carry no initiator
    (``"not an origin"``); a page's carry its origin (``"null"`` for a file).
    """
    data: dict[str, Any] = json.loads(netlog.read_text(encoding="utf-8"))
    start = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in data["events"]
        if event["type"] == start
        and str(event.get("params", {}).get("url", "")).startswith(("http:", "https:"))
        and event["params"].get("initiator") != "not an origin"
    ]


def test_the_probe_sees_console_errors_and_requests(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><title>control</title></head><body><p>x</p>"
        '<img src="http://127.0.0.1:9/x.png"><script>console.error("probe-error");</script>'
        "</body></html>",
        encoding="utf-8",
    )
    dom, console, requests = _open(control, tmp_path)
    assert "<p>x</p>" in dom
    assert any("probe-error" in line for line in console)
    assert requests == ["http://127.0.0.1:9/x.png"]


def test_demo_report_loads_clean_with_every_row(tmp_path: Path) -> None:
    results, frames = demo_results()
    pairs, audit = with_audit(results["pairs"], frames["mentees"])
    page = tmp_path / "report.html"
    page.write_text(
        render_report({"pairs": pairs, "groups": results["groups"], "peers": results["peers"]}),
        encoding="utf-8",
    )
    dom, console, requests = _open(page, tmp_path)
    assert console == []
    assert requests == []
    report = parse_report(dom)
    expected = results["pairs"]
    pair_rows = report.section("pairs", "pairs").rows
    assert [row[1].split()[-1] for row in pair_rows] == expected.pairs["mentee_id"].tolist()
    unmatched = report.section("pairs", "unmatched").rows
    assert [row[0].split()[-1] for row in unmatched] == expected.unmatched["id"].tolist()
    assert [row[2] for row in unmatched] == expected.unmatched["reason"].tolist()
    audit_rows = report.section("pairs", "audit").rows
    assert [row[:2] for row in audit_rows] == [
        [str(c), str(v)] for c, v in zip(audit["column"], audit["value"], strict=True)
    ]
    groups = results["groups"]
    assert len(report.section("groups", "groups").rows) == groups.groups["group"].nunique()
    assert len(report.section("peers", "pairs").rows) == len(results["peers"].pairs)
