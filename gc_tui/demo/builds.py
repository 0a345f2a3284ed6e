"""Deploys on a fake CapRover: the build queue, one build at a time, and each build's log.

The order of the steps, the log lines and the queue's quirks follow the real server; see
docs/caprover-api.md ("The build queue", "Deploying by image name", "The build log").
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from gc_tui.demo.captain_definition import DefinitionError, parse_definition
from gc_tui.demo.captain_state import BuildLog, BuildOutcome, QueuedBuild
from gc_tui.demo.http_wire import Response
from gc_tui.demo.instance import FakeInstance
from gc_tui.demo.responses import app_not_found, envelope, internal_server_error


class Builds:
    """The deploys of one instance: answers POST and GET appData, runs builds as tasks."""

    def __init__(self, instance: FakeInstance) -> None:
        self.instance = instance

    def status(self, app_name: str) -> Response:
        """GET appData/<app>: the build flags and the 50-line log window (any name answers)."""
        state = self.instance.state
        log = state.build_logs.get(app_name)
        window = log.window() if log is not None else {"lines": [""] * 50, "firstLineNumber": -50}
        data = {
            "isAppBuilding": state.building.get(app_name, False),
            "logs": window,
            "isBuildFailed": log.failed if log is not None else False,
        }
        return envelope(100, "App build status retrieved", data)

    async def deploy(self, app_name: str, query: dict[str, str], body: dict[str, Any]) -> Response:
        """POST appData/<app>: 101 at once when detached, else the build's own outcome."""
        instance = self.instance
        app = instance.app(app_name)
        if app is None:
            return app_not_found(app_name)
        definition = body.get("captainDefinitionContent")
        if definition is None or definition == "":
            if instance.at_least("1.15"):
                text = (
                    "Either uploadedTarPathSource or captainDefinitionContent should be "
                    "provided, but not both."
                )
            else:
                text = "Either tarballfile or captainDefinitionContent should be present."
            return envelope(1108, text)
        git_hash = str(body.get("gitHash") or "")
        outcome = self._schedule(app.name, definition, git_hash)
        if query.get("detached"):
            return envelope(101, "Deploy is started")
        # Attached: unlike the real server, a queued attached deploy is answered too.
        result = await outcome
        if result.ok:
            return envelope(100, "Deploy is done")
        if result.status is not None:
            return envelope(result.status, result.description)
        return internal_server_error()

    # -- the queue ---------------------------------------------------------------------------

    def _schedule(
        self, app_name: str, definition: Any, git_hash: str
    ) -> asyncio.Future[BuildOutcome]:
        state = self.instance.state
        # CapRover's isAnyBuildRunning: any app flagged building, queued ones included.
        active = next((name for name, flag in state.building.items() if flag), None)
        state.building[app_name] = True
        log = state.log_of(app_name)
        log.clear()
        outcome: asyncio.Future[BuildOutcome] = asyncio.get_running_loop().create_future()
        if active is None:
            self._spawn(self._run_build(app_name, definition, git_hash, outcome))
            return outcome
        for queued in state.queue:
            if queued.app_name == app_name:
                log.log(
                    f"A build for {app_name} was queued, "
                    "it's now being replaced with a new build..."
                )
                queued.definition, queued.git_hash = definition, git_hash
                return queued.outcome
        log.log(f"An active build ({active}) is in progress. This build is queued...")
        state.queue.append(QueuedBuild(app_name, definition, git_hash, outcome))
        return outcome

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        tasks = self.instance.state.tasks
        changes = self.instance.changes
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)

        def ended(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            changes.notify()

        task.add_done_callback(ended)

    def _build_finished(self, app_name: str) -> None:
        """CapRover's onBuildFinished: clear the flag, start the next queued build.

        The dequeued build never sets its flag again: a second deploy of the app that was
        building therefore runs while reporting isAppBuilding false, as the real server does.
        """
        state = self.instance.state
        state.building[app_name] = False
        if state.queue:
            nxt = state.queue.popleft()
            self._spawn(self._run_build(nxt.app_name, nxt.definition, nxt.git_hash, nxt.outcome))
        self.instance.changes.notify()

    # -- one build ---------------------------------------------------------------------------

    async def _run_build(
        self,
        app_name: str,
        definition: Any,
        git_hash: str,
        outcome: asyncio.Future[BuildOutcome],
    ) -> None:
        try:
            await self._build(app_name, definition, git_hash, outcome)
        except asyncio.CancelledError:
            _settle(outcome, BuildOutcome(False))  # the process died: an attached deploy sees 500
            raise

    async def _build(
        self,
        app_name: str,
        definition: Any,
        git_hash: str,
        outcome: asyncio.Future[BuildOutcome],
    ) -> None:
        instance = self.instance
        app = instance.app(app_name)
        log = instance.state.log_of(app_name)
        if app is None:  # deleted while queued
            self._build_finished(app_name)
            return
        entry = app.create_new_version()
        log.clear()
        log.log(f"------------------------- {_js_date()}")
        log.log(f"Build started for {app_name}")
        try:
            image = parse_definition(definition)
        except DefinitionError as error:
            _fail(log, error.text, from_build=False)
            self._build_finished(app_name)
            _settle(outcome, BuildOutcome(False, error.status, error.text))
            return
        log.log(
            f"An explicit image name was provided ({image}). Therefore, no build process is needed."
        )
        log.log(f"Pulling this image: {image} This process might take a few minutes.")
        await asyncio.sleep(instance.build_seconds)
        # A test holding builds decides when the pull ends, and may make it fail.
        failed_by_test = await instance.build_gate.pass_through(app_name, instance.changes.notify)
        if failed_by_test or instance.pull_fails(image):
            repository = _repository_of(image)
            _fail(
                log,
                f"Error: (HTTP code 404) unexpected - pull access denied for {repository}, "
                "repository does not exist or may require 'docker login': denied: requested "
                "access to the resource is denied",
                from_build=True,
            )
            self._build_finished(app_name)
            _settle(outcome, BuildOutcome(False))
            return
        log.log("Build has finished successfully!")
        entry["deployedImageName"] = image
        entry["gitHash"] = git_hash
        app.deployed_version = int(entry["version"])
        self._build_finished(app_name)
        # The docker service update comes after isAppBuilding went false, so a client can see
        # a finished build and only later the failure (docs/caprover-api.md, "The build log").
        await asyncio.sleep(instance.service_update_seconds)
        if instance.service_update_fails(image):
            _fail(
                log,
                "Error: (HTTP code 500) server error - rpc error: code = Unknown desc = "
                "update out of sequence",
                from_build=False,
            )
            _settle(outcome, BuildOutcome(False))
            return
        _settle(outcome, BuildOutcome(True))


def _fail(log: BuildLog, error_text: str, *, from_build: bool) -> None:
    if from_build:
        log.log("Build has failed!")
    log.log("----------------------")
    log.log("Deploy failed!")
    log.log(error_text)
    log.failed = True


def _settle(outcome: asyncio.Future[BuildOutcome], result: BuildOutcome) -> None:
    if not outcome.done():
        outcome.set_result(result)


def _js_date() -> str:
    return datetime.now(UTC).strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")


def _repository_of(image: str) -> str:
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name
