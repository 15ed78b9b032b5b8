package kind

import (
	"bytes"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// cgroupV1Patch lets the kubelet run on a cgroup v1 host: since
// Kubernetes 1.35 it refuses to unless told otherwise.
const cgroupV1Patch = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
`

// listenAddress is where the host side of every port mapping listens.
const listenAddress = "127.0.0.1"

// kindAPIVersion and kindKind are the type of a kind config.
const (
	kindAPIVersion = "kind.x-k8s.io/v1alpha4"
	kindKind       = "Cluster"
)

// clusterConfig returns the kind config of a cluster: one control-plane
// node running image (kind's default when empty), with mounts as
// extraMounts, each of ports (whose HostPort is resolved) as an
// extraPortMapping listening on 127.0.0.1, and the kubelet patch for
// cgroup v1 hosts; extra, raw kind config YAML, is merged in as
// mergeExtra says.
func clusterConfig(image string, mounts []Mount, ports []Port, extra string) (*v1alpha4.Cluster, error) {
	cp := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: image}
	for _, m := range mounts {
		cp.ExtraMounts = append(cp.ExtraMounts, v1alpha4.Mount{HostPath: m.HostPath, ContainerPath: m.ContainerPath, Readonly: m.ReadOnly})
	}
	for _, p := range ports {
		cp.ExtraPortMappings = append(cp.ExtraPortMappings, v1alpha4.PortMapping{
			ContainerPort: int32(p.NodePort), HostPort: int32(p.HostPort),
			ListenAddress: listenAddress, Protocol: v1alpha4.PortMappingProtocolTCP,
		})
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta:             v1alpha4.TypeMeta{APIVersion: kindAPIVersion, Kind: kindKind},
		Nodes:                []v1alpha4.Node{cp},
		KubeadmConfigPatches: []string{cgroupV1Patch},
	}
	if strings.TrimSpace(extra) != "" {
		if err := mergeExtra(cfg, extra); err != nil {
			return nil, err
		}
	}
	if err := checkHostPorts(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// mergeExtra merges raw kind config YAML into cfg, which clusterConfig
// made:
//   - apiVersion and kind, when set, must be kind's v1alpha4 Cluster, and
//     name must not be set (testbed names the cluster);
//   - networking, featureGates and runtimeConfig are taken from extra;
//   - kubeadm and containerd patches are appended to cfg's (later ones win);
//   - extra's first node, when it is a control-plane node (or has no
//     role), is merged into cfg's: its labels are added, its mounts,
//     port mappings and patches appended, and its image used when cfg's
//     is empty; every other node is appended, with cfg's image when it
//     names none.
//
// extra is decoded strictly: an unknown field is an error with its line.
func mergeExtra(cfg *v1alpha4.Cluster, extra string) error {
	var x v1alpha4.Cluster
	dec := yaml.NewDecoder(bytes.NewReader([]byte(extra)))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil {
		return fmt.Errorf("extra kind config: %w", err)
	}
	switch {
	case x.APIVersion != "" && x.APIVersion != kindAPIVersion:
		return fmt.Errorf("extra kind config: apiVersion %q: want %s (or none)", x.APIVersion, kindAPIVersion)
	case x.Kind != "" && x.Kind != kindKind:
		return fmt.Errorf("extra kind config: kind %q: want %s (or none)", x.Kind, kindKind)
	case x.Name != "":
		return fmt.Errorf("extra kind config: name %q: testbed names the cluster; remove it", x.Name)
	}
	cfg.Networking = x.Networking
	cfg.FeatureGates = x.FeatureGates
	cfg.RuntimeConfig = x.RuntimeConfig
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, x.KubeadmConfigPatches...)
	cfg.KubeadmConfigPatchesJSON6902 = append(cfg.KubeadmConfigPatchesJSON6902, x.KubeadmConfigPatchesJSON6902...)
	cfg.ContainerdConfigPatches = append(cfg.ContainerdConfigPatches, x.ContainerdConfigPatches...)
	cfg.ContainerdConfigPatchesJSON6902 = append(cfg.ContainerdConfigPatchesJSON6902, x.ContainerdConfigPatchesJSON6902...)

	nodes := x.Nodes
	cp := &cfg.Nodes[0]
	if len(nodes) > 0 && (nodes[0].Role == "" || nodes[0].Role == v1alpha4.ControlPlaneRole) {
		n := nodes[0]
		nodes = nodes[1:]
		if n.Image != "" && cp.Image != "" && n.Image != cp.Image {
			return fmt.Errorf("extra kind config: nodes[0].image %q differs from the node image %q: set one of them", n.Image, cp.Image)
		}
		if cp.Image == "" {
			cp.Image = n.Image
		}
		for k, v := range n.Labels {
			if cp.Labels == nil {
				cp.Labels = map[string]string{}
			}
			cp.Labels[k] = v
		}
		cp.ExtraMounts = append(cp.ExtraMounts, n.ExtraMounts...)
		cp.ExtraPortMappings = append(cp.ExtraPortMappings, n.ExtraPortMappings...)
		cp.KubeadmConfigPatches = append(cp.KubeadmConfigPatches, n.KubeadmConfigPatches...)
		cp.KubeadmConfigPatchesJSON6902 = append(cp.KubeadmConfigPatchesJSON6902, n.KubeadmConfigPatchesJSON6902...)
	}
	for _, n := range nodes {
		if n.Image == "" {
			n.Image = cp.Image
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}
	return nil
}

// checkHostPorts rejects a host port that two port mappings share.
func checkHostPorts(cfg *v1alpha4.Cluster) error {
	seen := map[int32]bool{}
	for _, n := range cfg.Nodes {
		for _, pm := range n.ExtraPortMappings {
			if pm.HostPort == 0 {
				continue
			}
			if seen[pm.HostPort] {
				return fmt.Errorf("kind config: host port %d is mapped twice (ports and extra kind config?)", pm.HostPort)
			}
			seen[pm.HostPort] = true
		}
	}
	return nil
}

// configYAML renders cfg as kind reads it, for the state directory and
// for errors.
func configYAML(cfg *v1alpha4.Cluster) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return fmt.Sprintf("# cannot render the kind config: %v\n", err)
	}
	_ = enc.Close()
	return b.String()
}
