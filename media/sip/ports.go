package sip

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
)

// errNoPorts: every RTP port pair of the range is in use (or cannot be
// bound).
var errNoPorts = errors.New("sip: no free RTP port in the range")

// ports hands out even RTP ports (with the odd port above for RTCP) of a
// range, chosen at random among the free ones so that the next call's
// ports cannot be guessed.
type ports struct {
	ip    netip.Addr
	total int

	mu sync.Mutex
	// free holds the even ports not in use, in no order.
	// +checklocks:mu
	free []int
	// +checklocks:mu
	used map[int]bool
}

func newPorts(ip netip.Addr, min, max int) *ports {
	if min%2 == 1 {
		min++
	}
	p := &ports{ip: ip, used: map[int]bool{}}
	for port := min; port+1 <= max; port += 2 {
		p.free = append(p.free, port)
	}
	p.total = len(p.free)
	return p
}

// open binds an RTP/RTCP port pair of the range. A pair that cannot be
// bound (another program holds it) is skipped and stays free.
func (p *ports) open() (int, *net.UDPConn, *net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var busy []int
	defer func() { p.free = append(p.free, busy...) }()
	for len(p.free) > 0 {
		i := randIndex(len(p.free))
		port := p.free[i]
		last := len(p.free) - 1
		p.free[i] = p.free[last]
		p.free = p.free[:last]
		rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			busy = append(busy, port)
			continue
		}
		cc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			_ = rc.Close()
			busy = append(busy, port)
			continue
		}
		_ = rc.SetReadBuffer(1 << 20)
		p.used[port] = true
		return port, rc, cc, nil
	}
	return 0, nil, nil, errNoPorts
}

// release returns a pair to the free ones; releasing a pair that is not in
// use does nothing.
func (p *ports) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[port] {
		delete(p.used, port)
		p.free = append(p.free, port)
	}
}

// available returns the number of free pairs.
func (p *ports) available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// randIndex returns a uniformly random index below n (n > 0).
func randIndex(n int) int {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// The modulo bias is below 2^-40 for any port range.
	return int(binary.BigEndian.Uint64(b[:]) % uint64(n))
}
