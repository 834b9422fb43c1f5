"""Roles and what each may do; the logged-in user as a :class:`Principal`.

- ``platform-admin``: everything: every tenant's keys, usage and audit; models (promote,
  canary, rollback); checks (doctor, reports); console users (read).
- ``tenant-admin``: one tenant (``tenant``): its projects, keys (create, revoke, expiry),
  usage and audit records; reads the model registry; nothing of other tenants.
- ``auditor``: reads everything (every tenant's keys, usage, audit and its export, the
  hash-chain status, models, reports, users); changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from prai.errors import AdminForbidden, AdminUserError

PLATFORM_ADMIN = "platform-admin"
TENANT_ADMIN = "tenant-admin"
AUDITOR = "auditor"
ROLES = (PLATFORM_ADMIN, TENANT_ADMIN, AUDITOR)


def check_role(role: str, tenant: str | None) -> None:
    """A valid role / tenant pair: a tenant-admin has a tenant, the others none.

    Raises:
        AdminUserError: unknown role, tenant-admin without tenant, tenant on another role.
    """
    if role not in ROLES:
        raise AdminUserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == TENANT_ADMIN and not tenant:
        raise AdminUserError("a tenant-admin acts on one tenant", hint="add --tenant NAME")
    if role != TENANT_ADMIN and tenant:
        raise AdminUserError(f"--tenant applies to tenant-admin only, not {role}", hint="drop --tenant")


@dataclass(frozen=True)
class Principal:
    """Who makes a request.

    Attributes:
        username / role / tenant: the console user (``tenant`` for tenant-admins only).
        session: SHA-256 hex of the session token (for logout and password changes).
        must_change_password: logged in with a one-time password not yet replaced.
    """

    username: str
    role: str
    tenant: str | None
    session: str
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        """How the audit log and the model history name this user."""
        return f"{self.username} (console {self.role})"

    @property
    def sees_all_tenants(self) -> bool:
        return self.role in (PLATFORM_ADMIN, AUDITOR)

    def can_read_tenant(self, tenant: str | None) -> bool:
        """Whether records of ``tenant`` (None: platform records) are visible."""
        return self.sees_all_tenants or (tenant is not None and tenant == self.tenant)

    def tenant_filter(self, asked: str | None) -> str | None:
        """The tenant a query must be limited to: the asked one (checked), or a
        tenant-admin's own tenant when none was asked.

        Raises:
            AdminForbidden: a tenant-admin asked for another tenant.
        """
        if self.sees_all_tenants:
            return asked
        if asked is not None and asked != self.tenant:
            raise AdminForbidden(f"{self.username} is tenant-admin of {self.tenant}, not of {asked}")
        return self.tenant

    def require_read_tenant(self, tenant: str) -> None:
        """Raises AdminForbidden unless the user may read ``tenant``'s data."""
        if not self.can_read_tenant(tenant):
            raise AdminForbidden(f"{self.username} is tenant-admin of {self.tenant}, not of {tenant}")

    def require_write_tenant(self, tenant: str) -> None:
        """Raises AdminForbidden unless the user may change ``tenant``'s keys."""
        if self.role == PLATFORM_ADMIN:
            return
        if self.role == AUDITOR:
            raise AdminForbidden(f"{self.username} is an auditor: read-only")
        if tenant != self.tenant:
            raise AdminForbidden(f"{self.username} is tenant-admin of {self.tenant}, not of {tenant}")

    def require_platform_admin(self, what: str) -> None:
        """Raises AdminForbidden unless the user is a platform-admin."""
        if self.role != PLATFORM_ADMIN:
            raise AdminForbidden(f"{what} needs the platform-admin role ({self.username} is {self.role})")

    def require_all_tenants(self, what: str) -> None:
        """Raises AdminForbidden unless the user reads every tenant (platform-admin, auditor)."""
        if not self.sees_all_tenants:
            raise AdminForbidden(f"{what} is platform-wide: platform-admin or auditor only")


__all__ = ["AUDITOR", "PLATFORM_ADMIN", "ROLES", "TENANT_ADMIN", "Principal", "check_role"]
