package daemon

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/kb"
)

// tarOf builds a tar archive of Markdown articles.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

func importArchive(t *testing.T, td *testDaemon, body io.Reader, ctype string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/kb/import", body)
	req.Header.Set("Authorization", "Bearer "+td.Admin)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestKBImportRefusesEarly: an import that is not an archive is refused on
// its first bytes, and one announcing more than the limit on its length;
// neither is read further, however large it says it is.
func TestKBImportRefusesEarly(t *testing.T) {
	td := startDaemon(t, nil)
	addr := strings.TrimPrefix(td.URL, "http://")
	for _, tc := range []struct {
		name, length, first string
		want                int
	}{
		{"text", "500000000", strings.Repeat("just some text ", 40), 415},
		{"zeros", "500000000", strings.Repeat("\x00", 600), 415},
		{"over the limit", "5368709120", "PK\x03\x04", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			fmt.Fprintf(nc, "POST /api/v1/kb/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/zip\r\nContent-Length: %s\r\n\r\n%s",
				td.Admin, tc.length, tc.first)
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			var p Problem
			json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != tc.want || p.Field != "body" || !resp.Close {
				t.Errorf("%d %+v (close %v), want %d naming the body and closing", resp.StatusCode, p, resp.Close, tc.want)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the refusal: %v, want the connection closed", err)
			}
		})
	}
}

// TestKBImportOneAtATimeAndBounded: a second import while one is running
// is refused (503); an import that would overfill the index stops there
// (truncated, the article that did not fit reported), and so does an
// article write.
func TestKBImportOneAtATimeAndBounded(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.KB.MaxTextBytes = 1 << 20 })
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code, _ := importArchive(t, td, pr, "application/x-tar")
		done <- code
	}()
	// The first import's first item arrives, the rest does not yet.
	first := tarOf(t, map[string]string{"a.md": "# A\n\nfirst article"})
	pw.Write(first[:1024])
	waitUntil(t, "the first import to hold its slot", func() bool { return len(td.kb.imports) == 1 })
	code, body := importArchive(t, td, bytes.NewReader(tarOf(t, map[string]string{"b.md": "# B\n\nsecond"})), "application/x-tar")
	if code != 503 {
		t.Errorf("a second import while one runs = %d %s, want 503", code, body)
	}
	pw.Write(first[1024:])
	pw.Close()
	if code := <-done; code != 200 {
		t.Errorf("the first import = %d, want 200", code)
	}

	// 1 MiB of text fits two articles of 400 kB, not three.
	big := strings.Repeat("word ", 80_000)
	code, body = importArchive(t, td, bytes.NewReader(tarOf(t, map[string]string{
		"big/1.md": "# One\n\n" + big, "big/2.md": "# Two\n\n" + big, "big/3.md": "# Three\n\n" + big})), "application/x-tar")
	var rep kb.ImportReport
	var raw map[string]any
	json.Unmarshal(body, &rep)
	json.Unmarshal(body, &raw)
	if code != 200 || rep.Added != 2 || !rep.Truncated || rep.Failed != 1 || !strings.Contains(string(body), "index full") {
		t.Errorf("import over the index bound = %d %s, want 2 added, truncated, the third reported", code, body)
	}
	if st := td.kb.idx.Stats(); st.TextBytes > 1<<20 || st.Articles != 3 {
		t.Errorf("index holds %+v, want 3 articles within 1 MiB of text", st)
	}
	code, body = td.call(t, td.Admin, "PUT", "/api/v1/kb/articles/four", map[string]any{"title": "Four", "body": big})
	if code != http.StatusInsufficientStorage {
		t.Errorf("article write over the bound = %d %s, want 507", code, body)
	}
	if _, err := td.store.Article("four"); err == nil {
		t.Error("the refused article was stored")
	}
}
