"""What the browser tests share: watching a page for script errors and outside requests, and logging in."""

from urllib.parse import urlsplit


def watch(page, *, hosts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The page's script errors and the URLs it requests from any host but `hosts` (host:port), as they come."""
    errors: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "request", lambda request: foreign.append(request.url) if urlsplit(request.url).netloc not in hosts else None
    )
    return errors, foreign


def log_in(page, base_url: str, username: str, *, next_path: str, password: str = "pw-123456") -> None:
    """Log in through the login page, which sends the browser on to `next_path`."""
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
