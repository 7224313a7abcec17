"""Settings refuse unsafe values; APP_ENV relaxes only the issuer scheme and the dev backend."""

from __future__ import annotations

import pytest
from pydantic import ValidationError


def test_production_refuses_the_dev_secrets_backend(make_settings) -> None:
    with pytest.raises(ValidationError, match="APP_SECRETS_BACKEND=dev is refused"):
        make_settings(env="production", base_url="https://app.example.com")


def test_production_requires_https_base_url(make_settings) -> None:
    with pytest.raises(ValidationError, match="APP_BASE_URL must be https"):
        make_settings(env="production", secrets_backend="vault", base_url="http://app.example.com")


def test_production_refuses_a_payment_api_override(make_settings) -> None:
    with pytest.raises(ValidationError, match="development and tests only"):
        make_settings(
            env="production",
            secrets_backend="vault",
            base_url="https://app.example.com",
            payment_api_base="http://127.0.0.1:9999",
        )


@pytest.mark.parametrize("issuer", ["http://idp.example.com", "ftp://127.0.0.1"])
def test_http_issuer_is_refused_off_loopback(make_settings, issuer: str) -> None:
    with pytest.raises(ValidationError, match="APP_OIDC_ISSUER must be https"):
        make_settings(oidc_issuer=issuer)


def test_loopback_http_issuer_is_accepted_outside_production(make_settings) -> None:
    assert make_settings(oidc_issuer="http://127.0.0.1:9000").oidc_issuer == "http://127.0.0.1:9000"
    with pytest.raises(ValidationError, match="must be https in production"):
        make_settings(
            env="production",
            secrets_backend="vault",
            base_url="https://a.example.com",
            oidc_issuer="http://127.0.0.1:9000",
        )


def test_audit_events_leave_production_over_tls_only(make_settings) -> None:
    """syslog+tcp would carry actors, addresses and justifications in clear text."""
    assert make_settings(siem_url="syslog+tcp://127.0.0.1:514").siem_url == "syslog+tcp://127.0.0.1:514"
    assert make_settings(siem_url="syslog+tls://siem.example.com:6514").siem_url.startswith("syslog+tls://")
    # The rule alone: a production Settings fails other checks first in a test environment.
    production = make_settings().model_copy(update={"env": "production"})
    assert production.model_copy(update={"siem_url": "syslog+tls://siem.example.com:6514"})._audit_sink_scheme()
    with pytest.raises(ValueError, match=r"^APP_SIEM_URL must be https://\.\.\. or syslog\+tls://host:port$"):
        production.model_copy(update={"siem_url": "syslog+tcp://siem.example.com:514"})._audit_sink_scheme()


def test_trusted_proxies_accept_a_comma_list_and_reject_garbage(make_settings) -> None:
    assert make_settings(trusted_proxies="10.0.0.1, 10.0.1.0/24").trusted_proxies == ["10.0.0.1", "10.0.1.0/24"]
    with pytest.raises(ValidationError):
        make_settings(trusted_proxies="not-an-address")


@pytest.mark.parametrize("value", ["10", "0/minute", "10/fortnight", "ten/minute"])
def test_login_rate_limit_shape_is_validated(make_settings, value: str) -> None:
    with pytest.raises(ValidationError, match="N/minute"):
        make_settings(login_rate_limit=value)


def test_the_hard_login_cap_must_allow_at_least_the_soft_limit(make_settings) -> None:
    """A cap below the soft limit would answer 429 where a challenge should have been asked for."""
    assert make_settings(login_rate_limit="10/minute", login_rate_limit_hard="600/hour").login_rate_limit_hard
    with pytest.raises(ValidationError, match="APP_LOGIN_RATE_LIMIT_HARD"):
        make_settings(login_rate_limit="10/minute", login_rate_limit_hard="5/minute")
    with pytest.raises(ValidationError, match="N/minute"):
        make_settings(login_rate_limit_hard="lots")


def test_database_urls_select_psycopg(make_settings) -> None:
    settings = make_settings(database_url="postgresql://app@db.internal:5432/app")
    assert settings.sqlalchemy_database_url == "postgresql+psycopg://app@db.internal:5432/app"
