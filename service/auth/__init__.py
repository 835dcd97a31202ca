"""Client authentication: every call under /cds-services carries a JWT we verify.

Verification without Flask: trust file (trust.py), keys (keys.py), the verifier
(verifier.py), the ``jti`` replay cache (replay.py), and the administrator credential
(admin_token.py). The web layer attaches them to requests (service/web/token_checks.py).
"""
