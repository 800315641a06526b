package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// samples gathers reg and returns each sample of the named family by its
// labels ("" for a family without labels, else "name=value").
func samples(t *testing.T, reg *prometheus.Registry, family string) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key = l.GetName() + "=" + l.GetValue()
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestFileAndDiskMetrics checks the sizes reported at a scrape against the
// files themselves.
func TestFileAndDiskMetrics(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := Open(context.Background(), Options{Dir: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s)
	sizes := samples(t, reg, "earshot_store_file_size_bytes")
	for _, f := range []string{DBFile, KeysFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if got := sizes["file="+f]; got != float64(fi.Size()) || got == 0 {
			t.Errorf("file_size_bytes{file=%s} = %v, the file has %d bytes", f, got, fi.Size())
		}
	}
	avail := samples(t, reg, "earshot_store_disk_available_bytes")[""]
	size := samples(t, reg, "earshot_store_disk_size_bytes")[""]
	if avail <= 0 || size < avail {
		t.Errorf("disk available %v of %v bytes", avail, size)
	}
	for op, n := range samples(t, reg, "earshot_store_key_provider_failures_total") {
		if n != 0 {
			t.Errorf("key provider failures %s = %v on a healthy store", op, n)
		}
	}
}

// TestKeyProviderFailuresCounted starts a store whose KEK directory has
// gone: the unwrap fails, and the failure is counted.
func TestKeyProviderFailuresCounted(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	fill(t, s)
	s.Close()
	if err := os.RemoveAll(filepath.Join(dir, "kek")); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if s, err := Open(context.Background(), Options{Dir: dir, Registerer: reg}); err == nil {
		s.Close()
		t.Fatal("Open without the KEK succeeded")
	}
	failures := samples(t, reg, "earshot_store_key_provider_failures_total")
	if failures["op=unwrap"] < 1 {
		t.Errorf("key provider failures = %v, want an unwrap failure", failures)
	}
}
