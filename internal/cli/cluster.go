package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/image"
)

func newAssetsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "Build, check and locate the sim provider's control-plane binaries and testbed's kind node image",
		Long: `The sim provider runs kube-apiserver, kube-controller-manager, kube-scheduler
and kubectl (Kubernetes ` + assets.KubernetesVersion + `), etcd ` + assets.EtcdVersion + ` and kwok ` + assets.KwokVersion + `.
They are compiled once from the Go module proxy at those pinned versions into
--assets-dir, which takes about 10 minutes on 2 cores; later runs reuse them.

With --kind-node, build and verify act on testbed's kind node image instead:
the node image kind runs where its own cannot be pulled, built from the same
binaries, the Go module proxy and Debian's packages.`,
	}
	parent(cmd)
	var force, kindNode, verifyNode bool
	var tool, verifyTool string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the control-plane binaries, or the kind node image (once; --force to rebuild)",
		Long: `Build the sim provider's control-plane binaries into --assets-dir (about 10
minutes on 2 cores, once).

With --kind-node, build testbed's kind node image into the local container
engine instead, for machines where kind's own image cannot be pulled: a Debian
` + assets.DebianSuite + ` root filesystem (debootstrap, imported once as ` + assets.DebianImage + `,
which stacks may build their images FROM), containerd ` + assets.ContainerdVersion + `, runc ` + assets.RuncVersion + `,
crictl ` + assets.CrictlVersion + `, the CNI plugins ` + assets.CNIPluginsVersion + ` and Kubernetes ` + assets.KubernetesVersion + ` (kubelet,
kubeadm, kubectl), with the control-plane images kubeadm runs (etcd ` + assets.NodeEtcdVersion + `,
CoreDNS ` + assets.CoreDNSVersion + `, pause ` + assets.PauseVersion + `) inside, all from the Go module proxy and
Debian's packages. It needs root (debootstrap), gcc and libseccomp-dev (runc),
and takes about 7 minutes on 2 cores the first time (after the sim assets,
whose build cache it shares). The kind provider uses it
by itself when a stack names no node image and kind's is not here.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			show := newBuildRenderer(g.stderr, isTerminal(g.stderr))
			if tool != "" && !kindNode {
				return invalid(errors.New("--container-tool: only with --kind-node (the sim binaries need no container engine)"))
			}
			if kindNode {
				engine, err := nodeEngine(cmd.Context(), tool)
				if err != nil {
					return err
				}
				ref, err := assets.EnsureNodeImage(cmd.Context(), assets.NodeOptions{CacheDir: g.assetsDir, Force: force, Docker: engine, Progress: show.Event})
				show.Close()
				if err != nil {
					return infra(err)
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			}
			set, err := assets.Ensure(cmd.Context(), assets.BuildOptions{CacheDir: g.assetsDir, Force: force, Progress: show.Event})
			show.Close()
			if err != nil {
				return infra(err)
			}
			fmt.Fprintln(g.stdout, set.Dir)
			return nil
		},
	}
	build.Flags().BoolVar(&force, "force", false, "rebuild even if a complete set (or image) is cached")
	build.Flags().BoolVar(&kindNode, "kind-node", false, "build testbed's kind node image into the container engine")
	build.Flags().StringVar(&tool, "container-tool", "", "with --kind-node: the container engine, docker or podman (default: docker if its daemon answers, else podman)")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every cached binary against the checksum recorded when it was built (--kind-node: the node image)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if verifyTool != "" && !verifyNode {
				return invalid(errors.New("--container-tool: only with --kind-node (the sim binaries need no container engine)"))
			}
			if verifyNode {
				engine, err := nodeEngine(cmd.Context(), verifyTool)
				if err != nil {
					return err
				}
				if err := assets.VerifyNodeImage(cmd.Context(), engine, assets.NodeImage()); err != nil {
					return infra(err)
				}
				g.progress("kind node image %s is intact", assets.NodeImage())
				return nil
			}
			if err := assets.Verify(cmd.Context(), assets.Dir(g.assetsDir)); err != nil {
				return infra(err)
			}
			g.progress("sim assets in %s are intact", assets.Dir(g.assetsDir))
			return nil
		},
	}
	verify.Flags().BoolVar(&verifyNode, "kind-node", false, "check testbed's kind node image: its content key, and that its kubeadm, kubelet, containerd and runc run and are the pinned versions")
	verify.Flags().StringVar(&verifyTool, "container-tool", "", "with --kind-node: the container engine, docker or podman (default: docker if its daemon answers, else podman)")
	path := &cobra.Command{
		Use:   "path",
		Short: "Print the directory holding the binaries (fails if they are not built)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := g.openAssets()
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, set.Dir)
			return nil
		},
	}
	cmd.AddCommand(build, verify, path)
	return cmd
}

// nodeEngine returns the container engine of the kind node image as
// --container-tool names it ("": docker if its daemon answers, else
// podman), as up chooses it: an unknown name is invalid, one that does not
// answer an infrastructure failure.
func nodeEngine(ctx context.Context, tool string) (string, error) {
	if tool != "" && tool != image.Docker && tool != image.Podman {
		return "", invalid(fmt.Errorf("--container-tool %q: want docker or podman", tool))
	}
	engine, err := image.NewTool(ctx, tool)
	if err != nil {
		return "", infra(fmt.Errorf("the kind node image lives in a container engine: %w", err))
	}
	return engine.Name(), nil
}

func (g *globals) openAssets() (*assets.Set, error) {
	if g.binDir != "" {
		set, err := assets.UseBinaries(g.binDir)
		if err != nil {
			return nil, invalid(err)
		}
		return set, nil
	}
	set, err := assets.Open(assets.Dir(g.assetsDir))
	if err != nil {
		return nil, infra(err)
	}
	return set, nil
}

// ensureAssets returns the control-plane binaries, building them the first
// time (see assets.Resolve).
func (g *globals) ensureAssets(ctx context.Context) (*assets.Set, error) {
	show := newBuildRenderer(g.stderr, isTerminal(g.stderr))
	set, err := assets.Resolve(ctx, g.binDir, assets.BuildOptions{CacheDir: g.assetsDir, Progress: show.Event}, func() {
		g.progress("sim assets: not built yet in %s; building them once from the Go module proxy (about 10 minutes on 2 cores)", g.assetsDir)
	})
	show.Close()
	if err != nil && g.binDir != "" {
		return nil, invalid(err)
	}
	if err != nil {
		return nil, infra(err)
	}
	return set, nil
}

func (g *globals) simProvider(set *assets.Set, nodes int) (*sim.Provider, error) {
	return sim.New(sim.Options{
		StateDir: g.stateDir + "/clusters",
		Assets:   set,
		Nodes:    nodes,
		Progress: func(ev sim.Event) {
			g.progress("cluster %s: %s", ev.Cluster, ev.Message)
		},
	}), nil
}

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create, delete and list bare sim clusters (no stack)",
		Long: `A sim cluster is a real Kubernetes control plane with simulated nodes, run as
