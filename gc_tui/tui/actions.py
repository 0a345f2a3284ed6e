"""Every fleet-table action in one table: the footer, the `?` screen and the palette read it.

Binding ids let `App.set_keymap` remap keys without touching code (docs/tui.md#key-bindings).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class FleetAction:
    id: str
    key: str
    action: str  # an action of FleetScreen
    label: str  # short, for the footer
    help: str  # one sentence, for the help screen and the palette
    show: bool = True
    display_key: str = ""  # how the help screen writes the key, when not the key name

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.show, id=self.id)


# Help and quit first: a narrow terminal cuts the footer from the right.
FLEET_ACTIONS: tuple[FleetAction, ...] = (
    FleetAction("fleet.help", "question_mark", "help", "Help", "Show every key",
                display_key="?"),
    FleetAction("fleet.quit", "q", "app.quit", "Quit",
                "Quit (asks first while deploys run)"),
    FleetAction("fleet.filter", "slash", "filter", "Filter",
                "Filter rows: text or regex; instance: app: image: status: narrow one column; "
                "a leading ! negates", display_key="/"),
    # Not in the footer: esc clears as everywhere else, and without it the footer fits in
    # 120 columns (it is in `?` and the palette).
    FleetAction("fleet.clear-filter", "escape", "clear_filter", "Clear",
                "Clear the filter", show=False, display_key="esc"),
    FleetAction("fleet.mark", "space", "toggle_mark", "Mark",
                "Mark or unmark the row and move down"),
    FleetAction("fleet.mark-visible", "a", "mark_visible", "All",
                "Mark every visible app row"),
    # u, i and e are not in the footer, to leave room in 120 columns for n and m (`?` and the
    # palette list them).
    FleetAction("fleet.unmark", "u", "unmark_all", "None", "Unmark every row", show=False),
    FleetAction("fleet.invert", "i", "invert_marks", "Invert",
                "Invert the marks among the visible rows", show=False),
    FleetAction("fleet.deploy", "d", "deploy", "Deploy",
                "Deploy an image to the marked rows (the cursor row when none is marked); "
                "shows the plan first"),
    # Not in the footer either (it fits 120 columns without them); the table's header and
    # the summary line show the sort.
    FleetAction("fleet.sort", "s", "sort_next", "Sort",
                "Sort by the next column (then back to the vault's order)", show=False),
    FleetAction("fleet.sort-reverse", "S", "sort_reverse", "Reverse",
                "Reverse the sort order", show=False),
    FleetAction("fleet.matrix", "m", "toggle_matrix", "Matrix",
                "Switch between the table and the matrix: one line per instance, one column "
                "per app, each cell its tag and state; arrows move, space marks, enter shows "
                "the cell"),
    FleetAction("fleet.detail", "enter", "detail", "Detail",
                "Show the row: full image, version history, deploy state and build log"),
    FleetAction("fleet.refresh", "r", "refresh", "Refresh",
                "Audit every instance again (marks are kept)"),
    FleetAction("fleet.retry", "R", "retry", "Retry",
                "Audit the failed instances again and mark the rows whose deploy failed, "
                "so d deploys them again after confirming"),
    FleetAction("fleet.export", "e", "export", "Export",
                "Export the visible rows to CSV or JSON (file created 0600)", show=False),
    FleetAction("fleet.off-target", "t", "mark_off_target", "Drift",
                "Mark every visible row that is not on its target image (needs a targets "
                "file)"),
    FleetAction("fleet.mark-behind", "n", "mark_behind", "Behind",
                "Mark every visible row whose app is behind its repository's newest tag "
                "upstream; d then offers their target when they share one they are off, else "
                "that newest tag"),
    FleetAction("fleet.pin", "p", "pin_targets", "Pin",
                "Pin the images of the marked rows as targets (asks first)"),
    FleetAction("fleet.update-caprover", "U", "update_caprover", "CapRover",
                "Update CapRover on the instances of the marked rows (asks first)"),
)


def key_label(action: FleetAction) -> str:
    return action.display_key or action.key
