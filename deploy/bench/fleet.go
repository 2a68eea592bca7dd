package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The fleet phases (-fleet, docs/performance.md "Fleet"): after the usual run on one nats-server, the same forward
// load on a three-node JetStream cluster with BBB_CHAT_NATS_REPLICAS=3 (docs/fleet.md), first with one BBB server on
// it, then with two, the offered rate split over both servers' meetings. Then, with -send-rate above 0,
// sendChatMessage calls for the second server's meetings, made on its own ingress and, at the same rate, through the
// first server's ingress, which forwards each over NATS to the meeting's server.
//
// Each BBB server is a bench of its own (its redis-server, simulator, relay, ingress, callback receivers and NATS
// subscriber), set up by the usual run's setup with the cluster as its external NATS, so the load generator, the
// accounting of every message and the latencies are the usual run's. The cluster's nodes, like the one-node run's
// nats-server, are on this machine: all three share its cores with everything else.

// fleetSeqB starts the second server's message sequence numbers: both servers' NATS subscribers read the whole
// fleet's stream, and each must recognise only its own server's messages.
const fleetSeqB = 1 << 40

// fleetSendBase and fleetForwardedBase keep the send phases' sequence numbers (nonces, markers) apart.
const (
	fleetSendBase      = 2 << 40
	fleetForwardedBase = 3 << 40
)

