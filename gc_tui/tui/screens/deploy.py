"""The deploy dialog: the image to deploy, and the plan it makes, before anything is sent.

Focus starts in the image field while the tag is still to type, else on Cancel; enter in the
field moves on (to the count field, or Cancel), never to Deploy. Above CONFIRM_COUNT_ABOVE
rows the operator types the row count to enable Deploy; in read-only mode there is no Deploy
button at all, only the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from gc_tui.core.images import try_parse_image
from gc_tui.core.model import InstanceAudit
from gc_tui.core.plan import (
    DeployTarget,
    Plan,
    PlanError,
    PlanOptions,
    build_plan,
    skip_busy,
)
from gc_tui.tui.fleet_model import FleetRow
from gc_tui.tui.safe import safe_text
from gc_tui.tui.widgets.count_gate import CountGate


def prefill_image(rows: Sequence[FleetRow]) -> str:
    """``repo:`` of the repository most (non-manual) rows run: the operator types the tag.

    Marked rows often mix in a straggler on a legacy repository (a private-registry Superset);
    the majority's repository is what the operator means, and the plan shows every from -> to.
    With no majority nothing is guessed.
    """
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
            yield Static("", id="plan-summary")
            table: DataTable[Text] = DataTable(id="plan-table", cursor_type="none")
            yield table
            yield Static("", id="plan-error")
            yield CountGate("Deploy", "rows", input_id="deploy-count")
            if self.read_only:
                yield Static(Text(self.read_only, style="bold reverse"), id="read-only-reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                if not self.read_only:
                    yield Button("Deploy", id="deploy", variant="error", disabled=True)

    def on_mount(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        table.add_column("INSTANCE", width=14, key="instance")
        table.add_column("APP", width=16, key="app")
        table.add_column("FROM → TO", width=44, key="change")
        table.add_column("NOTE", width=24, key="note")
        self.rebuild_plan()
        image = self.query_one("#deploy-image", Input)
        if self.plan is None and not self.read_only:
            # The tag is still to type: start there. Deploy stays two keys away (tab, enter)
            # and disabled until the plan is whole; enter in the field only moves to Cancel.
            image.focus()
            image.cursor_position = len(image.value)
        else:
            self.query_one("#cancel", Button).focus()

    @on(Input.Submitted, "#deploy-image")
    def _image_submitted(self) -> None:
        gate = self.query_one(CountGate)
        if gate.needed:
            gate.focus_field()
        else:
            self.query_one("#cancel", Button).focus()

    @on(Input.Submitted, "#deploy-count")
    def _count_submitted(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#deploy-image")
    def _image_changed(self) -> None:
        self.rebuild_plan()

    @on(Input.Changed, "#deploy-count")
    def _count_changed(self) -> None:
        self._update_deploy_button()

    def rebuild_plan(self) -> None:
        image = self.query_one("#deploy-image", Input).value.strip()
        error = self.query_one("#plan-error", Static)
        self.plan = None
        if not image or image.endswith(":"):
            error.update(Text("Type the tag to deploy.", style="italic"))
        else:
            try:
                targets = [DeployTarget(row.instance, row.app_name, image) for row in self.rows]
                plan = build_plan(list(self.audits.values()), targets, self.plan_options)
                self.plan = skip_busy(plan, self.busy)
                error.update("")
            except PlanError as err:
                error.update(safe_text(str(err), style="bold red", wrap=True))
        self._show_plan()
        self._update_deploy_button()

    def _show_plan(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        table.clear()
        summary = self.query_one("#plan-summary", Static)
        plan = self.plan
        if plan is None:
            summary.update("")
            return
        added = sum(1 for row in plan.rows if row.added_by_group)
        text = Text()
        text.append(f"{len(plan.rows)} row(s) will change on {len(plan.instances)} instance(s)",
                    style="bold")
        images = {row.to_image for row in plan.rows}
        if len(images) == 1:
            text.append(" to ")
            text.append_text(safe_text(next(iter(images)), 80, style="bold"))
        if added:
            text.append(f", {added} added by a service group")
        if plan.skipped:
            text.append(f"; {len(plan.skipped)} skipped (reasons below)")
        for instance in dict.fromkeys(row.instance for row in self.rows):
            if instance in self.busy:
                text.append("\nNot deployed on ")
                text.append_text(safe_text(instance, 40, style="bold"))
                text.append(f": {self.busy[instance]}.", style="bold")
        summary.update(text)
        for row in plan.rows:
            note = Text("")
            if row.group:
                note = safe_text(
                    f"+ group {row.group} (added)" if row.added_by_group else f"group {row.group}",
                    24, style="italic" if row.added_by_group else "",
                )
            table.add_row(
                safe_text(row.instance, 14), safe_text(row.app, 16),
                self._change(row.from_image, row.to_image), note,
            )
        for skipped in plan.skipped:
            table.add_row(
                safe_text(skipped.instance, 14, style="dim"),
                safe_text(skipped.app or "—", 16, style="dim"),
                self._change(skipped.from_image, skipped.to_image, style="dim"),
                safe_text(f"skipped: {skipped.reason}", style="dim"),
            )

    @staticmethod
    def _change(from_image: str | None, to_image: str | None, style: str = "") -> Text:
        """``tag → tag`` within one repository (named in the summary), else both in full."""
        before = try_parse_image(from_image) if from_image else None
        after = try_parse_image(to_image) if to_image else None
        if before is not None and after is not None and before.repository == after.repository:
            old, new = before.tag or before.digest or "", after.tag or after.digest or ""
        else:
            old, new = from_image or "(none)", to_image or ""
        text = safe_text(old, 40, style=style)
        text.append(" → ", style=style)
        text.append_text(safe_text(new, 60, style=style or "bold"))
        return text

    def _update_deploy_button(self) -> None:
        rows = len(self.plan.rows) if self.plan is not None else 0
        gate = self.query_one(CountGate)
        gate.require(rows, enabled=not self.read_only)
        if self.read_only:
            return
        self.query_one("#deploy", Button).disabled = not (rows > 0 and gate.satisfied)

    @on(Button.Pressed, "#deploy")
    def _deploy(self) -> None:
        if self.plan is not None and not self.query_one("#deploy", Button).disabled:
            self.dismiss(self.plan)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
