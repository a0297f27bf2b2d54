# The grading kit as Gradescope and Kubernetes run it: as root, with the engine's default capabilities,
# no --privileged. Documented in docs/container.md; NOT built in this repository's CI (no Docker engine there).
#
#   docker build -t cnn-kit .
#   docker run --rm -v "$PWD/submissions:/submissions:ro" -v "$PWD/grades:/kit/grades" cnn-kit
#
# The first line the run prints names the sandbox it got: "sandbox: container ..." where the engine lets a
# process build a user namespace with its own mount and PID namespaces (podman, an unconfined pod), "sandbox:
# uid ..." under Docker's default seccomp profile. A machine that allows neither stops before grading and says
# what it lacks.
FROM python:3.11-slim-bookworm

# libseccomp2: the uid sandbox's filter (loaded through the pinned pyseccomp); make: the kit's commands.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libseccomp2 make \
 && rm -rf /var/lib/apt/lists/*

# Python lives in /usr/local here, readable by every uid: the sandboxed children run as unprivileged slot uids and
# must still import the standard library. (One under /root, mode 0700, works too: each child opens it while still
# root and imports through that handle.)
WORKDIR /kit
COPY pyproject.toml README.md Makefile nbgrader_config.py ./
COPY grader/ grader/
# CPU wheels of the pinned torch (the default index serves the much larger CUDA build).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN python -m venv .venv \
 && .venv/bin/pip install --no-cache-dir --extra-index-url "$TORCH_INDEX" -e . \
 && touch .venv/.installed

# The secrets (solutions, hidden tests) stay root's: the sandbox hides them whatever their modes
# (a mount namespace in the container mode, Landlock in the uid mode).
COPY solutions/ solutions/
COPY autograde_tests/ autograde_tests/
COPY assignments/ assignments/
COPY examples/ examples/

ENV SUBMISSIONS=/submissions
CMD ["sh", "-c", "make grade SUBMISSIONS=${SUBMISSIONS}"]
