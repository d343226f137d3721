"""The ``BotFrameworkAuthentication`` that ``CloudAdapter`` uses: inbound JWTs from ``tokens``, outbound
connector clients with ``credentials``. The only place that binds our auth to botbuilder's adapter, so the
adapter can be swapped (Microsoft 365 Agents SDK) without touching anything else.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.auth._connector_factory_impl import _ConnectorFactoryImpl

from bots.teams.tokens import TokenValidator
from core.errors import AuthError

SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE


class TeamsAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    def __init__(self, validator: TokenValidator, credentials: ServiceClientCredentialsFactory) -> None:
        self._validator = validator
        self._credentials = credentials

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        claims = await self._validator.validate(
            auth_header or "", str(activity.channel_id or ""), str(activity.service_url or "")
        )
        return self.authenticated(claims)

    def authenticated(self, claims: dict[str, Any]) -> AuthenticateRequestResult:
        """The result for claims that were validated already: by ``authenticate_request``, or by the web
        process that received the activity and handed its turn to a worker through the job queue."""
        identity = ClaimsIdentity(claims, True, "Bearer")
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = SCOPE
        result.caller_id = None
        result.connector_factory = self.create_connector_factory(identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        raise AuthError("streaming is not supported")

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _ConnectorFactoryImpl(
            app_id=self._validator.app_id,
            to_channel_from_bot_oauth_scope=SCOPE,
            login_endpoint=AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
            validate_authority=True,
            credential_factory=self._credentials,
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient | None:
        return None  # no user sign-in (OAuth cards) in this bot
