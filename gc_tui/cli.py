"""The ``gc-tui`` command: the TUI by default, and headless commands over the same core.

Heavy imports (pykeepass, textual) happen inside the commands so ``--help`` is quick.
Exit codes: 0 everything went as asked, 1 some instance or row did not, 2 usage, vault,
config or confirmation errors.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

if TYPE_CHECKING:
    from gc_tui.config import Config
    from gc_tui.core.deploy import RowResult, RowUpdate, Timing
    from gc_tui.core.model import Instance, InstanceAudit
    from gc_tui.core.plan import Plan
    from gc_tui.core.secret import Secret
    from gc_tui.core.update import UpdateTiming

PASSWORD_ENV = "GC_TUI_VAULT_PASSWORD"
T = TypeVar("T")

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Reported as one line on stderr with exit code 2."""


# -- argument parsing -------------------------------------------------------------------------


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
        help="only this instance (entry title); repeat for more",
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
            "Deploy log: $XDG_STATE_HOME/gc-tui/deploys.jsonl (or $GC_TUI_STATE_DIR). "
            "Try it without any server: gc-tui demo"
        ),
    )
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
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit.add_argument(
        "--targets", type=Path, metavar="FILE", help="add each app's drift state against this file"
    )

    deploy = commands.add_parser(
        "deploy",
        help="deploy an image to an app across the fleet",
        description="Plan, confirm and run 'Deploy via ImageName' on every instance that has "
        "the app (or the --instance ones). The plan is always printed first. Service groups "
        "(Superset, Windmill) move together. Exit 0 when every planned row is done, 1 when "
        "any is not, 2 when nothing was deployed because of usage, vault or confirmation.",
    )
    _vault_flags(deploy)
    deploy.add_argument("--app", action="append", default=[], metavar="NAME", help="app to deploy")
    deploy.add_argument("--image", metavar="IMAGE", help="image reference, e.g. repo/name:tag")
    deploy.add_argument(
        "--to-targets",
        action="store_true",
        help="instead of --app/--image: every stale, other-repo or floating app to its target",
    )
    deploy.add_argument("--targets", type=Path, metavar="FILE", help="targets file (TOML)")
    _deploy_flags(deploy)
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
        "its current one (from its version history), with the confirmation, groups and log "
        "of deploy. Rows whose previous image was a server build are refused.",
    )
    _vault_flags(rollback)
    rollback.add_argument(
        "--app", action="append", default=[], required=True, metavar="NAME", help="app to roll back"
    )
    _deploy_flags(rollback)
    rollback.add_argument("--no-group", action="store_true", help="do not expand service groups")

    update = commands.add_parser(
        "caprover-update",
        help="update CapRover itself on the instances that are behind",
        description="Post CapRover's own update (to the latestVersion each server reports), "
        "wait through the restart, log in again and confirm the new version. Apps may be "
        "unreachable for a short time while CapRover restarts.",
    )
    _vault_flags(update)
    _deploy_flags(update, default_concurrency=4)

    targets = commands.add_parser("targets", help="show or pin the target images")
    target_commands = targets.add_subparsers(dest="targets_command", metavar="ACTION")
    show = target_commands.add_parser("show", help="print the targets file")
    show.add_argument("--targets", type=Path, metavar="FILE")
    show.add_argument("--config", type=Path, metavar="FILE")
    pin = target_commands.add_parser(
        "pin", help="make the images an instance runs now the targets (staging sign-off)"
    )
    _vault_flags(pin)
    pin.add_argument("--from-instance", required=True, metavar="NAME")
    pin.add_argument("--targets", type=Path, metavar="FILE")

    demo = commands.add_parser(
        "demo",
        help="run on the built-in demo fleet (local fake servers and a generated vault)",
        description="Start the demo fleet on loopback, write a throw-away vault, and open the "
        "TUI on it; 'gc-tui demo audit --format json' (or any command) runs that command on "
        "the demo fleet instead. Everything is removed on exit.",
    )
    demo.add_argument("rest", nargs=argparse.REMAINDER, help="a command and its flags")
    return parser


