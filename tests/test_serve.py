"""`archdsl serve` (issue 15): the live preview page shows a spec's diagram, table and
diagnostics, follows edits of the file within a second, downloads the diagram, and reads
nothing outside the spec's folder."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import pytest

from archdsl.cli.serve import make_server

GOOD = "model Small {\n  input: 3x32x32\n  classes: 10\n  Conv(8, 3) - ReLU - GAP - FC\n}\n"
WIDER = GOOD.replace("Conv(8, 3)", "Conv(16, 3)")
BROKEN = GOOD.replace("ReLU", "Rleu")


@pytest.fixture
def server(tmp_path):
    (tmp_path / "site").mkdir()
    spec = tmp_path / "site" / "net.arch"
    spec.write_text(GOOD)
    (tmp_path / "secret.arch").write_text("block Secret() { Conv(99, 3) }\n")
    srv = make_server(str(spec), 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield spec, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), ""


def state(base: str, **options) -> dict:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return json.loads(get(f"{base}/state?{query}")[1])


def test_bound_to_localhost_only(server):
    _, base = server
    assert base.startswith("http://127.0.0.1:")


def test_state_follows_the_file(server):
    spec, base = server
    first = state(base)
    assert first["ok"] and "<table>" in first["table"] and ">224<" in first["table"]
    if shutil.which("dot"):
        assert "<svg" in first["svg"]
    time.sleep(0.02)
    spec.write_text(WIDER)
    start = time.monotonic()
    second = state(base)
    assert time.monotonic() - start < 1.0  # redrawn within a second of the save
    assert second["version"] != first["version"] and ">448<" in second["table"]
    spec.write_text(BROKEN)
    third = state(base)
    assert not third["ok"] and "unknown layer 'Rleu'" in third["diagnostics"]
    assert "^^^^" in third["diagnostics"]  # the caret, as in the terminal


def test_options_and_downloads(server):
    _, base = server
    assert get(f"{base}/state?view=nope")[0] == 400
    page = get(f"{base}/")[1].decode()
    assert "<option>stages</option>" in page and "<option>dark</option>" in page
    if shutil.which("dot"):
        code, body, kind = get(f"{base}/download?format=svg&theme=dark")
        assert code == 200 and kind == "image/svg+xml" and b"<svg" in body
        code, body, _ = get(f"{base}/download?format=pdf")
        assert code == 200 and body.startswith(b"%PDF")


@pytest.mark.parametrize("path", ["/../secret.arch", "/..%2fsecret.arch", "/net.arch",
                                  "/site/net.arch", "/etc/passwd", "/%2e%2e/secret.arch"])
def test_nothing_is_served_from_disk(server, path):
    _, base = server
    code, body, _ = get(base + path)
    assert code == 404 and b"Conv" not in body


def test_imports_may_not_leave_the_folder(server):
    spec, base = server
    spec.write_text('use "../secret.arch"\n' + GOOD)
    s = state(base)
    assert not s["ok"] and "[import-escape]" in s["diagnostics"] and "Conv(99" not in json.dumps(s)


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium): the page is "
                    "tested over HTTP above, not in a browser")
    from cdp import Browser

    b = Browser(CHROMIUM)
    yield b
    b.close()


def choose(browser, select: str, value: str) -> None:
    """Choose in one of the page's selects as a person does: the value, then its change event."""
    browser.evaluate(f"(s => {{ s.value = {json.dumps(value)}; "
                     "s.dispatchEvent(new Event('change')); })"
                     f"(document.getElementById({json.dumps(select)}))")


def test_page_driven_in_a_headless_browser(server, browser):
    spec, base = server
    diagram = "document.getElementById('diagram').innerHTML"
    table = "document.getElementById('table').innerHTML"
    diagnostics = "document.getElementById('diagnostics').textContent"
    browser.open(f"{base}/")
    browser.wait_for(f"{table}.includes('>224<')")
    if shutil.which("dot"):
        first = browser.wait_for(f"{diagram}.includes('<svg') && {diagram}")
        dark_background = "#1e1f24"
        assert dark_background not in first
        choose(browser, "theme", "dark")
        browser.wait_for(f"{diagram}.includes({json.dumps(dark_background)})")
        assert browser.evaluate("location.search") == "?theme=dark"  # a link to this choice
        choose(browser, "style", "featuremaps")  # the paper figure: boxes drawn as polygons
        browser.wait_for(f"{diagram}.includes('<polygon') && !{diagram}.includes('class=\"node\"')")
    spec.write_text(WIDER)  # saved in the editor: the open page follows within a second or so
    browser.wait_for(f"{table}.includes('>448<')", timeout=5)
    spec.write_text(BROKEN)
    shown = browser.wait_for(f"{diagnostics}.includes('Rleu') && {diagnostics}")
    assert "unknown layer 'Rleu'" in shown and "^^^^" in shown
    spec.write_text(GOOD)
    browser.wait_for(f"{diagnostics} === '' && {table}.includes('>224<')", timeout=5)
