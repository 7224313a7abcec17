"""Typed errors of the application core.

The web adapter maps each to an HTTP status in one place; the core never
builds HTTP responses itself. Messages are safe to show to a client: they
never carry SQL, stack traces or secret values.
"""

from __future__ import annotations

from collections.abc import Mapping


class AppError(Exception):
    """Root of every error the application raises on purpose."""

    code = "app_error"


class ConfigurationError(AppError):
    """The process is configured unsafely or incompletely and must not run."""

    code = "configuration_error"


class MissingSecretError(ConfigurationError):
    """One or more secrets the app needs are not in the secrets backend (names only, never values)."""

    code = "missing_secret"

    def __init__(self, name: str | tuple[str, ...], backend: str) -> None:
        names = (name,) if isinstance(name, str) else tuple(name)
        listed = ", ".join(repr(item) for item in names)
        if len(names) == 1:
            message = f"secret {listed} is missing from the {backend} secrets backend"
        else:
            message = f"secrets {listed} are missing from the {backend} secrets backend"
        super().__init__(message)
        self.name = names[0]
        self.names = names


class UnsafeDatabaseRoleError(ConfigurationError):
    """The runtime database role could bypass row-level security or the audit log."""

    code = "unsafe_database_role"


class RateLimitedError(AppError):
    """Too many attempts from this address, on this account, or in total; retry later."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} seconds")
        self.retry_after = retry_after


class ChallengeRequiredError(AppError):
    """Recent failures, or a flood, call for a solved bot challenge before another attempt.

    `challenge` is what the client needs to solve one (security/bot_challenge.py), shown to it as is.
    """

    code = "challenge_required"

    def __init__(
        self,
        detail: str = "solve the bot challenge and retry with its token",
        *,
        challenge: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.challenge = dict(challenge or {})


class StepUpRequiredError(AppError):
    """The action needs a fresh WebAuthn assertion from this session's device."""

    code = "step_up_required"

    def __init__(self, detail: str = "confirm with your security key (WebAuthn step-up) and retry") -> None:
        super().__init__(detail)


class DeviceMismatchError(StepUpRequiredError):
    """The request lacks the device key bound to the session at login (e.g. a replayed cookie)."""

    code = "device_mismatch"

    def __init__(self) -> None:
        super().__init__("this session is bound to another device; sign in again on this device")


class EnrolmentGrantRequiredError(StepUpRequiredError):
    """A first security key without MFA at sign-in needs an administrator's enrolment grant."""

    code = "enrolment_grant_required"

    def __init__(self) -> None:
        super().__init__(
            "your sign-in proved one factor: ask an administrator to grant you a security-key enrolment, "
            "then sign in again and enrol the key"
        )


class WebAuthnError(AppError):
    """A WebAuthn ceremony failed; `reason` (for logs) names the failed check, never key material."""

    code = "webauthn_failed"

    def __init__(self, detail: str = "the security key's response could not be verified", *, reason: str = "") -> None:
        super().__init__(detail)
        self.reason = reason or detail


class ChallengeExpiredError(WebAuthnError):
    """No unused WebAuthn challenge is pending for this session (expired, replayed or never issued)."""

    code = "webauthn_challenge_invalid"

    def __init__(self) -> None:
        super().__init__("the WebAuthn challenge is unknown, expired or already used; request new options")


class NoCredentialRegisteredError(WebAuthnError):
    """Step-up needs a registered security key and the caller has none."""

    code = "webauthn_not_registered"

    def __init__(self) -> None:
        super().__init__("register a security key first")


class CredentialAlreadyRegisteredError(WebAuthnError):
    """A credential id can belong to one account only."""

    code = "webauthn_already_registered"

    def __init__(self) -> None:
        super().__init__("this security key is already registered")


class UnknownCredentialError(WebAuthnError):
    """The assertion names a credential this account never registered."""

    code = "webauthn_unknown_credential"

    def __init__(self) -> None:
        super().__init__("this security key is not registered to your account")


class SignCountRegressionError(WebAuthnError):
    """The authenticator's counter went backwards: a cloned key or a replayed assertion."""

    code = "webauthn_sign_count_regression"

    def __init__(self) -> None:
        super().__init__("the security key's signature counter went backwards; the key may be cloned")


class TenantError(AppError):
    """The caller's tenant cannot be served; raised before any tenant data is touched."""

    code = "tenant_error"


class MissingTenantError(TenantError):
    """The validated token carries no tenant, so there is no data the caller may see."""

    code = "tenant_required"

    def __init__(self) -> None:
        super().__init__("your sign-in carries no tenant; ask an administrator to assign one")


class InvalidTenantError(TenantError):
    """A tenant id outside the allow-list (it would name a schema, a database or a key)."""

    code = "tenant_invalid"

    def __init__(self) -> None:
        super().__init__("the tenant id is not acceptable (letters, digits, '.', '_' and '-'; at most 64)")


class TenantNotProvisionedError(TenantError):
    """The tenant has no schema / database yet, or it was deprovisioned."""

    code = "tenant_not_provisioned"

    def __init__(self) -> None:
        super().__init__("this tenant is not provisioned")


class TenantSuspendedError(TenantError):
    """The vendor suspended the tenant (`tenants suspend`): its users, sessions and tokens are refused."""

    code = "tenant_suspended"

    def __init__(self) -> None:
        super().__init__("your organisation's access is suspended; contact the service provider")


class TenantDeletedError(TenantNotProvisionedError):
    """The tenant was offboarded (`tenants delete`): nothing of it is served again."""

    code = "tenant_deleted"

    def __init__(self) -> None:
        TenantError.__init__(self, "your organisation's account was closed")


class TenantLifecycleError(TenantError):
    """An operator's lifecycle command cannot apply to the tenant as it is (e.g. reactivating a deleted one)."""

    code = "tenant_lifecycle"


class TenantStorageConflictError(TenantLifecycleError):
    """Provisioning would adopt a schema or database that is not this tenant's: refused, nothing adopted.

    Raised when the tenant's schema / database already exists but the registry
    does not record it as this tenant's, or when the registry records that name
    for another tenant id (a hash collision, or a forged row).
    """

    code = "tenant_storage_conflict"


class NotFoundError(AppError):
    """The record does not exist for this caller (another tenant's record looks exactly the same)."""

    code = "not_found"


class KeyManagementError(AppError):
    """A data key could not be created, unwrapped or used; the message never carries key material."""

    code = "key_management_error"


class DecryptionError(KeyManagementError):
    """A ciphertext failed authentication: wrong tenant, wrong column, tampered, or an unknown key."""

    code = "decryption_failed"
