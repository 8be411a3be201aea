"""A real terminal for the tests that look at what users see: a private tmux server."""

import subprocess
import time


class Tmux:
    """A private tmux server running one command; read its screen, type into it."""

    def __init__(self, command: str, socket: str, cwd: str):
        self.base = ["tmux", "-L", socket, "-f", "/dev/null"]
        subprocess.run(self.base + ["new-session", "-d", "-s", "t", "-x", "100", "-y", "40",
                                    "-c", cwd, command], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(self.base + ["send-keys", "-t", "t", *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(self.base + ["send-keys", "-t", "t", "-l", text], check=True)

    def screen(self) -> str:
        res = subprocess.run(self.base + ["capture-pane", "-p", "-t", "t"],
                             capture_output=True, text=True)
        return res.stdout

    def history(self) -> str:
        """The screen and what scrolled off it."""
        res = subprocess.run(self.base + ["capture-pane", "-p", "-t", "t", "-S", "-2000"],
                             capture_output=True, text=True)
        return res.stdout

    def wait_for(self, predicate, timeout: float = 8.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; the screen was:\n{screen}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return subprocess.run(self.base + ["has-session", "-t", "t"],
                              capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(self.base + ["kill-server"], capture_output=True)
