package assets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Pinned versions of what testbed's kind node image holds, besides the
// Kubernetes version the sim provider runs too. etcd, CoreDNS and pause are
// the versions kubeadm of KubernetesVersion asks for (`kubeadm config
// images list`), so that the node needs no kubeadm patch.
const (
	ContainerdVersion = "v2.3.4"
	RuncVersion       = "v1.4.3"
	CrictlVersion     = "v1.37.0"
	CNIPluginsVersion = "v1.9.1"
	CoreDNSVersion    = "v1.14.6"
	NodeEtcdVersion   = "v3.7.0"
	PauseVersion      = "3.10.2"
	// DebianSuite is the Debian release of the node's root filesystem and
	// of DebianImage: bookworm has systemd 252, and systemd 256 and later
	// refuse to boot on the cgroup v1 hosts testbed must run on.
	DebianSuite = "bookworm"
)

// DebianImage is the Debian root filesystem testbed imports once with
// `docker import` (debootstrap, minbase): the node image's base, and a base
// stacks can build their own images FROM where nothing can be pulled.
const DebianImage = "testbed.local/debian:" + DebianSuite

// NodeImageRepo is the repository of testbed's kind node images; the tag
// is the Kubernetes version and the content key.
const NodeImageRepo = "testbed.local/kind-node"

// keyLabel on the node image records its content key.
const keyLabel = "dev.testbed.node-key"

// node holds the modules the node's binaries are built from (with their
// go.sum) and the files laid over the Debian root filesystem: kind's base
// image files (sigs.k8s.io/kind v0.33.0, images/base/files, Apache-2.0) and
// testbed's own (testbed-entrypoint, the containerd config, the CNI
// config and the manifests kind applies).
//
//go:embed node
var node embed.FS

