"""The command line: every command, flag and help text. Importing it loads nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path

from gc_tui import __version__

PASSWORD_ENV = "GC_TUI_VAULT_PASSWORD"

EXIT_CODES = (
    "Exit codes: 0 everything went as asked; 1 an instance did not answer (audit, upstream; "
    "deploy, rollback and caprover-update, which could not try it), a planned row did not "
    "end done (deploy, rollback, caprover-update, log --reconcile) or the TUI quit "
    "while rows were still running; 2 usage, vault, config or confirmation errors (nothing "
    "deployed); 129 the terminal went away (TUI); 130 interrupted by Ctrl-C; 70 an unexpected "
    "error (printed without its message)."
)


def _vault_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("vault and instance selection")
    group.add_argument("--vault", type=Path, metavar="FILE", help="KeePass file (.kdbx)")
    group.add_argument("--keyfile", type=Path, metavar="FILE", help="key file for the vault")
    group.add_argument(
        "--group",
        metavar="PATH",
        help="instances are the entries with a URL in this group and its subgroups "
        "(e.g. CapRover or Clients/CapRover)",
    )
    group.add_argument("--tag", metavar="TAG", help="instances are the entries with this tag")
    group.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="NAME",
        help="only this instance (the entry's title, matched exactly); repeat for more",
    )
    group.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the vault password from the first line of stdin (else ${PASSWORD_ENV}, "
        "else a hidden prompt on a terminal)",
    )
    group.add_argument(
        "--allow-slow-vault",
        action="store_true",
        help="open a vault whose key-derivation settings would take very long",
    )
    group.add_argument("--config", type=Path, metavar="FILE", help="config file (TOML)")


def _run_flags(parser: argparse.ArgumentParser, default_concurrency: int) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"instances worked on at once (default {default_concurrency}, or the config's)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--read-only", action="store_true", help="refuse any change")


def _upstream_flags(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    parser.add_argument(flag, action="store_true", help=help_text)
    parser.add_argument(
        "--refresh", action="store_true",
        help="ask the registries again instead of using the upstream cache (1 hour)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gc-tui",
        description=(
            "Audit and upgrade a fleet of CapRover servers whose admin passwords live in one "
            "KeePass file. Without a command, opens the interactive table (the TUI)."
        ),
        epilog=(
            "Without --group or --tag, the instances are the vault entries whose URL host "
            "starts with 'captain.'. Settings: $XDG_CONFIG_HOME/gc-tui/config.toml. "
            "Deploy journal: $XDG_STATE_HOME/gc-tui/deploys.jsonl (or $GC_TUI_STATE_DIR). "
            f"{EXIT_CODES} Try it without any server: gc-tui demo"
        ),
    )
    parser.add_argument("--version", action="version", version=f"gc-tui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tui = commands.add_parser("tui", help="open the interactive table (the default)")
    _vault_flags(tui)
    tui.add_argument("--read-only", action="store_true", help="never deploy; audit only")
    tui.add_argument("--targets", type=Path, metavar="FILE", help="targets file (TOML)")

    audit = commands.add_parser(
        "audit",
        help="report what every instance runs",
        description="Log in to every instance concurrently and report its apps and images. "
        "Exit 0 when every instance answered, 1 when any did not, 2 for usage or vault errors.",
    )
    _vault_flags(audit)
    audit.add_argument(
        "--format",
        choices=("table", "json", "csv", "matrix"),
        default="table",
        help="matrix: one line per instance, one column per app, each cell its tag (manual "
        "for a server build, - when absent); fits the terminal, full width into a pipe",
    )
    audit.add_argument(
        "--targets", type=Path, metavar="FILE", help="add each app's drift state against this file"
    )
    _upstream_flags(audit, "--upstream", "add each app's newest tag upstream and its state "
                    "(current, behind, repushed, floating, manual, unknown)")

    deploy = commands.add_parser(
        "deploy",
        help="deploy an image to an app across the fleet",
        description="Plan, confirm and run 'Deploy via ImageName' on every instance that has "
        "the app (or the --instance ones). The plan is always printed first. Service groups "
        "(Superset, Windmill) move together. Every row's progress is journaled before each "
        "request (gc-tui log). Exit 0 when every planned row is done, 1 when any is not, 2 "
        "when nothing was deployed because of usage, vault or confirmation.",
    )
    _vault_flags(deploy)
    deploy.add_argument("--app", action="append", default=[], metavar="NAME", help="app to deploy")
    deploy.add_argument("--image", metavar="IMAGE", help="image reference, e.g. repo/name:tag")
    deploy.add_argument(
        "--to-targets",
        action="store_true",
        help="instead of --app/--image: every stale, other-repo or floating app to its target",
    )
    _upstream_flags(deploy, "--to-newest", "instead of --app/--image: every app that is "
                    "behind upstream to its repository's newest tag (same tag scheme)")
    deploy.add_argument(
        "--include-repushed",
        action="store_true",
        help="with --to-newest: also redeploy apps whose tag was pushed again since they "
        "were deployed (the same image name, a new build)",
    )
    deploy.add_argument("--targets", type=Path, metavar="FILE", help="targets file (TOML)")
    deploy.add_argument(
        "--allow-floating",
        action="store_true",
        help="accept an image without a tag or digest (or with a floating tag like latest)",
    )
    _run_flags(deploy, 8)
    deploy.add_argument("--no-group", action="store_true", help="do not expand service groups")
    deploy.add_argument(
        "--include-manual", action="store_true", help="also deploy over server builds"
    )
    deploy.add_argument(
        "--include-held", action="store_true", help="also deploy over held images (postgres)"
    )

    rollback = commands.add_parser(
        "rollback",
        help="redeploy the image each app ran before its current one",
        description="For each instance, redeploy by image name the image the app ran before "
        "its current one (from its version history), with the confirmation, groups and journal "
        "of deploy. Rows whose previous image was a server build are refused.",
    )
    _vault_flags(rollback)
    rollback.add_argument(
        "--app", action="append", default=[], required=True, metavar="NAME", help="app to roll back"
    )
    _run_flags(rollback, 8)
    rollback.add_argument("--no-group", action="store_true", help="do not expand service groups")

    update = commands.add_parser(
        "caprover-update",
        help="update CapRover itself on the instances that are behind",
        description="Post CapRover's own update (to the latestVersion each server reports), "
        "wait through the restart, log in again and confirm the new version. Apps may be "
        "unreachable for a short time while CapRover restarts.",
    )
    _vault_flags(update)
    _run_flags(update, 4)

    targets = commands.add_parser("targets", help="show or pin the target images")
    target_commands = targets.add_subparsers(dest="targets_command", metavar="ACTION")
    show = target_commands.add_parser("show", help="print the targets file")
    show.add_argument("--targets", type=Path, metavar="FILE")
    show.add_argument("--config", type=Path, metavar="FILE")
    pin = target_commands.add_parser(
        "pin",
        help="make the images an instance runs now the targets (staging sign-off)",
        description="Show what would change in the targets file (the apps that already have "
        "a target; --include-unmanaged adds the others), ask, then write it.",
    )
    _vault_flags(pin)
    pin.add_argument("--from-instance", required=True, metavar="NAME")
    pin.add_argument("--targets", type=Path, metavar="FILE")
    pin.add_argument(
        "--include-unmanaged",
        action="store_true",
        help="also pin apps that have no target yet (e.g. redis, custom apps)",
    )
    pin.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    bump = target_commands.add_parser(
        "bump",
        help="move every target to its repository's newest tag (shows the diff, asks)",
        description="Look up each target's repository and move the target to the newest tag "
        "of the same scheme (held and floating ones are left). The diff is shown and confirmed "
        "before the file is written: bump, deploy to staging, check, then deploy --to-targets.",
    )
    _vault_flags(bump)
    bump.add_argument("--targets", type=Path, metavar="FILE")
    bump.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    bump.add_argument("--refresh", action="store_true", help="ignore the upstream cache")

    upstream = commands.add_parser(
        "upstream",
        help="the newest tag of every repository the fleet runs",
        description="Audit the fleet, then ask each image registry for the tags of every "
        "repository the apps run: the newest tag of the running tag's scheme, how many tags "
        "were seen, its digest, and any error. Results are cached for an hour "
        "($XDG_CACHE_HOME/gc-tui/upstream.json; --refresh bypasses it).",
    )
    _vault_flags(upstream)
    upstream.add_argument("--format", choices=("table", "json"), default="table")
    upstream.add_argument("--targets", type=Path, metavar="FILE",
                          help="its [upstream] include/exclude rules apply")
    upstream.add_argument("--refresh", action="store_true", help="ignore the upstream cache")

    log = commands.add_parser(
        "log",
        help="show the deploy journal; settle rows a crash left open",
        description="The runs in the deploy journal, newest first, each row with its last "
        "state. No vault is needed, except for --reconcile, which compares every unsettled "
        "row with what its server runs now and appends the outcome to the journal. Exit 0 "
        "(--reconcile: only when every row of the runs ended done).",
    )
    _vault_flags(log)
    log.add_argument(
        "--format",
        choices=("table", "json", "markdown"),
        default="table",
        help="markdown: an upgrade note for each run (what changed, by app, then by "
        "instance; what was skipped or failed, and why)",
    )
    which = log.add_mutually_exclusive_group()
    which.add_argument("--last", action="store_true", help="only the latest run")
    which.add_argument("--run", metavar="ID", help="only this run")
    log.add_argument(
        "--unsettled", action="store_true", help="only rows whose last state is not final"
    )
    log.add_argument(
        "--reconcile",
        action="store_true",
        help="settle every unsettled row of the chosen runs against the servers",
    )

    demo = commands.add_parser(
        "demo",
        help="run on the built-in demo fleet (local fake servers and a generated vault)",
        description="Start the demo fleet on loopback with a demo vault, and open the TUI on "
        "it; 'gc-tui demo audit --format json' (or any command) runs that command on the "
        "demo fleet instead. Deploys go to the demo's own journal ($XDG_STATE_HOME/gc-tui/demo/), "
        "never to your real one.",
    )
    demo.add_argument("rest", nargs=argparse.REMAINDER, help="a command and its flags")
    return parser
