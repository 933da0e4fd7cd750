package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clusterBusOffset is the distance between a node's client port and its
// cluster bus port (Redis' default).
const clusterBusOffset = 10000

// clusterTimeout bounds the creation of a cluster and its convergence.
const clusterTimeout = 60 * time.Second

// pollEvery is how often StartCluster re-reads CLUSTER INFO while waiting.
const pollEvery = 50 * time.Millisecond

// Cluster is a Redis Cluster of masters only, each a local redis-server.
type Cluster struct {
	tb    testing.TB
	nodes []*Server
}

// StartCluster starts masters (at least 3) redis-server processes with
// cluster mode on, joins them with redis-cli --cluster create (no replicas),
// and waits until every node reports cluster_state:ok. The processes are
// killed by tb.Cleanup.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	cli := lookBinary(tb, "redis-cli")
	c := &Cluster{tb: tb}
	for range masters {
		c.nodes = append(c.nodes, start(tb, freeClusterPort, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.nodes {
		if err := waitClusterOK(ctx, n.Addr(), masters); err != nil {
			tb.Fatalf("redistest: %v", err)
		}
	}
	return c
}

// Addrs returns the addresses of the cluster's nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Nodes returns the cluster's servers, to kill or inspect one.
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Client returns a new cluster client, closed by the test's cleanup.
func (c *Cluster) Client() *goredis.ClusterClient {
	cl := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	c.tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// waitClusterOK polls CLUSTER INFO on addr until the node sees the whole
// cluster (all nodes known, state ok) or ctx ends.
func waitClusterOK(ctx context.Context, addr string, nodes int) error {
	cl := goredis.NewClient(&goredis.Options{Addr: addr})
	defer cl.Close()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	want := []string{"cluster_state:ok", "cluster_known_nodes:" + strconv.Itoa(nodes)}
	var info string
	for {
		var err error
		info, err = cl.ClusterInfo(ctx).Result()
		if err == nil && containsAll(info, want) {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("cluster node %s not ready (%v); last CLUSTER INFO:\n%s", addr, ctx.Err(), info)
		}
	}
}

// containsAll reports whether every line of want is a line of info.
func containsAll(info string, want []string) bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(info, "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !lines[w] {
			return false
		}
	}
	return true
}

// freeClusterPort returns a free port whose cluster bus port is free too.
func freeClusterPort() (int, error) {
	const attempts = 50
	for range attempts {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		bus := port + clusterBusOffset
		if bus > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(bus)))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port with a free cluster bus port after %d attempts", attempts)
}