def _deploy_flags(parser: argparse.ArgumentParser, default_concurrency: int | None = None) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan, deploy nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=default_concurrency,
        metavar="N",
        help="instances worked on at once (default %s)"
        % (default_concurrency if default_concurrency else 8),
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--read-only", action="store_true", help="refuse any deploy")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# -- shared steps -----------------------------------------------------------------------------


class Context:
    """What every command needs: the config, the selected instances, a place to print."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
        password: Secret | None = None,
        timing: Timing | None = None,
        update_timing: UpdateTiming | None = None,
        unlock_hint: str | None = None,
    ) -> None:
        self.args = args
        self.unlock_hint = unlock_hint
        self.update_timing = update_timing
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.preset_password = password
        self.timing = timing
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from gc_tui.config import ConfigError, load_config

            try:
                self._config = load_config(getattr(self.args, "config", None))
            except ConfigError as err:
                raise UsageError(str(err)) from None
        return self._config

    def vault_path(self) -> Path:
        path = self.args.vault or self.config.vault
        if path is None:
            raise UsageError("no vault: pass --vault FILE or set vault in the config file")
        return Path(path)

    def read_password(self) -> Secret | None:
        from gc_tui.core.secret import Secret

        if self.preset_password is not None:
            return self.preset_password
        keyfile = self.args.keyfile or self.config.keyfile
        if getattr(self.args, "password_stdin", False):
            line = self.stdin.readline().rstrip("\r\n")
            return Secret(line) if line or keyfile is None else None
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env is not None:
            return Secret(from_env) if from_env or keyfile is None else None
        if self.stdin.isatty():
            typed = getpass.getpass(f"Password for {self.vault_path().name}: ")
            return Secret(typed) if typed or keyfile is None else None
        if keyfile is not None:
            return None
        raise UsageError(
            f"no vault password: use a terminal, ${PASSWORD_ENV} or --password-stdin"
        )

    def instances(self) -> list[Instance]:
        from gc_tui.core.vault import VaultError, load_instances

        path = self.vault_path()
        password = self.read_password()
        try:
            found = load_instances(
                path,
                password,
                self.args.keyfile or self.config.keyfile,
                group=self.args.group or self.config.group,
                tag=self.args.tag or self.config.tag,
                allow_slow=self.args.allow_slow_vault,
            )
        except VaultError as err:
            raise UsageError(str(err)) from None
        found = self.config.apply_to(found)
        wanted = list(dict.fromkeys(getattr(self.args, "instance", []) or []))
        if wanted:
            names = {instance.name for instance in found}
            unknown = [name for name in wanted if name not in names]
            if unknown:
                raise UsageError(f"no such instance in the vault: {', '.join(unknown)}")
            found = [instance for instance in found if instance.name in wanted]
        for instance in found:
            if instance.insecure:
                self.err(f"warning: {instance.name}: TLS verification is off (config)")
        return found

    def session(self, instances: Sequence[Instance]) -> Any:
        from gc_tui.core.session import FleetSession

        return FleetSession(instances, self.config.client, ca_files=self.config.ca_files())

    def targets(self, required: bool = False) -> Any:
        from gc_tui.core.targets import TargetsError, load_targets

        path = getattr(self.args, "targets", None) or self.config.targets
        if path is None:
            if required:
                raise UsageError("no targets file: pass --targets FILE or set targets in the config")
            return None
        try:
            return load_targets(Path(path))
        except TargetsError as err:
            raise UsageError(str(err)) from None

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        from gc_tui.core.text import printable

        self.stderr.write("\n".join(printable(line) for line in text.split("\n")) + "\n")
        self.stderr.flush()


def run_on_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop's loop where installed (core/eventloop.py)."""
    from gc_tui.core.eventloop import run

    return run(main)


# -- commands -----------------------------------------------------------------------------------


def cmd_audit(ctx: Context) -> int:
    from gc_tui import report
    from gc_tui.core.audit import audit_fleet

    instances = ctx.instances()
    targets = ctx.targets()

    async def run() -> list[InstanceAudit]:
        async with ctx.session(instances) as session:
            return await audit_fleet(session, concurrency=ctx.config.concurrency)

    audits = run_on_loop(run())
    if ctx.args.format == "json":
        ctx.out(report.render_json(report.audit_json(audits, targets)))
    elif ctx.args.format == "csv":
        ctx.stdout.write(report.audit_csv(audits, targets))
    else:
        ctx.stdout.write(report.audit_table(audits, targets))
    return EXIT_OK if all(audit.ok for audit in audits) else EXIT_INCOMPLETE


