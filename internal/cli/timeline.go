package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubetestbed/testbed/pkg/report"
)

func newTimelineCmd(g *globals) *cobra.Command {
	var in, out string
	cmd := &cobra.Command{
		Use:   "timeline",
		Short: "Draw a saved report's bring-up as an SVG Gantt chart",
		Long: `timeline reads the JSON report of 'testbed up --report' and draws the bring-up
as a self-contained SVG: a bar per component from applied to ready, coloured
by status, the phases as bands, the critical path outlined and joined by
arrows, and the sim lower bound as a dashed line. Open it in a browser; hover
a bar for its exact times. 'testbed up --timeline out.svg' draws the same
chart straight away.

  testbed timeline -i out.json -o out.svg

Without -o, the SVG goes to stdout. Exit codes: 0 drawn, 2 the report is
missing or not a testbed report, 3 the SVG could not be written.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" {
				return &usageError{fmt.Errorf("-i is required: the JSON report of `testbed up --report` (see `%s --help`)", cmd.CommandPath())}
			}
			r, err := readReport(in)
			if err != nil {
				return invalid(err)
			}
			if out == "" || out == "-" {
				if err := report.WriteTimeline(g.stdout, r); err != nil {
					return infra(err)
				}
				return nil
			}
			if err := writeFile(out, func(f *os.File) error { return report.WriteTimeline(f, r) }); err != nil {
				return infra(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&in, "input", "i", "", "the JSON report to draw (written by 'testbed up --report')")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the SVG here (default: stdout)")
	return cmd
}

// readReport reads the report in path; errors name the file.
func readReport(path string) (*report.Report, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report %s does not exist (write one with `testbed up --report %s`)", path, path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
