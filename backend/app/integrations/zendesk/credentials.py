"""Zendesk account addressing and credentials."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ZendeskCredentials:
    """API token (Basic `{email}/token:{api_token}`) or OAuth token (Bearer, preferred if set)."""

    email: str
    api_token: str = field(default="", repr=False)
    oauth_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.oauth_token and not (self.email and self.api_token):
            raise ValueError("Zendesk credentials need an email and API token, or an OAuth token")

    def fingerprint(self) -> str:
        """A stable, non-reversible id for this credential set (cache keys, logs)."""
        material = f"{self.email}\0{self.api_token}\0{self.oauth_token or ''}"
        return hashlib.sha256(material.encode()).hexdigest()[:16]


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def zendesk_base_url(subdomain_or_url: str) -> str:
    """`acme` → `https://acme.zendesk.com`; a URL is kept (no trailing slash or `/api/v2`)."""
    value = subdomain_or_url.strip()
    if not value:
        raise ValueError("Zendesk subdomain or URL is empty")
    if any(character.isspace() for character in value):
        raise ValueError("Zendesk URL must not contain spaces")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("Zendesk URL must be http(s)://host")
        if parts.username or parts.password or parts.query or parts.fragment:
            # Credentials in a URL would be stored and shown in the clear: they go in
            # zendesk_email and zendesk_api_token.
            raise ValueError("Zendesk URL must not contain credentials, a query or a fragment")
        if not all(_SUBDOMAIN_RE.match(label) for label in parts.hostname.split(".")) and not (
            _is_ip_address(parts.hostname)
        ):
            raise ValueError(f"Zendesk host {parts.hostname!r} is not a valid host name")
        path = parts.path.rstrip("/")
        path = path.removesuffix("/api/v2").rstrip("/")
        return f"{parts.scheme}://{parts.netloc}{path}"
    host = value.rstrip("/").lower()
    if "." in host:
        if not all(_SUBDOMAIN_RE.match(label) for label in host.split(".")):
            raise ValueError(f"Zendesk host {value!r} is not a valid host name")
        return f"https://{host}"
    if not _SUBDOMAIN_RE.match(host):
        raise ValueError(
            f"Zendesk subdomain {value!r} is not valid: use letters, digits and inner hyphens "
            "(the 'acme' of acme.zendesk.com)"
        )
    return f"https://{host}.zendesk.com"
