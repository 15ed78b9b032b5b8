// Package stack reads testbed stack files (apiVersion testbed.dev/v1alpha1,
// kind Stack): the Go types, loading with defaults, validation that names
// the file and line of every problem, the manifests each component applies,
// the ${...} substitutions, and the component graph with its sim lower
// bound.
//
// Load reads a stack file and returns a Stack that is complete and valid,
// or an ErrorList holding every problem found, one per line:
//
//	stack.yaml:12: components[2] "migrations": dependsOn "postgres" is not a component
//
// Relative paths in the file are resolved against its directory. Defaults:
// spec.cluster.provider is sim, spec.namespace is "default", spec.timeout is
// 10m, a component's timeout is the stack's, a run step's timeout is its
// component's, an http check expects status 200, a host port is auto, and
// a go image (built from a Go main package) builds in the stack's directory.
//
// Typical use:
//
//	s, err := stack.Load("testbed.yaml")
//	if err != nil {
//		return err // an ErrorList: print it and exit 2
//	}
//	seconds, path := s.LowerBound() // for `testbed plan` and the report
//	manifests, err := s.Manifests(&stack.Vars{
//		Stack:     s.Metadata.Name,
//		Namespace: s.Spec.Namespace,
//		Run:       runID,
//		Images:    refs,  // image name -> built reference
//		Ports:     ports, // port name -> host port
//	})
//	for _, m := range manifests {
//		for _, doc := range m.Documents {
//			// apply doc.Object for component m.Component; name
//			// doc.Source() (file:line) in errors
//		}
//	}
//
// A Stack can also be built in Go: call Default, then Validate, which runs
// the checks Load runs and returns the same ErrorList, without file and
// line.
//
// Stack files and manifests are read as UTF-8 text of at most MaxFileSize
// bytes; YAML aliases that would expand a document enormously ("billion
// laughs") are rejected without expanding them. The package does no I/O
// other than reading the files a stack names, and never prints.
package stack
