package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/earshot/earshot/store/keys"
)

// fileCollector reports, at each scrape, the size of both database files
// and the space of the file system that holds them: what an operator
// watches to see the disk fill before writes start to fail.
type fileCollector struct {
	dir                   string
	size, avail, capacity *prometheus.Desc
}

func newFileCollector(dir string) *fileCollector {
	const ns, sub = "earshot", "store"
	return &fileCollector{
		dir: dir,
		size: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "file_size_bytes"),
			"Size of a database file in the data directory.", []string{"file"}, nil),
		avail: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "disk_available_bytes"),
			"Space available to the daemon on the data directory's file system.", nil, nil),
		capacity: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "disk_size_bytes"),
			"Size of the data directory's file system.", nil, nil),
	}
}

func (c *fileCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.avail
	ch <- c.capacity
}

func (c *fileCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range []string{DBFile, KeysFile} {
		if fi, err := os.Stat(filepath.Join(c.dir, f)); err == nil {
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(fi.Size()), f)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.dir, &st); err == nil {
		ch <- prometheus.MustNewConstMetric(c.avail, prometheus.GaugeValue, float64(st.Bavail)*float64(st.Bsize))
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(st.Blocks)*float64(st.Bsize))
	}
}

// countedProvider counts the key provider's failures by operation: a KEK
// that cannot be reached (a token removed, a keys plugin down) stops every
// read and write of sealed content, so operators alert on it. A missing
// KEK version counts as well; cancelled operations do not.
type countedProvider struct {
	keys.Provider
	failures *prometheus.CounterVec
}

func (p countedProvider) count(op string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		p.failures.WithLabelValues(op).Inc()
	}
}

func (p countedProvider) CreateKEK(ctx context.Context, v uint32) error {
	err := p.Provider.CreateKEK(ctx, v)
	p.count("create", err)
	return err
}

func (p countedProvider) Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	w, err := p.Provider.Wrap(ctx, v, dek, aad)
	p.count("wrap", err)
	return w, err
}

func (p countedProvider) Unwrap(ctx context.Context, v uint32, wrapped, aad []byte) ([]byte, error) {
	dek, err := p.Provider.Unwrap(ctx, v, wrapped, aad)
	p.count("unwrap", err)
	return dek, err
}

func (p countedProvider) DestroyKEK(ctx context.Context, v uint32) error {
	err := p.Provider.DestroyKEK(ctx, v)
	p.count("destroy", err)
	return err
}
