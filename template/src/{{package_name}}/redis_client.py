"""The Redis client, authenticated with short-lived IAM tokens on ElastiCache.

In AWS the cache has no password at all: its RBAC user authenticates with
IAM (infra/terraform/modules/redis), and every new connection presents a
SigV4-presigned token valid for 15 minutes, signed with the task role's
credentials. Locally (`APP_REDIS_IAM_*` unset) the URL alone is used.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from redis import Redis
from redis.credentials import CredentialProvider

from .config import Settings
from .errors import ConfigurationError
from .secrets.cache import TtlCache

#: ElastiCache accepts a token for 15 minutes; a fresh one is signed well before that.
TOKEN_LIFETIME_SECONDS = 900
TOKEN_REUSE_SECONDS = 600


class ElastiCacheIamCredentials(CredentialProvider):
    """(user, token) for `AUTH`: the token is a presigned `connect` request for this cache and user."""

    def __init__(self, user_id: str, cache_name: str, region: str, *, credentials: Any = None) -> None:
        import botocore.session
        from botocore.model import ServiceId
        from botocore.signers import RequestSigner

        session = botocore.session.get_session()
        credentials = credentials or session.get_credentials()
        if credentials is None:
            raise ConfigurationError("ElastiCache IAM auth needs AWS credentials (the ECS task role); none found")
        self.user_id = user_id
        self.cache_name = cache_name
        self.region = region
        self._signer = RequestSigner(
            ServiceId("elasticache"), region, "elasticache", "v4", credentials, session.get_component("event_emitter")
        )
        self._token = TtlCache(self._sign, TOKEN_REUSE_SECONDS)

    def get_credentials(self) -> tuple[str, str]:
        return self.user_id, self._token.get()

    def _sign(self) -> str:
        query = urlencode({"Action": "connect", "User": self.user_id})
        request = {
            "method": "GET",
            "url": f"http://{self.cache_name}/?{query}",
            "body": {},
            "headers": {},
            "context": {},
        }
        signed = self._signer.generate_presigned_url(
            request, operation_name="connect", expires_in=TOKEN_LIFETIME_SECONDS, region_name=self.region
        )
        return signed.removeprefix("http://")


def build_redis(settings: Settings, *, credentials: Any = None) -> Redis:
    """Redis for sessions, rate limits and replay guards; IAM-authenticated when configured."""
    options: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2, "decode_responses": True}
    if bool(settings.redis_iam_user) != bool(settings.redis_iam_cache_name):
        raise ConfigurationError("set both APP_REDIS_IAM_USER and APP_REDIS_IAM_CACHE_NAME, or neither")
    if settings.redis_iam_user and settings.redis_iam_cache_name:
        if not settings.redis_url.startswith("rediss://"):
            raise ConfigurationError("ElastiCache IAM auth requires TLS: APP_REDIS_URL must start with rediss://")
        options["credential_provider"] = ElastiCacheIamCredentials(
            settings.redis_iam_user, settings.redis_iam_cache_name, settings.aws_region, credentials=credentials
        )
    return Redis.from_url(settings.redis_url, **options)
