package stack

import (
	"strings"
	"testing"
)

func TestSubstitute(t *testing.T) {
	vars := Vars{
		Stack:     "gateway-e2e",
		Namespace: "kubernaut-system",
		Run:       "k3x9q",
		Images:    map[string]string{"api": "testbed.local/api:k3x9q"},
		Ports:     map[string]int{"api-http": 41234},
	}
	tests := []struct {
		name    string
		text    string
		want    string
		wantErr string
	}{
		{name: "image", text: "image: ${image:api}", want: "image: testbed.local/api:k3x9q"},
		{name: "port", text: "http://127.0.0.1:${port:api-http}/health", want: "http://127.0.0.1:41234/health"},
		{name: "namespace, stack and run", text: "${stack}-${run}.${namespace}", want: "gateway-e2e-k3x9q.kubernaut-system"},
		{name: "several on several lines", text: "a: ${image:api}\nb: ${port:api-http}\n", want: "a: testbed.local/api:k3x9q\nb: 41234\n"},
		{name: "plain $VAR left alone", text: "echo $HOME $1", want: "echo $HOME $1"},
		{name: "${VAR} left alone", text: "echo ${HOME} ${image}", want: "echo ${HOME} ${image}"},
		{name: "shell default left alone", text: "${PGHOST:-localhost} ${X:=1} ${Y:+y} ${Z: -1}", want: "${PGHOST:-localhost} ${X:=1} ${Y:+y} ${Z: -1}"},
		{name: "unterminated left alone", text: "${image:api", want: "${image:api"},
		{name: "unknown kind", text: "${secret:db}", wantErr: "unknown substitution ${secret:db}: want ${image:NAME}, ${port:NAME}, ${namespace}, ${stack} or ${run}"},
		{name: "kind that takes no name", text: "${run:id}", wantErr: "unknown substitution ${run:id}"},
		{name: "unknown image", text: "${image:web}", wantErr: `${image:web}: no value for image "web"`},
		{name: "unknown port", text: "${port:web}", wantErr: `${port:web}: no value for port "web"`},
		{name: "errors name the line in multi-line text", text: "ok: 1\nbad: ${port:web}\n", wantErr: `line 2: ${port:web}: no value for port "web"`},
		{name: "every error", text: "${image:a} ${port:b}", wantErr: "${image:a}: no value for image \"a\"\n${port:b}: no value for port \"b\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Substitute(tt.text, vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Substitute: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubstituteNeedsValues(t *testing.T) {
	_, err := Substitute("${namespace}", Vars{})
	if err == nil || err.Error() != "${namespace}: no value for ${namespace}" {
		t.Errorf("got %v", err)
	}
}

func TestNewRunID(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		id := NewRunID()
		if len(id) != 5 || strings.Trim(id, "abcdefghijkmnpqrstuvwxyz23456789") != "" {
			t.Fatalf("NewRunID() = %q: want 5 of [a-km-np-z2-9]", id)
		}
		seen[id] = true
	}
	if len(seen) < 45 {
		t.Errorf("50 run IDs, only %d distinct", len(seen))
	}
}
