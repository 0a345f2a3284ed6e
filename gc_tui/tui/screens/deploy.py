"""The deploy dialog: the image to deploy, and the plan it makes, before anything is sent.

The image field and the buttons (with the count field of a big batch) are always on screen,
at 80x24 too; the plan between them scrolls, and its notes wrap. Focus starts in the image
field while the tag is still to type, else on Cancel; enter in the field moves on (to the
count field, or Cancel), never to Deploy. The plan is rebuilt on every change and once more
when Deploy is pressed, so what is deployed is always what the field says. Above
CONFIRM_COUNT_ABOVE rows the operator types the row count; in read-only mode there is no
Deploy button, only the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from gc_tui.core.engine import RowState
from gc_tui.core.images import ImageRef, try_parse_image
from gc_tui.core.model import InstanceAudit
from gc_tui.core.plan import (
    DeployTarget,
    FloatingImage,
    Plan,
    PlanError,
    PlanOptions,
    build_plan,
    check_typed_image,
    skip_busy,
)
from gc_tui.tui.fleet_rows import FleetRow
from gc_tui.tui.safe import safe_text
from gc_tui.tui.screens.fit import fit_dialog
from gc_tui.tui.widgets.count_gate import CountGate


def prefill_image(rows: Sequence[FleetRow]) -> str:
    """What the image field starts with.

    The image of the deploy every row went through, when each of them failed or was
    cancelled: retrying them (R marks them). A deploy that ended done, or was skipped, says
    nothing of what the rows should run next (someone may have moved them on since). Then
    the target, when every row has the same one and some row is not on
    it (the signed-off monthly case). Then the registry's newest tag, when every row's
    repository and tag line have the same. Else ``repo:`` of the repository most
    (non-manual) rows run, so the operator types the tag: marked rows often mix in a
    straggler on a legacy repository (a private-registry Superset), the majority's
    repository is what the operator means, and the plan shows every from -> to. With no
    majority nothing is guessed.
    """
    retried = {
        row.deploy.to_image
        if row.deploy is not None and row.deploy.state in (RowState.FAILED, RowState.CANCELLED)
        else None
        for row in rows
    }
    if len(retried) == 1 and (image := next(iter(retried))) is not None:
        return image
    targets = {row.drift.target if row.drift is not None else None for row in rows}
    off_target = any(row.drift is not None and row.drift.differs for row in rows)
    if len(targets) == 1 and (target := next(iter(targets))) is not None and off_target:
        return target
    newest = {row.upstream.newest_image if row.upstream is not None else None for row in rows}
    if len(newest) == 1 and (image := next(iter(newest))) is not None:
        return image  # every row is of one repository and line: its newest tag upstream
    repositories = Counter(
        parsed.familiar_repository
        for row in rows
        if row.image is not None and not row.manual
        and (parsed := try_parse_image(row.image)) is not None
    )
    if not repositories:
        return ""
    (repository, count), *_ = repositories.most_common(1)
    return f"{repository}:" if count * 2 > sum(repositories.values()) else ""


def read_only_reason(rows: Sequence[FleetRow], audits: dict[str, InstanceAudit],
                     global_read_only: bool) -> str | None:
    if global_read_only:
        return "Deploying is off: gc-tui runs read-only (--read-only or read_only in the config)."
    instances = {row.instance for row in rows}
    if instances and all(
        (audit := audits.get(name)) is not None and audit.instance.read_only for name in instances
    ):
        return "Deploying is off: every selected instance is read-only in the config."
    return None


def _pinned(image_ref: ImageRef) -> str:
    """What a reference pins, within its repository: the tag, and the digest when there is
    one, since Docker pulls by the digest whatever the tag says (``0.4.0@sha256:1a2b3c4d5e6f…``)."""
    if image_ref.digest is None:
        return image_ref.tag or ""
    digest = f"{image_ref.digest[:19]}…"  # sha256: and 12 hex digits
    return f"{image_ref.tag}@{digest}" if image_ref.tag else digest


def change_text(from_image: str | None, to_image: str | None, style: str = "") -> Text:
    """``tag → tag`` within one repository (named in the summary), else both in full."""
    before = try_parse_image(from_image) if from_image else None
    after = try_parse_image(to_image) if to_image else None
    if before is not None and after is not None and before.repository == after.repository:
        old, new = _pinned(before), _pinned(after)
    else:
        old, new = from_image or "(none)", to_image or ""
    text = safe_text(old, 60, style=style)
    text.append(" → ", style=style)
    text.append_text(safe_text(new, 80, style=style or "bold"))
    return text


def _where(instance: str, app: str, width: int, style: str = "") -> Text:
    text = safe_text(f"{instance} / {app}", 60, style=style)
    text.pad_right(max(0, width - len(text)))
    return text


def plan_text(plan: Plan, busy: Mapping[str, str]) -> Text:
    """Every row that will change, then every skipped row with its whole reason (it wraps)."""
    text = Text()
    width = min(40, max((len(f"{r.instance} / {r.app}") for r in plan.rows + plan.skipped),
                        default=0))
    for row in plan.rows:
        text.append_text(_where(row.instance, row.app, width, "bold"))
        text.append("  ")
        text.append_text(change_text(row.from_image, row.to_image))
        if row.group and row.added_by_group:
            text.append_text(safe_text(f"  + group {row.group} (added)", style="italic"))
        text.append("\n")
    if plan.skipped:
        text.append(f"\n{plan.skip_summary()}\n", style="bold")
    for skipped in plan.skipped:
        text.append_text(_where(skipped.instance, skipped.app or "—", width))
        text.append("  ")
        text.append_text(safe_text(skipped.reason, style="italic"))
        text.append("\n")
    for instance in sorted(set(busy) & {row.instance for row in plan.skipped}):
        text.append("Not deployed on ")
        text.append_text(safe_text(instance, 40, style="bold"))
        text.append(f": {busy[instance]}.\n", style="bold")
    return text


class DeployScreen(ModalScreen[Plan | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="deploy.cancel")]

    def __init__(
        self,
        rows: Sequence[FleetRow],
        audits: dict[str, InstanceAudit],
        plan_options: PlanOptions,
        *,
        initial_image: str | None = None,
        busy: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(id="deploy-screen")
        self.busy = dict(busy or {})  # instance -> what this session is doing to it now
        self.rows = list(rows)
        self.audits = audits
        self.plan_options = plan_options
        self.initial_image = initial_image if initial_image is not None else prefill_image(rows)
        self.read_only = read_only_reason(rows, audits, plan_options.read_only)
        self.plan: Plan | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="deploy-dialog"):
            yield Static(
                Text(f"Deploy an image to {len(self.rows)} selected row(s)", style="bold"),
                classes="dialog-title",
            )
            yield Label("Image (repository:tag)")
            yield Input(value=self.initial_image, placeholder="repository:tag", id="deploy-image")
            with VerticalScroll(id="plan-scroll", classes="dialog-scroll"):
                yield Static("", id="plan-error")
                yield Static("", id="plan-summary")
                yield Static("", id="plan-rows")
                yield Checkbox("Allow an image without a tag or digest (whatever 'latest' is)",
                               id="allow-floating", value=self.plan_options.allow_floating)
            with Vertical(id="deploy-bottom"):
                yield CountGate("Deploy", "rows", input_id="deploy-count")
                if self.read_only:
                    yield Static(Text(self.read_only, style="bold reverse"),
                                 id="read-only-reason")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Cancel", id="cancel", variant="primary")
                    if not self.read_only:
                        yield Button("Deploy", id="deploy", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#allow-floating").display = False
        fit_dialog(self, self.app.size.height)
        self.rebuild_plan()
        image = self.query_one("#deploy-image", Input)
        if self.plan is None and not self.read_only:
            # The tag is still to type: start there. Deploy stays two keys away (tab, enter)
            # and disabled until the plan is whole; enter in the field only moves to Cancel.
            image.focus()
            image.cursor_position = len(image.value)
        else:
            self.query_one("#cancel", Button).focus()

    def on_resize(self, event: Resize) -> None:
        fit_dialog(self, event.size.height)

    @on(Input.Submitted, "#deploy-image")
    def _image_submitted(self) -> None:
        self.rebuild_plan()  # the field as submitted, whatever messages are still queued
        gate = self.query_one(CountGate)
        if gate.needed:
            gate.focus_field()
        else:
            self.query_one("#cancel", Button).focus()

    @on(Input.Submitted, "#deploy-count")
    def _count_submitted(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#deploy-image")
    @on(Checkbox.Changed, "#allow-floating")
    def _image_changed(self) -> None:
        self.rebuild_plan()

    @on(Input.Changed, "#deploy-count")
    def _count_changed(self) -> None:
        self._update_deploy_button()

    def _options(self) -> PlanOptions:
        allow = self.query_one("#allow-floating", Checkbox).value
        return replace(self.plan_options, allow_floating=allow)

    def rebuild_plan(self) -> None:
        image = self.query_one("#deploy-image", Input).value.strip()
        error = self.query_one("#plan-error", Static)
        floating = self.query_one("#allow-floating", Checkbox)
        self.plan = None
        error.display = True
        if not image or image.endswith(":"):
            error.update(Text("Type the tag to deploy.", style="italic"))
        else:
            try:
                check_typed_image(image, allow_floating=self._options().allow_floating)
                targets = [DeployTarget(row.instance, row.app_name, image) for row in self.rows]
                plan = build_plan(list(self.audits.values()), targets, self._options())
                self.plan = skip_busy(plan, self.busy)
                error.update("")
                error.display = False
            except PlanError as err:
                error.update(safe_text(str(err), style="bold red", wrap=True))
                if isinstance(err, FloatingImage):
                    floating.display = True
        self._show_plan()
        self._update_deploy_button()

    def _show_plan(self) -> None:
        summary = self.query_one("#plan-summary", Static)
        rows = self.query_one("#plan-rows", Static)
        plan = self.plan
        if plan is None:
            summary.update("")
            rows.update("")
            return
        added = sum(1 for row in plan.rows if row.added_by_group)
        text = Text()
        text.append(f"{len(plan.rows)} row(s) will change on {len(plan.instances)} instance(s)",
                    style="bold")
        images = {row.to_image for row in plan.rows}
        if len(images) == 1:
            text.append(" to ")
            # Whole, however long: a digest cut short would hide what is pulled.
            text.append_text(safe_text(next(iter(images)), 300, style="bold"))
        if added:
            text.append(f", {added} added by a service group")
        if plan.skipped:
            text.append(f"; {plan.skip_summary()}")
        summary.update(text)
        rows.update(plan_text(plan, self.busy))

    def _update_deploy_button(self) -> None:
        rows = len(self.plan.rows) if self.plan is not None else 0
        gate = self.query_one(CountGate)
        gate.require(rows, enabled=not self.read_only)
        if self.read_only:
            return
        self.query_one("#deploy", Button).disabled = not (rows > 0 and gate.satisfied)

    @on(Button.Pressed, "#deploy")
    def _deploy(self) -> None:
        self.rebuild_plan()  # exactly what the field says now
        if self.plan is not None and not self.query_one("#deploy", Button).disabled:
            self.dismiss(self.plan)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
