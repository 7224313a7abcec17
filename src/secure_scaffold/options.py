"""The one definition of every choice the generator offers, and what each implies.

`copier.yml` repeats these ids because plain ``copier copy`` must work without
this package installed; ``tests/test_options_agree.py`` fails the build the
moment the two disagree. Everything else (CLI help, docs, preflight, profiles)
imports from here.
"""

from __future__ import annotations

import keyword
import sys
from dataclasses import dataclass

__all__ = [
    "CHOICE_QUESTIONS",
    "COMPLIANCE",
    "GENERATED_IMPORT_NAMES",
    "IDPS",
    "RESERVED_PACKAGE_NAMES",
    "ROLES",
    "Choice",
    "IdpPreset",
    "available_ids",
    "idp_preset",
]


@dataclass(frozen=True)
class Choice:
    """One answer to a choice question.

    Attributes:
        id: the value stored in `.copier-answers.yml`; never renamed once released.
        label: what the prompt shows.
        available: False for choices announced in DESIGN but not generated yet;
            they are never offered, so no answer produces a half-built project.
    """

    id: str
    label: str
    available: bool = True


@dataclass(frozen=True)
class IdpPreset:
    """Where an identity provider puts the facts the app needs in its tokens.

    Attributes:
        id: the `idp` answer.
        label: the prompt label.
        issuer_example: an issuer URL of the right shape, for docs and prompts.
        roles_claim: dotted path of the roles list in the ID token.
        tenant_claim: dotted path of the tenant id in the ID token.
        attribute_prefix: what the IdP puts before the ABAC attribute names
            (`department`, `region`) in its tokens: Auth0's claim namespace,
            Cognito's `custom:`, Entra's `extn.` for directory extensions.
        mfa_claim: the claim that carries authentication-method evidence (RFC 8176 `amr`).
        mfa_acr_values: `acr` values the IdP documents as "two factors were used";
            MFA is otherwise `mfa` in `amr` or two distinct kinds of factor there.
        mfa_in_id_token: False for IdPs whose ID tokens carry no MFA evidence at all
            (Cognito user pools, Entra v2, Google): such projects get the second
            factor from WebAuthn in the app instead of locking privileged users out.
        bearer_rule: how a bearer token is recognised as an access token for
            this API rather than an ID token: `rfc9068` (`typ: at+jwt`), `audience`
            (a distinct API audience), `keycloak` (`typ` claim `Bearer`), `cognito`
            (`token_use: access` + `client_id`), or `none` (no JWT access tokens).
        api_audience: the API audience access tokens carry ("" = the client id, or
            not known until the API is registered).
        terraform_provider: registry source of the IdP's Terraform provider, or
            "" when the IdP has none and registration is a documented manual step.
    """

    id: str
    label: str
    issuer_example: str
    roles_claim: str
    tenant_claim: str
    attribute_prefix: str
    mfa_claim: str
    mfa_acr_values: tuple[str, ...]
    mfa_in_id_token: bool
    bearer_rule: str
    api_audience: str
    terraform_provider: str
    available: bool = True

    def claim(self, domain: str, template: str) -> str:
        """Resolve `{domain}` in a namespaced claim (Auth0 requires URL namespaces)."""
        return template.replace("{domain}", domain)


#: Auth0 puts this `acr` in the ID token when the login passed MFA (and `amr: ["mfa"]`).
AUTH0_MFA_ACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
#: Okta's "any two factors". Not `...:2fa:any:ifpossible` (one factor when the user has no
#: second), nor `phr`/`phrh` (phishing-resistant possession, which may be a single factor).
OKTA_MFA_ACR = "urn:okta:loa:2fa:any"

IDPS: tuple[IdpPreset, ...] = (
    IdpPreset(
        id="auth0",
        label="Auth0",
        issuer_example="https://YOUR_TENANT.eu.auth0.com/",
        roles_claim="https://{domain}/roles",
        tenant_claim="https://{domain}/tenant",
        attribute_prefix="https://{domain}/",
        mfa_claim="amr",
        mfa_acr_values=(AUTH0_MFA_ACR,),
        mfa_in_id_token=True,
        bearer_rule="audience",
        api_audience="https://{domain}/api",
        terraform_provider="auth0/auth0",
    ),
    IdpPreset(
        id="okta",
        label="Okta",
        issuer_example="https://YOUR_ORG.okta.com/oauth2/default",
        roles_claim="groups",
        tenant_claim="tenant",
        attribute_prefix="",
        mfa_claim="amr",
        mfa_acr_values=(OKTA_MFA_ACR,),
        mfa_in_id_token=True,
        bearer_rule="audience",
        api_audience="api://default",
        terraform_provider="okta/okta",
    ),
    IdpPreset(
        id="entra",
        label="Microsoft Entra ID",
        issuer_example="https://login.microsoftonline.com/YOUR_TENANT_ID/v2.0",
        roles_claim="roles",
        tenant_claim="tid",
        attribute_prefix="extn.",
        mfa_claim="amr",
        mfa_acr_values=(),
        mfa_in_id_token=False,
        bearer_rule="audience",
        api_audience="",
        terraform_provider="hashicorp/azuread",
    ),
    IdpPreset(
        id="keycloak",
        label="Keycloak",
        issuer_example="https://sso.example.com/realms/YOUR_REALM",
        roles_claim="realm_access.roles",
        tenant_claim="tenant",
        attribute_prefix="",
        mfa_claim="amr",
        mfa_acr_values=(),
        mfa_in_id_token=True,
        bearer_rule="keycloak",
        api_audience="",
        terraform_provider="keycloak/keycloak",
    ),
    IdpPreset(
        id="cognito",
        label="Amazon Cognito",
        issuer_example="https://cognito-idp.eu-west-1.amazonaws.com/YOUR_POOL_ID",
        roles_claim="cognito:groups",
        tenant_claim="custom:tenant",
        attribute_prefix="custom:",
        mfa_claim="amr",
        mfa_acr_values=(),
        mfa_in_id_token=False,
        bearer_rule="cognito",
        api_audience="",
        terraform_provider="hashicorp/aws",
    ),
    IdpPreset(
        id="google",
        label="Google Workspace",
        issuer_example="https://accounts.google.com",
        roles_claim="roles",
        tenant_claim="hd",
        attribute_prefix="",
        mfa_claim="amr",
        mfa_acr_values=(),
        mfa_in_id_token=False,
        bearer_rule="none",
        api_audience="",
        terraform_provider="",
    ),
    IdpPreset(
        id="generic_oidc",
        label="Any OpenID Connect provider",
        issuer_example="https://idp.example.com",
        roles_claim="roles",
        tenant_claim="tenant",
        attribute_prefix="",
        mfa_claim="amr",
        mfa_acr_values=(),
        mfa_in_id_token=True,
        bearer_rule="rfc9068",
        api_audience="",
        terraform_provider="",
    ),
)

