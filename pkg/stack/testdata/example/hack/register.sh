#!/bin/sh
# Registers the workflows with datastorage on the host port given as $1.
set -eu
curl -fsS -X POST "http://127.0.0.1:$1/api/v1/workflows" -d @"$(dirname "$0")/workflows.json"
