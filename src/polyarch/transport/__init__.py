"""The transport floor: HTTP to registries, with auth, retries, TLS choices and error mapping.

Everything above it talks to registries through
:class:`~polyarch.transport.client.RegistryClient`; nothing here knows about manifests or
images. Modules: the client (:mod:`.client`), its settings (:mod:`.settings`), TLS
(:mod:`.tls`), registry URLs (:mod:`.urls`), how long and how often a failure is tried
again (:mod:`.retry`), body progress deadlines (:mod:`.deadline`), error mapping
(:mod:`.errors`), secret masking (:mod:`.masking`), request counts (:mod:`.stats`), and
who the user is to a registry (:mod:`.auth`: credentials, challenges, tokens, scopes,
the auth flow).
"""
