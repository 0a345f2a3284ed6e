"""GET /user/apps/appDefinitions: every app of a fake server as CapRover lists it.

The keys, their order and which CapRover versions send them are in docs/caprover-api.md
("The app listing").
"""

from __future__ import annotations

from typing import Any

from gc_tui.demo.http_wire import Response
from gc_tui.demo.instance import FakeApp, FakeInstance
from gc_tui.demo.json_memo import JsonMemo
from gc_tui.demo.responses import envelope_body

# An illustrative stand-in for template/server-block-conf.ejs: clients only need "a long string".
DEFAULT_NGINX_CONFIG = (
    "<%\nif (s.forceSsl) {\n%>\n    server {\n        listen       80;\n"
    "        server_name  <%-s.publicDomain%>;\n"
    "        location /.well-known/acme-challenge/ {\n            root <%-s.staticWebRoot%>;\n"
    "        }\n        location / {\n            return 302 https://$http_host$request_uri;\n"
    "        }\n    }\n<%\n}\n%>\n\n    server {\n<%\n        if (!s.forceSsl) {\n%>\n"
    "        listen       80;\n<%\n        }\n        if (s.hasSsl) {\n%>\n"
    "        listen              443 ssl;\n        http2 on;\n"
    "        ssl_certificate     <%-s.crtPath%>;\n        ssl_certificate_key <%-s.keyPath%>;\n"
    "<%\n        }\n%>\n        client_max_body_size 500m;\n"
    "        server_name  <%-s.publicDomain%>;\n"
    "        resolver 127.0.0.11 valid=10s;\n        set $upstream http://<%-s.localDomain%>:"
    "<%-s.containerHttpPort%>;\n\n        location / {\n"
    "            proxy_pass $upstream;\n            proxy_set_header Host $host;\n"
    "            proxy_set_header X-Real-IP $remote_addr;\n"
    "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
    "            proxy_set_header X-Forwarded-Proto $scheme;\n<%\n"
    "            if (s.websocketSupport) {\n%>\n"
    "            proxy_set_header Upgrade $http_upgrade;\n"
    '            proxy_set_header Connection "upgrade";\n            proxy_http_version 1.1;\n'
    "<%\n            }\n%>\n        }\n\n        location /.well-known/acme-challenge/ {\n"
    "            root <%-s.staticWebRoot%>;\n        }\n    }\n"
)


class AppListing:
    """Answers the listing of one instance, re-encoding its JSON only when it changed."""

    def __init__(self, instance: FakeInstance) -> None:
        self.instance = instance
        self._json = JsonMemo()

    def response(self) -> Response:
        # Hot in benchmarks (every audit lists every instance): the version checks are made
        # once per listing rather than three times per app, and the JSON of an unchanged
        # listing is reused (json_memo says why that is safe).
        instance = self.instance
        on_1_11 = instance.at_least("1.11")
        on_1_13 = instance.at_least("1.13")
        on_1_15 = instance.at_least("1.15")
        building = instance.state.building
        apps = [
            _app_json(app, building.get(app.name, False), on_1_11, on_1_13, on_1_15)
            for app in instance.apps
        ]
        data: dict[str, Any] = {"appDefinitions": apps, "rootDomain": instance.root_domain}
        if on_1_11:
            data["captainSubDomain"] = "captain"
        data["defaultNginxConfig"] = DEFAULT_NGINX_CONFIG
        body = envelope_body(100, "App definitions are retrieved.", data)
        return Response(200, self._json.encode(body))


def _app_json(
    app: FakeApp, building: bool, on_1_11: bool, on_1_13: bool, on_1_15: bool
) -> dict[str, Any]:
    """One appDefinitions entry, its keys in the order the real server sends them."""
    item: dict[str, Any] = {
        "hasPersistentData": app.has_persistent_data,
        "description": app.description,
        "instanceCount": app.instance_count,
        "captainDefinitionRelativeFilePath": "./captain-definition",
        "networks": ["captain-overlay-network"],
        "envVars": app.env_vars,
        "volumes": app.volumes,
        "ports": app.ports,
        "versions": app.versions,
        "deployedVersion": app.deployed_version,
        "notExposeAsWebApp": app.not_expose_as_web_app,
        "customDomain": app.custom_domain,
        "hasDefaultSubDomainSsl": app.has_default_sub_domain_ssl,
        "forceSsl": app.force_ssl,
        "websocketSupport": app.websocket_support,
        "containerHttpPort": app.container_http_port,
        "appDeployTokenConfig": {"enabled": False},
    }
    if on_1_11:
        item["tags"] = [{"tagName": tag} for tag in app.tags]
        item["redirectDomain"] = ""
    if on_1_13:
        item["projectId"] = app.project_id
    item["appName"] = app.name
    item["isAppBuilding"] = building
    if on_1_15:
        item["isLegacyAppName"] = app.is_legacy_app_name
    return item
