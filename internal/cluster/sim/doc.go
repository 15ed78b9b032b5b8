// Package sim is the default cluster provider: a real Kubernetes control
// plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
// with kwok's simulated nodes, run as local processes on 127.0.0.1. Pods
// never run; they behave as their annotations say (PodAnnotations), and a
// small controller, the sim gate, releases pods whose requirements are
// ready. A cluster's processes outlive the program that created them;
// their state lives in one directory per cluster.
package sim
