package stack_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kubetestbed/testbed/pkg/stack"
)

func ExampleLoad() {
	s, err := stack.Load("testdata/example/stack.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	seconds, path := s.LowerBound()
	fmt.Println("order:", strings.Join(s.Order(), ", "))
	fmt.Printf("sim lower bound: %.1fs via %s\n", seconds, strings.Join(path, " -> "))
	// Output:
	// order: postgresql, redis, migrations, datastorage, register-workflows
	// sim lower bound: 18.0s via postgresql -> migrations -> datastorage -> register-workflows
}

func ExampleErrorList() {
	_, err := stack.Parse("stack.yaml", []byte(`apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: demo}
spec:
  components:
    - name: migrations
      dependsOn: [postgres]
      run: {command: [./migrate.sh]}
`), "")
	var list stack.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Println(e)
		}
	}
	// Output:
	// stack.yaml:7: components[0] "migrations": dependsOn "postgres" is not a component
}

func ExampleSubstitute() {
	out, err := stack.Substitute("http://127.0.0.1:${port:api}/health?ns=${namespace}&home=$HOME", stack.Vars{
		Namespace: "demo",
		Ports:     map[string]int{"api": 41234},
	})
	fmt.Println(out, err)
	// Output:
	// http://127.0.0.1:41234/health?ns=demo&home=$HOME <nil>
}

func ExampleStack_Validate() {
	s := &stack.Stack{
		APIVersion: stack.APIVersion,
		Kind:       stack.KindStack,
		Metadata:   stack.Metadata{Name: "demo"},
		Spec: stack.Spec{
			Components: []stack.Component{
				{Name: "redis", Manifests: []string{"testdata/example/deploy/redis.yaml"}},
				{Name: "seed", DependsOn: []string{"redis"}, Run: &stack.Run{Command: []string{"./seed.sh"}}},
			},
		},
	}
	s.Default()
	fmt.Println("namespace:", s.Spec.Namespace, "valid:", s.Validate() == nil)

	s.Spec.Components[1].DependsOn = []string{"postgres"}
	fmt.Println(s.Validate())
	// Output:
	// namespace: default valid: true
	// components[1] "seed": dependsOn "postgres" is not a component
}