// NodeKey is the content key of the node image: it changes whenever a
// pinned version, an embedded module or file, or the platform changes.
func NodeKey() string {
	h := sha256.New()
	fmt.Fprintln(h, Key(), ContainerdVersion, RuncVersion, CrictlVersion, CNIPluginsVersion,
		CoreDNSVersion, NodeEtcdVersion, PauseVersion, DebianSuite, debianPackages, nodeDockerfile, importScript)
	for _, img := range cpImages() {
		fmt.Fprintln(h, img.ref, cpDockerfile(img.bin, img.base))
	}
	_ = fs.WalkDir(node, "node", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := node.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// NodeImage is the reference of testbed's kind node image.
func NodeImage() string { return NodeImageRepo + ":" + KubernetesVersion + "-" + NodeKey() }

// NodeOptions configures BuildNodeImage.
type NodeOptions struct {
	// CacheDir is where the node's binaries are built (under a versioned
	// directory) and the build lock lives; the same directory as the sim
	// assets'.
	CacheDir string
	// Force rebuilds the image (and the Debian base) even when present.
	Force bool
	// Docker is the container tool (default "docker").
	Docker string
	// Go is the go command (default "go" on PATH).
	Go string
	// Env is the environment of the commands it runs (default: this
	// process's).
	Env []string
	// Progress, if set, receives events while the build runs.
	Progress func(Event)
}

// EnsureNodeImage returns testbed's kind node image, building it first when
// the engine does not have it (or opts.Force is set). Concurrent callers are
// serialised by a lock file under opts.CacheDir.
func EnsureNodeImage(ctx context.Context, opts NodeOptions) (string, error) {
	ref := NodeImage()
	d := docker{bin: opts.Docker, env: opts.Env}
	if !opts.Force {
		if ok, err := d.has(ctx, ref); err != nil || ok {
			return ref, err
		}
	}
	return BuildNodeImage(ctx, opts)
}

// BuildNodeImage builds testbed's kind node image into the local engine, from
// the Go module proxy and Debian's packages only (no registry): the Debian
// root filesystem (debootstrap, imported once as DebianImage), containerd,
// runc, crictl, the CNI plugins, kubelet, kubeadm and kubectl in the node,
// and the control-plane images kubeadm runs (kube-apiserver,
// kube-controller-manager, kube-scheduler, kube-proxy, etcd, CoreDNS, pause)
// imported into the node's containerd, as kind's own node images are.
func BuildNodeImage(ctx context.Context, opts NodeOptions) (string, error) {
	emit := emitter("kind node image", opts.Progress)
	if opts.CacheDir == "" {
		return "", errors.New("build the kind node image: no cache directory given")
	}
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("build the kind node image: needs Linux (debootstrap, a Linux container engine), not %s", runtime.GOOS)
	}
	cacheDir, err := filepath.Abs(opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	d := docker{bin: opts.Docker, env: opts.Env}
	ref := NodeImage()
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(cacheDir, "kind-node.lock"), heartbeat, func() {
		emit(Event{Step: "lock", Message: "waiting for another testbed process that is building the kind node image"})
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if !opts.Force {
		if ok, err := d.has(ctx, ref); err != nil || ok {
			return ref, err
		}
	}

	// The sim's control plane (kube-apiserver, -controller-manager,
	// -scheduler, kubectl) is the node's too: build it first, or reuse it.
	set, err := Ensure(ctx, BuildOptions{CacheDir: cacheDir, Go: opts.Go, Env: opts.Env, Progress: opts.Progress})
	if err != nil {
		return "", err
	}
	bin, err := buildNodeBinaries(ctx, cacheDir, opts, emit)
	if err != nil {
		return "", err
	}
	for _, b := range []Binary{APIServer, ControllerManager, Scheduler, Kubectl} {
		if err := copyFile(set.Path(b), filepath.Join(bin, string(b))); err != nil {
			return "", fmt.Errorf("build the kind node image: %w", err)
		}
	}

	if err := ensureDebian(ctx, d, cacheDir, opts.Force, emit); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(cacheDir, ".kind-node-")
	if err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	defer os.RemoveAll(work)
	if err := buildNode(ctx, d, work, bin, ref, emit); err != nil {
		return "", err
	}
	emit(Event{Step: "verify", Message: "checking " + ref})
	if err := VerifyNodeImage(ctx, opts.Docker, ref); err != nil {
		return "", err
	}
	emit(Event{Step: "done", Message: "kind node image " + ref + " is ready"})
	return ref, nil
}

// VerifyNodeImage checks the node image ref in the engine (tool: "" is
// docker): it carries the content key this testbed builds, and the
// binaries in it run and say the pinned versions (kubeadm, kubelet,
// containerd, runc). It starts a throwaway container per binary, a few
// seconds in all.
func VerifyNodeImage(ctx context.Context, tool, ref string) error {
	d := docker{bin: tool}
	label, err := d.output(ctx, nil, "image", "inspect", "--format", "{{index .Config.Labels \""+keyLabel+"\"}}", ref)
	if err != nil {
		return fmt.Errorf("kind node image %s: %w", ref, err)
	}
	if got := strings.TrimSpace(label); got != NodeKey() {
		return fmt.Errorf("kind node image %s: content key %q, this testbed builds %q: rebuild with `testbed assets build --kind-node --force`", ref, got, NodeKey())
	}
	for _, c := range []struct{ bin, arg, want string }{
		{"/usr/bin/kubeadm", "version -o short", KubernetesVersion},
		{"/usr/bin/kubelet", "--version", KubernetesVersion},
		{"/usr/local/bin/containerd", "--version", ContainerdVersion},
		{"/usr/local/sbin/runc", "--version", strings.TrimPrefix(RuncVersion, "v")},
	} {
		out, err := d.output(ctx, nil, append([]string{"run", "--rm", "--entrypoint", c.bin, ref}, strings.Fields(c.arg)...)...)
		if err != nil {
			return fmt.Errorf("kind node image %s: %s %s: %w", ref, c.bin, c.arg, err)
		}
		if !strings.Contains(out, c.want) {
			return fmt.Errorf("kind node image %s: %s %s says %q, want %s: rebuild with `testbed assets build --kind-node --force`", ref, c.bin, c.arg, strings.TrimSpace(out), c.want)
		}
	}
	return nil
}

// nodeSteps are the Go builds of the node: module directory under
// node/mods, output names, targets, and whether cgo is on (runc's seccomp
// support needs libseccomp).
var nodeSteps = []struct {
	name    string
	cgo     bool
	tags    string
	ldflags string
	out     string // a file for one target, a directory (ending in /) for several
	targets []string
}{
	// As the sim assets' build (cgo as the go command defaults it), so that
	// the build cache serves most of it.
	{name: "k8s", cgo: true, out: "/", targets: []string{"k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kubeadm", "k8s.io/kubernetes/cmd/kube-proxy"}},
	{name: "containerd", tags: "no_aufs no_zfs no_btrfs no_devmapper", ldflags: "-X github.com/containerd/containerd/v2/version.Version=" + ContainerdVersion, out: "/",
		targets: []string{"github.com/containerd/containerd/v2/cmd/containerd", "github.com/containerd/containerd/v2/cmd/ctr", "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"}},
	{name: "runc", cgo: true, tags: "seccomp", ldflags: "-X main.version=" + strings.TrimPrefix(RuncVersion, "v"), out: "runc", targets: []string{"github.com/opencontainers/runc"}},
	{name: "crictl", out: "crictl", targets: []string{"sigs.k8s.io/cri-tools/cmd/crictl"}},
	{name: "cni", out: "cni/", targets: []string{"github.com/containernetworking/plugins/plugins/ipam/host-local",
		"github.com/containernetworking/plugins/plugins/main/loopback", "github.com/containernetworking/plugins/plugins/main/ptp",
		"github.com/containernetworking/plugins/plugins/meta/portmap"}},
	{name: "coredns", out: "coredns", targets: []string{"."}},
	{name: "etcd", out: "etcd", targets: []string{"."}},
}

// nodeBinaries are the files buildNodeBinaries leaves in its directory.
var nodeBinaries = []string{"kubelet", "kubeadm", "kube-proxy", "containerd", "ctr", "containerd-shim-runc-v2",
	"runc", "crictl", "cni/host-local", "cni/loopback", "cni/ptp", "cni/portmap", "coredns", "etcd", "pause"}

// buildNodeBinaries builds the node's binaries into a directory under
// cacheDir named by the content key, reusing it when complete.
func buildNodeBinaries(ctx context.Context, cacheDir string, opts NodeOptions, emit func(Event)) (string, error) {
	final := filepath.Join(cacheDir, "kind-node-"+NodeKey(), "bin")
	if complete(final) && !opts.Force {
		return final, nil
	}
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	goPath, err := exec.LookPath(goCmd)
	if err != nil {
		return "", fmt.Errorf("build the kind node image: the Go toolchain is needed: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, ".kind-node-bin-")
	if err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	defer os.RemoveAll(work)
	out := filepath.Join(work, "bin")
	if err := os.MkdirAll(filepath.Join(out, "cni"), 0o755); err != nil {
		return "", err
	}
	if err := writeTree(node, "node/mods", filepath.Join(work, "src"), true); err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(env, "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	r := &goRunner{goPath: goPath, env: env, emit: emit, throttle: throttle, heartbeat: heartbeat}
	for _, s := range nodeSteps {
		ld := "-s -w"
		if s.name == "k8s" {
			ld = k8sLDFlags()
		} else if s.ldflags != "" {
			ld += " " + s.ldflags
		}
		flags := []string{"-trimpath", "-ldflags", ld, "-o", filepath.Join(out, s.out)}
		if strings.HasSuffix(s.out, "/") {
			flags[len(flags)-1] += "/"
		}
		if s.tags != "" {
			flags = append(flags, "-tags", s.tags)
		}
		r.env = env
		if !s.cgo {
			// Static: etcd's and CoreDNS's images are FROM scratch.
			r.env = append(append([]string(nil), env...), "CGO_ENABLED=0")
		}
		if err := r.step(ctx, "node "+s.name, filepath.Join(work, "src", s.name), flags, s.targets); err != nil {
			if s.name == "runc" {
				err = fmt.Errorf("%w (runc needs cgo and libseccomp: install Debian's gcc and libseccomp-dev)", err)
			}
			return "", fmt.Errorf("build the kind node image (%s): %w", s.name, err)
		}
	}
	if err := buildPause(ctx, goPath, env, out); err != nil {
		return "", err
	}
	if err := os.RemoveAll(filepath.Join(work, "src")); err != nil {
		return "", err
	}
	if err := os.RemoveAll(filepath.Dir(final)); err != nil {
		return "", err
	}
	if err := os.Rename(work, filepath.Dir(final)); err != nil {
		return "", fmt.Errorf("build the kind node image: %w", err)
	}
	if !complete(final) {
		return "", fmt.Errorf("build the kind node image: binaries missing in %s", final)
	}
	return final, nil
}

// complete reports whether dir holds every node binary.
func complete(dir string) bool {
	for _, b := range nodeBinaries {
		if checkFile(filepath.Join(dir, b), -1) != nil {
			return false
		}
	}
	return true
}

// k8sLDFlags stamps the Kubernetes version into its binaries, as the sim
// assets' build does.
func k8sLDFlags() string {
	return strings.Join([]string{"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + KubernetesVersion,
		"-X", "k8s.io/component-base/version.gitMajor=1",
		"-X", "k8s.io/component-base/version.gitMinor=37",
		"-X", "k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion,
		"-X", "k8s.io/client-go/pkg/version.gitMajor=1",
		"-X", "k8s.io/client-go/pkg/version.gitMinor=37",
	}, " ")
}

// buildPause compiles the pause container's program from the Kubernetes
// module's source, statically, as Kubernetes' own image does.
func buildPause(ctx context.Context, goPath string, env []string, out string) error {
	src, err := moduleDir(ctx, goPath, env, "k8s.io/kubernetes", KubernetesVersion)
	if err != nil {
		return fmt.Errorf("build pause: %w", err)
	}
	cmd := exec.CommandContext(ctx, "gcc", "-Os", "-static", "-DVERSION="+PauseVersion, "-o", filepath.Join(out, "pause"),
		filepath.Join(src, "build", "pause", "linux", "pause.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build pause (gcc -static, Debian's gcc and libc6-dev): %w: %s", err, lastLines(string(b), 10))
	}
	return nil
}

// moduleDir returns where the go command keeps module@version's files.
func moduleDir(ctx context.Context, goPath string, env []string, module, version string) (string, error) {
	cmd := exec.CommandContext(ctx, goPath, "env", "GOMODCACHE")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), module+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("module %s@%s is not in the module cache: %w", module, version, err)
	}
	return dir, nil
}

// debianPackages are what debootstrap installs besides minbase: systemd
// and what kind's node scripts, containerd, the kubelet and kube-proxy run
// (jq: kind's mount-product-files hook).
const debianPackages = "systemd,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,procps,socat,findutils,jq"

// debianKeyLabel on DebianImage records the suite and packages it holds.
const debianKeyLabel = "dev.testbed.debian-key"

func debianKey() string {
	sum := sha256.Sum256([]byte(DebianSuite + " " + debianPackages))
	return hex.EncodeToString(sum[:6])
}

// ensureDebian imports DebianImage from a debootstrap'd root filesystem
// unless the engine has it with the packages debianPackages names.
func ensureDebian(ctx context.Context, d docker, cacheDir string, force bool, emit func(Event)) error {
	if !force {
		label, err := d.output(ctx, nil, "image", "inspect", "--format", "{{index .Config.Labels \""+debianKeyLabel+"\"}}", DebianImage)
		if err == nil && strings.TrimSpace(label) == debianKey() {
			return nil
		}
		if err != nil {
			if ok, herr := d.has(ctx, DebianImage); herr != nil || ok {
				return errors.Join(err, herr)
			}
		}
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("build the kind node image: debootstrap is needed for the Debian root filesystem: install Debian's debootstrap package (as root)")
	}
	emit(Event{Step: "debian", Message: "debootstrap " + DebianSuite + " (minbase, systemd, iptables; about a minute)"})
	root, err := os.MkdirTemp(cacheDir, ".debian-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include="+debianPackages, DebianSuite, root, "http://deb.debian.org/debian")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("debootstrap %s: %w: %s", DebianSuite, err, lastLines(string(b), 15))
	}
	emit(Event{Step: "debian", Message: "importing the root filesystem as " + DebianImage})
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-c", ".")
	imp := d.command(ctx, "import", "-c", "LABEL "+debianKeyLabel+"="+debianKey(), "-", DebianImage)
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin = pipe
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("tar the Debian root filesystem: %w", err)
	}
	ierr := imp.Run()
	terr := tarCmd.Wait()
	if ierr != nil {
		return fmt.Errorf("%s import %s: %w: %s", d.name(), DebianImage, ierr, lastLines(impOut.String(), 10))
	}
	if terr != nil {
		return fmt.Errorf("tar the Debian root filesystem: %w", terr)
	}
	return nil
}

// nodeDockerfile lays testbed's and kind's files and the node binaries
// (the build context) over the Debian root filesystem and sets systemd up
// as kind's base image does.
const nodeDockerfile = "FROM " + DebianImage + `
COPY . /
RUN chmod 755 /usr/local/bin/entrypoint /usr/local/bin/testbed-entrypoint /usr/local/bin/clean-install /kind/bin/*.sh \
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* /lib/systemd/system/local-fs.target.wants/* \
      /lib/systemd/system/sockets.target.wants/*udev* /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo ReadKMsg=no >> /etc/systemd/journald.conf \
 && ln -sf /usr/lib/systemd/systemd /sbin/init \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service \
 && mkdir -p /etc/kubernetes/manifests
ENV container=docker
STOPSIGNAL SIGRTMIN+3
`

// cpImages are the control-plane images kubeadm runs, as kubeadm names them.
func cpImages() []struct{ ref, bin, base string } {
	k := KubernetesVersion
	return []struct{ ref, bin, base string }{
		// The Kubernetes binaries may link the C library (cgo is on where a
		// C compiler is), and kube-proxy programs iptables: Debian's base.
		{"registry.k8s.io/kube-apiserver:" + k, "kube-apiserver", DebianImage},
		{"registry.k8s.io/kube-controller-manager:" + k, "kube-controller-manager", DebianImage},
		{"registry.k8s.io/kube-scheduler:" + k, "kube-scheduler", DebianImage},
		{"registry.k8s.io/kube-proxy:" + k, "kube-proxy", DebianImage},
		{"registry.k8s.io/etcd:" + strings.TrimPrefix(NodeEtcdVersion, "v") + "-0", "etcd", ""},
		{"registry.k8s.io/coredns/coredns:" + CoreDNSVersion, "coredns", ""},
		{"registry.k8s.io/pause:" + PauseVersion, "pause", ""},
	}
}

// privateRef is the name the control-plane image of binary bin is built
// under in the engine, before the node's containerd renames it.
func privateRef(bin, key string) string { return "testbed.local/kind-node-build/" + bin + ":" + key }

// cpDockerfile is the Dockerfile of the control-plane image of binary bin
// on base ("": FROM scratch).
func cpDockerfile(bin, base string) string {
	switch bin {
	case "coredns":
		return "FROM scratch\nCOPY coredns /coredns\nENTRYPOINT [\"/coredns\"]\n"
	case "pause":
		return "FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT [\"/pause\"]\n"
	}
	if base == "" {
		base = "scratch"
	}
	return fmt.Sprintf("FROM %s\nCOPY %s /usr/local/bin/%s\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nENTRYPOINT [\"/usr/local/bin/%s\"]\n", base, bin, bin, bin)
}

// buildNode builds the node image ref in work from the binaries in bin.
func buildNode(ctx context.Context, d docker, work, bin, ref string, emit func(Event)) (err error) {
	key := NodeKey()
	base := "testbed.local/kind-node-base:" + key
	emit(Event{Step: "node image", Message: "the node's root filesystem"})
	nctx := filepath.Join(work, "node")
	if err := writeTree(node, "node/files", nctx, false); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(nctx, "kind", "version"), []byte(KubernetesVersion), 0o644); err != nil {
		return err
	}
	binaries := map[string]string{
		"containerd": "usr/local/bin", "ctr": "usr/local/bin", "containerd-shim-runc-v2": "usr/local/bin", "crictl": "usr/local/bin",
		"runc": "usr/local/sbin", "kubelet": "usr/bin", "kubeadm": "usr/bin", "kubectl": "usr/bin",
		"cni/host-local": "opt/cni/bin", "cni/loopback": "opt/cni/bin", "cni/ptp": "opt/cni/bin", "cni/portmap": "opt/cni/bin",
	}
	for b, dir := range binaries {
		if err := copyFile(filepath.Join(bin, b), filepath.Join(nctx, dir, path.Base(b))); err != nil {
			return err
		}
	}
	dockerfile := nodeDockerfile
	if err := os.WriteFile(filepath.Join(work, "node.Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	// --force-rm: a step that fails leaves no container behind.
	if err := d.run(ctx, "build", "-q", "--force-rm", "--label", keyLabel+"="+key, "-f", filepath.Join(work, "node.Dockerfile"), "-t", base, nctx); err != nil {
		return err
	}
	defer func() { _ = d.run(context.WithoutCancel(ctx), "rmi", base) }()

	// The control-plane images are built under private names (the engine
	// may hold real registry.k8s.io images of the same tags, which must
	// stay untouched) and renamed inside the node; each built so far is
	// removed again, whatever fails next.
	var refs, renames []string
	defer func() {
		if len(refs) > 0 {
			_ = d.run(context.WithoutCancel(ctx), append([]string{"rmi"}, refs...)...)
		}
	}()
	for _, img := range cpImages() {
		emit(Event{Step: "node image", Message: "control-plane image " + img.ref})
		dir := filepath.Join(work, "cp", img.bin)
		if err := copyFile(filepath.Join(bin, img.bin), filepath.Join(dir, img.bin)); err != nil {
			return err
		}
		df := cpDockerfile(img.bin, img.base)
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			return err
		}
		private := privateRef(img.bin, key)
		if err := d.run(ctx, "build", "-q", "--force-rm", "-t", private, dir); err != nil {
			return err
		}
		refs = append(refs, private)
		renames = append(renames, private+"="+img.ref)
	}
	archive := filepath.Join(work, "images.tar")
	if err := d.run(ctx, append([]string{"save", "-o", archive}, refs...)...); err != nil {
		return err
	}

	// Import them into the node's containerd, pinned so that the kubelet's
	// image garbage collection keeps them, and commit the result.
	emit(Event{Step: "node image", Message: "importing the control-plane images into the node's containerd"})
	name := "testbed-kind-node-build-" + key
	_ = d.run(ctx, "rm", "-f", "-v", name)
	// Removed however the run ends: a `docker run` whose start fails, or
	// that is interrupted, can leave the container created.
	defer func() { _ = d.run(context.WithoutCancel(ctx), "rm", "-f", "-v", name) }()
	if err := d.run(ctx, "run", "-d", "--name", name, "--cap-add=SYS_ADMIN", "--security-opt", "seccomp=unconfined",
		"--security-opt", "apparmor=unconfined", "--entrypoint", "sleep", base, "infinity"); err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	listed, err := d.output(ctx, f, append([]string{"exec", "-i", name, "bash", "-c", importScript, "import"}, renames...)...)
	if err != nil {
		return err
	}
	have := strings.Fields(listed)
	for _, img := range cpImages() {
		if !slices.Contains(have, img.ref) || slices.Contains(have, privateRef(img.bin, key)) {
			return fmt.Errorf("node image: the node's containerd should hold %s (and not its build name) after the import; it holds:\n%s", img.ref, listed)
		}
	}
	emit(Event{Step: "node image", Message: "committing " + ref})
	return d.run(ctx, "commit",
		"--change", `ENTRYPOINT ["/usr/local/bin/testbed-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]`,
		"--change", `CMD []`,
		name, ref)
}

// importScript runs in the node build container: it starts containerd,
// imports the image archive on its standard input, renames each image
// PRIVATE=OFFICIAL its arguments name (pinned, so that the kubelet's image
// garbage collection keeps it) and lists the images.
const importScript = `set -e
containerd > /tmp/containerd.log 2>&1 &
pid=$!
for i in $(seq 1 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
ctr version > /dev/null || { cat /tmp/containerd.log; exit 1; }
ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - > /dev/null
for r in "$@"; do
  ctr --namespace=k8s.io images tag --force "${r%%=*}" "${r#*=}" > /dev/null
  ctr --namespace=k8s.io images label "${r#*=}" io.cri-containerd.pinned=pinned > /dev/null
  ctr --namespace=k8s.io images rm "${r%%=*}" > /dev/null
done
ctr --namespace=k8s.io images list -q
kill $pid; wait $pid || true
rm -f /tmp/containerd.log`

// docker runs the container tool.
type docker struct {
	bin string
	env []string
}

func (d docker) command(ctx context.Context, args ...string) *exec.Cmd {
	bin := d.bin
	if bin == "" {
		bin = "docker"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = d.env
	return cmd
}

// name is the tool as the user named it.
func (d docker) name() string {
	if d.bin == "" {
		return "docker"
	}
	return d.bin
}

// run runs the tool; an error names the command and carries its output.
func (d docker) run(ctx context.Context, args ...string) error {
	_, err := d.output(ctx, nil, args...)
	return err
}

// output runs the tool with stdin and returns its standard output.
func (d docker) output(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := d.command(ctx, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%s %s: %w: %s", cmd.Path, strings.Join(args, " "), err, lastLines(errb.String()+out.String(), 15))
	}
	return out.String(), nil
}

// has reports whether the engine has image ref.
func (d docker) has(ctx context.Context, ref string) (bool, error) {
	cmd := d.command(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		msg := strings.ToLower(errb.String())
		if strings.Contains(msg, "no such image") || strings.Contains(msg, "no such object") || strings.Contains(msg, "image not known") {
			return false, nil
		}
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return false, fmt.Errorf("%s image inspect %s: %w", d.name(), ref, err)
	}
	return true, nil
}

// writeTree writes the embedded tree under root to dst; trimTxt drops the
// .txt suffix that keeps Go files in the tree data.
func writeTree(fsys embed.FS, root, dst string, trimTxt bool) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		target := filepath.Join(dst, rel)
		if trimTxt {
			target = strings.TrimSuffix(target, ".txt")
		}
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// copyFile copies src to dst (creating dst's directory), executable.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// lastLines returns the last n lines of s, trimmed.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
