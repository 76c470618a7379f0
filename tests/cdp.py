"""A headless Chromium driven over the DevTools protocol, with the standard library only.

Chromium started with `--remote-debugging-pipe` reads protocol messages (JSON, each ended by a
NUL byte) on file descriptor 3 and answers on 4, so no websocket client is needed. `Browser`
opens one page, evaluates JavaScript in it and waits for conditions, which is what a test that
drives a page (chooses in a select, watches a diagram update) needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time


def _as_fds_3_and_4(read_end: int, write_end: int) -> None:
    # copies first, so that moving one onto 3 cannot overwrite the other
    read_copy, write_copy = os.dup(read_end), os.dup(write_end)
    os.dup2(read_copy, 3)
    os.dup2(write_copy, 4)


class Browser:
    def __init__(self, chromium: str) -> None:
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        # the child sees our pipes as its fds 3 and 4, as --remote-debugging-pipe expects
        self._proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=lambda: _as_fds_3_and_4(to_child_read, from_child_write))
        os.close(to_child_read)
        os.close(from_child_write)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        """Send one command (to the open page, once there is one) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self._session and not method.startswith("Target."):
            message["sessionId"] = self._session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
        raise TimeoutError(method)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target,
                                  flatten=True)["sessionId"]

    def evaluate(self, script: str):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", expression=script, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description")
                               or details.get("text", "script failed"))
        return result["result"].get("value")

    def wait_for(self, script: str, timeout: float = 10.0):
        """Evaluate `script` until it is truthy; its value, or TimeoutError after `timeout` s.
        A script that throws (the page is still loading) counts as not yet true."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(script)
            except RuntimeError as err:
                value, why = None, err
            else:
                why = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true: {script}" + (f" ({why})" if why else ""))
            time.sleep(0.1)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        os.close(self._to_child)
        os.close(self._from_child)