// fleetResult is the -fleet phases beside the one-node run's figures.
type fleetResult struct {
	Servers           int     `json:"servers"`
	NATSNodes         int     `json:"nats_nodes"`
	Replicas          int     `json:"replicas"`
	MeetingsPerServer int     `json:"meetings_per_server"`
	Offered           float64 `json:"forward_offered_rate"`

	// The usual run (one nats-server, replicas 1), copied here to be read beside the others.
	OneNodeForward   float64 `json:"one_node_forward_per_s"`
	OneNodeP50       float64 `json:"one_node_p50_ms"`
	OneNodeP99       float64 `json:"one_node_p99_ms"`
	OneNodeMax       float64 `json:"one_node_max_ms"`
	OneNodeLost      int     `json:"one_node_lost"`
	OneNodeNATSP99   float64 `json:"one_node_nats_p99_ms"`
	OneNodeRelay     float64 `json:"one_node_relay_cpu_s_per_1k"`
	OneNodeNATS      float64 `json:"one_node_nats_cpu_s_per_1k"`
	OneNodeIdleNATS  float64 `json:"one_node_idle_nats_cpu_ms_per_s"`
	OneNodeIdleRelay float64 `json:"one_node_idle_relay_cpu_ms_per_s"`

	// One BBB server on the cluster.
	SingleForward  float64 `json:"single_forward_per_s"`
	SingleP50      float64 `json:"single_p50_ms"`
	SingleP99      float64 `json:"single_p99_ms"`
	SingleMax      float64 `json:"single_max_ms"`
	SingleLost     int     `json:"single_lost"`
	SingleDup      int64   `json:"single_duplicates"`
	SingleNATSP99  float64 `json:"single_nats_p99_ms"`
	SingleNATSLost int     `json:"single_nats_lost"`
	SingleRelay    float64 `json:"single_relay_cpu_s_per_1k"`
	SingleNATS     float64 `json:"single_nats_cpu_s_per_1k"` // the three nodes together
	// CPU while nothing happens, ms per second: the three nodes together, the relays together.
	SingleIdleNATS  float64 `json:"single_idle_nats_cpu_ms_per_s"`
	SingleIdleRelay float64 `json:"single_idle_relay_cpu_ms_per_s"`

	// Two BBB servers on the cluster, each at half the offered rate: latencies of both servers' messages together.
	FleetForward   float64 `json:"fleet_forward_per_s"`
	FleetP50       float64 `json:"fleet_p50_ms"`
	FleetP99       float64 `json:"fleet_p99_ms"`
	FleetMax       float64 `json:"fleet_max_ms"`
	FleetLost      int     `json:"fleet_lost"`
	FleetDup       int64   `json:"fleet_duplicates"`
	FleetNATSP99   float64 `json:"fleet_nats_p99_ms"`
	FleetNATSLost  int     `json:"fleet_nats_lost"`
	FleetRelay     float64 `json:"fleet_relay_cpu_s_per_1k"` // both relays together
	FleetNATS      float64 `json:"fleet_nats_cpu_s_per_1k"`
	FleetIdleNATS  float64 `json:"fleet_idle_nats_cpu_ms_per_s"`
	FleetIdleRelay float64 `json:"fleet_idle_relay_cpu_ms_per_s"`
	FleetAForward  float64 `json:"fleet_a_forward_per_s"`
	FleetAP99      float64 `json:"fleet_a_p99_ms"`
	FleetBForward  float64 `json:"fleet_b_forward_per_s"`
	FleetBP99      float64 `json:"fleet_b_p99_ms"`
	BenchCPUShare  float64 `json:"fleet_bench_cpu_share"` // of all the CPU the run's processes used in the phase

	SingleToOneNodeP99 float64 `json:"ratio_single_to_one_node_p99"`
	FleetToSingleP99   float64 `json:"ratio_fleet_to_single_p99"`

	// Peak resident memory at the end (MB): each server's relay and ingress, the largest of the nodes.
	RelayARSS   float64 `json:"relay_a_rss_mb"`
	RelayBRSS   float64 `json:"relay_b_rss_mb"`
	IngressARSS float64 `json:"ingress_a_rss_mb"`
	IngressBRSS float64 `json:"ingress_b_rss_mb"`
	NATSNodeRSS float64 `json:"nats_node_rss_mb"`

	// sendChatMessage for server B's meetings: on B's ingress, and through A's (forwarded over NATS).
	SendOffered       float64 `json:"send_offered_rate,omitempty"`
	DirectSendRate    float64 `json:"direct_send_per_s,omitempty"`
	DirectSendP50     float64 `json:"direct_send_p50_ms,omitempty"`
	DirectSendP99     float64 `json:"direct_send_p99_ms,omitempty"`
	DirectSendErrors  int     `json:"direct_send_errors"`
	DirectSendShed    int     `json:"direct_send_shed"` // not sent: every connection of the generator was busy
	DirectSendLost    int     `json:"direct_send_lost"` // answered 200 and not in B's BBB chat 10 s later
	DirectDropBBB     int     `json:"direct_send_dropped_by_bbb"`
	DirectIngressCPU  float64 `json:"direct_ingress_b_cpu_s_per_1k,omitempty"`
	DirectNATSCPU     float64 `json:"direct_nats_cpu_s_per_1k,omitempty"`
	ForwardedRate     float64 `json:"forwarded_send_per_s,omitempty"`
	ForwardedP50      float64 `json:"forwarded_send_p50_ms,omitempty"`
	ForwardedP99      float64 `json:"forwarded_send_p99_ms,omitempty"`
	ForwardedErrors   int     `json:"forwarded_send_errors"`
	ForwardedShed     int     `json:"forwarded_send_shed"`
	ForwardedLost     int     `json:"forwarded_send_lost"`
	ForwardedDropBBB  int     `json:"forwarded_send_dropped_by_bbb"`
	ForwardedACPU     float64 `json:"forwarded_ingress_a_cpu_s_per_1k,omitempty"`
	ForwardedBCPU     float64 `json:"forwarded_ingress_b_cpu_s_per_1k,omitempty"`
	ForwardedNATSCPU  float64 `json:"forwarded_nats_cpu_s_per_1k,omitempty"`
	SendErrorSample   string  `json:"send_error_sample,omitempty"`
	ForwardedToDirect float64 `json:"ratio_forwarded_to_direct_p99,omitempty"`

	CallbacksChecked  int64 `json:"callback_signatures_checked"`
	CallbacksBad      int64 `json:"callback_signatures_bad"`
	CallbackMisrouted int64 `json:"callback_misrouted"`
}

