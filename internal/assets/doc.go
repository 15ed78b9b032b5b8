// Package assets builds and finds the control-plane binaries the sim
// provider runs: kube-apiserver, kube-controller-manager, kube-scheduler and
// kubectl (Kubernetes v1.37.2), etcd v3.6.8 and kwok v0.8.0.
//
// They are compiled once from the Go module proxy, pinned by the go.mod and
// go.sum files embedded here, into a versioned directory under a cache
// directory; nothing is downloaded from anywhere else. A lock file keeps two
// processes from building into the same cache at once.
//
//	set, err := assets.Ensure(ctx, assets.BuildOptions{CacheDir: dir, Progress: show})
//	if err != nil { ... }
//	apiserver := set.Path(assets.APIServer)
//
// A build reports Events as it goes: per step, the modules downloaded and
// the packages compiled against their totals, and a heartbeat while the go
// command is silent. Code that needs a set takes a Builder (NewBuilder is the
// real one), so that its tests need not build.
package assets
