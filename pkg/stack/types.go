package stack

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion is the only apiVersion this package reads.
const APIVersion = "testbed.dev/v1alpha1"

// KindStack is the kind of a stack file.
const KindStack = "Stack"

// Defaults that Stack.Default applies; Load and Parse call it.
const (
	// DefaultProvider is the cluster provider when spec.cluster.provider is empty.
	DefaultProvider = ProviderSim
	// DefaultNamespace is the namespace when spec.namespace is empty.
	DefaultNamespace = "default"
	// DefaultTimeout is the bring-up deadline when spec.timeout is omitted.
	DefaultTimeout = 10 * time.Minute
	// DefaultHTTPStatus is the status an http check expects when it names none.
	DefaultHTTPStatus = 200
)

// MaxFileSize is the largest stack file or manifest file accepted, in bytes.
const MaxFileSize = 4 << 20

// Stack is a parsed, defaulted and validated stack file (apiVersion
// testbed.dev/v1alpha1, kind Stack). Get one from Load or Parse: they
// resolve the relative paths in it and check it as a whole. A Stack built
// in Go is made ready by Default and then Validate.
type Stack struct {
	// APIVersion is always APIVersion.
	APIVersion string `yaml:"apiVersion"`
	// Kind is always KindStack.
	Kind string `yaml:"kind"`
	// Metadata names the stack.
	Metadata Metadata `yaml:"metadata"`
	// Spec is what to bring up.
	Spec Spec `yaml:"spec"`

	// File is the stack file as passed to Load or Parse; messages use it.
	File string `yaml:"-"`
	// Dir is the absolute directory that relative paths in the file were
	// resolved against: the stack file's directory.
	Dir string `yaml:"-"`

	// displayDir is the directory of File as the user named it; messages
	// show paths from the file joined to it, as the user would name them.
	displayDir string
	// lines maps field paths such as "spec.components[2].dependsOn[0]" to
	// the line they are on in File.
	lines map[string]int
	// validated: Load, Parse or Validate found nothing wrong.
	validated bool
	// files holds the manifest files read so far, and the output of the
	// kustomize directories built so far, so that validation and each
	// run's substitution read a file from disk (or build it) once.
	files *fileCache
}

// Metadata names a stack.
type Metadata struct {
	// Name is the stack's name, a DNS-1123 label. It is required, and
	// substitutes for ${stack}.
	Name string `yaml:"name"`
}

// Spec is the body of a stack file.
type Spec struct {
	// Cluster says where the stack runs.
	Cluster Cluster `yaml:"cluster,omitempty"`
	// Namespace is the namespace for namespaced objects that name none; it
	// is created. It defaults to DefaultNamespace ("default") and
	// substitutes for ${namespace}.
	Namespace string `yaml:"namespace,omitempty"`
	// Timeout is the deadline for the whole bring-up; DefaultTimeout (10m)
	// when omitted.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Images are the images components need, built or pre-built.
	Images []Image `yaml:"images,omitempty"`
	// Ports are the host ports the stack exposes.
	Ports []Port `yaml:"ports,omitempty"`
	// Components are the parts of the stack, each applied and waited for
	// as a unit.
	Components []Component `yaml:"components"`
}

// Provider names a cluster provider.
type Provider string

// The cluster providers.
const (
	// ProviderSim is the embedded simulated cluster (the default).
	ProviderSim Provider = "sim"
	// ProviderKind is a kind cluster.
	ProviderKind Provider = "kind"
	// ProviderKubeconfig is an existing cluster reached through a kubeconfig.
	ProviderKubeconfig Provider = "kubeconfig"
)

// Cluster says which cluster provider to use and how to set it up.
type Cluster struct {
	// Provider is sim (the default), kind or kubeconfig. The CLI's
	// --provider overrides it.
	Provider Provider `yaml:"provider,omitempty"`
	// Kind configures the kind provider; other providers ignore it.
	Kind KindCluster `yaml:"kind,omitempty"`
	// Kubeconfig configures the kubeconfig provider; other providers ignore it.
	Kubeconfig KubeconfigCluster `yaml:"kubeconfig,omitempty"`
}

// KindCluster configures the kind provider.
type KindCluster struct {
	// NodeImage is the kind node image; empty means kind's default.
	NodeImage string `yaml:"nodeImage,omitempty"`
	// Mounts are host directories mounted into the node.
	Mounts []Mount `yaml:"mounts,omitempty"`
	// Config is extra kind configuration (kind.x-k8s.io/v1alpha4 Cluster
	// YAML) merged into the one testbed generates: networking, feature
	// gates, patches, more nodes.
	Config string `yaml:"config,omitempty"`
}