def cmd_deploy(ctx: Context) -> int:
    from gc_tui.core.plan import DeployTarget, PlanError, build_plan, plan_options

    args = ctx.args
    if args.to_targets:
        if args.app or args.image:
            raise UsageError("--to-targets plans every app itself: drop --app and --image")
    else:
        if not args.app:
            raise UsageError("deploy needs --app NAME (or --to-targets)")
        if not args.image:
            raise UsageError("deploy needs --image IMAGE")
        from gc_tui.core.plan import check_image

        try:
            check_image(args.image)  # before the vault is even opened
        except PlanError as err:
            raise UsageError(str(err)) from None
    targets = ctx.targets(required=args.to_targets)
    options = plan_options(
        targets,
        ctx.config.hold_repositories,
        use_groups=not args.no_group,
        include_manual=args.include_manual,
        include_held=args.include_held,
        read_only=args.read_only or ctx.config.read_only,
    )
    instances = ctx.instances()

    def plan_for(audits: Sequence[InstanceAudit]) -> Plan:
        if args.to_targets:
            from gc_tui.core.plan import to_target_selection

            wanted = to_target_selection(audits, targets)
        else:
            wanted = [
                DeployTarget(audit.instance.name, app, args.image)
                for audit in audits
                for app in args.app
                if not audit.ok or args.instance or any(a.name == app for a in audit.apps)
            ]
        try:
            return build_plan(audits, wanted, options)
        except PlanError as err:
            raise UsageError(str(err)) from None

    return _plan_confirm_run(ctx, instances, plan_for, empty_message=_no_app_message(args))


def _no_app_message(args: argparse.Namespace) -> str:
    if getattr(args, "to_targets", False):
        return "every reachable app is on target (or needs a human): nothing to deploy"
    return f"no instance has the app(s) {', '.join(args.app)}: nothing to deploy"


def cmd_rollback(ctx: Context) -> int:
    from gc_tui.core.plan import (
        PlanError,
        build_plan,
        plan_options,
        rollback_targets,
        with_skipped,
    )

    args = ctx.args
    options = plan_options(
        ctx.targets(),
        ctx.config.hold_repositories,
        use_groups=not args.no_group,
        read_only=args.read_only or ctx.config.read_only,
    )
    instances = ctx.instances()

    def plan_for(audits: Sequence[InstanceAudit]) -> Plan:
        wanted, refused = rollback_targets(audits, args.app, args.instance or None)
        try:
            plan = build_plan(audits, wanted, options, action="rollback")
        except PlanError as err:
            raise UsageError(str(err)) from None
        return with_skipped(plan, refused)

    return _plan_confirm_run(
        ctx, instances, plan_for, empty_message="nothing to roll back", action="rollback"
    )


def _plan_confirm_run(
    ctx: Context,
    instances: Sequence[Instance],
    plan_for: Callable[[Sequence[InstanceAudit]], Plan],
    *,
    empty_message: str,
    action: str = "deploy",
) -> int:
    """Audit, plan, print the plan, confirm, run, report: shared by deploy and rollback."""
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploy import DeployEngine, RowState, Timing
    from gc_tui.core.deploylog import DeployLog

    args = ctx.args

    async def run() -> int:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=ctx.config.concurrency)
            plan = plan_for(audits)
            if not plan.rows and not plan.skipped:
                raise UsageError(empty_message)
            _print_plan(ctx, plan)
            stop = _gate(ctx, len(plan.rows), action, "deployed")
            if stop is not None:
                if stop == EXIT_OK:
                    _print_unrun_plan(ctx, plan, "planned")
                return stop
            engine = DeployEngine(
                session,
                plan,
                concurrency=args.concurrency or ctx.config.deploy_concurrency,
                timing=ctx.timing or Timing(),
                on_event=lambda update: _print_update(ctx, update),
                log=DeployLog(),
            )
            results = await _run_interruptible(ctx, engine)
            _print_results(ctx, results)
            planned = [r for r in results if r.state is not RowState.SKIPPED]
            return EXIT_OK if all(r.state is RowState.DONE for r in planned) else EXIT_INCOMPLETE

    return run_on_loop(run())


