package sim

// SetPortPicker replaces how p chooses ports, for tests that force a
// conflict between choosing a port and binding it.
func SetPortPicker(p *Provider, pick func(n int) ([]int, error)) { p.pickPorts = pick }

// FreePorts exposes freePorts to tests.
var FreePorts = freePorts

// Releasable exposes the gate's decision to tests.
var Releasable = releasable

// PIDs returns the recorded process IDs of c, by process name.
func PIDs(c *Cluster) map[string]int {
	m := map[string]int{}
	for _, p := range c.Procs {
		m[p.Name] = p.PID
	}
	return m
}

// ControlPlaneGOGC is the GOGC the control plane gets unless the caller sets one.
const ControlPlaneGOGC = controlPlaneGOGC
