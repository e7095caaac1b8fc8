"""oakallow: the Python SDK of the oakallow authorization layer for AI agents."""

from .client import AsyncClient, Client
from .errors import (
    ApprovalCancelled,
    ApprovalDenied,
    ApprovalExpired,
    ApprovalNotPending,
    ApprovalTimeout,
    Conflict,
    ForbiddenTier,
    GuardDisabled,
    GuardError,
    InsufficientCredits,
    Internal,
    InvalidParams,
    InvalidRequest,
    MethodNotAllowed,
    NotAuthorized,
    NotFound,
    OakallowError,
    PayloadTooLarge,
    RateLimited,
    TokenInvalid,
    TokenUsed,
    ToolDisabled,
    ToolNotFound,
    TransportError,
    Unauthenticated,
    Unavailable,
)
from .guard import AsyncGuard, Authorization, Guard
from .tokens import canonical_json, params_sha256, parse_token, verify_token_offline

__version__ = "0.1.0"

__all__ = [
    "ApprovalCancelled", "ApprovalDenied", "ApprovalExpired", "ApprovalNotPending", "ApprovalTimeout",
    "AsyncClient", "AsyncGuard", "Authorization", "Client", "Conflict", "ForbiddenTier", "Guard",
    "GuardDisabled", "GuardError", "InsufficientCredits", "Internal", "InvalidParams", "InvalidRequest",
    "MethodNotAllowed", "NotAuthorized", "NotFound", "OakallowError", "PayloadTooLarge", "RateLimited",
    "TokenInvalid", "TokenUsed", "ToolDisabled", "ToolNotFound", "TransportError", "Unauthenticated",
    "Unavailable", "canonical_json", "params_sha256", "parse_token", "verify_token_offline",
]
