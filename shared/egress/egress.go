// Package egress decides where bbb-chat may send callbacks. A callback URI chosen by an API client must not turn
// the BBB server into a proxy for its own loopback, private network or cloud metadata endpoints (SSRF), unless the
// operator allows those addresses with BBB_CHAT_CALLBACK_ALLOW, the one setting both binaries read (shared/config).
// Ingress checks a URI when a chat starts, with its own policy and by asking a relay to check it with relay's
// (so the two cannot disagree unnoticed); relay checks again on every connection, at the address actually
// dialled, because DNS can change in between.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbidden is returned for a target outside what the policy allows.
var ErrForbidden = errors.New("callback target not allowed")

// special lists the ranges that are not the public internet, besides what netip classifies itself.
func special() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"240.0.0.0/4",     // reserved, broadcast
		"64:ff9b::/96",    // NAT64 (reaches IPv4 space behind the gateway)
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001::/23",       // IETF protocol assignments
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4 (embeds IPv4)
		"fec0::/10",       // site-local (deprecated)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// Policy says which callback targets are allowed: every public address, plus the allowed prefixes and host names.
type Policy struct {
	allow   []netip.Prefix
	hosts   map[string]bool
	special []netip.Prefix
}

// NewPolicy builds a policy from BBB_CHAT_CALLBACK_ALLOW's entries: CIDRs ("10.0.0.0/8"), addresses ("127.0.0.1")
// and host names ("receiver.internal"), which allow whatever the name resolves to.
func NewPolicy(entries []string) (Policy, error) {
	p := Policy{hosts: map[string]bool{}, special: special()}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if pre, err := netip.ParsePrefix(e); err == nil {
			p.allow = append(p.allow, pre.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			p.allow = append(p.allow, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(e, "/:@ ") {
			return Policy{}, fmt.Errorf("BBB_CHAT_CALLBACK_ALLOW: %q is neither a CIDR, an address nor a host name", e)
		}
		p.hosts[strings.ToLower(strings.TrimSuffix(e, "."))] = true
	}
	return p, nil
}

// AllowedIP reports whether an address may be reached, and why not.
func (p Policy) AllowedIP(ip netip.Addr) (bool, string) {
	ip = ip.Unmap()
	for _, pre := range p.allow {
		if pre.Contains(ip) {
			return true, ""
		}
	}
	switch {
	case ip.IsLoopback():
		return false, "a loopback address"
	case ip.IsPrivate():
		return false, "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return false, "a link-local address (cloud metadata lives there)"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return false, "a multicast address"
	case ip.IsUnspecified():
		return false, "an unspecified address"
	}
	for _, pre := range p.special {
		if pre.Contains(ip) {
			return false, "a special-purpose address (" + pre.String() + ")"
		}
	}
	return true, ""
}

// HostAllowed reports whether a host name was allowed by name.
func (p Policy) HostAllowed(host string) bool {
	return p.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// Resolver looks host names up (net.DefaultResolver in production).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL checks a callback URI: absolute http(s), and every address its host resolves to allowed. The error
// says why, for the API's 400 answer; it never contains more than the URI's host.
func (p Policy) CheckURL(ctx context.Context, raw string, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%w: not an absolute http or https URL", ErrForbidden)
	}
	host := u.Hostname()
	if p.HostAllowed(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ok, why := p.AllowedIP(ip); !ok {
			return fmt.Errorf("%w: %s is %s; allow it with BBB_CHAT_CALLBACK_ALLOW", ErrForbidden, host, why)
		}
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: %s does not resolve", ErrForbidden, host)
	}
	for _, ip := range ips {
		if ok, why := p.AllowedIP(ip); !ok {
			return fmt.Errorf("%w: %s resolves to %s, %s; allow it with BBB_CHAT_CALLBACK_ALLOW", ErrForbidden, host, ip, why)
		}
	}
	return nil
}

// Control is a net.Dialer Control function that refuses connections to addresses the policy does not allow. It
// sees the address actually dialled, after DNS, so a name that changes to a private address is still refused.
// Host names allowed by name are let through by DialContext before this check.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	if ok, why := p.AllowedIP(ap.Addr()); !ok {
		return fmt.Errorf("%w: %s is %s", ErrForbidden, ap.Addr(), why)
	}
	return nil
}

// DialContext returns a dial function for http.Transport that enforces the policy at connect time.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	guarded := *d
	guarded.Control = p.Control
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && p.HostAllowed(host) {
			return d.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
}