// fleetRun is what the fleet phases started.
type fleetRun struct {
	logf  func(format string, args ...any)
	nodes []*proc.Process
	a, b  *bench
}

// procs is the CPU time and memory of each of ps now (zero for a process not started or gone).
func procs(ps ...*proc.Process) []procStat {
	out := make([]procStat, len(ps))
	for i, p := range ps {
		if p != nil && !p.Exited() {
			out[i], _ = readProcStat(p.Pid())
		}
	}
	return out
}

// cpuSince is the CPU the processes used since before (same order), together.
func cpuSince(before, after []procStat) time.Duration {
	var d time.Duration
	for i := range before {
		d += after[i].CPU - before[i].CPU
	}
	return d
}

// prefixWriter starts every write with prefix: each server's log lines say which server they are about.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

// runFleet runs the fleet phases after the usual run (base), whose processes stopBaseline stops once the binaries
// built for it are kept aside for the fleet's servers.
func (b *bench) runFleet(ctx context.Context, getenv func(string) string, stopBaseline func(), base result) (*fleetResult, error) {
	cfg := b.cfg
	var cl cleanups
	defer cl.run()
	dir, err := os.MkdirTemp("", "bbb-chat-bench-fleet-")
	if err != nil {
		return nil, err
	}
	cl.add(func() { os.RemoveAll(dir) })
	ingressBin, relayBin := filepath.Join(dir, "ingress"), filepath.Join(dir, "relay")
	if err := errors.Join(os.Rename(b.ingressBin, ingressBin), os.Rename(b.relayBin, relayBin)); err != nil {
		return nil, fmt.Errorf("keeping the binaries: %w", err)
	}
	stopBaseline()

	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := proc.FindRoot(wd)
	if err != nil {
		return nil, err
	}
	natsBin, err := proc.NATSServerBinary(ctx, root, getenv)
	if err != nil {
		return nil, err
	}
	var ports proc.Ports
	servers, err := proc.NATSCluster(natsBin, filepath.Join(dir, "nats"), &ports)
	if err != nil {
		return nil, err
	}
	fr := &fleetRun{logf: b.logf}
	for _, s := range servers {
		s.LogFile = b.logFile(dir, s.Name)
		if err := s.Start(ctx); err != nil {
			return nil, err
		}
		cl.add(func() { s.Stop(5 * time.Second) })
		fr.nodes = append(fr.nodes, s.Process())
	}
	url := proc.NATSClusterURL(servers)
	b.logf("fleet: three-node NATS cluster at %s", url)
	if err := waitJetStream(ctx, url); err != nil {
		return nil, err
	}

	server := func(id, secret string) (*bench, error) {
		c := cfg
		c.natsURL, c.redisURL, c.rev, c.patches, c.profiles, c.confirmRate = url, "", "", nil, false, 0
		c.env = append(slices.Clone(cfg.env), "BBB_CHAT_SERVER_ID="+id, "BBB_CHAT_NATS_REPLICAS=3")
		if cfg.logDir != "" {
			c.logDir = filepath.Join(cfg.logDir, id)
			if err := os.MkdirAll(c.logDir, 0o755); err != nil {
				return nil, err
			}
		}
		s := &bench{cfg: c, log: prefixWriter{b.log, "[" + id + "] "}, runID: randomHex(4), secret: secret,
			cbSecret: "bench-callback-" + randomHex(16), ingressBin: ingressBin, relayBin: relayBin}
		if err := s.setup(ctx, getenv, &cl); err != nil {
			return nil, fmt.Errorf("server %s: %w", id, err)
		}
		return s, nil
	}
	// One secret for both servers, as for one public address of the fleet (docs/fleet.md): a call signed for B's
	// ingress is valid on A's.
	if fr.a, err = server("bbb-a", "bench-"+randomHex(16)); err != nil {
		return nil, err
	}
	res := &fleetResult{Servers: 2, NATSNodes: len(fr.nodes), Replicas: 3, MeetingsPerServer: cfg.meetings,
		Offered: cfg.rate, OneNodeForward: base.ForwardRate, OneNodeP50: base.ForwardP50, OneNodeP99: base.ForwardP99,
		OneNodeMax: base.ForwardMax, OneNodeLost: base.ForwardLost, OneNodeNATSP99: base.NATSP99,
		OneNodeRelay: base.RelayCPUPer1k, OneNodeNATS: base.NATSCPUPer1k, OneNodeIdleNATS: base.IdleNATSCPU,
		OneNodeIdleRelay: base.IdleRelayCPU}

	if res.SingleIdleNATS, res.SingleIdleRelay, err = fr.idle(ctx); err != nil {
		return nil, err
	}
	b.logf("fleet: one server on the cluster, %g messages/s for %s", cfg.rate, cfg.duration)
	n0 := procs(fr.nodes...)
	f, err := fr.a.forward(ctx, cfg.rate, cfg.duration, 0, cfg.drain)
	if err != nil {
		return nil, fmt.Errorf("fleet, one server: %w", err)
	}
	n1 := procs(fr.nodes...)
	res.SingleForward, res.SingleP50, res.SingleP99, res.SingleMax = f.CallbackRate, f.CB.P50, f.CB.P99, f.CB.Max
	res.SingleLost, res.SingleDup, res.SingleNATSP99, res.SingleNATSLost = f.Lost, f.Duplicates, f.NS.P99, f.NATSLost
	res.SingleRelay, res.SingleNATS = per1k(f.RelayCPU, f.Sent), per1k(cpuSince(n0, n1), f.Sent)

	if fr.b, err = server("bbb-b", fr.a.secret); err != nil {
		return nil, err
	}
	fr.b.gen.seq = fleetSeqB
	if res.FleetIdleNATS, res.FleetIdleRelay, err = fr.idle(ctx); err != nil {
		return nil, err
	}
	if err := fr.both(ctx, res); err != nil {
		return nil, err
	}
	if cfg.sendRate > 0 {
		if err := fr.sends(ctx, res); err != nil {
			return nil, err
		}
	}
	end := procs(append([]*proc.Process{fr.a.relay, fr.b.relay, fr.a.ingress, fr.b.ingress}, fr.nodes...)...)
	res.RelayARSS, res.RelayBRSS, res.IngressARSS, res.IngressBRSS = mb(end[0].HWMKB), mb(end[1].HWMKB),
		mb(end[2].HWMKB), mb(end[3].HWMKB)
	for _, n := range end[4:] {
		res.NATSNodeRSS = max(res.NATSNodeRSS, mb(n.HWMKB))
	}
	for _, s := range []*bench{fr.a, fr.b} {
		res.CallbacksChecked += s.rc.checked.Load()
		res.CallbacksBad += s.rc.bad.Load()
		res.CallbackMisrouted += s.rc.misrouted.Load()
	}
	return res, nil
}

