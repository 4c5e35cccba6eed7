#!/usr/bin/env bash
# Installs what mcpt-eval needs (Debian 12), builds it, and runs the demo suite: renders the synthetic
# corpus on first use, embeds, trains probes and prints the result table and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)" --target mcpt-eval
./build/mcpt-eval configs/demo.json
