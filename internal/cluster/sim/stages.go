package sim

import (
	_ "embed"
	"strings"
)

// Pod annotations that drive a pod's simulated behaviour on a sim cluster.
// testbed writes them on pod templates from a component's `sim` block; plain
// manifests may carry them too.
const (
	// AnnotationReadyAfter is a duration ("8s"): the pod turns Ready that
	// long after it starts running (a Job's pod completes).
	AnnotationReadyAfter = "sim.testbed.dev/ready-after"
	// AnnotationRequires lists components, comma-separated: the pod's
	// ready-after clock starts only once every pod of those components is
	// Ready (or Succeeded).
	AnnotationRequires = "sim.testbed.dev/requires"
	// AnnotationFail makes the pod fail: CrashLoopBackOff, ImagePullBackOff,
	// NeverReady or JobFailed.
	AnnotationFail = "sim.testbed.dev/fail"
	// AnnotationReadyAt is written by the sim gate when a pod's requirements
	// are met: the RFC 3339 time at which it turns Ready.
	AnnotationReadyAt = "sim.testbed.dev/ready-at"

	// LabelComponent and LabelStack identify the component (and stack) a
	// pod belongs to; AnnotationRequires refers to components by this label.
	LabelComponent = "testbed.dev/component"
	LabelStack     = "testbed.dev/stack"
)

// The failure modes of AnnotationFail.
const (
	FailCrashLoopBackOff = "CrashLoopBackOff"
	FailImagePullBackOff = "ImagePullBackOff"
	FailNeverReady       = "NeverReady"
	FailJobFailed        = "JobFailed"
)

// FailModes lists the values AnnotationFail accepts.
var FailModes = []string{FailCrashLoopBackOff, FailImagePullBackOff, FailNeverReady, FailJobFailed}

//go:embed stages.yaml
var stagesTemplate string

// modeExpr is the jq expression every pod stage selects on: it reduces a
// pod's annotations to one mode, so that stage selectors are mutually
// exclusive by construction.
const modeExpr = `(.metadata.annotations // {}) as $a | ` +
	`if ($a["sim.testbed.dev/fail"] // "") != "" then "fail-" + $a["sim.testbed.dev/fail"] ` +
	`elif ($a["sim.testbed.dev/requires"] // "") != "" and ($a["sim.testbed.dev/ready-at"] // "") == "" then "held" ` +
	`elif (($a["sim.testbed.dev/ready-after"] // "") != "") or (($a["sim.testbed.dev/requires"] // "") != "") then "timed" ` +
	`else "none" end`

// Status fragments shared by several stages.
const (
	initDoneTemplate = `initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}`

	ipsTemplate = `{{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ if not .status.podIP }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ end }}`

	succeededTemplate = `{{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          running: null
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded`
)

// Stages returns the kwok configuration (a stream of Stage documents) that
// a sim cluster runs with.
func Stages() string {
	return strings.NewReplacer(
		"$(MODE)", strings.ReplaceAll(modeExpr, "'", "''"),
		"$(INIT_DONE)", initDoneTemplate,
		"$(IPS)", ipsTemplate,
		"$(SUCCEEDED)", succeededTemplate,
	).Replace(stagesTemplate)
}
