package sim_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/testenv"
)

// BenchmarkCreate measures a sim cluster's create-to-ready time (API
// answering, nodes Ready, controllers and scheduler serving) with cached
// assets, and the control plane's resident memory: the sum over its
// processes of the peak RSS (VmHWM) and of the current RSS once ready.
// Deletion is outside the timed part.
//
//	go test -run '^$' -bench Create -benchtime 5x ./internal/cluster/sim/
func BenchmarkCreate(b *testing.B) {
	p := testenv.Provider(b, 0)
	var total time.Duration
	var peak, rss float64
	for i := 0; i < b.N; i++ {
		name := testenv.UniqueName("bench")
		start := time.Now()
		c, err := p.Create(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		for _, pid := range sim.PIDs(c) {
			peak += statusKiB(pid, "VmHWM") / 1024
			rss += statusKiB(pid, "VmRSS") / 1024
		}
		if err := p.Delete(context.Background(), name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/create")
	b.ReportMetric(peak/float64(b.N), "MiB-peak-rss")
	b.ReportMetric(rss/float64(b.N), "MiB-rss")
}

func statusKiB(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				return v
			}
		}
	}
	return 0
}
