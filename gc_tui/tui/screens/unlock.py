"""Unlock the vault: path, hidden password, optional key file; the KDF runs in a thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:  # the vault package loads pykeepass; the unlock screen shows first
    from gc_tui.core.vault import UnlockedVault

from gc_tui.core.secret import Secret
from gc_tui.tui.safe import safe_text
from gc_tui.tui.screens.fit import fit_dialog


@dataclass(frozen=True)
class UnlockRequest:
    vault: Path | None
    keyfile: Path | None
    group: str | None
    tag: str | None
    allow_slow: bool = False
    hint: str | None = None
    notice: str | None = None  # why we are here again (the idle lock)


@dataclass(frozen=True)
class UnlockFailure:
    message: str
    retry_password: bool  # wrong credentials: clear the password and put the cursor there


def describe_unlock_error(error: BaseException) -> UnlockFailure:
    """The vault's errors are one readable line without secrets; anything else: its type."""
    from gc_tui.core.vault import SlowVaultError, VaultCredentialsError, VaultError

    if isinstance(error, VaultCredentialsError):
        return UnlockFailure(f"Wrong password or key file. {error}", True)
    if isinstance(error, SlowVaultError):
        extra = (
            " Start gc-tui with --allow-slow-vault if you trust this file."
            if error.can_override
            else ""
        )
        return UnlockFailure(f"{error}.{extra}", False)
    if isinstance(error, VaultError):
        return UnlockFailure(str(error), False)
    return UnlockFailure(f"The vault could not be opened ({type(error).__name__}).", False)


class UnlockScreen(Screen["UnlockedVault"]):
    """Dismissed with the vault's instances once unlocked."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit", id="unlock.quit")]
    AUTO_FOCUS = None

    def __init__(self, request: UnlockRequest, auto_password: Secret | None = None) -> None:
        super().__init__(id="unlock-screen")
        self.request = request
        self._auto_password = auto_password

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-box"):
            yield Static(Text("gc-tui: unlock the CapRover vault", style="bold"),
                         id="unlock-title")
            if self.request.notice:
                yield Static(safe_text(self.request.notice, style="bold", wrap=True),
                             id="unlock-notice")
            yield Label("Vault file (.kdbx)")
            yield Input(
                value=str(self.request.vault) if self.request.vault else "",
                placeholder="path to the KeePass file",
                id="vault",
            )
            yield Label("Master password")
            yield Input(password=True, placeholder="hidden", id="password")
            yield Label("Key file (optional)")
            yield Input(
                value=str(self.request.keyfile) if self.request.keyfile else "",
                placeholder="none",
                id="keyfile",
            )
            if self.request.hint:
                yield Static(safe_text(self.request.hint, wrap=True), id="unlock-hint")
            with Horizontal(id="unlock-actions"):
                yield Button("Unlock", id="unlock", variant="primary")
                yield LoadingIndicator(id="unlock-spinner")
                yield Static("", id="unlock-working")
            yield Static("", id="unlock-error")
        yield Footer()

    def on_resize(self, event: Resize) -> None:
        fit_dialog(self, event.size.height)

    def on_mount(self) -> None:
        fit_dialog(self, self.app.size.height)
        self._set_busy(False)
        target = "#password" if self.query_one("#vault", Input).value else "#vault"
        self.query_one(target, Input).focus()
        password, self._auto_password = self._auto_password, None
        if password is not None:
            self._start(password)

    @on(Input.Submitted)
    @on(Button.Pressed, "#unlock")
    def submit(self) -> None:
        value = self.query_one("#password", Input).value
        # An empty field with a key file means "no password" (pykeepass needs None then).
        self._start(Secret(value) if value else None)

    def _start(self, password: Secret | None) -> None:
        if self._busy:
            return
        vault_text = self.query_one("#vault", Input).value.strip()
        keyfile_text = self.query_one("#keyfile", Input).value.strip()
        if not vault_text:
            self._show_error("Enter the path of the vault file.")
            self.query_one("#vault", Input).focus()
            return
        if password is None and not keyfile_text:
            self._show_error("Enter the master password (or give a key file).")
            self.query_one("#password", Input).focus()
            return
        self._show_error("")
        self._set_busy(True)
        self._unlock(
            Path(vault_text).expanduser(),
            password,
            Path(keyfile_text).expanduser() if keyfile_text else None,
        )

    @work(thread=True, exit_on_error=False, group="unlock", name="unlock")
    def _unlock(self, path: Path, password: Secret | None, keyfile: Path | None) -> UnlockedVault:
        from gc_tui.core.vault import unlock_vault

        return unlock_vault(
            path,
            password,
            keyfile,
            group=self.request.group,
            tag=self.request.tag,
            allow_slow=self.request.allow_slow,
        )

    @on(Worker.StateChanged)
    def _unlock_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "unlock":
            return
        if event.state is WorkerState.SUCCESS:
            self.query_one("#password", Input).value = ""
            self._set_busy(False)
            self.dismiss(event.worker.result)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._set_busy(False)
            error = event.worker.error
            failure = (
                describe_unlock_error(error)
                if error is not None
                else UnlockFailure("Unlocking was cancelled.", False)
            )
            self._show_error(failure.message)
            password = self.query_one("#password", Input)
            if failure.retry_password:
                password.value = ""
            password.focus()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.query_one("#unlock-spinner").display = busy
        self.query_one("#unlock-working", Static).update(
            Text("deriving the key…", style="italic") if busy else ""
        )
        self.query_one("#unlock", Button).disabled = busy

    def _show_error(self, message: str) -> None:
        error = self.query_one("#unlock-error", Static)
        error.update(safe_text(message, style="bold red", wrap=True))
        error.display = bool(message)
