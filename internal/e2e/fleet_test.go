package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

// clusterEnv is what a BBB server of a fleet runs with: the three-node cluster's URLs, replicas 3, its server id.
func clusterEnv(url, server string) map[string]string {
	return map[string]string{"BBB_CHAT_NATS_URL": url, "BBB_CHAT_NATS_REPLICAS": "3", "BBB_CHAT_SERVER_ID": server}
}

// TestReplicasBootRace: BBB_CHAT_NATS_REPLICAS=3 with relay's default BBB_CHAT_NATS_EMBEDDED=true, and relay up
// before the cluster (a boot race). Relay must not start its embedded server on the first node's address: that
// single server could hold no bucket with 3 replicas, would keep the node out, and every API call would answer 503.
// It waits for the cluster instead, and once the nodes are up a chat starts.
func TestReplicasBootRace(t *testing.T) {
	nodes := testenv.NATSCluster(t)
	url := testenv.NATSClusterURL(nodes)
	e := newEnvOn(t, "3.0", true, nodes[0], clusterEnv(url, "bbb-a"))
	e.relay.Kill()
	e.ingress.Kill()
	for _, n := range nodes {
		n.Stop()
	}
	m := e.commonEnv()
	m["BBB_CHAT_NATS_EMBEDDED"] = "true"
	m["BBB_CHAT_NATS_STORE"] = t.TempDir()
	m["BBB_CHAT_RELAY_LISTEN"] = strings.TrimPrefix(e.relayURL, "http://")
	relay := testenv.StartProc(t, e.relayBin, m)
	testenv.Eventually(t, 10*time.Second, "relay says it waits for the cluster", func() bool {
		return strings.Contains(relay.Output(), "not starting the embedded NATS server")
	})
	for _, n := range nodes {
		n.Start()
	}
	testenv.WaitHTTP(t, e.relayURL+"/readyz", 30*time.Second)
	e.startIngress()
	mt := e.meeting("boot-race", "Boot race")
	r := newReceiver(t)
	expect(t, e.call(callStart, "meeting_id", mt.IntID, "chat_user", "Bridge", "callback_uri", r.URL(),
		"callback_secret", "cb-boot"), 200, "started")
	if strings.Contains(relay.Output(), "started the embedded NATS") {
		t.Fatalf("relay embedded a server:\n%s", relay.Output())
	}
}

// TestReplicasOnOneServer: BBB_CHAT_NATS_REPLICAS=3 on a single nats-server. NATS answers but refuses every bucket:
// ingress says that, not "NATS is unreachable", so the operator knows retrying will not help.
func TestReplicasOnOneServer(t *testing.T) {
	srv := testenv.NATS(t)
	rds := testenv.Redis(t)
	listen := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := hostFiles(t)
	for k, v := range map[string]string{
		"BBB_CHAT_REDIS_URL": testenv.RedisURL(rds), "BBB_CHAT_NATS_URL": testenv.NATSURL(srv),
		"BBB_CHAT_NATS_REPLICAS": "3", "BBB_CHAT_LISTEN": listen, "BBB_CHAT_BBB_VERSION": "3.0",
		"BBB_CHAT_METRICS_LISTEN": "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), "BBB_CHAT_SHARED_SECRET": testSecret,
	} {
		env[k] = v
	}
	p := testenv.StartProc(t, testenv.Build(t, "./ingress", "ingress"), env)
	testenv.WaitTCP(t, listen, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "ingress tried to open the state", func() bool {
		return strings.Contains(p.Output(), "cannot open state")
	})
	c := apiClient{t: t, url: "http://" + listen, secret: testSecret}
	a := c.call(callStart, "meeting_id", "m1", "chat_user", "Bridge")
	expect(t, a, 503, "BBB_CHAT_NATS_REPLICAS")
	if !strings.Contains(p.Output(), "needs a NATS cluster of at least 3") {
		t.Errorf("ingress's log does not say what to change:\n%s", p.Output())
	}
}