// idle measures, for min(-duration, 5 s) with every chat started and nothing said, the CPU of the cluster's nodes
// and of the relays (ms per second): what the cluster and the bridges cost before any message.
func (fr *fleetRun) idle(ctx context.Context) (natsMS, relayMS float64, err error) {
	d := min(fr.a.cfg.duration, 5*time.Second)
	relays := []*proc.Process{fr.a.relay}
	if fr.b != nil {
		relays = append(relays, fr.b.relay)
	}
	fr.logf("fleet: idle, %d relays, %s", len(relays), d)
	n0, r0 := procs(fr.nodes...), procs(relays...)
	if !service.Sleep(ctx, d) {
		return 0, 0, ctx.Err()
	}
	n1, r1 := procs(fr.nodes...), procs(relays...)
	perSec := func(c time.Duration) float64 { return round(float64(c.Milliseconds()) / d.Seconds()) }
	return perSec(cpuSince(n0, n1)), perSec(cpuSince(r0, r1)), nil
}

// both runs the forward phase on both servers at once, each at half the offered rate.
func (fr *fleetRun) both(ctx context.Context, res *fleetResult) error {
	cfg := fr.a.cfg
	fr.logf("fleet: two servers on the cluster, %g messages/s each for %s", cfg.rate/2, cfg.duration)
	ps := append([]*proc.Process{fr.a.relay, fr.b.relay, fr.a.ingress, fr.b.ingress, fr.a.redisProc,
		fr.b.redisProc}, fr.nodes...)
	before := procs(ps...)
	self0, _ := readProcStat(os.Getpid())
	var (
		wg   sync.WaitGroup
		fs   [2]forwardResult
		errs [2]error
	)
	for i, s := range []*bench{fr.a, fr.b} {
		wg.Go(func() { fs[i], errs[i] = s.forward(ctx, cfg.rate/2, cfg.duration, 0, cfg.drain) })
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return fmt.Errorf("fleet, two servers: %w", err)
	}
	after := procs(ps...)
	self1, _ := readProcStat(os.Getpid())
	sent := fs[0].Sent + fs[1].Sent
	cb, ns := merged(fs[0].cbLat, fs[1].cbLat), merged(fs[0].nsLat, fs[1].nsLat)
	res.FleetForward = fs[0].CallbackRate + fs[1].CallbackRate
	res.FleetP50, res.FleetP99, res.FleetMax, res.FleetNATSP99 = cb.P50, cb.P99, cb.Max, ns.P99
	res.FleetLost, res.FleetDup = fs[0].Lost+fs[1].Lost, fs[0].Duplicates+fs[1].Duplicates
	res.FleetNATSLost = fs[0].NATSLost + fs[1].NATSLost
	res.FleetRelay = per1k(cpuSince(before[:2], after[:2]), sent)
	res.FleetNATS = per1k(cpuSince(before[6:], after[6:]), sent)
	res.FleetAForward, res.FleetAP99 = fs[0].CallbackRate, fs[0].CB.P99
	res.FleetBForward, res.FleetBP99 = fs[1].CallbackRate, fs[1].CB.P99
	benchCPU := self1.CPU - self0.CPU
	if total := cpuSince(before, after) + benchCPU; total > 0 {
		res.BenchCPUShare = round(benchCPU.Seconds() / total.Seconds())
	}
	res.SingleToOneNodeP99 = ratio(res.SingleP99, res.OneNodeP99)
	res.FleetToSingleP99 = ratio(res.FleetP99, res.SingleP99)
	return nil
}

