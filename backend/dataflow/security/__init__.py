"""Who may do what: users, API tokens and sessions, roles, and the identity behind each call."""

from dataflow.security.access import (
    AccessDenied,
    AccessStore,
    Identity,
    IssuedToken,
    TokenInfo,
    UserExists,
    UserInfo,
    UserNotFound,
)
from dataflow.security.roles import ROLES, Role, allows, below

__all__ = [
    "ROLES",
    "AccessDenied",
    "AccessStore",
    "Identity",
    "IssuedToken",
    "Role",
    "TokenInfo",
    "UserExists",
    "UserInfo",
    "UserNotFound",
    "allows",
    "below",
]
