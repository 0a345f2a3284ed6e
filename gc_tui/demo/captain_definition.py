"""The captain-definition of a deploy: what CapRover accepts, and its error texts.

docs/caprover-api.md ("Deploying by image name") lists the rules and where they come from.
"""

from __future__ import annotations

import json
from typing import Any


class DefinitionError(Exception):
    """A captain-definition problem; ``status`` None means a plain Node error (HTTP 500)."""

    def __init__(self, text: str, status: int | None = 1000) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def parse_definition(content: Any) -> str:
    """The imageName of a captain-definition, or DefinitionError with CapRover's text."""
    # The server interpolates the value into a string, so an object becomes this.
    text = content if isinstance(content, str) else "[object Object]"
    try:
        definition = json.loads(text)
    except ValueError:
        raise DefinitionError(
            f"SyntaxError: Unexpected token {text[:1]!s} in JSON at position 0", None
        ) from None
    if not isinstance(definition, dict) or definition.get("schemaVersion") in (None, ""):
        raise DefinitionError("Captain Definition version is empty!")
    if definition["schemaVersion"] != 2 or isinstance(definition["schemaVersion"], bool):
        raise DefinitionError(
            "Captain Definition version is not supported! Read migration guides to schemaVersion 2"
        )
    present = [
        key
        for key in ("templateId", "imageName", "dockerfilePath", "dockerfileLines")
        if definition.get(key)
    ]
    if len(present) != 1:
        raise DefinitionError(
            "One, and only one, of these properties should be present in captain-definition: "
            "templateId, imageName, dockerfilePath, or, dockerfileLines"
        )
    if present[0] != "imageName" or not isinstance(definition["imageName"], str):
        # Builds (dockerfile, template) are not simulated: the fake only pulls images.
        raise DefinitionError("The fake CapRover only deploys by imageName", None)
    image: str = definition["imageName"]
    return image