// merged is the latency distribution of several phases' messages together.
func merged(ls ...*latencies) summary {
	var all []time.Duration
	for _, l := range ls {
		if l == nil {
			continue
		}
		l.mu.Lock()
		all = append(all, l.d...)
		l.mu.Unlock()
	}
	return summarize(all)
}

// sends calls sendChatMessage for B's meetings at -send-rate: first on B's own ingress, then through A's.
func (fr *fleetRun) sends(ctx context.Context, res *fleetResult) error {
	cfg := fr.a.cfg
	res.SendOffered = cfg.sendRate
	ingresses := []*proc.Process{fr.a.ingress, fr.b.ingress}
	for _, side := range []struct {
		name string
		via  string
		base uint64
	}{{"on B's ingress", fr.b.ingressURL, fleetSendBase}, {"through A's ingress", fr.a.ingressURL, fleetForwardedBase}} {
		fr.logf("fleet: sendChatMessage for B's meetings %s, %g requests/s for %s", side.name, cfg.sendRate, cfg.duration)
		skipped0, drops0 := fr.skipped(), len(fr.b.sim.Dropped())
		client := newHTTPClient(cfg.workers)
		c0, n0 := procs(ingresses...), procs(fr.nodes...)
		r := loadHTTP(ctx, client, cfg.workers, cfg.sendRate, cfg.duration,
			func(seq uint64) (string, []byte) {
				url, body := fr.b.sendBody(side.base + seq)
				return side.via + strings.TrimPrefix(url, fr.b.ingressURL), body
			},
			func(status int, body []byte) bool {
				return status == http.StatusOK && strings.Contains(string(body), `"via":"user"`)
			}, nil, nil)
		client.CloseIdleConnections()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Every answered post must be in B's BBB chat; then relays skip each echo (whichever relay of the fleet
		// delivers that meeting's callbacks), so the next phase starts on a quiet machine.
		inChat := 0
		deadline := time.Now().Add(10 * time.Second)
		for {
			inChat = fr.inChat(side.base, uint64(r.Requests+r.Shed)) // a shed call took a sequence number too
			if inChat >= r.OK || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			service.Sleep(ctx, 50*time.Millisecond)
		}
		deadline = time.Now().Add(cfg.drain)
		for fr.skipped()-skipped0 < inChat && time.Now().Before(deadline) && ctx.Err() == nil {
			service.Sleep(ctx, 50*time.Millisecond)
		}
		c1, n1 := procs(ingresses...), procs(fr.nodes...)
		drops := len(fr.b.sim.Dropped()) - drops0
		natsCPU := per1k(cpuSince(n0, n1), r.OK)
		if res.SendErrorSample == "" {
			res.SendErrorSample = r.ErrSample
		}
		if side.base == fleetSendBase {
			res.DirectSendRate, res.DirectSendP50, res.DirectSendP99 = r.Rate, r.Lat.P50, r.Lat.P99
			res.DirectSendErrors, res.DirectSendShed, res.DirectSendLost = r.Errors, r.Shed, max(r.OK-inChat, 0)
			res.DirectDropBBB = drops
			res.DirectIngressCPU, res.DirectNATSCPU = per1k(c1[1].CPU-c0[1].CPU, r.OK), natsCPU
			continue
		}
		res.ForwardedRate, res.ForwardedP50, res.ForwardedP99 = r.Rate, r.Lat.P50, r.Lat.P99
		res.ForwardedErrors, res.ForwardedShed, res.ForwardedLost = r.Errors, r.Shed, max(r.OK-inChat, 0)
		res.ForwardedDropBBB = drops
		res.ForwardedACPU, res.ForwardedBCPU = per1k(c1[0].CPU-c0[0].CPU, r.OK), per1k(c1[1].CPU-c0[1].CPU, r.OK)
		res.ForwardedNATSCPU = natsCPU
	}
	res.ForwardedToDirect = ratio(res.ForwardedP99, res.DirectSendP99)
	return nil
}

