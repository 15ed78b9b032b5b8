package kind

import (
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

func TestClusterConfig(t *testing.T) {
	mounts := []Mount{{HostPath: "/src", ContainerPath: "/src"}, {HostPath: "/data", ContainerPath: "/data", ReadOnly: true}}
	ports := []Port{{Name: "web", NodePort: 30080, HostPort: 8080}, {Name: "api", NodePort: 30081, HostPort: 41234}}
	cfg, err := clusterConfig("kindest/node:v1.37.0", mounts, ports, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIVersion != "kind.x-k8s.io/v1alpha4" || cfg.Kind != "Cluster" {
		t.Errorf("type %s/%s", cfg.APIVersion, cfg.Kind)
	}
	if len(cfg.Nodes) != 1 || cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole {
		t.Fatalf("nodes %+v, want one control-plane node", cfg.Nodes)
	}
	n := cfg.Nodes[0]
	if n.Image != "kindest/node:v1.37.0" {
		t.Errorf("image %q", n.Image)
	}
	wantMaps := []v1alpha4.PortMapping{
		{ContainerPort: 30080, HostPort: 8080, ListenAddress: "127.0.0.1", Protocol: "TCP"},
		{ContainerPort: 30081, HostPort: 41234, ListenAddress: "127.0.0.1", Protocol: "TCP"},
	}
	if !reflect.DeepEqual(n.ExtraPortMappings, wantMaps) {
		t.Errorf("port mappings\n got %+v\nwant %+v", n.ExtraPortMappings, wantMaps)
	}
	wantMounts := []v1alpha4.Mount{{HostPath: "/src", ContainerPath: "/src"}, {HostPath: "/data", ContainerPath: "/data", Readonly: true}}
	if !reflect.DeepEqual(n.ExtraMounts, wantMounts) {
		t.Errorf("mounts\n got %+v\nwant %+v", n.ExtraMounts, wantMounts)
	}
	if len(cfg.KubeadmConfigPatches) != 1 || !strings.Contains(cfg.KubeadmConfigPatches[0], "kind: KubeletConfiguration") ||
		!strings.Contains(cfg.KubeadmConfigPatches[0], "failCgroupV1: false") ||
		!strings.Contains(cfg.KubeadmConfigPatches[0], "apiVersion: kubelet.config.k8s.io/v1beta1") {
		t.Errorf("kubeadm patches %q, want the kubelet's cgroup v1 patch", cfg.KubeadmConfigPatches)
	}
	y := configYAML(cfg)
	for _, want := range []string{"apiVersion: kind.x-k8s.io/v1alpha4", "role: control-plane", "containerPort: 30080", "hostPort: 8080", "listenAddress: 127.0.0.1", "failCgroupV1: false", "hostPath: /src"} {
		if !strings.Contains(y, want) {
			t.Errorf("rendered config lacks %q:\n%s", want, y)
		}
	}

	// What the state directory keeps is what kind reads: its strict
	// decoding gives the same config back.
	var back v1alpha4.Cluster
	dec := yaml.NewDecoder(strings.NewReader(y))
	dec.KnownFields(true)
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("kind cannot read the rendered config: %v\n%s", err, y)
	}
	if !reflect.DeepEqual(&back, cfg) {
		t.Errorf("rendered config reads back as\n%+v\nwant\n%+v", back, *cfg)
	}

	def, err := clusterConfig("", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.Nodes[0].Image != "" || len(def.Nodes[0].ExtraPortMappings) != 0 || len(def.Nodes[0].ExtraMounts) != 0 {
		t.Errorf("no options: node %+v, want kind's default image and nothing else", def.Nodes[0])
	}
}

func TestExtraConfig(t *testing.T) {
	ports := []Port{{Name: "web", NodePort: 30080, HostPort: 8080}}
	tests := []struct {
		name    string
		image   string
		extra   string
		check   func(t *testing.T, cfg *v1alpha4.Cluster)
		wantErr string
	}{{
		name:  "workers are added with the node image",
		image: "kindest/node:v1",
		extra: "nodes:\n- role: control-plane\n- role: worker\n- role: worker\n",
		check: func(t *testing.T, cfg *v1alpha4.Cluster) {
			if len(cfg.Nodes) != 3 || cfg.Nodes[1].Role != v1alpha4.WorkerRole || cfg.Nodes[2].Image != "kindest/node:v1" {
				t.Errorf("nodes %+v", cfg.Nodes)
			}
			if len(cfg.Nodes[0].ExtraPortMappings) != 1 {
				t.Errorf("the control-plane node lost its port mapping: %+v", cfg.Nodes[0])
			}
		},
	}, {
		name: "the control-plane node gains mounts, port mappings and labels",
		extra: `apiVersion: kind.x-k8s.io/v1alpha4
kind: Cluster
nodes:
- extraMounts: [{hostPath: /cache, containerPath: /cache}]
  extraPortMappings: [{containerPort: 80, hostPort: 8081}]
  labels: {ingress-ready: "true"}
  image: kindest/node:v2
`,
		check: func(t *testing.T, cfg *v1alpha4.Cluster) {
			n := cfg.Nodes[0]
			if len(cfg.Nodes) != 1 || len(n.ExtraMounts) != 1 || len(n.ExtraPortMappings) != 2 || n.Labels["ingress-ready"] != "true" || n.Image != "kindest/node:v2" {
				t.Errorf("node %+v", n)
			}
		},
	}, {
		name:  "networking, feature gates and patches",
		extra: "networking: {ipFamily: ipv4, podSubnet: 10.9.0.0/16}\nfeatureGates: {InPlacePodVerticalScaling: true}\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n",
		check: func(t *testing.T, cfg *v1alpha4.Cluster) {
			if cfg.Networking.PodSubnet != "10.9.0.0/16" || !cfg.FeatureGates["InPlacePodVerticalScaling"] {
				t.Errorf("networking %+v, gates %v", cfg.Networking, cfg.FeatureGates)
			}
			if len(cfg.KubeadmConfigPatches) != 2 || !strings.Contains(cfg.KubeadmConfigPatches[0], "failCgroupV1") {
				t.Errorf("patches %q: want testbed's first, then the extra one", cfg.KubeadmConfigPatches)
			}
		},
	}, {
		name:    "unknown field, with its line",
		extra:   "nodes:\n- role: worker\n  extraMount: []\n",
		wantErr: "line 3: field extraMount not found",
	}, {
		name:    "a name",
		extra:   "name: mine\n",
		wantErr: `name "mine": testbed names the cluster`,
	}, {
		name:    "another apiVersion",
		extra:   "apiVersion: kind.x-k8s.io/v1alpha3\n",
		wantErr: `apiVersion "kind.x-k8s.io/v1alpha3"`,
	}, {
		name:    "another node image",
		image:   "kindest/node:v1",
		extra:   "nodes: [{image: kindest/node:v2}]\n",
		wantErr: `nodes[0].image "kindest/node:v2" differs from the node image "kindest/node:v1"`,
	}, {
		name:    "a host port mapped twice",
		extra:   "nodes: [{extraPortMappings: [{containerPort: 80, hostPort: 8080}]}]\n",
		wantErr: "host port 8080 is mapped twice",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := clusterConfig(tc.image, nil, ports, tc.extra)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

func TestClusterName(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct{ stack, want string }{
		{"shop", "testbed-shop"},
		{"my-stack.v2", "testbed-my-stack.v2"},
	}
	for _, tc := range tests {
		if got := ClusterName(tc.stack); got != tc.want {
			t.Errorf("ClusterName(%q) = %q, want %q", tc.stack, got, tc.want)
		}
	}
	for _, stack := range []string{long, long + "b", "Shop", "shop_1"} {
		got := ClusterName(stack)
		if len(got) > 50 || !strings.HasPrefix(got, NamePrefix) || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
			t.Errorf("ClusterName(%q) = %q: not a valid kind name of at most 50 characters", stack, got)
		}
	}
	if ClusterName(long) == ClusterName(long+"b") || ClusterName("Shop") == ClusterName("shop") {
		t.Error("two stacks share a cluster name")
	}
}
