# The tinymodels builder image: CPU torch, the optional model libraries and the package.
#
#   docker build --build-arg TORCH_INDEX_URL=<PyTorch CPU index> .  # CPU-only torch (what CI does)
#   docker build --build-arg ALLOW_DEFAULT_TORCH_INDEX=true .       # torch from the default index (CUDA)
#   docker run --rm -v "$PWD/out:/out" tinymodels build bert -o /out
#
# scripts/offline-image-build.sh builds it with no daemon and no registry: it mounts a directory
# of local wheels at build time and passes PIP_FIND_LINKS and a smaller TORCH_SPEC.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# git: actions/checkout and create-pull-request run inside this image in CI;
# zstd: actions/cache compresses with it (else its keys differ from host runners').
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git zstd \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# torch first, in its own layer: it is the biggest and changes least often. The layer depends on
# constraints/torch.txt alone, so editing constraints/ci.txt does not rebuild it.
# TORCH_INDEX_URL selects PyTorch's CPU wheel index; empty means the default index, whose torch is
# the multi-GB CUDA build, so it is refused unless ALLOW_DEFAULT_TORCH_INDEX=true says it is meant.
# TORCH_SPEC empty installs the pins of torch.txt; a spec replaces them (the offline smoke build passes
# its local wheel's version); PIP_FIND_LINKS (read by pip) adds local wheels.
ARG TORCH_SPEC=""
ARG TORCH_INDEX_URL=""
ARG ALLOW_DEFAULT_TORCH_INDEX=false
ARG PIP_FIND_LINKS=""
COPY constraints/torch.txt /tmp/torch-requirements.txt
# hadolint ignore=DL3013,SC2086
RUN if [ -z "$TORCH_INDEX_URL" ] && [ "$ALLOW_DEFAULT_TORCH_INDEX" != true ]; then \
        echo "error: build-arg TORCH_INDEX_URL is empty: set it to PyTorch's CPU wheel index (CI: the TORCH_INDEX_URL repository variable), or pass ALLOW_DEFAULT_TORCH_INDEX=true to install the default index's CUDA torch on purpose" >&2; \
        exit 1; \
    fi \
    && pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} \
        ${TORCH_SPEC:--r /tmp/torch-requirements.txt} \
    && pip freeze | grep -E '^torch(vision)?==' > /tmp/torch-installed.txt

# Dependencies next, from pyproject.toml alone (with a stub package), so that a source change only
# reinstalls tinymodels itself. They include the optional libraries some architectures need
# (timm, scipy, sentencepiece…).
# WITH_TORCHVISION=false drops torchvision again: the offline smoke build has a CPU torch wheel but
# no matching CPU torchvision (the default index's one needs CUDA torch and breaks the image utilities
# of transformers). transformers runs without it, minus the torchvision-backed image processors.
ARG WITH_TORCHVISION=true
COPY constraints/ci.txt /tmp/ci-constraints.txt
COPY pyproject.toml README.md /tmp/src/
# Constrained to the torch installed above plus the rest of the tested set.
RUN { cat /tmp/torch-installed.txt; grep -vE '^torch(vision)?==' /tmp/ci-constraints.txt; } > /tmp/constraints.txt \
    && mkdir -p /tmp/src/src/tinymodels && touch /tmp/src/src/tinymodels/__init__.py \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt "/tmp/src[models]" \
    && pip uninstall --yes tinymodels \
    && if [ "$WITH_TORCHVISION" != true ]; then pip uninstall --yes torchvision; fi \
    && rm -rf /tmp/src

COPY . /tmp/src
RUN pip install --no-cache-dir --no-deps /tmp/src \
    && rm -rf /tmp/src /tmp/*constraints.txt /tmp/torch-requirements.txt /tmp/torch-installed.txt \
    && python -c "import torch; from transformers import AutoImageProcessor, AutoModel, AutoTokenizer" \
    && tinymodels --version

# uid 1001 is the GitHub-hosted runner's user, so files written to the mounted workspace stay usable.
RUN useradd --uid 1001 --create-home --shell /bin/bash tinymodels
USER 1001
WORKDIR /home/tinymodels

# Static OCI labels; CI adds revision, created and source (docker/metadata-action).
LABEL org.opencontainers.image.title="tinymodels" \
      org.opencontainers.image.description="Builds tiny random Hugging Face transformers checkpoints, offline" \
      org.opencontainers.image.licenses="Apache-2.0"

ENTRYPOINT ["tinymodels"]
CMD ["--help"]
