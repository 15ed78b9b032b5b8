package image_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubetestbed/testbed/internal/image"
)

// A reference depends on the content of the build's inputs, not on where
// they are or when they were written.
func ExampleReference() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY app /app\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app"), []byte("v1"), 0o755)
	os.Chmod(filepath.Join(dir, "Dockerfile"), 0o644) // modes count (COPY keeps them):
	os.Chmod(filepath.Join(dir, "app"), 0o755)        // set them, whatever the umask

	ref, err := image.Reference(image.Spec{Stack: "shop", Name: "api", Context: dir})
	fmt.Println(ref, err)
	// Output: testbed.local/shop/api:a252781fcca7 <nil>
}

func ExampleBuildAll() {
	ctx := context.Background()
	tool, err := image.NewTool(ctx, "") // docker if its daemon answers, else podman
	if err != nil {
		fmt.Println(err)
		return
	}
	specs := []image.Spec{
		{Stack: "shop", Name: "api", Context: "services/api"},
		{Stack: "shop", Name: "web", Context: "services/web", Dockerfile: "services/web/build.Dockerfile", Target: "prod"},
	}
	res, err := image.BuildAll(ctx, tool, specs, image.Options{
		LogDir: "diagnostics/images", // api.log, web.log
		OnEvent: func(e image.Event) {
			fmt.Fprintf(os.Stderr, "%s: image %s %s\n", tool.Name(), e.Image, e.Kind)
		},
	})
	if err != nil {
		fmt.Println(err) // names the image, the Dockerfile, the step, the last lines, the log
		return
	}
	for i, r := range res {
		fmt.Println(specs[i].Name, r.Ref, r.Unchanged)
	}
}