local processes bound to 127.0.0.1 on free ports. The processes outlive the
command; 'testbed cluster delete' stops them and removes every file.

  kubeconfig="$(testbed cluster create --name demo)"   # prints the kubeconfig path
  kubectl --kubeconfig "$kubeconfig" get nodes
  testbed cluster list
  testbed cluster delete --name demo`,
	}
	parent(cmd)
	var name string
	var nodes int
	create := &cobra.Command{
		Use:   "create",
		Short: "Start a sim cluster and print its kubeconfig path",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sim.ValidateName(name); err != nil {
				return invalid(err)
			}
			if nodes < 1 || nodes > 1000 {
				return invalid(fmt.Errorf("--nodes must be between 1 and 1000, got %d", nodes))
			}
			set, err := g.ensureAssets(cmd.Context())
			if err != nil {
				return err
			}
			p, err := g.simProvider(set, nodes)
			if err != nil {
				return err
			}
			c, err := p.Create(cmd.Context(), name)
			var exists *sim.ExistsError
			if errors.As(err, &exists) {
				return invalid(err)
			}
			if err != nil {
				return infra(err)
			}
			fmt.Fprintln(g.stdout, c.Kubeconfig)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", sim.DefaultName, "cluster name (a DNS-1123 label)")
	create.Flags().IntVar(&nodes, "nodes", 3, "number of simulated nodes")

	var delName string
	del := &cobra.Command{
		Use:   "delete",
		Short: "Stop a sim cluster's processes and remove its state",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := sim.New(sim.Options{StateDir: g.stateDir + "/clusters", Progress: func(ev sim.Event) {
				g.progress("cluster %s: %s", ev.Cluster, ev.Message)
			}})
			err := p.Delete(cmd.Context(), delName)
			var nf *sim.NotFoundError
			if errors.As(err, &nf) {
				return invalid(err)
			}
			if err != nil {
				if sim.ValidateName(delName) != nil {
					return invalid(err)
				}
				return infra(err)
			}
			return nil
		},
	}
	del.Flags().StringVar(&delName, "name", sim.DefaultName, "cluster name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List sim clusters with their state and kubeconfig",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := sim.New(sim.Options{StateDir: g.stateDir + "/clusters"})
			cs, err := p.List(cmd.Context())
			if err != nil {
				return infra(err)
			}
			if len(cs) == 0 {
				g.progress("no sim clusters")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tNODES\tAGE\tKUBECONFIG")
			for _, c := range cs {
				status := "running"
				if err := c.Healthy(); err != nil {
					status = "degraded"
					for _, ps := range c.Processes() {
						if !ps.Running {
							status += " (" + ps.Name + " down)"
						}
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.Name, status, c.Nodes, time.Since(c.CreatedAt).Round(time.Second), c.Kubeconfig)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, del, list)
	return cmd
}

func newGateCmd() *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:    "sim-gate",
		Short:  "Run the sim gate (started by sim clusters; not for direct use)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return invalid(err)
			}
			cfg.QPS, cfg.Burst = 200, 400
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return infra(err)
			}
			err = sim.RunGate(cmd.Context(), cs, sim.GateLogf(cmd.ErrOrStderr()))
			if cmd.Context().Err() != nil {
				return nil // stopped by SIGTERM: a normal exit
			}
			return err
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	return cmd
}
