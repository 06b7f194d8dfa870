"""Who the user is to a registry: credentials, challenges, tokens, scopes and the auth flow.

Where credentials come from (:mod:`.credentials`: flags, the environment, Docker's
``config.json`` and its credential helpers), what a registry asks for
(:mod:`.challenge`), the token service conversation (:mod:`.tokens`), the token scopes a
request needs (:mod:`.scopes`), and the httpx auth flow that ties them together
(:mod:`.flow`).
"""
