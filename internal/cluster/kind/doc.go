// Package kind is the cluster provider of kind clusters (Kubernetes in
// Docker or Podman containers), driven through kind's Go library
// (sigs.k8s.io/kind/pkg/cluster), never by parsing the kind CLI.
//
//	p, err := kind.New(kind.Options{
//		StateDir: stateDir,
//		Ports:    []kind.Port{{Name: "web", NodePort: 30080}}, // host port: auto
//	})
//	...
//	c, created, err := p.Ensure(ctx, "shop") // kind cluster "testbed-shop"
//	port := c.(*kind.Cluster).HostPorts()["web"]
//	ld, err := p.LoadImage(ctx, "shop", "testbed.local/shop/api:3f2a…")
//	...
//	err = p.Delete(ctx, "shop")
//
// One cluster runs per stack, named by ClusterName, with one control-plane
// node. Its kubeconfig is written to StateDir/clusters/NAME/kubeconfig,
// never to ~/.kube/config, next to the kind config testbed generated
// (kind-config.yaml) and what testbed recorded (state.json). A cluster that
// runs is reused by the next Ensure when the stack asks for the same
// spec; it is made again when its nodes stopped.
//
// The generated config maps each Port's host port, on 127.0.0.1, to its
// NodePort (extraPortMappings), mounts Mounts (extraMounts), runs
// Options.NodeImage, and patches the kubelet with failCgroupV1: false so
// that it runs on cgroup v1 hosts. Options.ExtraConfig, raw kind config
// YAML, is merged in: its networking, featureGates and runtimeConfig are
// used; its patches come after testbed's; its first node, if a
// control-plane node, adds to testbed's (mounts, port mappings, labels,
// patches) and its other nodes are added as they are.
//
// A Port with HostPort 0 takes a free port. Every host port is claimed
// with a lock file under Options.LockDir, flocked while a run uses it and
// naming its stack until the stack's cluster is deleted: a port another
// stack holds or uses is refused with a *PortConflictError that names it,
// before kind is asked for anything. A failed or interrupted Ensure
// removes the cluster, its state and its claims.
//
// One container tool serves a run (Options.Runtime): kind's nodes run on
// it and LoadImage saves images from it. LoadImage skips the nodes that
// have the image with the same ID, as `kind load docker-image` does.
// ExportNodeLogs copies the nodes' logs (journal, kubelet, containerd,
// pods) for diagnostics.
package kind
