"""Bake: the definition ``docker buildx bake --print`` resolves (:mod:`.definition`), and its
targets as the release's variants (:mod:`.variants`)."""