async def _run_interruptible(ctx: Context, engine: Any) -> Any:
    """First Ctrl-C: start nothing new, let what is in flight end. Second: stop now.

    Either way every row's final state is reported: the engine records it on cancellation.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(engine.run())
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            ctx.err(
                "interrupted: starting nothing new, waiting for work in flight "
                "(Ctrl-C again to stop now)"
            )
            engine.cancel()
        else:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        return await task
    except asyncio.CancelledError:
        return engine.final_results()
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def _gate(ctx: Context, rows: int, action: str, done_word: str) -> int | None:
    """The confirmation rules every changing command shares; an exit code means stop.

    --dry-run stops after the plan; read-only refuses; nothing planned is not an error;
    otherwise --yes, or a terminal that answers, or nothing happens (exit 2).
    """
    if ctx.args.dry_run:
        ctx.err(f"dry run: nothing {done_word}")
        return EXIT_OK
    if ctx.args.read_only or ctx.config.read_only:
        ctx.err(f"read-only: nothing {done_word}")
        return EXIT_USAGE
    if not rows:
        ctx.err(f"nothing to {action}: every row is skipped")
        return EXIT_OK
    if not _confirm(ctx, rows, action):
        return EXIT_USAGE
    return None


def _confirm(ctx: Context, rows: int, action: str) -> bool:
    from gc_tui.core.plan import CONFIRM_COUNT_ABOVE

    if ctx.args.yes:
        return True
    if not ctx.stdin.isatty():
        ctx.err(f"not a terminal: pass --yes to {action} without a question; nothing deployed")
        return False
    if rows > CONFIRM_COUNT_ABOVE:
        ctx.stderr.write(f"Type the number of rows ({rows}) to {action} them: ")
        ctx.stderr.flush()
        answer = ctx.stdin.readline().strip()
        ok = answer == str(rows)
    else:
        ctx.stderr.write(f"{action.capitalize()} {rows} row(s)? [y/N] ")
        ctx.stderr.flush()
        ok = ctx.stdin.readline().strip().lower() in ("y", "yes")
    if not ok:
        ctx.err("not confirmed: nothing deployed")
    return ok


def _print_plan(ctx: Context, plan: Plan) -> None:
    from gc_tui.core.text import printable

    stream = ctx.stderr if ctx.args.format == "json" else ctx.stdout
    lines = [f"Plan ({plan.action}): {len(plan.rows)} row(s) to change, {len(plan.skipped)} skipped"]
    for row in plan.rows:
        added = "  [added by group " + printable(row.group or "") + "]" if row.added_by_group else ""
        lines.append(
            f"  {printable(row.instance)} / {printable(row.app)}: "
            f"{printable(row.from_image or '(none)')} -> {printable(row.to_image)}{added}"
        )
    for skipped in plan.skipped:
        lines.append(
            f"  skip {printable(skipped.instance)} / {printable(skipped.app)}: "
            f"{printable(skipped.reason)}"
        )
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def _print_unrun_plan(ctx: Context, plan: Plan, state: str) -> None:
    """With --format json, the rows of a plan that was not run, in the deploy's own shape."""
    from gc_tui import report

    if ctx.args.format != "json":
        return
    rows = [
        {
            "instance": row.instance,
            "app": row.app,
            "from_image": row.from_image,
            "to_image": row.to_image,
            "state": state,
            "error": None,
        }
        for row in plan.rows
    ] + [
        {
            "instance": row.instance,
            "app": row.app,
            "from_image": row.from_image,
            "to_image": row.to_image,
            "state": "skipped",
            "error": row.reason,
        }
        for row in plan.skipped
    ]
    ctx.out(report.render_json({"rows": rows}))


def _print_update(ctx: Context, update: RowUpdate) -> None:
    from gc_tui.core.text import printable

    if update.state == "skipped":
        return
    stream = ctx.stderr if ctx.args.format == "json" else ctx.stdout
    reason = f": {printable(update.error, 300)}" if update.error else ""
    stream.write(f"{printable(update.instance)} / {printable(update.app)}: {update.state}{reason}\n")
    stream.flush()


