package cli

import (
	"io"

	"github.com/kubetestbed/testbed/pkg/testbed"
)

// prepareProgress shows the provider's preparation (the sim control-plane
// build) during `up`, as `testbed assets build` shows it.
type prepareProgress struct{ w io.Writer }

func newBuildProgress(w io.Writer, tty bool) *prepareProgress { return &prepareProgress{w: w} }

func (p *prepareProgress) event(ev testbed.Event) {
	io.WriteString(p.w, ev.Detail+"\n")
}
