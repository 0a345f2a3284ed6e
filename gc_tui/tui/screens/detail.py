"""One row in full: instance, image, version history, deploy state and build log."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from gc_tui.core.model import Instance
from gc_tui.core.timestamps import format_timestamp
from gc_tui.core.upstream import AppUpstream
from gc_tui.tui.fleet_rows import FleetRow, RowKind, Tone
from gc_tui.tui.safe import safe_text
from gc_tui.tui.widgets.fleet_cells import PLAIN_STYLES, format_elapsed
from gc_tui.tui.widgets.tones import TONE_CLASSES, tone_styles

HISTORY_SHOWN = 15


def _field(text: Text, label: str, value: object, style: str | Style = "") -> None:
    text.append(f"{label:<16}", style="bold")
    shown = safe_text(value, wrap=True)
    shown.style = style
    text.append_text(shown)
    text.append("\n")


def upstream_lines(text: Text, upstream: AppUpstream, running_image: str | None) -> None:
    """What the registry says: the state, the newest tag with its digest and build time, and
    the running tag's (a re-pushed tag shows two digests)."""
    _field(text, "Upstream", upstream.label)
    # Tag and build time on one line, the digest (71 characters) on the next: together they
    # wrapped the time onto a line of its own, under no label, at 120 columns.
    if upstream.newest:
        newest = upstream.newest_details
        when = format_timestamp(newest.created) if newest.created else "build time not read"
        _field(text, "Newest", f"{upstream.newest}  built {when}")
        _field(text, "  digest", newest.digest or "(not read)")
    running = upstream.running_details
    if running.digest or running.created:
        tag = running_image.rsplit(":", 1)[-1] if running_image else ""
        when = f"  built {format_timestamp(running.created)}" if running.created else ""
        _field(text, "Running tag", f"{tag}{when}")
        if running.digest:
            _field(text, "  digest", running.digest)


def detail_text(
    row: FleetRow, instance: Instance | None, now: float, *, split_groups: Sequence[str] = (),
    tones: Mapping[Tone, Style] = PLAIN_STYLES.tones,
) -> Text:
    """Everything known about the row; server text through safe_text, never markup.

    ``instance``: the vault's instance (its URL and warnings: an internationalised host's
    punycode name, plain HTTP, an expired entry). ``split_groups``: this row's service
    groups whose members run different images. ``tones``: how each state looks
    (tone_styles), the same as in the table.
    """
    text = Text()
    _field(text, "Instance", row.instance)
    if instance is not None:
        _field(text, "URL", instance.url)
        if instance.entry_path:
            _field(text, "Vault entry", instance.entry_path)
        for warning in instance.warnings:
            _field(text, "Warning", warning, "bold")
    _field(text, "Audit", str(row.instance_status).replace("_", " "))
    if row.instance_error:
        _field(text, "Reason", row.instance_error, tones[Tone.FAILED])
    if row.version is not None:
        version = row.version.current
        if row.update_available:
            version += f"  (update available: {row.version.latest}; U updates it)"
        elif not row.version.can_update:
            version += ("  (no update reported; canUpdate false can also mean the server "
                        "could not check)")
        _field(text, "CapRover", version)
    update = row.update
    if update is not None:
        change = f"{update.from_version or '?'} -> {update.to_version or '?'}: {update.state}"
        _field(text, "CapRover update", change,
               tones[Tone.FAILED] if update.error else "")
        if update.error:
            _field(text, "Reason", update.error, tones[Tone.FAILED])
    status = row.status
    text.append(f"{'Status':<16}", style="bold")
    text.append(status.word, style=tones[status.tone])
    text.append("\n")
    if row.kind is RowKind.APP and row.app is not None:
        app = row.app
        text.append("\n")
        _field(text, "App", app.name)
        _field(text, "Image", app.image or "(no image recorded for the deployed version)",
               "italic" if row.manual else "")
        if row.manual:
            _field(text, "Manual", "built on the server (img-captain-...): upgrade it by hand; "
                   "batch deploys skip it")
        _field(text, "Deployed", f"version {app.deployed_version}"
               + (f" at {app.deployed_at}" if app.deployed_at else ""))
        if app.is_building:
            _field(text, "Building", "a build is running on the server now")
        if app.tags:
            _field(text, "Tags", ", ".join(app.tags))
        if row.upstream is not None:
            upstream_lines(text, row.upstream, app.image)
        if row.drift is not None:
            _field(text, "Drift", f"{row.drift.state}: {row.drift.detail}")
            if row.drift.target:
                _field(text, "Target", row.drift.target)
        for split in split_groups:
            _field(text, "Split group", f"{split} (the group should run one image)", "bold")
    deploy = row.deploy
    if deploy is not None:
        text.append("\nLast deploy\n", style="bold underline")
        _field(text, "State", deploy.state, tones[status.tone])
        if deploy.to_image:
            _field(text, "Target image", deploy.to_image)
        elapsed = format_elapsed(deploy.elapsed(now))
        if elapsed:
            _field(text, "Elapsed", elapsed)
        if deploy.error:
            _field(text, "Reason", deploy.error, tones[Tone.FAILED])
        if deploy.log_tail:
            text.append("\nBuild log (last lines)\n", style="bold underline")
            for line in deploy.log_tail:
                text.append_text(safe_text(line, wrap=True))
                text.append("\n")
    if row.kind is RowKind.APP and row.app is not None:
        app = row.app
        if app.versions:
            text.append("\nVersion history (newest first)\n", style="bold underline")
            for entry in sorted(app.versions, key=lambda v: v.version, reverse=True)[
                :HISTORY_SHOWN
            ]:
                marker = ">" if entry.version == app.deployed_version else " "
                text.append(f" {marker} v{entry.version:<5} ")
                text.append_text(safe_text(entry.image or "(failed deploy: no image)"))
                if entry.timestamp:
                    text.append("  ")
                    text.append_text(safe_text(entry.timestamp, style="dim"))
                text.append("\n")
            if len(app.versions) > HISTORY_SHOWN:
                text.append(f"   … {len(app.versions) - HISTORY_SHOWN} older\n", style="dim")
    return text


class DetailScreen(Screen[None]):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(TONE_CLASSES.values())
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Back", id="detail.back"),
        Binding("q", "dismiss", "Back", show=False, id="detail.back-q"),
    ]

    def __init__(self, key: str, load: Callable[[DetailScreen], None]) -> None:
        super().__init__(id="detail-screen")
        self.key = key
        self._load = load  # the App fills the screen from its model, now and on changes

    def on_mount(self) -> None:
        self._load(self)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail-body")
        yield Footer(compact=True)

    def show(
        self, row: FleetRow | None, instance: Instance | None, now: float,
        split_groups: Sequence[str] = (),
    ) -> None:
        body = self.query_one("#detail-body", Static)
        if row is None:
            body.update(Text("This row is gone (the instance was audited again).", style="dim"))
        else:
            body.update(detail_text(row, instance, now, split_groups=split_groups,
                                    tones=tone_styles(self)))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
