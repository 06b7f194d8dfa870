# The seeds' metrics-api as a Bake file: one target per codebase (tests/unit/test_bake.py).
variable "TAG" { default = "v2.0.0" }

group "default" { targets = ["api-amd64", "api-arm64"] }

target "_common" {
  labels = { "org.opencontainers.image.vendor" = "seeds" }
  args = { BUILD_DATE = "2024" }
}

target "api-amd64" {
  inherits = ["_common"]
  context = "app-amd64"
  platforms = ["linux/amd64"]
  tags = ["registry.example.com/metrics-api:${TAG}-amd64"]
  secret = ["id=npmrc,src=npmrc", "id=token,env=GH_TOKEN"]
  ssh = ["default"]
  cache-from = ["type=local,src=cache/amd64"]
  cache-to = ["type=local,dest=cache/amd64,mode=max"]
  contexts = { shared = "shared", base = "docker-image://registry.example.com/base:1" }
  attest = ["type=provenance,mode=max", "type=sbom"]
  no-cache = true
  pull = true
  output = ["type=image,push=true"]
}

target "api-arm64" {
  inherits = ["_common"]
  context = "app-arm64"
  dockerfile = "docker/prod.Dockerfile"
  target = "runtime"
  platforms = ["linux/arm64", "linux/arm/v7"]
  args = { PYTHON_ENV = "production", WORKERS = 4 }
  attest = ["type=provenance,disabled=true"]
}

target "inline" {
  dockerfile-inline = "FROM scratch"
  platforms = ["linux/amd64"]
}

target "shm" {
  context = "app-amd64"
  platforms = ["linux/amd64"]
  shm-size = "128m"
}

target "chained" {
  context = "app-amd64"
  platforms = ["linux/amd64"]
  contexts = { base = "target:api-amd64" }
}
