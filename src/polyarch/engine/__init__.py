"""The engine floor: the local Docker engine and BuildKit, through their command-line tools.

Beside the transport floor (registries over HTTP), this is polyarch's other way out of the
process: running ``docker`` and ``docker buildx`` (:mod:`.process`), choosing and asking a
builder (:mod:`.builders`), and starting an image on its platform (:mod:`.runner`,
``verify --run``). It imports only the domain floor.
"""
