FROM scratch AS runtime
COPY prod.Dockerfile /
