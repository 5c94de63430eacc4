// docker buildx bake            -> both images, linux/amd64 + linux/arm64, SBOM + provenance
// docker buildx bake sidecar    -> the daemon alone
// IMAGE=registry.example/acme/opk-signer TAG=v0.1.0 docker buildx bake --push

variable "IMAGE" {
  default = "opk-signer"
}

variable "TAG" {
  default = "dev"
}

variable "NODE_VERSION" {
  default = "20.20"
}

variable "BUILDKIT_VERSION" {
  default = "v0.32.2"
}

group "default" {
  targets = ["sidecar", "buildkit"]
}

// Shared by both images: every platform we ship, with an SBOM and max-mode SLSA provenance
// attached to each image index.
target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  platforms  = ["linux/amd64", "linux/arm64"]
  attest = [
    "type=sbom",
    "type=provenance,mode=max",
  ]
  args = {
    NODE_VERSION     = NODE_VERSION
    BUILDKIT_VERSION = BUILDKIT_VERSION
  }
  labels = {
    "org.opencontainers.image.version" = TAG
  }
}

target "sidecar" {
  inherits = ["_common"]
  target   = "sidecar"
  tags     = ["${IMAGE}:${TAG}"]
}

target "buildkit" {
  inherits = ["_common"]
  target   = "buildkit"
  tags     = ["${IMAGE}:buildkit-${TAG}"]
}