// Mount is a host directory mounted into a kind node.
type Mount struct {
	// HostPath is the directory on the host, resolved to an absolute path.
	HostPath string `yaml:"hostPath"`
	// ContainerPath is the absolute path inside the node.
	ContainerPath string `yaml:"containerPath"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `yaml:"readOnly,omitempty"`
}

// KubeconfigCluster configures the kubeconfig provider.
type KubeconfigCluster struct {
	// Path is the kubeconfig file, resolved to an absolute path. Empty
	// means $KUBECONFIG, then ~/.kube/config; the caller resolves that.
	Path string `yaml:"path,omitempty"`
	// Context is the kubeconfig context; empty means its current-context.
	Context string `yaml:"context,omitempty"`
}

// Image is an image that components need: pre-built and named by Ref,
// built from Context and Dockerfile, or built from a Go main package (Go).
type Image struct {
	// Name is how components and ${image:NAME} refer to the image, a
	// DNS-1123 label.
	Name string `yaml:"name"`
	// Context is the build context directory, resolved to an absolute path.
	// It defaults to the stack file's directory when only Dockerfile is set.
	Context string `yaml:"context,omitempty"`
	// Dockerfile is the Dockerfile, resolved to an absolute path. It
	// defaults to Dockerfile in Context.
	Dockerfile string `yaml:"dockerfile,omitempty"`
	// BuildArgs are passed to the build as --build-arg KEY=VALUE.
	BuildArgs map[string]string `yaml:"buildArgs,omitempty"`
	// Target is the Dockerfile stage to build ("": the last one).
	Target string `yaml:"target,omitempty"`
	// Ref is a pre-built image reference, used as is: no build.
	Ref string `yaml:"ref,omitempty"`
	// Go builds the image from a Go main package, with no Dockerfile.
	Go *GoBuild `yaml:"go,omitempty"`
}

// Built reports whether the image is built (from a Dockerfile or a Go
// package) rather than pre-built.
func (i *Image) Built() bool { return i.Ref == "" }

// GoBuild is an image built from a Go main package, as ko builds one: the
// package compiled into a static linux binary (CGO_ENABLED=0), alone in an
// image FROM scratch. It needs no Dockerfile and no base image to pull.
type GoBuild struct {
	// Package is the main package, as `go build` takes it: ./cmd/api, or
	// an import path. Required.
	Package string `yaml:"package"`
	// Dir is the directory go build runs in (the Go module), resolved to
	// an absolute path; it defaults to the stack file's directory.
	Dir string `yaml:"dir,omitempty"`
	// LDFlags are added to the linker flags, after "-s -w".
	LDFlags string `yaml:"ldflags,omitempty"`
	// Tags are build tags, passed as -tags.
	Tags []string `yaml:"tags,omitempty"`
}

// Port is a host port that reaches a NodePort of the cluster.
type Port struct {
	// Name is how ${port:NAME} refers to the port, a DNS-1123 label.
	Name string `yaml:"name"`
	// NodePort is the cluster's NodePort, 30000-32767.
	NodePort int `yaml:"nodePort"`
	// HostPort is the port on the host: a number, or AutoHostPort.
	HostPort HostPort `yaml:"hostPort"`
}

// HostPort is a host port number (1-65535), or AutoHostPort.
type HostPort int

// AutoHostPort asks for a free host port, chosen and locked for the run.
// It is written "auto" in the stack file and is the default.
const AutoHostPort HostPort = 0

// Auto reports whether p is AutoHostPort.
func (p HostPort) Auto() bool { return p == AutoHostPort }

// String returns "auto" or the port number.
func (p HostPort) String() string {
	if p.Auto() {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// MarshalYAML writes the port as in the stack file: "auto" or a number.
func (p HostPort) MarshalYAML() (any, error) {
	if p.Auto() {
		return "auto", nil
	}
	return int(p), nil
}

// UnmarshalYAML reads the port as in the stack file: "auto" (or nothing)
// or a number from 1 to 65535.
func (p *HostPort) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if isNull(n) || (n.Kind == yaml.ScalarNode && n.Value == "auto") {
		*p = AutoHostPort
		return nil
	}
	i, ok := intOf(n)
	if !ok {
		return fmt.Errorf("want a port number or auto, got %s", describe(n))
	}
	if msg := hostPortProblem(i); msg != "" {
		return errors.New(msg)
	}
	*p = HostPort(i)
	return nil
}

// Component is a part of the stack: manifests that are applied together
// and are ready together, or a host command (Run).
type Component struct {
	// Name is the component's name, a unique DNS-1123 label.
	Name string `yaml:"name"`
	// Images are the images the component is applied after: names of
	// Spec.Images.
	Images []string `yaml:"images,omitempty"`
	// Manifests are the component's manifest files, directories and globs,
	// resolved to absolute paths. Use Stack.Manifests to expand them.
	Manifests []string `yaml:"manifests,omitempty"`
	// DependsOn are components that must be ready before this one is
	// applied (or, for a run step, started).
	DependsOn []string `yaml:"dependsOn,omitempty"`
	// Sim models the component's pods on the sim provider; nil means pods
	// are ready as soon as they are scheduled.
	Sim *Sim `yaml:"sim,omitempty"`
	// Checks are probed from outside the cluster once every object of the
	// component is ready.
	Checks []Check `yaml:"checks,omitempty"`
	// Timeout is the deadline for the component to be ready; it defaults to
	// the stack's Timeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Run makes the component a host command, ready when it exits 0. A
	// component has Manifests or Run, not both.
	Run *Run `yaml:"run,omitempty"`
}

// Sim models how a component's pods behave on the sim provider.
type Sim struct {
	// ReadyAfter is how long after it is scheduled each pod turns Ready (a
	// Job completes ReadyAfter after it starts).
	ReadyAfter time.Duration `yaml:"readyAfter,omitempty"`
	// Requires are components that must be ready before the pods' clocks
	// start; unlike DependsOn, nothing waits to be applied.
	Requires []string `yaml:"requires,omitempty"`
	// Fail, if set, sends the pods (or Job) into that failure.
	Fail FailMode `yaml:"fail,omitempty"`
}

// FailMode is a failure the sim provider can simulate.
type FailMode string

// The failures the sim provider can simulate.
const (
	// FailCrashLoopBackOff makes the pods' containers crash-loop.
	FailCrashLoopBackOff FailMode = "CrashLoopBackOff"
	// FailImagePullBackOff makes the pods' image pulls fail.
	FailImagePullBackOff FailMode = "ImagePullBackOff"
	// FailNeverReady keeps the pods running but never Ready.
	FailNeverReady FailMode = "NeverReady"
	// FailJobFailed makes Jobs fail.
	FailJobFailed FailMode = "JobFailed"
)

// FailModes lists every valid FailMode.
var FailModes = []FailMode{FailCrashLoopBackOff, FailImagePullBackOff, FailNeverReady, FailJobFailed}

// Check is an outside-in probe of a component: exactly one of HTTP and TCP
// is set.
type Check struct {
	// HTTP is an HTTP GET that must return Status.
	HTTP *HTTPCheck `yaml:"http,omitempty"`
	// TCP is a TCP connect that must succeed.
	TCP *TCPCheck `yaml:"tcp,omitempty"`
}

// String describes the check, such as "http http://127.0.0.1:${port:api}/health".
func (c Check) String() string {
	switch {
	case c.HTTP != nil:
		return fmt.Sprintf("http %s", c.HTTP.URL)
	case c.TCP != nil:
		return fmt.Sprintf("tcp %s", c.TCP.Address)
	}
	return "empty check"
}

// HTTPCheck is an HTTP GET that must return Status.
type HTTPCheck struct {
	// URL is the http or https URL; it may hold substitutions such as
	// ${port:NAME}.
	URL string `yaml:"url"`
	// Status is the expected status code, 100-599; DefaultHTTPStatus (200)
	// when omitted.
	Status int `yaml:"status,omitempty"`
}

// TCPCheck is a TCP connect that must succeed.
type TCPCheck struct {
	// Address is host:port; it may hold substitutions such as ${port:NAME}.
	Address string `yaml:"address"`
}

// Run is a host command run as a step of the stack.
type Run struct {
	// Command is the program and its arguments; it may hold substitutions.
	// A relative program path with a slash in it (./hack/x.sh) is resolved
	// against the stack file's directory; a bare name is looked up in PATH.
	Command []string `yaml:"command"`
	// Env is added to the command's environment; values may hold
	// substitutions.
	Env map[string]string `yaml:"env,omitempty"`
	// Timeout is the deadline for the command; it defaults to the
	// component's Timeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// Component returns the component named name, or nil.
func (s *Stack) Component(name string) *Component {
	for i := range s.Spec.Components {
		if s.Spec.Components[i].Name == name {
			return &s.Spec.Components[i]
		}
	}
	return nil
}
