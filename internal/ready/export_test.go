package ready

import "k8s.io/apimachinery/pkg/runtime/schema"

// ProtobufWatch reports whether tr watches gvr, and whether in protobuf.
func ProtobufWatch(tr *Tracker, gvr schema.GroupVersionResource) (watched, proto bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	w := tr.watches[gvr]
	return w != nil, w != nil && w.proto
}
