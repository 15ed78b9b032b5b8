package cli

import (
	"io"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// prepareProgress shows the provider's preparation during `up` (the sim
// control-plane build) as `testbed assets build` shows it; plain messages
// go through as lines.
type prepareProgress struct {
	w io.Writer
	r *buildRenderer
}

func newBuildProgress(w io.Writer, tty bool) *prepareProgress {
	return &prepareProgress{w: w, r: newBuildRenderer(w, tty)}
}

func (p *prepareProgress) event(ev testbed.Event) {
	if ev.Prepare == nil {
		p.r.Close()
		io.WriteString(p.w, "testbed: "+ev.Detail+"\n")
		return
	}
	pp := ev.Prepare
	p.r.Event(assets.Event{Target: pp.Target, Step: pp.Step, Phase: pp.Phase, Message: ev.Detail, Done: pp.Done, Total: pp.Total, Elapsed: pp.Elapsed})
	if pp.Step == "done" {
		p.r.Close()
	}
}
