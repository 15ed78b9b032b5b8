#!/usr/bin/env bash
# Registers the WorkflowExecution E2E workflows, once DataStorage and Tekton
# are ready: the post-deploy step of the workflowexecution stack (its `run`
# component), and of the original suite.
#
# For each workflow it creates
#   - a Tekton Pipeline in $WORKFLOW_NAMESPACE (kubernaut-workflows), the
#     definition a WorkflowExecution's PipelineRun runs, and
#   - a catalog entry: a ConfigMap in $TESTBED_NAMESPACE (kubernaut-system)
#     labelled kubernaut.ai/workflow-catalog=true, naming the Pipeline,
#     version and parameters,
# and checks both in the API server's answer to that apply. Everything is
# applied server-side, so running it again is harmless. It talks to the
# cluster's API only (no Service needs to answer), so it works the same on
# the sim provider.
#
# Environment:
#   KUBECONFIG          set by testbed for a run step
#   TESTBED_STACK       set by testbed; labels what this creates, so that
#   TESTBED_NAMESPACE   `testbed down` on a shared cluster deletes it too
#   KUBECTL             kubectl to use; default: kubectl in PATH, else the
#                       one next to the sim control plane (`testbed assets path`)
#   WORKFLOW_NAMESPACE  where workflows run (default kubernaut-workflows)
#   WAIT_TIMEOUT        how long to wait for DataStorage and Tekton (default 120s)
set -euo pipefail

: "${KUBECONFIG:?KUBECONFIG is not set: run this as a testbed run step, or export it}"
stack=${TESTBED_STACK:-kubernaut-workflowexecution}
ns=${TESTBED_NAMESPACE:-kubernaut-system}
wfns=${WORKFLOW_NAMESPACE:-kubernaut-workflows}
timeout=${WAIT_TIMEOUT:-120s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

find_kubectl() {
	if [[ -n ${KUBECTL:-} ]]; then
		echo "$KUBECTL"
		return
	fi
	if command -v kubectl >/dev/null 2>&1; then
		command -v kubectl
		return
	fi
	local tb
	for tb in "$(command -v testbed 2>/dev/null || true)" "$here/../../../bin/testbed"; do
		if [[ -n $tb && -x $tb ]] && [[ -x "$("$tb" assets path)/kubectl" ]]; then
			echo "$("$tb" assets path)/kubectl"
			return
		fi
	done
	echo "register-workflows: no kubectl: set KUBECTL, put kubectl in PATH, or build bin/testbed" >&2
	return 1
}
kubectl=$(find_kubectl)
k() { "$kubectl" --kubeconfig "$KUBECONFIG" "$@"; }

labels="app.kubernetes.io/managed-by: testbed
    testbed.dev/stack: $stack
    testbed.dev/component: register-workflows"

# 1. DataStorage and Tekton are ready: the stack orders this step after
#    them (testbed runs it only then, and sets TESTBED_RUN); run by hand,
#    the script checks it itself.
if [[ -z ${TESTBED_RUN:-} ]]; then
	echo "register-workflows: waiting for DataStorage and Tekton (${timeout})"
	k -n "$ns" rollout status deployment/datastorage --timeout="$timeout"
	k -n tekton-pipelines rollout status deployment/tekton-pipelines-controller --timeout="$timeout"
	k -n tekton-pipelines rollout status deployment/tekton-pipelines-webhook --timeout="$timeout"
	k wait --for=condition=Established --timeout="$timeout" crd/pipelines.tekton.dev crd/pipelineruns.tekton.dev
	k get namespace "$wfns" >/dev/null
fi

# 2. The workflows: id, version, description, the step's script.
workflows=(
	"hello-world|1.0.0|Prints the target and succeeds: the happy path of a WorkflowExecution.|echo \"remediating \$(params.TARGET_RESOURCE)\"; echo done"
	"intentional-failure|1.0.0|Fails on purpose, to exercise failure details and the cooldown.|echo \"failing for \$(params.TARGET_RESOURCE)\" >&2; exit 1"
)

# One apply for every workflow: each kubectl is a process of its own.
docs=""
for w in "${workflows[@]}"; do
	IFS='|' read -r id version description script <<<"$w"
	name="test-$id"
	echo "register-workflows: $name v$version"
	docs+=$(cat <<YAML
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: $name
  namespace: $wfns
  labels:
    $labels
    kubernaut.ai/workflow-id: $id
    kubernaut.ai/workflow-version: "$version"
spec:
  description: "$description"
  params:
    - {name: TARGET_RESOURCE, type: string, description: "namespace/kind/name of the resource to remediate"}
  tasks:
    - name: $id
      params:
        - {name: TARGET_RESOURCE, value: "\$(params.TARGET_RESOURCE)"}
      taskSpec:
        params:
          - {name: TARGET_RESOURCE, type: string}
        steps:
          - name: run
            image: busybox:1.36
            script: |
              #!/bin/sh
              set -e
              $script
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-$id
  namespace: $ns
  labels:
    $labels
    kubernaut.ai/workflow-catalog: "true"
    kubernaut.ai/workflow-id: $id
data:
  workflow.yaml: |
    workflowId: $id
    version: "$version"
    description: "$description"
    pipelineRef: {namespace: $wfns, name: $name}
    serviceAccountName: kubernaut-workflow-runner
    parameters:
      - {name: TARGET_RESOURCE, type: string, required: true}
YAML
)
	docs+=$'\n'
done
# 3. Check what the API server stored, from its answer to that same apply
#    (each kubectl is a Go process of its own, about 0.15 s of CPU: a second
#    one to read the objects back would compete with the stack's last pods
#    for the machine): per object its kind, namespace, stack label (which
#    `testbed down` selects by) and catalog label.
want=${#workflows[@]}
stored=$(k apply --server-side --field-manager=kubernaut-register-workflows -f - \
	-o 'jsonpath={range .items[*]}{.kind} {.metadata.namespace} {.metadata.labels.testbed\.dev/stack} {.metadata.labels.kubernaut\.ai/workflow-catalog}{"\n"}{end}' <<<"$docs")
got=$(grep -c "^ConfigMap $ns $stack true$" <<<"$stored" || true)
pipelines=$(grep -c "^Pipeline $wfns $stack " <<<"$stored" || true)
if ((got != want || pipelines != want)); then
	echo "register-workflows: want $want workflows, the API server stored $got catalog entries in $ns and $pipelines Pipelines in $wfns:" >&2
	echo "$stored" >&2
	exit 1
fi
echo "register-workflows: $want workflows registered (catalog in $ns, Pipelines in $wfns)"
