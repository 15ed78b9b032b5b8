package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// stackYAML is a valid stack of two components on the default provider
// (sim); writeStack writes its manifests next to it.
const stackYAML = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: clitest
spec:
  namespace: clitest
  timeout: 1m
  components:
    - name: db
      manifests: [db.yaml]
      sim: {readyAfter: 2s}
    - name: api
      manifests: [api.yaml]
      dependsOn: [db]
      sim: {readyAfter: 1s}
`

// configMap is a manifest of one ConfigMap called name.
func configMap(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  key: value\n"
}

// writeStack writes a stack file with the text given (and the
// manifests it names) into a new temporary directory and returns its path.
func writeStack(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"testbed.yaml": text, "db.yaml": configMap("db"), "api.yaml": configMap("api")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "testbed.yaml")
}

// isolate points every directory testbed reads from the environment at
// empty temporary ones, so that no test sees the user's clusters or builds.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("TESTBED_ASSETS_DIR", t.TempDir())
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	t.Setenv("TESTBED_BIN_DIR", "")
	t.Setenv("TESTBED_CLIENT_LOGS", "")
}

// runMain runs the command line with args and returns its exit code,
// stdout and stderr.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// replace sets *p to v for the test, restoring it after: tests that call it
// must not run in parallel.
func replace[T any](t *testing.T, p *T, v T) {
	t.Helper()
	old := *p
	t.Cleanup(func() { *p = old })
	*p = v
}
