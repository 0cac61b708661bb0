#!/usr/bin/env bash
# Quick start, part 1: set up, queue a batch of sample workflows, and run
# `wfsched scheduler --once --max-concurrent 5` over them on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WFSCHED_HOME="${WFSCHED_HOME:-$PWD/.demo-home}"
rm -rf "$WFSCHED_HOME"          # a fresh database each time: the summary is about this batch
wfsched=.venv/bin/wfsched
echo "== workflows installed"
$wfsched workflows list
echo "== queueing 10 x sleep(1s), 3 x etl, 2 x hello, 1 x flaky (fails once, then its retry succeeds)"
$wfsched trigger sleep --param seconds=1 --count 10 >/dev/null
$wfsched trigger etl --count 3 >/dev/null
$wfsched trigger hello --param name=operator --count 2 >/dev/null
$wfsched trigger flaky >/dev/null
echo "== wfsched scheduler --once --max-concurrent 5"
$wfsched scheduler --once --max-concurrent 5
echo "== what ran (wfsched executions list)"
$wfsched executions list --limit 20
