"""Client authentication: every call under /cds-services carries a JWT we verify.

``install_auth(app)`` reads the settings (service/auth/settings.py), checks the trust
file, and registers the before/after-request checks. Preflight ``OPTIONS`` requests are
never checked (browsers send them without credentials); service/web/cors.py answers them.
"""

from __future__ import annotations

from service.auth.trust import TrustConfigError
from service.web.token_checks import install_auth

__all__ = ["TrustConfigError", "install_auth"]