FRAMEWORKS: tuple[Choice, ...] = (
    Choice("fastapi", "FastAPI"),
    Choice("django", "Django", available=False),
    Choice("flask", "Flask", available=False),
)
PAYMENT_PROVIDERS: tuple[Choice, ...] = (
    Choice("stripe", "Stripe"),
    Choice("adyen", "Adyen"),
    Choice("braintree", "Braintree"),
    Choice("paddle", "Paddle"),
    Choice("none", "No billing"),
)
TENANCY_MODELS: tuple[Choice, ...] = (
    Choice("single", "Single tenant"),
    Choice("pooled", "Pooled tables with Postgres row-level security"),
    Choice("schema", "One Postgres schema per tenant"),
    Choice("silo", "One database per tenant"),
)
CLOUDS: tuple[Choice, ...] = (
    Choice("aws", "AWS"),
    Choice("gcp", "Google Cloud", available=False),
    Choice("azure", "Azure", available=False),
)
SECRETS_BACKENDS: tuple[Choice, ...] = (
    Choice("vault", "HashiCorp Vault"),
    Choice("cloud", "The cloud's secret manager"),
)
CI_SYSTEMS: tuple[Choice, ...] = (
    Choice("github", "GitHub Actions"),
    Choice("gitlab", "GitLab CI", available=False),
)
POLICY_ENGINES: tuple[Choice, ...] = (
    Choice("casbin", "Casbin (embedded)"),
    Choice("opa", "Open Policy Agent"),
)
COMPLIANCE: tuple[Choice, ...] = (
    Choice("soc2", "SOC 2"),
    Choice("pci_saq_a", "PCI-DSS SAQ A"),
    Choice("gdpr", "GDPR"),
    Choice("hipaa", "HIPAA"),
)

#: Every single-choice question, by its name in copier.yml.
CHOICE_QUESTIONS: dict[str, tuple[Choice, ...] | tuple[IdpPreset, ...]] = {
    "framework": FRAMEWORKS,
    "idp": IDPS,
    "payment_provider": PAYMENT_PROVIDERS,
    "tenancy": TENANCY_MODELS,
    "cloud": CLOUDS,
    "secrets_backend": SECRETS_BACKENDS,
    "ci": CI_SYSTEMS,
    "policy_engine": POLICY_ENGINES,
}

#: The roles every generated project knows (DESIGN section 5).
ROLES: tuple[str, ...] = ("viewer", "member", "finance", "admin", "auditor")

#: Top-level import names of the generated projects' dependencies. A package
#: named like one of them would shadow it, so it is reserved.
GENERATED_IMPORT_NAMES: frozenset[str] = frozenset(
    {
        "alembic", "anyio", "authlib", "casbin", "click", "cryptography",
        "fastapi", "h11", "httpx", "hvac", "jinja2", "psycopg", "pydantic",
        "pydantic_core", "pydantic_settings", "pytest", "redis", "sqlalchemy",
        "starlette", "structlog", "uvicorn", "webauthn", "yaml", "stripe",
        "braintree", "paddle_billing", "boto3", "botocore", "fpdf",
    }
)  # fmt: skip

#: Names a generated package must not take: keywords, the standard library,
#: dependencies, and names with a fixed meaning in the generated layout.
RESERVED_PACKAGE_NAMES: frozenset[str] = frozenset(
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | {name for name in sys.stdlib_module_names if not name.startswith("_")}
    | GENERATED_IMPORT_NAMES
    | {"src", "test", "tests", "docs", "infra", "policy", "secure_scaffold"}
)


def available_ids(question: str) -> list[str]:
    """The ids a user may answer to `question`, in prompt order."""
    return [choice.id for choice in CHOICE_QUESTIONS[question] if choice.available]


def idp_preset(idp_id: str) -> IdpPreset:
    """Look up an IdP preset; a KeyError names the valid ids."""
    for preset in IDPS:
        if preset.id == idp_id:
            return preset
    raise KeyError(f"unknown idp {idp_id!r}; expected one of {available_ids('idp')}")
