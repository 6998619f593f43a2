"""Security: who signed a build, bundles only their recipients open, and nothing loaded unverified.

``keys`` makes and reads keys (OpenSSH Ed25519 signing keys, age identities and
recipients); ``provenance`` writes the in-toto Statement with its SLSA
Provenance predicate and signs it in a DSSE envelope; ``signing`` is the sign
stage, the image's attestation after the push and `invoke ci.verify`;
``trust`` verifies and decrypts, standalone, so the image's app runs the same
checks. The extra to install: ``pip install 'dsci[security]'``.
"""
