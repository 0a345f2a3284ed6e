"""Reading what registries send: challenges, tokens, quotas, Retry-After, Link headers.

The header values are the ones docs/registries.md quotes from Docker Hub, GHCR and the specs.
"""

from __future__ import annotations

import pytest

from gc_tui.core.registry_answers import next_link, platform_manifest
from gc_tui.core.registry_auth import Challenge, TokenCache, parse_challenge, token_from_answer
from gc_tui.core.registry_limits import RateLimit, rate_limit_of, retry_at_of

NOW = 1_790_000_000.0


class TestChallenges:
    @pytest.mark.parametrize(
        ("header", "challenge"),
        [
            (
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:samalba/my-app:pull,push"',
                Challenge(
                    "bearer",
                    "https://auth.docker.io/token",
                    "registry.docker.io",
                    "repository:samalba/my-app:pull,push",
                ),
            ),
            (
                'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
                Challenge(
                    "bearer", "https://ghcr.io/token", "ghcr.io", "repository:user/image:pull"
                ),
            ),
            (
                'Bearer realm="http://127.0.0.1:5057/token",service="test-registry",'
                'scope="repository:communityfirst/demo:pull",error="insufficient_scope"',
                Challenge(
                    "bearer",
                    "http://127.0.0.1:5057/token",
                    "test-registry",
                    "repository:communityfirst/demo:pull",
                    "insufficient_scope",
                ),
            ),
            ('Basic realm="Registry Realm"', Challenge("basic", "Registry Realm")),
            (
                "bearer realm=https://r.example.org/t, service=r",
                Challenge("bearer", "https://r.example.org/t", "r"),
            ),
        ],
    )
    def test_parsed(self, header: str, challenge: Challenge) -> None:
        assert parse_challenge(header) == challenge

    @pytest.mark.parametrize("header", [None, "", "Negotiate abc", 'Bearer service="x"'])
    def test_not_usable(self, header: str | None) -> None:
        assert parse_challenge(header) is None


class TestTokens:
    """``token`` and/or ``access_token``; ``expires_in`` defaults to 60 s."""

    @pytest.mark.parametrize(
        ("body", "lifetime"),
        [
            (b'{"token":"a","expires_in":300,"issued_at":"2026-08-20T10:00:00Z"}', 290.0),
            (b'{"access_token":"a"}', 50.0),
            (b'{"token":"a","access_token":"a","expires_in":"300"}', 50.0),
        ],
    )
    def test_read(self, body: bytes, lifetime: float) -> None:
        token = token_from_answer(body, 1000.0)
        assert token is not None
        assert token.value.reveal() == "a"
        assert token.expires_at == 1000.0 + lifetime
        assert "a" not in repr(token).replace("value", "").replace("expires_at", "")

    @pytest.mark.parametrize("body", [b"", b"[]", b'{"token":""}', b'{"token":5}', b"<html>"])
    def test_no_token(self, body: bytes) -> None:
        assert token_from_answer(body, 0.0) is None

    def test_expired_tokens_are_not_used(self) -> None:
        now = [100.0]
        cache = TokenCache(clock=lambda: now[0])
        key = ("realm", "svc", "repository:a:pull", "")
        token = token_from_answer(b'{"token":"t","expires_in":60}', now[0])
        assert token is not None
        cache.put(key, token)
        assert cache.get(key) is token
        now[0] += 51
        assert cache.get(key) is None


class TestQuotas:
    def test_docker_hub_headers(self) -> None:
        headers = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"}
        assert rate_limit_of(headers) == RateLimit(100, 76, 21600, None)

    def test_hub_api_headers(self) -> None:
        headers = {
            "x-ratelimit-limit": "180",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "1790000060",
        }
        assert rate_limit_of(headers) == RateLimit(180, 0, None, 1790000060.0)

    def test_no_headers_means_unlimited(self) -> None:
        assert rate_limit_of({}) is None

    @pytest.mark.parametrize(
        ("headers", "retry_at"),
        [
            ({"retry-after": "120"}, NOW + 120),
            ({"retry-after": "Mon, 21 Sep 2026 15:13:20 GMT"}, NOW + 3600),
            ({"x-retry-after": "1790000300"}, 1790000300.0),
            ({"x-ratelimit-reset": "1790000030"}, 1790000030.0),
            ({"retry-after": "soon"}, None),
            ({}, None),
        ],
    )
    def test_retry_after(self, headers: dict[str, str], retry_at: float | None) -> None:
        assert retry_at_of(headers, NOW) == retry_at


class TestLinks:
    CURRENT = "https://ghcr.io/v2/a/b/tags/list?n=100"

    @pytest.mark.parametrize(
        ("values", "expected"),
        [
            (
                ['</v2/a/b/tags/list?last=1.9&n=100>; rel="next"'],
                "https://ghcr.io/v2/a/b/tags/list?last=1.9&n=100",
            ),
            (
                ["<https://ghcr.io/v2/a/b/tags/list?last=x>; rel=next"],
                "https://ghcr.io/v2/a/b/tags/list?last=x",
            ),
            (['<https://x/prev>; rel="prev", </v2/next>; rel="next"'], "https://ghcr.io/v2/next"),
            (['</v2/other>; rel="prev"'], None),
            ([], None),
        ],
    )
    def test_next(self, values: list[str], expected: str | None) -> None:
        assert next_link(values, self.CURRENT) == expected


def test_the_platform_manifest_skips_attestations() -> None:
    amd = "sha256:" + "a" * 64
    arm = "sha256:" + "b" * 64
    attestation = "sha256:" + "c" * 64
    index = {
        "manifests": [
            {"digest": attestation, "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": arm, "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": amd, "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    }
    assert platform_manifest(index) == amd
    index["manifests"] = index["manifests"][:2]
    assert platform_manifest(index) == arm
    assert platform_manifest({"manifests": [{"digest": "sha256:short"}]}) is None