def _print_results(ctx: Context, results: Sequence[RowResult]) -> None:
    from gc_tui import report
    from gc_tui.core.text import printable

    if ctx.args.format == "json":
        ctx.out(report.render_json({"rows": [r.as_json() for r in results]}))
        return
    lines = ["Result:"]
    for result in results:
        reason = f" ({printable(result.error, 300)})" if result.error else ""
        lines.append(
            f"  {result.state:<9} {printable(result.instance)} / {printable(result.app)}{reason}"
        )
        if result.state == "failed":
            for line in result.log_tail[-5:]:
                lines.append(f"      | {printable(line, 200)}")
    ctx.out("\n".join(lines))


def cmd_targets(ctx: Context) -> int:
    from gc_tui.core.targets import (
        Targets,
        TargetsError,
        load_targets,
        plan_pin,
        save_targets,
    )

    action = ctx.args.targets_command
    if action is None:
        raise UsageError("targets needs an action: show or pin")
    path = ctx.args.targets or ctx.config.targets
    if path is None:
        raise UsageError("no targets file: pass --targets FILE or set targets in the config")
    path = Path(path)
    if action == "show":
        targets = ctx.targets(required=True)
        _show_targets(ctx, targets)
        return EXIT_OK
    from gc_tui.core.audit import audit_fleet

    ctx.args.instance = [ctx.args.from_instance]
    instances = ctx.instances()

    async def run() -> list[InstanceAudit]:
        async with ctx.session(instances) as session:
            return await audit_fleet(session)

    audit = run_on_loop(run())[0]
    if not audit.ok:
        ctx.err(f"{audit.instance.name}: {audit.status}: {audit.error}")
        return EXIT_INCOMPLETE
    try:
        current = load_targets(path) if path.exists() else Targets(images={}, groups={}, path=path)
    except TargetsError as err:
        raise UsageError(str(err)) from None
    # Sign-off takes everything the reference instance runs, apps without a target included;
    # server builds, held and floating images cannot be targets and are listed as skipped.
    report = plan_pin(current, audit, include_unmanaged=True)
    save_targets(path, report.targets)
    for change in report.changes:
        ctx.err(f"  {change.app}: {change.old or '(no target)'} -> {change.new}")
    for skip in report.skipped:
        ctx.err(f"  skip {skip.app}: {skip.reason}")
    ctx.err(
        f"pinned {len(report.changes)} image(s) of {audit.instance.name} into {path} "
        f"({len(report.skipped)} skipped)"
    )
    _show_targets(ctx, report.targets)
    return EXIT_OK


def _show_targets(ctx: Context, targets: Any) -> None:
    from gc_tui.core.text import printable

    width = max((len(name) for name in targets.images), default=0)
    lines = [f"{printable(name):<{width}}  {printable(image)}" for name, image in sorted(targets.images.items())]
    if targets.hold_repositories:
        lines.append(f"held: {', '.join(targets.hold_repositories)}")
    ctx.out("\n".join(lines) if lines else "(no targets)")


