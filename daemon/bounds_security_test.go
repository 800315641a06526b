//go:build security

package daemon

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Resource bounds of the upload routes and ingest paths: for each, the
// largest input the configuration allows and one ten times larger are sent
// to a daemon process started by the test; the smaller is served, the
// larger refused, and the process's peak resident memory (VmHWM) stays
// under the bound stated per case. Run by `make security`.

const mib = 1 << 20

// procMemory reads a process's peak and current resident memory.
func procMemory(t *testing.T, pid int) (peak, now int64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb << 10
		case "VmRSS:":
			now = kb << 10
		}
	}
	return peak, now
}

// zeros reads zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// filler is the content of a filler entry: 4 MiB that the importer skips
// (an unsupported type), so the whole archive is read.
const fillerBytes = 4 * mib

// writeTar streams a tar of a few articles then filler entries until it
// holds about size bytes.
func writeTar(w io.Writer, size int64) error {
	tw := tar.NewWriter(w)
	for i := 0; i < 20; i++ {
		body := fmt.Sprintf("# Article %d\n\nBlocking a card takes one tap in the app, article %d.", i, i)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("a/%d.md", i), Mode: 0o644, Size: int64(len(body))}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return err
		}
	}
	for i := int64(0); (i+1)*(fillerBytes+512) < size; i++ {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("fill/%d.dat", i), Mode: 0o644, Size: fillerBytes}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, zeros{}, fillerBytes); err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeZip is writeTar as a zip (stored, not compressed).