// inChat counts the posts of sequence numbers [base, base+n) in B's BBB chat.
func (fr *fleetRun) inChat(base, n uint64) int {
	seen := map[int]bool{}
	for _, m := range fr.b.bridgedMeetings() {
		for _, c := range fr.b.sim.Chat(m.intID) {
			if s, ok := markerSeq(c.Message); ok && uint64(s) >= base && uint64(s) < base+n {
				seen[s] = true
			}
		}
	}
	return len(seen)
}

// skipped is the echoes both relays skipped so far.
func (fr *fleetRun) skipped() int {
	total := 0
	for _, s := range []*bench{fr.a, fr.b} {
		v, _ := strconv.ParseFloat(s.relayMetric("bbbchat_relay_callbacks_skipped_total"), 64)
		total += int(v)
	}
	return total
}

// waitJetStream waits until JetStream answers through the cluster (its nodes elected a meta leader).
func waitJetStream(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Name("bbb-chat bench"), nats.RetryOnFailedConnect(true))
	if err != nil {
		return fmt.Errorf("nats cluster %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var last error
	if err := proc.Poll(ctx, 60*time.Second, 200*time.Millisecond, func() bool {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, last = js.AccountInfo(c)
		return last == nil
	}); err != nil {
		return fmt.Errorf("the NATS cluster's JetStream does not answer: %v (%w)", last, err)
	}
	return nil
}

// printFleet writes the fleet phases' lines of the table.
func printFleet(w io.Writer, f *fleetResult) {
	fmt.Fprintf(w, "fleet: %d-node NATS cluster, replicas %d, %g messages/s offered, %d meetings per server\n",
		f.NATSNodes, f.Replicas, f.Offered, f.MeetingsPerServer)
	fmt.Fprintf(w, "  %-32s %12s %12s %12s\n", "", "one node", "1 server", "2 servers")
	row := func(name, format string, a, b, c any) {
		fmt.Fprintf(w, "  %-32s %12s %12s %12s\n", name, fmt.Sprintf(format, a), fmt.Sprintf(format, b), fmt.Sprintf(format, c))
	}
	row("callbacks/s", "%.0f", f.OneNodeForward, f.SingleForward, f.FleetForward)
	row("callback p50 ms", "%.2f", f.OneNodeP50, f.SingleP50, f.FleetP50)
	row("callback p99 ms", "%.2f", f.OneNodeP99, f.SingleP99, f.FleetP99)
	row("callback max ms", "%.1f", f.OneNodeMax, f.SingleMax, f.FleetMax)
	row("lost", "%d", f.OneNodeLost, f.SingleLost, f.FleetLost)
	row("NATS subscriber p99 ms", "%.2f", f.OneNodeNATSP99, f.SingleNATSP99, f.FleetNATSP99)
	row("relay CPU ms per message", "%.3f", f.OneNodeRelay, f.SingleRelay, f.FleetRelay)
	row("nats-server CPU ms per message", "%.3f", f.OneNodeNATS, f.SingleNATS, f.FleetNATS)
	row("idle CPU ms per s: nats-server", "%.0f", f.OneNodeIdleNATS, f.SingleIdleNATS, f.FleetIdleNATS)
	row("idle CPU ms per s: relays", "%.0f", f.OneNodeIdleRelay, f.SingleIdleRelay, f.FleetIdleRelay)
	fmt.Fprintf(w, "  two servers: A %.0f/s p99 %.2f ms, B %.0f/s p99 %.2f ms; duplicates %d, NATS lost %d; benchmark's share of the CPU %.2f\n",
		f.FleetAForward, f.FleetAP99, f.FleetBForward, f.FleetBP99, f.FleetDup, f.FleetNATSLost, f.BenchCPUShare)
	fmt.Fprintf(w, "  peak RSS (MB): relay A %.1f, relay B %.1f, ingress A %.1f, ingress B %.1f, largest nats node %.1f\n",
		f.RelayARSS, f.RelayBRSS, f.IngressARSS, f.IngressBRSS, f.NATSNodeRSS)
	fmt.Fprintf(w, "  signatures checked %d, bad %d, misrouted %d\n", f.CallbacksChecked, f.CallbacksBad, f.CallbackMisrouted)
	if f.SendOffered == 0 {
		return
	}
	fmt.Fprintf(w, "  sendChatMessage for B's meetings, offered %g/s\n", f.SendOffered)
	fmt.Fprintf(w, "  %-32s %12s %12s\n", "", "on B", "through A")
	row2 := func(name, a, b string) { fmt.Fprintf(w, "  %-32s %12s %12s\n", name, a, b) }
	row2("requests/s", num(f.DirectSendRate), num(f.ForwardedRate))
	row2("p50 ms", num(f.DirectSendP50), num(f.ForwardedP50))
	row2("p99 ms", num(f.DirectSendP99), num(f.ForwardedP99))
	row2("errors / shed", fmt.Sprintf("%d / %d", f.DirectSendErrors, f.DirectSendShed),
		fmt.Sprintf("%d / %d", f.ForwardedErrors, f.ForwardedShed))
	row2("not in B's chat / dropped by BBB", fmt.Sprintf("%d / %d", f.DirectSendLost, f.DirectDropBBB),
		fmt.Sprintf("%d / %d", f.ForwardedLost, f.ForwardedDropBBB))
	fmt.Fprintf(w, "  ingress CPU ms per call: B %.3f on B; A %.3f + B %.3f through A; nats-server %.3f and %.3f\n",
		f.DirectIngressCPU, f.ForwardedACPU, f.ForwardedBCPU, f.DirectNATSCPU, f.ForwardedNATSCPU)
	if f.SendErrorSample != "" {
		fmt.Fprintf(w, "  first error: %s\n", f.SendErrorSample)
	}
}