def cmd_caprover_update(ctx: Context) -> int:
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploylog import DeployLog
    from gc_tui.core.text import printable
    from gc_tui.core.update import UpdateEngine, UpdateState, build_update_plan

    args = ctx.args
    instances = ctx.instances()
    stream = ctx.stderr if args.format == "json" else ctx.stdout

    def say(text: str) -> None:
        stream.write(printable(text) + "\n")
        stream.flush()

    async def run() -> int:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=ctx.config.concurrency)
            plan = build_update_plan(
                audits, args.instance or None, read_only=args.read_only or ctx.config.read_only
            )
            say(f"Plan (caprover-update): {len(plan.rows)} instance(s), {len(plan.skipped)} skipped")
            for row in plan.rows:
                say(f"  {row.instance}: CapRover {row.from_version} -> {row.to_version}")
            for row in plan.skipped:
                say(f"  skip {row.instance}: {row.error}")
            if plan.rows:
                say(
                    "  Apps may be unreachable for a short time while CapRover restarts "
                    "(about a minute, with nginx errors)."
                )
            stop = _gate(ctx, len(plan.rows), "update", "updated")
            if stop is not None:
                return stop
            engine = UpdateEngine(
                session,
                plan,
                concurrency=args.concurrency or ctx.config.update_concurrency,
                timing=ctx.update_timing or UpdateTiming(),
                on_event=lambda row: say(
                    f"{row.instance}: {row.state}" + (f": {row.error}" if row.error else "")
                )
                if row.state != UpdateState.SKIPPED
                else None,
                log=DeployLog(),
            )
            results = await _run_interruptible(ctx, engine)
            if args.format == "json":
                from gc_tui import report

                ctx.out(report.render_json({"rows": [r.as_json() for r in results]}))
            planned = [r for r in results if r.state is not UpdateState.SKIPPED]
            return EXIT_OK if all(r.state is UpdateState.DONE for r in planned) else EXIT_INCOMPLETE

    from gc_tui.core.update import UpdateTiming

    return run_on_loop(run())


def cmd_tui(ctx: Context) -> int:
    from gc_tui.core.deploy import Timing
    from gc_tui.core.update import UpdateTiming
    from gc_tui.tui.app import make_app
    from gc_tui.tui.options import TuiOptions

    args = ctx.args
    vault = args.vault or ctx.config.vault
    options = TuiOptions(
        vault=Path(vault) if vault else None,
        keyfile=args.keyfile or ctx.config.keyfile,
        group=args.group or ctx.config.group,
        tag=args.tag or ctx.config.tag,
        instance_names=tuple(args.instance or ()),
        config=ctx.config,
        read_only=getattr(args, "read_only", False) or ctx.config.read_only,
        targets_path=getattr(args, "targets", None) or ctx.config.targets,
        deploy_timing=ctx.timing or Timing(),
        update_timing=ctx.update_timing or UpdateTiming(),
        audit_concurrency=ctx.config.concurrency,
        deploy_concurrency=ctx.config.deploy_concurrency,
        lock_after_minutes=ctx.config.lock_after_minutes,
        unlock_hint=ctx.unlock_hint,
        allow_slow=args.allow_slow_vault,
    )
    make_app(options).run()
    return EXIT_OK


COMMANDS: dict[str, Callable[[Context], int]] = {
    "audit": cmd_audit,
    "deploy": cmd_deploy,
    "rollback": cmd_rollback,
    "targets": cmd_targets,
    "caprover-update": cmd_caprover_update,
    "tui": cmd_tui,
}


def run(
    argv: Sequence[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    password: Secret | None = None,
    timing: Timing | None = None,
    update_timing: UpdateTiming | None = None,
    unlock_hint: str | None = None,
) -> int:
    """Run one command; ``password`` and the timings are for the demo and tests."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["tui", *argv]
    args = parser.parse_args(argv)
    if args.command == "demo":
        from gc_tui.demo.run import run_demo

        return run_demo(args.rest, stdin=stdin, stdout=stdout, stderr=stderr)
    command = args.command
    ctx = Context(
        args,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        password=password,
        timing=timing,
        update_timing=update_timing,
        unlock_hint=unlock_hint,
    )
    try:
        return COMMANDS[command](ctx)
    except UsageError as err:
        ctx.err(f"gc-tui: {err}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        ctx.err("gc-tui: stopped")
        return 130
    except Exception as failure:  # noqa: BLE001 - the last line of defence for secrets
        ctx.err(crash_summary(failure))
        return 70


def crash_summary(failure: BaseException) -> str:
    """Where an unexpected error happened, without its message or locals.

    A message can quote a request (which carries the admin token) or a password; the frame
    locations are enough to report the bug.
    """
    frames = traceback.extract_tb(failure.__traceback__)[-8:]
    where = "\n".join(f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)
    return (
        f"gc-tui: unexpected error ({type(failure).__name__}; message hidden, it may contain "
        f"secrets). Nothing new was started by it; check the deploy log.\n{where}"
    )


def main() -> None:
    _no_core_dumps()
    sys.exit(run(sys.argv[1:]))


def _no_core_dumps() -> None:
    # A core dump of this process would hold every unlocked password.
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
