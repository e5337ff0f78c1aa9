# The tinymodels builder image: CPU torch, the optional model libraries and the package.
#
#   docker build -t tinymodels .                                    # torch from the default index
#   docker build --build-arg TORCH_INDEX_URL=<PyTorch CPU index> .  # CPU-only torch (what CI does)
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

# torch first, in its own layer: it is the biggest and changes least often.
# TORCH_SPEC defaults to the tested pair of constraints/ci.txt; TORCH_INDEX_URL (empty = the default
# index) selects a CPU-only build; PIP_FIND_LINKS (read by pip itself) points at local wheels.
ARG TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
ARG TORCH_INDEX_URL=""
ARG PIP_FIND_LINKS=""
COPY constraints/ci.txt /tmp/ci-constraints.txt
# The package install below is constrained to the torch installed here plus the rest of the tested set.
# hadolint ignore=DL3013,SC2086
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} $TORCH_SPEC \
    && { pip freeze | grep -E '^torch(vision)?=='; grep -vE '^torch(vision)?==' /tmp/ci-constraints.txt; } \
        > /tmp/constraints.txt

# Dependencies next, from pyproject.toml alone (with a stub package), so that a source change only
# reinstalls tinymodels itself. They include the optional libraries some architectures need
# (timm, scipy, sentencepiece…).
# WITH_TORCHVISION=false drops torchvision again: the offline smoke build has a CPU torch wheel but
# no matching CPU torchvision (the default index's one needs CUDA torch and breaks the image utilities
# of transformers). transformers runs without it, minus the torchvision-backed image processors.
ARG WITH_TORCHVISION=true
COPY pyproject.toml README.md /tmp/src/
RUN mkdir -p /tmp/src/src/tinymodels && touch /tmp/src/src/tinymodels/__init__.py \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt "/tmp/src[models]" \
    && pip uninstall --yes tinymodels \
    && if [ "$WITH_TORCHVISION" != true ]; then pip uninstall --yes torchvision; fi \
    && rm -rf /tmp/src

COPY . /tmp/src
RUN pip install --no-cache-dir --no-deps /tmp/src \
    && rm -rf /tmp/src /tmp/ci-constraints.txt /tmp/constraints.txt \
    && python -c "import torch; from transformers import AutoImageProcessor, AutoModel, AutoTokenizer" \
    && tinymodels --version

# uid 1001 is the GitHub-hosted runner's user, so files written to the mounted workspace stay usable.
RUN useradd --uid 1001 --create-home --shell /bin/bash tinymodels
USER 1001
WORKDIR /home/tinymodels

ENTRYPOINT ["tinymodels"]
CMD ["--help"]
