package ingest

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseParty(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Party
		wantErr bool
	}{
		{"customer", PartyCustomer, false},
		{" Agent ", PartyAgent, false},
		{"MIXED", PartyMixed, false},
		{"bot", "", true},
		{"", "", true},
	} {
		got, err := ParseParty(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseParty(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if PartyAgent.Other() != PartyCustomer || PartyCustomer.Other() != PartyAgent {
		t.Error("Other does not swap agent and customer")
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"10.1.2.3", "10.0.0.0/8", "192.168.7.9/16", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("::1/128")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("prefixes (-want +got):\n%s", diff)
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/8", "example.com"}); err == nil {
		t.Error("a host name was accepted as an address")
	}
}