func writeZip(w io.Writer, size int64) error {
	zw := zip.NewWriter(w)
	for i := 0; i < 20; i++ {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("a/%d.md", i), Method: zip.Store})
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "# Article %d\n\nBlocking a card takes one tap in the app, article %d.", i, i)
	}
	for i := int64(0); (i+1)*(fillerBytes+200) < size; i++ {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("fill/%d.dat", i), Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := io.CopyN(f, zeros{}, fillerBytes); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeWAV streams a 16-bit mono 16 kHz WAV of about size bytes: a quiet
// tone, so the pipeline's voice detection has work to do.
func writeWAV(w io.Writer, size int64) error {
	n := (size - 44) / 2 * 2
	if _, err := w.Write(wavHeader(16000, uint32(n))); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var s [2]byte
	for i := int64(0); i < n/2; i++ {
		binary.LittleEndian.PutUint16(s[:], uint16(int16(300*((i/20)%2*2-1))))
		if _, err := bw.Write(s[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeCSV streams a forecast history CSV of about size bytes, as an ACD
// exports it: 30-minute intervals of eight queues (q and seven others),
// going back from 2026.
func writeCSV(w io.Writer, size int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	n, _ := io.WriteString(bw, "timestamp,queue,count,aht\n")
	written := int64(n)
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := 0; written < size-64; i++ {
		ts := start.Add(-time.Duration(i/8) * 30 * time.Minute)
		q := "q"
		if i%8 != 0 {
			q = fmt.Sprintf("other%d", i%8)
		}
		n, err := fmt.Fprintf(bw, "%s,%s,%d,%d\n", ts.Format("2006-01-02 15:04"), q, 20+i%17, 180+i%60)
		if err != nil {
			return err
		}
		written += int64(n)
	}
	return bw.Flush()
}

// writeMessage streams a chat message body whose text is size bytes.
func writeMessage(w io.Writer, size int64) error {
	if _, err := io.WriteString(w, `{"sender":"customer","text":"`); err != nil {
		return err
	}
	if _, err := io.CopyN(w, strings.NewReader(strings.Repeat("a", int(size))), size); err != nil {
		return err
	}
	_, err := io.WriteString(w, `"}`)
	return err
}

type boundCase struct {
	name     string
	config   string // extra YAML
	path     string // after setup: {engagement} is replaced
	ctype    string
	write    func(io.Writer, int64) error
	allowed  int64 // the largest input the configuration allows
	wantOK   int   // status of the allowed input
	wantBig  int   // status of ten times that
	bound    int64 // peak RSS bound
	chunked  bool  // send the larger one without a length (read up to the limit)
	setupEng bool  // create a chat engagement for {engagement}
}

// TestResourceBounds sends each route its largest allowed input and ten
// times that, and checks statuses and the daemon's peak memory.
func TestResourceBounds(t *testing.T) {
	cases := []boundCase{
		{name: "kb import tar", path: "/api/v1/kb/import", ctype: "application/x-tar", write: writeTar,
			allowed: maxImportBytes - 8*mib, wantOK: 200, wantBig: 413, bound: 160 * mib, chunked: true},
		{name: "kb import zip", path: "/api/v1/kb/import", ctype: "application/zip", write: writeZip,
			allowed: maxImportBytes - 8*mib, wantOK: 200, wantBig: 413, bound: 160 * mib},
		{name: "upload wav", config: "media:\n  engine: none\n  max_upload_bytes: 33554432\n", path: "/api/v1/uploads?queue=q", ctype: "audio/wav", write: writeWAV,
			allowed: 32 * mib, wantOK: 201, wantBig: 413, bound: 32*mib*6 + 96*mib, chunked: true},
		{name: "forecast csv", path: "/api/v1/queues/q/forecast?days=7", ctype: "text/csv", write: writeCSV,
			allowed: maxHistoryBody - mib, wantOK: 200, wantBig: 413, bound: 320 * mib, chunked: true},
		{name: "chat message", path: "/api/v1/engagements/{engagement}/messages", ctype: "application/json", write: writeMessage,
			allowed: maxMessageBytes, wantOK: 201, wantBig: 400, bound: 96 * mib, setupEng: true},
		{name: "json body limit", path: "/api/v1/engagements/{engagement}/messages", ctype: "application/json", write: writeMessage,
			allowed: maxBody - 64, wantOK: 400, wantBig: 413, bound: 96 * mib, chunked: true, setupEng: true},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			cmd, base, dataDir, logs := serveProcess(t, c.config)
			tok, err := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
			if err != nil {
				t.Fatal(err)
			}
			admin := strings.TrimSpace(string(tok))
			td := &testDaemon{URL: base, Admin: admin}
			td.mustCall(t, admin, "POST", "/api/v1/queues", queueRequest{ID: "q"}, 201)
			path := c.path
			if c.setupEng {
				var e struct{ ID string }
				b := td.mustCall(t, admin, "POST", "/api/v1/engagements", engagementRequest{Queue: "q", Channel: "chat"}, 201)
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatal(err)
				}
				path = strings.ReplaceAll(path, "{engagement}", e.ID)
			}
			_, idle := procMemory(t, cmd.Process.Pid)
			// send posts the input made for size, announcing length (-1:
			// chunked); an announced length is exact (the input is cut or
			// padded with zeros to it).
			send := func(size, length int64) (int, time.Duration, string) {
				var body io.Reader = writerReader(c.write, size)
				if length >= 0 {
					body = io.LimitReader(io.MultiReader(body, zeros{}), length)
				}
				req, _ := http.NewRequest("POST", base+path, body)
				req.ContentLength = length
				req.Header.Set("Authorization", "Bearer "+admin)
				req.Header.Set("Content-Type", c.ctype)
				began := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%d bytes: %v\n%s", size, err, logs)
				}
				got, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, time.Since(began), string(got)
			}
			// The allowed input is sent whole, its exact length announced.
			exact, _ := io.Copy(io.Discard, writerReader(c.write, c.allowed))
			code, took, got := send(c.allowed, exact)
			peak, after := procMemory(t, cmd.Process.Pid)
			t.Logf("%s: %d MiB allowed input -> %d in %s; peak RSS %d MiB (idle %d MiB, after %d MiB), bound %d MiB",
				c.name, c.allowed/mib, code, took.Round(time.Millisecond), peak/mib, idle/mib, after/mib, c.bound/mib)
			if code != c.wantOK {
				t.Errorf("allowed input: %d %s, want %d", code, got, c.wantOK)
			}
			variants := []bool{true}
			if c.chunked {
				variants = append(variants, false)
			}
			for _, withLength := range variants {
				length := int64(-1)
				if withLength {
					length = 10 * c.allowed
				}
				code, took, got := send(10*c.allowed, length)
				peak2, _ := procMemory(t, cmd.Process.Pid)
				t.Logf("%s: %d MiB input (length announced %v) -> %d in %s; peak RSS %d MiB",
					c.name, 10*c.allowed/mib, withLength, code, took.Round(time.Millisecond), peak2/mib)
				if code != c.wantBig {
					t.Errorf("ten times the allowed input (length announced %v): %d %s, want %d", withLength, code, got, c.wantBig)
				}
				peak = max(peak, peak2)
			}
			if peak > c.bound {
				t.Errorf("peak RSS %d MiB over the bound of %d MiB", peak/mib, c.bound/mib)
			}
			if err := cmd.Process.Signal(os.Interrupt); err == nil {
				cmd.Wait()
			}
		})
	}
}

// writerReader returns a reader of what write produces for size.
func writerReader(write func(io.Writer, int64) error, size int64) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw, size)) }()
	return pr
}
