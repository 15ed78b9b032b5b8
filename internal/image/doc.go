// Package image builds a stack's container images with docker or podman.
//
// One Tool serves a run: NewTool checks the tool named answers, or detects
// one (docker if its daemon answers, else podman), and Name says which. A
// Tool is a Builder; a build is an argv, never a shell string, stopped when
// its context ends.
//
// An image is tagged by its content: Reference hashes the build context
// (as .dockerignore leaves it, never .git), the Dockerfile, the build
// arguments and the target into testbed.local/STACK/NAME:TAG, 12 hex
// digits, never :latest. An image whose reference is present is not
// rebuilt (Result.Unchanged), and a cluster that has it need not load it
// again.
//
// A go image (Spec.Go) needs no Dockerfile, as ko's need none: go build
// compiles its main package into a static linux binary (CGO_ENABLED=0,
// -trimpath, -ldflags "-s -w"), and the image holds that binary alone,
// FROM scratch, at /NAME, its entrypoint, run as user 65532. Its tag hashes
// the binary, so it is known only once go build has run (go's build cache
// makes that cheap for unchanged sources); Build returns it.
//
// BuildAll runs many builds at once, bounded, and stops at the first
// failure, whose *BuildError names the image, the Dockerfile and the step
// that failed, with the last lines of output and the path of the whole log:
//
//	tool, err := image.NewTool(ctx, "") // or "docker", "podman"
//	if err != nil { ... }
//	specs := []image.Spec{{Stack: "shop", Name: "api", Context: "./api"}}
//	for _, s := range specs {
//		if err := image.Check(s); err != nil { ... } // before anything starts
//	}
//	res, err := image.BuildAll(ctx, tool, specs, image.Options{
//		LogDir:  diagDir,                        // api.log
//		OnEvent: func(e image.Event) { show(e) }, // start, unchanged, done, failed, canceled
//	})
//	// res[0].Ref is testbed.local/shop/api:<12 hex>, res[0].ID its image ID.
//
// The package never prints. It reads the three output formats a build
// comes in (docker's legacy builder, BuildKit's plain progress, podman's)
// to find the failing step.
package image
